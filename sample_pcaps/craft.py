"""Deterministic packet crafting for trustwatch's sample captures and benchmark captures.

Everything here is a pure function of its arguments: no wall clock, no os.urandom, no
random.Random. "Random-looking" bytes come from SHAKE-256 over a label (`fixed_bytes`), keys
are fixed (RSA: the PEM test keys at the end of this file, generated once; EC:
`ec.derive_private_key(FIXED_INT)`), certificate dates are fixed and signatures are
deterministic (RSA PKCS#1 v1.5; ECDSA per RFC 6979). Running a generator twice therefore
writes the same bytes.

Layers:
  * PKI       -- `name`, `make_cert` -> `Cert` (DER + fingerprints + facts for expected.json)
  * TLS       -- record layer and handshake messages built byte by byte (RFC 5246, RFC 8446),
                 `ClientHello` (with its JA3), `flight` (messages -> records, message end offsets)
  * network   -- `Host`, link framings (Ethernet/802.1Q/QinQ, SLL, SLL2, raw IP, BSD NULL),
                 `TcpFlow` (seq/ack bookkeeping, handshake, segmentation, FIN) over scapy layers
  * capture   -- `Capture` (packets in file order, with stream-offset tags so the frame that
                 completes a message can be computed), pcap and pcapng writers (struct)

THE KEYS IN THIS FILE ARE PUBLIC TEST KEYS. Never use them for anything but test captures.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from scapy.layers.inet import IP, TCP, UDP, fragment
from scapy.layers.inet6 import IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrHopByHop, PadN, RouterAlert
from scapy.layers.l2 import CookedLinux, CookedLinuxV2, Dot1AD, Dot1Q, Ether
from scapy.packet import Packet as ScapyPacket
from scapy.packet import Raw

# --------------------------------------------------------------------------------------
# deterministic bytes
# --------------------------------------------------------------------------------------


def fixed_bytes(label: str, n: int) -> bytes:
    """`n` random-looking bytes, always the same for the same label (SHAKE-256)."""
    return hashlib.shake_256(label.encode()).digest(n)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> dt.datetime:
    """A fixed UTC datetime."""
    return dt.datetime(y, mo, d, h, mi, s, tzinfo=dt.UTC)


def epoch_ns(t: dt.datetime) -> int:
    """Datetime -> integer nanoseconds since the epoch (exact for whole seconds)."""
    return int(t.timestamp()) * 1_000_000_000


# --------------------------------------------------------------------------------------
# PKI
# --------------------------------------------------------------------------------------

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def rsa_key(pem: bytes) -> rsa.RSAPrivateKey:
    """Load one of the fixed RSA test keys below."""
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def ec_key(secret: int, curve: ec.EllipticCurve | None = None) -> ec.EllipticCurvePrivateKey:
    """A deterministic EC key: the private scalar is `secret` (P-256 by default)."""
    return ec.derive_private_key(secret, curve or ec.SECP256R1())


def name(
    cn: str,
    o: str | None = None,
    ou: str | None = None,
    c: str | None = "US",
    st: str | None = None,
    l: str | None = None,  # noqa: E741  (the X.509 attribute is called L)
    serial_number: str | None = None,
) -> x509.Name:
    """An X.509 name, RDNs in the usual C, ST, L, O, OU, CN order."""
    attrs = []
    for oid, value in (
        (NameOID.COUNTRY_NAME, c),
        (NameOID.STATE_OR_PROVINCE_NAME, st),
        (NameOID.LOCALITY_NAME, l),
        (NameOID.ORGANIZATION_NAME, o),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
        (NameOID.COMMON_NAME, cn),
        (NameOID.SERIAL_NUMBER, serial_number),
    ):
        if value is not None:
            attrs.append(x509.NameAttribute(oid, value))
    return x509.Name(attrs)


@dataclass(frozen=True)
class Cert:
    """A certificate with its key: DER, fingerprints and the facts expected.json records."""

    cert: x509.Certificate
    key: PrivateKey

    @property
    def der(self) -> bytes:
        """DER encoding, as it goes on the wire."""
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def sha1(self) -> str:
        """SHA-1 over the DER, lower-case hex."""
        return hashlib.sha1(self.der).hexdigest()

    @property
    def sha256(self) -> str:
        """SHA-256 over the DER, lower-case hex."""
        return hashlib.sha256(self.der).hexdigest()

    @property
    def subject(self) -> x509.Name:
        """Subject name."""
        return self.cert.subject

    def facts(self) -> dict[str, Any]:
        """What a sensor should report about this certificate (planted values)."""
        pub = self.key.public_key()
        if isinstance(pub, rsa.RSAPublicKey):
            key_type, bits = "RSA", pub.key_size
        else:
            key_type, bits = "EC", pub.curve.key_size
        sans: list[str] = []
        try:
            ext = self.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            sans = [f"DNS:{v}" for v in ext.get_values_for_type(x509.DNSName)]
            sans += [f"IP:{v}" for v in ext.get_values_for_type(x509.IPAddress)]
            sans += [f"URI:{v}" for v in ext.get_values_for_type(x509.UniformResourceIdentifier)]
        except x509.ExtensionNotFound:
            pass
        assert self.cert.signature_hash_algorithm is not None
        return {
            "subject": self.cert.subject.rfc4514_string(),
            "issuer": self.cert.issuer.rfc4514_string(),
            "serial": format(self.cert.serial_number, "X"),
            "not_before": self.cert.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "not_after": self.cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "key_type": key_type,
            "key_bits": bits,
            "signature_hash": self.cert.signature_hash_algorithm.name,
            "sans": sans,
            "self_signed": self.cert.issuer == self.cert.subject,
            "sha1": self.sha1,
            "sha256": self.sha256,
        }


def make_cert(
    subject: x509.Name,
    key: PrivateKey,
    *,
    issuer: Cert | None,
    serial: int,
    not_before: dt.datetime,
    not_after: dt.datetime,
    ca: bool = False,
    path_len: int | None = None,
    dns: Sequence[str] = (),
    ips: Sequence[str] = (),
    uris: Sequence[str] = (),
    eku: Sequence[str] = (),
    sig_hash: hashes.HashAlgorithm | None = None,
) -> Cert:
    """Build and sign one certificate deterministically (issuer None: self-signed).

    eku: any of "server", "client".
    """
    import ipaddress

    signer_key = issuer.key if issuer else key
    issuer_name = issuer.subject if issuer else subject
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    b = b.add_extension(x509.BasicConstraints(ca=ca, path_length=path_len if ca else None), critical=True)
    if ca:
        ku = x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=True,
            crl_sign=True,
            encipher_only=False,
            decipher_only=False,
        )
    else:
        is_rsa = isinstance(key, rsa.RSAPrivateKey)
        ku = x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=is_rsa,
            data_encipherment=False,
            key_agreement=not is_rsa,
            key_cert_sign=False,
            crl_sign=False,
            encipher_only=False,
            decipher_only=False,
        )
    b = b.add_extension(ku, critical=True)
    usages = {"server": ExtendedKeyUsageOID.SERVER_AUTH, "client": ExtendedKeyUsageOID.CLIENT_AUTH}
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage([usages[u] for u in eku]), critical=False)
    general: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    general += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    general += [x509.UniformResourceIdentifier(u) for u in uris]
    if general:
        b = b.add_extension(x509.SubjectAlternativeName(general), critical=False)
    b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    if issuer:
        b = b.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
        )
    algo = sig_hash or hashes.SHA256()
    if isinstance(signer_key, ec.EllipticCurvePrivateKey):
        cert = b.sign(signer_key, algo, ecdsa_deterministic=True)
    else:
        cert = b.sign(signer_key, algo)  # PKCS#1 v1.5: deterministic
    return Cert(cert, key)


_SHA256_RSA = bytes.fromhex("06092a864886f70d01010b0500")
_SHA1_RSA = bytes.fromhex("06092a864886f70d0101050500")
_SHA1_DIGEST_INFO = bytes.fromhex("3021300906052b0e03021a05000414")


def resign_sha1_rsa(c: Cert) -> Cert:
    """The same certificate signed with sha1WithRSAEncryption (a legacy device).

    OpenSSL 3+/cryptography refuse SHA-1 signatures, so the signature is made by hand:
    swap the AlgorithmIdentifier OIDs (same length), then RSA over the PKCS#1 v1.5 encoded
    SHA-1 digest of the new TBS with the raw private exponent (deterministic).
    """
    key = c.key
    assert isinstance(key, rsa.RSAPrivateKey)
    der = c.der
    assert der.count(_SHA256_RSA) == 2
    der = der.replace(_SHA256_RSA, _SHA1_RSA)
    tbs = c.cert.tbs_certificate_bytes.replace(_SHA256_RSA, _SHA1_RSA)
    k = key.key_size // 8
    t = _SHA1_DIGEST_INFO + hashlib.sha1(tbs).digest()
    em = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    nums = key.private_numbers()
    sig = pow(int.from_bytes(em, "big"), nums.d, nums.public_numbers.n).to_bytes(k, "big")
    assert der.endswith(c.cert.signature)
    der = der[:-k] + sig
    return Cert(x509.load_der_x509_certificate(der), key)


def sign(key: PrivateKey, data: bytes) -> bytes:
    """A deterministic signature (RSA PKCS#1 v1.5 or RFC 6979 ECDSA) with SHA-256."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def ec_point(key: ec.EllipticCurvePrivateKey) -> bytes:
    """Uncompressed public point (for ECDHE key exchange messages)."""
    return key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


# --------------------------------------------------------------------------------------
# TLS: record layer and handshake messages
# --------------------------------------------------------------------------------------

CT_CCS, CT_ALERT, CT_HANDSHAKE, CT_APPDATA = 20, 21, 22, 23
HS_CLIENT_HELLO, HS_SERVER_HELLO, HS_CERTIFICATE = 1, 2, 11
HS_SERVER_KEY_EXCHANGE, HS_CERTIFICATE_REQUEST, HS_SERVER_HELLO_DONE = 12, 13, 14
HS_CERTIFICATE_VERIFY, HS_CLIENT_KEY_EXCHANGE, HS_FINISHED = 15, 16, 20
TLS10, TLS11, TLS12, TLS13 = 0x0301, 0x0302, 0x0303, 0x0304
VERSION_NAMES = {TLS10: "1.0", TLS11: "1.1", TLS12: "1.2", TLS13: "1.3"}

EXT_SNI, EXT_STATUS_REQUEST, EXT_GROUPS, EXT_POINT_FORMATS = 0, 5, 10, 11
EXT_SIG_ALGS, EXT_ALPN, EXT_SCT, EXT_PADDING, EXT_ETM, EXT_EMS = 13, 16, 18, 21, 22, 23
EXT_SESSION_TICKET, EXT_SUPPORTED_VERSIONS, EXT_PSK_MODES, EXT_KEY_SHARE = 35, 43, 45, 51
EXT_RENEGOTIATION_INFO, EXT_COMPRESS_CERT, EXT_ALPS = 0xFF01, 27, 17513

GREASE = tuple(0x0A0A + 0x1010 * i for i in range(16))

# signature schemes (RFC 8446 4.2.3)
RSA_PKCS1_SHA256, RSA_PKCS1_SHA384, RSA_PKCS1_SHA1 = 0x0401, 0x0501, 0x0201
ECDSA_SHA256, ECDSA_SHA384, RSA_PSS_SHA256, RSA_PSS_SHA384 = 0x0403, 0x0503, 0x0804, 0x0805
X25519, SECP256R1, SECP384R1 = 0x001D, 0x0017, 0x0018


def u8(n: int) -> bytes:
    """One byte."""
    return struct.pack("!B", n)


def u16(n: int) -> bytes:
    """Two bytes, network order."""
    return struct.pack("!H", n)


def u24(n: int) -> bytes:
    """Three bytes, network order."""
    return struct.pack("!I", n)[1:]


def vec8(b: bytes) -> bytes:
    """opaque<0..2^8-1>."""
    return u8(len(b)) + b


def vec16(b: bytes) -> bytes:
    """opaque<0..2^16-1>."""
    return u16(len(b)) + b


def vec24(b: bytes) -> bytes:
    """opaque<0..2^24-1>."""
    return u24(len(b)) + b


def record(ct: int, payload: bytes, version: int = TLS12) -> bytes:
    """One TLSPlaintext/TLSCiphertext record."""
    return u8(ct) + u16(version) + vec16(payload)


def handshake(msg_type: int, body: bytes) -> bytes:
    """One handshake message (type, uint24 length, body)."""
    return u8(msg_type) + vec24(body)


# --- extensions -----------------------------------------------------------------------


def ext(ext_type: int, data: bytes = b"") -> tuple[int, bytes]:
    """A (type, data) extension pair."""
    return ext_type, data


def ext_sni(host: str) -> tuple[int, bytes]:
    """server_name with one host_name entry (RFC 6066 3)."""
    return EXT_SNI, vec16(u8(0) + vec16(host.encode()))


def ext_alpn(protocols: Sequence[str]) -> tuple[int, bytes]:
    """application_layer_protocol_negotiation (RFC 7301)."""
    return EXT_ALPN, vec16(b"".join(vec8(p.encode()) for p in protocols))


def ext_groups(groups: Sequence[int]) -> tuple[int, bytes]:
    """supported_groups."""
    return EXT_GROUPS, vec16(b"".join(u16(g) for g in groups))


def ext_point_formats(formats: Sequence[int] = (0,)) -> tuple[int, bytes]:
    """ec_point_formats."""
    return EXT_POINT_FORMATS, vec8(bytes(formats))


def ext_sig_algs(algs: Sequence[int]) -> tuple[int, bytes]:
    """signature_algorithms."""
    return EXT_SIG_ALGS, vec16(b"".join(u16(a) for a in algs))


def ext_versions(versions: Sequence[int]) -> tuple[int, bytes]:
    """supported_versions, client form (list)."""
    return EXT_SUPPORTED_VERSIONS, vec8(b"".join(u16(v) for v in versions))


def ext_key_share(entries: Sequence[tuple[int, bytes]]) -> tuple[int, bytes]:
    """key_share, client form (list of group + key_exchange)."""
    return EXT_KEY_SHARE, vec16(b"".join(u16(g) + vec16(k) for g, k in entries))


def ext_psk_modes() -> tuple[int, bytes]:
    """psk_key_exchange_modes: psk_dhe_ke."""
    return EXT_PSK_MODES, vec8(b"\x01")


def ext_status_request() -> tuple[int, bytes]:
    """status_request (OCSP, no responder ids)."""
    return EXT_STATUS_REQUEST, b"\x01\x00\x00\x00\x00"


def ext_reneg() -> tuple[int, bytes]:
    """renegotiation_info, initial handshake."""
    return EXT_RENEGOTIATION_INFO, b"\x00"


# --- ClientHello / ServerHello --------------------------------------------------------


@dataclass(frozen=True)
class ClientHello:
    """A ClientHello as planted: encodes itself and knows its JA3 (GREASE removed)."""

    random: bytes
    ciphers: tuple[int, ...]
    extensions: tuple[tuple[int, bytes], ...]
    session_id: bytes = b""
    version: int = TLS12
    compression: bytes = b"\x00"

    def encode(self) -> bytes:
        """The handshake message (type 1)."""
        exts = b"".join(u16(t) + vec16(d) for t, d in self.extensions)
        body = (
            u16(self.version)
            + self.random
            + vec8(self.session_id)
            + vec16(b"".join(u16(c) for c in self.ciphers))
            + vec8(self.compression)
            + vec16(exts)
        )
        return handshake(HS_CLIENT_HELLO, body)

    def _ext(self, t: int) -> bytes | None:
        for et, d in self.extensions:
            if et == t:
                return d
        return None

    @property
    def sni(self) -> str | None:
        """The planted server name."""
        d = self._ext(EXT_SNI)
        return d[5:].decode() if d else None

    @property
    def alpn(self) -> list[str]:
        """Offered ALPN protocols."""
        d = self._ext(EXT_ALPN)
        out, i = [], 2
        while d and i < len(d):
            n = d[i]
            out.append(d[i + 1 : i + 1 + n].decode())
            i += 1 + n
        return out

    @property
    def versions(self) -> list[str]:
        """Offered versions (supported_versions without GREASE, else legacy_version)."""
        d = self._ext(EXT_SUPPORTED_VERSIONS)
        if d is None:
            return [VERSION_NAMES[self.version]]
        vs = [struct.unpack_from("!H", d, 1 + i)[0] for i in range(0, d[0], 2)]
        return [VERSION_NAMES[v] for v in vs if v not in GREASE]

    @property
    def ja3_string(self) -> str:
        """SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats."""
        ciphers = [c for c in self.ciphers if c not in GREASE]
        exts = [t for t, _ in self.extensions if t not in GREASE]
        groups: list[int] = []
        g = self._ext(EXT_GROUPS)
        if g:
            groups = [v for v in struct.unpack_from(f"!{len(g) // 2 - 1}H", g, 2) if v not in GREASE]
        pf = self._ext(EXT_POINT_FORMATS)
        fmts = list(pf[1:]) if pf else []
        return ",".join(
            [
                str(self.version),
                "-".join(map(str, ciphers)),
                "-".join(map(str, exts)),
                "-".join(map(str, groups)),
                "-".join(map(str, fmts)),
            ]
        )

    @property
    def ja3(self) -> str:
        """MD5 of the JA3 string."""
        return hashlib.md5(self.ja3_string.encode()).hexdigest()


@dataclass(frozen=True)
class ServerHello:
    """A ServerHello as planted, with its JA3S."""

    random: bytes
    cipher: int
    extensions: tuple[tuple[int, bytes], ...] = ()
    session_id: bytes = b""
    version: int = TLS12

    def encode(self) -> bytes:
        """The handshake message (type 2)."""
        exts = b"".join(u16(t) + vec16(d) for t, d in self.extensions)
        body = u16(self.version) + self.random + vec8(self.session_id) + u16(self.cipher) + b"\x00"
        if self.extensions:
            body += vec16(exts)
        return handshake(HS_SERVER_HELLO, body)

    @property
    def ja3s_string(self) -> str:
        """SSLVersion,Cipher,Extensions."""
        return f"{self.version},{self.cipher}," + "-".join(str(t) for t, _ in self.extensions)

    @property
    def ja3s(self) -> str:
        """MD5 of the JA3S string."""
        return hashlib.md5(self.ja3s_string.encode()).hexdigest()

    @property
    def chosen_version(self) -> str:
        """supported_versions when present (TLS 1.3), else the legacy version."""
        for t, d in self.extensions:
            if t == EXT_SUPPORTED_VERSIONS:
                return VERSION_NAMES[struct.unpack("!H", d)[0]]
        return VERSION_NAMES[self.version]


def certificate12(chain: Sequence[Cert]) -> bytes:
    """TLS <= 1.2 Certificate message: certificate_list<0..2^24-1> of DER, leaf first."""
    return handshake(HS_CERTIFICATE, vec24(b"".join(vec24(c.der) for c in chain)))


def certificate13(chain: Sequence[Cert]) -> bytes:
    """TLS 1.3 Certificate message (only its size matters: it is sent encrypted)."""
    return handshake(HS_CERTIFICATE, vec8(b"") + vec24(b"".join(vec24(c.der) + vec16(b"") for c in chain)))


def certificate_request12(
    ca_names: Sequence[x509.Name],
    cert_types: bytes = b"\x01\x40",
    sig_algs: Sequence[int] = (
        RSA_PKCS1_SHA256,
        ECDSA_SHA256,
        RSA_PKCS1_SHA384,
        ECDSA_SHA384,
        RSA_PKCS1_SHA1,
    ),
) -> bytes:
    """TLS 1.2 CertificateRequest: types (rsa_sign, ecdsa_sign), algorithms, CA names (DER)."""
    names = b"".join(vec16(n.public_bytes()) for n in ca_names)
    body = vec8(cert_types) + vec16(b"".join(u16(a) for a in sig_algs)) + vec16(names)
    return handshake(HS_CERTIFICATE_REQUEST, body)


def certificate_request13(
    sig_algs: Sequence[int] = (ECDSA_SHA256, RSA_PSS_SHA256, RSA_PKCS1_SHA256),
) -> bytes:
    """TLS 1.3 CertificateRequest (empty context, signature_algorithms)."""
    exts = u16(EXT_SIG_ALGS) + vec16(ext_sig_algs(sig_algs)[1])
    return handshake(HS_CERTIFICATE_REQUEST, vec8(b"") + vec16(exts))


def server_key_exchange_ecdhe(
    eph: ec.EllipticCurvePrivateKey,
    group: int,
    signer: PrivateKey,
    client_random: bytes,
    server_random: bytes,
) -> bytes:
    """ECDHE ServerKeyExchange with a real (deterministic) signature over the params."""
    params = u8(3) + u16(group) + vec8(ec_point(eph))
    scheme = ECDSA_SHA256 if isinstance(signer, ec.EllipticCurvePrivateKey) else RSA_PKCS1_SHA256
    sig = sign(signer, client_random + server_random + params)
    return handshake(HS_SERVER_KEY_EXCHANGE, params + u16(scheme) + vec16(sig))


def server_hello_done() -> bytes:
    """ServerHelloDone (empty)."""
    return handshake(HS_SERVER_HELLO_DONE, b"")


def client_key_exchange_rsa(label: str, modulus_bytes: int = 256) -> bytes:
    """RSA ClientKeyExchange: the encrypted premaster secret (fixed bytes of the key size)."""
    return handshake(HS_CLIENT_KEY_EXCHANGE, vec16(fixed_bytes(label, modulus_bytes)))


def client_key_exchange_ecdhe(eph: ec.EllipticCurvePrivateKey) -> bytes:
    """ECDHE ClientKeyExchange: the client's ephemeral point."""
    return handshake(HS_CLIENT_KEY_EXCHANGE, vec8(ec_point(eph)))


def certificate_verify12(key: PrivateKey, transcript: bytes) -> bytes:
    """CertificateVerify signed for real (deterministically) over the transcript so far."""
    scheme = ECDSA_SHA256 if isinstance(key, ec.EllipticCurvePrivateKey) else RSA_PKCS1_SHA256
    return handshake(HS_CERTIFICATE_VERIFY, u16(scheme) + vec16(sign(key, transcript)))


def ccs(version: int = TLS12) -> bytes:
    """ChangeCipherSpec record."""
    return record(CT_CCS, b"\x01", version)


def encrypted_finished12(label: str) -> bytes:
    """AES-GCM Finished: 8-byte explicit nonce + 16 verify_data + 16-byte tag = 40 bytes."""
    return record(CT_HANDSHAKE, fixed_bytes(label, 40))


def appdata13(label: str, inner_len: int) -> bytes:
    """A TLS 1.3 encrypted record holding `inner_len` plaintext bytes (+ type byte + tag)."""
    return record(CT_APPDATA, fixed_bytes(label, inner_len + 1 + 16))


def appdata12(label: str, plain_len: int) -> bytes:
    """A TLS 1.2 AES-GCM application_data record (explicit nonce + data + tag)."""
    return record(CT_APPDATA, fixed_bytes(label, 8 + plain_len + 16))


def flight(
    items: Sequence[tuple[str, bytes, str]], version: int = TLS12, max_fragment: int = 16384
) -> tuple[bytes, dict[str, int]]:
    """Serialise one flight into records; return the bytes and each item's end offset.

    items: (name, bytes, kind) with kind "hs" (a handshake message; consecutive "hs" items
    are coalesced into the same records, split at `max_fragment`), "hs1" (a handshake
    message in records of its own) or "raw" (already a record, copied as is). The end offset
    of a message is the offset just past the record that carries its last byte: the point
    where a record-by-record parser (and tshark) can first read the whole message.
    """
    out = bytearray()
    ends: dict[str, int] = {}
    i = 0
    while i < len(items):
        nm, data, kind = items[i]
        if kind == "raw":
            out += data
            ends[nm] = len(out)
            i += 1
            continue
        group = [items[i]]
        i += 1
        if kind == "hs":
            while i < len(items) and items[i][2] == "hs":
                group.append(items[i])
                i += 1
        hs = b"".join(g[1] for g in group)
        msg_ends, pos = [], 0
        for g in group:
            pos += len(g[1])
            msg_ends.append((g[0], pos))
        for a in range(0, len(hs), max_fragment):
            frag = hs[a : a + max_fragment]
            out += record(CT_HANDSHAKE, frag, version)
            for nm2, e in msg_ends:
                if a < e <= a + len(frag):
                    ends[nm2] = len(out)
    return bytes(out), ends


# --------------------------------------------------------------------------------------
# network: hosts, links, TCP
# --------------------------------------------------------------------------------------


@dataclass
class Host:
    """A network endpoint: MAC (vendor OUI), IP, TTL and a deterministic IP-id counter."""

    label: str
    mac: str
    ip: str
    ttl: int = 64
    ip_id: int = 0x1000

    def next_id(self) -> int:
        """IPv4 identification for the next packet this host sends."""
        self.ip_id = (self.ip_id + 1) & 0xFFFF
        return self.ip_id


class Link:
    """Ethernet, optionally 802.1Q / QinQ tagged: vlans = ((tpid, vid), ...) outermost first."""

    linktype = 1

    def __init__(self, vlans: Sequence[tuple[int, int]] = ()) -> None:
        self.vlans = tuple(vlans)

    def frame(self, src: Host, dst: Host, l3: ScapyPacket, outgoing: bool) -> bytes:
        """Wrap an L3 scapy packet; returns the frame bytes."""
        p: ScapyPacket = Ether(src=src.mac, dst=dst.mac)
        for tpid, vid in self.vlans:
            p = p / (Dot1AD(vlan=vid, prio=0) if tpid == 0x88A8 else Dot1Q(vlan=vid, prio=0))
        return bytes(p / l3)


class SllLink(Link):
    """Linux cooked capture v1 (DLT 113); `hatype` 1 = Ethernet, 772 = loopback."""

    linktype = 113

    def __init__(self, hatype: int = 1) -> None:
        super().__init__()
        self.hatype = hatype

    def frame(self, src: Host, dst: Host, l3: ScapyPacket, outgoing: bool) -> bytes:
        """SLL header: packet type, ARPHRD type, link address of the sender, protocol."""
        if self.hatype == 772:
            hdr = CookedLinux(pkttype=0, lladdrtype=772, lladdrlen=6, src=b"\x00" * 8)
        else:
            hdr = CookedLinux(
                pkttype=4 if outgoing else 0,
                lladdrtype=1,
                lladdrlen=6,
                src=bytes.fromhex(src.mac.replace(":", "")) + b"\x00\x00",
            )
        return bytes(hdr / l3)


class Sll2Link(Link):
    """Linux cooked capture v2 (DLT 276)."""

    linktype = 276

    def __init__(self, ifindex: int = 3) -> None:
        super().__init__()
        self.ifindex = ifindex

    def frame(self, src: Host, dst: Host, l3: ScapyPacket, outgoing: bool) -> bytes:
        """SLL2 header: protocol, interface index, ARPHRD, packet type, sender address."""
        hdr = CookedLinuxV2(
            ifindex=self.ifindex,
            lladdrtype=1,
            pkttype=4 if outgoing else 0,
            lladdrlen=6,
            src=bytes.fromhex(src.mac.replace(":", "")) + b"\x00\x00",
        )
        return bytes(hdr / l3)


class RawLink(Link):
    """Raw IP, no link header: DLT 101 (LINKTYPE_RAW) or 228 (LINKTYPE_IPV4)."""

    def __init__(self, linktype: int = 101) -> None:
        super().__init__()
        self.linktype = linktype

    def frame(self, src: Host, dst: Host, l3: ScapyPacket, outgoing: bool) -> bytes:
        """The IP packet itself."""
        return bytes(l3)


class NullLink(Link):
    """BSD loopback (DLT 0): a 4-byte address family in the capturing host's byte order."""

    linktype = 0

    def __init__(self, af_inet6: int = 30, endian: str = "<") -> None:
        super().__init__()
        self.af_inet6, self.endian = af_inet6, endian

    def frame(self, src: Host, dst: Host, l3: ScapyPacket, outgoing: bool) -> bytes:
        """Family (2 = AF_INET; AF_INET6 is 24, 28 or 30 depending on the BSD) + IP."""
        fam = self.af_inet6 if isinstance(l3, IPv6) else 2
        return struct.pack(self.endian + "I", fam) + bytes(l3)


@dataclass
class Packet:
    """One captured packet in file order."""

    ts_ns: int
    data: bytes
    iface: int = 0
    spb: bool = False
    """pcapng: written as a Simple Packet Block (no timestamp, interface 0)."""
    tag: tuple[str, str, int, int] | None = None
    """(flow id, direction "c"/"s", stream start offset, end offset) of TCP payload it carries;
    only the packet that makes the bytes available (last IPv4 fragment) is tagged."""
    comment: str | None = None


class Capture:
    """Packets in file order plus the bookkeeping to find where messages complete."""

    def __init__(self) -> None:
        self.packets: list[Packet] = []

    def add(self, pkt: Packet) -> int:
        """Append; returns the 1-based frame number."""
        self.packets.append(pkt)
        return len(self.packets)

    def completion_frame(self, flow_id: str, direction: str, end: int) -> int:
        """First frame (1-based) after which bytes [0, end) of that stream have all arrived."""
        have: list[tuple[int, int]] = []
        for n, p in enumerate(self.packets, 1):
            if p.tag is None or p.tag[0] != flow_id or p.tag[1] != direction:
                continue
            have.append((p.tag[2], p.tag[3]))
            have.sort()
            reach = 0
            for a, b in have:
                if a > reach:
                    break
                reach = max(reach, b)
            if reach >= end:
                return n
        raise ValueError(f"{flow_id}/{direction}: byte {end} never completed")

    def first_frame(self, flow_id: str, direction: str) -> int:
        """The first frame of a stream direction that carries payload."""
        for n, p in enumerate(self.packets, 1):
            if p.tag and p.tag[0] == flow_id and p.tag[1] == direction:
                return n
        raise ValueError(flow_id)


@dataclass
class Segment:
    """A TCP payload piece at stream offset `off` (relative to ISN+1)."""

    off: int
    data: bytes


class TcpFlow:
    """One TCP connection between two Hosts; tracks seq/ack and writes into a Capture.

    Directions are "c" (client -> server) and "s". Stream offsets are relative to ISN+1.
    Timestamps advance with the flow's own clock (`now_ns`), in microsecond steps.
    """

    def __init__(
        self,
        cap: Capture,
        link: Link,
        client: Host,
        cport: int,
        server: Host,
        sport: int,
        *,
        flow_id: str,
        start_ns: int,
        isn_c: int,
        isn_s: int,
        iface: int = 0,
        ipv6: bool = False,
        c_ext: Sequence[str] = (),
        rtt_us: int = 400,
        window: int = 64240,
        mss: int = 1460,
        ts_jitter_ns: int = 0,
        fast: bool = False,
    ) -> None:
        self.cap, self.link, self.flow_id, self.iface = cap, link, flow_id, iface
        self.hosts = {"c": client, "s": server}
        self.ports = {"c": cport, "s": sport}
        self.isn = {"c": isn_c, "s": isn_s}
        self.sent = {"c": 0, "s": 0}  # highest stream offset sent per direction
        self.now_ns = start_ns
        self.ipv6, self.c_ext, self.rtt_us, self.window, self.mss = ipv6, tuple(c_ext), rtt_us, window, mss
        self.ts_jitter_ns = ts_jitter_ns
        self.fast = fast and not ipv6 and type(link) is Link
        """fast: pack IPv4/TCP/Ethernet with struct instead of scapy (same bytes, 50x faster)."""
        self.syn_done = {"c": False, "s": False}
        self.fin = {"c": False, "s": False}
        self.rcv_ranges: dict[str, list[tuple[int, int]]] = {"c": [], "s": []}
        self.rcv_next = {"c": 0, "s": 0}

    @staticmethod
    def other(d: str) -> str:
        """The other direction."""
        return "s" if d == "c" else "c"

    def tick(self, us: int) -> None:
        """Advance this flow's clock."""
        self.now_ns += us * 1000

    def seq_of(self, d: str, off: int) -> int:
        """Absolute sequence number of stream offset `off` in direction d."""
        return (self.isn[d] + 1 + off) & 0xFFFFFFFF

    def ack_for(self, d: str) -> int:
        """What a packet sent in direction d acknowledges: the other side's bytes received
        in order so far (a hole left by an out-of-order segment is not acknowledged)."""
        o = self.other(d)
        extra = 1 if self.fin[o] else 0
        return (self.isn[o] + 1 + self.rcv_next[o] + extra) & 0xFFFFFFFF

    def _received(self, d: str, start: int, end: int) -> None:
        """Book bytes [start, end) of direction d as arrived; advance the in-order point."""
        self.rcv_ranges[d].append((start, end))
        self.rcv_ranges[d].sort()
        reach = self.rcv_next[d]
        for a, b in self.rcv_ranges[d]:
            if a > reach:
                break
            reach = max(reach, b)
        self.rcv_next[d] = reach

    def l3(self, d: str, tcp: ScapyPacket) -> ScapyPacket:
        """IP (v4 or v6, with the client's extension headers) around a TCP segment."""
        src, dst = self.hosts[d], self.hosts[self.other(d)]
        if self.ipv6:
            p: ScapyPacket = IPv6(src=src.ip, dst=dst.ip, hlim=src.ttl, fl=0)
            if d == "c":
                for e in self.c_ext:
                    if e == "hbh":
                        p = p / IPv6ExtHdrHopByHop(options=[RouterAlert(value=0), PadN(optdata=b"")])
                    elif e == "dst":
                        p = p / IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\x00" * 4)])
            return p / tcp
        return IP(src=src.ip, dst=dst.ip, ttl=src.ttl, id=src.next_id(), flags="DF") / tcp

    def emit(
        self,
        d: str,
        flags: str,
        seq: int,
        ack: int | None,
        payload: bytes = b"",
        options: list[tuple[str, Any]] | None = None,
        tag: tuple[int, int] | None = None,
        spb: bool = False,
    ) -> int:
        """Write one segment now; returns its frame number."""
        win = self.window if "S" in flags else self.window >> 7  # scaled by WScale 7 after SYN
        if self.fast:
            src, dst = self.hosts[d], self.hosts[self.other(d)]
            data = ether_prefix(src.mac, dst.mac, self.link.vlans) + ipv4_tcp_bytes(
                src,
                dst,
                self.ports[d],
                self.ports[self.other(d)],
                seq,
                ack if ack is not None else 0,
                flags,
                win,
                tcp_options(options or []),
                payload,
            )
            t = None if tag is None else (self.flow_id, d, tag[0], tag[1])
            if tag is not None:
                self._received(d, *tag)
            return self.cap.add(Packet(self.now_ns + self.ts_jitter_ns, data, self.iface, spb, t))
        tcp = TCP(
            sport=self.ports[d],
            dport=self.ports[self.other(d)],
            seq=seq,
            ack=ack if ack is not None else 0,
            flags=flags,
            window=win,
            options=options or [],
        )
        l3 = self.l3(d, tcp / Raw(payload) if payload else tcp)
        data = self.link.frame(self.hosts[d], self.hosts[self.other(d)], l3, outgoing=(d == "c"))
        t = None if tag is None else (self.flow_id, d, tag[0], tag[1])
        if tag is not None:
            self._received(d, *tag)
        return self.cap.add(Packet(self.now_ns + self.ts_jitter_ns, data, self.iface, spb, t))

    def handshake(self, spb_ack: bool = False) -> None:
        """SYN, SYN-ACK, ACK with the usual options."""
        opts: list[tuple[str, Any]] = [("MSS", self.mss), ("SAckOK", b""), ("WScale", 7)]
        self.emit("c", "S", self.isn["c"], None, options=opts)
        self.tick(self.rtt_us // 2)
        self.emit("s", "SA", self.isn["s"], self.seq_of("c", 0), options=opts)
        self.tick(self.rtt_us // 2)
        self.emit("c", "A", self.seq_of("c", 0), self.seq_of("s", 0), spb=spb_ack)
        self.syn_done = {"c": True, "s": True}
        self.tick(60)

    def segments(self, d: str, data: bytes, mss: int | None = None) -> list[Segment]:
        """Cut `data` (to be sent next in direction d) into MSS-sized segments."""
        m = mss or self.mss
        base = self.sent[d]
        return [Segment(base + i, data[i : i + m]) for i in range(0, len(data), m)]

    def send_segments(
        self, d: str, segs: Iterable[Segment], ack_every: int = 2, gap_us: int = 12
    ) -> list[int]:
        """Emit the given segments in the given order (PSH on the last), the receiver ACKing
        every `ack_every` segments; returns the data frames."""
        segs = list(segs)
        frames = []
        for i, s in enumerate(segs):
            end = s.off + len(s.data)
            flags = "PA" if i == len(segs) - 1 else "A"
            frames.append(
                self.emit(d, flags, self.seq_of(d, s.off), self.ack_for(d), s.data, tag=(s.off, end))
            )
            self.sent[d] = max(self.sent[d], end)
            self.tick(gap_us)
            if ack_every and ((i + 1) % ack_every == 0 or i == len(segs) - 1):
                o = self.other(d)
                self.tick(self.rtt_us // 4)
                self.emit(o, "A", self.seq_of(o, self.sent[o]), self.ack_for(o))
        self.tick(self.rtt_us // 2)
        return frames

    def send(self, d: str, data: bytes, mss: int | None = None, ack_every: int = 2) -> int:
        """Send `data` in direction d; returns the stream offset where it started."""
        start = self.sent[d]
        self.send_segments(d, self.segments(d, data, mss), ack_every)
        return start

    def close(self) -> None:
        """Client FIN, server FIN-ACK, client ACK."""
        self.emit("c", "FA", self.seq_of("c", self.sent["c"]), self.ack_for("c"))
        self.fin["c"] = True
        self.tick(self.rtt_us // 2)
        self.emit("s", "FA", self.seq_of("s", self.sent["s"]), self.ack_for("s"))
        self.fin["s"] = True
        self.tick(self.rtt_us // 2)
        self.emit("c", "A", self.seq_of("c", self.sent["c"] + 1), self.ack_for("c"))
        self.tick(100)

    def send_fragmented(self, d: str, data: bytes, fragsize: int, order: Sequence[int]) -> list[int]:
        """Send `data` as ONE TCP segment in IPv4 fragments emitted in `order` (indices).

        Only the last fragment emitted carries the stream tag: reassembly completes there.
        """
        assert not self.ipv6
        off = self.sent[d]
        tcp = TCP(
            sport=self.ports[d],
            dport=self.ports[self.other(d)],
            seq=self.seq_of(d, off),
            ack=self.ack_for(d),
            flags="PA",
            window=self.window >> 7,
        ) / Raw(data)
        whole = IP(bytes(self.l3(d, tcp)))  # checksums fixed before fragmenting
        frags = fragment(whole, fragsize=fragsize)
        frames = []
        for k, idx in enumerate(order):
            last = k == len(order) - 1
            frame = self.link.frame(self.hosts[d], self.hosts[self.other(d)], frags[idx], d == "c")
            t = (self.flow_id, d, off, off + len(data)) if last else None
            frames.append(self.cap.add(Packet(self.now_ns, frame, self.iface, False, t)))
            self.tick(15)
        self.sent[d] = off + len(data)
        self._received(d, off, off + len(data))
        self.tick(self.rtt_us // 2)
        o = self.other(d)
        self.emit(o, "A", self.seq_of(o, self.sent[o]), self.ack_for(o))
        self.tick(self.rtt_us // 2)
        return frames


_TCP_FLAGS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10, "U": 0x20}


def _csum(data: bytes) -> int:
    """Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\x00"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def tcp_options(opts: Sequence[tuple[str, Any]]) -> bytes:
    """MSS / SAckOK / WScale / NOP options as scapy encodes them (padded with EOL)."""
    out = b""
    for kind, val in opts:
        if kind == "MSS":
            out += struct.pack("!BBH", 2, 4, val)
        elif kind == "SAckOK":
            out += b"\x04\x02"
        elif kind == "WScale":
            out += struct.pack("!BBB", 3, 3, val)
        elif kind == "NOP":
            out += b"\x01"
        else:
            raise ValueError(kind)
    return out + b"\x00" * (-len(out) % 4)


def ipv4_tcp_bytes(
    src: Host,
    dst: Host,
    sport: int,
    dport: int,
    seq: int,
    ack: int,
    flags: str,
    window: int,
    options: bytes = b"",
    payload: bytes = b"",
    df: bool = True,
) -> bytes:
    """IPv4 + TCP packed with struct (the benchmark's fast path); byte-identical to what
    scapy builds for the same fields (checked by the benchmark generator's self-test)."""
    import socket

    fl = 0
    for ch in flags:
        fl |= _TCP_FLAGS[ch]
    s_ip, d_ip = socket.inet_aton(src.ip), socket.inet_aton(dst.ip)
    off = (20 + len(options)) // 4
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off << 4, fl, window, 0, 0) + options
    ck = _csum(s_ip + d_ip + struct.pack("!BBH", 0, 6, len(tcp) + len(payload)) + tcp + payload)
    tcp = tcp[:16] + struct.pack("!H", ck) + tcp[18:]
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(tcp) + len(payload),
        src.next_id(),
        0x4000 if df else 0,
        src.ttl,
        6,
        0,
        s_ip,
        d_ip,
    )
    ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
    return ip + tcp + payload


def ether_prefix(
    src_mac: str, dst_mac: str, vlans: Sequence[tuple[int, int]], ethertype: int = 0x0800
) -> bytes:
    """Ethernet header with optional 802.1Q/802.1ad tags (priority 0), packed with struct."""
    out = bytes.fromhex(dst_mac.replace(":", "")) + bytes.fromhex(src_mac.replace(":", ""))
    for tpid, vid in vlans:
        out += struct.pack("!HH", tpid, vid & 0x0FFF)
    return out + struct.pack("!H", ethertype)


def udp_frame(
    link: Link, src: Host, sport: int, dst: Host, dport: int, payload: bytes, outgoing: bool = True
) -> bytes:
    """One UDP/IPv4 datagram framed for `link`."""
    l3 = (
        IP(src=src.ip, dst=dst.ip, ttl=src.ttl, id=src.next_id())
        / UDP(sport=sport, dport=dport)
        / Raw(payload)
    )
    return link.frame(src, dst, l3, outgoing)


# --------------------------------------------------------------------------------------
# capture files
# --------------------------------------------------------------------------------------


def pcap_bytes(
    packets: Sequence[Packet], linktype: int, *, endian: str = "<", nanos: bool = False, snaplen: int = 262144
) -> bytes:
    """A classic pcap file: µs (0xa1b2c3d4) or ns (0xa1b23c4d) magic, either byte order."""
    magic = 0xA1B23C4D if nanos else 0xA1B2C3D4
    out = [struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)]
    for p in packets:
        sec, frac = divmod(p.ts_ns, 1_000_000_000)
        if not nanos:
            frac //= 1000
        n = len(p.data)
        out.append(struct.pack(endian + "IIII", sec, frac, min(n, snaplen), n) + p.data[:snaplen])
    return b"".join(out)


def write_pcap(
    path: str,
    packets: Sequence[Packet],
    linktype: int,
    *,
    endian: str = "<",
    nanos: bool = False,
    gz: bool = False,
) -> None:
    """Write a pcap file (gzip-compressed, with a fixed header mtime, if `gz`)."""
    data = pcap_bytes(packets, linktype, endian=endian, nanos=nanos)
    if gz:
        data = gzip.compress(data, compresslevel=9, mtime=0)
    with open(path, "wb") as fh:
        fh.write(data)


@dataclass(frozen=True)
class Interface:
    """A pcapng interface: link type, if_tsresol byte (6 = µs, 9 = ns, 0x80|n = 2^-n), name."""

    linktype: int
    tsresol: int | None = 6
    """None: no if_tsresol option (the pcapng default, µs)."""
    name: str | None = None
    description: str | None = None
    snaplen: int = 262144


def _opt(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + b"\x00" * (-len(value) % 4)


def _block(btype: int, body: bytes) -> bytes:
    body += b"\x00" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)


def _ts_units(tsresol: int | None) -> tuple[int, int]:
    """(numerator, denominator) turning ns into interface units: units = ns * num // den."""
    if tsresol is None:
        tsresol = 6
    if tsresol & 0x80:
        return 2 ** (tsresol & 0x7F), 1_000_000_000
    return 10**tsresol, 1_000_000_000


def pcapng_bytes(
    packets: Sequence[Packet], interfaces: Sequence[Interface], *, shb: dict[int, str] | None = None
) -> bytes:
    """A little-endian pcapng section: SHB, one IDB per interface, EPBs (or SPBs)."""
    opts = b"".join(_opt(c, v.encode()) for c, v in (shb or {}).items())
    out = [
        _block(
            0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + (opts + _opt(0, b"") if opts else b"")
        )
    ]
    for i in interfaces:
        o = b""
        if i.name:
            o += _opt(2, i.name.encode())
        if i.description:
            o += _opt(3, i.description.encode())
        if i.tsresol is not None:
            o += _opt(9, bytes([i.tsresol]))
        if o:
            o += _opt(0, b"")
        out.append(_block(1, struct.pack("<HHI", i.linktype, 0, i.snaplen) + o))
    for p in packets:
        n = len(p.data)
        if p.spb:
            assert p.iface == 0, "a Simple Packet Block belongs to interface 0"
            out.append(_block(3, struct.pack("<I", n) + p.data))
            continue
        num, den = _ts_units(interfaces[p.iface].tsresol)
        ts = p.ts_ns * num // den
        body = struct.pack("<IIIII", p.iface, ts >> 32, ts & 0xFFFFFFFF, n, n) + p.data
        body += b"\x00" * (-len(body) % 4)
        if p.comment:
            body += _opt(1, p.comment.encode()) + _opt(0, b"")
        out.append(_block(6, body))
    return b"".join(out)


def write_pcapng(
    path: str,
    packets: Sequence[Packet],
    interfaces: Sequence[Interface],
    *,
    shb: dict[int, str] | None = None,
) -> None:
    """Write a pcapng file."""
    with open(path, "wb") as fh:
        fh.write(pcapng_bytes(packets, interfaces, shb=shb))


SHB_HARDWARE, SHB_OS, SHB_USERAPPL = 2, 3, 4


@dataclass
class Facts:
    """Planted facts of one capture, written as `<capture>.expected.json`."""

    capture: str
    description: str
    connections: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------
# DICOM upper layer (PS3.8 9.3)
# --------------------------------------------------------------------------------------


def _dicom_item(kind: int, value: bytes) -> bytes:
    return struct.pack(">BBH", kind, 0, len(value)) + value


def dicom_associate(pdu: int, calling: str, called: str, identity: tuple[str, str] | None) -> bytes:
    """An A-ASSOCIATE-RQ (pdu 1) or -AC (2) with one Verification/CT-storage presentation
    context and the user information a DCMTK modality sends; `identity` (user, passcode) adds a
    User Identity Negotiation sub-item of type 2 (PS3.7 D.3.3.7)."""
    user_info = _dicom_item(0x51, struct.pack(">I", 16384)) + _dicom_item(0x52, b"1.2.276.0.7230010.3.0.3.6.8") \
        + _dicom_item(0x55, b"OFFIS_DCMTK_368")
    if identity is not None:
        user, passcode = (x.encode() for x in identity)
        user_info += _dicom_item(0x58, struct.pack(">BBH", 2, 0, len(user)) + user
                                 + struct.pack(">H", len(passcode)) + passcode)
    context = (b"\x01\x00\x00\x00" + _dicom_item(0x30, b"1.2.840.10008.5.1.4.1.1.2")
               + _dicom_item(0x40, b"1.2.840.10008.1.2.1"))
    body = (struct.pack(">HH", 1, 0) + called.encode().ljust(16) + calling.encode().ljust(16) + bytes(32)
            + _dicom_item(0x10, b"1.2.840.10008.3.1.1.1") + _dicom_item(0x20 if pdu == 1 else 0x21, context)
            + _dicom_item(0x50, user_info))
    return struct.pack(">BBI", pdu, 0, len(body)) + body


# --------------------------------------------------------------------------------------
# conversations: whole TLS connections over a TcpFlow, with their planted facts
# --------------------------------------------------------------------------------------

SendHook = Any  # Callable[[TcpFlow, str, bytes], None]


def _default_send(flow: TcpFlow, d: str, data: bytes) -> None:
    flow.send(d, data)


def endpoint(flow: TcpFlow, d: str) -> str:
    """ "ip:port" ("[ip]:port" for IPv6) of one side."""
    ip = flow.hosts[d].ip
    return f"[{ip}]:{flow.ports[d]}" if ":" in ip else f"{ip}:{flow.ports[d]}"


@dataclass
class Conn:
    """One planted TLS connection: facts for expected.json plus stream marks to resolve to
    frame numbers once the whole capture is built."""

    flow: TcpFlow
    facts: dict[str, Any]
    marks: dict[str, tuple[str, int]] = field(default_factory=dict)

    def mark(self, key: str, d: str, start: int, ends: dict[str, int], msg: str) -> None:
        """Remember where message `msg` ends in direction d (flight starting at `start`)."""
        self.marks[key] = (d, start + ends[msg])

    def resolve(self, cap: Capture) -> dict[str, Any]:
        """Facts with the frames that complete each marked message (1-based)."""
        frames = {k: cap.completion_frame(self.flow.flow_id, d, e) for k, (d, e) in self.marks.items()}
        return {**self.facts, "frames": dict(sorted(frames.items()))}


def _base_facts(flow: TcpFlow, ch: ClientHello, sh: ServerHello) -> dict[str, Any]:
    return {
        "client": endpoint(flow, "c"),
        "server": endpoint(flow, "s"),
        "client_mac": flow.hosts["c"].mac,
        "server_mac": flow.hosts["s"].mac,
        "vlans": [vid for _, vid in flow.link.vlans],
        "iface": flow.iface,
        "sni": ch.sni,
        "alpn_offered": ch.alpn,
        "versions_offered": ch.versions,
        "tls_version": sh.chosen_version,
        "cipher": f"0x{sh.cipher:04X}",
        "ja3_string": ch.ja3_string,
        "ja3": ch.ja3,
        "ja3s_string": sh.ja3s_string,
        "ja3s": sh.ja3s,
    }


def tls12_connection(
    flow: TcpFlow,
    *,
    ch: ClientHello,
    sh: ServerHello,
    server_chain: Sequence[Cert],
    ca_names: Sequence[x509.Name] | None,
    client_chain: Sequence[Cert] | None,
    kx: str = "rsa",
    coalesce: bool = True,
    max_fragment: int = 16384,
    app: Sequence[tuple[str, int]] = (("c", 300), ("s", 900)),
    syn: bool = True,
    close: bool = True,
    hooks: dict[str, SendHook] | None = None,
    label: str = "",
) -> Conn:
    """A full TLS 1.2 connection: TCP handshake, ClientHello, server flight (Certificate,
    optional ServerKeyExchange and CertificateRequest), client flight (Certificate,
    ClientKeyExchange, CertificateVerify, CCS, Finished), server CCS/Finished, some
    application data, FIN.

    ca_names None: no CertificateRequest. client_chain None: no client Certificate (only
    valid without a CertificateRequest); [] an empty Certificate message.
    hooks: optional senders for "client_hello", "server_flight", "client_flight".
    """
    hooks = hooks or {}
    label = label or flow.flow_id
    conn = Conn(flow, _base_facts(flow, ch, sh))
    if syn:
        flow.handshake()
    # ClientHello
    data, ends = flight([("ch", ch.encode(), "hs1")], TLS10 if ch.version <= TLS12 else TLS12)
    start = flow.sent["c"]
    hooks.get("client_hello", _default_send)(flow, "c", data)
    conn.mark("client_hello", "c", start, ends, "ch")
    transcript = ch.encode()
    # server flight
    kind = "hs" if coalesce else "hs1"
    items = [("sh", sh.encode(), kind), ("cert", certificate12(server_chain), kind)]
    srv_key = server_chain[0].key
    if kx == "ecdhe":
        eph = ec_key(int.from_bytes(fixed_bytes(label + "/s-eph", 16), "big"))
        items.append(("ske", server_key_exchange_ecdhe(eph, SECP256R1, srv_key, ch.random, sh.random), kind))
    if ca_names is not None:
        items.append(("cr", certificate_request12(ca_names), kind))
    items.append(("shd", server_hello_done(), kind))
    data, ends = flight(items, TLS12, max_fragment)
    transcript += b"".join(i[1] for i in items)
    start = flow.sent["s"]
    hooks.get("server_flight", _default_send)(flow, "s", data)
    conn.mark("server_hello", "s", start, ends, "sh")
    conn.mark("server_certificate", "s", start, ends, "cert")
    if ca_names is not None:
        conn.mark("certificate_request", "s", start, ends, "cr")
    # client flight
    items = []
    if client_chain is not None:
        items.append(("cert", certificate12(client_chain), kind))
    if kx == "ecdhe":
        eph = ec_key(int.from_bytes(fixed_bytes(label + "/c-eph", 16), "big"))
        items.append(("cke", client_key_exchange_ecdhe(eph), kind))
    else:
        pub = srv_key.public_key()
        size = pub.key_size // 8 if isinstance(pub, rsa.RSAPublicKey) else 256
        items.append(("cke", client_key_exchange_rsa(label + "/pms", size), kind))
    transcript += b"".join(i[1] for i in items)
    if client_chain:
        items.append(("cv", certificate_verify12(client_chain[0].key, transcript), kind))
    items += [("ccs", ccs(), "raw"), ("fin", encrypted_finished12(label + "/c-fin"), "raw")]
    data, ends = flight(items, TLS12, max_fragment)
    start = flow.sent["c"]
    hooks.get("client_flight", _default_send)(flow, "c", data)
    if client_chain is not None:
        conn.mark("client_certificate", "c", start, ends, "cert")
    flow.send("s", ccs() + encrypted_finished12(label + "/s-fin"))
    for i, (d, n) in enumerate(app):
        flow.send(d, appdata12(f"{label}/app{i}", n))
    if close:
        flow.close()
    conn.facts.update(
        {
            "certificate_request": ca_names is not None,
            "certificate_request_ca_names": [n.rfc4514_string() for n in ca_names or ()],
            "client_chain": [c.facts() for c in client_chain or ()],
            "server_chain": [c.facts() for c in server_chain],
        }
    )
    return conn


def tls13_connection(
    flow: TcpFlow,
    *,
    ch: ClientHello,
    sh: ServerHello,
    server_chain: Sequence[Cert],
    client_chain: Sequence[Cert] | None,
    hash_len: int = 32,
    app: Sequence[tuple[str, int]] = (("c", 420), ("s", 1800)),
    tickets: int = 2,
    label: str = "",
) -> Conn:
    """A TLS 1.3 connection. Everything after ServerHello is encrypted: the server's
    EncryptedExtensions, [CertificateRequest], Certificate, CertificateVerify and Finished
    each in an application_data record of the real size; the client's flight is CCS +
    [Certificate + CertificateVerify] + Finished. client_chain None: no client auth."""
    label = label or flow.flow_id
    conn = Conn(flow, _base_facts(flow, ch, sh))
    flow.handshake()
    data, ends = flight([("ch", ch.encode(), "hs1")], TLS10)
    start = flow.sent["c"]
    flow.send("c", data)
    conn.mark("client_hello", "c", start, ends, "ch")
    srv_sig = 4 + 2 + 2 + 256  # RSA-PSS 2048
    ee = 4 + 2 + (11 if ch.alpn else 0)
    recs = [("sh", sh.encode(), "hs1"), ("ccs", ccs(), "raw"), ("ee", appdata13(label + "/ee", ee), "raw")]
    if client_chain is not None:
        recs.append(("cr", appdata13(label + "/cr", len(certificate_request13())), "raw"))
    recs += [
        ("cert", appdata13(label + "/scert", len(certificate13(server_chain))), "raw"),
        ("cv", appdata13(label + "/scv", srv_sig), "raw"),
        ("fin", appdata13(label + "/sfin", 4 + hash_len), "raw"),
    ]
    data, ends = flight(recs, TLS12)
    start = flow.sent["s"]
    flow.send("s", data)
    conn.mark("server_hello", "s", start, ends, "sh")
    recs = [("ccs", ccs(), "raw")]
    if client_chain is not None:
        key = client_chain[0].key
        cv = 4 + 2 + 2 + (72 if isinstance(key, ec.EllipticCurvePrivateKey) else key.key_size // 8)
        recs += [
            ("cert", appdata13(label + "/ccert", len(certificate13(client_chain))), "raw"),
            ("cv", appdata13(label + "/ccv", cv), "raw"),
        ]
    recs.append(("fin", appdata13(label + "/cfin", 4 + hash_len), "raw"))
    data, ends = flight(recs, TLS12)
    flow.send("c", data)
    encrypted = data[6:]  # after the 6-byte CCS record
    for i in range(tickets):
        flow.send("s", appdata13(f"{label}/nst{i}", 4 + 4 + 4 + 1 + 8 + 2 + 192 + 2))
    for i, (d, n) in enumerate(app):
        flow.send(d, appdata13(f"{label}/app{i}", n))
    flow.close()
    n_rec = 0
    i = 0
    while i < len(encrypted):
        n_rec += 1
        i += 5 + struct.unpack_from("!H", encrypted, i + 3)[0]
    conn.facts.update(
        {
            "certificate_request": None,
            "client_chain": [],
            "server_chain": [],
            "tls13": {
                "client_flight_mutual_auth_shaped": client_chain is not None,
                "client_flight_bytes": len(encrypted),
                "client_flight_records": n_rec,
                "client_flight_record_lengths": [len(r[1]) - 5 for r in recs[1:]],
                "encrypted_client_chain": [
                    {"subject": c.facts()["subject"], "sha1": c.sha1} for c in client_chain or ()
                ],
                "encrypted_server_chain": [
                    {"subject": c.facts()["subject"], "sha1": c.sha1} for c in server_chain
                ],
            },
        }
    )
    return conn


# --------------------------------------------------------------------------------------
# fixed RSA TEST keys (generated once with cryptography; public, for test captures only)
# --------------------------------------------------------------------------------------

RSA_ROOT_CA = b"""\
-----BEGIN RSA PRIVATE KEY-----
MIIEogIBAAKCAQEAxG+oVFhB0rANnAeOpF1no+8V+dHzRc/5dViFOlXrcfRTsvKN
CmEZBsKPnLBOZ25owlkXRyP1TOyH7jZa49LvFrIZOapp09XevlOP+8heMIXl/SXg
6cWW9P2TrvOCW5Rb54buGjQXlDEuYrepJ0IgAW3aNceheZJy3ylAwtXH5cyrJrAO
O2+ML/REXhOlPG/HtO6ASqm11qZ8t7RODm6723c7E9DD1eizIB8frHlr/IzHt3mW
1W4rQJMnbjSuZ679C/fGzrv+vFtBSbj6pz/StVb0s2Si5t2tONHXbi2vOzxRGcyu
R4UIR15OvFd1solluWmhaMcIzAVAnOhwt1qdqwIDAQABAoIBADX8JbvAYZ6gaa0W
2pnLXb9M5rI4g+4MwRcB0+N7V3CC4DnOtPpEQxd7gvJh9boxOrMmvuH7PN/+JUFP
SN1RzAllus8BSYJBRazy1CAzKceWFOXkchJtDhaYVez/2TSH6lYP3AHxjQVaGtBg
fyld3+Pkp9Kd4X/CwrUX5kdlb0F06alvOHJU4CJvbJWAiy4Nc4VcnBRoaBgfRb6X
VPUwhbU/ySTFWqKO3eWsjT+2iXA3aEBcoUPAO02iOesCbpoCZolulTbAHIhVXL+z
za0WvR1UTk7u7iQgwCZHwLHWo2V57SUMsotPDnz4vJmg8if2zfGA0ndAhdUDYWxY
yL3XKdkCgYEA7IRhdQXEYLZXmmt63jOei/8SW3WJ/+o39c6ivUSUH5b7JkIWFDde
UeuBdG4ucUel1Zua025dlKUctFqjjT8B40NZXJMUTWceHq+FeZlnDASlJUDG1Tb8
2B99ONPawpVLomIZFCgyCI56KCqPwCn5PRraZgbRDkaOfbsJulZZqw0CgYEA1J4P
EM8HMiMD4d1fySTPG3ZoqrWl76bEGCkV1geIq7wvH6gBZICDsWBb2N1x5NJBWfTM
gROqu7wlc/ROblFiOvI7/cPJpRMXK22TuXDS7nVur1mjzO7RPHk7DLwwpvjJSbdv
Cq3kQ56xRbTEHbvyE7iaHraAzQ8P5+mVwMnfXZcCgYAx1AXwMIHZ2jCEkOY2z+s0
FU3ZxN6I8uBNQfZZJ4yJRzasLboXEj8lxRbl35ybMvwGD51Ds/m1Kj/s4zeXt1F/
fp3h+f6J/BKFZncZUi86gfQE8Cuzmb0VDzVDdqac3fUsRbyA2aMI2HN16NmWI4Gl
1PV0DzWV61lztabsAessNQKBgAILOu3Yb6NFvuXO8PrIBc2nx73MXTn+imgJDRKv
o9qyxmkxfkHvElUELh3Zkxy2ALbSqZycCcogNuP0d0SMN7uFVJpN5YRWuKRMO11O
/lgYfOXmoLJ5oT1JlQ28SWNxhM3Wm5Sos0cLIX0gDbqTcfJKlgCxlG9kM6zxC+V8
i08lAoGAfzGabAAqeWfeQeoYJdoT4emDEqZmhnHirRrQP6YzRIjp8safU+cP+jP5
6U+ADp0GgTWE6GMCjRhHikPgVQte2A4gMebTuMFGKQaCxhtFrdHFrtEgc/Y/ufOR
nn2PRRfeitQIoi3LATsZFc6nq4xNXCAOmfqizYunuk/aXoqrQKY=
-----END RSA PRIVATE KEY-----
"""

RSA_DEVICE_CA = b"""\
-----BEGIN RSA PRIVATE KEY-----
MIIEpQIBAAKCAQEAwHu3xLjE6XT5Y/49jnFYqNEegaWDnKRqxkro4FjTK9M5c/MW
HAsVWfSUOWZ5yPuEeRc9SQoGjDobCiSbDIKkJ6qtgcQVTbRI/3an4c1Hu6L97U/u
mBwyt0vEfYHaYY44zJQ+snzls8CBk6x+6Ski9e//BDw9KvHrg9d4UYBl19d/5XP7
ByhgbmXQ0UxQqF7ojbEBSTxOqfI0htDEe6NiLWumjzu1hRTixwWsHuKN75Jm6q2P
ogjhqXyRzDzA7Qst3EL2bzXvC3GK4X54nfK5GRXfXtz/rEWCpO6NwML8Hh9pB95S
dj1gspph7yoRc+PFtKEHHBXDt7EgwR+/CnsiOQIDAQABAoIBAFVeaa5XzonGZhep
uo5zCgHxoaiZiopOR8cDkU5zRtFQoNIitaMhbUpU1eqxXwE7QFFec8Fxr17BJJ32
h0fgp0KqicKcf2BTve6Dp0jX/WEklJ+MjIMtOnceJRsPHRaYd+uQMlCCYXQ8RJwE
7NKneoh+dWng97YUzsJOLeBj5Id6F0MLK+6e54m6vYKR4ImyaVvPiJ9B4R4Jav8n
SPmiUYFYn9TYoKyIJTlK58BnkhvRvl/J/oE2RvGxPnfuWbjx21uyIEpY+vWtLYvr
+LbNTMnkdsRy/yMNKLxfjbx/SVx1q4tC06Smi/eTRSDY6cLOqFVZoBx6sA4OPTGy
a9du/EMCgYEA/wQDgPYVyxtO9DiB0DhafhXvGJzaITfi+oTbSKAhLkiLCdHWtrJi
HtqKHaFdHVJyXUq8xbQ4VwdCtxLvio38JU570X7RWqBnrofTesmZfrzbbVjm2lHL
4TFQ2gQUh0TQqFhGv4ar750xGE3EF4pRGeGQs/zW1hy06ZJmcN/ePR8CgYEAwTnq
Ii34mH+akvkfcrKH9mtv1nqpT78lVlYDoJpD6UWhPLRNHk7csM7QVg3ifofJQJUk
1V4xxhRWWEoMWnmAkRpmt3oDyKmEVZeH5/VVBGnOnFfzmq4+dulhqUF7xotGHNM0
tjxslO7b94ODtqKczYfAjDXsFeWm1IJtouUTXacCgYEA+n9+0ZbpIXHZxJwdJ+Oz
QFdbXdn1itvS4jLPFC/3Z/dqXGL7fssLBzO0qBZx2PO701guxiWZkiNXrW20T23Z
WOwXRFpGW7dlIVPasKqHVK8++9JwMdRXaQWAXifT4mv+at8L3+bxzZWjPDRngpgj
wkCIW8TpY7kfHLDqX8YIEBECgYEArr41Y1u3qhIcNDZfnlaeZteaeJjNbXUryvxW
o3NfXyK9Qiy8YWBobO1bs7cy0cLy2hkHCn74/G1/+LBeo6OmBZOeuOb7bQkAyHcV
TUys6iTV2MYhZA2YJ+m/jFXQHint6juHPBdBCx9IhnrFLvG4ZJcUJrjNHLBnQ2AA
zoPkE5kCgYEA9h1Q2y6awvTx7rzAMdMbkiQfJscJH7qGlkHBuyxl6ulbbg6jm6EX
4W49hYUhkew4tDuNt+4CnvlcIknUhJFZkDXdj31rPl7xoCd4nQUhC0jI/7/vXSaZ
ipYfDRK07OjQyy85wX5Fpqdzkm2R1HrbeyQ1UhXwO3waad6SFI6x2tQ=
-----END RSA PRIVATE KEY-----
"""

RSA_SERVER_CA = b"""\
-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEAp/ndXT1oFpI0Ho3Uh7dTIxV/zUKk0bR6O50i7GLMvt9MINeR
aJfjZEr+5OMv1Xf1/yZy7z9h+Za1rKhnUr2G5NpAaGtFGAoTRgCMKTEF5cw8G58F
/sO8vQtTsG532sLSY6noCWuwdAhAAXdGalo40S899hatjVpSQ4k88eY2Yxo/A4Nz
w3F6J7koDphkw1dFwAMk2AklOYUGJQqogAQbUI/OPh8We6kHLbkVdp/H5bse8eGc
SXreDfjm81ZSzOOBEHLwsEjfispFi2zWvBe9OdwSw+oMi9D98paBdMTeobgIhqcS
yVUvNCfYmmLOtDMtxRdJi2l6c48i6OdBN3jseQIDAQABAoIBAEUyT8gIs1fU+6Z4
i8wqr5Nc2GyAnzAKFm53YXsaiji4+P3wf6SkKVbX9B/rHPnltI9a0e8P37b3KDkL
mKDDlY2yAOVjBzALenwUXqjbWpAbLcm9HTWhgZ8oyt177GDQb+YBiKZU1/g8q81O
ytGmABDgUriNCAqaYhgTMWl/CfmRm3IRK/rQB+jfHK4/1ywoJQaH/3PtwT6bMOYU
xxctcOYGTsN/QuVKnl9DtWMzK2pCE+XEWmeNg49Y7NEEWtdpMgMto2fJYAVTylGh
p9fQvbWlD34j97Z5XAaswjeMRgS17BS/HeYiMraxIeJ1g2qHajZPnZDpvb3kIM6y
Op7OwP8CgYEA4E4kOyOF1vLP50yOWcJUgMme9pCgjxROD7gMlrQUn2YLHmxcvDca
BWnv38wnP77vZ32kI4B+hTjta7+/cgm3U8akST7mItVCrE4/wkeTAWScbsWqkqn+
KrS/gfPmjzWT+rf770Bg4XlZcl10nGtP+pr9ZvhNl2kuZJ/bAYwcCkcCgYEAv7Yc
R7AERA6PPb041GZZvDCKq3moiK1PlWA/GkdtvuUilswaTDqKVdTt56j+62POKpSz
Wtmlom5Mg7P4KxeTH3RqMAvnH0fy1oPEi+7jNgJxlm51NFzdrrXf08DtM6ACiSgv
Uk8gDoMJhqD+eCZ8srDJEqP0x7h5qnH2wQIn8z8CgYAJqlRVWAqEYKIkzV+07nLF
uepnpYPFppJWiw+/zrK0y6je/rxgP9+XLCFx+1IVpRyb0QYpoXfSNcnFQtX1DAYi
TgT2QweXqKje0+BbdsoW3UcAXvQircCOBovaBbCBq0VdIGByxstl69y22OAVfWpM
2jDhJwHw7E9bdqfxQSBUMQKBgCs/6Vde5Ud5RWV3R9fbE0l6Zf5TXusetkKLyRCj
pqWXSdtdRl2GI2lDtTw7Cu+Nv5gpneDUEyL24TohIs6N7fn9qGsYdFbBQ46TgYbU
KNwpZvi6CKT8gmKE028RKjIoWgoZT7uw8Bl2BHMj5OS0QhOKAIK9DF72RjRmq3VV
iC+/AoGBANmNofNB/Xg3rKn2PzW6ykOX3AhR0vRpazbwzgiHth4cZcmhopPQlljo
BtqZr0N7syZPtoGEHAfe42LkS60GJuwOh1k7KRl8aRdo80to67C31PBwWaveWEEq
ZYMrvdXtegHWkgcyMGZPhicea4lBCwpJc5x1wE+QuQ8uGKvtbjyg
-----END RSA PRIVATE KEY-----
"""

RSA_PUMP_GATEWAY = b"""\
-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEAwwYZqfnkfKBu4X/mWt7Mvri+cqPPru3GbNzmncZ6VDHSoQy8
VFvwOwtfOvP6gIJq0Jw5lyxziYbVF2Ftd4ZdQsuVrkgan8WMp/8LqbyfDjmf/Abm
XxgdYg6EEUpc7AEESq+r3LnhNFvkmumCY6rwY55tYaRGIP2ZqihC8PtEnudehvTs
wfFIdcjaZOiIJZnrJJ8fhr5dxtNYKTdz6Z14WGypqOeOHI9MmJNlPjEnLaA561dH
LSI/khZK0CV461p8YzZcu29FPj1sJ/HQM7L5RDUk5Y5Db/Y5qT5wcHlY2mnkZres
/Etgw7tcVIhr5z7ocgAvxrPhC1k+2UEdZWHyAwIDAQABAoIBADVU+7ux7LvwG6Jr
GZGMEC2v09UB2w+ZUoP+vMo0tstDfLgyBWaEZeOfroEuqzhtccxujIk8zLO1PZzR
NeBTzDkx91LbwPwkR9zBMG1QeaaoN4nyURl8PLzN/2vDDDo15PiPpc4MvvtUjeWX
KeMbofV8I6lqBQuMjnMr43KHJDLX1EHu4oAtPkipqpHQ10DSO3CiZuLG8sNFBzWn
QjrIXpgS39QlijNy+1n76QflyVuFJcQfHjXpwGhYx497JJhf+ZadJzKwZS9F8OPz
WC7mi4EAtn8D5RxMBu67NMjRX4h/BSqywQ6DednTgDxBCHuk6JIjaJmkjXWF+iQc
glmrCyECgYEA8OZrM0t+6Zonw4MFnEKzBuTPsti7R7tD5WMNKy8IfFvuj6W23kPy
nfZcMaCVWkRU6SxmKSU8vswzbSwSUId3LulaI52w/v4us2srJf6c4g7X9QA66FCu
pq2r3rt3VXSh0B7bOhdVx+huGdizFxs8x/Ren4QMvcDr1ZdUdvOs90sCgYEAzz+I
UYQpxaXWAjwkU9KKJ8Wu67SzC2LW3LIEk2CGvNgar37XsR4aBzXAqFHVfYeyqCzU
zSsB5TBfI5J+zUOu8AVZLutpbbUr1JB97Z/6bkp5DFxdJy6wsA3pTyvZeEz59tS0
JHwp19wNx7rARBMm5CPBdrSRCfMaMlkcz0QBpSkCgYBPQO85w/ev8OhuGRfqbcMq
XHK8ezM6CTDwMaMudt3K1A/rMHC2NRKHx3pTVWptdReeUt4VYUvX1aSBoUMxPTAH
vfvKxeFqMsO4gWSDrn18nbeMwhOfRJQBABgQQgqjkah+qPgk53JwP1ahqDpbOrnH
au0Ke84ZS3QLJCtEqyxXewKBgCh73qMd0BMd2/o/yVDedcJjKVI90CPPQO2HkMFB
P9Cv3jad7oBYwvjZlTLMGYoV8d5MM52IYyxkEJGgUkjCie+0+8Dgl42osFErkI3U
jFTzE0ZI3KGEy1r4vLSMekS3tLR0xGPEJWBXShHT9y7VFunF2krX5uUsqddf9PK/
9BpRAoGBAOkGBWi91WpSU8JoJQQQFUz1aYQdqfpNwL4YFUhmFZNAju+2MM5hsB32
RHvX/hvL/zpNfQ7Le9qTksTIkYUBChQb11RL2TNwDwb9tqyV59tBBCmETH7CM3i6
56GMD7awHTD0RT0QDCGK5fIYE4Cxo86mmH7DJNTN+k0Bcrki3Upj
-----END RSA PRIVATE KEY-----
"""

RSA_HL7_ENGINE = b"""\
-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEAuxtAZLrYdptvaeI+wW41Akc+n+Y4yMPMcbrNT2LNukLx0kme
KyaNzbj7G41ew8tnUprZHLOojfq07YG1jAQ30Yax5ygn6h4dN5KrrQSZl5ieNEa4
a3zAmKXxdGMAzbvm1aufL7rDBdSdMEw8vVztYSNbSsb7fiDm4MpIMCLq5GYyiz5j
4VNsvAWlSvNTGQqnjr2C3Cl7JfPgeBi6Mo58CwxLaQlYLqpZSXi3KjG+uHgWwPXm
bJgc/HBFjJbE1mTbkxp65Trrh2M2VifKe58KVonlk+u6UAbl4Roz+rxapDPj11lB
AinvXINHlLeDbWMtA2mjQEdtEcXBlfIlt0faZwIDAQABAoIBACX9XgE1yL6oR6JV
jA1lLYElaws3SN9GlgufdJFCS+geMJBUXzd+r/sNrHqHJS8W7QciJqQDvFz7guHY
XL6tmpHByfxXtGb+L0t5zb6m+PKFS9XsaAR3A3na86AAfAjJtpA6tOsRfgiAh1vn
lsuSAyaecapIpYaR8p7Ao5CWfl/aIVfKYRxWfQszY2y0h5gMHwSoXy8QfvJK6wN+
3HkG+9KnejJU8OSfnmcvvyVRYOzbJ7XXoJGYSclyIGKeXj8eC6n5e7dkt9ON5ZnE
FDkBdD5xJ5cw9We/MZWlQUxcm7Hp4dVt/togiB+6C3uGJJ5gCeROjdiyfyny0HtM
Qa+T3yUCgYEA3BKGBbyWNSNmE1z2Y26Eagw3KKLLunZwIdzlKfGM+h0s9wgh7wcT
QmxLn/rrzt8YUcmKhKsEcybqbA7AgXTkBniqIJ1OdBccJderFQGTOo0hoVGJGg+P
W1RJJrzfYmjb+DG6b3Zgw3i8DXFKzNjX6cBx1kaNNi0el6aY9obGguUCgYEA2ab8
KrlO55adOuk/Hwo7nK2t638zBfVrzkI0nNQdlt4tbCRbaAI6dshHroPidVx+eR4t
0dYvKaHjRqqjmcNTllE8zvdVfwD3uwhWtm/ie2rXYRT2MdizdqQeJudjDYTfUV2c
91kG1hluiFeqPGKbXEPpZcYwnLcTrl9D2VIV11sCgYBZkUxsr0lvDR4xSUeaRlOs
GZalekRyelu+3HmEbaQT86XmULAG6ZlEEnFhBi3M/22Vc/JldnkUKMWF/ycISTu5
CokrRvq0Mueo2zLtFLwIO4Jxdo7XRXfyEsbG9l3wXn8Qb6TSUpqlU9Eto2tvHd4a
a9GpBQPaBdkKnappw4atpQKBgBEliZooDSJLiEl61KEyYi3etOPnmnJuujZ+mrx8
LXSUPknVt2nDOy3ea19BPpb2WXRbP0rXr9F80nXfvZHAhJZEAiFf9NlTjzCp4ILw
34vPh/Y6+4ZDxyeimEmCUxhejmVPla0a02IMkNum5F9reUfUhc+hxHSkK6XCFYtK
XzQfAoGBALwR6dn9VCQ3hAUOB0siK8HRr+8weKp77qwIg5Bqcd+py7ZGagYb+U7r
CIgnm34EXNnZVFPGTvYNZaidvSTgee8qh0J/M7idJnE5L5YpEBbWl8Xk//QdH+tD
BYQ7smJJiPUkNtFqTnO580DKvTILqboS9iarUgpbVscCAgw/EZQP
-----END RSA PRIVATE KEY-----
"""

RSA_PACS = b"""\
-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEAkXwyCPqOMWJtp5hwt/5hBomu9DdU1fARZ1Dod5FTH78l2sMt
QLKS3kIw43I/Hgo4t+8NkFCwFZDDjk+ptLa4oPBtd363Gaj8tno5nss64aV6u+HF
XvFZdqDxqiZWfiqa+8g1zSmM8r7Ut39CDrLs+Svu/nwXJy6fXo8eD8BE5WzohKHm
lak+/aQ/Wa5raAuilF4uh4b4hF2ULxkMLEXdIHj8W8GEucQqp3YfHP/a+xaA4xSP
0ZtbElHksz2d7GOdYdm9CQSLlyKu7iT9VmLUzaTlmGz3UfX5hbbC7Mhp9f/65AXK
W1HTINCDjVtkWxTbUeLT/UujFjZFc4HTyjV6qQIDAQABAoIBAAIZ77S9U7ZHDuuR
B4MXfOobLShQr/HAHCw9w6x4cEwrgV3hxvf3LFO3/odGeZQS6eNO5AdYgavqEZ0E
WGCTFA3FCJEQMY+rZxexTRRBU196JFCYOqF8AxgJdpFyfiTSiOGymwOp146Trt8F
9Zu16Ld884sq79WsdiJSQbOmCgi17qh3T9KYQbqEcWw2eL1RYPio51kOSNNBIXNT
TgQ3BH64GfeufbH0VrxGf9SgFwiU1VdHO/xjlAKRr5o56Ub4+cXX3yLS1RiqzcZk
ZO5MB7RLNr2DE512Sa8UXeomxTEbbH/Nq6yD4smGFyjWPBg9uYXODKIdOzdeAdqo
gS0k1SECgYEAyP91wtgxsfvnRNrlJgmnORHBJn8NLpTomVtRH6ASkylasyVcKqiq
Q4wH3/RQ83ILZ0pCGb5XsnOOKTOcvKlO3u2c/9rOSbKF8tXslfU5CPmQlDGmeXNU
Rdf+G6Fk/QZyBdckr58OO66edbhhe2U4LQLMs8l8daVLtAsftmRnvXkCgYEAuUvk
GaswvdxkiUV1JwumEy6scdsvbPtBfpdyjQHV1oiMGrWVoyWrIExXKZooLd9lldY8
99sspykXB1CctalU3RA+6H1CJ/mwYVoYif1yXZoAKRbF04XoC8ox0KUxtK6pRB3w
adAxeuSx7PKBiOnUuLaOyLyC71jUyEN7pi5KyrECgYEAlZVwiVol2cSTv618HcvP
VGx/J2wkXkdZt0+7VuLlD/oV0v750ZGGbRCYh7YmTJbSH8Om38vFLjxLTyRnAAys
csG5NrwbC8O9ZhSIpq1CDgjU7UTqFLacwAHXza5WHuweDXSoi76+c/InYYqfmZqh
rPXJa/+GDXO/nDUvG6krf1kCgYArG9PagPBbC348TXN+/P/LMK2f4316Hk5TdEqL
MaUdPzFROXOxvB6+6ePRYvL8ESAiJvCSPWR7E10vL3r17Io40AHCtvmAMV/uljZl
TBiiXCSzan/lwR6GN6k1QGl6/rOUjF6VT4FjdPdMB/NI9hWuT5KScwEHTCRc3w5S
UCzIUQKBgGKfgzRgzZnFh/41p8PcibYe24l7za7cq0da+x1rJf4KqqrMm5mCO3LW
ssarDOFSxtmaKr/b0dCqZoFXFK6oWPf4KoVffsdhCH14VieENazj9VAl+h8bTEcp
AkRLBBGG+ayRPTMNc4c8/xJ6LUm5Se1ZEBICxeQP/Iz+gZdK1V7M
-----END RSA PRIVATE KEY-----
"""

RSA_LEGACY_1024 = b"""\
-----BEGIN RSA PRIVATE KEY-----
MIICXgIBAAKBgQCslx5LqE1jQTmU5WR6/C9SkBxsPdEDkkliIJ+5YzccKmqSencD
S/StRWthHoi8ltE8UPXURnTqE+v7qaIda7LqiNscFYe1/TGFsSPCjnripyupt1TV
qh5CGtmVLVXcBx8cKLdjNCPZY7MIr1/GGkj/2kNXY9GrIadVa1u1qC4ujQIDAQAB
AoGBAKBbmI57Rcwe4j1yFbYfcmin9YCsvvMujHhcD4vUn3PQBU0r9EBf5mrHwUlv
cWSoTKhaIM6m2CJVeEFQD4x+cLDqD9gOBpcJpiZ5Jq6KXvSkA6a0oivart0NqasT
vBtOocEcE87V8EsCqCiGJc5h5Kp4f7ZJbL4WlTQtONdzXnWBAkEA4ObXExBSpt52
BfRIErk2smn87HUMV7SjIrOkIiMpK9fz8vfyfRw5AJnania20gAfbmcsgztjcMsr
zHkRP7h0hQJBAMR0icPdFzlYJ/jBf7Exjp2G/X6Sw5nFY/24Szm//wqUKWEhhQWr
C/wIVUYm5T3ySUBhOdstGAkIYPiMJrx8FGkCQQDLJfjUUYQ3Eu9NBZEsyHxtwGsk
M75IYvSQ3e++nkAMSG8k4274L8wVjOP6w0GUg2Pg1/VPPQ/fzMXtVtaL1lP5AkEA
s4Ar9HuJ4cqL0z2yF8xJG+QgsMsWz+TMxSHkEiM8vIS9/lLrQU+VRraye8PESEKd
7aYof/wG7xHp0I/2QNg6qQJAUVymdnMrX5monI4jdKSlnKSqulM7TiwBT0CU2yLo
ap9heeOOZMykfwVJhdT9oxnVrdX/aZEKqahx07Kkjs7rww==
-----END RSA PRIVATE KEY-----
"""
