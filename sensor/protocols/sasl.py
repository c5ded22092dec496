"""SASL (RFC 4422) as SMTP AUTH (RFC 4954), IMAP AUTHENTICATE (RFC 9051) and POP3 AUTH (RFC 5034)
carry it: the client's side of the exchange, read for who logs in and with what.

Every client response is one base64 line; `*` cancels the exchange, and `=` as the initial
response means an empty one. PLAIN (RFC 4616: authzid NUL authcid NUL password) and LOGIN (the
user, then the password, each a line) carry the password in clear: it is fingerprinted at once.
CRAM-MD5 (RFC 2195) answers the challenge with the user and a keyed digest (kind hash). Other
mechanisms (GSSAPI, NTLM, XOAUTH2...) are only named, for the protocols that report them.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from ..flowid import Direction, FlowId
from ..records import CredentialSeen, Proto, SecretKind
from ..secrets import Fingerprint, SecretHasher
from .base import ParseError, secret_fields

MECHANISMS = frozenset({b"PLAIN", b"LOGIN", b"CRAM-MD5"})
"""The mechanisms whose exchange is read; any other is only named."""


@dataclass(frozen=True, slots=True)
class SaslLogin:
    """What one exchange showed: the secret only as its fingerprint."""

    mechanism: str
    """The mechanism's name, upper case ("PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2"...)."""
    username: str | None
    kind: SecretKind
    fingerprint: Fingerprint | None

    def seen(self, ts: float, flow: FlowId, protocol: Proto, presenter: Direction,
             mechanism: str | None = None, *, attempt: int) -> CredentialSeen:
        """The observation, its mechanism labelled `mechanism` (default: the SASL name), as the
        connection's `attempt` (`Extractor.attempt`)."""
        return CredentialSeen(ts=ts, flow=flow, protocol=protocol, presenter=presenter, username=self.username,
                              **secret_fields(self.kind, self.fingerprint), mechanism=mechanism or self.mechanism,
                              attempt=attempt)


class SaslExchange:
    """The client's SASL responses on one connection; the application protocol says where
    an exchange starts (`start`), which lines are responses (`active`) and where it ends."""

    def __init__(self, secrets: SecretHasher, proto: str) -> None:
        self._secrets = secrets
        self._proto = proto
        """Prefix of the weirds raised, the application protocol's name."""
        self._mechanism = ""
        self._steps: list[str] = []
        """The responses still expected: "plain", "user", "password", "cram"."""
        self._user: str | None = None

    @property
    def active(self) -> bool:
        """Whether the client's next line is a response of the exchange."""
        return bool(self._steps)

    def start(self, mechanism: bytes, initial: bytes | None, others: bool = False) -> SaslLogin | None:
        """The client asks for `mechanism`, with its base64 `initial` response if any. A
        mechanism not in MECHANISMS gives a login of kind none if `others`, else nothing."""
        name = mechanism.upper()
        self._mechanism, self._steps = name.decode("ascii", "replace"), []
        data = self._decode(initial) if initial is not None and initial != b"=" else None
        if name == b"PLAIN":
            if data is not None:
                return self._step("plain", data)
            self._steps = ["plain"]
        elif name == b"LOGIN":
            if data is not None:
                self._user = data.decode("utf-8", "replace")
            self._steps = ["password"] if data is not None else ["user", "password"]
        elif name == b"CRAM-MD5":
            self._steps = ["cram"]
        elif others:
            return SaslLogin(self._mechanism, None, SecretKind.NONE, None)
        return None

    def respond(self, line: bytes) -> SaslLogin | None:
        """The client's next response (call only while `active`)."""
        step = self._steps.pop(0)
        if line == b"*":  # the client cancelled the exchange
            self._steps = []
            return None
        return self._step(step, self._decode(line))

    def end(self) -> None:
        """The server ended the exchange (success, failure or error)."""
        self._steps = []

    def _step(self, step: str, data: bytes) -> SaslLogin | None:
        if step == "user":
            self._user = data.decode("utf-8", "replace")
            return None
        if step == "cram":
            user = data.rsplit(b" ", 1)[0].decode("utf-8", "replace")
            return SaslLogin(self._mechanism, user, SecretKind.HASH, None)
        if step == "plain":
            parts = data.split(b"\x00")
            if len(parts) != 3:
                raise ParseError(f"{self._proto}_bad_plain")
            self._user, data = parts[1].decode("utf-8", "replace"), parts[2]
        return SaslLogin(self._mechanism, self._user, SecretKind.PASSWORD,
                         self._secrets.fingerprint(SecretKind.PASSWORD, data))

    def _decode(self, text: bytes) -> bytes:
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise ParseError(f"{self._proto}_bad_base64") from None
