"""POP3 (RFC 1939, STLS from RFC 2595): USER/PASS in clear, APOP's user and digest.

Each PASS becomes a credential with the user of the USER before it, the password
fingerprinted at once; APOP shows the user and a keyed digest (kind hash). STLS answered
`+OK` hands the connection to TLS. Inspection ends after the first accepted login or at the
budget: mailbox contents are never read. (SASL AUTH is not read yet.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from sensor.flowid import Direction, FlowId
from sensor.protocols.base import Extractor, read_line
from sensor.records import CredentialSeen, Observation, Proto, SecretKind
from sensor.secrets import EPHEMERAL, SecretHasher

MAX_LINE = 1024


class Pop3Extractor(Extractor):
    """One POP3 connection, up to its login."""

    name = "pop3"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp"})
    ports: ClassVar[frozenset[int]] = frozenset({110})
    budget = 32 * 1024

    def __init__(self, secrets: SecretHasher = EPHEMERAL) -> None:
        super().__init__(secrets)
        self._user: str | None = None
        self._last: bytes = b""
        """The client's last command verb, to read the server's answer to it."""
        self._done = False

    @staticmethod
    def probe(first: bytes) -> bool:
        """The server's `+OK` greeting: no other protocol greets so (the client's USER is FTP's
        too, so the greeting decides)."""
        return first[:4] == b"+OK "

    @property
    def finished(self) -> bool:
        return self._done

    def parse(
        self, flow: FlowId, direction: Direction, ts: float, buf: bytes
    ) -> tuple[Sequence[Observation], int]:
        read = read_line(buf, MAX_LINE, "pop3")
        if read is None:
            return [], 0
        line, used = read
        if direction == Direction.RESP:
            if line.startswith(b"+OK"):
                self.upgraded = self._last == b"STLS"
                self._done = self._last in (b"PASS", b"APOP")
            return [], used
        verb, _, arg = line.partition(b" ")
        self._last = verb.upper()
        if self._last == b"USER":
            self._user = arg.decode("utf-8", "replace").strip()
        elif self._last == b"PASS":
            fp = self.secrets.fingerprint(SecretKind.PASSWORD, arg)
            return [CredentialSeen(ts=ts, flow=flow, protocol=Proto.POP3, presenter=direction, username=self._user,
                                   secret_kind=SecretKind.PASSWORD, secret_fp=fp.value, secret_hint=fp.hint,
                                   mechanism="USER/PASS")], used
        elif self._last == b"APOP":
            user = arg.rsplit(b" ", 1)[0].decode("utf-8", "replace")
            return [CredentialSeen(ts=ts, flow=flow, protocol=Proto.POP3, presenter=direction, username=user,
                                   secret_kind=SecretKind.HASH, secret_fp=None, secret_hint=None,
                                   mechanism="APOP")], used
        return [], used
