"""State: history accumulates over runs; stored alerts can be filtered."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.analytics import scenario
from tests.analytics.builders import HASHER, T0
from trustwatch.analytics.identities import Identity, IdentityKind
from trustwatch.analytics.inventory import load_inventory
from trustwatch.analytics.memory import stored_alerts
from trustwatch.analytics.pipeline import load_rules, run_audit
from trustwatch.analytics.rules import Severity
from trustwatch.analytics.state import State, StateError
from trustwatch.sensor.records import Observation

DAY = 86400.0


def shifted(days: float) -> list[Observation]:
    return [replace(o, ts=o.ts + days * DAY) for o in scenario.observations()]


def test_two_runs_accumulate(tmp_path: Path) -> None:
    inv = load_inventory(scenario.write_inventory(tmp_path))
    rules = load_rules()
    db = tmp_path / "deep" / "state.db"
    with State(db) as state:
        first = run_audit(scenario.observations(), inv, rules, state, source="monday.pcapng", secrets=HASHER)
    with State(db) as state:  # a later audit, reopened from disk
        second = run_audit(shifted(30), inv, rules, state, source="april.pcapng", secrets=HASHER)
        fleet = Identity(IdentityKind.CLIENT_CERT, scenario.FLEET.sha256)
        assert state.identity_first_seen(fleet) == pytest.approx(T0 + 6 * 37)
        assert state.identity_devices(fleet) == ["asset:INF-003", "asset:INF-004"]
        seen = state.device_seen("asset:INF-009")
        assert seen is not None and seen[1] - seen[0] > 29 * DAY
        count, = state.db.execute("SELECT count FROM sightings WHERE device_key='asset:INF-009'").fetchone()
        assert count == 4  # twice per run
        assert state.db.execute("SELECT count(*) FROM runs").fetchone()[0] == 2
        stored = stored_alerts(state)  # one alert per subject, whatever the runs that found it
        assert len(stored) == len({f.dedup_key for f in first.findings + second.findings})
        again = {d["trustwatch"]["subject"]: d for d in stored if d["trustwatch"]["audits"] == [1, 2]}
        assert {d["trustwatch"]["status"] for d in again.values()} == {"open"}
        fleet_alert = again[f"client-certificate:{scenario.FLEET.sha256}"]["trustwatch"]
        assert fleet_alert["count"] == 2 * next(f.count for f in first.findings if f.subject == fleet.key)
    assert (first.run_id, second.run_id) == (1, 2)
    msg = {f.subject: f.message for f in second.findings}
    assert msg[f"client-certificate:{scenario.FLEET.sha256}"].endswith("; in use since 2024-03-04.")
    assert "in use since" not in {f.subject: f.message for f in first.findings}[
        f"client-certificate:{scenario.FLEET.sha256}"]


def test_alert_filters(tmp_path: Path) -> None:
    inv = load_inventory(scenario.write_inventory(tmp_path))
    with State(":memory:") as state:
        run_audit(scenario.observations(), inv, load_rules(), state, secrets=HASHER)
        assert {a["rule"]["id"] for a in stored_alerts(state, rule="weak-certificate")} == {"weak-certificate"}
        assert {a["trustwatch"]["severity"] for a in stored_alerts(state, min_severity=Severity.HIGH)} == {"high"}
        by_id = stored_alerts(state, device="MON-011")
        assert {a["rule"]["id"] for a in by_id} == {"shared-credential", "cleartext-credential",
                                                   "credential-outlives-device"}
        assert stored_alerts(state, device="00:1b:4f:00:00:11") == by_id  # any MAC notation
        assert stored_alerts(state, device="10.20.0.11") == by_id
        assert stored_alerts(state, since=T0 + DAY) == []
        assert len(stored_alerts(state, since=T0)) == len(scenario.EXPECTED)


def test_not_a_database(tmp_path: Path) -> None:
    bad = tmp_path / "state.db"
    bad.write_text("not sqlite at all, just text that is long enough to be a header" * 10)
    with pytest.raises(StateError, match="cannot open the state database"):
        State(bad)
