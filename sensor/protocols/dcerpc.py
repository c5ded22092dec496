"""DCE-RPC over TCP (C706 chapter 12, MS-RPCE 2.2.2): the NTLM logon of an RPC client.

Connection-oriented RPC (the endpoint mapper on 135 and the dynamic high ports it hands out)
authenticates in its first PDUs: BIND, ALTER_CONTEXT and AUTH3 carry an auth verifier (a
sec_trailer then auth_length bytes of token, at the end of the fragment, C706 13.2.6.1).
Verifiers of auth type NTLMSSP (10) or SPNEGO (9) go to `sensor.ntlm`; Kerberos is not read.
Call payloads are never read.

The AUTHENTICATE message is the authentication attempt. The BIND_ACK before it answers the
NEGOTIATE (with the server's CHALLENGE): it says nothing of the credential. Sent in an
ALTER_CONTEXT (or BIND), the attempt is answered by the server's PDU of the same call_id:
ALTER_CONTEXT_RESP (BIND_ACK) accepted, BIND_NAK (with its reject reason) or a FAULT refused.
Sent in an AUTH3, which gets no answer (C706 12.6.4.3), the attempt is answered by the answer
to the client's next REQUEST: its RESPONSE accepted (the server ran the call in the new
security context), a FAULT with nca_s_fault_access_denied or nca_s_fault_sec_pkg_error
refused, another FAULT unknown. Inspection ends with that answer, or at the first REQUEST when
no logon waits.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import ClassVar

from ..flowid import Direction, FlowId
from ..ntlm import find_authenticate
from ..records import Observation, Outcome, Proto
from ..secrets import EPHEMERAL, SecretHasher
from .base import Extractor, ParseError

HEADER = 16
SEC_TRAILER = 8
VERSION = 5
MINOR_VERSIONS = (0, 1)
REQUEST, RESPONSE, FAULT, BIND, BIND_ACK, BIND_NAK, ALTER_CONTEXT, ALTER_CONTEXT_RESP, AUTH3 = \
    0, 2, 3, 11, 12, 13, 14, 15, 16
AUTH_PDUS = frozenset({BIND, ALTER_CONTEXT, AUTH3})
ACCEPTED = {RESPONSE: "response", BIND_ACK: "bind_ack", ALTER_CONTEXT_RESP: "alter_context_resp"}
"""The server's PDUs that accept the logon they answer."""
AUTH_SPNEGO, AUTH_NTLMSSP = 9, 10
PFC_FIRST_FRAG = 0x01
LITTLE_ENDIAN = 0x10
"""Integer representation bit of the data representation's first byte (C706 14.1)."""
REJECT_REASONS = {
    0: "reason_not_specified", 1: "temporary_congestion", 2: "local_limit_exceeded", 3: "called_paddr_unknown",
    4: "protocol_version_not_supported", 5: "default_context_not_supported", 6: "user_data_not_readable",
    7: "no_psap_available", 8: "authentication_type_not_recognized", 9: "invalid_checksum",
}
"""BIND_NAK provider_reject_reason (C706 12.6.4.8, MS-RPCE 2.2.2.5)."""
FAULT_REFUSALS = {0x00000005: "nca_s_fault_access_denied", 0x00000721: "nca_s_fault_sec_pkg_error"}
"""FAULT statuses that refuse the security context (MS-RPCE 2.2.2.11, 3.3.3.2.1.2)."""
FAULT_STATUS_AT = HEADER + 8
"""A FAULT's status follows alloc_hint, p_cont_id, cancel_count and a reserved byte."""
_LENGTHS = {True: struct.Struct("<HHI"), False: struct.Struct(">HHI")}
_UINT = {True: struct.Struct("<I"), False: struct.Struct(">I")}
_REASON = {True: struct.Struct("<H"), False: struct.Struct(">H")}
AFTER_AUTH3 = -1
"""The call_id awaited after an AUTH3: that of the client's next REQUEST, unknown yet."""


class DceRpcExtractor(Extractor):
    """One connection-oriented DCE-RPC connection, up to the answer to its logon."""

    name = "dcerpc"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp"})
    ports: ClassVar[frozenset[int]] = frozenset({135})
    budget = 128 * 1024
    """A fragment is at most 64 KiB (a 16-bit length)."""

    def __init__(self, secrets: SecretHasher = EPHEMERAL) -> None:
        super().__init__(secrets)
        self._awaiting: tuple[int, int] | None = None
        """(call_id, attempt) of the logon waiting for its answer."""

    @staticmethod
    def probe(first: bytes) -> bool:
        """A BIND PDU, version 5.0 or 5.1, starting a call."""
        return (len(first) >= HEADER and first[0] == VERSION and first[1] in MINOR_VERSIONS and first[2] == BIND
                and bool(first[3] & PFC_FIRST_FRAG))

    def parse(
        self, flow: FlowId, direction: Direction, ts: float, buf: bytes
    ) -> tuple[Sequence[Observation], int]:
        if len(buf) < HEADER:
            return [], 0
        if buf[0] != VERSION or buf[1] not in MINOR_VERSIONS:
            raise ParseError("dcerpc_bad_version")
        ptype = buf[2]
        little = bool(buf[4] & LITTLE_ENDIAN)
        frag_length, auth_length, call_id = _LENGTHS[little].unpack_from(buf, 8)
        if frag_length < HEADER + (auth_length and SEC_TRAILER + auth_length):
            raise ParseError("dcerpc_bad_length")
        if len(buf) < frag_length:
            return [], 0
        pdu = buf[:frag_length]
        if direction == Direction.RESP:
            return self._server(flow, ts, ptype, call_id, pdu, little), frag_length
        if ptype == REQUEST:
            if self._awaiting is None:
                self.done = True  # the logon phase is over
            elif self._awaiting[0] == AFTER_AUTH3:
                self._awaiting = (call_id, self._awaiting[1])
        if ptype not in AUTH_PDUS or not auth_length:
            return [], frag_length
        trailer = frag_length - auth_length - SEC_TRAILER
        if buf[trailer] not in (AUTH_SPNEGO, AUTH_NTLMSSP):
            return [], frag_length
        found, weird = find_authenticate(buf[trailer + SEC_TRAILER : frag_length])
        if weird:
            self.weirds.append(weird)
        if found is None:
            return [], frag_length
        attempt = self.attempt(Proto.DCERPC)
        self._awaiting = (AFTER_AUTH3 if ptype == AUTH3 else call_id, attempt)
        return [found.credential(ts, flow, Proto.DCERPC, direction, attempt)], frag_length

    def _server(self, flow: FlowId, ts: float, ptype: int, call_id: int, pdu: bytes, little: bool) -> list[Observation]:
        """The server's PDU: the answer to the waiting logon when it has its call_id."""
        if self._awaiting is None or self._awaiting[0] != call_id:
            return []
        attempt = self._awaiting[1]
        if ptype in ACCEPTED:
            self._awaiting, self.done = None, True
            return self.answer(flow, ts, Outcome.SUCCESS, ACCEPTED[ptype], attempt=attempt)
        if ptype == BIND_NAK and len(pdu) >= HEADER + 2:
            self._awaiting, self.done = None, True
            reason = _REASON[little].unpack_from(pdu, HEADER)[0]
            return self.answer(flow, ts, Outcome.FAILURE, "bind_nak", REJECT_REASONS.get(reason, str(reason)),
                               attempt=attempt)
        if ptype == FAULT and len(pdu) >= FAULT_STATUS_AT + 4:
            self._awaiting, self.done = None, True
            status = _UINT[little].unpack_from(pdu, FAULT_STATUS_AT)[0]
            if status in FAULT_REFUSALS:
                return self.answer(flow, ts, Outcome.FAILURE, FAULT_REFUSALS[status], attempt=attempt)
            return self.answer(flow, ts, Outcome.UNKNOWN, f"fault 0x{status:08x}", attempt=attempt,
                               basis="a fault that says nothing of the credential")
        return []
