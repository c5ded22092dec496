"""POP3 (RFC 1939, STLS from RFC 2595, AUTH from RFC 5034): USER/PASS in clear, APOP's user and
digest, SASL logins.

Each PASS becomes a credential with the user of the USER before it, the password
fingerprinted at once; APOP shows the user and a keyed digest (kind hash). AUTH runs a SASL
exchange (`sensor.protocols.sasl`: PLAIN and LOGIN fingerprinted, CRAM-MD5 a hash, other
mechanisms only named) whose client responses follow the server's `+ ` continuations. STLS
answered `+OK` hands the connection to TLS. Inspection ends after the first accepted login or
at the budget: mailbox contents are never read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from ..flowid import Direction, FlowId
from ..records import CredentialSeen, Observation, Proto, SecretKind
from ..secrets import EPHEMERAL, SecretHasher
from .base import Extractor, read_line, secret_fields
from .sasl import SaslExchange

MAX_LINE = 8 * 1024
"""Longest line: SASL responses (a GSSAPI or XOAUTH2 token in base64) run to a few KB."""


class Pop3Extractor(Extractor):
    """One POP3 connection, up to its login."""

    name = "pop3"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp"})
    ports: ClassVar[frozenset[int]] = frozenset({110})
    budget = 32 * 1024

    def __init__(self, secrets: SecretHasher = EPHEMERAL) -> None:
        super().__init__(secrets)
        self._user: str | None = None
        self._sasl = SaslExchange(secrets, "pop3")
        self._stls = False
        """The client's last command was STLS."""
        self._login = False
        """The client's last command presented a credential (PASS, APOP, AUTH with a mechanism)."""

    @staticmethod
    def probe(first: bytes) -> bool:
        """The server's `+OK` greeting: no other protocol greets so (the client's USER is FTP's
        too, so the greeting decides)."""
        return first[:4] == b"+OK "

    def parse(
        self, flow: FlowId, direction: Direction, ts: float, buf: bytes
    ) -> tuple[Sequence[Observation], int]:
        read = read_line(buf, MAX_LINE, "pop3")
        if read is None:
            return [], 0
        line, used = read
        if direction == Direction.RESP:
            if line == b"+" or line.startswith(b"+ "):  # a SASL continuation
                return [], used
            self._sasl.end()
            if line.startswith(b"+OK"):
                self.upgraded = self._stls
                self.done = self._login
            return [], used
        if self._sasl.active:
            login = self._sasl.respond(line)
            return ([login.seen(ts, flow, Proto.POP3, direction)] if login else []), used
        return self._command(flow, direction, ts, line), used

    def _command(self, flow: FlowId, direction: Direction, ts: float, line: bytes) -> list[Observation]:
        verb, _, arg = line.partition(b" ")
        verb = verb.upper()
        self._stls, self._login = verb == b"STLS", verb in (b"PASS", b"APOP")
        if verb == b"USER":
            self._user = arg.decode("utf-8", "replace").strip()
        elif verb == b"PASS":
            fp = self.secrets.fingerprint(SecretKind.PASSWORD, arg)
            return [CredentialSeen(ts=ts, flow=flow, protocol=Proto.POP3, presenter=direction, username=self._user,
                                   **secret_fields(SecretKind.PASSWORD, fp), mechanism="USER/PASS")]
        elif verb == b"APOP":
            user = arg.rsplit(b" ", 1)[0].decode("utf-8", "replace")
            return [CredentialSeen(ts=ts, flow=flow, protocol=Proto.POP3, presenter=direction, username=user,
                                   secret_kind=SecretKind.HASH, secret_fp=None, secret_hint=None,
                                   mechanism="APOP")]
        elif verb == b"AUTH" and arg.strip():  # without a mechanism: the list of them (RFC 1734 servers)
            mechanism, _, initial = arg.strip().partition(b" ")
            self._login = True
            login = self._sasl.start(mechanism, initial.strip() or None, others=True)
            return [login.seen(ts, flow, Proto.POP3, direction)] if login else []
        return []
