"""Audit-to-audit memory: one stored alert per subject, new/open/resolved across audits, the
analyst's ack and reopen, and a state file of schema version 1 migrated in place."""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.analytics import scenario
from tests.analytics.builders import HASHER
from tests.conftest import SAMPLES
from trustwatch.analytics.alerts import AlertStatus, alert_id
from trustwatch.analytics.cli import main
from trustwatch.analytics.inventory import Inventory, load_inventory
from trustwatch.analytics.memory import AlertError, annotate, stored_alerts
from trustwatch.analytics.pipeline import AuditResult, load_rules, run_audit
from trustwatch.analytics.scope import SiteScope
from trustwatch.analytics.state import SCHEMA_VERSION, State
from trustwatch.sensor.records import Observation, TlsClientCertificate

DAY = 86400.0
RULES = load_rules()
V1 = Path(__file__).parent / "data"
"""`state-v1.db`: two audits of sample_pcaps/hospital/icu.pcap made by the code of schema version 1
(commit 51a9ce1, `trustwatch audit ... --state state-v1.db --key-file state-v1.key`)."""


def shifted(obs: list[Observation], days: float) -> list[Observation]:
    return [replace(o, ts=o.ts + days * DAY) for o in obs]


def stranger(obs: list[Observation]) -> Observation:
    """One more unknown device: the stranger's first certificate, from another MAC and address."""
    o = next(o for o in obs if o.flow.orig.mac == "02-AA-BB-CC-DD-EE" and isinstance(o, TlsClientCertificate))
    return replace(o, flow=replace(o.flow, uid="Cstranger2", orig=replace(o.flow.orig, mac="02-AA-BB-CC-DD-01",
                                                                             ip="10.20.0.98")))


def without(obs: list[Observation], mac: str) -> list[Observation]:
    return [o for o in obs if mac not in (o.flow.orig.mac, o.flow.resp.mac)]


def audit(state: State, inv: Inventory, obs: list[Observation], **kw: Any) -> AuditResult:
    return run_audit(obs, inv, RULES, state, secrets=HASHER, **kw)


def statuses(state: State) -> dict[str, str]:
    return dict(state.db.execute("SELECT dedup_key, status FROM alerts").fetchall())


def tables(state: State) -> dict[str, list[Any]]:
    return {t: state.db.execute(f"SELECT * FROM {t} ORDER BY 1, 2, 3").fetchall()
            for t in ("alerts", "devices", "identities", "sightings", "alert_notes")}


def test_three_audits_same_data_new_findings_a_fixed_problem(tmp_path: Path) -> None:
    inv = load_inventory(scenario.write_inventory(tmp_path))
    monday = scenario.observations()
    with State(":memory:") as state:
        first = audit(state, inv, monday)
        n = len(first.findings)
        assert first.diff is not None and (first.diff.new, first.diff.still_open, first.diff.resolved) == (n, 0, 0)
        assert set(statuses(state).values()) == {"new"}
        before = tables(state)

        same = audit(state, inv, monday)  # the same data again: only the audit log grows
        assert same.diff is not None and (same.diff.new, same.diff.still_open, same.diff.resolved) == (0, n, 0)
        assert tables(state) == before
        assert state.db.execute("SELECT count(*) FROM runs").fetchone()[0] == 2

        tuesday = shifted(monday, 1)
        new = audit(state, inv, [*tuesday, stranger(tuesday)])  # a second device with the stranger's certificate
        raised = {f.dedup_key for f in new.findings} - {f.dedup_key for f in first.findings}
        assert raised == {"unknown-device:device:mac:02-AA-BB-CC-DD-01",
                          f"shared-credential:client-certificate:{scenario.C['UNKNOWN'].sha256}"}
        assert new.diff is not None and (new.diff.new, new.diff.still_open, new.diff.resolved) == (2, n, 0)
        after = statuses(state)
        assert {k for k, s in after.items() if s == "new"} == raised
        assert sorted(after.values()) == ["new"] * 2 + ["open"] * n

        wednesday = without(shifted(monday, 2), scenario.mac(9))  # the retired pump is gone
        fixed = audit(state, inv, wednesday)
        gone = {f.dedup_key for f in new.findings} - {f.dedup_key for f in fixed.findings}
        assert "retired-device-authenticates:asset:INF-009" in gone and len(gone) >= 2
        assert fixed.diff is not None
        assert (fixed.diff.new, fixed.diff.still_open, fixed.diff.resolved) == (0, n + 2 - len(gone), len(gone))
        assert {k for k, s in statuses(state).items() if s == "resolved"} == gone
        counts = dict(state.db.execute("SELECT dedup_key, count FROM alerts").fetchall())
        weak = next(f for f in first.findings if f.rule_id == "weak-certificate")
        assert counts[weak.dedup_key] == 3 * weak.count  # monday, tuesday, wednesday: the repeat is not counted


def test_ack_and_reopen_are_kept_with_time_author_and_note(tmp_path: Path) -> None:
    inv = load_inventory(scenario.write_inventory(tmp_path))
    monday = scenario.observations()
    with State(":memory:") as state:
        first = audit(state, inv, monday)
        weak = next(f for f in first.findings if f.rule_id == "weak-certificate")
        aid = alert_id(weak.dedup_key)
        assert annotate(state, aid[:8], "ack", "replacement ordered, CHG-1", "J. Okafor", 1000.0) == (
            aid, AlertStatus.ACKNOWLEDGED)
        later = audit(state, inv, shifted(monday, 1))
        assert later.memory[weak.dedup_key].status is AlertStatus.ACKNOWLEDGED  # stays while it is seen
        assert later.diff is not None and later.diff.acknowledged == 1
        assert "1 acknowledged" in later.diff.describe()
        with pytest.raises(AlertError, match="is acknowledged: ack applies to new or open alerts"):
            annotate(state, aid, "ack", "again", "x", 1001.0)
        annotate(state, aid, "reopen", "the vendor cancelled", "M. Chen", 2000.0)
        doc = next(d for d in stored_alerts(state) if d["event"]["id"] == aid)
        assert doc["trustwatch"]["status"] == "open"
        assert [(n["by"], n["action"], n["status"], n["note"]) for n in doc["trustwatch"]["notes"]] == [
            ("J. Okafor", "ack", "acknowledged", "replacement ordered, CHG-1"),
            ("M. Chen", "reopen", "open", "the vendor cancelled")]
        with pytest.raises(AlertError, match="no alert"):
            annotate(state, "ffffffffff", "ack", "n", "x", 1.0)


def test_what_never_resolves_an_alert(tmp_path: Path) -> None:
    """A monitor's window, a run with unreadable input, older captures and another segment."""
    inv = load_inventory(scenario.write_inventory(tmp_path))
    monday = scenario.observations()
    quiet = without(shifted(monday, 1), scenario.mac(9))
    with State(":memory:") as state:
        audit(state, inv, monday)
        key = "retired-device-authenticates:asset:INF-009"
        audit(state, inv, quiet, kind="monitor")
        audit(state, inv, quiet, read_errors=["icu.pcap: not a capture"])
        audit(state, inv, without(shifted(monday, -7), scenario.mac(9)))
        audit(state, inv, quiet, site=SiteScope.parse(["10.30.0.0/16"], "--site-networks"))
        assert statuses(state)[key] == "new"
        audit(state, inv, quiet)
        assert statuses(state)[key] == "resolved"
        back = audit(state, inv, shifted(monday, 2))
        assert statuses(state)[key] == "open" and back.diff is not None and back.diff.new >= 1


def test_a_version_1_state_is_migrated_in_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "state.db"
    shutil.copy(V1 / "state-v1.db", db)
    key = tmp_path / "site.key"
    shutil.copy(V1 / "state-v1.key", key)
    key.chmod(0o600)
    with sqlite3.connect(db) as old:
        rows = old.execute("SELECT dedup_key, count FROM alerts").fetchall()
        assert old.execute("PRAGMA user_version").fetchone()[0] == 1
    assert len(rows) == 2 * len(dict(rows))  # version 1 doubled a re-audit's alerts
    with State(db) as state:
        assert state.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
        migrated = stored_alerts(state)
        assert sorted((d["trustwatch"]["dedup_key"], d["trustwatch"]["count"]) for d in migrated) == sorted(set(rows))
        assert {d["trustwatch"]["status"] for d in migrated} == {"new"}
        assert all(d["trustwatch"]["audits"] == [1, 2] for d in migrated)
        assert state.db.execute("SELECT count(*) FROM runs").fetchone()[0] == 2
    hospital = SAMPLES / "hospital"
    assert main(["audit", str(hospital / "icu.pcap"), "--inventory", str(hospital / "inventory.csv"),
                 "--state", str(db), "--key-file", str(key), "--fail-on", "never"]) == 0
    out = capsys.readouterr().out
    with State(db) as state:
        after = {d["trustwatch"]["dedup_key"]: d["trustwatch"]["status"] for d in stored_alerts(state)}
        assert state.db.execute("SELECT count(*) FROM alerts WHERE segment IS NULL").fetchone()[0] == 0
    # Today's rules on the same capture: what both versions raise is still open, what only today's
    # raise is new, what only version 1 raised (judged since by other rules) is resolved.
    before = set(dict(rows))
    again = {k for k, status in after.items() if status == "open"}
    new = {k for k, status in after.items() if status == "new"}
    resolved = {k for k, status in after.items() if status == "resolved"}
    assert again | resolved == before and not new & before and len(again) >= len(before) - 2
    assert f"{len(new)} new, {len(again)} still open, {len(resolved)} resolved since audit 2" in out
