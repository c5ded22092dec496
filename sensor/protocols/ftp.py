"""FTP control connections (RFC 959, AUTH TLS from RFC 4217): USER/PASS in clear.

Each PASS becomes a `CredentialSeen` with the user name of the USER before it and the
password as a keyed fingerprint, and the server's reply to it its `AuthenticationOutcome`:
230 (or 202, already in) accepted, 530 and other 5xx refused, 4xx a transient refusal that
says nothing of the password (unknown); 332 asks for an account first, so the answer is still
to come with the reply to ACCT. Replies pair with commands in order (a client may send USER and PASS at once).
`AUTH TLS`/`AUTH SSL` answered with 234 hands the connection to TLS (the dispatcher identifies
the handshake that follows); refused, the logins after it carry the note. Inspection ends with
the first accepted login or the budget: brute forcing is many PASS lines on one connection,
each one reported with its refusal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from ..flowid import Direction, FlowId
from ..records import CredentialSeen, Observation, Outcome, Proto, SecretKind
from ..secrets import EPHEMERAL, SecretHasher
from .base import Extractor, ParseError, read_line, secret_fields

MAX_LINE = 2048
"""RFC 959 sets no limit; real servers cut commands far shorter."""
ANONYMOUS = frozenset({"anonymous", "ftp"})
REPLY_AUTH_OK = b"234"
REPLY_LOGGED_IN = (b"230", b"202")
REPLY_NEED_ACCOUNT = b"332"
MAX_AWAITING = 64
"""Commands waiting for their reply; past it the oldest is forgotten (a capture of the client's
side alone): a PASS among them stays unanswered (unknown)."""
REFUSED_AUTH = "AUTH TLS refused by the server"


class FtpExtractor(Extractor):
    """One FTP control connection."""

    name = "ftp"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp"})
    ports: ClassVar[frozenset[int]] = frozenset({21})
    budget = 64 * 1024

    def __init__(self, secrets: SecretHasher = EPHEMERAL) -> None:
        super().__init__(secrets)
        self._user: str | None = None
        self._notes: tuple[str, ...] = ()
        self._not_ftp = False
        self._multiline: bytes | None = None
        """The code of a multi-line reply in progress: its inner lines are free text."""
        self._awaiting: list[bytes] = []
        """Verbs of the commands sent and not yet answered, oldest first."""

    @staticmethod
    def probe(first: bytes) -> bool:
        """A server greeting that names FTP, or a client's USER/AUTH command."""
        head = first[:128]
        if head[:4] in (b"220 ", b"220-"):
            line = head.split(b"\n", 1)[0].upper()
            return b"FTP" in line and b"SMTP" not in line
        return head[:5].upper() in (b"USER ", b"AUTH ")

    def parse(
        self, flow: FlowId, direction: Direction, ts: float, buf: bytes
    ) -> tuple[Sequence[Observation], int]:
        read = read_line(buf, MAX_LINE, "ftp")
        if read is None:
            return [], 0
        line, used = read
        if direction == Direction.RESP:
            return self._reply(flow, ts, line), used
        return self._command(flow, direction, ts, line), used

    def _reply(self, flow: FlowId, ts: float, line: bytes) -> list[Observation]:
        code = line[:3]
        if self._multiline is not None:
            if code != self._multiline or line[3:4] == b"-":
                return []
            self._multiline = None
        elif not code.isdigit():  # "+OK": POP3 speaks USER/PASS too; nothing more is FTP here
            self._not_ftp = True
            raise ParseError("ftp_bad_reply")
        if line[3:4] == b"-":
            self._multiline = code
            return []
        if code[:1] == b"1" or not self._awaiting:  # preliminary, or the greeting
            return []
        verb = self._awaiting.pop(0)
        if verb == b"AUTH":
            if code == REPLY_AUTH_OK:
                self.upgraded = True
            else:
                self._notes = (REFUSED_AUTH,)
        if verb not in (b"PASS", b"ACCT") or not self.pending or code == REPLY_NEED_ACCOUNT:
            return []  # ACCT: the login's account, asked for by 332, completes it
        text = line[4:]
        if code in REPLY_LOGGED_IN:
            self.done = True  # logged in: the session follows
            return self.answer(flow, ts, Outcome.SUCCESS, code.decode(), text)
        if code[:1] == b"5":
            return self.answer(flow, ts, Outcome.FAILURE, code.decode(), text)
        return self.answer(flow, ts, Outcome.UNKNOWN, code.decode(), text, basis="transient refusal (4xx)")

    def _command(self, flow: FlowId, direction: Direction, ts: float, line: bytes) -> list[Observation]:
        if self._not_ftp:
            raise ParseError("ftp_bad_reply")
        verb, _, arg = line.partition(b" ")
        verb = verb.upper()
        if len(self._awaiting) >= MAX_AWAITING:
            del self._awaiting[0]
        if verb == b"AUTH" and arg.strip().upper() not in (b"TLS", b"SSL", b"TLS-C", b"TLS-P"):
            verb = b"AUTH-OTHER"
        self._awaiting.append(verb)
        if verb == b"USER":
            self._user = arg.decode("utf-8", "replace").strip()
        elif verb == b"PASS":
            fp = self.secrets.fingerprint(SecretKind.PASSWORD, arg)
            notes = self._notes + (("anonymous login",) if (self._user or "").lower() in ANONYMOUS else ())
            return [CredentialSeen(
                ts=ts, flow=flow, protocol=Proto.FTP, presenter=direction, username=self._user,
                **secret_fields(SecretKind.PASSWORD, fp), mechanism="USER/PASS", notes=notes,
                attempt=self.attempt(Proto.FTP),
            )]
        return []
