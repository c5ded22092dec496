"""Kerberos 5 (RFC 4120): the client principal of an AS-REQ, the request for a TGT.

A device logging on to a domain (or a service account getting its ticket) sends its client
principal and realm in clear in the AS-REQ's req-body (RFC 4120 5.4.1): that is who it claims
to be. PA-ENC-TIMESTAMP in padata (5.2.7.2) proves it knows the key: the credential is then a
hash (a key-encrypted timestamp, nothing to fingerprint: it changes with every request);
without it the name is presented alone. Noted: PKINIT (RFC 4556), FAST armour (RFC 6113),
enterprise and well-known principals (RFC 6806, RFC 8062), the service asked for, and weak
encryption types requested (DES, RC4: RFC 6649, RFC 8429).

Each AS-REQ reported is an authentication attempt; the KDC answers the requests of a flow in
order (UDP: the datagram back on the same flow; TCP: the records of the connection), and the
answer is the outcome: AS-REP accepted; KRB-ERROR refused with the error code's name
(KDC_ERR_PREAUTH_FAILED: wrong password; KDC_ERR_CLIENT_REVOKED: disabled or locked out;
KDC_ERR_KEY_EXPIRED: password expired; KDC_ERR_C_PRINCIPAL_UNKNOWN ...) and its e-text.
KDC_ERR_PREAUTH_REQUIRED is no refusal: the KDC asks a client that sent no pre-authentication
to prove its key, and the client retries with PA-ENC-TIMESTAMP (a new attempt, reported with
that note): the first attempt is unknown, with that code and why. So are the other errors a
client retries after (KRB_ERR_RESPONSE_TOO_BIG: again over TCP; KDC_ERR_WRONG_REALM: a
referral) and those that say nothing of the client's credential. A retransmitted AS-REQ (the
same request again) joins its attempt.

UDP carries one message per datagram; TCP prefixes each with a 4-byte big-endian length
(7.2.2). Other messages (TGS-REQ, AS-REP, TGS-REP) are recognised by their tag and skipped
unread: a TCP record that is neither an AS-REQ nor a KRB-ERROR is skipped as it streams past,
never buffered.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import replace
from typing import ClassVar

from ..ber import Ber
from ..flowid import Direction, FlowId
from ..records import CredentialSeen, Observation, Outcome, Proto, SecretKind
from ..secrets import EPHEMERAL, SecretHasher
from .base import Extractor, ParseError

AS_REQ, AS_REP, TGS_REQ, TGS_REP, KRB_ERROR = 0x6A, 0x6B, 0x6C, 0x6D, 0x7E
"""[APPLICATION 10, 11, 12, 13, 30]."""
MESSAGES = frozenset({AS_REQ, AS_REP, TGS_REQ, TGS_REP, KRB_ERROR})
REQUESTS = frozenset({AS_REQ, TGS_REQ})
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
ERROR_NAMES = {
    0: "KDC_ERR_NONE", 1: "KDC_ERR_NAME_EXP", 2: "KDC_ERR_SERVICE_EXP", 3: "KDC_ERR_BAD_PVNO",
    4: "KDC_ERR_C_OLD_MAST_KVNO", 5: "KDC_ERR_S_OLD_MAST_KVNO", 6: "KDC_ERR_C_PRINCIPAL_UNKNOWN",
    7: "KDC_ERR_S_PRINCIPAL_UNKNOWN", 8: "KDC_ERR_PRINCIPAL_NOT_UNIQUE", 9: "KDC_ERR_NULL_KEY",
    10: "KDC_ERR_CANNOT_POSTDATE", 11: "KDC_ERR_NEVER_VALID", 12: "KDC_ERR_POLICY", 13: "KDC_ERR_BADOPTION",
    14: "KDC_ERR_ETYPE_NOSUPP", 15: "KDC_ERR_SUMTYPE_NOSUPP", 16: "KDC_ERR_PADATA_TYPE_NOSUPP",
    17: "KDC_ERR_TRTYPE_NOSUPP", 18: "KDC_ERR_CLIENT_REVOKED", 19: "KDC_ERR_SERVICE_REVOKED",
    20: "KDC_ERR_TGT_REVOKED", 21: "KDC_ERR_CLIENT_NOTYET", 22: "KDC_ERR_SERVICE_NOTYET", 23: "KDC_ERR_KEY_EXPIRED",
    24: "KDC_ERR_PREAUTH_FAILED", 25: "KDC_ERR_PREAUTH_REQUIRED", 26: "KDC_ERR_SERVER_NOMATCH",
    27: "KDC_ERR_MUST_USE_USER2USER", 28: "KDC_ERR_PATH_NOT_ACCEPTED", 29: "KDC_ERR_SVC_UNAVAILABLE",
    31: "KRB_AP_ERR_BAD_INTEGRITY", 32: "KRB_AP_ERR_TKT_EXPIRED", 33: "KRB_AP_ERR_TKT_NYV", 34: "KRB_AP_ERR_REPEAT",
    35: "KRB_AP_ERR_NOT_US", 36: "KRB_AP_ERR_BADMATCH", 37: "KRB_AP_ERR_SKEW", 38: "KRB_AP_ERR_BADADDR",
    39: "KRB_AP_ERR_BADVERSION", 40: "KRB_AP_ERR_MSG_TYPE", 41: "KRB_AP_ERR_MODIFIED", 42: "KRB_AP_ERR_BADORDER",
    44: "KRB_AP_ERR_BADKEYVER", 45: "KRB_AP_ERR_NOKEY", 46: "KRB_AP_ERR_MUT_FAIL", 47: "KRB_AP_ERR_BADDIRECTION",
    48: "KRB_AP_ERR_METHOD", 49: "KRB_AP_ERR_BADSEQ", 50: "KRB_AP_ERR_INAPP_CKSUM", 51: "KRB_AP_PATH_NOT_ACCEPTED",
    52: "KRB_ERR_RESPONSE_TOO_BIG", 60: "KRB_ERR_GENERIC", 61: "KRB_ERR_FIELD_TOOLONG",
    62: "KDC_ERR_CLIENT_NOT_TRUSTED", 63: "KDC_ERR_KDC_NOT_TRUSTED", 64: "KDC_ERR_INVALID_SIG",
    65: "KDC_ERR_KEY_TOO_WEAK", 66: "KDC_ERR_CERTIFICATE_MISMATCH", 67: "KRB_AP_ERR_NO_TGT",
    68: "KDC_ERR_WRONG_REALM", 69: "KRB_AP_ERR_USER_TO_USER_REQUIRED", 70: "KDC_ERR_CANT_VERIFY_CERTIFICATE",
    71: "KDC_ERR_INVALID_CERTIFICATE", 72: "KDC_ERR_REVOKED_CERTIFICATE", 73: "KDC_ERR_REVOCATION_STATUS_UNKNOWN",
    74: "KDC_ERR_REVOCATION_STATUS_UNAVAILABLE", 75: "KDC_ERR_CLIENT_NAME_MISMATCH",
    76: "KDC_ERR_KDC_NAME_MISMATCH", 90: "KDC_ERR_PREAUTH_EXPIRED", 91: "KDC_ERR_MORE_PREAUTH_DATA_REQUIRED",
    92: "KDC_ERR_PREAUTH_BAD_AUTHENTICATION_SET", 93: "KDC_ERR_UNKNOWN_CRITICAL_FAST_OPTIONS",
}
"""RFC 4120 7.5.9, RFC 4556 3.2.1 (PKINIT) and RFC 6113 5.4.3 (FAST) error codes."""
REFUSALS = frozenset({1, 6, 12, 18, 21, 23, 24, 31, 62, 64, 65, 66, 70, 71, 72, 75})
"""Errors that refuse the client's identity or credential: expired, unknown, locked out or
disabled, not yet valid, password expired, wrong password (MIT KDCs answer an encrypted
timestamp that does not decrypt with KRB_AP_ERR_BAD_INTEGRITY), and PKINIT certificates refused."""
RETRIED = frozenset({25, 52, 68, 91})
"""Errors a client answers with a new request (pre-authentication, TCP, a referral, the next
FAST step): no verdict on this one."""


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
        self._seen: dict[tuple[Direction, str | None, str | None, SecretKind, tuple[str, ...]], int] = {}
        """The AS-REQs reported, with their attempt."""
        self._requests: deque[tuple[Direction, int | None]] = deque(maxlen=MAX_MESSAGES)
        """Requests waiting for the KDC's answer, oldest first: their sender, and the attempt an
        AS-REQ stands for (None: a TGS-REQ)."""

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
        if tag not in (AS_REQ, KRB_ERROR):
            if tag not in MESSAGES:
                raise ParseError("kerberos_bad_message")
            self.count_message()
            self._skip[d] = length
            return self._answer(flow, direction, ts, tag, b""), LENGTH_PREFIX
        if length > MAX_RECORD:
            raise ParseError("kerberos_record_too_large")
        end = LENGTH_PREFIX + length
        if len(buf) < end:
            return [], 0
        return self._message(flow, direction, ts, buf[LENGTH_PREFIX:end]), end

    def _message(self, flow: FlowId, direction: Direction, ts: float, data: bytes) -> list[Observation]:
        """One whole message: an AS-REQ gives a credential (once per flow), an answer its outcome."""
        self.count_message()
        tag, body = Ber(data, "kerberos").tlv()
        if tag not in MESSAGES:
            raise ParseError("kerberos_bad_message")
        if tag != AS_REQ:
            return self._answer(flow, direction, ts, tag, body)
        cred = self._as_req(flow, direction, ts, body)
        key = (direction, cred.username, cred.domain, cred.secret_kind, cred.notes)
        if key in self._seen:  # the same request again (a retransmission): the same attempt
            self._requests.append((direction, self._seen[key]))
            return []
        attempt = self._seen[key] = self.attempt(Proto.KERBEROS)
        self._requests.append((direction, attempt))
        return [replace(cred, attempt=attempt)]

    def _answer(self, flow: FlowId, direction: Direction, ts: float, tag: int, body: bytes) -> list[Observation]:
        """A TGS-REQ waits for its answer; an AS-REP, TGS-REP or KRB-ERROR answers the oldest
        request of the other side (`body`: the KRB-ERROR's, the only one read)."""
        if tag in REQUESTS:
            self._requests.append((direction, None))
            return []
        request = next((r for r in self._requests if r[0] != direction), None)
        if request is None:
            return []
        self._requests.remove(request)
        attempt = request[1]
        if attempt is None or tag == TGS_REP:
            return []
        if tag == AS_REP:
            return self.answer(flow, ts, Outcome.SUCCESS, "AS-REP", attempt=attempt)
        fields = _fields(_inner(body, SEQUENCE))
        code = _integer(fields.get(0xA6))
        name = ERROR_NAMES.get(code, f"error {code}")
        said = _inner(fields[0xAB], GENERAL_STRING) if 0xAB in fields else None
        if code in REFUSALS:
            return self.answer(flow, ts, Outcome.FAILURE, name, said, attempt=attempt)
        basis = "the client retries after it" if code in RETRIED else "an error that says nothing of the credential"
        return self.answer(flow, ts, Outcome.UNKNOWN, name, said, basis=basis, attempt=attempt)

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
