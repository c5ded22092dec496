"""RDP connection start (MS-RDPBCGR 2.2.1.1-2.2.1.2): who asks, with which security.

The client's X.224 Connection Request (in TPKT) may carry `Cookie: mstshash=<user>` (the
user name typed in the client, truncated by some clients) and an RDP_NEG_REQ with the
protocols it can speak; the server's Connection Confirm selects one (or refuses). With TLS
or CredSSP selected, the TLS handshake follows on the same connection: the extractor hands
it over (`upgraded`), so certificates and the SNI are read like any TLS. The session is
emitted when the server answers, or at close if it never did.

The request is the session's authentication attempt, but the negotiation's answer is not the
password's: the credential is checked later, inside TLS or CredSSP (NLA) or the Standard RDP
Security session, all encrypted. So an RDP_NEG_RSP (or a confirm without one) leaves the
attempt unknown, with the security selected as its code; an RDP_NEG_FAILURE refuses it with
the failure code's name (e.g. HYBRID_REQUIRED_BY_SERVER: the server demands NLA), a refusal of
the connection as asked, not of a password.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import replace
from typing import ClassVar

from ..flowid import Direction, FlowId
from ..records import Observation, Outcome, Proto, RemoteAccessSession
from ..secrets import EPHEMERAL, SecretHasher
from .base import Extractor, ParseError

TPKT_VERSION = 3
X224_CR = 0xE0
X224_CC = 0xD0
NEG_REQ, NEG_RSP, NEG_FAILURE = 1, 2, 3
PROTOCOLS = {0x1: "TLS", 0x2: "CredSSP", 0x4: "RDSTLS", 0x8: "CredSSP-EarlyUserAuth", 0x10: "RDSAAD"}
"""requestedProtocols / selectedProtocol bits; none set means Standard RDP Security."""
FAILURES = {1: "SSL_REQUIRED_BY_SERVER", 2: "SSL_NOT_ALLOWED_BY_SERVER", 3: "SSL_CERT_NOT_ON_SERVER",
            4: "INCONSISTENT_FLAGS", 5: "HYBRID_REQUIRED_BY_SERVER", 6: "SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER"}
"""RDP_NEG_FAILURE failureCode (MS-RDPBCGR 2.2.1.2.2)."""
ENCRYPTED = "the credential is checked later, encrypted (TLS/CredSSP or RDP security)"
COOKIE = b"Cookie: mstshash="
MAX_TPKT = 4096
"""A connection request or confirm is far smaller; more is not RDP's start."""


def protocol_names(bits: int) -> tuple[str, ...]:
    """The security protocols of a requestedProtocols/selectedProtocol field."""
    return tuple(name for bit, name in PROTOCOLS.items() if bits & bit) or ("RDP",)


class RdpExtractor(Extractor):
    """One RDP connection, up to its security negotiation."""

    name = "rdp"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp"})
    ports: ClassVar[frozenset[int]] = frozenset({3389})
    budget = 8 * 1024

    def __init__(self, secrets: SecretHasher = EPHEMERAL) -> None:
        super().__init__(secrets)
        self._request: RemoteAccessSession | None = None

    @staticmethod
    def probe(first: bytes) -> bool:
        """TPKT + X.224 CR whose user data is a cookie, a routing token or an RDP_NEG_REQ (an
        ISO-on-TCP CR of S7 or MMS carries TSAP parameters instead)."""
        if len(first) < 11 or first[0] != TPKT_VERSION or first[1] != 0 or first[5] != X224_CR:
            return False
        rest = first[11:]
        return not rest or rest[0] == NEG_REQ or rest.startswith(b"Cookie:")

    def parse(
        self, flow: FlowId, direction: Direction, ts: float, buf: bytes
    ) -> tuple[Sequence[Observation], int]:
        if len(buf) < 4:
            return [], 0
        if buf[0] != TPKT_VERSION:
            raise ParseError("rdp_not_tpkt")
        length = struct.unpack_from("!H", buf, 2)[0]
        if not 11 <= length <= MAX_TPKT:
            raise ParseError("rdp_bad_tpkt_length")
        if len(buf) < length:
            return [], 0
        pdu = buf[4:length]
        code = pdu[1] & 0xF0
        if direction == Direction.ORIG and code == X224_CR:
            self._request = self._read_request(flow, ts, pdu[7:])
            return [], length
        if direction == Direction.RESP and code == X224_CC:
            return self._read_confirm(flow, ts, pdu[7:]), length
        self.done = True  # data PDUs: the negotiation is over
        return [], length

    def close(self, flow: FlowId, ts: float) -> Sequence[Observation]:
        request, self._request = self._request, None
        return [request] if request is not None else []

    def _read_request(self, flow: FlowId, ts: float, data: bytes) -> RemoteAccessSession:
        end = data.find(b"\r\n")
        line, neg = (data[:end], data[end + 2 :]) if end >= 0 else (data, data)
        user = line[len(COOKIE) :].decode("latin-1").rstrip() or None if line.startswith(COOKIE) else None
        security: tuple[str, ...] = ()
        if len(neg) >= 8 and neg[0] == NEG_REQ:
            security = tuple(f"requested {p}" for p in protocol_names(struct.unpack_from("<I", neg, 4)[0]))
        return RemoteAccessSession(ts=ts, flow=flow, protocol=Proto.RDP, vendor="", product="RDP",
                                   direction="inbound", matched_by="rdp x.224 connection request",
                                   user=user, security=security, attempt=self.attempt(Proto.RDP))

    def _read_confirm(self, flow: FlowId, ts: float, neg: bytes) -> list[Observation]:
        request, self._request = self._request, None
        self.done = True
        if request is None:
            return []
        selected: tuple[str, ...] = ()
        if len(neg) >= 8 and neg[0] == NEG_FAILURE:
            code = struct.unpack_from("<I", neg, 4)[0]
            name = FAILURES.get(code, str(code))
            outcome = self.answer(flow, ts, Outcome.FAILURE, name, "negotiation refused")
            return [replace(request, security=(*request.security, f"refused {name}")), *outcome]
        chosen = None
        if len(neg) >= 8 and neg[0] == NEG_RSP:
            bits = struct.unpack_from("<I", neg, 4)[0]
            selected = tuple(f"selected {p}" for p in protocol_names(bits))
            chosen = "+".join(protocol_names(bits))
            self.upgraded = bool(bits & 0x1F)
            self.done = not self.upgraded
        outcome = self.answer(flow, ts, Outcome.UNKNOWN, chosen, "negotiation accepted", basis=ENCRYPTED)
        return [replace(request, security=request.security + selected), *outcome]
