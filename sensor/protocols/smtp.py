"""SMTP submission (RFC 5321, AUTH from RFC 4954): who logs in, with what.

AUTH PLAIN (RFC 4616: authzid NUL authcid NUL password) and AUTH LOGIN carry the password in
base64, that is in clear: it is fingerprinted at once. CRAM-MD5 (RFC 2195) shows the user and
a keyed digest (kind hash); the SASL exchange is read by `sensor.protocols.sasl`. The reply
that ends the exchange answers the login (RFC 4954 section 6): 235 accepted, 5xx (535 invalid
credentials, 534 mechanism too weak, 538 encryption required...) refused, 4xx (454 temporary
failure) unknown; the other replies (334 continuations, 250 to a command pipelined before) answer
something else. STARTTLS accepted (220) hands the connection to TLS. Inspection ends when the
client starts a transaction (MAIL FROM) and its login was answered: mail content is never read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from ..flowid import Direction, FlowId
from ..records import Observation, Outcome, Proto
from ..secrets import EPHEMERAL, SecretHasher
from .base import Extractor, read_line, server_words
from .sasl import SaslExchange, SaslLogin

MAX_LINE = 4096
REPLY_ACCEPTED = b"235"


class SmtpExtractor(Extractor):
    """One SMTP connection, up to its first transaction."""

    name = "smtp"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp"})
    ports: ClassVar[frozenset[int]] = frozenset({25, 587, 2525})
    budget = 64 * 1024

    def __init__(self, secrets: SecretHasher = EPHEMERAL) -> None:
        super().__init__(secrets)
        self._sasl = SaslExchange(secrets, "smtp")
        self._starttls = False

    @staticmethod
    def probe(first: bytes) -> bool:
        head = first[:128].upper()
        if head[:4] in (b"220 ", b"220-"):
            return b"SMTP" in head.split(b"\n", 1)[0]
        return head[:5] in (b"EHLO ", b"HELO ")

    @property
    def finished(self) -> bool:
        """Once the transaction starts and the login before it was answered."""
        return self.done and not self.pending

    def parse(
        self, flow: FlowId, direction: Direction, ts: float, buf: bytes
    ) -> tuple[Sequence[Observation], int]:
        read = read_line(buf, MAX_LINE, "smtp")
        if read is None:
            return [], 0
        line, used = read
        if direction == Direction.RESP:
            return self._reply(flow, ts, line), used
        if self.done:
            return [], used  # the transaction: only the answer to the login is still awaited
        return self._client(flow, direction, ts, line), used

    def _reply(self, flow: FlowId, ts: float, line: bytes) -> list[Observation]:
        code = line[:3]
        if line[3:4] == b"-":
            return []  # a multi-line reply goes on
        if self._starttls and code == b"220":
            self.upgraded = True
        if code != REPLY_ACCEPTED and code[:1] not in (b"4", b"5"):
            return []
        self._starttls = False
        self._sasl.end()
        if not self.pending:
            return []
        status, text = code.decode("ascii", "replace"), server_words(line[4:])
        latest = self.pending[-1][0]  # the exchange just ended; an older unanswered one stays unknown
        if code == REPLY_ACCEPTED:
            return self.answer(flow, ts, Outcome.SUCCESS, status, text, attempt=latest)
        if code[:1] == b"5":
            return self.answer(flow, ts, Outcome.FAILURE, status, text, attempt=latest)
        return self.answer(flow, ts, Outcome.UNKNOWN, status, text, attempt=latest, basis="transient failure (4xx)")

    def _client(self, flow: FlowId, direction: Direction, ts: float, line: bytes) -> list[Observation]:
        if self._sasl.active:
            return self._seen(flow, direction, ts, self._sasl.respond(line))
        words = line.split()
        verb = words[0].upper() if words else b""
        if verb == b"STARTTLS":
            self._starttls = True
        elif verb in (b"MAIL", b"DATA"):
            self.done = True
        elif verb == b"AUTH" and len(words) >= 2:
            return self._seen(flow, direction, ts, self._sasl.start(words[1], words[2] if len(words) > 2 else None))
        return []

    def _seen(self, flow: FlowId, direction: Direction, ts: float, login: SaslLogin | None) -> list[Observation]:
        if login is None:
            return []
        return [login.seen(ts, flow, Proto.SMTP, direction, f"auth {login.mechanism.lower()}",
                           attempt=self.attempt(Proto.SMTP))]
