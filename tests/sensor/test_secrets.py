"""The site key and keyed fingerprints: secrets compare equal within a site, never leak."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from trustwatch.sensor.records import SecretKind
from trustwatch.sensor.secrets import KEY_ENV, SecretHasher, SiteKeyError, key_path, load_site_key


def test_key_is_created_private_once_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "state" / "site.key"
    key = load_site_key(path)
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_site_key(path) == key


def test_key_path_option_then_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(KEY_ENV, str(tmp_path / "env.key"))
    assert key_path("opt.key") == Path("opt.key")
    assert key_path(None) == tmp_path / "env.key"
    monkeypatch.delenv(KEY_ENV)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert key_path(None) == tmp_path / "trustwatch" / "site.key"


def test_unusable_keys_say_why(tmp_path: Path) -> None:
    short = tmp_path / "short.key"
    short.write_bytes(b"tiny")
    short.chmod(0o600)
    with pytest.raises(SiteKeyError, match="4 bytes"):
        load_site_key(short)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SiteKeyError, match="cannot create"):
        load_site_key(blocker / "site.key")


def test_a_full_disk_leaves_no_short_key(full_disk: Path) -> None:
    path = full_disk / "site.key"
    with pytest.raises(SiteKeyError, match="cannot create the site key"):
        load_site_key(path)
    assert sorted(p.name for p in full_disk.iterdir()) == ["filler"]


def test_a_key_others_can_read_is_refused_or_warned(tmp_path: Path) -> None:
    path = tmp_path / "site.key"
    key = load_site_key(path)
    path.chmod(0o644)
    with pytest.raises(SiteKeyError, match="every user"):
        load_site_key(path)
    path.chmod(0o640)
    warnings: list[str] = []
    assert load_site_key(path, warnings.append) == key
    assert warnings and "group" in warnings[0]


def test_runs_starting_at_once_share_one_key(tmp_path: Path) -> None:
    path = tmp_path / "site.key"
    script = f"from pathlib import Path; from trustwatch.sensor.secrets import load_site_key; " \
             f"print(load_site_key(Path({str(path)!r})).hex())"
    runs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(6)]
    keys = {run.communicate()[0].strip() for run in runs}
    assert len(keys) == 1 and len(bytes.fromhex(keys.pop())) == 32
    assert [p.name for p in tmp_path.iterdir()] == ["site.key"]


def test_fingerprints_are_keyed_and_hide_the_secret() -> None:
    site_a, site_b = SecretHasher(b"a" * 32), SecretHasher(b"b" * 32)
    fp = site_a.fingerprint(SecretKind.PASSWORD, "Pump$2019")
    assert fp == site_a.fingerprint(SecretKind.PASSWORD, b"Pump$2019")
    assert fp.value != site_b.fingerprint(SecretKind.PASSWORD, "Pump$2019").value
    assert fp.value != site_a.fingerprint(SecretKind.PASSWORD, "Pump$2018").value
    assert fp.hint == "password, 9 bytes"
    assert "Pump" not in fp.value + fp.hint and len(fp.value) == 64
