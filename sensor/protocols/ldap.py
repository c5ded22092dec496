"""LDAP (RFC 4511): simple binds, the password in clear; SASL binds and StartTLS noted.

A device binding to the directory (a service account for its worklist or user lookups) sends
its DN and password in a BindRequest; the password is fingerprinted at once. An empty password
is an unauthenticated bind, empty both an anonymous one (RFC 4513 5.1): reported with the note.
SASL binds (GSS-SPNEGO, NTLM) and Microsoft's "sicily" binds (MS-ADTS 5.1.1.1.3) whose
credentials hold an NTLMSSP AUTHENTICATE report its user, domain and workstation (`sensor.ntlm`).
StartTLS (extended request 1.3.6.1.4.1.1466.20037) answered with success hands the connection
over to TLS. Inspection ends after `MAX_MESSAGES` requests.

Each bind exchange is an authentication attempt, answered by the BindResponse of the same
messageID (RFC 4511 4.2.2): resultCode 0 accepted; 49 invalidCredentials and the other refusals
refused; busy/unavailable/other server troubles unknown (they say nothing of the credential).
A SASL exchange runs over several binds, each answered by saslBindInProgress (14) until the
last; a sicily exchange's discovery and negotiate steps are answered with success before its
response step: both are one attempt, answered by their last BindResponse. Active Directory puts
the reason in the diagnosticMessage ("... AcceptSecurityContext error, data 52e, v4563"): the
data code's meaning leads the outcome's reason. Every bind exchange is reported (a client guessing
passwords on one connection sends many), each step once; a step without user or secret (an
NTLM NEGOTIATE) once per connection.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import ClassVar

from ..ber import Ber
from ..flowid import Direction, FlowId
from ..ntlm import find_authenticate
from ..records import CredentialSeen, Observation, Outcome, Proto, SecretKind
from ..secrets import EPHEMERAL, SecretHasher
from .base import Extractor, ParseError, secret_fields

OP_BIND_REQUEST, OP_BIND_RESPONSE, OP_EXTENDED_REQUEST, OP_EXTENDED_RESPONSE = 0x60, 0x61, 0x77, 0x78
OPERATIONS = frozenset({0x42, 0x4A, 0x50, *range(0x60, 0x6A), 0x6B, 0x6C, 0x6D, 0x77, 0x78, 0x79})
"""Application tags of LDAP operations (requests and responses)."""
AUTH_SIMPLE, AUTH_SASL = 0x80, 0xA3
PRELIMINARY_SICILY = frozenset({0x89, 0x8A})
"""sicilyPackageDiscovery and sicilyNegotiate: answered with success, the exchange goes on."""
AUTH_SICILY = PRELIMINARY_SICILY | {0x8B}
"""... and sicilyResponse, the step that authenticates."""
SUCCESS, SASL_BIND_IN_PROGRESS = 0, 14
RESULT_NAMES = {
    0: "success", 1: "operationsError", 2: "protocolError", 3: "timeLimitExceeded", 7: "authMethodNotSupported",
    8: "strongerAuthRequired", 11: "adminLimitExceeded", 13: "confidentialityRequired", 14: "saslBindInProgress",
    32: "noSuchObject", 34: "invalidDNSyntax", 48: "inappropriateAuthentication", 49: "invalidCredentials",
    50: "insufficientAccessRights", 51: "busy", 52: "unavailable", 53: "unwillingToPerform", 80: "other",
}
"""RFC 4511 4.1.9 and Appendix A, the codes a BindResponse carries."""
NOT_A_VERDICT = frozenset({1, 2, 3, 11, 51, 52, 80})
"""Result codes of a server in trouble or a malformed exchange: they say nothing of the
credential (unknown); every other non-zero code refuses the bind."""
AD_DATA = re.compile(rb"\bdata ([0-9a-fA-F]{3,8})\b")
AD_DATA_MEANINGS = {
    "525": "user not found", "52e": "invalid credentials", "530": "logon not permitted at this time",
    "531": "logon not permitted at this workstation", "532": "password expired", "533": "account disabled",
    "534": "logon type not granted", "568": "too many security IDs", "701": "account expired",
    "773": "password must be reset", "775": "account locked out",
}
"""Active Directory's data codes in an invalidCredentials diagnosticMessage (the Win32 errors
of the failed logon, e.g. 52e = ERROR_LOGON_FAILURE)."""
START_TLS = b"1.3.6.1.4.1.1466.20037"
MAX_MESSAGE = 256 * 1024
MAX_MESSAGES = 32
MAX_AWAITING = MAX_MESSAGES
"""Binds waiting for their response; past it the oldest is forgotten (a capture of the
client's side alone): its attempt stays unanswered (unknown)."""


class LdapExtractor(Extractor):
    """One LDAP connection."""

    name = "ldap"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp"})
    ports: ClassVar[frozenset[int]] = frozenset({389, 3268})
    budget = MAX_MESSAGE + 16
    max_messages = MAX_MESSAGES

    def __init__(self, secrets: SecretHasher = EPHEMERAL) -> None:
        super().__init__(secrets)
        self._start_tls = False
        self._anonymous_steps: set[tuple[str, str, str | None]] = set()
        """SASL and sicily steps reported that carry neither a user nor a secret (an NTLM
        NEGOTIATE): once per connection, not with every exchange."""
        self._awaiting: dict[bytes, tuple[_Exchange, bool]] = {}
        """Binds sent and not yet answered, by messageID: their exchange, and whether the bind
        is a preliminary sicily step (answered with success, the exchange goes on)."""
        self._exchange: _Exchange | None = None
        """The bind exchange a response said is still in progress: the next bind continues it."""

    @staticmethod
    def probe(first: bytes) -> bool:
        """A SEQUENCE holding a message ID (INTEGER) and then an LDAP operation."""
        if len(first) < 8 or first[0] != 0x30:
            return False
        at = 2 + (first[1] & 0x7F if first[1] & 0x80 else 0)
        if len(first) < at + 2 or first[at] != 0x02 or not 1 <= first[at + 1] <= 4:
            return False  # a long-form length may reach past the bytes seen
        op = at + 2 + first[at + 1]
        return op < len(first) and first[op] in OPERATIONS

    def parse(
        self, flow: FlowId, direction: Direction, ts: float, buf: bytes
    ) -> tuple[Sequence[Observation], int]:
        if len(buf) < 6:
            return [], 0
        outer = Ber(buf, "ldap")
        tag, length, size = outer.header()
        if tag != 0x30 or length > MAX_MESSAGE:
            raise ParseError("ldap_bad_message")
        if len(buf) < size + length:
            return [], 0
        message = Ber(outer.expect(0x30), "ldap")
        message_id = message.expect(0x02)
        op, body = message.tlv()
        used = size + length
        if direction == Direction.RESP:
            if op == OP_BIND_RESPONSE:
                return self._bind_response(flow, ts, message_id, Ber(body, "ldap")), used
            if op == OP_EXTENDED_RESPONSE and self._start_tls:
                result = Ber(body, "ldap").expect(0x0A)
                self.upgraded = result == b"\x00"
            return [], used
        self.count_message()
        if op == OP_EXTENDED_REQUEST:
            self._start_tls = Ber(body, "ldap").expect(0x80) == START_TLS
            return [], used
        if op != OP_BIND_REQUEST:
            return [], used
        bind, auth = self._bind(flow, direction, ts, Ber(body, "ldap"))
        exchange, self._exchange = self._exchange or _Exchange(), None
        if len(self._awaiting) >= MAX_AWAITING:
            del self._awaiting[next(iter(self._awaiting))]
        self._awaiting[message_id] = exchange, auth in PRELIMINARY_SICILY
        if auth != AUTH_SIMPLE:
            key = (bind.username or "", bind.mechanism, bind.secret_fp)
            if key in exchange.reported or key in self._anonymous_steps:
                return [], used
            exchange.reported.add(key)
            if bind.username is None and bind.secret_fp is None:
                self._anonymous_steps.add(key)
        if exchange.attempt is None:
            exchange.attempt = self.attempt(Proto.LDAP)
        return [replace(bind, attempt=exchange.attempt)], used

    def _bind_response(self, flow: FlowId, ts: float, message_id: bytes, result: Ber) -> list[Observation]:
        """BindResponse ::= [APPLICATION 1] SEQUENCE { resultCode ENUMERATED, matchedDN,
        diagnosticMessage, referral [3] OPTIONAL, serverSaslCreds [7] OPTIONAL }."""
        step = self._awaiting.pop(message_id, None)
        if step is None:
            return []  # the answer to a bind not seen
        exchange, preliminary = step
        code = int.from_bytes(result.expect(0x0A), "big")
        result.expect(0x04)  # matchedDN
        diagnostic = result.expect(0x04)
        if code == SASL_BIND_IN_PROGRESS or (preliminary and code == SUCCESS):
            self._exchange = exchange
            return []
        if exchange.attempt is None:
            return []
        attempt = exchange.attempt
        name = RESULT_NAMES.get(code, f"resultCode {code}")
        reason = f"{name}: {_ad_meaning(diagnostic) or ''}{diagnostic.decode('utf-8', 'replace')}".rstrip(": ")
        if code == SUCCESS:
            return self.answer(flow, ts, Outcome.SUCCESS, str(code), reason, attempt=attempt)
        if code in NOT_A_VERDICT:
            return self.answer(flow, ts, Outcome.UNKNOWN, str(code), reason, attempt=attempt,
                               basis="server error, not a verdict on the credential")
        return self.answer(flow, ts, Outcome.FAILURE, str(code), reason, attempt=attempt)

    def _bind(self, flow: FlowId, direction: Direction, ts: float, bind: Ber) -> tuple[CredentialSeen, int]:
        """The credential of a BindRequest, and its authentication choice (a tag)."""
        bind.expect(0x02)  # version
        dn = bind.expect(0x04).decode("utf-8", "replace")
        auth, value = bind.tlv()
        fp, notes, mechanism = None, tuple[str, ...](), "simple-bind"
        if auth == AUTH_SASL:
            sasl = Ber(value, "ldap")
            mechanism = "sasl:" + sasl.expect(0x04).decode("ascii", "replace")
            value = sasl.expect(0x04) if sasl.left else b""
        elif auth in AUTH_SICILY:
            mechanism = "sicily"
        elif auth != AUTH_SIMPLE:
            raise ParseError("ldap_bad_authentication")
        elif value:
            fp = self.secrets.fingerprint(SecretKind.PASSWORD, value)
        else:
            notes = ("anonymous bind" if not dn else "unauthenticated bind (DN without password)",)
        if auth != AUTH_SIMPLE:
            ntlm, weird = find_authenticate(value)
            if weird:
                self.weirds.append(weird)
            if ntlm:
                return ntlm.credential(ts, flow, Proto.LDAP, direction), auth
        return CredentialSeen(
            ts=ts, flow=flow, protocol=Proto.LDAP, presenter=direction, username=dn or None,
            **secret_fields(SecretKind.PASSWORD if fp else SecretKind.NONE, fp), mechanism=mechanism,
            notes=notes), auth


@dataclass(slots=True)
class _Exchange:
    """A bind exchange: one bind, or the several steps of a SASL or sicily authentication."""

    attempt: int | None = None
    """Its attempt number once one of its steps was reported."""
    reported: set[tuple[str, str, str | None]] = field(default_factory=set)
    """Its steps reported (a step repeated within the exchange is reported once)."""


def _ad_meaning(diagnostic: bytes) -> str | None:
    """What the Active Directory data code of a diagnosticMessage means, as "data 52e (invalid
    credentials); " to lead the server's words; None when there is none."""
    found = AD_DATA.search(diagnostic)
    if found is None:
        return None
    code = found[1].decode().lower().lstrip("0")
    return f"data {code} ({AD_DATA_MEANINGS.get(code, 'unlisted code')}); "
