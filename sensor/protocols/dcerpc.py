"""DCE-RPC over TCP (C706 chapter 12, MS-RPCE 2.2.2): the NTLM logon of an RPC client.

Connection-oriented RPC (the endpoint mapper on 135 and the dynamic high ports it hands out)
authenticates in its first PDUs: BIND, ALTER_CONTEXT and AUTH3 carry an auth verifier (a
sec_trailer then auth_length bytes of token, at the end of the fragment, C706 13.2.6.1).
Verifiers of auth type NTLMSSP (10) or SPNEGO (9) go to `sensor.ntlm`; Kerberos is not read.
Inspection ends once an AUTHENTICATE message was seen or the client sends its first REQUEST
(the logon phase is over); call payloads are never read.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import ClassVar

from ..flowid import Direction, FlowId
from ..ntlm import find_authenticate
from ..records import Observation, Proto
from .base import Extractor, ParseError

HEADER = 16
SEC_TRAILER = 8
VERSION = 5
MINOR_VERSIONS = (0, 1)
REQUEST, BIND, ALTER_CONTEXT, AUTH3 = 0, 11, 14, 16
AUTH_PDUS = frozenset({BIND, ALTER_CONTEXT, AUTH3})
AUTH_SPNEGO, AUTH_NTLMSSP = 9, 10
PFC_FIRST_FRAG = 0x01
LITTLE_ENDIAN = 0x10
"""Integer representation bit of the data representation's first byte (C706 14.1)."""
_LENGTHS = {True: struct.Struct("<HH"), False: struct.Struct(">HH")}


class DceRpcExtractor(Extractor):
    """One connection-oriented DCE-RPC connection, up to its logon."""

    name = "dcerpc"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp"})
    ports: ClassVar[frozenset[int]] = frozenset({135})
    budget = 128 * 1024
    """A fragment is at most 64 KiB (a 16-bit length)."""

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
        frag_length, auth_length = _LENGTHS[bool(buf[4] & LITTLE_ENDIAN)].unpack_from(buf, 8)
        if frag_length < HEADER + (auth_length and SEC_TRAILER + auth_length):
            raise ParseError("dcerpc_bad_length")
        if len(buf) < frag_length:
            return [], 0
        if ptype == REQUEST:
            self.done = True
        if ptype not in AUTH_PDUS or not auth_length:
            return [], frag_length
        trailer = frag_length - auth_length - SEC_TRAILER
        if buf[trailer] not in (AUTH_SPNEGO, AUTH_NTLMSSP):
            return [], frag_length
        found, weird = find_authenticate(buf[trailer + SEC_TRAILER : frag_length])
        if weird:
            self.weirds.append(weird)
        self.done = found is not None
        return [found.credential(ts, flow, Proto.DCERPC, direction)] if found else [], frag_length
