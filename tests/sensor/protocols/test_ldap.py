"""LDAP binds: the DN kept, the simple-bind password fingerprinted, anonymous/unauthenticated
and SASL binds noted, StartTLS handed over; truth files, tshark `ldap.name`/`ldap.simple`, fuzz."""

from __future__ import annotations

import contextlib
import json
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import needs_real_pcaps
from tests.sensor.test_ntlm import NEGOTIATE, authenticate, spnego
from trustwatch.sensor.flowid import Direction, Endpoint, FlowId
from trustwatch.sensor.protocols.base import ParseError
from trustwatch.sensor.protocols.ldap import LdapExtractor
from trustwatch.sensor.records import CredentialSeen, SecretKind, TlsClientHello
from trustwatch.sensor.secrets import SecretHasher
from trustwatch.sensor.sense import Sensor

KEY = SecretHasher(b"ldap-test-site-key")
FLOW = FlowId(uid="Cldap", transport="tcp", orig=Endpoint("10.30.8.41", 50500, None),
              resp=Endpoint("10.10.1.10", 389, None))


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


def test_the_probe_never_raises_on_a_long_form_length_past_the_bytes() -> None:
    """`30 85 00 00 00 00 00 02`: a five-byte length form reaching past the eight bytes seen."""
    assert LdapExtractor.probe(bytes.fromhex("3085000000000002")) is False
