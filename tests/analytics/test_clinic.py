"""The second scenario end to end: `trustwatch audit` on sample_pcaps/clinic (issue 16).

A different site from the hospital's, written for issue 16 (sample_pcaps/gen_clinic.py): an SNMP
poller with per-device communities, a community shared by the agents that answer it, factory
communities tried; vendor gateways, one declared and one recognised, relaying into approved and
unapproved devices; an IT jump host named in the site file; strangers of every identity kind;
a messy CMMS export. Precision and recall are measured per rule on the alert file, and the
figures of both scenarios are printed for the report.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.analytics import planted
from tests.analytics.planted import subject
from tests.conftest import SAMPLES
from trustwatch.analytics.cli import main
from trustwatch.analytics.pipeline import load_rules

CLINIC = SAMPLES / "clinic"
EXPECTED = json.loads((CLINIC / "expected-alerts.json").read_text())
SITE = ("--site", str(CLINIC / "site.yaml"))


@pytest.fixture(scope="module")
def found(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], Path, str]:
    where = tmp_path_factory.mktemp("clinic")
    stderr = where / "stderr.txt"
    with stderr.open("w") as err:
        saved, sys.stderr = sys.stderr, err
        try:
            code, docs = planted.audit(CLINIC, where, *SITE, "--ledger", str(where / "ledger.jsonl"))
        finally:
            sys.stderr = saved
    assert code == 1
    return docs, where / "site.key", stderr.read_text()


def test_precision_and_recall_are_one_for_every_rule(found: tuple[list[dict[str, Any]], Path, str]) -> None:
    docs, key, _err = found
    alerts = planted.planted_alerts(EXPECTED, planted.answered_protocols(CLINIC))
    scores = planted.figures(docs, alerts, key, set(load_rules().rules))
    assert all(p == r == 1.0 for p, r, _n in scores.values()), planted.misses(docs, alerts, key)


def test_near_misses_stay_silent(found: tuple[list[dict[str, Any]], Path, str]) -> None:
    docs, key, _err = found
    raised = {(d["rule"]["id"], d["trustwatch"]["subject"]) for d in docs}
    for miss in EXPECTED["near_misses"]:
        assert (miss["rule"], subject(miss["subject"], key)) not in raised, miss["why"]


def test_every_rule_fires_on_one_scenario_or_the_other() -> None:
    hospital = json.loads((SAMPLES / "hospital" / "expected-alerts.json").read_text())
    assert {a["rule"] for doc in (hospital, EXPECTED) for a in doc["alerts"]} == set(load_rules().rules)


def test_the_messy_inventory_warns_and_the_audit_runs(found: tuple[list[dict[str, Any]], Path, str]) -> None:
    """A UTF-8 byte-order mark, Windows-1252 lines, a reused IP and a reused MAC load; the blank
    status skips its row with `inventory check`'s words, and the finding about that workstation says so."""
    docs, _key, err = found
    inventory = CLINIC / "inventory.csv"
    row = next(n for n, line in enumerate(inventory.read_bytes().splitlines(), 1) if line.startswith(b"WS-09,"))
    assert f"{inventory}:{row}:status: missing status\n" in err
    assert "1 row(s) skipped; running on its 27 usable devices" in err
    ws09 = next(d for d in docs if d["rule"]["id"] == "unknown-device" and "D0-43-1E-20-20-90" in d["trustwatch"][
        "subject"])
    assert f"inventory row {inventory}:{row} (WS-09) lists this address but was unusable (status: missing status)" \
           in ws09["message"]


def test_one_community_is_shared_by_the_agents_that_answer_not_their_pollers(
        found: tuple[list[dict[str, Any]], Path, str]) -> None:
    docs, key, _err = found
    shared = next(d for d in docs if d["trustwatch"]["subject"] == subject("secret:{fingerprint:dialysis-RO}", key))
    assert sorted(x["asset_id"] for x in shared["trustwatch"]["devices"]) == ["DIA-01", "DIA-02", "DIA-03"]
    accepted = next(d for d in docs if d["rule"]["id"] == "default-credential")
    assert [(x["asset_id"], x["role"]) for x in accepted["trustwatch"]["devices"]] == [
        ("PRN-01", "acceptor"), ("NMS-01", "presenter")]
    tried = next(d for d in docs if d["rule"]["id"] == "default-credential-attempt")
    assert tried["event"]["severity"] == 21 and "NMS-01 (Paessler PRTG Network Monitor, IT) (poller: SNMP " \
                                                 "requests to 9 agents) tried" in tried["message"]


def test_gateways_sessions_are_their_vendors_and_called_out_by_name(
        found: tuple[list[dict[str, Any]], Path, str]) -> None:
    docs, _key, _err = found
    remote = {d["trustwatch"]["subject"]: d for d in docs if d["rule"]["id"] == "remote-access-unapproved"}
    ct = remote["remote-access:asset:CT-01:siemens healthineers"]
    assert ct["message"].startswith("GW-SRS (Siemens Healthineers SRS router, Radiology) (Siemens Healthineers "
                                    "gateway) -> CT-01 (GE HealthCare Revolution Maxima, Radiology) over RDP as "
                                    "user 'srsadmin'")
    assert ct["event"]["severity"] == 99  # the gateway's own (Siemens) account on a GE device
    mr = remote["remote-access:asset:MR-02:ge healthcare"]
    assert mr["event"]["severity"] == 99 and "GE HealthCare gateway" in mr["message"]
    assert "user 'insite' is a service account of GE HealthCare" in mr["message"]
    assert remote["remote-access:asset:XR-01:siemens healthineers"]["event"]["severity"] == 73


def test_the_ledger_records_internal_administration_and_approved_relays(
        found: tuple[list[dict[str, Any]], Path, str]) -> None:
    _docs, key, _err = found
    ledger = [json.loads(line)["trustwatch"] for line in (key.parent / "ledger.jsonl").read_text().splitlines()]
    internal = sorted((r["remote"]["asset_id"], r["device"]["asset_id"]) for r in ledger
                      if r["remote_access"]["internal"])
    assert internal == [("JUMP-01", "SRV-AD"), ("JUMP-01", "SRV-BKP"), ("JUMP-01", "SRV-FILE"),
                        ("SRV-FILE", "SRV-BKP")]
    relayed = {(r["device"]["asset_id"], r["remote_access"]["vendor"], r["remote_access"]["approved"])
               for r in ledger if r["relay"]
               and r["relay"]["role"] == "vendor-gateway"}
    assert relayed == {("MR-01", "Siemens Healthineers", True), ("CT-01", "Siemens Healthineers", False),
                       ("XR-01", "Siemens Healthineers", False), ("CT-01", "GE HealthCare", True),
                       ("CT-02", "GE HealthCare", True), ("XR-01", "GE HealthCare", True),
                       ("MR-02", "GE HealthCare", False)}
    insite = next(r for r in ledger if r["remote"]["asset_id"] == "GW-INSITE")
    assert insite["relay"]["basis"] == "admin sessions to 4 devices, and its own session to GE HealthCare"


def test_without_the_site_file_the_jump_host_is_recognised_by_its_fan_out(tmp_path: Path) -> None:
    planted.audit(CLINIC, tmp_path, "--ledger", str(tmp_path / "ledger.jsonl"))
    ledger = [json.loads(line)["trustwatch"] for line in (tmp_path / "ledger.jsonl").read_text().splitlines()]
    jump = {r["relay"]["basis"] for r in ledger if r["remote"]["asset_id"] == "JUMP-01"}
    assert jump == {"admin sessions to 4 devices"}
    assert sum(r["remote_access"]["internal"] for r in ledger) == 4


def test_figures_per_rule_on_both_scenarios(tmp_path: Path, found: tuple[list[dict[str, Any]], Path, str],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """The report's table: precision, recall and planted alerts per rule, hospital and clinic."""
    hospital_dir = SAMPLES / "hospital"
    hospital = json.loads((hospital_dir / "expected-alerts.json").read_text())
    _code, hospital_docs = planted.audit(hospital_dir, tmp_path)
    rules = set(load_rules().rules)
    docs, key, _err = found
    rows = {"hospital": planted.figures(hospital_docs, planted.planted_alerts(
                hospital, planted.answered_protocols(hospital_dir)), tmp_path / "site.key", rules),
            "clinic": planted.figures(docs, planted.planted_alerts(EXPECTED, planted.answered_protocols(CLINIC)),
                                      key, rules)}
    capsys.readouterr()
    with capsys.disabled():
        print("\nrule | hospital P/R (planted) | clinic P/R (planted)")
        for rule in sorted(rules):
            cells = [f"{p:.2f}/{r:.2f} ({n})" for p, r, n in (rows[s][rule] for s in ("hospital", "clinic"))]
            print(f"{rule} | {' | '.join(cells)}")
    assert all(p == r == 1.0 for scores in rows.values() for p, r, _n in scores.values())


def test_the_scenario_is_what_its_generator_writes(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(SAMPLES / "gen_clinic.py"), "--out", str(tmp_path)], check=True)
    for path in CLINIC.iterdir():
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name


def test_inventory_check_reports_only_the_blank_status(capsys: pytest.CaptureFixture[str]) -> None:
    """The reused IP, the reused MAC and the Windows-1252 lines are no problem; the blank status is."""
    inventory = CLINIC / "inventory.csv"
    row = next(n for n, line in enumerate(inventory.read_bytes().splitlines(), 1) if line.startswith(b"WS-09,"))
    capsys.readouterr()
    assert main(["inventory", "check", str(inventory)]) == 2
    assert capsys.readouterr().out.splitlines() == [f"{inventory}:{row}:status: missing status"]
