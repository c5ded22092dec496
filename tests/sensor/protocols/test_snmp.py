"""SNMP: communities fingerprinted for every sender (manager, answering agent, trapping agent),
v3 user names, each credential's first request answered by the Response or Report of the same
request-id/msgID on its flow (or unknown: no response); checked against the truth files,
tshark's `snmp.community` and `snmp.data`/`snmp.request_id`/`snmp.error_status`, and fuzzing."""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import needs_real_pcaps
from tests.sensor.protocols.streams import observations, paired
from trustwatch.sensor.flowid import Direction, Endpoint, FlowId
from trustwatch.sensor.protocols.base import ParseError
from trustwatch.sensor.protocols.snmp import SnmpExtractor
from trustwatch.sensor.records import AuthenticationOutcome, CredentialSeen, Observation, SecretKind
from trustwatch.sensor.secrets import SecretHasher
from trustwatch.sensor.sense import Sensor

KEY = SecretHasher(b"snmp-test-site-key")
FLOW = FlowId(uid="Csnmp", transport="udp", orig=Endpoint("10.10.9.5", 40000, None),
              resp=Endpoint("10.20.2.31", 161, None))


def ber(tag: int, value: bytes) -> bytes:
    return bytes([tag, len(value)]) + value


def message(version: int, community: bytes, pdu: int) -> bytes:
    varbind = ber(0x30, ber(0x30, ber(0x06, b"\x2b\x06\x01\x02\x01\x01\x05\x00") + b"\x05\x00"))
    body = ber(0x02, bytes([version])) + ber(0x04, community) + ber(pdu, ber(0x02, b"\x07") + b"\x02\x01\x00" * 2
                                                                      + varbind)
    return ber(0x30, body)


def test_every_sender_presents_the_community_once() -> None:
    ext = SnmpExtractor(KEY)
    out = []
    for direction, pdu in [(Direction.ORIG, 0xA0), (Direction.RESP, 0xA2), (Direction.ORIG, 0xA0)]:
        found, _used = ext.parse(FLOW, direction, 1.0, message(1, b"h0spital-ro", pdu))
        out += [o for o in found if isinstance(o, CredentialSeen)]
    assert [(c.presenter, c.mechanism) for c in out] == [(Direction.ORIG, "v2c get-request"),
                                                           (Direction.RESP, "v2c response")]
    cred = out[0]
    assert isinstance(cred, CredentialSeen) and cred.secret_kind == SecretKind.COMMUNITY
    assert cred.secret_fp == KEY.fingerprint(SecretKind.COMMUNITY, "h0spital-ro").value
    assert "h0spital" not in repr(out)


def test_probe() -> None:
    assert SnmpExtractor.probe(message(0, b"public", 0xA4))
    assert not SnmpExtractor.probe(b"\x30\x03\x02\x01\x02") and not SnmpExtractor.probe(b"\x16\x03\x01\x00")


def test_truncation_at_every_byte_raises_only_parse_errors() -> None:
    data = message(0, b"public", 0xA0)
    for cut in range(len(data)):
        with pytest.raises(ParseError):
            SnmpExtractor(KEY).parse(FLOW, Direction.ORIG, 1.0, data[:cut])


@given(st.binary(max_size=200))
def test_garbage_raises_nothing_but_parse_errors(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        SnmpExtractor(KEY).parse(FLOW, Direction.ORIG, 1.0, b"\x30" + bytes([len(data) & 0x7F]) + data)


def truth(real: Path) -> dict[str, set[str]]:
    """Communities (as fingerprints) and v3 users the truth files list, per capture."""
    out: dict[str, set[str]] = {}
    for prefix, name in (("", "expected.json"), ("lab/", "lab/expected.json")):
        for capture, facts in json.loads((real / name).read_text()).items():
            for c in facts.get("credentials", []) if isinstance(facts, dict) else []:
                if c.get("proto") == "snmp":
                    value = (KEY.fingerprint(SecretKind.COMMUNITY, c["community"]).value if c.get("community")
                             else c.get("user"))
                    if value:
                        out.setdefault(prefix + capture, set()).add(value)
    return out


def sensed(path: Path) -> list[CredentialSeen]:
    return [o for o in Sensor(secrets=KEY).read(str(path)) if isinstance(o, CredentialSeen)]


@needs_real_pcaps
def test_every_community_and_user_of_the_real_captures(real_pcaps: Path) -> None:
    expected = truth(real_pcaps)
    assert len(expected) >= 8
    for name, values in expected.items():
        got = {c.secret_fp or c.username for c in sensed(real_pcaps / name)}
        assert values <= got, name


@needs_real_pcaps
def test_same_communities_as_tshark(real_pcaps: Path) -> None:
    for name in truth(real_pcaps):
        out = subprocess.run(["tshark", "-n", "-r", str(real_pcaps / name), "-Y", "snmp.community", "-T", "fields",
                              "-e", "snmp.community"], capture_output=True, text=True, check=True).stdout
        theirs = {KEY.fingerprint(SecretKind.COMMUNITY, line).value for line in out.splitlines() if line}
        ours = {c.secret_fp for c in sensed(real_pcaps / name) if c.secret_kind == SecretKind.COMMUNITY}
        assert ours == theirs, name


C, S = Direction.ORIG, Direction.RESP
WRONG_DIGESTS = b"\x2b\x06\x01\x06\x03\x0f\x01\x01\x05\x00"
NOT_IN_TIME_WINDOWS = b"\x2b\x06\x01\x06\x03\x0f\x01\x01\x02\x00"


def pdu(tag: int, request_id: int, error_status: int = 0, oid: bytes = b"\x2b\x06\x01\x02\x01\x01\x05\x00") -> bytes:
    """A PDU (RFC 3416 3): request-id, error-status, error-index, one variable binding."""
    varbind = ber(0x30, ber(0x30, ber(0x06, oid) + b"\x05\x00"))
    return ber(tag, ber(0x02, request_id.to_bytes(2, "big")) + ber(0x02, bytes([error_status])) + b"\x02\x01\x00"
               + varbind)


def v2c(community: bytes, tag: int, request_id: int, error_status: int = 0) -> bytes:
    return ber(0x30, ber(0x02, b"\x01") + ber(0x04, community) + pdu(tag, request_id, error_status))


def v3(msg_id: int, flags: int, user: bytes, data: bytes) -> bytes:
    """An SNMPv3 message (RFC 3412 6): msgGlobalData, USM parameters (RFC 3414 2.4), the scoped
    PDU in clear (a SEQUENCE) or encrypted (an OCTET STRING)."""
    header = ber(0x30, ber(0x02, msg_id.to_bytes(2, "big")) + ber(0x02, b"\x05\xdc") + ber(0x04, bytes([flags]))
                 + ber(0x02, b"\x03"))
    usm = ber(0x30, ber(0x04, b"\x80\x00\x1f\x88\x04") + ber(0x02, b"\x0c") + ber(0x02, b"\x01\x00")
              + ber(0x04, user) + ber(0x04, bytes(12)) + ber(0x04, b""))
    return ber(0x30, ber(0x02, b"\x03") + header + ber(0x04, usm) + data)


def scoped(tag: int, request_id: int, oid: bytes = b"\x2b\x06\x01\x02\x01\x01\x05\x00") -> bytes:
    return ber(0x30, ber(0x04, b"\x80\x00\x1f\x88\x04") + ber(0x04, b"") + pdu(tag, request_id, oid=oid))


def exchange(datagrams: list[tuple[Direction, bytes]]) -> list[Observation]:
    """Each one datagram (a datagram is parsed whole); then the flow ends."""
    return observations(SnmpExtractor(KEY), FLOW, datagrams, close=True)


def outcomes(found: list[Observation]) -> list[tuple[int, str, str | None, str | None]]:
    return [(o.attempt, str(o.outcome), o.reason_code, o.basis) for o in found if isinstance(o, AuthenticationOutcome)]


def test_v2c_answers_by_request_id() -> None:
    """A Response with the request's id accepts; a retry of the same community joins the attempt;
    an id never asked answers nothing; authorizationError refuses; silence is "no response"."""
    assert outcomes(exchange([(C, v2c(b"ro", 0xA0, 7)), (S, v2c(b"ro", 0xA2, 7))])) == [
        (1, "success", "noError", None)]
    assert outcomes(exchange([(C, v2c(b"ro", 0xA0, 7)), (C, v2c(b"ro", 0xA0, 8)), (S, v2c(b"ro", 0xA2, 9)),
                              (S, v2c(b"ro", 0xA2, 8))])) == [(1, "success", "noError", None)]
    assert outcomes(exchange([(C, v2c(b"rw", 0xA3, 7)), (S, v2c(b"rw", 0xA2, 7, error_status=16))])) == [
        (1, "failure", "authorizationError", None)]
    wrong = exchange([(C, v2c(b"public98", 0xA0, 7)), (C, v2c(b"public98", 0xA0, 7))])
    assert outcomes(wrong) == [(1, "unknown", None, "no response")]
    assert [c.attempt for c in wrong if isinstance(c, CredentialSeen)] == [1]


def test_traps_and_answers_present_a_community_without_an_attempt() -> None:
    found = exchange([(S, v2c(b"ro", 0xA2, 7)), (C, v2c(b"trap", 0xA7, 1))])
    assert [(c.presenter, c.attempt) for c in found if isinstance(c, CredentialSeen)] == [(S, None), (C, None)]
    assert outcomes(found) == []
    trap_with_the_same_id = exchange([(C, v3(100, 0x05, b"biomed", scoped(0xA0, 100))),
                                      (S, v3(100, 0x00, b"agent", scoped(0xA7, 100)))])
    assert outcomes(trap_with_the_same_id) == [(1, "unknown", None, "no response")]


def test_v3_reports_refuse_and_discovery_reports_wait_for_the_retry() -> None:
    refused = exchange([(C, v3(100, 0x05, b"biomed", scoped(0xA0, 100))),
                        (S, v3(100, 0x00, b"biomed", scoped(0xA8, 100, WRONG_DIGESTS)))])
    assert outcomes(refused) == [(1, "failure", "usmStatsWrongDigests", None)]
    retried = [(C, v3(100, 0x05, b"biomed", scoped(0xA0, 100))),
               (S, v3(100, 0x01, b"biomed", scoped(0xA8, 100, NOT_IN_TIME_WINDOWS))),
               (C, v3(101, 0x05, b"biomed", scoped(0xA0, 101)))]
    assert outcomes(exchange([*retried, (S, v3(101, 0x01, b"biomed", scoped(0xA2, 101)))])) == [
        (1, "success", "noError", None)]
    assert outcomes(exchange(retried)) == [(1, "unknown", "usmStatsNotInTimeWindows",
                                            "no response after a usmStatsNotInTimeWindows report (discovery)")]
    discovery = exchange([(C, v3(99, 0x04, b"", scoped(0xA0, 99))), (S, v3(99, 0x00, b"", scoped(0xA8, 99)))])
    assert outcomes(discovery) == [] and not [o for o in discovery if isinstance(o, CredentialSeen)]


def test_v3_encrypted_answer_is_a_response() -> None:
    found = exchange([(C, v3(100, 0x07, b"biomed", ber(0x04, bytes(40)))),
                      (S, v3(100, 0x03, b"biomed", ber(0x04, bytes(48))))])
    assert outcomes(found) == [(1, "success", None, "encrypted response (authPriv): reports are never encrypted")]


def test_truncated_answers_raise_only_parse_errors() -> None:
    for data in (v2c(b"ro", 0xA2, 7), v3(100, 0x00, b"biomed", scoped(0xA8, 100, WRONG_DIGESTS))):
        for cut in range(len(data)):
            ext = SnmpExtractor(KEY)
            ext.parse(FLOW, C, 1.0, v2c(b"ro", 0xA0, 7))
            with pytest.raises(ParseError):
                ext.parse(FLOW, S, 1.0, data[:cut])


@given(st.binary(max_size=120), st.sampled_from([0xA2, 0xA8]))
def test_fuzzed_answers_raise_nothing_but_parse_errors(data: bytes, tag: int) -> None:
    ext = SnmpExtractor(KEY)
    ext.parse(FLOW, C, 1.0, v2c(b"ro", 0xA0, 7))
    with contextlib.suppress(ParseError):
        ext.parse(FLOW, S, 1.0, ber(0x30, ber(0x02, b"\x01") + ber(0x04, b"ro") + ber(tag, data[:100])))


def raw_ip_pcap(datagrams: list[tuple[str, int, str, int, bytes]]) -> bytes:
    """A pcap of raw IPv4 (linktype 101) UDP datagrams, one a second."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101)]
    for i, (src, sport, dst, dport, payload) in enumerate(datagrams):
        udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i, 0, 64, 17, 0, socket.inet_aton(src),
                         socket.inet_aton(dst))
        words = sum(struct.unpack("!10H", ip))
        while words > 0xFFFF:
            words = (words & 0xFFFF) + (words >> 16)
        ip = ip[:10] + struct.pack("!H", ~words & 0xFFFF) + ip[12:]
        out += [struct.pack("<IIII", 1_741_680_000 + i, 0, len(ip + udp), len(ip + udp)), ip + udp]
    return b"".join(out)


def test_a_poller_of_many_agents_is_answered_by_each_agent_alone(tmp_path: Path) -> None:
    """One manager socket, three agents: each agent is a flow of its own, so the request-id
    the first agent answers does not answer the same id sent to the silent second one."""
    manager, agents = ("10.10.9.5", 40000), ["10.20.2.31", "10.20.2.32", "10.20.2.33"]
    path = tmp_path / "poller.pcap"
    path.write_bytes(raw_ip_pcap([
        (*manager, agents[0], 161, v2c(b"h0spital-ro", 0xA0, 7)),
        (*manager, agents[1], 161, v2c(b"public", 0xA0, 7)),
        (*manager, agents[2], 161, v2c(b"h0spital-ro", 0xA0, 7)),
        (agents[0], 161, *manager, v2c(b"h0spital-ro", 0xA2, 7)),
        (agents[2], 161, *manager, v2c(b"h0spital-ro", 0xA2, 7, error_status=16))]))
    found = list(Sensor(secrets=KEY).read(str(path)))
    got = {o.flow.resp.ip: (str(o.outcome), o.reason_code, o.basis) for o in found
           if isinstance(o, AuthenticationOutcome)}
    assert got == {agents[0]: ("success", "noError", None), agents[1]: ("unknown", None, "no response"),
                   agents[2]: ("failure", "authorizationError", None)}


@needs_real_pcaps
def test_outcomes_of_the_lab_requests_equal_the_truth(real_pcaps: Path) -> None:
    """net-snmp's answers: each request answered (or, wrong community, not: unknown) as the lab
    configured it."""
    truth = json.loads((real_pcaps / "lab" / "expected.json").read_text())["snmp.pcap"]["credentials"]
    found = list(Sensor(secrets=KEY).read(str(real_pcaps / "lab" / "snmp.pcap")))
    ours = sorted((c.secret_fp or c.username or "", str(a.outcome)) for c, a in paired(found))
    assert ours == sorted((KEY.fingerprint(SecretKind.COMMUNITY, t["community"]).value if "community" in t
                           else t["user"], "success" if t["request_ok"] else "unknown") for t in truth)


USM_STATS, REFUSING_COUNTERS = "1.3.6.1.6.3.15.1.1", {"1", "3", "5", "6"}
"""usmStats; unsupportedSecLevels, unknownUserNames, wrongDigests, decryptionErrors."""


def tshark_answers(path: Path) -> dict[tuple[int, str], str]:
    """(manager port, credential) -> what tshark shows answered its first request: a Response
    (`snmp.data` 2, or an encrypted PDU with the request's `snmp.msgID`) accepts unless its
    `snmp.error_status` is 16; a Report (`snmp.data` 8) of usmStats refuses (engine discovery
    and time synchronisation aside); no answer is unknown."""
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-Y", "snmp", "-T", "fields", "-E", "occurrence=f",
                          "-e", "udp.srcport", "-e", "udp.dstport", "-e", "snmp.community", "-e", "snmp.msgUserName",
                          "-e", "snmp.data", "-e", "snmp.request_id", "-e", "snmp.msgID", "-e", "snmp.error_status",
                          "-e", "snmp.name", "-e", "snmp.msgFlags"], capture_output=True, text=True, check=True).stdout
    asked: dict[tuple[int, str], tuple[int, str]] = {}
    theirs: dict[tuple[int, str], str] = {}
    for line in out.splitlines():
        src, dst, community, user, data, request_id, msg_id, status, name, flags = line.split("\t")
        key = msg_id or request_id
        encrypted = not data and bool(int(flags or "0", 16) & 0x02)
        credential = (KEY.fingerprint(SecretKind.COMMUNITY, community).value if not msg_id else user)
        if data in ("0", "1", "3", "5", "6") or (encrypted and int(flags, 16) & 0x04):
            if credential:
                theirs.setdefault((int(src), credential), "unknown")
                asked[int(src), key] = (int(src), credential)
        elif (int(dst), key) in asked:
            first = asked.pop((int(dst), key))
            if theirs[first] != "unknown":
                continue
            if data == "2" or encrypted:
                theirs[first] = "failure" if status == "16" else "success"
            elif data == "8":
                prefix, _, counter = name.removesuffix(".0").rpartition(".")
                if prefix != USM_STATS:
                    theirs[first] = "unknown (a report not about the credential)"
                elif counter in REFUSING_COUNTERS:
                    theirs[first] = "failure"
    return theirs


@needs_real_pcaps
@pytest.mark.parametrize("name", [
    "lab/snmp.pcap", "ndpi/tests/cfgs/default/pcap/snmp.pcap", "zeek/snmp/snmpv1_get.pcap",
    "zeek/snmp/snmpv1_get_short.pcap", "zeek/snmp/snmpv1_set.pcap", "zeek/snmp/snmpv1_trap.pcap",
    "zeek/snmp/snmpv2_get.pcap", "zeek/snmp/snmpv2_get_bulk.pcap", "zeek/snmp/snmpv2_get_next.pcap",
    "zeek/snmp/snmpv3_get_next.pcap", "zeek/snmp/snmpwalk-short.pcap",
    "suricata-verify/snmp-v2c-get/SNMPv2c_get_requests.pcap",
    "suricata-verify/snmp-v3-unauth/snmp-v3-get-bulk-unauth.pcap",
])
def test_outcomes_as_tshark_reads_the_answers(real_pcaps: Path, name: str) -> None:
    found = list(Sensor(secrets=KEY).read(str(real_pcaps / name)))
    ours = {(c.flow.orig.port, c.secret_fp or c.username or ""): str(a.outcome) for c, a in paired(found)}
    assert ours == tshark_answers(real_pcaps / name)
