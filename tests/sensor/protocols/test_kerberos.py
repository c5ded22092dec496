"""Kerberos: the AS-REQ client principal and realm over UDP and TCP (records spanning segments,
several per stream), pre-authentication and weak etypes noted, other messages skipped, the
KDC's AS-REP or KRB-ERROR answering each AS-REQ; truth files, tshark `kerberos.CNameString`/
`kerberos.realm`/`kerberos.msg_type`/`kerberos.error_code`, truncation and fuzzing."""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import needs_real_pcaps
from tests.sensor.protocols.streams import answers, credentials, observations, paired
from trustwatch.sensor.flowid import Direction, Endpoint, FlowId
from trustwatch.sensor.protocols.base import ParseError
from trustwatch.sensor.protocols.kerberos import ERROR_NAMES, KerberosExtractor
from trustwatch.sensor.records import AuthenticationOutcome, CredentialSeen, Observation, Proto, SecretKind
from trustwatch.sensor.secrets import SecretHasher
from trustwatch.sensor.sense import Sensor

KEY = SecretHasher(b"kerberos-test-site-key")
UDP = FlowId(uid="Ckrbu", transport="udp", orig=Endpoint("10.20.9.14", 51000, None),
             resp=Endpoint("10.10.1.5", 88, None))
TCP = FlowId(uid="Ckrbt", transport="tcp", orig=Endpoint("10.20.9.14", 51001, None),
             resp=Endpoint("10.10.1.5", 88, None))
C, S = Direction.ORIG, Direction.RESP
CIPHER = bytes(range(0x80, 0xB4))
"""Stands for the key-encrypted timestamp: must not reach any record."""
REAL = [
    "ndpi/tests/cfgs/default/pcap/kerberos.pcap", "suricata-verify/krb5-krb5_msg_type/input.pcap",
    "suricata-verify/krb5-request-frag-log/krb5-frag.pcap", "zeek/krb/kerberos_tso.pcapng", "zeek/krb/kinit.pcap",
    "zeek/ldap/aduser1.pcap",
]


def tlv(tag: int, value: bytes) -> bytes:
    n = len(value)
    length = bytes([n]) if n < 0x80 else bytes([0x80 | (n.bit_length() + 7) // 8]) + n.to_bytes((n.bit_length() + 7)
                                                                                                // 8, "big")
    return bytes([tag]) + length + value


def ctx(n: int, value: bytes) -> bytes:
    return tlv(0xA0 + n, value)


def integer(n: int) -> bytes:
    return tlv(0x02, n.to_bytes((n.bit_length() + 8) // 8, "big", signed=True))


def principal(name_type: int, *parts: str) -> bytes:
    return tlv(0x30, ctx(0, integer(name_type)) + ctx(1, tlv(0x30, b"".join(tlv(0x1B, p.encode()) for p in parts))))


def kdc_req(user: tuple[str, ...] | None = ("nurse-station7$",), realm: str = "HOSP.EXAMPLE",
            etypes: tuple[int, ...] = (18, 17, 23), padata: tuple[int, ...] = (), app: int = 0x6A,
            name_type: int = 1) -> bytes:
    pas = b"".join(tlv(0x30, ctx(1, integer(t)) + ctx(2, tlv(0x04, CIPHER if t == 2 else b"\x30\x00")))
                   for t in padata)
    body = (ctx(0, tlv(0x03, b"\x00\x40\x81\x00\x10")) + (ctx(1, principal(name_type, *user)) if user else b"")
            + ctx(2, tlv(0x1B, realm.encode())) + ctx(3, principal(2, "krbtgt", realm))
            + ctx(5, tlv(0x18, b"20370913024805Z")) + ctx(7, integer(0x1234567))
            + ctx(8, tlv(0x30, b"".join(integer(e) for e in etypes))))
    fields = ctx(1, integer(5)) + ctx(2, integer(10 if app == 0x6A else 12)) + (
        ctx(3, tlv(0x30, pas)) if padata else b"") + ctx(4, tlv(0x30, body))
    return tlv(app, tlv(0x30, fields))


def framed(message: bytes) -> bytes:
    return len(message).to_bytes(4, "big") + message


def test_as_req_over_udp_with_and_without_pre_authentication() -> None:
    ext = KerberosExtractor(KEY)
    (plain,), used = ext.parse(UDP, C, 1.0, kdc_req(padata=(128,)))
    assert used == len(kdc_req(padata=(128,)))
    assert isinstance(plain, CredentialSeen)
    assert (plain.username, plain.domain, plain.secret_kind, plain.secret_fp, plain.mechanism) == (
        "nurse-station7$", "HOSP.EXAMPLE", SecretKind.NONE, None, "AS-REQ")
    assert plain.notes == ("service krbtgt/HOSP.EXAMPLE", "etype rc4-hmac requested")
    (proved,), _ = ext.parse(UDP, C, 1.0, kdc_req(padata=(2, 128), etypes=(18, 17)))
    assert isinstance(proved, CredentialSeen)
    assert (proved.secret_kind, proved.secret_fp, proved.secret_hint) == (SecretKind.HASH, None, None)
    assert proved.notes == ("pre-authenticated (PA-ENC-TIMESTAMP)", "service krbtgt/HOSP.EXAMPLE")
    assert CIPHER.hex() not in repr(proved) and repr(CIPHER) not in repr(proved)
    assert ext.parse(UDP, C, 1.0, kdc_req(padata=(2, 128), etypes=(18, 17))) == ([], len(
        kdc_req(padata=(2, 128), etypes=(18, 17)))), "the same request again in the flow is reported once"


def test_principal_forms_and_notes() -> None:
    ext = KerberosExtractor(KEY)
    creds = credentials(ext, UDP, [
        (C, kdc_req(user=("enterprise_principal@AD.HOSP.EXAMPLE",), name_type=10, etypes=(1, 3, 18))),
        (C, kdc_req(user=("WELLKNOWN", "ANONYMOUS"), name_type=11, padata=(16,))),
        (C, kdc_req(user=("host", "pacs01.hosp.example"), name_type=3, padata=(136,))),
        (C, kdc_req(user=None)),
    ])
    assert [(c.username, c.notes) for c in creds] == [
        ("enterprise_principal@AD.HOSP.EXAMPLE", ("enterprise principal", "service krbtgt/HOSP.EXAMPLE",
                                                  "etype des-cbc-crc requested", "etype des-cbc-md5 requested")),
        ("WELLKNOWN/ANONYMOUS", ("PKINIT (certificate pre-authentication)", "well-known principal",
                                 "service krbtgt/HOSP.EXAMPLE", "etype rc4-hmac requested")),
        ("host/pacs01.hosp.example", ("FAST armoured request", "service krbtgt/HOSP.EXAMPLE",
                                      "etype rc4-hmac requested")),
        (None, ("service krbtgt/HOSP.EXAMPLE", "etype rc4-hmac requested")),
    ]
    assert all(c.secret_kind == SecretKind.NONE for c in creds)


def test_tcp_records_span_segments_and_other_messages_are_skipped() -> None:
    first, second = framed(kdc_req(padata=(128,))), framed(kdc_req(user=("radiology1",), padata=(2,)))
    tgs, reply = framed(kdc_req(app=0x6C)), framed(tlv(0x6D, tlv(0x30, b"\x01" * 300)))
    stream = tgs + first + second
    ext = KerberosExtractor(KEY)
    creds = credentials(ext, TCP, [(C, stream[i : i + 7]) for i in range(0, len(stream), 7)]
                 + [(S, reply[:100]), (S, reply[100:])])
    assert [(c.username, c.secret_kind) for c in creds] == [("nurse-station7$", SecretKind.NONE),
                                                             ("radiology1", SecretKind.HASH)]
    assert KerberosExtractor(KEY).parse(TCP, S, 1.0, reply[:9]) == ([], 4), "a reply is skipped as it streams"
    assert not ext.finished


def test_probe() -> None:
    request = kdc_req()
    assert KerberosExtractor.probe(request) and KerberosExtractor.probe(kdc_req(app=0x6C))
    assert KerberosExtractor.probe(framed(request)) and KerberosExtractor.probe(framed(request)[:8])
    assert not KerberosExtractor.probe(request[:-1]), "a datagram holds the whole message"
    assert not KerberosExtractor.probe(framed(request)[:3] + b"\x00" + request[1:])
    assert not KerberosExtractor.probe(tlv(0x6B, tlv(0x30, b"")))
    assert not KerberosExtractor.probe(b"\x30\x0c\x02\x01\x01\x60\x07\x02\x01\x03\x04\x00\x80\x00")
    assert not KerberosExtractor.probe(b"\x6a\x05\x30\x03\xa1\x03\x02\x01\x04")


def test_bad_records_raise_parse_errors() -> None:
    with pytest.raises(ParseError, match="kerberos_bad_length"):
        KerberosExtractor(KEY).parse(TCP, C, 1.0, b"\x80\x00\x00\x10\x6a\x00")
    with pytest.raises(ParseError, match="kerberos_bad_message"):
        KerberosExtractor(KEY).parse(TCP, C, 1.0, b"\x00\x00\x00\x10\x30\x00")
    with pytest.raises(ParseError, match="kerberos_record_too_large"):
        KerberosExtractor(KEY).parse(TCP, C, 1.0, b"\x00\x10\x00\x10\x6a\x00")
    with pytest.raises(ParseError, match="kerberos_missing_field"):
        KerberosExtractor(KEY).parse(UDP, C, 1.0, tlv(0x6A, tlv(0x30, ctx(1, integer(5)))))


def test_truncation_at_every_byte() -> None:
    message = kdc_req(padata=(2, 128))
    for cut in range(len(message)):
        with pytest.raises(ParseError):
            KerberosExtractor(KEY).parse(UDP, C, 1.0, message[:cut])
    record = framed(message)
    for cut in range(len(record)):
        assert KerberosExtractor(KEY).parse(TCP, C, 1.0, record[:cut]) == ([], 0)


@given(st.sampled_from([UDP, TCP]), st.lists(st.tuples(st.sampled_from([C, S]), st.binary(max_size=80)), max_size=6))
def test_fuzz_raises_nothing_but_parse_errors(flow: FlowId, segments: list[tuple[Direction, bytes]]) -> None:
    with contextlib.suppress(ParseError):
        credentials(KerberosExtractor(KEY), flow, segments)


@given(st.data())
def test_fuzz_mutated_requests(data: st.DataObject) -> None:
    message = bytearray(kdc_req(padata=(2, 16, 128), name_type=10))
    for _ in range(data.draw(st.integers(1, 4))):
        message[data.draw(st.integers(0, len(message) - 1))] = data.draw(st.integers(0, 255))
    with contextlib.suppress(ParseError):
        KerberosExtractor(KEY).parse(UDP, C, 1.0, bytes(message))
    with contextlib.suppress(ParseError):
        credentials(KerberosExtractor(KEY), TCP, [(C, framed(bytes(message)))])


def ours(path: Path) -> list[CredentialSeen]:
    return [o for o in Sensor(secrets=KEY).read(str(path)) if isinstance(o, CredentialSeen)
            and o.protocol == "kerberos"]


@needs_real_pcaps
@pytest.mark.parametrize("name", REAL)
def test_every_expected_as_req_is_found(real_pcaps: Path, name: str) -> None:
    """The truth file lists the first name-string of each client principal (tools/reference.py)."""
    expected = json.loads((real_pcaps / "expected.json").read_text())[name]["credentials"]
    theirs = {(c["src"], c["dst"], c["dport"], c["cname"], c["realm"]) for c in expected if c["proto"] == "kerberos"}
    found = {(c.flow.orig.ip, c.flow.resp.ip, c.flow.resp.port, (c.username or "").split("/")[0], c.domain)
             for c in ours(real_pcaps / name)}
    assert theirs and theirs <= found


@needs_real_pcaps
@pytest.mark.parametrize("name", REAL)
def test_same_principals_as_tshark(real_pcaps: Path, name: str) -> None:
    out = subprocess.run(["tshark", "-n", "-r", str(real_pcaps / name), "-Y", "kerberos.msg_type==10", "-T", "fields",
                          "-e", "kerberos.CNameString", "-e", "kerberos.realm", "-E", "occurrence=a",
                          "-E", "aggregator=\x1e"], capture_output=True, text=True, check=True).stdout
    theirs = {(cname.replace("\x1e", "/"), realm.split("\x1e")[0])
              for cname, _, realm in (line.partition("\t") for line in out.split("\n") if line)}
    found = {(c.username, c.domain) for c in ours(real_pcaps / name)}
    assert theirs and found == theirs


def krb_error(code: int, e_text: bytes = b"", realm: str = "HOSP.EXAMPLE") -> bytes:
    """KRB-ERROR (RFC 4120 5.9.1): pvno, msg-type, stime, susec, error-code, realm, sname, e-text."""
    fields = (ctx(0, integer(5)) + ctx(1, integer(30)) + ctx(4, tlv(0x18, b"20250312080000Z")) + ctx(5, integer(0))
              + ctx(6, integer(code)) + ctx(9, tlv(0x1B, realm.encode())) + ctx(10, principal(2, "krbtgt", realm))
              + (ctx(11, tlv(0x1B, e_text)) if e_text else b""))
    return tlv(0x7E, tlv(0x30, fields))


AS_REP = tlv(0x6B, tlv(0x30, ctx(0, integer(5)) + ctx(1, integer(11)) + ctx(3, tlv(0x1B, b"HOSP.EXAMPLE"))))
TGS_REP = tlv(0x6D, tlv(0x30, ctx(0, integer(5)) + ctx(1, integer(13))))


def udp_exchange(messages: list[tuple[Direction, bytes]]) -> list[Observation]:
    """Each message one datagram of the flow (a datagram is parsed whole), then the flow ends."""
    return observations(KerberosExtractor(KEY), UDP, messages, close=True)


@pytest.mark.parametrize(("answer", "expected"), [
    (AS_REP, ("success", "AS-REP", None, None)),
    (krb_error(24, b"PREAUTH_FAILED"), ("failure", "KDC_ERR_PREAUTH_FAILED", "PREAUTH_FAILED", None)),
    (krb_error(18, b"LOCKED_OUT"), ("failure", "KDC_ERR_CLIENT_REVOKED", "LOCKED_OUT", None)),
    (krb_error(23), ("failure", "KDC_ERR_KEY_EXPIRED", None, None)),
    (krb_error(6, b"CLIENT_NOT_FOUND"), ("failure", "KDC_ERR_C_PRINCIPAL_UNKNOWN", "CLIENT_NOT_FOUND", None)),
    (krb_error(25), ("unknown", "KDC_ERR_PREAUTH_REQUIRED", None, "the client retries after it")),
    (krb_error(52), ("unknown", "KRB_ERR_RESPONSE_TOO_BIG", None, "the client retries after it")),
    (krb_error(99), ("unknown", "error 99", None, "an error that says nothing of the credential")),
])
def test_the_kdc_answers_the_as_req(answer: bytes, expected: tuple[str, str, str | None, str | None]) -> None:
    found = udp_exchange([(C, kdc_req(padata=(2,))), (S, answer)])
    (outcome,) = (o for o in found if isinstance(o, AuthenticationOutcome))
    assert (str(outcome.outcome), outcome.reason_code, outcome.reason, outcome.basis) == expected
    assert answers(found) == [(1, expected[0], expected[1])]


def test_pre_authentication_asked_then_given_on_one_connection() -> None:
    """KDC_ERR_PREAUTH_REQUIRED answers the request without padata (unknown); the retry with
    PA-ENC-TIMESTAMP is a new attempt, answered by the AS-REP. A TGS exchange before them
    takes its own answer (answers come in the order of the requests)."""
    stream = [(C, framed(kdc_req(app=0x6C))), (C, framed(kdc_req())), (S, framed(TGS_REP)),
              (S, framed(krb_error(25, b"NEEDED_PREAUTH"))), (C, framed(kdc_req(padata=(2,)))), (S, framed(AS_REP))]
    found = observations(KerberosExtractor(KEY), TCP, stream, close=True)
    assert [(c.attempt, c.secret_kind) for c in found if isinstance(c, CredentialSeen)] == [
        (1, SecretKind.NONE), (2, SecretKind.HASH)]
    assert answers(found) == [(1, "unknown", "KDC_ERR_PREAUTH_REQUIRED"), (2, "success", "AS-REP")]


def test_a_retransmission_joins_its_attempt_and_silence_is_unknown() -> None:
    request = kdc_req(padata=(2,))
    assert answers(udp_exchange([(C, request), (C, request), (S, AS_REP)])) == [(1, "success", "AS-REP")]
    assert answers(udp_exchange([(C, request)])) == [(1, "unknown", None)]
    assert answers(udp_exchange([(S, AS_REP), (C, request)])) == [(1, "unknown", None)], "no answer before asking"


def test_krb_error_over_tcp_truncated_at_every_byte_waits() -> None:
    record = framed(krb_error(24, b"PREAUTH_FAILED"))
    for cut in range(len(record)):
        ext = KerberosExtractor(KEY)
        ext.parse(TCP, C, 1.0, framed(kdc_req()))
        assert ext.parse(TCP, S, 1.0, record[:cut]) == ([], 0)
    for cut in range(len(krb_error(24))):
        ext = KerberosExtractor(KEY)
        ext.parse(UDP, C, 1.0, kdc_req())
        with pytest.raises(ParseError):
            ext.parse(UDP, S, 1.0, krb_error(24)[:cut])


@given(st.binary(max_size=120), st.sampled_from([UDP, TCP]))
def test_fuzzed_answers_raise_nothing_but_parse_errors(data: bytes, flow: FlowId) -> None:
    ext = KerberosExtractor(KEY)
    request, answer = kdc_req(), tlv(0x7E, tlv(0x30, data))
    ext.parse(flow, C, 1.0, request if flow is UDP else framed(request))
    with contextlib.suppress(ParseError):
        ext.parse(flow, S, 1.0, answer if flow is UDP else framed(answer))


def tshark_answers(path: Path) -> Counter[tuple[int, str]]:
    """(client port, answer) of each AS-REQ as tshark reads the flow (`kerberos.msg_type`, the
    KDC answering each flow's requests in order, `kerberos.error_code` named as RFC 4120 does)."""
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-Y", "kerberos.msg_type", "-T", "fields", "-E",
                          "occurrence=f", "-e", "udp.srcport", "-e", "udp.dstport", "-e", "tcp.srcport", "-e",
                          "tcp.dstport", "-e", "kerberos.msg_type", "-e", "kerberos.error_code"],
                         capture_output=True, text=True, check=True).stdout
    asked: dict[tuple[str, bool], list[str]] = {}
    theirs = Counter[tuple[int, str]]()
    for line in out.splitlines():
        usrc, udst, tsrc, tdst, kind, code = line.split("\t")
        client = (usrc or tsrc, bool(usrc)) if kind in ("10", "12") else (udst or tdst, bool(usrc))
        if kind in ("10", "12"):
            asked.setdefault(client, []).append(kind)
        elif asked.get(client) and asked[client].pop(0) == "10":
            theirs[int(client[0]), "AS-REP" if kind == "11" else ERROR_NAMES[int(code)]] += 1
    return theirs


@needs_real_pcaps
@pytest.mark.parametrize("name", REAL)
def test_outcomes_as_tshark_pairs_the_kdc_answers(real_pcaps: Path, name: str) -> None:
    found = Sensor(secrets=KEY).read(str(real_pcaps / name))
    ours = Counter((c.flow.orig.port, a.reason_code) for c, a in paired(found)
                   if a.reason_code and c.protocol == Proto.KERBEROS)
    assert ours and ours == tshark_answers(real_pcaps / name)
