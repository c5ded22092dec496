"""`trustwatch evidence`: an alert's frames (or whole connections) in a pcap, with the filter for
tshark 4.0; and the alerts command's checks and actions."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import SAMPLES
from trustwatch.analytics.cli import main
from trustwatch.analytics.evidence import display_filter

HOSPITAL = SAMPLES / "hospital"


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, object]]]:
    where = tmp_path_factory.mktemp("evidence")
    main(["audit", str(HOSPITAL / "icu.pcap"), "--inventory", str(HOSPITAL / "inventory.csv"), "--state",
          str(where / "state.db"), "--key-file", str(where / "site.key"), "--alerts", str(where / "alerts.jsonl"),
          "--fail-on", "never"])
    return where, [json.loads(x) for x in (where / "alerts.jsonl").read_text().splitlines()]


def test_display_filter_in_tshark_4_syntax() -> None:
    assert display_filter([393, 392]) == "frame.number in {392,393}"
    assert display_filter([1, 2, 3, 4, 9]) == "frame.number in {1..4,9}"


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_the_frames_and_the_flows_behind_an_alert(audited: tuple[Path, list[dict[str, object]]],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    where, alerts = audited
    doc = next(a for a in alerts if a["rule"]["id"] == "shared-credential"  # type: ignore[index]
               and a["trustwatch"]["subject"].startswith("client-certificate:"))  # type: ignore[index]
    aid = doc["event"]["id"]  # type: ignore[index]
    frames = doc["trustwatch"]["evidence"][0]["frames"]  # type: ignore[index]
    capsys.readouterr()
    assert main(["evidence", aid[:10], "--state", str(where / "state.db"), "-o", str(where / "e.pcap")]) == 0
    out = capsys.readouterr().out.splitlines()
    flt = display_filter(frames)
    assert out[0] == f"{HOSPITAL / 'icu.pcap'}: {flt}" and out[-1] == f"wrote {len(frames)} frames to {where}/e.pcap"
    numbers = subprocess.run(["tshark", "-r", str(HOSPITAL / "icu.pcap"), "-Y", flt, "-T", "fields", "-e",
                              "frame.number"], capture_output=True, text=True, check=True).stdout.split()
    assert [int(n) for n in numbers] == frames
    mine = subprocess.run(["tshark", "-r", str(where / "e.pcap"), "-T", "fields", "-e", "frame.len"],
                          capture_output=True, text=True, check=True).stdout.split()
    assert len(mine) == len(frames)
    assert main(["evidence", aid, "--state", str(where / "state.db"), "-o", str(where / "f.pcap"), "--flows"]) == 0
    flows = subprocess.run(["tshark", "-r", str(where / "f.pcap"), "-T", "fields", "-e", "tcp.stream"],
                           capture_output=True, text=True, check=True).stdout.split()
    assert len(flows) > len(frames)  # the handshakes' other frames too


def test_unknown_alert_and_unknown_rule_are_one_line_errors(audited: tuple[Path, list[dict[str, object]]],
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    where, _alerts = audited
    assert main(["evidence", "ffffffffff", "--state", str(where / "state.db")]) == 2
    assert capsys.readouterr().err.startswith("trustwatch: no alert 'ffffffffff'")
    assert main(["alerts", "--state", str(where / "state.db"), "--rule", "shared-credentials"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown rule id 'shared-credentials'; known: cleartext-credential," in err


def test_ack_and_reopen_from_the_command_line(audited: tuple[Path, list[dict[str, object]]],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    where, alerts = audited
    aid = str(alerts[0]["event"]["id"])  # type: ignore[index]
    db = str(where / "state.db")
    assert main(["alerts", "ack", aid, "--note", "vendor ticket 42", "--by", "J. Okafor", "--state", db]) == 0
    assert capsys.readouterr().out == f"{aid} acknowledged (J. Okafor: vendor ticket 42)\n"
    assert main(["alerts", "--state", db, "--status", "acknowledged", "--json"]) == 0
    listed = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [d["event"]["id"] for d in listed] == [aid]
    assert listed[0]["trustwatch"]["notes"][0]["by"] == "J. Okafor"
    assert main(["alerts", "reopen", aid, "--note", "not fixed", "--by", "M. Chen", "--state", db]) == 0
    assert main(["alerts", "reopen", aid, "--note", "again", "--by", "M. Chen", "--state", db]) == 2
    assert "is open: reopen applies to acknowledged or resolved alerts" in capsys.readouterr().err
