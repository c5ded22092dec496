"""POP3 (RFC 1939, STLS from RFC 2595, AUTH from RFC 5034): USER/PASS in clear, APOP's user and
digest, SASL logins, and the server's answer to each.

Each PASS becomes a credential with the user of the USER before it, the password
fingerprinted at once; APOP shows the user and a keyed digest (kind hash). AUTH runs a SASL
exchange (`sensor.protocols.sasl`: PLAIN and LOGIN fingerprinted, CRAM-MD5 a hash, other
mechanisms only named) whose client responses follow the server's `+ ` continuations. STLS
answered `+OK` hands the connection to TLS.

Responses pair with commands in order (a client may pipeline USER and PASS, RFC 2449); the
multi-line ones (CAPA, LIST, UIDL, TOP, RETR, a bare AUTH's list) are skipped to their
terminating dot. The response to PASS, APOP or AUTH answers the login: `+OK` accepted, `-ERR`
refused, except for the response codes (RFC 2449 8.1, RFC 3206) that say otherwise: [IN-USE]
the credential was accepted but the maildrop is locked; [LOGIN-DELAY], [SYS/TEMP] and
[SYS/PERM] say nothing of the password (unknown). Inspection ends after the first accepted
login or at the budget: mailbox contents are never read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from ..flowid import Direction, FlowId
from ..records import CredentialSeen, Observation, Outcome, Proto, SecretKind
from ..secrets import EPHEMERAL, SecretHasher
from .base import Extractor, read_line, secret_fields, server_words
from .sasl import SaslExchange

MAX_LINE = 8 * 1024
"""Longest line: SASL responses (a GSSAPI or XOAUTH2 token in base64) run to a few KB."""
MAX_AWAITING = 64
"""Commands waiting for their response; past it the oldest is forgotten (a capture of the
client's side alone): a login among them stays unanswered (unknown)."""
LOGINS = frozenset({b"PASS", b"APOP", b"AUTH"})
MULTILINE = frozenset({b"CAPA", b"LIST", b"UIDL", b"TOP", b"RETR", b"AUTH-LIST"})
"""Commands whose `+OK` opens a multi-line response (LIST and UIDL without an argument only)."""
ACCEPTED_CODE = b"[IN-USE]"
"""RFC 2449 8.1.2: "the authentication was successful, but the user's maildrop is currently in use"."""
UNJUDGED_CODES = (b"[LOGIN-DELAY]", b"[SYS/TEMP]", b"[SYS/PERM]")
"""-ERR codes about the server or the login's timing, not the password."""


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
        self._awaiting: list[bytes] = []
        """Verbs of the commands sent and not yet answered, oldest first."""
        self._multiline = False
        """Inside a multi-line response, until its line of a single dot."""

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
            return self._response(flow, ts, line), used
        if self._sasl.active:
            login = self._sasl.respond(line)
            return ([login.seen(ts, flow, Proto.POP3, direction, attempt=self.attempt(Proto.POP3))] if login
                    else []), used
        return self._command(flow, direction, ts, line), used

    def _response(self, flow: FlowId, ts: float, line: bytes) -> list[Observation]:
        if self._multiline:
            self._multiline = line != b"."
            return []
        if line == b"+" or line.startswith(b"+ "):  # a SASL continuation
            return []
        self._sasl.end()
        accepted = line.startswith(b"+OK")
        if not (accepted or line.startswith(b"-ERR")) or not self._awaiting:
            return []  # the greeting, or not a status line
        verb = self._awaiting.pop(0)
        self._multiline = accepted and verb in MULTILINE
        if verb == b"STLS":
            self.upgraded = accepted
        if verb not in LOGINS or not self.pending:
            return []
        status, text = line.split(b" ", 1)[0], line.partition(b" ")[2]
        code, reason = status.decode("ascii", "replace"), server_words(text)
        if accepted or text.startswith(ACCEPTED_CODE):
            self.done = True  # logged in: the session follows
            return self.answer(flow, ts, Outcome.SUCCESS, code, reason,
                               basis=None if accepted else "[IN-USE]: accepted, the maildrop is locked")
        if text.startswith(UNJUDGED_CODES):
            return self.answer(flow, ts, Outcome.UNKNOWN, code, reason, basis="the server's state, not the password")
        return self.answer(flow, ts, Outcome.FAILURE, code, reason)

    def _command(self, flow: FlowId, direction: Direction, ts: float, line: bytes) -> list[Observation]:
        verb, _, raw = line.partition(b" ")
        verb, arg = verb.upper(), raw.strip()
        if len(self._awaiting) >= MAX_AWAITING:
            del self._awaiting[0]
        self._awaiting.append(_awaited(verb, arg))
        if verb == b"USER":
            self._user = arg.decode("utf-8", "replace")
        elif verb == b"PASS":
            fp = self.secrets.fingerprint(SecretKind.PASSWORD, raw)
            return [CredentialSeen(ts=ts, flow=flow, protocol=Proto.POP3, presenter=direction, username=self._user,
                                   **secret_fields(SecretKind.PASSWORD, fp), mechanism="USER/PASS",
                                   attempt=self.attempt(Proto.POP3))]
        elif verb == b"APOP":
            user = raw.rsplit(b" ", 1)[0].decode("utf-8", "replace")
            return [CredentialSeen(ts=ts, flow=flow, protocol=Proto.POP3, presenter=direction, username=user,
                                   secret_kind=SecretKind.HASH, secret_fp=None, secret_hint=None,
                                   mechanism="APOP", attempt=self.attempt(Proto.POP3))]
        elif verb == b"AUTH" and arg:  # without a mechanism: the list of them (RFC 1734 servers)
            mechanism, _, initial = arg.partition(b" ")
            login = self._sasl.start(mechanism, initial.strip() or None, others=True)
            return [login.seen(ts, flow, Proto.POP3, direction, attempt=self.attempt(Proto.POP3))] if login else []
        return []


def _awaited(verb: bytes, arg: bytes) -> bytes:
    """What a command's response is awaited as: a bare AUTH lists the mechanisms (multi-line);
    LIST and UIDL of one message answer on one line."""
    if verb == b"AUTH" and not arg:
        return b"AUTH-LIST"
    if verb in (b"LIST", b"UIDL") and arg:
        return verb + b"-ONE"
    return verb
