"""SMTP submission (RFC 5321, AUTH from RFC 4954): who logs in, with what.

AUTH PLAIN (RFC 4616: authzid NUL authcid NUL password) and AUTH LOGIN carry the password in
base64, that is in clear: it is fingerprinted at once. CRAM-MD5 (RFC 2195) shows the user and
a keyed digest (kind hash); the SASL exchange is read by `sensor.protocols.sasl`. STARTTLS
accepted (220) hands the connection to TLS. Inspection ends when the client starts a
transaction (MAIL FROM): mail content is never read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from ..flowid import Direction, FlowId
from ..records import Observation, Proto
from ..secrets import EPHEMERAL, SecretHasher
from .base import Extractor, read_line
from .sasl import SaslExchange, SaslLogin

MAX_LINE = 4096


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

    def parse(
        self, flow: FlowId, direction: Direction, ts: float, buf: bytes
    ) -> tuple[Sequence[Observation], int]:
        read = read_line(buf, MAX_LINE, "smtp")
        if read is None:
            return [], 0
        line, used = read
        if direction == Direction.RESP:
            if self._starttls and line[:3] == b"220":
                self.upgraded = True
            elif line[:1] in (b"4", b"5"):
                self._starttls = False
                self._sasl.end()
            return [], used
        return self._client(flow, direction, ts, line), used

    def _client(self, flow: FlowId, direction: Direction, ts: float, line: bytes) -> list[Observation]:
        if self._sasl.active:
            return _seen(flow, direction, ts, self._sasl.respond(line))
        words = line.split()
        verb = words[0].upper() if words else b""
        if verb == b"STARTTLS":
            self._starttls = True
        elif verb in (b"MAIL", b"DATA"):
            self.done = True
        elif verb == b"AUTH" and len(words) >= 2:
            return _seen(flow, direction, ts, self._sasl.start(words[1], words[2] if len(words) > 2 else None))
        return []


def _seen(flow: FlowId, direction: Direction, ts: float, login: SaslLogin | None) -> list[Observation]:
    if login is None:
        return []
    return [login.seen(ts, flow, Proto.SMTP, direction, f"auth {login.mechanism.lower()}")]
