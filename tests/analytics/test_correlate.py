"""Identity resolution: MAC, DHCP lease, static IP, presented identity; the router guard."""

from __future__ import annotations

from pathlib import Path

from tests.analytics import scenario
from tests.analytics.builders import T0, cert, client_cert, ep, flow
from trustwatch.analytics.correlate import CorrelationSettings, Method, correlate, router_macs
from trustwatch.analytics.inventory import Inventory, load_inventory
from trustwatch.sensor.flowid import Direction, Endpoint, FlowId
from trustwatch.sensor.records import (
    AuthenticationOutcome,
    CredentialSeen,
    DhcpLease,
    Observation,
    Outcome,
    Proto,
    SecretKind,
)

PACS = ep("10.20.0.200", "00-1B-4F-00-00-C8", 443)
ROUTER = scenario.ROUTER


def inv(tmp_path: Path) -> Inventory:
    return load_inventory(scenario.write_inventory(tmp_path))


def resolve(tmp_path: Path, *observations: Observation) -> list[tuple[str, Method, str]]:
    return [(s.device_key, s.method, s.match_value) for s in correlate(list(observations), inv(tmp_path))]


def test_own_mac_first(tmp_path: Path) -> None:
    mac = scenario.mac(1)
    assert resolve(tmp_path, client_cert(T0, ep("10.20.0.51", mac), PACS, cert("x"))) == [
        ("asset:INF-001", Method.MAC, mac)]


def test_static_ip(tmp_path: Path) -> None:
    """MON-010's IP with no MAC (a link type without MACs)."""
    assert resolve(tmp_path, client_cert(T0, ep("10.20.0.10"), PACS, cert("x"))) == [
        ("asset:MON-010", Method.IP, "10.20.0.10")]


def test_static_ip_refused_when_the_mac_is_other_hardware(tmp_path: Path) -> None:
    stranger = "02-00-00-00-00-01"
    assert resolve(tmp_path, client_cert(T0, ep("10.20.0.10", stranger), PACS, cert("x"))) == [
        (f"mac:{stranger}", Method.NONE, "")]


def test_presented_certificate_last(tmp_path: Path) -> None:
    """Routed, not at its static IP, no MAC: INF-008 is recognised by its own certificate."""
    leaf = scenario.C["INF-008"]
    assert resolve(tmp_path, client_cert(T0, ep("10.30.0.99"), PACS, leaf)) == [
        ("asset:INF-008", Method.CERTIFICATE, leaf.sha256)]


def test_presented_certificate_not_trusted_against_own_mac(tmp_path: Path) -> None:
    leaf = scenario.C["INF-009"]
    stranger = "02-00-00-00-00-09"
    assert resolve(tmp_path, client_cert(T0, ep("10.20.0.99", stranger), PACS, leaf)) == [
        (f"mac:{stranger}", Method.NONE, "")]


def ack(ts: float, ip: str, mac: str, seconds: int | None = 3600, kind: str = "ack") -> DhcpLease:
    return DhcpLease(ts=ts, flow=flow(ep("10.10.0.2", port=67), ep("10.30.0.1", port=67)), protocol=Proto.DHCP,
                     message_type=kind, client_mac=mac, ip=ip, lease_seconds=seconds)


PUMP_MAC = "00-1B-4F-00-00-01"
OTHER = "02-00-00-00-00-42"


def test_dhcp_lease_resolves_a_routed_endpoint_only_while_it_runs(tmp_path: Path) -> None:
    seen = [client_cert(T0 + dt, ep("10.30.0.77"), PACS, cert("x")) for dt in (-60, 60, 3700)]
    assert resolve(tmp_path, ack(T0, "10.30.0.77", PUMP_MAC), *seen) == [
        ("ip:10.30.0.77", Method.NONE, ""),  # before the lease
        ("asset:INF-001", Method.DHCP, f"10.30.0.77 leased to {PUMP_MAC}"),
        ("ip:10.30.0.77", Method.NONE, "")]  # the lease ran out after an hour


def test_a_move_stays_one_device_and_a_reused_address_does_not_merge(tmp_path: Path) -> None:
    got = resolve(
        tmp_path,
        ack(T0, "10.30.0.77", OTHER), client_cert(T0 + 10, ep("10.30.0.77"), PACS, cert("x")),
        ack(T0 + 100, "10.30.0.78", OTHER), client_cert(T0 + 110, ep("10.30.0.78"), PACS, cert("x")),
        ack(T0 + 200, "10.30.0.77", PUMP_MAC), client_cert(T0 + 210, ep("10.30.0.77"), PACS, cert("y")),
    )
    assert [key for key, _m, _v in got] == [f"mac:{OTHER}", f"mac:{OTHER}", "asset:INF-001"]


def test_release_ends_the_lease_and_own_mac_wins(tmp_path: Path) -> None:
    got = resolve(tmp_path, ack(T0, "10.30.0.77", PUMP_MAC), ack(T0 + 50, "10.30.0.77", PUMP_MAC, None, "release"),
                  client_cert(T0 + 60, ep("10.30.0.77"), PACS, cert("x")),
                  client_cert(T0 + 10, ep("10.30.0.77", OTHER), PACS, cert("x")))
    assert got == [("ip:10.30.0.77", Method.NONE, ""), (f"mac:{OTHER}", Method.NONE, "")]


def test_router_mac_detected() -> None:
    routers = router_macs(scenario.observations(), CorrelationSettings())
    assert routers == {ROUTER}


def test_dhcp_move_is_not_a_router() -> None:
    obs = [client_cert(T0 + i, ep(f"10.20.0.{50 + i}", scenario.mac(1)), PACS, cert("x")) for i in range(5)]
    assert router_macs(obs, CorrelationSettings()) == set()


def test_router_guard_keeps_devices_apart(tmp_path: Path) -> None:
    """With the guard the two routed gateways are two devices; without it they would both be
    the router RTR-1 (its MAC is in the inventory) and INF-008 would be RTR-1 too."""
    obs = scenario.observations()
    guarded = {s.ip: s.device_key for s in correlate(obs, inv(tmp_path)) if s.ip.startswith("10.")}
    assert guarded["10.40.0.5"] == "ip:10.40.0.5" and guarded["10.40.0.6"] == "ip:10.40.0.6"
    assert guarded["10.30.0.8"] == "asset:INF-008"
    off = CorrelationSettings(router_min_ips=1000)
    unguarded = {s.ip: s.device_key for s in correlate(obs, inv(tmp_path), off)}
    assert unguarded["10.40.0.5"] == unguarded["10.40.0.6"] == unguarded["10.30.0.8"] == "asset:RTR-1"


def test_ambiguous_certificate_stays_unknown(tmp_path: Path) -> None:
    sha = cert("fleet").sha256
    path = tmp_path / "two.csv"
    path.write_text(f"asset_id,ip,status,cert_sha256\nA,10.0.0.1,active,{sha}\nB,10.0.0.2,active,{sha}\n")
    sightings = correlate([client_cert(T0, ep("10.9.9.9"), PACS, cert("fleet"))], load_inventory(path))
    assert [(s.device_key, s.method) for s in sightings] == [("ip:10.9.9.9", Method.NONE)]


def test_each_sighting_carries_the_answer_to_its_attempt() -> None:
    """A credential refused then one accepted on the same connection: each sighting has its
    own answer; a presentation that asks for none (no attempt) has no outcome."""
    flow = FlowId(uid="Cx", transport="tcp", orig=Endpoint("10.20.1.21", 40000, "00-1B-4F-00-10-01"),
                  resp=Endpoint("10.10.7.5", 21, None))

    def cred(attempt: int | None, fp: str) -> CredentialSeen:
        return CredentialSeen(ts=1.0, flow=flow, protocol=Proto.FTP, presenter=Direction.ORIG, username="biomed",
                              secret_kind=SecretKind.PASSWORD, secret_fp=fp, secret_hint="password, 8 bytes",
                              mechanism="USER/PASS", attempt=attempt)

    observations = [
        cred(1, "a" * 64), AuthenticationOutcome(ts=1.1, flow=flow, protocol=Proto.FTP, attempt=1,
                                                 outcome=Outcome.FAILURE, reason_code="530"),
        cred(2, "b" * 64), AuthenticationOutcome(ts=1.2, flow=flow, protocol=Proto.FTP, attempt=2,
                                                 outcome=Outcome.SUCCESS, reason_code="230"),
        cred(3, "c" * 64), cred(None, "d" * 64),
    ]
    got = [(s.presentation.identity.value, s.outcome) for s in correlate(observations, Inventory([]))
           if s.presentation.identity.kind.value == "secret"]
    assert got == [("a" * 64, Outcome.FAILURE), ("b" * 64, Outcome.SUCCESS), ("c" * 64, Outcome.UNKNOWN),
                   ("d" * 64, None)]
