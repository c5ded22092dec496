"""Who owns a credential (issue 16, point 1): the holder shares, the verifier never does.

SNMP on crafted observations as the sensor writes them (a request and the agent's Response each
carry the community; traps and informs come from the agent), with and without the outcome
records of a sensor that reports SNMP outcomes; passwords from one client to many servers and
from many clients to one server; HL7 acknowledgements; the README's table is the code's.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from tests.analytics.builders import HASHER, T0, credential, ep, fingerprint
from tests.conftest import ROOT
from trustwatch.analytics.correlate import correlate
from trustwatch.analytics.hostroles import DeclaredRole, HostRole
from trustwatch.analytics.inventory import Inventory, load_inventory
from trustwatch.analytics.ownership import OWNERSHIP, Party
from trustwatch.analytics.pipeline import AuditResult, load_rules, run_audit
from trustwatch.sensor.flowid import Direction, Endpoint, FlowId
from trustwatch.sensor.records import (
    AuthenticationOutcome,
    CredentialSeen,
    Observation,
    Outcome,
    Proto,
    SecretKind,
)

_uids = itertools.count(1)
NMS = ep("10.50.9.5", "00-50-56-50-09-05", 50161)
NMS2 = ep("10.50.9.6", "00-50-56-50-09-06", 50161)
INVENTORY = """asset_id,mac,ip,manufacturer,model,department,clinical_function,status
NMS-01,00-50-56-50-09-05,10.50.9.5,Paessler,PRTG,IT,network management,active
NMS-02,00-50-56-50-09-06,10.50.9.6,Paessler,PRTG,IT,network management,active
""" + "".join(f"AG-{n},00-1B-4F-50-00-{n:02X},10.50.1.{n},BD,Alaris,ICU,infusion,active\n" for n in range(1, 7))


def agent(n: int) -> Endpoint:
    return ep(f"10.50.1.{n}", f"00-1B-4F-50-00-{n:02X}", 161)


def snmp(ts: float, fid: FlowId, side: Direction, community: str, pdu: str, attempt: int | None = None,
         version: str = "v2c") -> CredentialSeen:
    return CredentialSeen(ts=ts, flow=fid, protocol=Proto.SNMP, presenter=side, username=None,
                          secret_kind=SecretKind.COMMUNITY, secret_fp=fingerprint(community, SecretKind.COMMUNITY),
                          secret_hint="community", mechanism=f"{version} {pdu}", attempt=attempt)


def poll(manager: Endpoint, to: Endpoint, community: str, *, answered: bool = True, outcomes: bool = False,
         refused: bool = False) -> list[Observation]:
    """A GetRequest and, when `answered`, the agent's Response; with `outcomes` the sensor's
    outcome record too (accepted, refused with authorizationError, or unknown)."""
    fid = FlowId(uid=f"S{next(_uids):05d}", transport="udp", orig=manager, resp=to)
    out: list[Observation] = [snmp(T0, fid, Direction.ORIG, community, "get-request", 1 if outcomes else None)]
    if answered:
        out.append(snmp(T0 + 0.01, fid, Direction.RESP, community, "response"))
    if outcomes:
        outcome = Outcome.FAILURE if refused else Outcome.SUCCESS if answered else Outcome.UNKNOWN
        out.append(AuthenticationOutcome(ts=T0 + 0.02, flow=fid, protocol=Proto.SNMP, attempt=1, outcome=outcome,
                                         reason_code="authorizationError" if refused else None))
    return out


def notify(sender: Endpoint, to: Endpoint, community: str, pdu: str = "snmpv2-trap",
           answered: bool = False) -> list[Observation]:
    fid = FlowId(uid=f"S{next(_uids):05d}", transport="udp", orig=sender, resp=ep(to.ip, to.mac, 162))
    out: list[Observation] = [snmp(T0, fid, Direction.ORIG, community, pdu)]
    if answered:
        out.append(snmp(T0 + 0.01, fid, Direction.RESP, community, "response"))
    return out


def audit(tmp_path: Path, observations: Sequence[Observation], roles: Sequence[DeclaredRole] = ()) -> AuditResult:
    path = tmp_path / "inventory.csv"
    path.write_text(INVENTORY)
    return run_audit(observations, load_inventory(path), load_rules(), secrets=HASHER, roles=roles)


def shared(result: AuditResult) -> list[list[str]]:
    return [sorted(d.asset_id or d.key for d in f.devices) for f in result.findings if f.rule_id == "shared-credential"]


def test_a_poller_and_the_one_agent_it_polls_share_nothing(tmp_path: Path) -> None:
    result = audit(tmp_path, [*poll(NMS, agent(1), "ro-agent-1"), *poll(NMS, agent(1), "ro-agent-1")])
    assert shared(result) == []
    # Both still send it in clear: the cleartext rule is about the wire, not the owner.
    assert {f.subject for f in result.findings if f.rule_id == "cleartext-credential"} == {
        "snmp:asset:NMS-01", "snmp:asset:AG-1"}


@pytest.mark.parametrize("outcomes", [False, True], ids=["answer-in-band", "sensor-outcomes"])
def test_two_agents_answering_one_community_share_it(tmp_path: Path, outcomes: bool) -> None:
    observations = [o for n in (1, 2, 3) for o in poll(NMS, agent(n), "fleet-ro", outcomes=outcomes)]
    result = audit(tmp_path, observations)
    assert shared(result) == [["AG-1", "AG-2", "AG-3"]]
    finding = next(f for f in result.findings if f.rule_id == "shared-credential")
    assert "is held by 3 devices" in finding.message and "checked by NMS-01" in finding.message


def test_one_poller_many_communities_many_agents_and_a_redundant_pair_are_verifiers(tmp_path: Path) -> None:
    """Per-device communities polled by two managers: every community has one holder."""
    observations = [o for n in range(1, 6) for manager in (NMS, NMS2) for o in poll(manager, agent(n), f"ro-{n}")]
    result = audit(tmp_path, observations)
    assert shared(result) == []
    assert result.sightings and {s.party for s in result.sightings if s.presentation.side is Direction.ORIG} == {
        Party.VERIFIER}


def test_unanswered_requests_make_no_holder(tmp_path: Path) -> None:
    """A community tried on agents that do not answer (or refuse): the agents do not hold it."""
    observations = [*poll(NMS, agent(1), "guess", answered=False), *poll(NMS, agent(2), "guess", answered=False),
                    *poll(NMS, agent(3), "guess", outcomes=True, refused=True)]
    assert shared(audit(tmp_path, observations)) == []


def test_a_refused_request_echoed_in_an_error_response_is_not_held(tmp_path: Path) -> None:
    """An agent refusing with authorizationError repeats the community it refuses: an echo."""
    refused = [*poll(NMS, agent(1), "fleet-ro", outcomes=True, refused=True),
               *poll(NMS, agent(2), "fleet-ro", outcomes=True, refused=True)]
    result = audit(tmp_path, refused)
    assert shared(result) == []
    echo = [s for s in result.sightings if s.presentation.side is Direction.RESP]
    assert echo and all(s.party is Party.VERIFIER and s.place.reply for s in echo)


def test_agents_trapping_with_one_community_share_it_and_an_inform_answer_is_the_managers(tmp_path: Path) -> None:
    observations = [*notify(agent(1), NMS, "trap-c"), *notify(agent(2), NMS, "trap-c"),
                    *notify(agent(3), NMS, "inform-c", "inform-request", answered=True)]
    result = audit(tmp_path, observations)
    assert shared(result) == [["AG-1", "AG-2"]]
    answer = next(s for s in result.sightings if s.presentation.obs.mechanism == "v2c response")  # type: ignore[attr-defined]
    assert answer.party is Party.VERIFIER and answer.place.reply
    inform = next(s for s in result.sightings if "inform" in s.presentation.obs.mechanism)  # type: ignore[attr-defined]
    assert inform.party is Party.HOLDER and inform.outcome is Outcome.SUCCESS


def test_a_poller_is_never_a_sharer_even_forwarding_traps(tmp_path: Path) -> None:
    """The NMS forwards its agents' traps northbound with their community: a declared (or
    recognised) poller is never counted as holding an SNMP community."""
    observations = [*notify(agent(1), NMS, "fleet-ro"), *notify(NMS, ep("10.50.9.99", None, 162), "fleet-ro")]
    assert shared(audit(tmp_path, observations)) == [["AG-1", "NMS-01"]]
    assert shared(audit(tmp_path, observations, [DeclaredRole("NMS-01", HostRole.POLLER)])) == []
    polled = [o for n in (2, 3, 4) for o in poll(NMS, agent(n), f"ro-{n}")]
    result = audit(tmp_path, [*polled, *observations])  # recognised by its fan-out
    assert shared(result) == []
    assert result.sightings and any(
        f.rule_id == "cleartext-credential" and f.subject == "snmp:asset:NMS-01" for f in result.findings)


def test_v3_user_names_are_the_askers_and_the_answer_repeats_them(tmp_path: Path) -> None:
    fid = FlowId(uid="S-v3", transport="udp", orig=NMS, resp=agent(1))
    observations = [CredentialSeen(ts=T0, flow=fid, protocol=Proto.SNMP, presenter=side, username="nms-v3",
                                   secret_kind=SecretKind.NONE, secret_fp=None, secret_hint=None, mechanism="v3 usm")
                    for side in (Direction.ORIG, Direction.RESP)]
    (tmp_path / "i.csv").write_text(INVENTORY)
    sightings = correlate(observations, load_inventory(tmp_path / "i.csv"))
    parties = [(s.device_key, s.party, s.place.reply) for s in sightings]
    assert parties == [("asset:NMS-01", Party.HOLDER, False), ("asset:AG-1", Party.VERIFIER, True)]


def test_one_client_to_many_servers_is_one_holder_many_clients_to_one_server_share(tmp_path: Path) -> None:
    jump = ep("10.50.9.20", "00-50-56-50-09-20", 40000)
    servers = [ep(f"10.50.8.{n}", f"00-50-56-50-08-{n:02X}", 21) for n in range(1, 6)]
    one_client = [credential(T0 + n, jump, server, "admin", "Jump-Box-2024") for n, server in enumerate(servers)]
    assert shared(audit(tmp_path, one_client)) == []
    many_clients = [credential(T0 + n, agent(n), servers[0], "export", "Ward-Export-1") for n in (1, 2)]
    assert shared(audit(tmp_path, many_clients)) == [["AG-1", "AG-2"]]


def test_an_hl7_acknowledgement_repeating_the_security_value_is_the_receivers_check() -> None:
    lab, lis = ep("10.50.2.1", "00-60-35-77-00-01", 40000), ep("10.50.2.9", "00-60-35-77-00-09", 2575)
    message = credential(T0, lab, lis, "COBAS", "Link-2020", SecretKind.PASSCODE, "hl7", mechanism="msh-8")
    ack = replace(credential(T0 + 0.1, lab, lis, "LIS", "Link-2020", SecretKind.PASSCODE, "hl7", Direction.RESP,
                             "msh-8"), flow=message.flow)
    sightings = [s for s in correlate([message, ack], Inventory()) if s.presentation.identity.kind.value == "secret"]
    assert [(s.ip, s.party) for s in sightings] == [("10.50.2.1", Party.HOLDER), ("10.50.2.9", Party.VERIFIER)]


def test_the_readme_shows_the_codes_table() -> None:
    readme = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| (.+?) \| (.+?) \| (.+?) \| (.+?) \| (.+?) \|$",
                      readme.split("### Who owns a credential", 1)[1].split("\n#", 1)[0], flags=re.M)
    assert rows[1:] == [(o.protocols, o.credential, o.holder, o.verifier, o.why) for o in OWNERSHIP]
