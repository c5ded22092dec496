"""LDAP (RFC 4511): simple binds, the password in clear; SASL binds and StartTLS noted.

A device binding to the directory (a service account for its worklist or user lookups) sends
its DN and password in a BindRequest; the password is fingerprinted at once. An empty password
is an unauthenticated bind, empty both an anonymous one (RFC 4513 5.1): reported with the note.
SASL binds (GSS-SPNEGO, NTLM) and Microsoft's "sicily" binds (MS-ADTS 5.1.1.1.3) whose
credentials hold an NTLMSSP AUTHENTICATE report its user, domain and workstation (`sensor.ntlm`).
StartTLS (extended request 1.3.6.1.4.1.1466.20037) answered with success hands the connection
over to TLS. Inspection ends after `MAX_MESSAGES` requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from ..ber import Ber
from ..flowid import Direction, FlowId
from ..ntlm import find_authenticate
from ..records import CredentialSeen, Observation, Proto, SecretKind
from ..secrets import EPHEMERAL, SecretHasher
from .base import Extractor, ParseError, secret_fields

OP_BIND_REQUEST, OP_EXTENDED_REQUEST, OP_EXTENDED_RESPONSE = 0x60, 0x77, 0x78
OPERATIONS = frozenset({0x42, 0x4A, 0x50, *range(0x60, 0x6A), 0x6B, 0x6C, 0x6D, 0x77, 0x78, 0x79})
"""Application tags of LDAP operations (requests and responses)."""
AUTH_SIMPLE, AUTH_SASL = 0x80, 0xA3
AUTH_SICILY = frozenset({0x89, 0x8A, 0x8B})
"""sicilyPackageDiscovery, sicilyNegotiate, sicilyResponse."""
START_TLS = b"1.3.6.1.4.1.1466.20037"
MAX_MESSAGE = 256 * 1024
MAX_MESSAGES = 32


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
        self._seen: set[tuple[str, str, str | None]] = set()
        """Binds already reported: a SASL exchange binds once per step."""

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
        message.expect(0x02)  # messageID
        op, body = message.tlv()
        used = size + length
        if direction == Direction.RESP:
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
        bind = self._bind(flow, direction, ts, Ber(body, "ldap"))
        key = (bind.username or "", bind.mechanism, bind.secret_fp)
        if key in self._seen:
            return [], used
        self._seen.add(key)
        return [bind], used

    def _bind(self, flow: FlowId, direction: Direction, ts: float, bind: Ber) -> CredentialSeen:
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
                return ntlm.credential(ts, flow, Proto.LDAP, direction)
        return CredentialSeen(
            ts=ts, flow=flow, protocol=Proto.LDAP, presenter=direction, username=dn or None,
            **secret_fields(SecretKind.PASSWORD if fp else SecretKind.NONE, fp), mechanism=mechanism, notes=notes)
