"""Real operations: runs that share a state, a full disk, kill -9, file modes. Each asserts
that nothing finished is lost and nothing half-written is left."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import SAMPLES
from trustwatch.analytics.state import State

HOSPITAL = SAMPLES / "hospital"
CAPTURE = HOSPITAL / "icu.pcap"
EXE = str(Path(sys.executable).parent / "trustwatch")


def audit(tmp_path: Path, *extra: str, capture: Path = CAPTURE, alerts: Path | None = None,
          state: Path | None = None) -> subprocess.Popen[str]:
    alerts = alerts or tmp_path / "alerts.jsonl"
    return subprocess.Popen(
        [EXE, "audit", str(capture), "--inventory", str(HOSPITAL / "inventory.csv"), "--alerts", str(alerts),
         "--state", str(state or tmp_path / "state.db"), "--key-file", str(tmp_path / "site.key"),
         "--fail-on", "never", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finished(proc: subprocess.Popen[str]) -> tuple[int, str]:
    _out, err = proc.communicate(timeout=300)
    return proc.returncode, err


def runs(db: Path) -> list[tuple[int, int | None]]:
    with sqlite3.connect(db) as conn:
        return [(r[0], r[1]) for r in conn.execute("SELECT id, observations FROM runs ORDER BY id")]


def test_a_run_waits_for_the_one_holding_the_state_then_fails_in_one_line(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    holder = State(db, exclusive=True)
    code, err = finished(audit(tmp_path, "--state-timeout", "1"))
    assert code == 2
    assert err.strip().splitlines()[-1] == (f"trustwatch: {db}: another run is using the state database; "
                                            "waited 1 s (--state-timeout)")
    assert not (tmp_path / "alerts.jsonl").exists()
    holder.close()
    code, err = finished(audit(tmp_path, "--state-timeout", "1"))
    assert code == 0, err


def test_two_audits_at_once_take_turns_and_both_are_recorded(tmp_path: Path) -> None:
    first = audit(tmp_path, alerts=tmp_path / "a1.jsonl")
    second = audit(tmp_path, capture=HOSPITAL / "radiology.pcapng", alerts=tmp_path / "a2.jsonl")
    assert finished(first)[0] == 0 and finished(second)[0] == 0
    assert len(runs(tmp_path / "state.db")) == 2
    assert all(r[1] for r in runs(tmp_path / "state.db"))
    assert (tmp_path / "a1.jsonl").read_text() and (tmp_path / "a2.jsonl").read_text()


def test_a_full_disk_is_one_line_and_leaves_no_partial_file(tmp_path: Path, full_disk: Path) -> None:
    alerts = full_disk / "alerts.jsonl"
    code, err = finished(audit(tmp_path, alerts=alerts))
    assert code == 2
    problem = [line for line in err.splitlines() if "capture(s)" not in line]  # the sensor's counters aside
    assert len(problem) == 1 and "No space left on device" in problem[0] and str(alerts) in problem[0]
    assert [p.name for p in full_disk.iterdir()] == ["filler"]
    assert len(runs(tmp_path / "state.db")) == 1  # the run itself is kept in the state

    code, err = finished(audit(tmp_path, alerts=tmp_path / "alerts.jsonl", state=full_disk / "state.db"))
    problem = [line for line in err.splitlines() if "capture(s)" not in line]
    assert code == 2 and len(problem) == 1 and "state" in problem[0]
    assert not (tmp_path / "alerts.jsonl").exists()


def test_sense_output_on_a_full_disk(tmp_path: Path, full_disk: Path) -> None:
    out = full_disk / "obs.jsonl"
    done = subprocess.run([EXE, "sense", "--read", str(CAPTURE), "-q", "-o", str(out), "--key-file",
                           str(tmp_path / "k")], capture_output=True, text=True)
    assert done.returncode == 2 and "No space left on device" in done.stderr
    assert [p.name for p in full_disk.iterdir()] == ["filler"]


def test_kill_9_mid_run_leaves_the_state_as_it_was(tmp_path: Path) -> None:
    """A run killed while it works: the earlier run is intact, no half run is recorded, the
    alerts file is the earlier one, and the next run works."""
    assert finished(audit(tmp_path))[0] == 0
    before = runs(tmp_path / "state.db")
    alerts_before = (tmp_path / "alerts.jsonl").read_text()
    proc = subprocess.Popen(
        [EXE, "audit", "-", "--inventory", str(HOSPITAL / "inventory.csv"), "--alerts", str(tmp_path / "alerts.jsonl"),
         "--state", str(tmp_path / "state.db"), "--key-file", str(tmp_path / "site.key")],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert proc.stdin is not None
    data = CAPTURE.read_bytes()
    proc.stdin.write(data[: len(data) // 2])  # half a capture: the run is under way, holding the state
    proc.stdin.flush()
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert runs(tmp_path / "state.db") == before
    assert (tmp_path / "alerts.jsonl").read_text() == alerts_before
    code, _err = finished(audit(tmp_path))
    assert code == 0 and len(runs(tmp_path / "state.db")) == len(before) + 1


@pytest.mark.parametrize(("umask", "mode"), [(None, 0o600), ("027", 0o640)])
def test_outputs_are_private_unless_the_umask_says(tmp_path: Path, umask: str | None, mode: int) -> None:
    ledger = tmp_path / "ledger.jsonl"
    extra = ["--umask", umask] if umask else []
    proc = subprocess.run([EXE, *extra, "audit", str(CAPTURE), "--inventory", str(HOSPITAL / "inventory.csv"),
                           "--alerts", str(tmp_path / "alerts.jsonl"), "--ledger", str(ledger),
                           "--state", str(tmp_path / "state.db"), "--key-file", str(tmp_path / "site.key"),
                           "--fail-on", "never"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    for path in (tmp_path / "alerts.jsonl", ledger, tmp_path / "state.db"):
        assert stat.S_IMODE(path.stat().st_mode) == mode, path
    assert stat.S_IMODE((tmp_path / "site.key").stat().st_mode) == 0o600
    assert all(json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines())
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


@pytest.mark.parametrize("command", ["audit", "sense"])
def test_ctrl_c_is_one_line_exit_130_and_leaves_nothing_half_written(tmp_path: Path, command: str) -> None:
    """Interrupted while it reads (a capture on standard input that stops coming): exit 130, one
    line, no traceback, no alerts or observations file, no audit in the state."""
    alerts, state = tmp_path / "alerts.jsonl", tmp_path / "state.db"
    args = ([EXE, "audit", "-", "--inventory", str(HOSPITAL / "inventory.csv"), "--alerts", str(alerts),
             "--state", str(state), "--key-file", str(tmp_path / "site.key")] if command == "audit" else
            [EXE, "sense", "-r", "-", "-o", str(alerts), "--key-file", str(tmp_path / "site.key")])
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    proc.stdin.write(CAPTURE.read_bytes()[:20_000])  # the header and some frames; the rest never comes
    proc.stdin.flush()
    time.sleep(2.0)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    lines = err.decode().strip().splitlines()
    assert lines[-1].startswith("trustwatch: interrupted;") and "Traceback" not in err.decode()
    assert not alerts.exists() and not list(tmp_path.glob(".alerts.jsonl.*"))
    if command == "audit":
        assert runs(state) == []
