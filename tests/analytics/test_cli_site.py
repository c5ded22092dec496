"""The command line's site loading: every loader's problem becomes one CommandError, worded as
the loader words it, and every command turns it into exit 2 with that text on stderr."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from tests.conftest import SAMPLES
from trustwatch.analytics.cli import main
from trustwatch.analytics.cli.options import CommandError
from trustwatch.analytics.cli.site import add_input_options, check_inventory_file, default_state_path, load_site

HOSPITAL = SAMPLES / "hospital"
INVENTORY = HOSPITAL / "inventory.csv"


def test_default_state_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert default_state_path() == tmp_path / "trustwatch" / "state.db"
    monkeypatch.delenv("XDG_STATE_HOME")
    assert default_state_path() == Path.home() / ".local" / "state" / "trustwatch" / "state.db"


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_input_options(parser)
    return parser.parse_args(["--inventory", str(INVENTORY), *argv])


def test_the_site_loads_with_its_windows() -> None:
    site = load_site(parse("--remote-access-windows", str(HOSPITAL / "remote-access-windows.yaml")))
    assert site.inventory.assets and site.rules.rules and site.exceptions == []
    assert site.windows
    assert load_site(parse()).windows is None


def test_inventory_problems_then_one_summary_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A bad row is skipped with its problem and one line saying so; --strict-inventory refuses."""
    broken = tmp_path / "inventory.csv"
    broken.write_text(INVENTORY.read_text().replace("00:1b:4f:00:10:01", "00:1b:4f:00:10"))
    site = load_site(parse("--inventory", str(broken)))
    assert len(site.inventory.assets) == len(load_site(parse("--inventory", str(INVENTORY))).inventory.assets) - 1
    assert capsys.readouterr().err.splitlines() == [
        f"{broken}:7:mac: invalid MAC address '00:1b:4f:00:10'",
        f"trustwatch: warning: {broken}: 1 row(s) skipped; running on its {len(site.inventory.assets)} usable "
        "devices (--strict-inventory refuses it instead)"]
    with pytest.raises(CommandError) as e:
        load_site(parse("--inventory", str(broken), "--strict-inventory"))
    assert str(e.value) == (f"{broken}:7:mac: invalid MAC address '00:1b:4f:00:10'\n"
                            "trustwatch: the inventory has 1 problem(s); fix them first")


@pytest.mark.parametrize(("option", "text", "message"), [
    ("--exceptions", "- rule: nope\n  subject: x\n", ":1:rule: unknown rule id 'nope'"),
    ("--remote-access-windows", "- vendor: x\n", ": expected a mapping with a `windows:` list"),
])
def test_exceptions_and_windows_problems_as_they_are(tmp_path: Path, option: str, text: str, message: str) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(text)
    with pytest.raises(CommandError) as e:
        load_site(parse(option, str(path)))
    assert f"{path}{message}" in str(e.value).splitlines()


def test_a_broken_column_map_is_what_inventory_check_reports(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    cmap = tmp_path / "map.yaml"
    cmap.write_text("columns: 3\n")
    with pytest.raises(CommandError, match=f"^{cmap}:0:-: "):
        check_inventory_file(str(INVENTORY), str(cmap))
    assert main(["inventory", "check", str(INVENTORY), "--inventory-map", str(cmap)]) == 2
    out = capsys.readouterr()
    assert out.out.startswith(f"{cmap}:0:-: ") and out.err == ""


@pytest.mark.parametrize(("argv", "stderr"), [
    (["--rules", "{tmp}/none"], "trustwatch: {tmp}/none: rule ?: no rules files (*.yaml) in this directory\n"),
    (["--state", "{tmp}/bad.db"], "trustwatch: {tmp}/bad.db: cannot open the state database: file is not a "
                                  "database\n"),
    (["--key-file", "{tmp}/short.key"], "trustwatch: {tmp}/short.key: the site key is 4 bytes, at least 16 are "
                                        "needed\n"),
])
def test_commands_exit_2_with_the_reason_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   argv: list[str], stderr: str) -> None:
    (tmp_path / "bad.db").write_text("not a db\n")
    (tmp_path / "short.key").write_bytes(b"tiny")
    (tmp_path / "short.key").chmod(0o600)
    args = ["--inventory", str(INVENTORY), "--key-file", str(tmp_path / "site.key"), "--no-state"]
    args += [a.format(tmp=tmp_path) for a in argv]
    if "--state" in argv:
        args.remove("--no-state")
    for command in (["audit", str(HOSPITAL / "icu.pcap")], ["remote-access", str(HOSPITAL / "icu.pcap")]):
        assert main([*command, *args]) == 2
        out = capsys.readouterr()
        assert out.err == stderr.format(tmp=tmp_path) and out.out == ""
