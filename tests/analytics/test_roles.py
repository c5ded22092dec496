"""Who is who on the site (issue 16, points 1 and 3): pollers, jump hosts and vendor gateways
declared in the inventory or the site file, or recognised from the traffic with the thresholds of
rules/roles.yaml; vendor accounts; IT hosts and clinical devices."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.analytics.builders import T0, ep, flow
from tests.analytics.test_ownership import NMS, agent, poll
from trustwatch.analytics.correlate import correlate
from trustwatch.analytics.criticality import Criticality
from trustwatch.analytics.hostroles import DeclaredRole, HostRole, parse_host_role
from trustwatch.analytics.inventory import check_inventory, load_inventory
from trustwatch.analytics.pipeline import load_rules
from trustwatch.analytics.roles import SiteRoles, VendorAccount
from trustwatch.analytics.rules import RuleError
from trustwatch.analytics.scope import SiteError, load_site_file
from trustwatch.sensor.records import Observation, Proto, RemoteAccessSession
from trustwatch.sensor.yamlfile import RULES_DIR

INVENTORY = """asset_id,mac,ip,manufacturer,model,department,clinical_function,status,usernames,role
GW-01,00-1B-1B-00-00-01,10.50.9.40,Siemens Healthineers,SRS router,IT,,active,srs-remote,vendor gateway
JUMP-01,00-50-56-00-00-02,10.50.9.20,Dell,PowerEdge,IT,jump host,active,,
NMS-01,00-50-56-50-09-05,10.50.9.5,Paessler,PRTG,IT,network management,active,,
SRV-AD,00-50-56-00-00-03,10.50.8.1,Microsoft,Windows Server,IT,domain controller,active,,
""" + "".join(f"AG-{n},00-1B-4F-50-00-{n:02X},10.50.1.{n},BD,Alaris,ICU,infusion,active,,\n" for n in range(1, 7))


def inventory_file(tmp_path: Path, text: str = INVENTORY) -> Path:
    path = tmp_path / "inventory.csv"
    path.write_text(text)
    return path


def ssh_from(client: str, mac: str, n: int) -> RemoteAccessSession:
    device = ep(f"10.50.1.{n}", f"00-1B-4F-50-00-{n:02X}", 22)
    return RemoteAccessSession(ts=T0 + n, flow=flow(ep(client, mac, 50000 + n), device), protocol=Proto.SSH, vendor="",
                               product="SSH", direction="inbound", matched_by="ssh", start=T0 + n, end=T0 + n + 60)


def roles_of(tmp_path: Path, observations: list[Observation], declared: tuple[DeclaredRole, ...] = (),
             rules_dir: Path = RULES_DIR) -> SiteRoles:
    inv = load_inventory(inventory_file(tmp_path))
    rules = load_rules(rules_dir)
    return SiteRoles.recognise(correlate(observations, inv), inv, declared, rules.roles, rules.vendor_accounts,
                               {"SRV-AD": Criticality.LOW, "JUMP-01": Criticality.LOW,
                                "AG-1": Criticality.LIFE_CRITICAL})


@pytest.mark.parametrize(("text", "role"), [("Jump-Host", HostRole.JUMP_HOST), ("SNMP manager", HostRole.POLLER),
                                            ("vendor_gateway", HostRole.VENDOR_GATEWAY), ("printer", None)])
def test_role_words(text: str, role: HostRole | None) -> None:
    assert parse_host_role(text) is role


def test_the_inventory_declares_roles_by_column_or_function(tmp_path: Path) -> None:
    inv = load_inventory(inventory_file(tmp_path))
    assert [(a.asset_id, a.role) for a in inv.assets[:4]] == [
        ("GW-01", HostRole.VENDOR_GATEWAY), ("JUMP-01", HostRole.JUMP_HOST), ("NMS-01", None), ("SRV-AD", None)]
    bad = inventory_file(tmp_path, INVENTORY.replace("active,,\n", "active,,dispatcher\n", 1))
    assert [str(p) for p in check_inventory(bad)] == [
        f"{bad}:3:role: unknown role 'dispatcher' (expected poller, jump-host, vendor-gateway)"]


def test_declared_roles_and_their_vendor(tmp_path: Path) -> None:
    roles = roles_of(tmp_path, [], (DeclaredRole("10.50.9.5", HostRole.POLLER),
                                    DeclaredRole("00:1b:4f:50:00:06", HostRole.VENDOR_GATEWAY, "Philips")))
    assert roles.of("asset:GW-01") is not None and roles.of("asset:GW-01").describe() == "Siemens Healthineers gateway"  # type: ignore[union-attr]
    assert (roles.of("asset:NMS-01").role, roles.of("asset:NMS-01").basis) == (HostRole.POLLER, "site file")  # type: ignore[union-attr]
    assert roles.of("asset:AG-6").vendor == "Philips"  # type: ignore[union-attr]
    assert roles.account_vendor("SRS-Remote") == "Siemens Healthineers"  # the gateway's inventory user name
    assert roles.account_vendor("insite") == "GE HealthCare" and roles.account_vendor("jdoe") is None


def test_pollers_and_relays_are_recognised_by_fan_out(tmp_path: Path) -> None:
    polls = [o for n in (1, 2, 3) for o in poll(NMS, agent(n), f"ro-{n}")]
    jump = [ssh_from("10.50.9.20", "00-50-56-00-00-02", n) for n in (1, 2, 3)]
    gateway = [ssh_from("10.50.8.1", "00-50-56-00-00-03", n) for n in (4, 5, 6)]
    gateway.append(RemoteAccessSession(
        ts=T0, flow=flow(ep("10.50.8.1", "00-50-56-00-00-03", 40000), ep("192.0.2.9", None, 443)), protocol=Proto.TLS,
        vendor="Philips", product="Philips Remote Services", direction="outbound", matched_by="sni", start=T0,
        end=T0 + 900))
    roles = roles_of(tmp_path, [*polls, *jump, *gateway])
    assert {k: (r.role, r.vendor, r.basis) for k, r in roles.by_key.items() if k != "asset:GW-01"} == {
        "asset:NMS-01": (HostRole.POLLER, "", "SNMP requests to 3 agents"),
        "asset:JUMP-01": (HostRole.JUMP_HOST, "", "inventory"),
        "asset:SRV-AD": (HostRole.VENDOR_GATEWAY, "Philips",
                         "admin sessions to 3 devices, and its own session to Philips")}


def test_thresholds_come_from_the_rules(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules, ignore=shutil.ignore_patterns("__*"))
    polls = [o for n in (1, 2) for o in poll(NMS, agent(n), f"ro-{n}")]
    assert roles_of(tmp_path, polls).of("asset:NMS-01") is None
    (rules / "roles.yaml").write_text((rules / "roles.yaml").read_text().replace("poller_min_agents: 3",
                                                                                  "poller_min_agents: 2"))
    assert roles_of(tmp_path, polls, rules_dir=rules).of("asset:NMS-01") is not None
    (rules / "roles.yaml").write_text((rules / "roles.yaml").read_text().replace("poller_min_agents: 2",
                                                                                  "poller_min_agents: 1"))
    with pytest.raises(RuleError, match="must be at least 2"):
        load_rules(rules)
    (rules / "roles.yaml").write_text("vendor_accounts:\n  - {vendor: X, accounts: [], source: y}\n")
    with pytest.raises(RuleError, match="accounts: expected a list"):
        load_rules(rules)


def test_it_hosts_are_low_criticality_or_pollers_and_jump_hosts(tmp_path: Path) -> None:
    inv = load_inventory(inventory_file(tmp_path))
    sightings = correlate([ssh_from("10.50.9.20", "00-50-56-00-00-02", 1)], inv)
    roles = roles_of(tmp_path, [])
    assert roles.it_host(sightings[0].peer)  # JUMP-01
    assert not roles.it_host(sightings[0])  # AG-1: life-critical
    unknown = correlate([ssh_from("10.50.7.7", "02-00-00-00-07-07", 2)], inv)[0].peer
    assert not roles.it_host(unknown)
    assert VendorAccount("X", ("a*",), "s") in SiteRoles({}, (VendorAccount("X", ("a*",), "s"),)).accounts


def test_site_file_roles(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text("roles:\n  - {host: NMS-01, role: poller}\n  - {host: 10.50.9.40, role: Vendor Gateway, "
                    "vendor: Siemens Healthineers}\n")
    loaded = load_site_file(site)
    assert loaded.scope is None and loaded.roles == (
        DeclaredRole("NMS-01", HostRole.POLLER), DeclaredRole("10.50.9.40", HostRole.VENDOR_GATEWAY,
                                                              "Siemens Healthineers"))
    for text, message in [("roles: {NMS-01: poller}\n", "roles: expected a list"),
                          ("roles:\n  - {host: NMS-01, role: butler}\n", "roles: entry 1: role: expected poller"),
                          ("roles:\n  - {role: poller}\n", "roles: entry 1: host: required"),
                          ("roles:\n  - {host: a, role: poller, owner: b}\n", "unknown key 'owner'")]:
        site.write_text(text)
        with pytest.raises(SiteError, match=message):
            load_site_file(site)
