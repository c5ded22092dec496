"""SIP: Digest users and realms from Authorization and Proxy-Authorization, over UDP (every
datagram of a flow) and TCP (Content-Length framing); the response never kept; one report per
user and realm per flow unless refused; the final response of the same Call-ID and CSeq as
the outcome; truth files, tshark `sip.auth.*` and `sip.Status-Code`, truncation and fuzzing."""

from __future__ import annotations

import contextlib
import json
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import needs_real_pcaps
from tests.sensor.protocols.streams import answers, credentials, observations, paired
from trustwatch.sensor.flowid import Direction, Endpoint, FlowId
from trustwatch.sensor.protocols.base import ParseError
from trustwatch.sensor.protocols.sip import MAX_MESSAGES, MAX_SEEN, SipExtractor
from trustwatch.sensor.records import CredentialSeen, SecretKind
from trustwatch.sensor.secrets import SecretHasher
from trustwatch.sensor.sense import Sensor

KEY = SecretHasher(b"sip-test-site-key")
UDP = FlowId(uid="Csipu", transport="udp", orig=Endpoint("10.30.4.21", 5060, None),
             resp=Endpoint("10.10.3.2", 5060, None))
TCP = FlowId(uid="Csipt", transport="tcp", orig=Endpoint("10.30.4.21", 40112, None),
             resp=Endpoint("10.10.3.2", 5060, None))
C, S = Direction.ORIG, Direction.RESP
RESPONSE = "bd79fecae600a2eb79d37ec73214830b"
REAL = ["ndpi/tests/cfgs/default/pcap/sip.pcap", "suricata-verify/sip-method/sip.pcap", "zeek/sip/wireshark.pcap",
        "suricata-verify/sip-tcp-method/sip-tcp.pcap"]


def register(user: str = "ward3-intercom", realm: str = "pbx.hosp.example", header: str = "Authorization",
             response: str = RESPONSE, body: bytes = b"", method: str = "REGISTER") -> bytes:
    auth = (f'{header}: Digest username="{user}",realm="{realm}",uri="sip:pbx.hosp.example",\r\n'
            f' nonce="1701af566be182070084c6f740706bb",response="{response}",algorithm=MD5\r\n')
    return (f"{method} sip:pbx.hosp.example SIP/2.0\r\n"
            "v: SIP/2.0/UDP 10.30.4.21;branch=z9hG4bKnp149505178\r\n"
            f"f: <sip:{user}@pbx.hosp.example>;tag=8e948b0\r\n"
            f"t: <sip:{user}@pbx.hosp.example>\r\ni: 578222729-4665d775@10.30.4.21\r\nCSeq: 69 {method}\r\n"
            + auth + f"l: {len(body)}\r\n\r\n").encode() + body


CHALLENGE = (b"SIP/2.0 401 Unauthorized\r\nCSeq: 68 REGISTER\r\n"
             b'WWW-Authenticate: Digest realm="pbx.hosp.example",nonce="1701af5",algorithm=MD5\r\n'
             b"Content-Length: 0\r\n\r\n")


def test_register_over_udp_gives_user_and_realm_once_per_flow() -> None:
    ext = SipExtractor(KEY)
    creds = credentials(ext, UDP, [(C, register(response="")), (S, CHALLENGE), (C, register()), (C, register()),
                            (C, b"\r\n\r\n"), (C, register(user="ward4-intercom"))])
    assert [(c.username, c.domain, c.secret_kind, c.mechanism, c.notes) for c in creds] == [
        ("ward3-intercom", "pbx.hosp.example", SecretKind.NONE, "digest",
         ("REGISTER", "algorithm MD5", "no digest response")),
        ("ward3-intercom", "pbx.hosp.example", SecretKind.HASH, "digest", ("REGISTER", "algorithm MD5")),
        ("ward4-intercom", "pbx.hosp.example", SecretKind.HASH, "digest", ("REGISTER", "algorithm MD5")),
    ]
    assert all(c.secret_fp is None and c.secret_hint is None and c.presenter == C for c in creds)
    assert RESPONSE not in repr(creds)


def test_proxy_authorization_escapes_and_other_schemes() -> None:
    creds = credentials(SipExtractor(KEY), UDP, [
        (C, register(user=r"dr \"who\"", header="Proxy-Authorization", method="INVITE", body=b"v=0\r\n")),
        (C, register().replace(b"Digest", b"Basic")),
    ])
    assert [(c.username, c.notes) for c in creds] == [
        ('dr "who"', ("INVITE", "algorithm MD5", "to a proxy (Proxy-Authorization)"))]


def test_tcp_content_length_framing_across_segments() -> None:
    stream = b"\r\n\r\n" + register(body=b"v=0\r\no=- 0 0 IN IP4 10.30.4.21\r\n") + register(user="ward4-intercom")
    ext = SipExtractor(KEY)
    creds = credentials(ext, TCP, [(C, stream[i : i + 13]) for i in range(0, len(stream), 13)] + [(S, CHALLENGE)])
    assert [c.username for c in creds] == ["ward3-intercom", "ward4-intercom"]
    with pytest.raises(ParseError, match="sip_bad_content_length"):
        SipExtractor(KEY).parse(TCP, C, 1.0, register().replace(b"l: 0", b"l: x"))
    with pytest.raises(ParseError, match="sip_bad_content_length"):
        SipExtractor(KEY).parse(TCP, C, 1.0, register().replace(b"l: 0", b"l: " + b"9" * 5000))


def test_bounds() -> None:
    ext = SipExtractor(KEY)
    creds = credentials(ext, UDP, [(C, register(user=f"bed{n}")) for n in range(MAX_SEEN + 2)]
                 + [(C, register(user=f"bed{MAX_SEEN + 1}"))])
    assert len(creds) == MAX_SEEN + 3, "past MAX_SEEN new users are still reported, just not remembered"
    credentials(ext, UDP, [(S, CHALLENGE)] * (MAX_MESSAGES - len(creds) + 1))
    assert ext.done and not ext.finished, "past MAX_MESSAGES the answers still awaited are read, nothing new"
    assert credentials(ext, UDP, [(C, register(user="late"))]) == []
    ext.unanswered(UDP, 2.0)
    assert ext.finished
    with pytest.raises(ParseError, match="sip_headers_too_long"):
        SipExtractor(KEY).parse(TCP, C, 1.0, b"REGISTER sip:x SIP/2.0\r\nX: " + b"y" * 20000)


def test_probe() -> None:
    assert SipExtractor.probe(register()) and SipExtractor.probe(CHALLENGE)
    assert SipExtractor.probe(b"OPTIONS sip:") and SipExtractor.probe(b"INVITE tel:+4312345 SIP/2.0\r\n")
    assert not SipExtractor.probe(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert not SipExtractor.probe(b"REGISTER sip:x HTTP/1.1\r\n") and not SipExtractor.probe(b"\x16\x03\x01\x02\x00")


def test_truncation_at_every_byte() -> None:
    message = register()
    for cut in range(len(message)):
        assert SipExtractor(KEY).parse(TCP, C, 1.0, message[:cut]) == ([], 0)
        if cut:
            with pytest.raises(ParseError):
                SipExtractor(KEY).parse(UDP, C, 1.0, message[:cut])
    with pytest.raises(ParseError, match="sip_bad_start_line"):
        SipExtractor(KEY).parse(UDP, C, 1.0, b"HELLO\r\n\r\n")


@given(st.sampled_from([UDP, TCP]), st.lists(st.tuples(st.sampled_from([C, S]), st.binary(max_size=80)), max_size=6))
def test_fuzz_raises_nothing_but_parse_errors(flow: FlowId, segments: list[tuple[Direction, bytes]]) -> None:
    with contextlib.suppress(ParseError):
        credentials(SipExtractor(KEY), flow, segments)


@given(st.sampled_from([UDP, TCP]), st.data())
def test_fuzz_mutated_messages(flow: FlowId, data: st.DataObject) -> None:
    message = bytearray(register(body=b"v=0\r\n"))
    for _ in range(data.draw(st.integers(1, 6))):
        message[data.draw(st.integers(0, len(message) - 1))] = data.draw(st.sampled_from(b'\r\n :,"\\=0aZ\xff'))
    with contextlib.suppress(ParseError):
        credentials(SipExtractor(KEY), flow, [(C, bytes(message))])


def tshark_auth(path: Path) -> list[tuple[int, str, str]]:
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-Y", "sip.auth.username", "-T", "fields",
                          "-e", "frame.number", "-e", "sip.auth.username", "-e", "sip.auth.realm"],
                         capture_output=True, text=True, check=True).stdout
    return [(int(frame), user.strip('"'), realm.strip('"'))
            for frame, user, realm in (line.split("\t") for line in out.splitlines())]


def ours(path: Path) -> list[CredentialSeen]:
    return [o for o in Sensor(secrets=KEY).read(str(path)) if isinstance(o, CredentialSeen) and o.protocol == "sip"]


@needs_real_pcaps
@pytest.mark.parametrize("name", REAL)
def test_every_expected_user_is_found(real_pcaps: Path, name: str) -> None:
    expected = json.loads((real_pcaps / "expected.json").read_text())[name]["credentials"]
    theirs = {(c["src"], c["dst"], c["dport"], c["user"]) for c in expected if c["proto"] == "sip"}
    found = {(c.flow.orig.ip, c.flow.resp.ip, c.flow.resp.port, c.username) for c in ours(real_pcaps / name)}
    assert theirs <= found
    assert found or name.endswith("sip-tcp.pcap"), "the TCP capture's REGISTER carries no Authorization"


@needs_real_pcaps
@pytest.mark.parametrize("name", REAL)
def test_same_digest_users_as_tshark(real_pcaps: Path, name: str) -> None:
    """Same (user, realm) set; each report is evidenced by a frame tshark shows carrying it."""
    theirs = tshark_auth(real_pcaps / name)
    found = ours(real_pcaps / name)
    assert {(c.username, c.domain) for c in found} == {(user, realm) for _, user, realm in theirs}
    assert {(c.evidence.frames[-1], c.username, c.domain) for c in found} <= set(theirs)


def status(code: bytes, cseq: int = 69, method: str = "REGISTER", headers: bytes = b"") -> bytes:
    return (b"SIP/2.0 " + code + b"\r\nv: SIP/2.0/UDP 10.30.4.21;branch=z9hG4bKnp149505178\r\n"
            b"i: 578222729-4665d775@10.30.4.21\r\nCSeq: %d %s\r\n" % (cseq, method.encode()) + headers
            + b"Content-Length: 0\r\n\r\n")


def in_transaction(message: bytes, cseq: int) -> bytes:
    return message.replace(b"CSeq: 69 ", b"CSeq: %d " % cseq)


def outcomes(*chunks: tuple[Direction, bytes], flow: FlowId = UDP) -> list[tuple[int, str, str | None]]:
    return answers(observations(SipExtractor(KEY), flow, list(chunks), close=True))


@pytest.mark.parametrize(("final", "proved", "outcome"), [
    (b"200 OK", True, "success"),
    (b"403 Wrong password", True, "failure"),
    (b"401 Unauthorized", True, "failure"),
    (b"407 Proxy Authentication Required", True, "failure"),
    (b"401 Unauthorized", False, "unknown"),
    (b"200 OK", False, "success"),
    (b"404 Not Found", True, "unknown"),
])
def test_the_final_response_of_the_transaction_is_the_outcome(final: bytes, proved: bool, outcome: str) -> None:
    message = register() if proved else register(response="")
    code = final[:3].decode()
    assert outcomes((C, message), (S, status(b"100 Trying")), (S, status(final))) == [(1, outcome, code)]
    assert outcomes((C, message), (S, status(b"100 Trying")), (S, status(final)), flow=TCP) == [(1, outcome, code)]


def test_pairing_by_call_id_and_cseq() -> None:
    """Interleaved transactions, a retransmitted final response, another Call-ID's response,
    a stale nonce; a retry after a refusal is a new attempt, a repeat after success is not."""
    other_call = status(b"403 Forbidden").replace(b"i: 578222729", b"i: 99")
    stale = status(b"401 Unauthorized", 71, headers=b'WWW-Authenticate: Digest realm="pbx", nonce="n", stale=TRUE\r\n')
    assert outcomes((C, register()), (C, register(user="ward4-intercom", method="INVITE")), (S, other_call),
                    (S, status(b"486 Busy Here", method="INVITE")), (S, status(b"403 Wrong password")),
                    (S, status(b"403 Wrong password")),
                    (C, in_transaction(register(), 71)), (S, stale),
                    (C, in_transaction(register(), 72)), (S, status(b"200 OK", 72)),
                    (C, in_transaction(register(), 73)), (S, status(b"200 OK", 73))) == [
        (2, "unknown", "486"), (1, "failure", "403"), (3, "unknown", "401"), (4, "success", "200")]
    assert outcomes((C, register())) == [(1, "unknown", None)]


def test_the_reason_is_the_phrase_and_the_challenge() -> None:
    found = observations(SipExtractor(KEY), UDP, [(C, register()), (S, status(
        b"401 nonce has changed", headers=b'WWW-Authenticate: Digest realm="pbx",nonce="1701b06",stale=FALSE\r\n'))])
    ((_cred, answer),) = paired(found)
    assert answer.reason == 'nonce has changed; Digest realm="pbx", stale=FALSE'


def test_bad_final_responses() -> None:
    with pytest.raises(ParseError, match="sip_bad_start_line"):
        observations(SipExtractor(KEY), UDP, [(C, register()), (S, status(b"2000 OK"))])
    for cut in range(len(status(b"200 OK"))):
        assert SipExtractor(KEY).parse(TCP, S, 1.0, status(b"200 OK")[:cut]) == ([], 0)


@given(st.binary(max_size=80))
def test_fuzz_responses_raise_nothing_but_parse_errors(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        answers(observations(SipExtractor(KEY), UDP, [(C, register()), (S, b"SIP/2.0 " + data)], close=True))


@needs_real_pcaps
@pytest.mark.parametrize("name", REAL)
def test_outcomes_equal_tshark(real_pcaps: Path, name: str) -> None:
    """tshark's `sip.Status-Code` of the final response with the Call-ID and CSeq of the request
    carrying each reported digest (its evidence's last frame)."""
    out = subprocess.run(["tshark", "-n", "-r", str(real_pcaps / name), "-Y", "sip", "-T", "fields",
                          "-e", "frame.number", "-e", "sip.Call-ID", "-e", "sip.CSeq", "-e", "sip.Status-Code"],
                         capture_output=True, text=True, check=True).stdout
    transactions, finals = {}, {}
    for frame, call_id, cseq, code in (line.split("\t") for line in out.splitlines()):
        transactions[int(frame)] = (call_id, cseq.upper())
        if code and int(code) >= 200:
            finals.setdefault((call_id, cseq.upper()), code)
    ours = [(c, a) for c, a in paired(Sensor(secrets=KEY).read(str(real_pcaps / name))) if c.protocol == "sip"]
    assert ours or name.endswith("sip-tcp.pcap")
    assert [a.reason_code for _c, a in ours] == [finals.get(transactions[c.evidence.frames[-1]]) for c, _a in ours]
