"""The remote-access ledger and `remote-access-unapproved`: inventory approval, windows by
device and by group, unknown and retired devices; the windows file's errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.analytics.builders import T0, ep, flow
from trustwatch.analytics.correlate import correlate
from trustwatch.analytics.detections import remote_access_unapproved
from trustwatch.analytics.detections.base import Context
from trustwatch.analytics.inventory import load_inventory
from trustwatch.analytics.pipeline import AuditResult, load_rules, run_audit
from trustwatch.analytics.remote_access import ApprovalWindowsError, ledger, ledger_record, load_windows
from trustwatch.sensor.flowid import Endpoint
from trustwatch.sensor.records import Proto, RemoteAccessSession, RemoteAccessSessionStart

INVENTORY = """asset_id,mac,ip,department,status,remote_access
CT-01,44-4B-5D-02-31-A7,10.30.8.41,Radiology,active,GE HealthCare
MR-01,00-08-8D-11-22-01,10.30.8.42,Radiology,active,Siemens Healthineers;RDP
OLD-01,00-08-8D-11-22-09,10.30.8.49,Radiology,retired,GE HealthCare
"""
WINDOWS = """windows:  # T0 is 2024-03-04 08:00 UTC
  - {vendor: GE HealthCare, device: CT-01, start: "2024-03-04T08:00:00Z", end: "2024-03-04T09:00:00Z",
     approver: R. Alvarez, ticket: CHG-1}
  - {vendor: RDP, group: radiology, start: "2024-03-04T08:00:00Z", end: "2024-03-04T08:30:00Z",
     approver: M. Chen, ticket: CHG-2}
"""
VENDOR = ep("192.0.2.80", None, 443)
LAPTOP = ep("198.51.100.23", None, 50000)


def outbound(device: str, mac: str, start: float, vendor: str = "GE HealthCare") -> RemoteAccessSession:
    return RemoteAccessSession(ts=start, flow=flow(ep(device, mac, 40000), VENDOR), protocol=Proto.TLS, vendor=vendor,
                               product="InSite", direction="outbound", matched_by="sni x", start=start,
                               end=start + 600, bytes_orig=10, bytes_resp=20)


def rdp(device: str, mac: str, start: float) -> RemoteAccessSession:
    return RemoteAccessSession(ts=start, flow=flow(LAPTOP, ep(device, mac, 3389)), protocol=Proto.RDP, vendor="",
                               product="RDP", direction="inbound", matched_by="rdp", user="svc", start=start,
                               end=start + 60)


def verdicts(tmp_path: Path, *sessions: RemoteAccessSession, windows: bool = True) -> list[tuple[bool, str]]:
    (tmp_path / "inv.csv").write_text(INVENTORY)
    (tmp_path / "w.yaml").write_text(WINDOWS)
    sightings = correlate(list(sessions), load_inventory(str(tmp_path / "inv.csv")))
    return [(e.approved, e.reason) for e in ledger(sightings, load_windows(tmp_path / "w.yaml") if windows else None)]


CT, MR = ("10.30.8.41", "44-4B-5D-02-31-A7"), ("10.30.8.42", "00-08-8D-11-22-01")
OLD = ("10.30.8.49", "00-08-8D-11-22-09")


def test_inventory_and_windows_decide(tmp_path: Path) -> None:
    assert verdicts(tmp_path, outbound(*CT, T0), outbound(*CT, T0 + 3500), outbound(*MR, T0 + 1),
                    rdp(*MR, T0 + 2), rdp(*MR, T0 + 1900), outbound("10.30.8.77", "02-00-00-00-00-77", T0 + 3),
                    outbound(*OLD, T0 + 4)) == [
        (True, "window CHG-1 approved by R. Alvarez"),
        (False, "inventory approves Siemens Healthineers, RDP for this device, not GE HealthCare"),
        (True, "window CHG-2 approved by M. Chen"),  # RDP by group (department, any case)
        (False, "device not in the inventory"),
        (False, "device is retired"),
        (False, "outside every approved window for RDP"),  # ends after CHG-2's window
        (False, "outside every approved window for GE HealthCare"),  # ends after CHG-1's window
    ]


def test_without_windows_the_inventory_alone_approves(tmp_path: Path) -> None:
    assert verdicts(tmp_path, outbound(*CT, T0 + 9999), windows=False) == [(True, "approved by the inventory")]


def test_one_finding_per_device_and_vendor_and_the_ledger_line(tmp_path: Path) -> None:
    (tmp_path / "inv.csv").write_text(INVENTORY)
    inventory = load_inventory(str(tmp_path / "inv.csv"))
    sessions = [rdp(*CT, T0), rdp(*CT, T0 + 100), outbound(*MR, T0 + 5)]
    sightings = correlate(sessions, inventory)
    rule = load_rules().get("remote-access-unapproved")
    findings = list(remote_access_unapproved.detect(Context(sightings, inventory), rule))
    assert sorted((f.subject, f.count) for f in findings) == [
        ("remote-access:asset:CT-01:rdp", 2), ("remote-access:asset:MR-01:ge healthcare", 1)]
    rdp_finding = next(f for f in findings if f.subject.endswith(":rdp"))
    assert "reached from 198.51.100.23 with RDP as user 'svc': 2 session(s)" in rdp_finding.message
    line = ledger_record(ledger(sightings, None)[0])
    tw = line["trustwatch"]
    assert tw["device"]["asset_id"] == "CT-01" and tw["remote"]["ip"] == line["source"]["ip"] == "198.51.100.23"
    assert (line["trustwatch"]["remote_access"]["approved"], line["user"]["name"], line["event"]["duration"]) == (
        False, "svc", 60 * 10**9)


def test_windows_file_problems_name_entry_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("windows:\n"
                   "  - {vendor: GE, start: yesterday, end: '2025-01-01T00:00:00Z', ticket: T1, colour: red}\n"
                   "  - {vendor: GE, device: CT-01, group: X, start: '2025-01-02', end: '2025-01-01', approver: A,"
                   " ticket: T}\n  - 7\n")
    with pytest.raises(ApprovalWindowsError) as e:
        load_windows(bad)
    text = str(e.value)
    for expected in ("entry 1: colour: unknown field", "entry 1: approver: required", "entry 1: device/group",
                     "entry 1: start: not an ISO date-time", "entry 2: device/group: give exactly one",
                     "entry 2: end: not after start", "entry 3: each window is a mapping"):
        assert expected in text
    (tmp_path / "empty.yaml").write_text("[]")
    with pytest.raises(ApprovalWindowsError, match="windows:"):
        load_windows(tmp_path / "empty.yaml")


# --- peers: vendor gateways, jump hosts, vendor accounts (issue 16, point 3) ---------------------

SITE = """asset_id,mac,ip,manufacturer,model,department,clinical_function,status,remote_access,role,usernames
GW-01,00-1B-1B-00-00-01,10.50.9.40,Siemens Healthineers,SRS router,IT,,active,Siemens Healthineers,vendor-gateway,
JUMP-01,00-50-56-00-00-02,10.50.9.20,Dell,PowerEdge R650,IT,jump host,active,,,
SRV-AD,00-50-56-00-00-03,10.50.8.1,Microsoft,Windows Server 2022,IT,domain controller,active,,,
CT-02,00-00-C5-00-00-04,10.50.3.41,GE HealthCare,Revolution CT,Radiology,imaging,active,GE HealthCare,,
MR-02,00-00-C5-00-00-05,10.50.3.42,Siemens Healthineers,MAGNETOM Vida,Radiology,imaging,active,Siemens Healthineers,,
PUMP-01,00-00-C5-00-00-06,10.50.1.21,BD,Alaris,ICU,infusion,active,,,
"""
GW, JUMP = ep("10.50.9.40", "00-1B-1B-00-00-01", 50000), ep("10.50.9.20", "00-50-56-00-00-02", 50000)
DEVICES = {"SRV-AD": ("10.50.8.1", "00-50-56-00-00-03"), "CT-02": ("10.50.3.41", "00-00-C5-00-00-04"),
           "MR-02": ("10.50.3.42", "00-00-C5-00-00-05"), "PUMP-01": ("10.50.1.21", "00-00-C5-00-00-06")}


def admin(source: Endpoint, device: str, start: float, protocol: Proto = Proto.RDP, user: str | None = None,
          started: bool = False) -> RemoteAccessSession:
    ip, mac = DEVICES[device]
    cls = RemoteAccessSessionStart if started else RemoteAccessSession
    return cls(ts=start, flow=flow(source, ep(ip, mac, 3389 if protocol is Proto.RDP else 22)), protocol=protocol,
               vendor="", product=protocol.value.upper(), direction="inbound", matched_by=protocol.value, user=user,
               start=start, end=start + (1 if started else 600))


def site_audit(tmp_path: Path, sessions: list[RemoteAccessSession], windows: str | None = None) -> AuditResult:
    (tmp_path / "site.csv").write_text(SITE)
    found = None
    if windows is not None:
        (tmp_path / "w.yaml").write_text(windows)
        found = load_windows(tmp_path / "w.yaml")
    return run_audit(sessions, load_inventory(tmp_path / "site.csv"), load_rules(), windows=found)


def test_a_gateways_sessions_are_its_vendors_and_unapproved_ones_are_called_out_by_name(tmp_path: Path) -> None:
    result = site_audit(tmp_path, [admin(GW, "MR-02", T0, user="srs-remote"), admin(GW, "CT-02", T0 + 10,
                                                                                   user="service")])
    assert [(e.sighting.asset.asset_id, e.vendor, e.approved) for e in result.ledger if e.sighting.asset] == [
        ("MR-02", "Siemens Healthineers", True), ("CT-02", "Siemens Healthineers", False)]
    [finding] = [f for f in result.findings if f.rule_id == "remote-access-unapproved"]
    assert finding.subject == "remote-access:asset:CT-02:siemens healthineers" and finding.severity.value == "high"
    assert finding.message.startswith(
        "GW-01 (Siemens Healthineers SRS router, IT) (Siemens Healthineers gateway) -> CT-02 (GE HealthCare "
        "Revolution CT, Radiology) over RDP as user 'service': 1 session(s)")
    assert "relayed by the Siemens Healthineers gateway; the inventory approves GE HealthCare for this device, " \
           "not Siemens Healthineers" in finding.message
    record = ledger_record(result.ledger[1])["trustwatch"]
    assert record["remote_access"]["vendor"] == "Siemens Healthineers" and record["relay"] == {
        "role": "vendor-gateway", "vendor": "Siemens Healthineers", "basis": "inventory"}
    assert record["remote"]["asset_id"] == "GW-01" and record["remote_access"]["internal"] is False


def test_another_vendors_account_raises_severity(tmp_path: Path) -> None:
    """GE's InSite account through the Siemens gateway onto the Siemens MR (approved vendor, wrong
    staff), and a Siemens account onto the GE CT: both critical."""
    result = site_audit(tmp_path, [admin(GW, "MR-02", T0, user="insite"),
                                   admin(GW, "CT-02", T0 + 9, user="SRS-remote")])
    findings = {f.subject: f for f in result.findings if f.rule_id == "remote-access-unapproved"}
    assert {s: f.severity.value for s, f in findings.items()} == {
        "remote-access:asset:MR-02:siemens healthineers": "critical",
        "remote-access:asset:CT-02:siemens healthineers": "critical"}
    assert "user 'insite' is a service account of GE HealthCare; the inventory approves Siemens Healthineers" \
           in findings["remote-access:asset:MR-02:siemens healthineers"].message
    assert [e.foreign_account for e in result.ledger] == ["GE HealthCare", "Siemens Healthineers"]


def test_administration_between_it_hosts_is_internal_a_clinical_target_is_not(tmp_path: Path) -> None:
    result = site_audit(tmp_path, [admin(JUMP, "SRV-AD", T0, user="it-admin"),
                                   admin(JUMP, "PUMP-01", T0 + 5, Proto.SSH, user="it-admin")])
    internal, pump = result.ledger
    assert (internal.approved, internal.internal, internal.reason) == (
        True, True, "internal administration from JUMP-01 (Dell PowerEdge R650, IT) (jump host), both IT hosts")
    assert (pump.approved, pump.internal) == (False, False)
    assert [f.subject for f in result.findings if f.rule_id == "remote-access-unapproved"] == [
        "remote-access:asset:PUMP-01:ssh"]


def test_a_window_for_the_gateways_vendor_covers_its_relayed_sessions(tmp_path: Path) -> None:
    window = """windows:
  - {vendor: Siemens Healthineers, device: MR-02, start: "2024-03-04T08:00:00Z", end: "2024-03-04T09:00:00Z",
     approver: R. Alvarez, ticket: CHG-7}
"""
    result = site_audit(tmp_path, [admin(GW, "MR-02", T0), admin(GW, "MR-02", T0 + 3600)], window)
    assert [(e.approved, e.reason) for e in result.ledger] == [
        (True, "window CHG-7 approved by R. Alvarez"),
        (False, "outside every approved window for Siemens Healthineers")]


def test_live_a_session_is_in_the_ledger_from_its_start_and_once_after_its_end(tmp_path: Path) -> None:
    start = admin(GW, "CT-02", T0, started=True)
    result = site_audit(tmp_path, [start])
    assert [(e.open, e.approved) for e in result.ledger] == [(True, False)]
    assert [f.rule_id for f in result.findings] == ["remote-access-unapproved"]
    end = RemoteAccessSession(**{f: getattr(start, f) for f in ("ts", "flow", "protocol", "vendor", "product",
                                                                 "direction", "matched_by", "start")}, end=T0 + 600)
    result = site_audit(tmp_path, [start, end])
    assert [(e.open, e.session.duration) for e in result.ledger] == [(False, 600.0)]
    assert [f.count for f in result.findings] == [1]
