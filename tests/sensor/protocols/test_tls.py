"""TLS / DTLS extractor: hand-made handshakes with a comment per layer, every truncation,
garbage, fuzzing, and the identity facts (certificates, who sent them, TLS 1.3 inference).

JA3 / JA3S expectations were checked against tshark 4.0.17 while developing: the fixtures
below were written into a pcap with scapy (client 10.0.0.1:50000 -> server 10.0.0.2:443)
and `tshark -T fields -e tls.handshake.ja3_full -e tls.handshake.ja3 -e
tls.handshake.ja3s_full -e tls.handshake.ja3s` printed exactly the values asserted here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import TCP
from scapy.utils import rdpcap

from tests.conftest import REAL_PCAPS, needs_real_pcaps
from trustwatch.sensor.flowid import Direction, Endpoint, FlowId
from trustwatch.sensor.protocols.base import ParseError
from trustwatch.sensor.protocols.tls import DtlsExtractor, TlsExtractor
from trustwatch.sensor.protocols.tls13_inference import infer_mutual_auth
from trustwatch.sensor.protocols.tls_certificates import dn_to_rfc4514
from trustwatch.sensor.records import (
    AuthenticationOutcome,
    Outcome,
    Proto,
    TlsCertificateRequest,
    TlsClientCertificate,
    TlsClientHello,
    TlsEncryptedHandshake,
    TlsServerCertificate,
    TlsServerHello,
)

ORIG, RESP = Direction.ORIG, Direction.RESP
FLOW = FlowId(uid="Ctls1", transport="tcp", orig=Endpoint("10.0.0.1", 50000),
              resp=Endpoint("10.0.0.2", 443))
UDP_FLOW = FlowId(uid="Cdtls1", transport="udp", orig=Endpoint("10.0.0.1", 50000),
                  resp=Endpoint("10.0.0.2", 4433))


def h(text: str) -> bytes:
    """Hex with spaces and comments allowed (everything after # on a line is dropped)."""
    return bytes.fromhex("".join(line.split("#")[0] for line in text.splitlines()))


def u(n: int, size: int) -> bytes:
    return n.to_bytes(size, "big")


def record(ctype: int, body: bytes, version: int = 0x0303) -> bytes:
    """A TLS record: type, version, length (RFC 5246 6.2.1)."""
    return bytes([ctype]) + u(version, 2) + u(len(body), 2) + body


def handshake(msg_type: int, body: bytes) -> bytes:
    """A handshake message: type, 24-bit length (RFC 5246 7.4)."""
    return bytes([msg_type]) + u(len(body), 3) + body


# --- fixtures -----------------------------------------------------------------------------

CLIENT_HELLO = h("""
16 0301 0089                  # record layer: handshake, TLS 1.0 record version, 137 bytes
01 000085                     # handshake: ClientHello, 133 bytes
0303                          # client_version TLS 1.2 (legacy)
5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a  # random
00                            # session_id: empty
0008 0a0a 1301 c02f 002f      # cipher_suites: GREASE, AES128-GCM (1.3), ECDHE-RSA-AES128-GCM, AES128-SHA
01 00                         # compression_methods: null
0054                          # extensions: 84 bytes
1a1a 0000                     # GREASE extension, empty
0000 0011 000f 00 000c 706163732e6578616d706c65  # server_name: host_name "pacs.example"
000a 0008 0006 0a0a 001d 0017 # supported_groups: GREASE, x25519, secp256r1
000b 0002 01 00               # ec_point_formats: uncompressed
000d 0008 0006 0403 0804 0401 # signature_algorithms
0010 000e 000c 02 6832 08 687474702f312e31  # ALPN: "h2", "http/1.1"
002b 0007 06 0a0a 0304 0303   # supported_versions: GREASE, TLS 1.3, TLS 1.2
""")
CLIENT_HELLO_JA3 = "771,4865-49199-47,0-10-11-13-16-43,29-23,0"  # tshark: same, GREASE gone
CLIENT_HELLO_JA3_MD5 = "6bfe35123df20afcf42aa008b0081ebf"  # tshark tls.handshake.ja3

SERVER_HELLO = h("""
02 00003c                     # handshake: ServerHello, 60 bytes
0303                          # server_version TLS 1.2
7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b  # random
00                            # session_id: empty
c02f                          # cipher_suite TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
00                            # compression_method: null
0014                          # extensions: 20 bytes
ff01 0001 00                  # renegotiation_info: empty
000b 0002 01 00               # ec_point_formats: uncompressed
0010 0005 0003 02 6832        # ALPN: "h2"
""")
SERVER_HELLO_JA3S = "771,49199,65281-11-16"
SERVER_HELLO_JA3S_MD5 = "1089ea6f0461a29006cc96dfe7a11d80"  # tshark tls.handshake.ja3s
SERVER_HELLO_DONE = h("0e 000000")  # handshake: ServerHelloDone, empty


def _name(cn: str, org: str = "St Example Hospital") -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey,
          signer: ec.EllipticCurvePrivateKey, serial: int, sans: list[str]) -> bytes:
    """A certificate with fixed keys and dates (ECDSA signatures vary; hashes are taken
    from the DER in each test, never hard-coded)."""
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
               .public_key(key.public_key()).serial_number(serial)
               .not_valid_before(dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
               .not_valid_after(dt.datetime(2026, 1, 1, tzinfo=dt.UTC)))
    if sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=False)
    return builder.sign(signer, hashes.SHA256()).public_bytes(Encoding.DER)


CA_KEY = ec.derive_private_key(0xC0FFEE, ec.SECP256R1())
SERVER_KEY = ec.derive_private_key(0x5E4E4, ec.SECP256R1())
DEVICE_KEY = ec.derive_private_key(0xDE71CE, ec.SECP384R1())
CA_NAME = _name("Example Root CA")
CA_DER = _cert(CA_NAME, CA_NAME, CA_KEY, CA_KEY, 0x1001, [])
SERVER_DER = _cert(_name("pacs.example"), CA_NAME, SERVER_KEY, CA_KEY, 0x00AB12, ["pacs.example"])
DEVICE_DER = _cert(_name("infusion-pump-042", "Pump Vendor"), CA_NAME, DEVICE_KEY, CA_KEY,
                   0x42, [])
BAD_DER = h("30 03 020101")  # a SEQUENCE holding an INTEGER: DER, but no certificate


def certificate_msg(*ders: bytes) -> bytes:
    """Certificate (RFC 5246 7.4.2): 24-bit list length, each certificate 24-bit length."""
    chain = b"".join(u(len(d), 3) + d for d in ders)
    return handshake(11, u(len(chain), 3) + chain)


def certificate_request(*ca_ders: bytes) -> bytes:
    """CertificateRequest (TLS 1.2, RFC 5246 7.4.4)."""
    names = b"".join(u(len(d), 2) + d for d in ca_ders)
    return handshake(13, h("01 40")  # certificate_types: ecdsa_sign
                     + h("0004 0403 0804")  # supported_signature_algorithms
                     + u(len(names), 2) + names)


CA_NAME_DER = CA_NAME.public_bytes()
SERVER_FLIGHT = record(22, SERVER_HELLO + certificate_msg(SERVER_DER, CA_DER)
                       + certificate_request(CA_NAME_DER) + SERVER_HELLO_DONE)
"""The server's first flight in one record: ServerHello, Certificate, CertificateRequest,
ServerHelloDone."""
CLIENT_KEY_EXCHANGE = handshake(16, h("41") + bytes(65))  # ClientKeyExchange, ECDH point
CCS = record(20, h("01"))  # change_cipher_spec
ENCRYPTED_FINISHED = record(22, bytes(40))  # Finished under the new keys: opaque
CLIENT_FLIGHT = (record(22, certificate_msg(DEVICE_DER) + CLIENT_KEY_EXCHANGE)
                 + CCS + ENCRYPTED_FINISHED)


def parse_all(ext: TlsExtractor, direction: Direction, data: bytes) -> list[object]:
    """Feed a whole direction's bytes; every byte must be consumed."""
    found, used = ext.parse(FLOW, direction, 1.0, data)
    assert used == len(data)
    return list(found)


# --- 1. hex fixtures ----------------------------------------------------------------------


def test_client_hello_fixture() -> None:
    (hello,) = parse_all(TlsExtractor(), ORIG, CLIENT_HELLO)
    assert isinstance(hello, TlsClientHello)
    assert hello.protocol is Proto.TLS
    assert hello.server_name == "pacs.example"
    assert hello.alpn == ("h2", "http/1.1")
    assert hello.versions == ("1.3", "1.2")  # GREASE left out
    assert hello.ja3 == CLIENT_HELLO_JA3
    assert hello.ja3_hash == CLIENT_HELLO_JA3_MD5 == hashlib.md5(CLIENT_HELLO_JA3.encode()).hexdigest()
    # JA4 by the FoxIO spec: t, 13 (highest supported_version), d (SNI), 03 ciphers and
    # 06 extensions without GREASE, h2; then sha256[:12] of the sorted ciphers, and of the
    # sorted extensions without SNI/ALPN "_" the signature algorithms in wire order.
    b = hashlib.sha256(b"002f,1301,c02f").hexdigest()[:12]
    c = hashlib.sha256(b"000a,000b,000d,002b_0403,0804,0401").hexdigest()[:12]
    assert hello.ja4 == f"t13d0306h2_{b}_{c}"


def test_server_flight_fixture() -> None:
    ext = TlsExtractor()
    parse_all(ext, ORIG, CLIENT_HELLO)
    found = parse_all(ext, RESP, SERVER_FLIGHT)
    server_hello, cert, request = found
    assert isinstance(server_hello, TlsServerHello)
    assert (server_hello.version, server_hello.cipher, server_hello.alpn) == (
        "1.2", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "h2")
    assert server_hello.ja3s == SERVER_HELLO_JA3S
    assert server_hello.ja3s_hash == SERVER_HELLO_JA3S_MD5
    assert isinstance(cert, TlsServerCertificate)
    leaf, ca = cert.chain
    assert leaf.sha1 == hashlib.sha1(SERVER_DER).hexdigest()
    assert leaf.sha256 == hashlib.sha256(SERVER_DER).hexdigest()
    assert leaf.subject == "CN=pacs.example,O=St Example Hospital,C=US"
    assert leaf.subject_cn == "pacs.example"
    assert leaf.issuer == "CN=Example Root CA,O=St Example Hospital,C=US"
    assert leaf.serial == "AB12"  # upper-case hex, no leading zeros
    assert (leaf.not_before, leaf.not_after) == ("2024-01-01T00:00:00Z", "2026-01-01T00:00:00Z")
    assert (leaf.key_type, leaf.key_bits) == ("EC", 256)
    assert (leaf.signature_algorithm, leaf.signature_hash) == ("ecdsa-with-SHA256", "sha256")
    assert leaf.sans == ("DNS:pacs.example",)
    assert leaf.version == 3 and leaf.parsed
    assert not leaf.self_signed and ca.self_signed
    assert isinstance(request, TlsCertificateRequest)
    assert request.ca_names == ("CN=Example Root CA,O=St Example Hospital,C=US",)


def test_client_certificate_is_the_device_identity() -> None:
    ext = TlsExtractor()
    parse_all(ext, ORIG, CLIENT_HELLO)
    parse_all(ext, RESP, SERVER_FLIGHT)
    (cert,) = parse_all(ext, ORIG, CLIENT_FLIGHT)
    assert isinstance(cert, TlsClientCertificate)
    assert cert.leaf.subject_cn == "infusion-pump-042"
    assert (cert.leaf.key_type, cert.leaf.key_bits) == ("EC", 384)
    assert cert.attempt == 1  # an authentication attempt: the server's answer follows
    assert not ext.finished  # the server has not switched to encryption yet
    parse_all(ext, RESP, CCS + ENCRYPTED_FINISHED)
    assert not ext.finished  # its answer is not read yet: application data both ways
    (outcome,) = parse_all(ext, ORIG, record(23, bytes(40))) + parse_all(ext, RESP, record(23, bytes(80)))
    assert isinstance(outcome, AuthenticationOutcome) and outcome.outcome is Outcome.SUCCESS
    assert ext.finished


# --- 2. every truncation waits ------------------------------------------------------------


@pytest.mark.parametrize("data", [CLIENT_HELLO, SERVER_FLIGHT], ids=["client", "server"])
def test_every_truncation_waits(data: bytes) -> None:
    for cut in range(len(data)):
        assert TlsExtractor().parse(FLOW, ORIG, 0.0, data[:cut]) == ([], 0), cut


def test_truncated_second_record_consumes_only_the_first() -> None:
    ext = TlsExtractor()
    data = CLIENT_HELLO + SERVER_FLIGHT[:10]
    found, used = ext.parse(FLOW, ORIG, 0.0, data)
    assert used == len(CLIENT_HELLO) and len(found) == 1


# --- 3. garbage raises ParseError ---------------------------------------------------------


@pytest.mark.parametrize(("data", "weird"), [
    (h("63 0303 0001 00"), "tls_unknown_content_type"),
    (h("16 0503 0004 01000000"), "tls_bad_record_version"),
    (h("16 0303 ffff"), "tls_bad_record_len"),
    (h("16 0303 0000"), "tls_bad_record_len"),
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "tls_unknown_content_type"),
    (record(22, h("01 ffffff")), "tls_handshake_too_large"),
    # ClientHello whose cipher_suites length (3) is odd
    (record(22, handshake(1, h("0303") + bytes(32) + h("00 0003 c02f00 0100"))),
     "tls_bad_client_hello"),
    # ServerHello cut inside the random
    (record(22, handshake(2, h("0303") + bytes(10))), "tls_bad_server_hello"),
    # Certificate whose list length claims more than the message holds
    (record(22, handshake(11, h("000010 000003 aabbcc"))), "tls_bad_certificate_msg"),
])
def test_garbage_raises(data: bytes, weird: str) -> None:
    with pytest.raises(ParseError, match=f"^{weird}$"):
        TlsExtractor().parse(FLOW, ORIG, 0.0, data)


def test_unknown_values_keep_their_number() -> None:
    body = (h("0303") + bytes(32) + h("00") + h("0002 abcd") + h("0100")
            + h("0008 fe99 0004 deadbeef"))  # an unknown cipher and an unknown extension
    (hello,) = parse_all(TlsExtractor(), ORIG, record(22, handshake(1, body)))
    assert isinstance(hello, TlsClientHello)
    assert hello.ja3 == "771,43981,65177,,"
    assert hello.server_name is None and hello.alpn == ()


# --- 4. fuzzing: nothing but ParseError ---------------------------------------------------

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WHOLE_HANDSHAKE = CLIENT_HELLO + SERVER_FLIGHT + CLIENT_FLIGHT


def _feed(ext: TlsExtractor | DtlsExtractor, chunks: list[tuple[Direction, bytes]]) -> None:
    flow = UDP_FLOW if isinstance(ext, DtlsExtractor) else FLOW
    for direction, data in chunks:
        try:
            found, used = ext.parse(flow, direction, 0.0, data)
        except ParseError:
            return
        assert 0 <= used <= len(data)
        assert isinstance(found, list)
    ext.close(flow, 1.0)


@FUZZ
@given(st.lists(st.tuples(st.sampled_from([ORIG, RESP]), st.binary(max_size=300)), max_size=6))
def test_fuzz_binary_tls(chunks: list[tuple[Direction, bytes]]) -> None:
    _feed(TlsExtractor(), chunks)


@FUZZ
@given(st.lists(st.tuples(st.sampled_from([ORIG, RESP]), st.binary(max_size=300)), max_size=6))
def test_fuzz_binary_dtls(chunks: list[tuple[Direction, bytes]]) -> None:
    _feed(DtlsExtractor(), [(d, b"\x16\xfe\xfd" + c) for d, c in chunks])
    _feed(DtlsExtractor(), chunks)


def _mutated(data: bytes) -> st.SearchStrategy[bytes]:
    """A valid handshake with a few bytes overwritten (lengths, types, values)."""
    return st.lists(st.tuples(st.integers(0, len(data) - 1), st.integers(0, 255)),
                    min_size=1, max_size=4).map(lambda edits: _apply(data, edits))


def _apply(data: bytes, edits: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for pos, value in edits:
        out[pos] = value
    return bytes(out)


@FUZZ
@given(_mutated(CLIENT_HELLO + SERVER_FLIGHT))
def test_fuzz_mutated_tls_handshake(data: bytes) -> None:
    split = len(CLIENT_HELLO)
    _feed(TlsExtractor(), [(ORIG, data[:split]), (RESP, data[split:])])
    _feed(TlsExtractor(), [(RESP, data)])


# --- handshake shapes ---------------------------------------------------------------------


def test_chain_spanning_records_and_segments() -> None:
    """A Certificate message cut into three records, delivered in odd-sized pieces."""
    msg = SERVER_HELLO + certificate_msg(SERVER_DER, CA_DER) + SERVER_HELLO_DONE
    thirds = [msg[: len(msg) // 3], msg[len(msg) // 3 : 2 * len(msg) // 3], msg[2 * len(msg) // 3 :]]
    stream = b"".join(record(22, part) for part in thirds)
    ext, found, buf = TlsExtractor(), [], b""
    for i in range(0, len(stream), 97):  # TCP segments that ignore record boundaries
        buf += stream[i : i + 97]
        got, used = ext.parse(FLOW, RESP, 0.0, buf)
        found += got
        buf = buf[used:]
    assert buf == b""
    certs = [o for o in found if isinstance(o, TlsServerCertificate)]
    assert [c.sha1 for c in certs[0].chain] == [hashlib.sha1(SERVER_DER).hexdigest(),
                                                 hashlib.sha1(CA_DER).hexdigest()]


def test_handshake_larger_than_the_bound_is_refused() -> None:
    header = record(22, h("0b 020000"))  # Certificate of 128 KiB announced
    with pytest.raises(ParseError, match="tls_handshake_too_large"):
        TlsExtractor().parse(FLOW, RESP, 0.0, header)


def test_sender_of_client_hello_is_the_client_whatever_the_direction() -> None:
    """Capture started mid-way (or a reverse connection): the ClientHello came from RESP."""
    ext = TlsExtractor()
    parse_all(ext, RESP, CLIENT_HELLO)
    (server_cert,) = [o for o in parse_all(ext, ORIG, SERVER_FLIGHT)
                      if isinstance(o, TlsServerCertificate | TlsClientCertificate)]
    assert isinstance(server_cert, TlsServerCertificate)
    (client_cert,) = parse_all(ext, RESP, CLIENT_FLIGHT)
    assert isinstance(client_cert, TlsClientCertificate)


def test_without_hellos_orig_is_the_client() -> None:
    (cert,) = parse_all(TlsExtractor(), ORIG, record(22, certificate_msg(DEVICE_DER)))
    assert isinstance(cert, TlsClientCertificate)


def test_empty_client_certificate_emits_nothing() -> None:
    ext = TlsExtractor()
    parse_all(ext, ORIG, CLIENT_HELLO)
    assert parse_all(ext, ORIG, record(22, certificate_msg() + CLIENT_KEY_EXCHANGE)) == []


def test_unparsable_certificate_is_kept_by_its_hash() -> None:
    ext = TlsExtractor()
    parse_all(ext, ORIG, CLIENT_HELLO)
    (cert,) = parse_all(ext, ORIG, record(22, certificate_msg(BAD_DER, CA_DER)))
    assert isinstance(cert, TlsClientCertificate)
    bad, good = cert.chain
    assert bad.sha1 == hashlib.sha1(BAD_DER).hexdigest()
    assert bad.sha256 == hashlib.sha256(BAD_DER).hexdigest()
    assert not bad.parsed and bad.subject == "" and good.parsed
    assert ext.weirds == ["tls_bad_x509"]


def test_after_change_cipher_spec_records_are_skipped_whole() -> None:
    ext = TlsExtractor()
    parse_all(ext, ORIG, CLIENT_HELLO)
    # An encrypted "handshake" record that would be garbage if it were parsed.
    junk = record(22, h("01 ffffff") + bytes(20)) + record(23, bytes(300))
    assert parse_all(ext, ORIG, CCS + junk) == []


def test_dn_that_is_not_der_becomes_hex() -> None:
    assert dn_to_rfc4514(h("0a0b0c")) == "0a0b0c"
    assert dn_to_rfc4514(CA_NAME_DER) == "CN=Example Root CA,O=St Example Hospital,C=US"


def test_sslv2_client_hello_does_not_crash() -> None:
    sslv2 = h("""
    802e                  # SSLv2 record: 2-byte header with the high bit set, 46 bytes
    01 0301               # CLIENT-HELLO, version TLS 1.0
    0015 0000 0010        # cipher_specs 21 bytes, session_id 0, challenge 16
    """) + bytes(21) + bytes(16)
    assert TlsExtractor.probe(sslv2)
    assert parse_all(TlsExtractor(), ORIG, sslv2) == []


# --- probe --------------------------------------------------------------------------------


def test_probe_accepts_hellos_only() -> None:
    assert TlsExtractor.probe(CLIENT_HELLO[:16])
    assert TlsExtractor.probe(record(22, SERVER_HELLO)[:16])
    assert not TlsExtractor.probe(record(22, SERVER_HELLO_DONE))  # not a hello
    assert not TlsExtractor.probe(record(23, bytes(20)))
    for text in (b"220 mail.example ESMTP ready\r\n", b"* OK [CAPABILITY IMAP4rev1] ready\r\n",
                 b"+OK POP3 ready\r\n", b"STARTTLS\r\n", b"\x16\x03", b""):
        assert not TlsExtractor.probe(text), text


# --- TLS 1.3 ------------------------------------------------------------------------------

SERVER_HELLO_13 = record(22, h("""
02 000056                     # handshake: ServerHello, 86 bytes
0303                          # legacy_version TLS 1.2
3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c  # random
00                            # legacy_session_id_echo: empty
1301                          # cipher_suite TLS_AES_128_GCM_SHA256
00                            # legacy_compression_method
002e                          # extensions: 46 bytes
002b 0002 0304                # supported_versions: TLS 1.3 chosen
0033 0024 001d 0020 """ + "11" * 32 + """  # key_share: x25519 public key
"""))
HRR = record(22, h("""
02 000034                     # handshake: ServerHello (HelloRetryRequest), 52 bytes
0303
cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c  # the HRR random
00 1301 00
000c                          # extensions: 12 bytes
002b 0002 0304                # supported_versions: TLS 1.3
0033 0002 0017                # key_share: selected group secp256r1
"""))


def app_data(*sizes: int) -> bytes:
    return b"".join(record(23, bytes(n)) for n in sizes)


def run_13(server_sizes: tuple[int, ...], client_sizes: tuple[int, ...]) -> TlsExtractor:
    ext = TlsExtractor()
    parse_all(ext, ORIG, CLIENT_HELLO)
    found = parse_all(ext, RESP, SERVER_HELLO_13 + CCS + app_data(*server_sizes))
    assert [type(o) for o in found] == [TlsServerHello]
    return ext


@pytest.mark.parametrize(("client", "verdict"), [
    ((53,), "unlikely"),                 # Finished alone (SHA-256 suite)
    ((53, 120, 400), "unlikely"),        # Finished, then application data
    ((25, 53), "unlikely"),              # empty Certificate (OpenSSL: own record), Finished
    ((61,), "unlikely"),                 # empty Certificate + Finished in one record
    ((1688, 96, 53), "likely"),          # OpenSSL: Certificate, CertificateVerify, Finished
    ((1400,), "likely"),                 # BoringSSL/Go: all three in one record
    ((40,), "unknown"),                  # smaller than a Finished: padding or odd stack
])
def test_tls13_mutual_auth_inference(client: tuple[int, ...], verdict: str) -> None:
    ext = run_13((6, 2400, 264, 53), ())
    (obs,) = parse_all(ext, ORIG, CCS + app_data(*client))
    assert isinstance(obs, TlsEncryptedHandshake)
    assert (obs.version, obs.mutual_auth) == ("1.3", verdict)
    assert 0.0 <= obs.confidence <= 1.0 and obs.reasons
    if verdict == "likely":  # a certificate, most probably: the server's answer is awaited
        assert not ext.finished
        (answer,) = ext.close(FLOW, 2.0)
        assert isinstance(answer, AuthenticationOutcome) and answer.outcome is Outcome.UNKNOWN
    else:
        assert ext.finished
        assert ext.close(FLOW, 2.0) == []  # said once


def test_tls13_sha384_finished_is_69_bytes() -> None:
    assert infer_mutual_auth(0x1302, [2000], [69])[0] == "unlikely"
    assert infer_mutual_auth(0x1301, [2000], [69])[0] == "unlikely"  # too small for a cert
    assert infer_mutual_auth(0x1302, [2000], [69])[1] > infer_mutual_auth(0x1301, [2000], [69])[1]


def test_tls13_early_data_is_not_the_client_flight() -> None:
    ext = TlsExtractor()
    parse_all(ext, ORIG, CLIENT_HELLO + CCS + app_data(900))  # 0-RTT before the server spoke
    parse_all(ext, RESP, SERVER_HELLO_13 + app_data(2400))
    (obs,) = parse_all(ext, ORIG, app_data(53))
    assert isinstance(obs, TlsEncryptedHandshake) and obs.mutual_auth == "unlikely"


def test_tls13_connection_closed_before_the_client_flight() -> None:
    ext = run_13((2400,), ())
    (obs,) = ext.close(FLOW, 3.0)
    assert isinstance(obs, TlsEncryptedHandshake) and obs.mutual_auth == "unknown"
    assert obs.confidence == 0.0


def test_tls13_inference_never_comes_with_nothing_used() -> None:
    """A fuzz finding: the client's flight, then garbage (its ParseError came before the
    inference), then half a server record: the inference came back with 0 bytes used, which the
    dispatcher drops, and was never given again. Now it comes with bytes used, or at close."""
    ext = run_13((2400,), ())
    with pytest.raises(ParseError, match="tls_unknown_content_type"):
        ext.parse(FLOW, ORIG, 1.0, app_data(53) + h("63 0303 0000"))
    assert ext.parse(FLOW, RESP, 1.0, app_data(300)[:100]) == ([], 0)
    (obs,) = ext.close(FLOW, 2.0)
    assert isinstance(obs, TlsEncryptedHandshake) and obs.mutual_auth == "unlikely"


def test_hello_retry_request_then_second_client_hello() -> None:
    ext = TlsExtractor()
    parse_all(ext, ORIG, CLIENT_HELLO)
    assert parse_all(ext, RESP, HRR) == []  # not the final ServerHello
    second = parse_all(ext, ORIG, CCS + CLIENT_HELLO)  # compat CCS must not hide it
    assert [type(o) for o in second] == [TlsClientHello]
    (server_hello,) = parse_all(ext, RESP, SERVER_HELLO_13)
    assert isinstance(server_hello, TlsServerHello) and server_hello.version == "1.3"


# --- DTLS ---------------------------------------------------------------------------------


def dtls_record(ctype: int, body: bytes, epoch: int = 0, seq: int = 0) -> bytes:
    """DTLS record: type, version 1.2, epoch, 48-bit sequence, length (RFC 6347 4.1)."""
    return bytes([ctype]) + h("fefd") + u(epoch, 2) + u(seq, 6) + u(len(body), 2) + body


def dtls_fragment(msg: bytes, seq: int, start: int, end: int) -> bytes:
    """One fragment of a TLS-style handshake message with the DTLS 12-byte header."""
    body = msg[4:]
    return (msg[:1] + u(len(body), 3) + u(seq, 2) + u(start, 3) + u(end - start, 3)
            + body[start:end])


DTLS_CLIENT_HELLO_BODY = (h("fefd") + bytes(32) + h("00")  # version, random, session_id
                          + h("08") + b"cookie42"  # cookie (RFC 6347 4.2.1)
                          + h("0004 c02b c0ff 0100")  # ciphers, compression
                          + h("0011 0000 000d 000b 00 0008") + b"sip.test")  # SNI
DTLS_CLIENT_HELLO = handshake(1, DTLS_CLIENT_HELLO_BODY)
STUN_BINDING = h("0001 0000 2112a442") + bytes(12)  # STUN binding request, magic cookie


def test_dtls_probe() -> None:
    assert DtlsExtractor.probe(dtls_record(22, dtls_fragment(DTLS_CLIENT_HELLO, 0, 0, 10)))
    assert not DtlsExtractor.probe(STUN_BINDING)
    assert not DtlsExtractor.probe(CLIENT_HELLO)


def test_dtls_fragments_are_reassembled_and_stun_skipped() -> None:
    ext = DtlsExtractor()
    n = len(DTLS_CLIENT_HELLO) - 4
    datagrams = [
        (ORIG, STUN_BINDING),
        (ORIG, dtls_record(22, dtls_fragment(DTLS_CLIENT_HELLO, 0, 30, n), seq=1)),
        (ORIG, h("80 00 1234") + bytes(20)),  # RTP multiplexed on the same port
        (ORIG, dtls_record(22, dtls_fragment(DTLS_CLIENT_HELLO, 0, 0, 30), seq=0)),
        (ORIG, dtls_record(22, dtls_fragment(DTLS_CLIENT_HELLO, 0, 0, 30), seq=2)),  # resent
    ]
    found = []
    for direction, dgram in datagrams:
        got, used = ext.parse(UDP_FLOW, direction, 0.0, dgram)
        assert used == len(dgram)
        found += got
    (hello,) = found
    assert isinstance(hello, TlsClientHello) and hello.protocol is Proto.DTLS
    assert hello.server_name == "sip.test" and hello.versions == ("dtls1.2",)
    assert hello.ja4.startswith("dd2d0201")


def test_dtls_client_certificate_across_datagrams() -> None:
    ext = DtlsExtractor()
    ext.parse(UDP_FLOW, RESP, 0.0, dtls_record(22, dtls_fragment(DTLS_CLIENT_HELLO, 0, 0,
                                                                  len(DTLS_CLIENT_HELLO) - 4)))
    msg = certificate_msg(DEVICE_DER)
    n = len(msg) - 4
    first, _ = ext.parse(UDP_FLOW, RESP, 0.0, dtls_record(22, dtls_fragment(msg, 1, 0, 200)))
    assert first == []
    second, _ = ext.parse(UDP_FLOW, RESP, 0.0, dtls_record(22, dtls_fragment(msg, 1, 200, n)))
    (cert,) = second
    assert isinstance(cert, TlsClientCertificate)  # RESP sent the ClientHello
    assert cert.leaf.sha1 == hashlib.sha1(DEVICE_DER).hexdigest()


@pytest.mark.parametrize(("dgram", "weird"), [
    (h("16 fefd 0000"), "dtls_bad_record_len"),
    (h("16 0303 0000 000000000000 0000"), "dtls_bad_record_version"),
    (dtls_record(22, b"")[:-2] + h("0100"), "dtls_bad_record_len"),
    (dtls_record(22, h("01 000010 0000 000000 000020") + bytes(32)), "dtls_bad_fragment"),
    (dtls_record(22, h("01 ffffff 0000 000000 000001 00")), "dtls_handshake_too_large"),
    (h("1a fefd") + bytes(11), "dtls_unknown_content_type"),
])
def test_dtls_garbage_raises(dgram: bytes, weird: str) -> None:
    with pytest.raises(ParseError, match=f"^{weird}$"):
        DtlsExtractor().parse(UDP_FLOW, ORIG, 0.0, dgram)


# --- real capture (never copied here) -----------------------------------------------------


@needs_real_pcaps
def test_real_client_hello_matches_peer_fingerprints() -> None:
    """FoxIO's tls12.pcap holds one Firefox ClientHello; FoxIO's own JA4 output and
    tshark's JA3 for it are in the captures' expected.json."""
    assert REAL_PCAPS is not None
    path = Path(REAL_PCAPS) / "foxio-ja4" / "pcap" / "tls12.pcap"
    expected = json.loads((Path(REAL_PCAPS) / "expected.json").read_text())
    (tshark_ja3,) = {j["ja3"] for j in expected["foxio-ja4/pcap/tls12.pcap"]["ja3"]}
    payload = bytes(next(p for p in rdpcap(str(path)) if TCP in p)[TCP].payload)
    (hello,) = parse_all(TlsExtractor(), ORIG, payload)
    assert isinstance(hello, TlsClientHello)
    assert hello.server_name == "contile.services.mozilla.com"
    assert hello.ja4 == "t13d1715h2_5b57614c22b0_3d5424432f57"  # FoxIO testdata
    assert hello.ja3_hash == tshark_ja3


DTLS_FLIGHT = [dtls_record(22, dtls_fragment(DTLS_CLIENT_HELLO, 0, 0, len(DTLS_CLIENT_HELLO) - 4)),
               dtls_record(22, dtls_fragment(certificate_msg(DEVICE_DER), 1, 0, 150), seq=1)]


@FUZZ
@given(_mutated(DTLS_FLIGHT[0]), _mutated(DTLS_FLIGHT[1]))
def test_fuzz_mutated_dtls_handshake(hello: bytes, cert: bytes) -> None:
    _feed(DtlsExtractor(), [(ORIG, hello), (RESP, cert), (ORIG, DTLS_FLIGHT[1])])


def test_compat_ccs_without_server_side_keeps_second_client_hello() -> None:
    """Only the client side was captured: CCS then a second ClientHello (after an unseen
    HelloRetryRequest) is still read; a TLS 1.2 CCS then encrypted Finished is skipped."""
    ext = TlsExtractor()
    found = parse_all(ext, ORIG, CLIENT_HELLO + CCS + CLIENT_HELLO)
    assert [type(o) for o in found] == [TlsClientHello, TlsClientHello]
    ext = TlsExtractor()
    finished = record(22, h("0b 000002 0303") + bytes(34))  # ciphertext that looks odd
    assert len(parse_all(ext, ORIG, CLIENT_HELLO + CCS + finished + CCS)) == 1
