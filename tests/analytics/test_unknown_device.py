"""Unknown means unknown *here* (issue 16, point 4): only devices on the site networks, for
any identity they present, described by what the network says about them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.analytics.builders import HASHER, T0, cert, client_cert, credential, ep, evidence, flow, server_cert
from trustwatch.analytics.inventory import load_inventory
from trustwatch.analytics.pipeline import AuditResult, load_rules, run_audit
from trustwatch.analytics.profiles import NetworkFacts, locally_administered, registered_manufacturer
from trustwatch.analytics.scope import SiteScope
from trustwatch.sensor.flowid import Endpoint
from trustwatch.sensor.records import DhcpLease, DicomAssociation, Observation, Proto, RemoteAccessSession

PACS = ep("10.20.0.200", "00-1B-4F-00-00-C8", 104)
ROUTER = "00-00-5E-00-01-14"
PI = "B8-27-EB-5A-11-02"
"""A Raspberry Pi Foundation OUI."""
INVENTORY = ("asset_id,mac,ip,status,clinical_function\n"
             "PACS-01,00:1b:4f:00:00:c8,10.20.0.200,active,image archive\n")


def dhcp(ts: float, mac: str, kind: str, ip: str | None = None, **options: Any) -> DhcpLease:
    """A DHCP message of the client `mac` (discover/request carry its options, the ack its lease)."""
    return DhcpLease(ts=ts, flow=flow(ep("0.0.0.0", mac, 68), ep("255.255.255.255", None, 67)),
                     protocol=Proto.DHCP, evidence=evidence(), message_type=kind, client_mac=mac, ip=ip,
                     **options)


def remote(ts: float, device: Endpoint, far: Endpoint, vendor: str, product: str) -> RemoteAccessSession:
    """A device calling out to a remote-access tool's cloud."""
    return RemoteAccessSession(ts=ts, flow=flow(device, far), protocol=Proto.REMOTE, evidence=evidence(),
                               vendor=vendor, product=product, direction="outbound", matched_by="test",
                               start=ts, end=ts + 60)


def dicom_request(ts: float, client: Endpoint, calling: str) -> DicomAssociation:
    return DicomAssociation(ts=ts, flow=flow(client, PACS), protocol=Proto.DICOM, evidence=evidence(),
                            pdu="request", calling_ae=calling, called_ae="PACS_STORE",
                            implementation_class_uid="1.2.3", implementation_version="X")


def audit(tmp_path: Path, observations: list[Observation], site: SiteScope | None = None) -> AuditResult:
    inv = tmp_path / "inv.csv"
    inv.write_text(INVENTORY)
    return run_audit(observations, load_inventory(inv), load_rules(), secrets=HASHER, site=site)


def unknown(result: AuditResult) -> dict[str, str]:
    return {f.subject: f.message for f in result.findings if f.rule_id == "unknown-device"}


def test_every_identity_kind_of_an_unknown_device_on_the_site(tmp_path: Path) -> None:
    cloud = ep("52.10.1.7", ROUTER, 443)
    observations: list[Observation] = [
        server_cert(T0, ep("10.20.0.200", "00-1B-4F-00-00-C8"), ep("10.20.0.31", "3C-EC-EF-00-00-31", 8443),
                    cert("nas.ward3")),                                                     # a server certificate
        credential(T0 + 1, ep("10.20.0.32", "3C-EC-EF-00-00-32"), PACS, "admin", "hunter2"),  # a credential
        remote(T0 + 2, ep("10.20.0.33", "3C-EC-EF-00-00-33"), cloud, "TeamViewer", "TeamViewer"),  # a session
        dicom_request(T0 + 3, ep("10.20.0.34", "3C-EC-EF-00-00-34"), "ECHO_CART"),           # an AE title
        client_cert(T0 + 4, ep("10.20.0.35", "3C-EC-EF-00-00-35"), PACS, cert("cart-35")),    # a certificate
    ]
    found = unknown(audit(tmp_path, observations))
    assert sorted(found) == [f"device:mac:3C-EC-EF-00-00-3{n}" for n in range(1, 6)]
    assert "server certificate CN=nas.ward3" in found["device:mac:3C-EC-EF-00-00-31"]
    assert "remote access by TeamViewer TeamViewer" in found["device:mac:3C-EC-EF-00-00-33"]
    assert "AE title 'ECHO_CART'" in found["device:mac:3C-EC-EF-00-00-34"]


def test_far_ends_are_never_unknown(tmp_path: Path) -> None:
    """Internet servers and vendor clouds present server certificates to the site: far ends."""
    observations: list[Observation] = [
        server_cert(T0 + n, ep("10.20.0.200", "00-1B-4F-00-00-C8"), ep(ip, ROUTER, 443), cert(f"cloud-{n}"))
        for n, ip in enumerate(("52.10.1.7", "192.0.2.80", "198.51.100.23"))
    ]
    result = audit(tmp_path, observations)
    assert unknown(result) == {}
    assert (result.devices_unknown, result.far_ends) == (0, 3)
    # A site that names its networks decides: here it claims the documentation block too.
    site = SiteScope.parse(["10.20.0.0/16", "192.0.2.0/24"], "--site-networks")
    assert sorted(unknown(audit(tmp_path, observations, site))) == ["device:ip:192.0.2.80"]


def test_an_unknown_device_is_described_by_the_network(tmp_path: Path) -> None:
    device = ep("10.20.0.99", PI, 50000)
    observations: list[Observation] = [
        dhcp(T0, PI, "discover", hostname="raspberrypi", vendor_class="dhcpcd-9.4.1:Linux-6.1.21-v8+:aarch64",
             parameter_list=(1, 121, 33, 3, 6, 12, 15, 28, 42, 51, 54, 58, 59, 119)),
        dhcp(T0 + 1, PI, "ack", "10.20.0.99", lease_seconds=86400),
        client_cert(T0 + 600, device, PACS, cert("raspberrypi")),
        credential(T0 + 900, device, PACS, "pi", "raspberry"),
    ]
    result = audit(tmp_path, observations)
    f = next(f for f in result.findings if f.rule_id == "unknown-device")
    profile = f.devices[0].profile
    assert profile is not None
    assert (profile.hostname, profile.vendor_class, profile.manufacturer) == (
        "raspberrypi", "dhcpcd-9.4.1:Linux-6.1.21-v8+:aarch64", "Raspberry Pi Foundation")
    assert profile.parameter_list[:3] == (1, 121, 33)
    assert (profile.first_seen, profile.last_seen) == (T0, T0 + 900)  # its first DHCP message to its last login
    assert ("The network says: DHCP host name 'raspberrypi', vendor class 'dhcpcd-9.4.1:Linux-6.1.21-v8+:aarch64', "
            "parameter list 1,121,33,3,6,12,15,28,42,51,54,58,59,119; MAC registered to Raspberry Pi Foundation; "
            "seen 2024-03-04 08:00 UTC to 2024-03-04 08:15 UTC.") in f.message


def test_oui_registry_and_locally_administered_macs() -> None:
    assert registered_manufacturer("B8-27-EB-5A-11-02") == "Raspberry Pi Foundation"
    assert registered_manufacturer("00-09-FB-00-20-01") == "Philips Patient Monitoring"
    assert registered_manufacturer("02-AA-BB-CC-DD-EE") is None
    assert locally_administered("02-AA-BB-CC-DD-EE") and locally_administered("DA-A1-19-00-00-01")
    assert not locally_administered(PI)
    facts = NetworkFacts()
    said = facts.profile("02-AA-BB-CC-DD-EE", ["10.20.0.5"], [T0]).describe()
    assert said == "locally administered MAC (randomised or virtual); seen 2024-03-04 08:00 UTC to 2024-03-04 08:00 UTC"


def test_router_macs_say_nothing_of_the_device_behind_them() -> None:
    """A routed device is timed by its address, not by the router's MAC that every routed packet carries."""
    routed = ep("10.60.1.9", ROUTER, 50000)
    observations = [client_cert(T0 + n * 60, ep(f"10.6{n}.1.9", ROUTER), PACS, cert("x")) for n in range(3)]
    facts = NetworkFacts([*observations, client_cert(T0 + 999, routed, PACS, cert("y"))], [ROUTER])
    profile = facts.profile(None, ["10.60.1.9"])
    assert (profile.first_seen, profile.last_seen, profile.manufacturer) == (T0, T0 + 999, None)


@pytest.mark.parametrize("ip", ["10.20.0.40", "fe80::1c2:3ff:fe44:5566"])
def test_link_local_and_private_addresses_are_on_the_default_site(tmp_path: Path, ip: str) -> None:
    observations: list[Observation] = [client_cert(T0, ep(ip, "3C-EC-EF-00-00-40"), PACS, cert("stray"))]
    assert list(unknown(audit(tmp_path, observations))) == ["device:mac:3C-EC-EF-00-00-40"]


def test_a_finding_about_a_skipped_rows_address_says_the_row_was_unusable(tmp_path: Path) -> None:
    inv = tmp_path / "inv.csv"
    inv.write_text(INVENTORY + "INF-9,00:1b:4f:00:00:09,,,infusion\n")  # no status: skipped
    observations = [client_cert(T0, ep("10.20.0.59", "00-1B-4F-00-00-09"), PACS, cert("inf-009"))]
    result = run_audit(observations, load_inventory(inv), load_rules(), secrets=HASHER)
    (f,) = [f for f in result.findings if f.rule_id == "unknown-device"]
    assert f.message.endswith(f"Note: inventory row {inv}:3 (INF-9) lists this address but was unusable "
                              "(status: missing status).")
    assert [r.source for r in result.inventory_skipped] == [f"{inv}:3"]
