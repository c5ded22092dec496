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
from trustwatch.analytics.pipeline import load_rules
from trustwatch.analytics.remote_access import ApprovalWindowsError, ledger, ledger_record, load_windows
from trustwatch.sensor.records import Proto, RemoteAccessSession

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
