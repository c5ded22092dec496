"""NTLMSSP AUTHENTICATE messages (MS-NLMP 2.2.1.3), wherever they travel: who logs on, from where.

NTLM rides inside SMB session setups, HTTP `Authorization: NTLM/Negotiate`, LDAP SASL and
"sicily" binds and DCE-RPC auth verifiers, raw or wrapped in SPNEGO (RFC 4178) / GSS-API
tokens. The carriers hand their security blob here and the "NTLMSSP\\0" signature is searched
for, so the wrapping does not matter. Of an AUTHENTICATE message (MessageType 3) the domain,
user and workstation names are kept (identifiers; UTF-16LE under NTLMSSP_NEGOTIATE_UNICODE,
else OEM, read as ASCII). The LM/NT challenge responses prove the password without showing it
and differ at every logon (they cover the server's challenge), so a fingerprint of them would
match nothing: only their kind is told (NTLMv1 or NTLMv2). An empty user name is an anonymous
logon (MS-NLMP 3.2.5.1.2).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .flowid import Direction, FlowId
from .records import CredentialSeen, Proto, SecretKind

SIGNATURE = b"NTLMSSP\x00"
AUTHENTICATE = b"\x03\x00\x00\x00"
"""MessageType 3, little-endian."""
HEADER = 64
"""Signature, MessageType, six (length, max length, offset) fields and NegotiateFlags."""
NEGOTIATE_UNICODE = 0x00000001
MAX_SIGNATURES = 8
"""Signatures looked at in one blob before giving up (NEGOTIATE/CHALLENGE may come first)."""
MAX_NAME = 1024
"""Bytes of a domain, user or workstation name (Windows allows 256 characters at most)."""
NTLMV1_RESPONSE = 24
"""Length of an NTLMv1 NtChallengeResponse; NTLMv2 responses are longer (MS-NLMP 2.2.2.6-8)."""
_FIELDS = struct.Struct("<HHI HHI HHI HHI HHI HHI I")


@dataclass(frozen=True, slots=True)
class NtlmAuthenticate:
    """The identifiers of one AUTHENTICATE message ("" where a field is empty)."""

    domain: str
    user: str
    workstation: str
    flags: int
    nt_response_len: int

    def credential(
        self, ts: float, flow: FlowId, protocol: Proto, presenter: Direction, attempt: int | None = None,
    ) -> CredentialSeen:
        """The logon as the carrier protocol reports it (`attempt`: its number on the connection,
        whose answer the carrier reads)."""
        notes = ["NTLMv1" if self.nt_response_len == NTLMV1_RESPONSE else "NTLMv2"] if self.nt_response_len else []
        if not self.user:
            notes.append("anonymous")
        return CredentialSeen(
            ts=ts, flow=flow, protocol=protocol, presenter=presenter, username=self.user or None,
            domain=self.domain or None, host=self.workstation or None, secret_kind=SecretKind.HASH, secret_fp=None,
            secret_hint=None, mechanism="NTLM", notes=tuple(notes), attempt=attempt)


def find_authenticate(data: bytes) -> tuple[NtlmAuthenticate | None, str | None]:
    """The first AUTHENTICATE message in `data`: (message, None); (None, weird name) when it is
    malformed ("ntlm_truncated", "ntlm_bad_field", "ntlm_name_too_long"); (None, None) when
    `data` holds none. Never raises."""
    at = data.find(SIGNATURE)
    for _ in range(MAX_SIGNATURES):
        if at < 0:
            break
        if data[at + 8 : at + 12] == AUTHENTICATE:
            return _authenticate(memoryview(data)[at:])
        at = data.find(SIGNATURE, at + len(SIGNATURE))
    return None, None


def _authenticate(msg: memoryview) -> tuple[NtlmAuthenticate | None, str | None]:
    if len(msg) < HEADER:
        return None, "ntlm_truncated"
    *values, flags = _FIELDS.unpack_from(msg, 12)
    lm, nt, dom, user, ws, key = ((values[i], values[i + 2]) for i in range(0, 18, 3))
    if any(length and offset + length > len(msg) for length, offset in (lm, nt, dom, user, ws, key)):
        return None, "ntlm_bad_field"
    if max(dom[0], user[0], ws[0]) > MAX_NAME:
        return None, "ntlm_name_too_long"
    encoding = "utf-16-le" if flags & NEGOTIATE_UNICODE else "ascii"

    def text(field: tuple[int, int]) -> str:
        length, offset = field
        return bytes(msg[offset : offset + length]).decode(encoding, "replace")

    return NtlmAuthenticate(domain=text(dom), user=text(user), workstation=text(ws), flags=flags,
                            nt_response_len=nt[0]), None
