"""The engine's summary: counts per rule and the top findings with their devices."""

from __future__ import annotations

from pathlib import Path

from tests.analytics import scenario
from tests.analytics.builders import HASHER, T0, credential, ep
from trustwatch.analytics.alerts import to_alert
from trustwatch.analytics.correlate import correlate
from trustwatch.analytics.criticality import Criticality
from trustwatch.analytics.findings import FLOOD_DEVICES, MAX_FINDING_DEVICES, DeviceRef, Finding, bounded, finding
from trustwatch.analytics.inventory import Inventory, load_inventory
from trustwatch.analytics.pipeline import (
    AuditResult,
    SummaryLine,
    load_rules,
    rank,
    render_summary,
    run_audit,
    summary_lines,
    top_lines,
)
from trustwatch.analytics.rules import Severity
from trustwatch.sensor.records import SecretKind


def test_summary(tmp_path: Path) -> None:
    rules = load_rules()
    inv = load_inventory(scenario.write_inventory(tmp_path))
    res = run_audit(scenario.observations(), inv, rules, secrets=HASHER)
    text = render_summary(res, rules, top=3)
    # The vendor cloud (52.10.1.7) is a far end, not an unknown device.
    assert text.startswith("trustwatch: 64 observations, 69 identity presentations, 19 devices on the site "
                           "(16 in the inventory, 3 unknown), 1 far end off it, "
                           "2024-03-04 08:00 UTC to 2024-03-04 08:35 UTC\n"
                           "Site networks: 10.0.0.0/8, 169.254.0.0/16, fe80::/10 (default: the private blocks "
                           "of the inventory's addresses, and link-local)\n"
                           "Credential ages: first audit of this site (no earlier run in the state), so how long "
                           "each of the 13 secret(s) seen was in use before it is unknown; ")
    assert "  high      shared-credential                 3\n" in text
    assert "  low       long-lived-certificate            2\n" in text
    # Three best lines, and the headline rules' best lines beyond them (unknown-device is medium).
    assert "Top findings (4 of 24 lines, 26 findings; " in text
    assert "      - VEN-020 (Draeger Evita V500, ICU) [00-1B-4F-00-00-20] registered owner\n" in text
    assert text.endswith("Remote-access sessions (1, 1 unapproved):\n  ! 2024-03-04 08:30 UTC     900 s  MON-010 "
                         "(Philips IntelliVue MX450, Ward 3) -> 52.10.1.7  AnyDesk  [0 B out, 0 B back]  "
                         "inventory approves none for this device, not AnyDesk\n")
    assert "      - INF-005 (BD Alaris 8015, Ward 3) [00-1B-4F-00-00-05, 10.20.0.55] matched by mac\n" in text
    assert res.failing(Severity.HIGH) and res.failing(Severity.LOW) and not res.failing(Severity.CRITICAL)
    assert not res.failing(None)


def test_nothing_found(tmp_path: Path) -> None:
    rules = load_rules()
    res = run_audit([], load_inventory(scenario.write_inventory(tmp_path)), rules, secrets=HASHER)
    text = render_summary(res, rules)
    assert text.startswith("trustwatch: 0 observations, 0 identity presentations, 0 devices")
    assert text.endswith("No findings.\n")
    assert set(res.summary.values()) == {0} and not res.failing(Severity.LOW)


# --- ranking and grouping (issue 16, point 7) -------------------------------------------------

RULES = load_rules()


def made(rule_id: str, subject: str, assets: list[str], first_seen: float = 0.0, cause: str = "") -> Finding:
    """A finding of `rule_id` (its severity from the rules) about the inventory devices `assets`."""
    rule = RULES.get(rule_id)
    devices = tuple(DeviceRef(f"asset:{a}", a, None, (), "active", "mac", "", a) for a in assets)
    return Finding(rule.id, rule.name, rule.severity, subject, f"{rule_id} about {subject}", first_seen,
                   first_seen, 1, devices, None, (), (), cause)


CRITICALITY = {"PUMP-1": Criticality.LIFE_CRITICAL, "PUMP-2": Criticality.LIFE_CRITICAL,
               "PC-1": Criticality.LOW, "PC-2": Criticality.LOW, "PC-3": Criticality.LOW}


def subjects(lines: list[SummaryLine]) -> list[str]:
    return [line.first.subject for line in lines]


def test_within_a_severity_devices_then_criticality_then_time_never_rule_id() -> None:
    findings = [
        made("default-credential", "one-unknown-criticality-early", ["X-1"], first_seen=1.0),
        made("shared-credential", "one-life-critical-late", ["PUMP-2"], first_seen=30.0),
        made("identity-mismatch", "one-life-critical-early", ["PUMP-1"], first_seen=20.0),
        made("credential-outlives-device", "three-low", ["PC-1", "PC-2", "PC-3"], first_seen=40.0),
        made("cleartext-credential", "medium-with-five", ["PC-1", "PC-2", "PC-3", "PUMP-1", "PUMP-2"]),
    ]
    assert subjects(summary_lines(findings, CRITICALITY)) == [
        "three-low", "one-life-critical-early", "one-life-critical-late", "one-unknown-criticality-early",
        "medium-with-five"]
    assert [f.subject for f in sorted(findings, key=lambda f: rank(f, CRITICALITY))][:2] == [
        "three-low", "one-life-critical-early"]


def test_one_rule_and_one_cause_is_one_line_with_a_count() -> None:
    community = [made("cleartext-credential", f"snmp:asset:AGENT-{n}", [f"AGENT-{n}"], n,
                      "community in clear over SNMP") for n in range(32)]
    lines = summary_lines([*community, made("cleartext-credential", "ftp:asset:MON-1", ["MON-1"], 0.0,
                                            "password in clear over FTP")], CRITICALITY)
    assert [(len(line.findings), len(line.devices)) for line in lines] == [(32, 32), (1, 1)]
    result = AuditResult(findings=[*community], summary={"cleartext-credential": 32})
    text = render_summary(result, RULES)
    assert "  [medium] cleartext-credential x32: community in clear over SNMP, 32 devices\n" in text
    assert "      - ... 27 more devices\n" in text


def test_headline_rules_are_not_hidden_behind_fifty_cleartext_findings() -> None:
    noise = [made("cleartext-credential", f"proto{n}:asset:PC-{n}", [f"PC-{n}", f"PC-{n}b"], n,
                  f"password in clear over PROTO{n}") for n in range(50)]
    headline = [made("unknown-device", "device:mac:B8-27-EB-5A-11-02", ["STRANGER"], 99.0),
                made("unknown-device", "device:mac:B8-27-EB-5A-11-03", ["STRANGER-2"], 98.0)]
    lines = summary_lines([*noise, *headline], CRITICALITY)
    shown = top_lines(lines, RULES, 10)
    assert len(shown) == 10
    assert subjects(shown)[-1] == "device:mac:B8-27-EB-5A-11-03"  # its best line, in its rank
    assert sum(line.first.rule_id == "cleartext-credential" for line in shown) == 9
    text = render_summary(AuditResult(findings=[*noise, *headline]), RULES)
    assert "Top findings (10 of 52 lines, 52 findings; " in text and "] unknown-device: " in text


def test_criticality_from_the_inventory_or_the_rules_mapping(tmp_path: Path) -> None:
    inv = tmp_path / "inv.csv"
    inv.write_text("asset_id,mac,status,clinical_function,criticality\n"
                   "PUMP-1,00:1b:4f:00:00:01,active,Infusion Pump,\n"
                   "VENT-1,00:30:e6:00:00:01,active,ventilation,low\n"
                   "PC-1,3c:ec:ef:00:00:01,active,clinical_workstation,\n"
                   "CAM-1,3c:ec:ef:00:00:02,active,door camera,\n")
    result = run_audit([], load_inventory(inv), RULES)
    assert result.criticality == {"PUMP-1": Criticality.LIFE_CRITICAL, "VENT-1": Criticality.LOW,
                                  "PC-1": Criticality.HIGH}


# --- floods (issue 14: an audit stays bounded) ---------------------------------------------------


def test_a_flood_of_one_rule_is_folded_into_one_finding_with_its_count() -> None:
    """2,000 unknown devices: the 200 with the most devices one by one, the rest one `flood`
    finding counting them, naming a sample; a rule under the limit is untouched."""
    flood = (made("unknown-device", f"device:ip:10.9.{n // 256}.{n % 256}", [f"X-{n}"] * (1 + (n % 7 == 0)),
                  float(n)) for n in range(2000))
    kept = bounded(flood, 200)
    assert len(kept) == 201
    folded = [f for f in kept if f.subject == "flood"]
    assert len(folded) == 1 and folded[0].count == 1800 and folded[0].cause == "flood"
    assert "1,800 more unknown-device findings" in folded[0].message
    assert len(folded[0].devices) == FLOOD_DEVICES
    listed = [f for f in kept if f.subject != "flood"]
    assert len(listed) == 200 and all(len(f.devices) == 2 for f in listed)  # 286 have two: the largest kept
    few = [made("unknown-device", f"device:ip:10.9.0.{n}", [f"Y-{n}"]) for n in range(5)]
    assert bounded(iter(few), 200) == few


def test_a_secret_on_thousands_of_devices_lists_a_hundred_and_counts_the_rest() -> None:
    server = ep("10.50.0.1", "02-00-00-00-00-01", 161)
    sightings = correlate([credential(T0, ep(f"10.7.{n // 256}.{n % 256}", None, 40000), server, None, "public",
                                      SecretKind.COMMUNITY, "snmp", mechanism="v2c get-request")
                           for n in range(1500)], Inventory([]))
    f = finding(RULES.get("shared-credential"), "secret:x", sightings, "one community on 1,500 devices")
    assert len(f.devices) == MAX_FINDING_DEVICES and f.more_devices == 1400 and f.device_count == 1500
    doc = to_alert(f, RULES.get(f.rule_id), 0.0)
    assert doc["trustwatch"]["more_devices"] == 1400 and len(doc["trustwatch"]["devices"]) == 100
