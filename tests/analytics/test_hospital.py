"""The hospital scenario end to end: `trustwatch audit` on sample_pcaps/hospital.

The generator (sample_pcaps/gen_hospital.py) planted, per rule, the alerts that must fire and
the near misses that must not (expected-alerts.json); the audit runs as a user runs it, and
precision and recall are measured per rule on its alert file.
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

HOSPITAL = SAMPLES / "hospital"
INVENTORY = HOSPITAL / "inventory.csv"
EXPECTED = json.loads((HOSPITAL / "expected-alerts.json").read_text())


def audit(tmp_path: Path, *extra: str, paths: tuple[str, ...] = (str(HOSPITAL),),
          inventory: Path = INVENTORY) -> tuple[int, list[dict[str, Any]]]:
    return planted.audit(HOSPITAL, tmp_path, *extra, paths=paths, inventory=inventory)


@pytest.fixture(scope="module")
def found(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], Path]:
    where = tmp_path_factory.mktemp("audit")
    code, docs = audit(where)
    assert code == 1
    return docs, where / "site.key"


def test_precision_and_recall_are_one_for_every_rule(found: tuple[list[dict[str, Any]], Path]) -> None:
    docs, key = found
    rule_ids = set(load_rules().rules)
    assert {a["rule"] for a in EXPECTED["alerts"]} == rule_ids, "every rule fires"
    alerts = planted.planted_alerts(EXPECTED, planted.answered_protocols(HOSPITAL))
    scores = planted.figures(docs, alerts, key, rule_ids)
    assert all(p == r == 1.0 for p, r, _n in scores.values()), planted.misses(docs, alerts, key)


def test_near_misses_stay_silent(found: tuple[list[dict[str, Any]], Path]) -> None:
    docs, key = found
    raised = {(d["rule"]["id"], d["trustwatch"]["subject"]) for d in docs}
    devices = {x.get("asset_id") for d in docs if d["rule"]["id"] != "cleartext-credential"
               for x in d["trustwatch"]["devices"]}
    for miss in EXPECTED["near_misses"]:
        assert (miss["rule"], subject(miss["subject"], key)) not in raised, miss["why"]
    assert {"INF-007", "INF-021", "INF-022", "INF-008", "US-01"}.isdisjoint(devices)


def test_one_snmp_community_is_shared_by_the_agents_that_answer_not_by_their_poller(
        found: tuple[list[dict[str, Any]], Path]) -> None:
    docs, key = found
    community = next(d for d in docs if d["rule"]["id"] == "shared-credential"
                     and d["trustwatch"]["subject"] == subject("secret:{fingerprint:h0sp-RO-2016}", key))
    assert sorted(x["asset_id"] for x in community["trustwatch"]["devices"]) == ["INF-001", "VEN-001", "VEN-002"]
    assert "checked by SRV-NMS-01" in community["message"]


def test_alerts_are_ecs_with_evidence_in_the_captures(found: tuple[list[dict[str, Any]], Path]) -> None:
    docs, _key = found
    for doc in docs:
        assert doc["event"]["kind"] == "alert" and doc["rule"]["name"] and doc["message"]
        assert doc["@timestamp"].startswith("2025-03-11T07:")
        for ev in doc["trustwatch"]["evidence"]:
            capture = Path(ev["capture"])
            assert capture.parent == HOSPITAL and capture.exists() and ev["frames"]
    shared = next(d for d in docs if d["trustwatch"]["subject"].startswith("client-certificate:")
                  and d["rule"]["id"] == "shared-credential")
    assert sorted(x["asset_id"] for x in shared["trustwatch"]["devices"]) == ["INF-004", "INF-005", "INF-006"]
    assert all(x["match"]["method"] == "mac" for x in shared["trustwatch"]["devices"])


def test_lifecycle_findings_list_both_ends(found: tuple[list[dict[str, Any]], Path]) -> None:
    docs, _key = found
    roles = {d["trustwatch"]["subject"]: [(x["asset_id"], x["role"]) for x in d["trustwatch"]["devices"]]
             for d in docs if d["rule"]["id"] in ("credential-outlives-device", "identity-mismatch")}
    assert roles == {
        "client-certificate:89498206e837921172aeb7ef70a844b327044ab9a28364a431d8c35904b7185b":
            [("INF-010", "presenter"), ("INF-099", "registered-owner")],
        "asset:MON-002|client-certificate:da83a2554103e88f81146b7b42e7c59c1b3c4a160e4244c0b9627e40e3ca24d2":
            [("MON-002", "presenter"), ("MON-003", "registered-owner")],
        "asset:MR-01|ae-title:CT01": [("MR-01", "presenter"), ("CT-01", "registered-owner")],
        "username:mon005-export": [("MON-002", "presenter"), ("MON-005", "registered-owner")],
    }


def test_the_answers_decide_and_show(found: tuple[list[dict[str, Any]], Path]) -> None:
    """Issue 17: the account of the retired MON-005 is accepted for MON-002 (high, `event.outcome`
    success); the stranger guessed its way into the UPS web card (an unknown device accepted:
    high); the central station lets MON-005's TLS certificate in (the sensor reads TLS answers)
    while the archive refuses its FTP login: accepted once, so high; the bursts carry the
    refusals' frames."""
    docs, _key = found
    by = {(d["rule"]["id"], d["trustwatch"]["subject"]): d for d in docs}
    outlives = by[("credential-outlives-device", "username:mon005-export")]
    assert (outlives["event"]["outcome"], outlives["trustwatch"]["severity"]) == ("success", "high")
    assert outlives["message"].endswith(" Accepted 1 of 1 time(s).")
    stranger = by[("unknown-device", "device:mac:B8-27-EB-5A-11-02")]
    assert (stranger["event"]["outcome"], stranger["trustwatch"]["severity"]) == ("success", "high")
    ups = by[("failed-authentication-burst", "guessing:mac:B8-27-EB-5A-11-02|account:apc@10.20.0.5")]
    assert (ups["event"]["outcome"], ups["trustwatch"]["severity"], ups["network"]["protocol"]) == (
        "success", "high", "http")
    assert "the guess may have worked" in ups["message"] and "401" in ups["message"]
    retired = by[("retired-device-authenticates", "asset:MON-005")]
    assert retired["message"].endswith(" Accepted 1 of 2 time(s).")
    assert (retired["event"]["outcome"], retired["trustwatch"]["severity"]) == ("success", "high")
    accepted = by[("expired-credential-accepted", "10.10.5.40:21|username:mon005-export")]
    assert "(registered to MON-005 (Philips IntelliVue MX800, ICU), retired since 2024-11-30) from MON-002" \
        in accepted["message"] and accepted["message"].endswith("(230 Login successful.): it does not fail closed.")
    bursts = [d for d in docs if d["rule"]["id"] == "failed-authentication-burst"]
    assert {d["event"]["outcome"] for d in bursts} == {"failure", "success"}
    assert all(Path(e["capture"]).name == "logons.pcap" for d in bursts for e in d["trustwatch"]["evidence"])


def test_the_summary_shows_passed_checks_and_the_first_audit_caveat(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    audit(tmp_path)
    summary = capsys.readouterr().out
    assert "Checks passed (a service refused what it must refuse: it fails closed): expired-credential-accepted 1\n" \
        in summary
    assert "Credential ages: first audit of this site (no earlier run in the state)" in summary
    audit(tmp_path)
    assert "Credential ages" not in capsys.readouterr().out, "the second audit has the first's history"


def test_unknown_devices_are_on_the_site_and_described(found: tuple[list[dict[str, Any]], Path]) -> None:
    docs, _key = found
    unknown = {d["trustwatch"]["subject"]: d for d in docs if d["rule"]["id"] == "unknown-device"}
    pi = unknown["device:mac:B8-27-EB-5A-11-02"]["trustwatch"]["devices"][0]["network"]
    assert pi["mac_manufacturer"] == "Raspberry Pi Foundation"  # the IEEE registry, not a table of ours
    assert pi["first_seen"].startswith("2025-03-11T07:") and pi["last_seen"] >= pi["first_seen"]
    tablet = unknown["device:mac:D0-37-45-AA-10-03"]
    assert tablet["trustwatch"]["devices"][0]["network"]["dhcp"]["hostname"] == "tablet"
    assert "DHCP host name 'tablet'" in tablet["message"] and "TP-LINK" in tablet["message"]


def test_a_messy_inventory_warns_and_the_audit_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A blank status skips its row with the words of `inventory check`; MON-005's retired twin
    with the same MAC and IP is no conflict."""
    messy = tmp_path / "inventory.csv"
    rows = INVENTORY.read_text().splitlines()
    inf1 = next(n for n, row in enumerate(rows) if row.startswith("INF-001,"))
    mon5 = next(row for row in rows if row.startswith("MON-005,"))
    rows[inf1] = rows[inf1].replace(",active,", ",,")
    rows.append(mon5.replace("MON-005,", "MON-005-OLD,").replace(",Retired,2024-11-30,", ",decommissioned,2019-02-01,"))
    messy.write_text("\n".join(rows) + "\n")
    capsys.readouterr()
    assert main(["inventory", "check", str(messy)]) == 2
    checked = capsys.readouterr().out.splitlines()
    assert checked == [f"{messy}:{inf1 + 1}:status: missing status"]
    code, docs = audit(tmp_path, inventory=messy)
    assert code == 1
    err = capsys.readouterr().err
    assert f"{checked[0]}\n" in err and "1 row(s) skipped; running on its 40 usable devices" in err
    snmp = next(d for d in docs if d["trustwatch"]["subject"] == "snmp:asset:SRV-NMS-01")
    assert snmp  # the rest of the audit is the same
    inf001 = [d for d in docs if "00-1B-4F-00-10-01" in json.dumps(d["trustwatch"]["devices"])]
    assert inf001 and all("was unusable (status: missing status)" in d["message"] for d in inf001)
    retired = next(d for d in docs if d["rule"]["id"] == "retired-device-authenticates")
    assert retired["trustwatch"]["subject"] == "asset:MON-005"


def test_site_networks_decide_what_is_unknown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Named site networks without the satellite clinic (10.60.0.0/16): the tablet there is a far end."""
    _code, docs = audit(tmp_path / "a", "--site-networks", "10.10.0.0/16,10.20.0.0/16,10.30.0.0/16,10.40.0.0/16")
    assert {d["trustwatch"]["subject"] for d in docs if d["rule"]["id"] == "unknown-device"} == {
        "device:mac:B8-27-EB-5A-11-02"}
    site = tmp_path / "site.yaml"
    site.write_text("networks: [10.0.0.0/8]\n")
    _code, docs = audit(tmp_path / "b", "--site", str(site))
    assert sum(d["rule"]["id"] == "unknown-device" for d in docs) == 2
    site.write_text("networks: [10.0.0.0/8, ward-3]\n")
    assert audit(tmp_path / "c", "--site", str(site))[0] == 2
    assert f"trustwatch: {site}: networks: not a network (CIDR, e.g. 10.20.0.0/16): 'ward-3'" in capsys.readouterr().err


def test_summary_counts_far_ends_apart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    audit(tmp_path)
    summary = capsys.readouterr().out
    assert "40 devices on the site (38 in the inventory, 2 unknown), 3 far ends off it" in summary
    assert "Site networks: 10.0.0.0/8, 169.254.0.0/16, fe80::/10 (default: " in summary
    top = summary.split("Top findings")[1].split("Remote-access sessions")[0]
    for headline in ("shared-credential", "retired-device-authenticates", "credential-outlives-device",
                     "unknown-device"):
        assert f"] {headline}" in top, headline


def test_exit_codes(tmp_path: Path) -> None:
    assert audit(tmp_path / "a", "--fail-on", "critical")[0] == 0
    assert audit(tmp_path / "b", "--fail-on", "high")[0] == 1
    broken = tmp_path / "broken.csv"
    broken.write_text(INVENTORY.read_text().replace("00:1b:4f:00:10:01", "00:1b:4f:00:10"))
    assert audit(tmp_path / "c", inventory=broken)[0] == 1  # INF-001's row is skipped, the audit runs
    assert audit(tmp_path / "e", "--strict-inventory", inventory=broken)[0] == 2
    assert audit(tmp_path / "d", paths=(str(HOSPITAL), str(INVENTORY)))[0] == 2  # not a capture


@pytest.mark.parametrize(("edit", "message"), [
    (lambda rows: [rows[0], rows[1].replace("00:50:56:10:04:20", "00:50:56:10:04"), *rows[2:]],
     ":2:mac: "),
    (lambda rows: [*rows, rows[5].replace("INF-", "INF-X")], ":{appended}:mac: duplicate MAC"),
    (lambda rows: [*rows, rows[5].replace("00:1b:4f", "00:1b:5f")], ":{appended}:asset_id: duplicate"),
    (lambda rows: [rows[0], rows[1].replace(",active,", ",scrapped,"), *rows[2:]], ":2:status: "),
    (lambda rows: [rows[0].replace(",status,", ",state,"), *rows[1:]], ":1:"),
])
def test_inventory_check_names_file_row_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  edit: Any, message: str) -> None:
    broken = tmp_path / "inventory.csv"
    rows = INVENTORY.read_text().splitlines()
    broken.write_text("\n".join(edit(rows)) + "\n")
    assert main(["inventory", "check", str(broken)]) == 2
    out = capsys.readouterr().out
    assert f"{broken}{message.format(appended=len(rows) + 1)}" in out, out
    assert main(["inventory", "check", str(INVENTORY)]) == 0


def test_a_later_audit_knows_the_history(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    audit(tmp_path)
    next_day = tmp_path / "icu-next-day.pcap"
    subprocess.run(["editcap", "-t", "86400", str(HOSPITAL / "icu.pcap"), str(next_day)], check=True)
    code, docs = audit(tmp_path, paths=(str(next_day),))
    assert code == 1
    shared = next(d for d in docs if d["rule"]["id"] == "shared-credential"
                  and d["trustwatch"]["subject"].startswith("client-certificate:"))
    assert "in use since 2025-03-11" in shared["message"]
    capsys.readouterr()
    assert main(["alerts", "--state", str(tmp_path / "state.db"), "--rule", "shared-credential", "--json"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    stored = [d for d in listed if d["trustwatch"]["subject"] == shared["trustwatch"]["subject"]]
    assert len(stored) == 1 and stored[0]["trustwatch"]["audits"] == [1, 2]  # one alert, seen by both audits
    assert stored[0]["trustwatch"]["status"] == "open" and stored[0]["event"]["id"] == shared["event"]["id"]


def test_three_audits_judge_rotation_from_the_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The site audited on 2025-03-11, then the logons again 200 and 400 days later (editcap
    shifts the capture), with one state: the certificate of 2019 is judged by its notBefore on
    every audit; the passwords accepted on the first day are past 365 days on the third audit
    only; the first audit says it cannot know their age; refused ones (guesses, the typo) are
    never in use."""
    audit(tmp_path)
    first = capsys.readouterr().out
    assert "Credential ages: first audit of this site" in first
    fired = []
    for days in (200, 400):
        later = tmp_path / f"logons-{days}.pcap"
        subprocess.run(["editcap", "-t", str(days * 86400), str(HOSPITAL / "logons.pcap"), str(later)], check=True)
        _code, docs = audit(tmp_path, paths=(str(later),))
        assert "Credential ages" not in capsys.readouterr().out
        fired.append({d["trustwatch"]["subject"] for d in docs if d["rule"]["id"] == "unrotated-credential"})
    [vent_2019] = [a["subject"] for a in EXPECTED["alerts"] if a["rule"] == "unrotated-credential"]
    # The passwords logons.pcap shows accepted, as gen_hospital.py plants them (expected-alerts.json: secrets).
    accepted = ("Ph1lips!", "Bkp-ups-2024", "CobasArch-2024", "CobasArch-2025", "VentLog-2023", "mon005-Exp0rt")
    assert set(accepted) <= set(EXPECTED["secrets"])
    accepted += ("apc",)  # APC's published default, which the Raspberry Pi guessed on the UPS web card
    key = tmp_path / "site.key"
    assert fired[0] == {vent_2019}
    assert fired[1] == {vent_2019, *(subject("secret:{fingerprint:" + s + "}", key) for s in accepted)}


def test_the_scenario_is_what_its_generator_writes(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(SAMPLES / "gen_hospital.py"), "--out", str(tmp_path)], check=True)
    for path in HOSPITAL.iterdir():
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name


def test_remote_access_lists_the_audit_ledger(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`trustwatch remote-access`: the same ledger as `audit --ledger`, every session once, the
    unapproved ones exactly the planted remote-access-unapproved alerts; exit 1 while one is."""
    audit(tmp_path, "--ledger", str(tmp_path / "ledger.jsonl"))
    ledger = [json.loads(line) for line in (tmp_path / "ledger.jsonl").read_text().splitlines()]
    capsys.readouterr()
    args = ["remote-access", str(HOSPITAL), "--inventory", str(INVENTORY), "--no-state",
            "--key-file", str(tmp_path / "site.key"),
            "--remote-access-windows", str(HOSPITAL / "remote-access-windows.yaml")]
    assert main([*args, "--json"]) == 1
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == ledger
    assert main([*args, "--json", "--unapproved"]) == 1
    unapproved = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert unapproved == [r for r in ledger if not r["trustwatch"]["remote_access"]["approved"]]

    def subjects(records: list[dict[str, Any]]) -> set[str]:
        return {f"remote-access:{r['trustwatch']['device']['key']}:"
                f"{(r['trustwatch']['remote_access']['vendor'] or r['network']['protocol']).casefold()}"
                for r in records}

    planted = {a["subject"] for a in EXPECTED["alerts"] if a["rule"] == "remote-access-unapproved"}
    approved = {a["subject"] for a in EXPECTED["near_misses"] if a["rule"] == "remote-access-unapproved"}
    assert subjects(unapproved) == planted
    assert subjects([r for r in ledger if r["trustwatch"]["remote_access"]["approved"]]) == approved
    assert main(args) == 1
    table = capsys.readouterr().out.splitlines()
    assert table[0] == f"Remote-access sessions ({len(ledger)}, {len(unapproved)} unapproved):"
    assert len(table) == 1 + len(ledger) and sum(line.startswith("  ! ") for line in table) == len(unapproved)
    assert any("MR-01" in line and "window CHG-" in line for line in table if not line.startswith("  ! "))
    assert main([*args[:1], str(HOSPITAL / "icu.pcap"), *args[2:]]) == 0
    assert capsys.readouterr().out == "No remote-access sessions.\n"
