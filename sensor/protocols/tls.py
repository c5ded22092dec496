"""TLS and DTLS handshakes: who offers what, who proves what with which certificate.

Protocol: TLS 1.0-1.3 over TCP (RFC 5246 6.2 record layer, 7.4 handshake; RFC 8446 4),
DTLS 1.0/1.2/1.3 over UDP (RFC 6347 4.1-4.2, RFC 9147 4), X.509 certificates (RFC 5280 4.1).

Emits, per connection:

* `TlsClientHello` for each ClientHello (also the second one after a HelloRetryRequest, and
  DTLS's cookie retry): SNI, ALPN, offered versions, JA3 (as Wireshark 4.0's
  `tls.handshake.ja3`) and JA4 (FoxIO, BSD-3; JA4S/JA4X/... are not implemented: licence);
* `TlsServerHello` for the final ServerHello: version, cipher, ALPN, JA3S;
* `TlsCertificateRequest` when the server asks for a client certificate (TLS <= 1.2);
* `TlsClientCertificate` / `TlsServerCertificate` for every non-empty Certificate message in
  clear (TLS <= 1.2, DTLS <= 1.2), the sender being the side that sent the ClientHello;
* `TlsEncryptedHandshake` for TLS 1.3: certificates are encrypted (RFC 8446 4.4.2), so
  mutual authentication is inferred from the sizes of the encrypted flights.

The record layer is read whole records at a time; handshake messages are reassembled across
records (TLS) or fragments (DTLS), bounded by `MAX_HANDSHAKE_MSG`.
"""

from __future__ import annotations

import functools
import hashlib
import struct
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.x509.oid import NameOID, ObjectIdentifier

from ..flowid import Direction, FlowId
from ..records import (
    CERT_CACHE_SIZE,
    Observation,
    Proto,
    TlsCertificateRequest,
    TlsClientCertificate,
    TlsClientHello,
    TlsEncryptedHandshake,
    TlsServerCertificate,
    TlsServerHello,
    X509Cert,
)
from ..secrets import EPHEMERAL, SecretHasher
from .base import Extractor, ParseError

# --- limits -------------------------------------------------------------------------------

BUDGET = 256 * 1024
"""Bytes per direction worth inspecting: a handshake with a long chain fits many times."""
MAX_RECORD_LEN = 2**14 + 2048
"""Largest TLSCiphertext fragment (RFC 5246 6.2.3); a longer record is not TLS."""
MAX_HANDSHAKE_MSG = 102_400
"""Largest handshake message we reassemble: OpenSSL's default max_cert_list."""
MAX_CHAIN = 32
"""Certificates kept per Certificate message; real chains have 1-5."""
FINGERPRINT_CACHE_SIZE = 1024
"""ClientHello offers whose fingerprints are kept (a hospital has a few hundred device makes)."""
MAX_NAME_LEN = 1024
"""SNI / ALPN / DN text kept per value."""
MAX_FLIGHT_RECORDS = 64
"""TLS 1.3: encrypted record sizes kept per flight for the mutual-auth inference."""
MAX_DTLS_PENDING = 8
"""DTLS messages being reassembled at once per direction."""
MAX_DTLS_FRAGMENTS = 64
"""Distinct fragment ranges per DTLS message."""
MAX_DTLS_DONE = 64
"""DTLS message_seq values remembered per direction to drop retransmissions."""

# --- wire constants -----------------------------------------------------------------------

CT_CHANGE_CIPHER_SPEC = 20
CT_ALERT = 21
CT_HANDSHAKE = 22
CT_APPLICATION_DATA = 23
CT_HEARTBEAT = 24
CT_TLS12_CID = 25  # DTLS 1.2 connection id (RFC 9146): encrypted
KNOWN_CONTENT_TYPES = frozenset({20, 21, 22, 23, 24})

HS_HELLO_REQUEST = 0
HS_CLIENT_HELLO = 1
HS_SERVER_HELLO = 2
HS_HELLO_VERIFY_REQUEST = 3
HS_CERTIFICATE = 11
HS_CERTIFICATE_REQUEST = 13

EXT_SERVER_NAME = 0x0000
EXT_SUPPORTED_GROUPS = 0x000A
EXT_EC_POINT_FORMATS = 0x000B
EXT_SIGNATURE_ALGORITHMS = 0x000D
EXT_ALPN = 0x0010
EXT_SUPPORTED_VERSIONS = 0x002B

TLS_RECORD_HEADER = 5
DTLS_RECORD_HEADER = 13  # type, version, epoch(2), sequence_number(6), length
TLS_HS_HEADER = 4
DTLS_HS_HEADER = 12  # type, length(3), message_seq(2), fragment_offset(3), fragment_length(3)

TLS13 = 0x0304
DTLS13 = 0xFEFC
DTLS_VERSIONS = frozenset({0xFEFF, 0xFEFD, 0xFEFC, 0x0100})  # 0x0100: OpenSSL's pre-RFC DTLS
HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
"""ServerHello.random of a HelloRetryRequest (RFC 8446 4.1.3): not the final ServerHello."""

VERSION_NAMES = {
    0x0002: "ssl2", 0x0300: "ssl3", 0x0301: "1.0", 0x0302: "1.1", 0x0303: "1.2", 0x0304: "1.3",
    0xFEFF: "dtls1.0", 0xFEFD: "dtls1.2", 0xFEFC: "dtls1.3", 0x0100: "dtls1.0-openssl",
}
GREASE = frozenset(0x0A0A + 0x1010 * i for i in range(16))
"""GREASE values (RFC 8701: 0x0A0A, 0x1A1A ... 0xFAFA) are noise, left out of JA3/JA4: a set,
as a hundred values of each ClientHello are looked up."""
JA4_VERSIONS = {
    0x0002: "s2", 0x0300: "s3", 0x0301: "10", 0x0302: "11", 0x0303: "12", 0x0304: "13",
    0xFEFF: "d1", 0xFEFD: "d2", 0xFEFC: "d3",
}

CIPHER_NAMES = {
    0x0004: "TLS_RSA_WITH_RC4_128_MD5",
    0x0005: "TLS_RSA_WITH_RC4_128_SHA",
    0x000A: "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    0x0016: "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
    0x002F: "TLS_RSA_WITH_AES_128_CBC_SHA",
    0x0033: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
    0x0035: "TLS_RSA_WITH_AES_256_CBC_SHA",
    0x0039: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
    0x003C: "TLS_RSA_WITH_AES_128_CBC_SHA256",
    0x003D: "TLS_RSA_WITH_AES_256_CBC_SHA256",
    0x0067: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
    0x006B: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
    0x009C: "TLS_RSA_WITH_AES_128_GCM_SHA256",
    0x009D: "TLS_RSA_WITH_AES_256_GCM_SHA384",
    0x009E: "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    0x009F: "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
    0x00FF: "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
    0x1301: "TLS_AES_128_GCM_SHA256",
    0x1302: "TLS_AES_256_GCM_SHA384",
    0x1303: "TLS_CHACHA20_POLY1305_SHA256",
    0x1304: "TLS_AES_128_CCM_SHA256",
    0x1305: "TLS_AES_128_CCM_8_SHA256",
    0x5600: "TLS_FALLBACK_SCSV",
    0xC007: "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    0xC009: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    0xC00A: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    0xC011: "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    0xC012: "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    0xC013: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    0xC014: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    0xC023: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    0xC024: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
    0xC027: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    0xC028: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
    0xC02B: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    0xC02C: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    0xC02F: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    0xC030: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    0xCCA8: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    0xCCA9: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    0xCCAA: "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
}
"""IANA names of the suites seen in practice; others are written "0xHHHH"."""

SIGNATURE_NAMES = {
    "1.2.840.113549.1.1.4": "md5WithRSAEncryption",
    "1.2.840.113549.1.1.5": "sha1WithRSAEncryption",
    "1.2.840.113549.1.1.10": "rsassaPss",
    "1.2.840.113549.1.1.11": "sha256WithRSAEncryption",
    "1.2.840.113549.1.1.12": "sha384WithRSAEncryption",
    "1.2.840.113549.1.1.13": "sha512WithRSAEncryption",
    "1.2.840.113549.1.1.14": "sha224WithRSAEncryption",
    "1.2.840.10045.4.1": "ecdsa-with-SHA1",
    "1.2.840.10045.4.3.1": "ecdsa-with-SHA224",
    "1.2.840.10045.4.3.2": "ecdsa-with-SHA256",
    "1.2.840.10045.4.3.3": "ecdsa-with-SHA384",
    "1.2.840.10045.4.3.4": "ecdsa-with-SHA512",
    "1.2.840.10040.4.3": "dsa-with-sha1",
    "2.16.840.1.101.3.4.3.2": "dsa-with-sha256",
    "1.3.101.112": "ed25519",
    "1.3.101.113": "ed448",
}
"""OpenSSL's names for certificate signature algorithms; others are written as the OID."""

# TLS 1.3 Finished record on the wire: 4-byte header + verify_data (hash length) + 1 inner
# content type + AEAD tag (RFC 8446 4.4.4, 5.2). SHA-256 suites: 4 + 32 + 1 + 16 = 53 bytes.
TLS13_HASH_LEN = {0x1302: 48}
"""Hash length of TLS 1.3 suites other than SHA-256 ones (TLS_AES_256_GCM_SHA384)."""
TLS13_TAG_LEN = {0x1305: 8}
"""AEAD tag length of TLS 1.3 suites other than 16-byte-tag ones (CCM_8)."""
EMPTY_CERTIFICATE_13 = 8
"""An empty TLS 1.3 Certificate message: 4-byte header, context length 0, list length 0."""
EMPTY_CERTIFICATE_RECORD = EMPTY_CERTIFICATE_13 + 1 + 16
"""That empty Certificate alone in a record (OpenSSL sends one message per record): 25 B."""
MIN_CERTIFICATE_BYTES = 150
"""Bytes a client Certificate (+ CertificateVerify) adds at least: DER of a tiny EC
certificate plus headers; real ones add 500-3000."""

# DER tags for the string types X.520 names use.
DER_STRINGS = {0x0C: "utf-8", 0x12: "ascii", 0x13: "ascii", 0x14: "latin-1", 0x16: "ascii",
               0x1A: "ascii", 0x1C: "utf-32-be", 0x1E: "utf-16-be"}
DER_SEQUENCE = 0x30
DER_SET = 0x31
DER_OID = 0x06


def version_name(version: int) -> str:
    """Readable protocol version ("1.2", "dtls1.2"), or "0xHHHH" when unknown."""
    if 0x7F0E <= version <= 0x7F1C:  # TLS 1.3 drafts 14..28
        return f"1.3-draft{version & 0xFF}"
    return VERSION_NAMES.get(version, f"0x{version:04x}")


def cipher_name(cipher: int) -> str:
    """IANA name of a cipher suite, or "0xHHHH" when it is not in `CIPHER_NAMES`."""
    return CIPHER_NAMES.get(cipher, f"0x{cipher:04x}")


# --- a bounds-checked reader --------------------------------------------------------------


class _Reader:
    """Reads big-endian fields; running past the end raises ParseError(weird).

    A ClientHello takes some fifty reads: each method checks its bounds itself rather than
    through the others, the cheapest way in Python."""

    __slots__ = ("_buf", "_pos", "weird")

    def __init__(self, buf: bytes, weird: str) -> None:
        self._buf = buf
        self._pos = 0
        self.weird = weird
        """The weird raised when the data runs short."""

    @property
    def left(self) -> int:
        """Bytes not read yet."""
        return len(self._buf) - self._pos

    def take(self, n: int) -> bytes:
        """The next `n` bytes."""
        pos = self._pos
        end = pos + n
        if end > len(self._buf):
            raise ParseError(self.weird)
        self._pos = end
        return self._buf[pos:end]

    def uint(self, size: int) -> int:
        """An unsigned integer of `size` bytes."""
        pos = self._pos
        end = pos + size
        if end > len(self._buf):
            raise ParseError(self.weird)
        self._pos = end
        return int.from_bytes(self._buf[pos:end], "big")

    def vector(self, len_size: int) -> bytes:
        """A TLS vector: a `len_size`-byte length, then that many bytes."""
        buf = self._buf
        start = self._pos + len_size
        if start > len(buf):
            raise ParseError(self.weird)
        end = start + int.from_bytes(buf[self._pos : start], "big")
        if end > len(buf):
            raise ParseError(self.weird)
        self._pos = end
        return buf[start:end]

    def uint16s(self, data: bytes) -> list[int]:
        """A list of 16-bit values (cipher suites, groups ...) from a vector's body."""
        if len(data) % 2:
            raise ParseError(self.weird)
        return list(struct.unpack(f">{len(data) // 2}H", data))


def _text(raw: bytes) -> str:
    """Names on the wire are bytes; keep them readable and bounded."""
    return raw[:MAX_NAME_LEN].decode("utf-8", "backslashreplace")


# --- hellos, JA3, JA4 ---------------------------------------------------------------------


@dataclass(slots=True)
class _Hello:
    """The fields of a ClientHello or ServerHello the fingerprints need."""

    version: int
    random: bytes
    ciphers: list[int]
    extensions: list[int] = field(default_factory=list)
    sni: str | None = None
    alpn: list[bytes] = field(default_factory=list)
    groups: list[int] = field(default_factory=list)
    point_formats: list[int] = field(default_factory=list)
    sig_algs: list[int] = field(default_factory=list)
    supported_versions: list[int] = field(default_factory=list)


def _read_extensions(r: _Reader, hello: _Hello, server: bool) -> None:
    """Walk the extension block (absent in old hellos); unknown types keep their number."""
    if r.left == 0:
        return
    block = _Reader(r.vector(2), r.weird)
    while block.left:
        ext_type = block.uint(2)
        data = block.vector(2)
        hello.extensions.append(ext_type)
        _read_extension(ext_type, _Reader(data, r.weird), hello, server)


def _read_extension(ext_type: int, r: _Reader, hello: _Hello, server: bool) -> None:
    """Decode the few extensions that carry identity or fingerprint input."""
    if ext_type == EXT_SERVER_NAME and not server and r.left:
        names = _Reader(r.vector(2), r.weird)
        while names.left:
            kind, name = names.uint(1), names.vector(2)
            if kind == 0 and hello.sni is None:  # host_name
                hello.sni = _text(name)
    elif ext_type == EXT_ALPN and r.left:
        protocols = _Reader(r.vector(2), r.weird)
        while protocols.left:
            hello.alpn.append(protocols.vector(1))
    elif ext_type == EXT_SUPPORTED_GROUPS and not server:
        hello.groups = r.uint16s(r.vector(2))
    elif ext_type == EXT_EC_POINT_FORMATS and not server:
        hello.point_formats = list(r.vector(1))
    elif ext_type == EXT_SIGNATURE_ALGORITHMS and not server:
        hello.sig_algs = r.uint16s(r.vector(2))
    elif ext_type == EXT_SUPPORTED_VERSIONS:
        # ClientHello: a list (RFC 8446 4.2.1); ServerHello/HRR: the one selected version.
        hello.supported_versions = [r.uint(2)] if server else r.uint16s(r.vector(1))


def parse_client_hello(body: bytes, dtls: bool) -> _Hello:
    """ClientHello (RFC 5246 7.4.1.2; DTLS adds a cookie, RFC 6347 4.2.1)."""
    r = _Reader(body, "dtls_bad_client_hello" if dtls else "tls_bad_client_hello")
    hello = _Hello(version=r.uint(2), random=r.take(32), ciphers=[])
    r.vector(1)  # session_id
    if dtls:
        r.vector(1)  # cookie
    hello.ciphers = r.uint16s(r.vector(2))
    r.vector(1)  # compression_methods
    _read_extensions(r, hello, server=False)
    return hello


def parse_server_hello(body: bytes, dtls: bool) -> _Hello:
    """ServerHello (RFC 5246 7.4.1.3, RFC 8446 4.1.3)."""
    r = _Reader(body, "dtls_bad_server_hello" if dtls else "tls_bad_server_hello")
    hello = _Hello(version=r.uint(2), random=r.take(32), ciphers=[])
    r.vector(1)  # session_id
    hello.ciphers = [r.uint(2)]
    r.uint(1)  # compression_method
    _read_extensions(r, hello, server=True)
    return hello


def _dashed(values: Sequence[int]) -> str:
    return "-".join(str(v) for v in values if v not in GREASE)


def ja3_string(hello: _Hello) -> str:
    """JA3: version,ciphers,extensions,groups,point formats, in decimal, GREASE removed."""
    return ",".join((str(hello.version), _dashed(hello.ciphers), _dashed(hello.extensions),
                     _dashed(hello.groups), "-".join(str(p) for p in hello.point_formats)))


def ja3s_string(hello: _Hello) -> str:
    """JA3S: version,cipher,extensions of a ServerHello (as tshark's tls.handshake.ja3s)."""
    return ",".join((str(hello.version), str(hello.ciphers[0]), _dashed(hello.extensions)))


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _sha12(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12] if text else "000000000000"


def _ja4_alpn(alpn: list[bytes]) -> str:
    """First and last character of the first ALPN value, "00" without one. A byte outside
    ASCII becomes "9", as FoxIO's reference implementation does (its test capture
    tls-non-ascii-alpn.pcapng expects "99")."""
    if not alpn or not alpn[0]:
        return "00"
    return "".join(chr(b) if b < 0x80 else "9" for b in (alpn[0][0], alpn[0][-1]))


def ja4(hello: _Hello, dtls: bool, *, quic: bool = False) -> str:
    """JA4 (FoxIO, BSD-3): t|d|q, version, d|i, #ciphers, #extensions, ALPN _ cipher hash _
    extension hash. Only JA4 itself: JA4S/JA4X/... are under the FoxIO licence.
    `quic`: the ClientHello came in QUIC CRYPTO frames (prefix "q", over `dtls`)."""
    offered = [v for v in hello.supported_versions if v not in GREASE]
    if not offered:
        best = hello.version
    elif dtls:  # DTLS versions count down (0xfefc is newer than 0xfefd): rank by JA4 code
        best = max(offered, key=lambda v: JA4_VERSIONS.get(v, "00"))
    else:  # the highest value, as FoxIO's reference: a TLS 1.3 draft (0x7fxx) gives "00"
        best = max(offered)
    ciphers = [c for c in hello.ciphers if c not in GREASE]
    extensions = [e for e in hello.extensions if e not in GREASE]
    part_a = "{}{}{}{:02d}{:02d}{}".format(
        "q" if quic else "d" if dtls else "t", JA4_VERSIONS.get(best, "00"),
        "d" if EXT_SERVER_NAME in extensions else "i",
        min(len(ciphers), 99), min(len(extensions), 99), _ja4_alpn(hello.alpn))
    part_b = _sha12(",".join(sorted(f"{c:04x}" for c in ciphers)))
    ext_list = ",".join(sorted(f"{e:04x}" for e in extensions
                               if e not in (EXT_SERVER_NAME, EXT_ALPN)))
    sigs = ",".join(f"{s:04x}" for s in hello.sig_algs if s not in GREASE)
    part_c = _sha12(f"{ext_list}_{sigs}" if sigs else ext_list)
    return f"{part_a}_{part_b}_{part_c}"


def offered_versions(hello: _Hello) -> tuple[str, ...]:
    """supported_versions without GREASE, else the legacy version."""
    listed = [v for v in hello.supported_versions if v not in GREASE]
    return tuple(version_name(v) for v in (listed or [hello.version]))


class Fingerprints(NamedTuple):
    """What a ClientHello's offer says about its client."""

    ja3: str
    ja3_hash: str
    ja4: str
    versions: tuple[str, ...]


def fingerprints(hello: _Hello, dtls: bool, *, quic: bool = False) -> Fingerprints:
    """JA3 (string and MD5), JA4 and the offered versions of a ClientHello. Cached by what they
    are computed from: a network's devices of one make send the same offer again and again, only
    the random, session id and server name change (computing them costs as much as parsing)."""
    return _fingerprints((hello.version, tuple(hello.ciphers), tuple(hello.extensions),
                          tuple(hello.groups), tuple(hello.point_formats), tuple(hello.sig_algs),
                          tuple(hello.supported_versions), tuple(hello.alpn[:1])), dtls, quic)


@functools.lru_cache(maxsize=FINGERPRINT_CACHE_SIZE)
def _fingerprints(
    offer: tuple[int, tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...],
                 tuple[int, ...], tuple[int, ...], tuple[bytes, ...]],
    dtls: bool, quic: bool,
) -> Fingerprints:
    version, ciphers, extensions, groups, point_formats, sig_algs, versions, alpn = offer
    hello = _Hello(version=version, random=b"", ciphers=list(ciphers), extensions=list(extensions),
                   alpn=list(alpn), groups=list(groups), point_formats=list(point_formats),
                   sig_algs=list(sig_algs), supported_versions=list(versions))
    text = ja3_string(hello)
    return Fingerprints(text, _md5(text), ja4(hello, dtls, quic=quic), offered_versions(hello))


# --- certificates -------------------------------------------------------------------------


def parse_certificate_list(body: bytes, dtls: bool) -> list[bytes]:
    """The DER certificates of a TLS <= 1.2 Certificate message (RFC 5246 7.4.2)."""
    r = _Reader(body, "dtls_bad_certificate_msg" if dtls else "tls_bad_certificate_msg")
    chain = _Reader(r.vector(3), r.weird)
    if r.left:
        raise ParseError(r.weird)
    ders: list[bytes] = []
    while chain.left:
        der = chain.vector(3)
        if len(ders) < MAX_CHAIN:
            ders.append(der)
    return ders


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _key(cert: x509.Certificate) -> tuple[str, int | None]:
    try:
        key = cert.public_key()
    except Exception:  # unsupported or malformed key: cryptography raises several types
        return cert.public_key_algorithm_oid.dotted_string, None
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.curve.key_size
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456
    return cert.public_key_algorithm_oid.dotted_string, None


def _signature_hash(cert: x509.Certificate) -> str | None:
    try:
        algorithm = cert.signature_hash_algorithm
    except Exception:  # UnsupportedAlgorithm for unknown signature OIDs
        return None
    return None if algorithm is None else algorithm.name


def _sans(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return ()
    out = []
    for name in ext.value:
        if isinstance(name, x509.DNSName):
            out.append(f"DNS:{name.value}")
        elif isinstance(name, x509.IPAddress):
            out.append(f"IP:{name.value}")
        elif isinstance(name, x509.RFC822Name):
            out.append(f"email:{name.value}")
        elif isinstance(name, x509.UniformResourceIdentifier):
            out.append(f"URI:{name.value}")
        elif isinstance(name, x509.DirectoryName):
            out.append(f"DirName:{name.value.rfc4514_string()}")
        elif isinstance(name, x509.OtherName):
            out.append(f"othername:{name.type_id.dotted_string}")
    return tuple(out)


def _self_signed(cert: x509.Certificate) -> bool:
    """Subject equals issuer and the certificate's own key verifies its signature.

    Verified by hand rather than with `verify_directly_issued_by`, which refuses SHA-1 and
    MD5 signatures: exactly the legacy device certificates that need judging.
    """
    if cert.subject != cert.issuer:
        return False
    try:
        key = cert.public_key()
        sig, tbs, hash_alg = cert.signature, cert.tbs_certificate_bytes, cert.signature_hash_algorithm
        if isinstance(key, rsa.RSAPublicKey) and hash_alg is not None:
            key.verify(sig, tbs, padding.PKCS1v15(), hash_alg)
        elif isinstance(key, ec.EllipticCurvePublicKey) and hash_alg is not None:
            key.verify(sig, tbs, ec.ECDSA(hash_alg))
        elif isinstance(key, dsa.DSAPublicKey) and hash_alg is not None:
            key.verify(sig, tbs, hash_alg)
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(sig, tbs)
        else:
            return False
    except Exception:  # InvalidSignature, unsupported algorithm or padding (RSA-PSS), bad DER
        return False
    return True


def _common_name(name: x509.Name) -> str | None:
    for attr in name.get_attributes_for_oid(NameOID.COMMON_NAME):
        value = attr.value
        return value if isinstance(value, str) else value.hex()
    return None


@functools.lru_cache(maxsize=CERT_CACHE_SIZE)
def decode_certificate(der: bytes) -> tuple[X509Cert, tuple[str, ...]]:
    """One DER certificate as an `X509Cert` plus the weirds it caused.

    Cached: the same server and CA certificates come back on every connection, and decoding
    (with the self-signature check) is the costliest step of a handshake.

    A certificate cryptography cannot decode is kept by its hashes with placeholder fields
    (`parsed=False`) and the weird "tls_bad_x509": the identity is the hash, never lost.
    """
    sha1 = hashlib.sha1(der, usedforsecurity=False).hexdigest()
    sha256 = hashlib.sha256(der).hexdigest()
    try:
        with warnings.catch_warnings(record=True) as complaints:
            warnings.simplefilter("always")
            cert = x509.load_der_x509_certificate(der)
            serial = format(cert.serial_number, "X")
        subject, issuer = cert.subject.rfc4514_string(), cert.issuer.rfc4514_string()
        subject_cn = _common_name(cert.subject)
        not_before, not_after = _utc(cert.not_valid_before_utc), _utc(cert.not_valid_after_utc)
        version = cert.version.value + 1
        oid = cert.signature_algorithm_oid.dotted_string
    except Exception:  # cryptography raises ValueError and others on odd DER: keep the hash
        return X509Cert(
            sha1=sha1, sha256=sha256, subject="", subject_cn=None, issuer="", serial="",
            not_before="", not_after="", key_type="unknown", key_bits=None,
            signature_algorithm="unknown", signature_hash=None, sans=(), self_signed=False,
            version=0, parsed=False), ("tls_bad_x509",)
    # cryptography warns about RFC 5280 violations it still accepts (e.g. a serial <= 0).
    weirds = ["tls_x509_noncompliant"] if complaints else []
    try:
        sans = _sans(cert)
    except Exception:  # duplicate or malformed extensions
        sans = ()
        weirds.append("tls_bad_x509_extension")
    key_type, key_bits = _key(cert)
    return X509Cert(
        sha1=sha1, sha256=sha256, subject=subject, subject_cn=subject_cn, issuer=issuer,
        serial=serial, not_before=not_before, not_after=not_after, key_type=key_type,
        key_bits=key_bits, signature_algorithm=SIGNATURE_NAMES.get(oid, oid),
        signature_hash=_signature_hash(cert), sans=sans, self_signed=_self_signed(cert),
        version=version,
    ), tuple(weirds)


# --- distinguished names in CertificateRequest -------------------------------------------


def _der_tlv(r: _Reader) -> tuple[int, bytes]:
    """One DER tag-length-value with a single-byte tag (all X.501 names use those)."""
    tag = r.uint(1)
    length = r.uint(1)
    if length & 0x80:
        size = length & 0x7F
        if not 1 <= size <= 3:
            raise ParseError(r.weird)
        length = r.uint(size)
    return tag, r.take(length)


def _der_oid(raw: bytes) -> str:
    if not raw:
        raise ParseError("tls_bad_dn")
    arcs = [min(raw[0] // 40, 2), raw[0] - 40 * min(raw[0] // 40, 2)]
    value = 0
    for byte in raw[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    return ".".join(str(a) for a in arcs)


@functools.lru_cache(maxsize=CERT_CACHE_SIZE)
def dn_to_rfc4514(der: bytes) -> str:
    """A DER Name (RFC 5280 4.1.2.4) as an RFC 4514 string; its hex when undecodable.

    Cached like certificates: servers ask for the same CA names on every connection."""
    try:
        r = _Reader(der, "tls_bad_dn")
        tag, body = _der_tlv(r)
        if tag != DER_SEQUENCE or r.left:
            raise ParseError("tls_bad_dn")
        rdns = []
        names = _Reader(body, "tls_bad_dn")
        while names.left:
            tag, rdn_body = _der_tlv(names)
            if tag != DER_SET:
                raise ParseError("tls_bad_dn")
            attrs, members = [], _Reader(rdn_body, "tls_bad_dn")
            while members.left:
                tag, atv = _der_tlv(members)
                inner = _Reader(atv, "tls_bad_dn")
                oid_tag, oid = _der_tlv(inner)
                value_tag, value = _der_tlv(inner)
                if tag != DER_SEQUENCE or oid_tag != DER_OID or value_tag not in DER_STRINGS:
                    raise ParseError("tls_bad_dn")
                text = value.decode(DER_STRINGS[value_tag])
                attrs.append(x509.NameAttribute(ObjectIdentifier(_der_oid(oid)), text))
            rdns.append(x509.RelativeDistinguishedName(attrs))
        return x509.Name(rdns).rfc4514_string()[:MAX_NAME_LEN]
    except (ParseError, ValueError, UnicodeDecodeError):
        return der[: MAX_NAME_LEN // 2].hex()


def parse_certificate_request(body: bytes, version: int | None, dtls: bool) -> tuple[str, ...]:
    """CA names of a CertificateRequest (RFC 5246 7.4.4; TLS 1.2 / DTLS 1.2 add the
    signature algorithms, RFC 4346 7.4.4 has none). Unknown version: try both layouts."""
    weird = "dtls_bad_certificate_request" if dtls else "tls_bad_certificate_request"
    layouts = [True, False] if version is None else [version in (0x0303, 0xFEFD)]
    for with_sig_algs in layouts:
        r = _Reader(body, weird)
        try:
            r.vector(1)  # certificate_types
            if with_sig_algs:
                r.vector(2)  # supported_signature_algorithms
            authorities = _Reader(r.vector(2), weird)
            if r.left:
                raise ParseError(weird)
            names = []
            while authorities.left:
                names.append(dn_to_rfc4514(authorities.vector(2)))
            return tuple(names)
        except ParseError:
            continue
    raise ParseError(weird)


# --- TLS 1.3 mutual-authentication inference ---------------------------------------------


def infer_mutual_auth(
    cipher: int, server_flight: Sequence[int], client_flight: Sequence[int]
) -> tuple[str, float, tuple[str, ...]]:
    """Guess whether a TLS 1.3 client sent a certificate, from encrypted record sizes.

    `server_flight` / `client_flight` are the lengths of the application_data records each
    side sent after the ServerHello (the client's only once the server's flight was seen;
    change_cipher_spec compatibility records excluded). The client's first record is the
    key: a Finished alone is exactly 4 + hash + 1 + tag bytes (53 for SHA-256 suites, 69 for
    SHA-384); Certificate + CertificateVerify make it hundreds of bytes larger, whether
    packed in one record (BoringSSL, Go, rustls) or sent as separate records (OpenSSL),
    where the certificate record comes first. Returns (verdict, confidence, reasons).
    """
    finished = 4 + TLS13_HASH_LEN.get(cipher, 32) + 1 + TLS13_TAG_LEN.get(cipher, 16)
    reasons = [f"server flight {sum(server_flight)} B in {len(server_flight)} records"]
    if not client_flight:
        reasons.append("no encrypted client flight seen")
        return "unknown", 0.0, tuple(reasons)
    first = client_flight[0]
    reasons.append(f"client flight starts with a {first} B record "
                   f"({len(client_flight)} records, {sum(client_flight)} B seen with it); "
                   f"Finished alone is {finished} B")
    if first == finished:
        reasons.append("first client record is a Finished alone: no client certificate")
        return "unlikely", 0.9, tuple(reasons)
    if first in (EMPTY_CERTIFICATE_RECORD, finished + EMPTY_CERTIFICATE_13):
        reasons.append("an empty Certificate: a certificate was requested and not sent")
        return "unlikely", 0.85, tuple(reasons)
    if first >= finished + MIN_CERTIFICATE_BYTES:
        reasons.append("first client record is large enough for a Certificate")
        return "likely", 0.8, tuple(reasons)
    if first > finished:
        # e.g. Chrome's client EncryptedExtensions (ALPS) packed with its Finished: 63 B.
        reasons.append("extra bytes before Finished too few for a certificate")
        return "unlikely", 0.6, tuple(reasons)
    reasons.append("record sizes fit neither shape (padding or an unusual stack)")
    return "unknown", 0.3, tuple(reasons)


# --- the handshake state shared by TLS and DTLS ------------------------------------------


@dataclass(slots=True)
class _Side:
    """What one direction has shown so far."""

    hs_buf: bytearray = field(default_factory=bytearray)
    """TLS: handshake bytes waiting for the rest of their message."""
    encrypted: bool = False
    """After its ChangeCipherSpec (<= 1.2) or epoch > 0 (DTLS): handshake is opaque."""
    records: int = 0
    offered13: bool = False
    """This side sent a ClientHello offering TLS 1.3."""
    compat_ccs: bool = False
    """A CCS came before any ServerHello from a 1.3-offering client: compat or 1.2 Finished?"""
    flight: list[int] = field(default_factory=list)
    """TLS 1.3: lengths of the encrypted records of this side's first flight."""
    pending: dict[int, _Fragments] = field(default_factory=dict)
    """DTLS: messages being reassembled, by message_seq."""
    done_seqs: set[int] = field(default_factory=set)
    """DTLS: message_seq values already handled (retransmissions are dropped)."""


@dataclass(slots=True)
class _Fragments:
    """A DTLS handshake message being reassembled from fragments (RFC 6347 4.2.3)."""

    msg_type: int
    length: int
    data: bytearray
    ranges: list[tuple[int, int]] = field(default_factory=list)

    def add(self, offset: int, chunk: bytes) -> bool:
        """Store a fragment; True once every byte of the message arrived."""
        self.data[offset : offset + len(chunk)] = chunk
        merged: list[tuple[int, int]] = []
        for start, end in sorted([*self.ranges, (offset, offset + len(chunk))]):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        if len(merged) > MAX_DTLS_FRAGMENTS:
            raise ParseError("dtls_too_many_fragments")
        self.ranges = merged
        return merged == [(0, self.length)]


class _TlsBase(Extractor):
    """Handshake-message logic common to TLS and DTLS; subclasses read the record layer."""

    protocol: ClassVar[Proto]
    dtls: ClassVar[bool]

    def __init__(self, secrets: SecretHasher = EPHEMERAL) -> None:
        super().__init__(secrets)
        self._sides = (_Side(), _Side())
        self._client: Direction | None = None
        self._version: int | None = None
        """Version the final ServerHello chose."""
        self._cipher = 0
        self._hrr = False
        self._inferred = False

    @property
    def _tls13(self) -> bool:
        return self._version in (TLS13, DTLS13) or (
            self._version is not None and 0x7F0E <= self._version <= 0x7F1C)

    @property
    def finished(self) -> bool:
        """<= 1.2: both sides encrypted; 1.3: the mutual-auth inference is made."""
        if self._tls13:
            return self._inferred
        return all(side.encrypted for side in self._sides)

    def _is_client(self, direction: Direction) -> bool:
        return direction == (self._client if self._client is not None else Direction.ORIG)

    def _change_cipher_spec(self, direction: Direction) -> None:
        # TLS 1.3 sends a dummy change_cipher_spec for middleboxes (RFC 8446 D.4): meaningless.
        side = self._sides[direction]
        if self._tls13 or self._hrr:
            return
        if self._version is None and side.offered13:
            # Before any ServerHello (one-sided capture, or the HRR was not captured): a
            # client offering 1.3 sends it before a second ClientHello or 0-RTT data.
            side.compat_ccs = True
            return
        side.encrypted = True

    def _handshake(
        self, flow: FlowId, direction: Direction, ts: float, msg_type: int, body: bytes
    ) -> list[Observation]:
        """One complete plaintext handshake message."""
        if msg_type == HS_CLIENT_HELLO:
            if self._client is None:
                self._client = direction
            hello = parse_client_hello(body, self.dtls)
            self._sides[direction].offered13 = TLS13 in hello.supported_versions
            return [self._client_hello(flow, ts, hello)]
        if msg_type == HS_SERVER_HELLO:
            return self._server_hello(flow, direction, ts, parse_server_hello(body, self.dtls))
        if msg_type == HS_CERTIFICATE and not self._tls13:
            return self._certificate(flow, direction, ts, body)
        if msg_type == HS_CERTIFICATE_REQUEST and not self._tls13:
            names = parse_certificate_request(body, self._version, self.dtls)
            return [TlsCertificateRequest(ts=ts, flow=flow, protocol=self.protocol,
                                          ca_names=names)]
        return []  # other messages carry no identity; unknown types keep going

    def _client_hello(self, flow: FlowId, ts: float, hello: _Hello) -> Observation:
        prints = fingerprints(hello, self.dtls)
        return TlsClientHello(
            ts=ts, flow=flow, protocol=self.protocol, server_name=hello.sni,
            alpn=tuple(_text(a) for a in hello.alpn), versions=prints.versions,
            ja3=prints.ja3, ja3_hash=prints.ja3_hash, ja4=prints.ja4)

    def _server_hello(
        self, flow: FlowId, direction: Direction, ts: float, hello: _Hello
    ) -> list[Observation]:
        if self._client is None:
            self._client = direction.other
        if hello.random == HRR_RANDOM:
            # A HelloRetryRequest: a second ClientHello follows in clear; early-data CCS
            # marks mean nothing now.
            self._hrr = True
            for side in self._sides:
                side.encrypted = False
            return []
        chosen = hello.supported_versions[0] if hello.supported_versions else hello.version
        self._version, self._cipher = chosen, hello.ciphers[0]
        if self._tls13:
            for side in self._sides:
                side.encrypted = True
                side.flight.clear()
        text = ja3s_string(hello)
        return [TlsServerHello(
            ts=ts, flow=flow, protocol=self.protocol, version=version_name(chosen),
            cipher=cipher_name(hello.ciphers[0]),
            alpn=_text(hello.alpn[0]) if hello.alpn else None, ja3s=text, ja3s_hash=_md5(text))]

    def _certificate(
        self, flow: FlowId, direction: Direction, ts: float, body: bytes
    ) -> list[Observation]:
        ders = parse_certificate_list(body, self.dtls)
        if not ders:
            return []  # an empty client Certificate: the client declined
        chain = []
        for der in ders:
            cert, weirds = decode_certificate(der)
            chain.append(cert)
            self.weirds.extend(weirds)
        cls = TlsClientCertificate if self._is_client(direction) else TlsServerCertificate
        return [cls(ts=ts, flow=flow, protocol=self.protocol, chain=tuple(chain))]

    def _encrypted_record(self, direction: Direction, length: int) -> None:
        """TLS 1.3: note the size of an encrypted record for the inference."""
        if not self._tls13 or self._inferred:
            return
        server = self._sides[direction.other if self._is_client(direction) else direction]
        if self._is_client(direction):
            flight = self._sides[direction].flight
            if server.flight and len(flight) < MAX_FLIGHT_RECORDS:  # before: 0-RTT early data
                flight.append(length)
        elif len(server.flight) < MAX_FLIGHT_RECORDS:
            server.flight.append(length)

    def _conclude(self, flow: FlowId, ts: float, at_close: bool) -> list[Observation]:
        """TLS 1.3: emit the mutual-auth inference once the client's flight is in."""
        if not self._tls13 or self._inferred:
            return []
        client_dir = self._client if self._client is not None else Direction.ORIG
        client, server = self._sides[client_dir], self._sides[client_dir.other]
        if not client.flight and not at_close:
            return []
        self._inferred = True
        verdict, confidence, reasons = infer_mutual_auth(self._cipher, server.flight,
                                                         client.flight)
        if self.dtls:
            verdict, confidence = "unknown", 0.0
            reasons = ("DTLS 1.3: not inferred", *reasons)
        return [TlsEncryptedHandshake(
            ts=ts, flow=flow, protocol=self.protocol, version=version_name(self._version or 0),
            mutual_auth=verdict, confidence=confidence, reasons=reasons)]

    def close(self, flow: FlowId, ts: float) -> Sequence[Observation]:
        """The connection ended: a TLS 1.3 handshake still owes its inference."""
        return self._conclude(flow, ts, at_close=True)


# --- TLS over TCP -------------------------------------------------------------------------


def _looks_like_sslv2_hello(buf: bytes) -> bool:
    # SSLv2-compatible ClientHello (RFC 5246 E.2): 2-byte length with the high bit set,
    # msg_type 1, version 0x0002 or 0x03xx. e.g. 80 2e 01 03 01 ...
    return len(buf) >= 5 and buf[0] & 0x80 != 0 and buf[2] == HS_CLIENT_HELLO and (
        buf[3:5] == b"\x00\x02" or (buf[3] == 3 and buf[4] <= 4))


def _starts_client_hello(body: bytes) -> bool:
    # 01 LLLLLL 03 03: the only plaintext message a 1.3 client sends after its compat CCS.
    return len(body) >= 6 and body[0] == HS_CLIENT_HELLO and body[4:6] == b"\x03\x03"


class TlsExtractor(_TlsBase):
    """TLS over TCP: one direction's reassembled stream, whole records at a time."""

    name = "tls"
    transports = frozenset({"tcp"})
    ports = frozenset({443, 465, 636, 853, 989, 990, 992, 993, 994, 995, 2762, 3269, 4443,
                       5061, 5671, 6514, 8443, 8883})
    budget = BUDGET
    protocol = Proto.TLS
    dtls = False

    @staticmethod
    def probe(first: bytes) -> bool:
        """A handshake record (16 03 0x LL LL) starting with a ClientHello or ServerHello
        whose body begins with a 3.x version, or an SSLv2-format ClientHello. Strict enough
        for STARTTLS upgrades: text protocols never start with 0x16 or a high-bit byte."""
        if _looks_like_sslv2_hello(first):
            return True
        if len(first) < 6 or first[0] != CT_HANDSHAKE or first[1] != 3 or first[2] > 4:
            return False
        length = int.from_bytes(first[3:5], "big")
        if not TLS_HS_HEADER <= length <= MAX_RECORD_LEN:
            return False
        if first[5] not in (HS_CLIENT_HELLO, HS_SERVER_HELLO):
            return False
        # When present: handshake length < 64 KiB and the body starts with version 3.x.
        return len(first) < 10 or (first[6] == 0 and first[9] == 3)

    def parse(
        self, flow: FlowId, direction: Direction, ts: float, buf: bytes
    ) -> tuple[list[Observation], int]:
        """Consume the whole records at the start of `buf` (see base.py)."""
        side = self._sides[direction]
        out: list[Observation] = []
        pos = 0
        if side.records == 0 and _looks_like_sslv2_hello(buf):
            end = 2 + (((buf[0] & 0x7F) << 8) | buf[1])
            if len(buf) < end:
                return [], 0
            side.records = 1  # SSLv2-format hello: not fingerprinted, but it names the client
            if self._client is None:
                self._client = direction
            pos = end
        while len(buf) - pos >= TLS_RECORD_HEADER:
            ctype, major, minor = buf[pos], buf[pos + 1], buf[pos + 2]
            length = int.from_bytes(buf[pos + 3 : pos + 5], "big")
            if ctype not in KNOWN_CONTENT_TYPES:
                raise ParseError("tls_unknown_content_type")
            if major != 3 or minor > 4:
                raise ParseError("tls_bad_record_version")
            if length > MAX_RECORD_LEN or (length == 0 and ctype == CT_HANDSHAKE):
                raise ParseError("tls_bad_record_len")
            if len(buf) - pos < TLS_RECORD_HEADER + length:
                break
            body = buf[pos + TLS_RECORD_HEADER : pos + TLS_RECORD_HEADER + length]
            pos += TLS_RECORD_HEADER + length
            side.records += 1
            out.extend(self._record(flow, direction, ts, ctype, body))
        if pos:  # with nothing used the dispatcher keeps no observation: conclude with the next bytes
            out.extend(self._conclude(flow, ts, at_close=False))
        return out, pos

    def _record(
        self, flow: FlowId, direction: Direction, ts: float, ctype: int, body: bytes
    ) -> list[Observation]:
        side = self._sides[direction]
        if ctype == CT_CHANGE_CIPHER_SPEC:
            self._change_cipher_spec(direction)
        elif ctype == CT_APPLICATION_DATA:
            self._encrypted_record(direction, len(body))
        elif ctype == CT_HANDSHAKE and not side.encrypted:
            if side.compat_ccs and not side.hs_buf and not _starts_client_hello(body):
                side.encrypted = True  # it was a TLS 1.2 CCS after all: this is Finished
                return []
            return self._handshake_bytes(flow, direction, ts, body)
        return []

    def _handshake_bytes(
        self, flow: FlowId, direction: Direction, ts: float, body: bytes
    ) -> list[Observation]:
        """Handshake messages may span records and a record may hold several (RFC 5246 6.2.1)."""
        side = self._sides[direction]
        side.hs_buf += body
        out: list[Observation] = []
        while len(side.hs_buf) >= TLS_HS_HEADER and not side.encrypted:
            msg_type = side.hs_buf[0]
            length = int.from_bytes(side.hs_buf[1:4], "big")
            if length > MAX_HANDSHAKE_MSG:
                raise ParseError("tls_handshake_too_large")
            if len(side.hs_buf) < TLS_HS_HEADER + length:
                break
            msg = bytes(side.hs_buf[TLS_HS_HEADER : TLS_HS_HEADER + length])
            del side.hs_buf[: TLS_HS_HEADER + length]
            out.extend(self._handshake(flow, direction, ts, msg_type, msg))
            if self._tls13:
                side.hs_buf.clear()  # anything after a 1.3 ServerHello is encrypted
        return out


# --- DTLS over UDP ------------------------------------------------------------------------


class DtlsExtractor(_TlsBase):
    """DTLS over UDP: one whole datagram per call; handshake fragments are reassembled."""

    name = "dtls"
    transports = frozenset({"udp"})
    ports = frozenset({443, 853, 4433, 5061, 5684, 5349})
    budget = BUDGET
    protocol = Proto.DTLS
    dtls = True

    @staticmethod
    def probe(first: bytes) -> bool:
        """A DTLS handshake record: 0x16 then version fe ff / fe fd / fe fc."""
        return (len(first) >= DTLS_RECORD_HEADER and first[0] == CT_HANDSHAKE
                and first[1] == 0xFE and first[2] in (0xFF, 0xFD, 0xFC))

    def parse(
        self, flow: FlowId, direction: Direction, ts: float, buf: bytes
    ) -> tuple[list[Observation], int]:
        """Read every record of one datagram; consumed is always the whole datagram."""
        if not buf:
            return [], 0
        if not 20 <= buf[0] <= 63:
            return [], len(buf)  # STUN (0-3), RTP/RTCP (128-191) ... share the port (RFC 7983)
        out: list[Observation] = []
        pos = 0
        while pos < len(buf):
            ctype = buf[pos]
            if ctype >= 32 or ctype == CT_TLS12_CID:
                # DTLS 1.3 unified header (RFC 9147 4) or a CID record: always encrypted.
                self._sides[direction].encrypted = True
                break
            if ctype not in KNOWN_CONTENT_TYPES:
                raise ParseError("dtls_unknown_content_type")
            if len(buf) - pos < DTLS_RECORD_HEADER:
                raise ParseError("dtls_bad_record_len")
            version = int.from_bytes(buf[pos + 1 : pos + 3], "big")
            epoch = int.from_bytes(buf[pos + 3 : pos + 5], "big")
            length = int.from_bytes(buf[pos + 11 : pos + 13], "big")
            if version not in DTLS_VERSIONS:
                raise ParseError("dtls_bad_record_version")
            end = pos + DTLS_RECORD_HEADER + length
            if end > len(buf):
                raise ParseError("dtls_bad_record_len")
            body = buf[pos + DTLS_RECORD_HEADER : end]
            pos = end
            out.extend(self._record(flow, direction, ts, ctype, epoch, body))
        out.extend(self._conclude(flow, ts, at_close=False))
        return out, len(buf)

    def _record(
        self, flow: FlowId, direction: Direction, ts: float, ctype: int, epoch: int, body: bytes
    ) -> list[Observation]:
        side = self._sides[direction]
        if epoch > 0 or ctype == CT_CHANGE_CIPHER_SPEC:
            side.encrypted = True  # a new epoch means new keys (RFC 6347 4.1)
            if ctype == CT_APPLICATION_DATA or epoch > 0:
                self._encrypted_record(direction, len(body))
            return []
        if ctype != CT_HANDSHAKE:
            return []
        out: list[Observation] = []
        r = _Reader(body, "dtls_bad_fragment")
        while r.left:
            msg_type, length, seq = r.uint(1), r.uint(3), r.uint(2)
            offset, frag_len = r.uint(3), r.uint(3)
            chunk = r.take(frag_len)
            if length > MAX_HANDSHAKE_MSG:
                raise ParseError("dtls_handshake_too_large")
            if offset + frag_len > length:
                raise ParseError("dtls_bad_fragment")
            msg = self._reassemble(side, msg_type, length, seq, offset, chunk)
            if msg is not None:
                out.extend(self._handshake(flow, direction, ts, msg_type, msg))
        return out

    @staticmethod
    def _reassemble(
        side: _Side, msg_type: int, length: int, seq: int, offset: int, chunk: bytes
    ) -> bytes | None:
        """The whole message once its last fragment is in; None meanwhile or if repeated."""
        if seq in side.done_seqs:
            return None  # a retransmission
        frags = side.pending.get(seq)
        if frags is None:
            if len(side.pending) >= MAX_DTLS_PENDING:
                raise ParseError("dtls_too_many_pending")
            frags = side.pending[seq] = _Fragments(msg_type, length, bytearray(length))
        elif frags.msg_type != msg_type or frags.length != length:
            raise ParseError("dtls_bad_fragment")
        if not frags.add(offset, chunk) and length:
            return None
        del side.pending[seq]
        if len(side.done_seqs) >= MAX_DTLS_DONE:
            raise ParseError("dtls_too_many_messages")
        side.done_seqs.add(seq)
        return bytes(frags.data)
