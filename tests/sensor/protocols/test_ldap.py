"""LDAP binds: the DN kept, the simple-bind password fingerprinted, anonymous/unauthenticated
and SASL binds noted, StartTLS handed over, each bind exchange answered by its BindResponse;
truth files, tshark `ldap.name`/`ldap.simple`/`ldap.resultCode`, fuzz."""

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
from tests.sensor.protocols.streams import answers, observations, paired
from tests.sensor.test_ntlm import NEGOTIATE, authenticate, spnego
from trustwatch.sensor.flowid import Direction, Endpoint, FlowId
from trustwatch.sensor.protocols.base import ParseError
from trustwatch.sensor.protocols.ldap import LdapExtractor
from trustwatch.sensor.records import (
    AuthenticationOutcome,
    CredentialSeen,
    Observation,
    Outcome,
    Proto,
    SecretKind,
    TlsClientHello,
)
from trustwatch.sensor.secrets import SecretHasher
from trustwatch.sensor.sense import Sensor

KEY = SecretHasher(b"ldap-test-site-key")
FLOW = FlowId(uid="Cldap", transport="tcp", orig=Endpoint("10.30.8.41", 50500, None),
              resp=Endpoint("10.10.1.10", 389, None))
C, S = Direction.ORIG, Direction.RESP


def ber(tag: int, value: bytes) -> bytes:
    length = bytes([len(value)]) if len(value) < 0x80 else b"\x82" + len(value).to_bytes(2, "big")
    return bytes([tag]) + length + value


def bind(dn: bytes, password: bytes, message_id: int = 1) -> bytes:
    return ber(0x30, ber(0x02, bytes([message_id])) + ber(0x60, ber(0x02, b"\x03") + ber(0x04, dn)
                                                          + ber(0x80, password)))


def parse(data: bytes, ext: LdapExtractor | None = None, direction: Direction = Direction.ORIG) -> list[CredentialSeen]:
    found, used = (ext or LdapExtractor(KEY)).parse(FLOW, direction, 1.0, data)
    assert used == len(data)
    return [o for o in found if isinstance(o, CredentialSeen)]


def test_simple_anonymous_and_unauthenticated_binds() -> None:
    (cred,) = parse(bind(b"cn=svc-pacs,ou=services,dc=example", b"W0rklist!"))
    assert cred.username == "cn=svc-pacs,ou=services,dc=example" and cred.mechanism == "simple-bind"
    assert cred.secret_fp == KEY.fingerprint(SecretKind.PASSWORD, "W0rklist!").value
    assert parse(bind(b"", b""))[0].notes == ("anonymous bind",)
    assert parse(bind(b"cn=x", b""))[0].notes == ("unauthenticated bind (DN without password)",)


def bind_with(dn: bytes, authentication: bytes) -> bytes:
    return ber(0x30, ber(0x02, b"\x02") + ber(0x60, ber(0x02, b"\x03") + ber(0x04, dn) + authentication))


def test_ntlm_in_sasl_and_sicily_binds() -> None:
    ext = LdapExtractor(KEY)
    sasl = [bind_with(b"", ber(0xA3, ber(0x04, b"GSS-SPNEGO") + ber(0x04, spnego(token))))
            for token in (NEGOTIATE, authenticate(user="DESKTOP-EVIL$", domain=""))]
    sicily = [bind_with(b"User1", ber(0x8A, NEGOTIATE)), bind_with(b"User1", ber(0x8B, authenticate("User1")))]
    got = [(c.mechanism, c.username, c.domain, c.host, c.secret_kind) for data in sasl + sicily
           for c in parse(data, ext)]
    assert got == [("sasl:GSS-SPNEGO", None, None, None, SecretKind.NONE),
                   ("NTLM", "DESKTOP-EVIL$", None, "PUMP-0042", SecretKind.HASH),
                   ("sicily", "User1", None, None, SecretKind.NONE),
                   ("NTLM", "User1", "WARD3", "PUMP-0042", SecretKind.HASH)]
    assert parse(bind_with(b"", ber(0xA3, ber(0x04, b"NTLM") + ber(0x04, b"NTLMSSP\x00\x03\x00\x00\x00"))), ext)
    assert ext.weirds == ["ntlm_truncated"]


def test_start_tls_is_handed_over() -> None:
    ext = LdapExtractor(KEY)
    parse(ber(0x30, ber(0x02, b"\x01") + ber(0x77, ber(0x80, b"1.3.6.1.4.1.1466.20037"))), ext)
    parse(ber(0x30, ber(0x02, b"\x01") + ber(0x78, ber(0x0A, b"\x00") + ber(0x04, b"") + ber(0x04, b""))), ext,
          Direction.RESP)
    assert ext.upgraded


def test_probe_truncation_and_garbage() -> None:
    data = bind(b"cn=a", b"b")
    assert LdapExtractor.probe(data) and not LdapExtractor.probe(b"\x30\x0c\x02\x01\x01\x04\x06public")
    for cut in range(len(data)):
        assert LdapExtractor(KEY).parse(FLOW, Direction.ORIG, 1.0, data[:cut]) == ([], 0)
    with pytest.raises(ParseError):
        parse(ber(0x30, ber(0x02, b"\x01") + ber(0x60, ber(0x02, b"\x03") + ber(0x04, b"cn=a") + ber(0x99, b"?"))))


@given(st.binary(max_size=200))
def test_fuzz_raises_nothing_but_parse_errors(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        LdapExtractor(KEY).parse(FLOW, Direction.ORIG, 1.0, ber(0x30, data[:120]))


def sensed(path: Path) -> list[object]:
    return list(Sensor(secrets=KEY).read(str(path)))


@needs_real_pcaps
def test_every_bind_of_the_lab_capture(real_pcaps: Path) -> None:
    truth = json.loads((real_pcaps / "lab" / "expected.json").read_text())["ldap.pcap"]["credentials"]
    got = {(c.username or "", c.secret_fp) for c in sensed(real_pcaps / "lab" / "ldap.pcap")
           if isinstance(c, CredentialSeen)}
    for t in truth:
        fp = KEY.fingerprint(SecretKind.PASSWORD, t["simple_password"]).value if t["simple_password"] else None
        assert (t["bind_dn"], fp) in got, t


@needs_real_pcaps
@pytest.mark.parametrize("name", ["lab/ldap.pcap", "zeek/ldap/simpleauth.pcap"])
def test_same_simple_binds_as_tshark(real_pcaps: Path, name: str) -> None:
    out = subprocess.run(["tshark", "-n", "-r", str(real_pcaps / name), "-Y", "ldap.simple", "-T", "fields",
                          "-e", "ldap.name", "-e", "ldap.simple"], capture_output=True, text=True, check=True).stdout
    theirs = {(dn, KEY.fingerprint(SecretKind.PASSWORD, pw).value) for dn, pw in
              (line.split("\t") for line in out.splitlines()) if pw}
    ours = {(c.username, c.secret_fp) for c in sensed(real_pcaps / name)
            if isinstance(c, CredentialSeen) and c.secret_fp}
    assert ours == theirs


@needs_real_pcaps
def test_start_tls_connection_yields_its_tls_handshake(real_pcaps: Path) -> None:
    hellos = [o for o in sensed(real_pcaps / "zeek" / "ldap" / "ldap-starttls.pcap") if isinstance(o, TlsClientHello)]
    assert [h.server_name for h in hellos] == ["ubuntu-01.example.com"]


def bind_response(code: int, diagnostic: bytes = b"", message_id: int = 1) -> bytes:
    """BindResponse: resultCode, matchedDN, diagnosticMessage (RFC 4511 4.2.2)."""
    return ber(0x30, ber(0x02, bytes([message_id])) + ber(0x61, ber(0x0A, bytes([code])) + ber(0x04, b"")
                                                          + ber(0x04, diagnostic)))


AD_52E = b"80090308: LdapErr: DSID-0C09042F, comment: AcceptSecurityContext error, data 52e, v4563\x00"


def exchange(chunks: list[tuple[Direction, bytes]]) -> list[Observation]:
    return observations(LdapExtractor(KEY), FLOW, chunks, close=True)


def test_bind_answers_accepted_refused_with_the_ad_data_code_and_unanswered() -> None:
    found = exchange([(C, bind(b"cn=svc-pacs", b"W0rklist!")), (S, bind_response(0)),
                      (C, bind(b"cn=svc-pacs", b"guess", 2)), (S, bind_response(49, AD_52E, 2)),
                      (C, bind(b"cn=svc-pacs", b"guess", 3)), (S, bind_response(51, b"", 3)),
                      (C, bind(b"cn=svc-pacs", b"guess", 4))])
    assert answers(found) == [(1, "success", "0"), (2, "failure", "49"), (3, "unknown", "51"), (4, "unknown", None)]
    refused, busy, unanswered = (o for o in found if isinstance(o, AuthenticationOutcome) and o.attempt > 1)
    assert refused.reason is not None and refused.reason.startswith(
        "invalidCredentials: data 52e (invalid credentials); 80090308: LdapErr")
    assert (busy.reason, busy.basis) == ("busy", "server error, not a verdict on the credential")
    assert unanswered.basis == "no answer captured"
    assert "W0rklist" not in repr(found) and "guess" not in repr(found)


def test_a_sasl_or_sicily_exchange_is_one_attempt_answered_by_its_last_response() -> None:
    """saslBindInProgress (14) and the success answering sicily's negotiate step do not end the
    exchange; its NEGOTIATE step, without identity, is reported once per connection."""
    def sasl(token: bytes, message_id: int) -> bytes:
        return ber(0x30, ber(0x02, bytes([message_id])) + ber(0x60, ber(0x02, b"\x03") + ber(0x04, b"") + ber(
            0xA3, ber(0x04, b"GSS-SPNEGO") + ber(0x04, spnego(token)))))

    found = exchange([(C, sasl(NEGOTIATE, 1)), (S, bind_response(14, b"", 1)),
                      (C, sasl(authenticate("nurse7"), 2)), (S, bind_response(49, AD_52E, 2)),
                      (C, sasl(NEGOTIATE, 3)), (S, bind_response(14, b"", 3)),
                      (C, sasl(authenticate("nurse7"), 4)), (S, bind_response(0, b"", 4))])
    assert [(c.attempt, c.mechanism, c.username) for c in found if isinstance(c, CredentialSeen)] == [
        (1, "sasl:GSS-SPNEGO", None), (1, "NTLM", "nurse7"), (2, "NTLM", "nurse7")]
    assert answers(found) == [(1, "failure", "49"), (2, "success", "0")]
    sicily = exchange([(C, bind_with(b"User1", ber(0x8A, NEGOTIATE))), (S, bind_response(0, b"", 2)),
                       (C, bind_with(b"User1", ber(0x8B, authenticate("User1")))), (S, bind_response(49, b"", 2))])
    assert answers(sicily) == [(1, "failure", "49")]


def test_a_response_to_a_bind_not_seen_answers_nothing() -> None:
    found = exchange([(S, bind_response(0)), (C, bind(b"cn=a", b"b", 2)), (S, bind_response(0, b"", 7))])
    assert answers(found) == [(1, "unknown", None)]


def test_bind_response_truncated_at_every_byte_waits_and_garbage_is_a_parse_error() -> None:
    response = bind_response(49, AD_52E)
    for cut in range(len(response)):
        ext = LdapExtractor(KEY)
        parse(bind(b"cn=a", b"b"), ext)
        assert ext.parse(FLOW, S, 1.0, response[:cut]) == ([], 0)
    ext = LdapExtractor(KEY)
    parse(bind(b"cn=a", b"b"), ext)
    with pytest.raises(ParseError):
        ext.parse(FLOW, S, 1.0, ber(0x30, ber(0x02, b"\x01") + ber(0x61, ber(0x04, b"not a result code"))))


@given(st.binary(max_size=200))
def test_fuzzed_answers_raise_nothing_but_parse_errors(data: bytes) -> None:
    ext = LdapExtractor(KEY)
    parse(bind(b"cn=a", b"b"), ext)
    with contextlib.suppress(ParseError):
        ext.parse(FLOW, S, 1.0, ber(0x30, ber(0x02, b"\x01") + ber(0x61, data[:120])))


@needs_real_pcaps
def test_outcomes_of_the_lab_binds_equal_the_truth(real_pcaps: Path) -> None:
    """OpenLDAP's answers: every bind accepted or refused as the lab configured it."""
    truth = json.loads((real_pcaps / "lab" / "expected.json").read_text())["ldap.pcap"]["credentials"]
    pairs = paired(sensed(real_pcaps / "lab" / "ldap.pcap"))
    assert sorted((c.username or "", a.outcome == Outcome.SUCCESS) for c, a in pairs) == sorted(
        (t["bind_dn"], t["auth_ok"]) for t in truth)


LDAP_CAPTURES = ["lab/ldap.pcap", "zeek/ldap/simpleauth.pcap", "zeek/ldap/ldap_invalid_credentials.pcap",
                 "zeek/ldap/sasl-ntlm.pcap", "zeek/ldap/aduser1.pcap", "zeek/ldap/aduser1-ntlm.pcap",
                 "suricata-verify/ldap-bind/ldap.pcap"]


@needs_real_pcaps
@pytest.mark.parametrize("name", LDAP_CAPTURES)
def test_bind_outcomes_as_tshark_reads_the_result_codes(real_pcaps: Path, name: str) -> None:
    """tshark's `ldap.resultCode` of each final BindResponse (not saslBindInProgress, not the
    answer to a sicily negotiate step), per client port, against our outcomes' codes."""
    out = subprocess.run(["tshark", "-n", "-r", str(real_pcaps / name), "-Y", "ldap.protocolOp <= 1", "-T", "fields",
                          "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "ldap.messageID", "-e", "ldap.protocolOp",
                          "-e", "ldap.resultCode", "-e", "ldap.authentication"],
                         capture_output=True, text=True, check=True).stdout
    sicily_steps, theirs = set(), Counter[tuple[int, str]]()
    for line in out.splitlines():
        src, dst, message_id, op, code, auth = line.split("\t")
        if op == "0" and auth in ("9", "10"):
            sicily_steps.add((src, message_id))
        elif op == "1" and code != "14" and (dst, message_id) not in sicily_steps:
            theirs[int(dst), code] += 1
    found = sensed(real_pcaps / name)
    ours = Counter((o.flow.orig.port, o.reason_code or "-") for o in found
                   if isinstance(o, AuthenticationOutcome) and o.protocol == Proto.LDAP)
    unanswered = Counter((o.flow.orig.port, "-") for o in found if isinstance(o, AuthenticationOutcome)
                         and o.protocol == Proto.LDAP and o.basis == "no answer captured")
    assert ours and ours - unanswered == theirs


def test_the_probe_never_raises_on_a_long_form_length_past_the_bytes() -> None:
    """`30 85 00 00 00 00 00 02`: a five-byte length form reaching past the eight bytes seen."""
    assert LdapExtractor.probe(bytes.fromhex("3085000000000002")) is False
