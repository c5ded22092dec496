"""Kerberos 5 (RFC 4120): the client principal of an AS-REQ, the request for a TGT.

A device logging on to a domain (or a service account getting its ticket) sends its client
principal and realm in clear in the AS-REQ's req-body (RFC 4120 5.4.1): that is who it claims
to be. PA-ENC-TIMESTAMP in padata (5.2.7.2) proves it knows the key: the credential is then a
hash (a key-encrypted timestamp, nothing to fingerprint: it changes with every request);
without it the name is presented alone. Noted: PKINIT (RFC 4556), FAST armour (RFC 6113),
enterprise and well-known principals (RFC 6806, RFC 8062), the service asked for, and weak
encryption types requested (DES, RC4: RFC 6649, RFC 8429).

UDP carries one message per datagram; TCP prefixes each with a 4-byte big-endian length
(7.2.2). Other messages (TGS-REQ, AS-REP, TGS-REP, KRB-ERROR) are recognised and skipped
unread: a TCP record that is not an AS-REQ is skipped as it streams past, never buffered.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from ..ber import Ber
from ..flowid import Direction, FlowId
from ..records import CredentialSeen, Observation, Proto, SecretKind
from ..secrets import EPHEMERAL, SecretHasher
from .base import Extractor, ParseError

AS_REQ, AS_REP, TGS_REQ, TGS_REP, KRB_ERROR = 0x6A, 0x6B, 0x6C, 0x6D, 0x7E
"""[APPLICATION 10, 11, 12, 13, 30]."""
MESSAGES = frozenset({AS_REQ, AS_REP, TGS_REQ, TGS_REP, KRB_ERROR})
SEQUENCE, INTEGER, GENERAL_STRING, OCTET_STRING = 0x30, 0x02, 0x1B, 0x04
PVNO = b"\xa1\x03\x02\x01\x05"
"""pvno [1] INTEGER 5: the first field of every KDC-REQ."""
PA_ENC_TIMESTAMP, PA_PK_AS_REQ_OLD, PA_PK_AS_REQ, PA_FX_FAST = 2, 14, 16, 136
PA_NOTES = {PA_PK_AS_REQ: "PKINIT (certificate pre-authentication)",
            PA_PK_AS_REQ_OLD: "PKINIT (certificate pre-authentication, draft 9)",
            PA_FX_FAST: "FAST armoured request"}
NT_ENTERPRISE, NT_WELLKNOWN = 10, 11
WEAK_ETYPES = {1: "des-cbc-crc", 2: "des-cbc-md4", 3: "des-cbc-md5", 23: "rc4-hmac", 24: "rc4-hmac-exp"}
LENGTH_PREFIX = 4
MAX_RECORD = 64 * 1024
"""Largest AS-REQ buffered (PKINIT requests carry certificates, a few KB)."""
MAX_MESSAGES = 16
"""Messages read per flow; a client retrying repeats itself."""


class KerberosExtractor(Extractor):
    """The KDC exchanges of one flow (UDP or TCP 88)."""

    name = "kerberos"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp", "udp"})
    ports: ClassVar[frozenset[int]] = frozenset({88})
    budget = MAX_RECORD + LENGTH_PREFIX
    max_messages = MAX_MESSAGES

    def __init__(self, secrets: SecretHasher = EPHEMERAL) -> None:
        super().__init__(secrets)
        self._skip = [0, 0]
        """Per direction: bytes of a TCP record still to skip."""
        self._seen: set[tuple[Direction, str | None, str | None, SecretKind, tuple[str, ...]]] = set()

    @staticmethod
    def probe(first: bytes) -> bool:
        """An AS-REQ or TGS-REQ filling the datagram, or the TCP record its length prefix announces."""
        if first[:1] == b"\x00":
            length = int.from_bytes(first[:LENGTH_PREFIX], "big")
            return 0 < length <= MAX_RECORD and _request_head(first[LENGTH_PREFIX:], length)
        return _request_head(first, len(first))

    def parse(
        self, flow: FlowId, direction: Direction, ts: float, buf: bytes
    ) -> tuple[Sequence[Observation], int]:
        if flow.transport == "udp":
            return self._message(flow, direction, ts, buf), len(buf)
        d = direction.value
        if self._skip[d]:
            used = min(self._skip[d], len(buf))
            self._skip[d] -= used
            return [], used
        if len(buf) <= LENGTH_PREFIX:
            return [], 0
        length = int.from_bytes(buf[:LENGTH_PREFIX], "big")
        if not 0 < length < 0x80000000:  # the high bit announces an extension (RFC 4120 7.2.2)
            raise ParseError("kerberos_bad_length")
        tag = buf[LENGTH_PREFIX]
        if tag != AS_REQ:
            if tag not in MESSAGES:
                raise ParseError("kerberos_bad_message")
            self.count_message()
            self._skip[d] = length
            return [], LENGTH_PREFIX
        if length > MAX_RECORD:
            raise ParseError("kerberos_record_too_large")
        end = LENGTH_PREFIX + length
        if len(buf) < end:
            return [], 0
        return self._message(flow, direction, ts, buf[LENGTH_PREFIX:end]), end

    def _message(self, flow: FlowId, direction: Direction, ts: float, data: bytes) -> list[Observation]:
        """One whole message: an AS-REQ gives a credential (once per flow), the others nothing."""
        self.count_message()
        tag, body = Ber(data, "kerberos").tlv()
        if tag not in MESSAGES:
            raise ParseError("kerberos_bad_message")
        if tag != AS_REQ:
            return []
        cred = self._as_req(flow, direction, ts, body)
        key = (direction, cred.username, cred.domain, cred.secret_kind, cred.notes)
        if key in self._seen:
            return []
        self._seen.add(key)
        return [cred]

    def _as_req(self, flow: FlowId, direction: Direction, ts: float, kdc_req: bytes) -> CredentialSeen:
        """KDC-REQ ::= SEQUENCE { pvno [1], msg-type [2], padata [3] OPTIONAL, req-body [4] }."""
        fields = _fields(_inner(kdc_req, SEQUENCE))
        pa_types = [_integer(_fields(pa).get(0xA1)) for pa in _items(fields.get(0xA3), SEQUENCE)]
        body = _fields(_inner(_required(fields.get(0xA4)), SEQUENCE))
        name_type, user = _principal(body[0xA1]) if 0xA1 in body else (None, None)
        realm = _inner(_required(body.get(0xA2)), GENERAL_STRING).decode("utf-8", "replace")
        proved, notes = PA_ENC_TIMESTAMP in pa_types, []
        if proved:
            notes.append("pre-authenticated (PA-ENC-TIMESTAMP)")
        notes += [PA_NOTES[t] for t in pa_types if t in PA_NOTES]
        if name_type == NT_ENTERPRISE:
            notes.append("enterprise principal")
        elif name_type == NT_WELLKNOWN:
            notes.append("well-known principal")
        if 0xA3 in body:
            notes.append("service " + _principal(body[0xA3])[1])
        etypes = [_number(item) for item in _items(body.get(0xA8), INTEGER)]
        notes += [f"etype {WEAK_ETYPES[e]} requested" for e in etypes if e in WEAK_ETYPES]
        return CredentialSeen(
            ts=ts, flow=flow, protocol=Proto.KERBEROS, presenter=direction, username=user, domain=realm,
            secret_kind=SecretKind.HASH if proved else SecretKind.NONE, secret_fp=None,
            secret_hint=None, mechanism="AS-REQ", notes=tuple(notes))


def _request_head(data: bytes, size: int) -> bool:
    """Whether `data` starts a KDC-REQ of `size` bytes: its tag, a length that fills `size`,
    then SEQUENCE and pvno 5 as far as `data` goes."""
    if len(data) < 2 or data[0] not in (AS_REQ, TGS_REQ):
        return False
    cursor = Ber(data, "kerberos")
    try:
        _tag, length, head = cursor.header()
        if head + length != size:
            return False
        cursor.pos = head
        if cursor.left < 2:
            return cursor.left == 0 or data[head] == SEQUENCE
        tag, _length, seq_head = cursor.header()
    except ParseError:
        return False
    start = head + seq_head
    return tag == SEQUENCE and PVNO.startswith(data[start : start + len(PVNO)])


def _fields(data: bytes) -> dict[int, bytes]:
    """The TLVs of a SEQUENCE's content by tag (context tags name Kerberos' fields)."""
    cursor, out = Ber(data, "kerberos"), {}
    while cursor.left:
        tag, value = cursor.tlv()
        out[tag] = value
    return out


def _items(wrapped: bytes | None, tag: int) -> list[bytes]:
    """The elements of an explicitly tagged SEQUENCE OF (none when the field is absent)."""
    if wrapped is None:
        return []
    cursor, out = Ber(_inner(wrapped, SEQUENCE), "kerberos"), []
    while cursor.left:
        out.append(cursor.expect(tag))
    return out


def _inner(wrapped: bytes, tag: int) -> bytes:
    """The value inside an explicit context tag, which must be of type `tag`."""
    return Ber(wrapped, "kerberos").expect(tag)


def _required(value: bytes | None) -> bytes:
    if value is None:
        raise ParseError("kerberos_missing_field")
    return value


def _integer(field: bytes | None) -> int:
    """The INTEGER inside an explicit context tag (a required field)."""
    return _number(_inner(_required(field), INTEGER))


def _number(content: bytes) -> int:
    """An INTEGER's content as Int32 (RFC 4120 5.2.4)."""
    if not 1 <= len(content) <= 5:
        raise ParseError("kerberos_bad_integer")
    return int.from_bytes(content, "big", signed=True)


def _principal(wrapped: bytes) -> tuple[int, str]:
    """PrincipalName ::= SEQUENCE { name-type [0] Int32, name-string [1] SEQUENCE OF KerberosString },
    the strings joined with "/" (RFC 1964 2.1.1's display form)."""
    fields = _fields(_inner(wrapped, SEQUENCE))
    parts = [s.decode("utf-8", "replace") for s in _items(_required(fields.get(0xA1)), GENERAL_STRING)]
    return _integer(fields.get(0xA0)), "/".join(parts)
