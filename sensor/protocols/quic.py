"""QUIC Initial packets: the client's ClientHello, read through the Initial protection.

Protocol: QUIC version 1 (RFC 9000 17.2 long header, 17.2.2 Initial packet, 19 frames) and
draft-29 (0xff00001d). Initial packets are encrypted, but with keys anyone can derive from
the Destination Connection ID of the client's first Initial (RFC 9001 5.2): HKDF-Extract
with the version's salt, HKDF-Expand-Label "client in", then "quic key" / "quic iv" /
"quic hp"; header protection is an AES-128-ECB mask over a 16-byte sample (RFC 9001 5.4),
the payload AES-128-GCM (RFC 9001 5.3).

Emits one `TlsClientHello` (protocol quic) per connection: SNI, ALPN, offered versions,
JA3 (as Wireshark 4.0's `tls.handshake.ja3`) and JA4 with the "q" prefix. The ClientHello
travels in CRYPTO frames that are reassembled by offset (bounded by `MAX_CRYPTO`): Chrome
splits it over two Initial packets and shuffles the frames, several packets may share one
datagram (RFC 9000 12.2).

The dispatcher hands over one datagram per call; it is always consumed whole. Everything
that is not a client Initial (server Initials, Handshake, 0-RTT, Retry, 1-RTT, version
negotiation) is skipped silently; an Initial that does not decrypt or is cut short is a
weird, not an error. Invalid content behind a valid authentication tag raises ParseError.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from ..flowid import Direction, FlowId
from ..records import Observation, Proto, TlsClientHello
from ..secrets import EPHEMERAL, SecretHasher
from ..wire import Incomplete, Reader, add_range
from .base import Extractor, ParseError
from .tls_hello import fingerprints, parse_client_hello
from .tls_names import HS_CLIENT_HELLO, TLS_HS_HEADER, name_text

# --- limits -------------------------------------------------------------------------------

BUDGET = 64 * 1024
"""Bytes per direction worth inspecting: a ClientHello needs one to three Initials."""
MAX_CRYPTO = 64 * 1024
"""Initial CRYPTO stream bytes reassembled; a larger ClientHello is refused."""
MAX_CRYPTO_RANGES = 64
"""Disjoint CRYPTO ranges waiting for the gaps between them (Chrome sends about ten)."""
MAX_KEYS = 4
"""Destination Connection IDs whose Initial keys are kept (the first one, after a Retry)."""

# --- wire constants -----------------------------------------------------------------------

VERSION_1 = 0x00000001
DRAFT_29 = 0xFF00001D
INITIAL_SALTS = {
    VERSION_1: bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a"),  # RFC 9001 5.2
    DRAFT_29: bytes.fromhex("afbfec289993d24c9e9786f19c6111e04390a899"),  # draft-29 5.2
}
"""Initial salts of the versions whose Initials we can read."""

LONG_HEADER = 0x80  # header form bit (RFC 9000 17.2)
FIXED_BIT = 0x40
TYPE_INITIAL, TYPE_0RTT, TYPE_HANDSHAKE, TYPE_RETRY = 0, 1, 2, 3  # long packet types, v1/d29
MAX_CID_LEN = 20  # RFC 9000 17.2: a v1 connection ID is at most 20 bytes
PN_MAX_LEN = 4
SAMPLE_LEN = 16  # header protection sample (RFC 9001 5.4.2)
IV_LEN = 12
KEY_LEN = 16  # AES-128-GCM for Initial packets

FRAME_PADDING = 0x00
FRAME_PING = 0x01
FRAME_ACK = 0x02
FRAME_ACK_ECN = 0x03
FRAME_CRYPTO = 0x06
FRAME_CONNECTION_CLOSE = 0x1C
FRAME_CONNECTION_CLOSE_APP = 0x1D
FRAME_STREAM_FIRST, FRAME_STREAM_LAST = 0x08, 0x0F
STREAM_OFF, STREAM_LEN = 0x04, 0x02
FRAME_VARINTS = {
    0x04: 3,  # RESET_STREAM: stream id, error code, final size
    0x05: 2,  # STOP_SENDING
    0x10: 1, 0x11: 2, 0x12: 1, 0x13: 1,  # MAX_DATA, MAX_STREAM_DATA, MAX_STREAMS x2
    0x14: 1, 0x15: 2, 0x16: 1, 0x17: 1,  # DATA_BLOCKED, STREAM_DATA_BLOCKED, STREAMS_BLOCKED x2
    0x19: 1,  # RETIRE_CONNECTION_ID
    0x1E: 0,  # HANDSHAKE_DONE
}
"""Frames not allowed in an Initial (RFC 9000 12.4) but of known shape: skipped, varints only."""
FRAME_NEW_TOKEN = 0x07
FRAME_NEW_CONNECTION_ID = 0x18
FRAME_PATH_CHALLENGE, FRAME_PATH_RESPONSE = 0x1A, 0x1B


# --- keys ---------------------------------------------------------------------------------


def _expand_label(secret: bytes, label: str, length: int) -> bytes:
    """HKDF-Expand-Label (RFC 8446 7.1) with an empty context, SHA-256."""
    full = b"tls13 " + label.encode()
    info = length.to_bytes(2, "big") + bytes([len(full)]) + full + b"\x00"
    return HKDFExpand(hashes.SHA256(), length, info).derive(secret)


def client_initial_keys(dcid: bytes, version: int) -> tuple[bytes, bytes, bytes]:
    """(key, iv, hp) protecting the client's Initial packets (RFC 9001 5.2), derived from the
    Destination Connection ID of its first Initial; `version` must be in `INITIAL_SALTS`."""
    initial = hmac.digest(INITIAL_SALTS[version], dcid, "sha256")  # HKDF-Extract
    secret = _expand_label(initial, "client in", 32)
    return (_expand_label(secret, "quic key", KEY_LEN), _expand_label(secret, "quic iv", IV_LEN),
            _expand_label(secret, "quic hp", KEY_LEN))


@dataclass(frozen=True, slots=True)
class _Keys:
    aead: AESGCM
    iv: int
    hp: bytes

    @classmethod
    def derive(cls, dcid: bytes, version: int) -> _Keys:
        key, iv, hp = client_initial_keys(dcid, version)
        return cls(AESGCM(key), int.from_bytes(iv, "big"), hp)


def decode_packet_number(largest: int, truncated: int, nbits: int) -> int:
    """The full packet number closest to `largest + 1` (RFC 9000 A.3)."""
    expected = largest + 1
    win = 1 << nbits
    hwin, mask = win // 2, win - 1
    candidate = (expected & ~mask) | truncated
    if candidate <= expected - hwin and candidate < (1 << 62) - win:
        return candidate + win
    if candidate > expected + hwin and candidate >= win:
        return candidate - win
    return candidate


# --- long header --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _LongHeader:
    """A long-header packet (RFC 9000 17.2) within a datagram: buf[start:end]."""

    version: int
    ptype: int
    dcid: bytes
    start: int
    pn_offset: int
    """Where the protected packet number starts (absolute in the datagram)."""
    end: int


def _long_header(buf: bytes, pos: int) -> _LongHeader | None:
    """The long-header packet at `pos`, or None when the rest of the datagram is not one we
    can read: a short header (1-RTT), version negotiation, an unknown version."""
    first = buf[pos]
    if not first & LONG_HEADER:
        return None
    c = Reader(buf, "quic_truncated_packet", pos + 1)
    version = c.uint(4)
    if version not in INITIAL_SALTS:
        return None
    ptype = (first >> 4) & 0x03
    dcid = c.vector(1)
    scid_len = c.uint(1)
    if len(dcid) > MAX_CID_LEN or scid_len > MAX_CID_LEN:
        raise ParseError("quic_bad_cid_len")
    c.take(scid_len)
    if ptype == TYPE_RETRY:  # no length field: the rest of the datagram
        return _LongHeader(version, ptype, dcid, pos, len(buf), len(buf))
    if ptype == TYPE_INITIAL:
        c.take(c.varint())  # token
    length = c.varint()
    pn_offset = c.pos
    if pn_offset + length > len(buf):
        raise Incomplete(c.weird)
    return _LongHeader(version, ptype, dcid, pos, pn_offset, pn_offset + length)


def _unprotect(keys: _Keys, buf: bytes, hdr: _LongHeader, largest: int) -> tuple[int, bytes]:
    """Remove header protection (RFC 9001 5.4.1) and decrypt (5.3): (packet number,
    plaintext). Raises InvalidTag when these keys do not fit the packet."""
    sample = buf[hdr.pn_offset + PN_MAX_LEN : hdr.pn_offset + PN_MAX_LEN + SAMPLE_LEN]
    mask = Cipher(algorithms.AES(keys.hp), modes.ECB()).encryptor().update(sample)
    first = buf[hdr.start] ^ (mask[0] & 0x0F)  # long header: 4 bits protected
    pn_len = (first & 0x03) + 1
    pn_bytes = bytes(b ^ m for b, m in zip(buf[hdr.pn_offset : hdr.pn_offset + pn_len],
                                            mask[1 : 1 + pn_len], strict=True))
    pn = decode_packet_number(largest, int.from_bytes(pn_bytes, "big"), 8 * pn_len)
    aad = bytes([first]) + buf[hdr.start + 1 : hdr.pn_offset] + pn_bytes
    nonce = (keys.iv ^ pn).to_bytes(IV_LEN, "big")
    return pn, keys.aead.decrypt(nonce, buf[hdr.pn_offset + pn_len : hdr.end], aad)


# --- frames -------------------------------------------------------------------------------


def crypto_frames(plain: bytes) -> tuple[list[tuple[int, bytes]], bool]:
    """The (offset, data) of each CRYPTO frame of a decrypted packet payload (RFC 9000 19),
    and whether an unknown frame type stopped the walk (its length cannot be known).

    A frame running past the payload is invalid, `Incomplete("quic_bad_frame")` left to
    propagate as the ParseError it is: the payload passed its authentication tag, so it is
    what the sender meant.
    """
    c = Reader(plain, "quic_bad_frame")
    out: list[tuple[int, bytes]] = []
    while c.left:
        ftype = c.varint()
        if ftype in (FRAME_PADDING, FRAME_PING):
            continue
        if ftype in (FRAME_ACK, FRAME_ACK_ECN):
            c.varint(), c.varint()  # largest acknowledged, ack delay
            ranges = c.varint()
            c.varint()  # first ack range
            for _ in range(ranges):  # each reads >= 2 bytes: bounded by the payload
                c.varint(), c.varint()  # gap, ack range length
            if ftype == FRAME_ACK_ECN:
                c.varint(), c.varint(), c.varint()  # ECT0, ECT1, ECN-CE counts
        elif ftype == FRAME_CRYPTO:
            offset = c.varint()
            out.append((offset, c.take(c.varint())))
        elif ftype in (FRAME_CONNECTION_CLOSE, FRAME_CONNECTION_CLOSE_APP):
            c.varint()  # error code
            if ftype == FRAME_CONNECTION_CLOSE:
                c.varint()  # offending frame type
            c.take(c.varint())  # reason phrase
        elif ftype in FRAME_VARINTS:
            for _ in range(FRAME_VARINTS[ftype]):
                c.varint()
        elif FRAME_STREAM_FIRST <= ftype <= FRAME_STREAM_LAST:
            c.varint()  # stream id
            if ftype & STREAM_OFF:
                c.varint()
            if not ftype & STREAM_LEN:
                break  # the stream data runs to the end of the packet
            c.take(c.varint())
        elif ftype == FRAME_NEW_TOKEN:
            c.take(c.varint())
        elif ftype == FRAME_NEW_CONNECTION_ID:
            c.varint(), c.varint()  # sequence number, retire prior to
            c.vector(1)  # connection id
            c.take(16)  # stateless reset token
        elif ftype in (FRAME_PATH_CHALLENGE, FRAME_PATH_RESPONSE):
            c.take(8)
        else:
            return out, True
    return out, False


@dataclass(slots=True)
class _CryptoStream:
    """The Initial CRYPTO stream of one direction, reassembled by offset (RFC 9000 19.6)."""

    data: bytearray = field(default_factory=bytearray)
    ranges: list[tuple[int, int]] = field(default_factory=list)
    """Received [start, end) ranges, merged and sorted."""

    def add(self, offset: int, chunk: bytes) -> None:
        """Store a frame's data; a retransmission simply overwrites the same bytes."""
        end = offset + len(chunk)
        if end > MAX_CRYPTO:
            raise ParseError("quic_crypto_too_large")
        if not chunk:
            return
        if len(self.data) < end:
            self.data.extend(bytes(end - len(self.data)))
        self.data[offset:end] = chunk
        merged = add_range(self.ranges, offset, end)
        if len(merged) > MAX_CRYPTO_RANGES:
            raise ParseError("quic_too_many_crypto_ranges")
        self.ranges = merged

    def client_hello(self) -> bytes | None:
        """The ClientHello body once it is complete; None while bytes are missing."""
        have = self.ranges[0][1] if self.ranges and self.ranges[0][0] == 0 else 0
        if have < TLS_HS_HEADER:
            return None
        if self.data[0] != HS_CLIENT_HELLO:
            raise ParseError("quic_not_client_hello")
        length = int.from_bytes(self.data[1:TLS_HS_HEADER], "big")
        if TLS_HS_HEADER + length > MAX_CRYPTO:
            raise ParseError("quic_crypto_too_large")
        if have < TLS_HS_HEADER + length:
            return None
        return bytes(self.data[TLS_HS_HEADER : TLS_HS_HEADER + length])


# --- the extractor ------------------------------------------------------------------------


class QuicExtractor(Extractor):
    """QUIC over UDP: one datagram per call; the client's Initials until its ClientHello."""

    name = "quic"
    transports = frozenset({"udp"})
    ports = frozenset({443, 8443, 4433})
    budget = BUDGET

    def __init__(self, secrets: SecretHasher = EPHEMERAL) -> None:
        super().__init__(secrets)
        self._client: Direction | None = None
        """The direction whose Initials decrypted with client keys."""
        self._keys: dict[tuple[int, bytes], _Keys] = {}
        """Initial keys by (version, Destination Connection ID), first success first."""
        self._largest_pn = -1
        self._crypto = _CryptoStream()

    @staticmethod
    def probe(first: bytes) -> bool:
        """A long-header Initial packet (first byte 1100xxxx: form, fixed bit, type 0) of
        QUIC v1 or draft-29 with a connection ID length <= 20. DTLS (20-63), STUN (0-3),
        RTP/RTCP (128-191) and plausible DNS headers all fail the first byte or version."""
        if len(first) < 7 or first[0] & 0xF0 != 0xC0:
            return False
        return int.from_bytes(first[1:5], "big") in INITIAL_SALTS and first[5] <= MAX_CID_LEN

    def parse(
        self, flow: FlowId, direction: Direction, ts: float, buf: bytes
    ) -> tuple[list[Observation], int]:
        """Read the Initial packets of one datagram; consumed is always the whole datagram."""
        if not buf:
            return [], 0
        if self.done or (self._client is not None and direction != self._client):
            return [], len(buf)  # the server's side is protected with keys we skip
        out: list[Observation] = []
        pos = 0
        while pos < len(buf) and not self.done:
            try:
                hdr = _long_header(buf, pos)
            except Incomplete as e:  # the datagram ends inside a packet: skip its rest
                self.weirds.append(str(e))
                break
            if hdr is None:
                break
            pos = hdr.end
            if hdr.ptype == TYPE_INITIAL:
                out.extend(self._initial(flow, direction, ts, buf, hdr))
        return out, len(buf)

    def _initial(
        self, flow: FlowId, direction: Direction, ts: float, buf: bytes, hdr: _LongHeader
    ) -> list[Observation]:
        if hdr.end - hdr.pn_offset < PN_MAX_LEN + SAMPLE_LEN:
            self.weirds.append("quic_packet_too_short")
            return []
        plain = self._decrypt(buf, hdr)
        if plain is None:
            self.weirds.append("quic_decrypt_failed")
            return []
        self._client = direction
        chunks, unknown = crypto_frames(plain)
        if unknown:
            self.weirds.append("quic_unknown_frame")
        for offset, chunk in chunks:
            self._crypto.add(offset, chunk)
        body = self._crypto.client_hello()
        if body is None:
            return []
        self.done = True  # the ClientHello is in: nothing after it is readable
        try:
            hello = parse_client_hello(body, dtls=False)
        except ParseError:
            raise ParseError("quic_bad_client_hello") from None
        prints = fingerprints(hello, False, quic=True)
        return [TlsClientHello(
            ts=ts, flow=flow, protocol=Proto.QUIC, server_name=hello.sni,
            alpn=tuple(name_text(a) for a in hello.alpn),
            versions=prints.versions, ja3=prints.ja3, ja3_hash=prints.ja3_hash, ja4=prints.ja4)]

    def _decrypt(self, buf: bytes, hdr: _LongHeader) -> bytes | None:
        """Try the keys of the client's first Initial, then those of this packet's DCID
        (after a Retry the client derives new ones, RFC 9001 5.2)."""
        own = (hdr.version, hdr.dcid)
        candidates = [k for k in self._keys if k[0] == hdr.version]
        if own not in self._keys:
            candidates.append(own)
        for ident in candidates:
            keys = self._keys.get(ident) or _Keys.derive(ident[1], ident[0])
            try:
                pn, plain = _unprotect(keys, buf, hdr, self._largest_pn)
            except InvalidTag:
                continue
            if ident not in self._keys and len(self._keys) < MAX_KEYS:
                self._keys[ident] = keys
            self._largest_pn = max(self._largest_pn, pn)
            return plain
        return None
