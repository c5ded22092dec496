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
  mutual authentication is inferred from the sizes of the encrypted flights;
* `AuthenticationOutcome` for each client certificate (and each TLS 1.3 flight likely to hold
  one): the server's alert, or application data both ways after the handshake (`tls_answer`).

This module holds the two record layers, the extractors: whole records at a time (TLS) or a
datagram's records (DTLS); handshake messages are reassembled across records (TLS) or
fragments (DTLS), bounded by `MAX_HANDSHAKE_MSG`. What the messages say is read by their
base class (`tls_handshake`) with the hello and fingerprint code (`tls_hello`), the
certificate code (`tls_certificates`), the TLS 1.3 inference (`tls13_inference`) and the
server's answer (`tls_answer`); the numbers and names are in `tls_names`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..flowid import Direction, FlowId
from ..records import Observation, Proto
from ..secrets import EPHEMERAL, SecretHasher
from ..wire import ParseError, Reader, add_range
from .tls_handshake import HandshakeExtractor
from .tls_names import (
    CT_APPLICATION_DATA,
    CT_CHANGE_CIPHER_SPEC,
    CT_HANDSHAKE,
    CT_TLS12_CID,
    DTLS_RECORD_HEADER,
    DTLS_VERSIONS,
    HS_CLIENT_HELLO,
    HS_SERVER_HELLO,
    KNOWN_CONTENT_TYPES,
    TLS_HS_HEADER,
    TLS_RECORD_HEADER,
)

BUDGET = 256 * 1024
"""Bytes per direction worth inspecting: a handshake with a long chain fits many times."""
MAX_RECORD_LEN = 2**14 + 2048
"""Largest TLSCiphertext fragment (RFC 5246 6.2.3); a longer record is not TLS."""
MAX_HANDSHAKE_MSG = 102_400
"""Largest handshake message we reassemble: OpenSSL's default max_cert_list."""
MAX_DTLS_PENDING = 8
"""DTLS messages being reassembled at once per direction."""
MAX_DTLS_FRAGMENTS = 64
"""Distinct fragment ranges per DTLS message."""
MAX_DTLS_DONE = 64
"""DTLS message_seq values remembered per direction to drop retransmissions."""
RTP_FIRST_BYTES = range(128, 192)
"""First bytes of RTP and RTCP datagrams beside DTLS on one 5-tuple (RFC 7983 7)."""

# --- TLS over TCP -------------------------------------------------------------------------


def _looks_like_sslv2_hello(buf: bytes) -> bool:
    # SSLv2-compatible ClientHello (RFC 5246 E.2): 2-byte length with the high bit set,
    # msg_type 1, version 0x0002 or 0x03xx. e.g. 80 2e 01 03 01 ...
    return len(buf) >= 5 and buf[0] & 0x80 != 0 and buf[2] == HS_CLIENT_HELLO and (
        buf[3:5] == b"\x00\x02" or (buf[3] == 3 and buf[4] <= 4))


def _starts_client_hello(body: bytes) -> bool:
    # 01 LLLLLL 03 03: the only plaintext message a 1.3 client sends after its compat CCS.
    return len(body) >= 6 and body[0] == HS_CLIENT_HELLO and body[4:6] == b"\x03\x03"


class TlsExtractor(HandshakeExtractor):
    """TLS over TCP: one direction's reassembled stream, whole records at a time."""

    name = "tls"
    transports = frozenset({"tcp"})
    ports = frozenset({443, 465, 636, 853, 989, 990, 992, 993, 994, 995, 2762, 3269, 4443,
                       5061, 5671, 6514, 8443, 8883})
    budget = BUDGET
    protocol = Proto.TLS
    dtls = False

    def __init__(self, secrets: SecretHasher = EPHEMERAL) -> None:
        super().__init__(secrets)
        self._records = [0, 0]
        """Records read per direction."""
        self._hs_bufs = (bytearray(), bytearray())
        """Per direction: handshake bytes waiting for the rest of their message."""
        self._skip = [0, 0]
        """Per direction: bytes of an application_data record still to come, read no further."""

    @property
    def held(self) -> int:
        """The handshake bytes waiting for the rest of their message (a 99 KB Certificate)."""
        return len(self._hs_bufs[0]) + len(self._hs_bufs[1])

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
        out: list[Observation] = []
        pos = min(self._skip[direction], len(buf))
        self._skip[direction] -= pos
        if self._records[direction] == 0 and _looks_like_sslv2_hello(buf):
            end = 2 + (((buf[0] & 0x7F) << 8) | buf[1])
            if len(buf) < end:
                return [], 0
            self._records[direction] = 1  # SSLv2-format hello: not fingerprinted, but it names the client
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
            end = pos + TLS_RECORD_HEADER + length
            if end > len(buf):
                if ctype != CT_APPLICATION_DATA or not self._watching:
                    break
                # Awaiting an answer, only the header of application data matters: the rest
                # of the record is skipped as it comes, never buffered.
                self._skip[direction] = end - len(buf)
                end = len(buf)
            body = buf[pos + TLS_RECORD_HEADER : end]
            pos = end
            self._records[direction] += 1
            out.extend(self._record(flow, direction, ts, ctype, length, body))
        if pos:  # with nothing used the dispatcher keeps no observation: conclude with the next bytes
            out.extend(self._conclude(flow, ts, at_close=False))
        return out, pos

    def _record(
        self, flow: FlowId, direction: Direction, ts: float, ctype: int, length: int, body: bytes
    ) -> list[Observation]:
        side = self._sides[direction]
        out = self._answer_record(flow, direction, ts, ctype, side.encrypted, length, body) if self._watching else []
        if ctype == CT_CHANGE_CIPHER_SPEC:
            self._change_cipher_spec(direction)
        elif ctype == CT_APPLICATION_DATA:
            self._encrypted_record(direction, length)
        elif ctype == CT_HANDSHAKE and not side.encrypted:
            if side.compat_ccs and not self._hs_bufs[direction] and not _starts_client_hello(body):
                side.encrypted = True  # it was a TLS 1.2 CCS after all: this is Finished
                return out
            out += self._handshake_bytes(flow, direction, ts, body)
        return out

    def _handshake_bytes(
        self, flow: FlowId, direction: Direction, ts: float, body: bytes
    ) -> list[Observation]:
        """Handshake messages may span records and a record may hold several (RFC 5246 6.2.1)."""
        side, hs_buf = self._sides[direction], self._hs_bufs[direction]
        hs_buf += body
        out: list[Observation] = []
        while len(hs_buf) >= TLS_HS_HEADER and not side.encrypted:
            msg_type = hs_buf[0]
            length = int.from_bytes(hs_buf[1:4], "big")
            if length > MAX_HANDSHAKE_MSG:
                raise ParseError("tls_handshake_too_large")
            if len(hs_buf) < TLS_HS_HEADER + length:
                break
            msg = bytes(hs_buf[TLS_HS_HEADER : TLS_HS_HEADER + length])
            del hs_buf[: TLS_HS_HEADER + length]
            out.extend(self._handshake(flow, direction, ts, msg_type, msg))
            if self._tls13:
                hs_buf.clear()  # anything after a 1.3 ServerHello is encrypted
        return out


# --- DTLS over UDP ------------------------------------------------------------------------


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
        merged = add_range(self.ranges, offset, offset + len(chunk))
        if len(merged) > MAX_DTLS_FRAGMENTS:
            raise ParseError("dtls_too_many_fragments")
        self.ranges = merged
        return merged == [(0, self.length)]


@dataclass(slots=True)
class _Reassembly:
    """One direction's handshake messages being put together from their fragments."""

    pending: dict[int, _Fragments] = field(default_factory=dict)
    """Messages being reassembled, by message_seq."""
    done_seqs: set[int] = field(default_factory=set)
    """message_seq values already handled (retransmissions are dropped)."""

    def message(self, msg_type: int, length: int, seq: int, offset: int, chunk: bytes) -> bytes | None:
        """The whole message once its last fragment is in; None meanwhile or if repeated."""
        if seq in self.done_seqs:
            return None  # a retransmission
        frags = self.pending.get(seq)
        if frags is None:
            if len(self.pending) >= MAX_DTLS_PENDING:
                raise ParseError("dtls_too_many_pending")
            frags = self.pending[seq] = _Fragments(msg_type, length, bytearray(length))
        elif frags.msg_type != msg_type or frags.length != length:
            raise ParseError("dtls_bad_fragment")
        if not frags.add(offset, chunk) and length:
            return None
        del self.pending[seq]
        if len(self.done_seqs) >= MAX_DTLS_DONE:
            raise ParseError("dtls_too_many_messages")
        self.done_seqs.add(seq)
        return bytes(frags.data)


class DtlsExtractor(HandshakeExtractor):
    """DTLS over UDP: one whole datagram per call; handshake fragments are reassembled."""

    name = "dtls"
    transports = frozenset({"udp"})
    ports = frozenset({443, 853, 4433, 5061, 5684, 5349})
    budget = BUDGET
    protocol = Proto.DTLS
    dtls = True

    def __init__(self, secrets: SecretHasher = EPHEMERAL) -> None:
        super().__init__(secrets)
        self._reassembly = (_Reassembly(), _Reassembly())

    @property
    def held(self) -> int:
        """The handshake messages being put together from their fragments."""
        return sum(len(f.data) for r in self._reassembly for f in r.pending.values())

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
        if not 20 <= buf[0] <= 63:  # STUN (0-3), RTP/RTCP (128-191) ... share the port (RFC 7983)
            if self._watching and buf[0] in RTP_FIRST_BYTES:
                # SRTP keyed by this handshake (RFC 5764 4.1): the media is its application data
                return self._answer_record(flow, direction, ts, CT_APPLICATION_DATA, True, len(buf), b""), len(buf)
            return [], len(buf)
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
        out = self._answer_record(flow, direction, ts, ctype, epoch > 0, len(body), body) if self._watching else []
        if epoch > 0 or ctype == CT_CHANGE_CIPHER_SPEC:
            side.encrypted = True  # a new epoch means new keys (RFC 6347 4.1)
            if ctype == CT_APPLICATION_DATA or epoch > 0:
                self._encrypted_record(direction, len(body))
            return out
        if ctype != CT_HANDSHAKE:
            return out
        r = Reader(body, "dtls_bad_fragment")
        while r.left:
            msg_type, length, seq = r.uint(1), r.uint(3), r.uint(2)
            offset, frag_len = r.uint(3), r.uint(3)
            chunk = r.take(frag_len)
            if length > MAX_HANDSHAKE_MSG:
                raise ParseError("dtls_handshake_too_large")
            if offset + frag_len > length:
                raise ParseError("dtls_bad_fragment")
            msg = self._reassembly[direction].message(msg_type, length, seq, offset, chunk)
            if msg is not None:
                out.extend(self._handshake(flow, direction, ts, msg_type, msg))
        return out
