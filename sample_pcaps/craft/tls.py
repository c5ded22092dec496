"""TLS built byte by byte (RFC 5246, RFC 8446): the record layer, extensions, `ClientHello`
(which knows its JA3) and `ServerHello` (its JA3S), the handshake messages, and `flight`,
which serialises messages into records and says where each message becomes readable.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from .certs import Cert, PrivateKey, ec_point, sign
from .fixed import fixed_bytes

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


def alert12(description: int, level: int = 2) -> bytes:
    """An alert in clear (RFC 5246 7.2): level (2 fatal) and description, e.g. 45
    certificate_expired."""
    return record(CT_ALERT, u8(level) + u8(description))


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

