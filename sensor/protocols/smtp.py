"""SMTP submission (RFC 5321, AUTH from RFC 4954): who logs in, with what.

AUTH PLAIN (RFC 4616: authzid NUL authcid NUL password) and AUTH LOGIN carry the password in
base64, that is in clear: it is fingerprinted at once. CRAM-MD5 (RFC 2195) shows the user and
a keyed digest (kind hash). STARTTLS accepted (220) hands the connection to TLS. Inspection
ends when the client starts a transaction (MAIL FROM): mail content is never read.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import ClassVar

from sensor.flowid import Direction, FlowId
from sensor.protocols.base import Extractor, ParseError, read_line
from sensor.records import CredentialSeen, Observation, Proto, SecretKind
from sensor.secrets import EPHEMERAL, SecretHasher

MAX_LINE = 4096


class SmtpExtractor(Extractor):
    """One SMTP connection, up to its first transaction."""

    name = "smtp"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp"})
    ports: ClassVar[frozenset[int]] = frozenset({25, 587, 2525})
    budget = 64 * 1024

    def __init__(self, secrets: SecretHasher = EPHEMERAL) -> None:
        super().__init__(secrets)
        self._awaiting: list[str] = []
        """The client lines an AUTH exchange still expects: "plain", "user", "password", "cram"."""
        self._user: str | None = None
        self._starttls = False
        self._done = False

    @staticmethod
    def probe(first: bytes) -> bool:
        head = first[:128].upper()
        if head[:4] in (b"220 ", b"220-"):
            return b"SMTP" in head.split(b"\n", 1)[0]
        return head[:5] in (b"EHLO ", b"HELO ")

    @property
    def finished(self) -> bool:
        return self._done

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
                self._awaiting, self._starttls = [], False
            return [], used
        return self._client(flow, direction, ts, line), used

    def _client(self, flow: FlowId, direction: Direction, ts: float, line: bytes) -> list[Observation]:
        if self._awaiting:
            step = self._awaiting.pop(0)
            if line == b"*":  # the client cancelled the exchange
                self._awaiting = []
                return []
            return self._step(flow, direction, ts, step, _b64(line))
        words = line.split()
        verb = words[0].upper() if words else b""
        if verb == b"STARTTLS":
            self._starttls = True
        elif verb in (b"MAIL", b"DATA"):
            self._done = True
        elif verb == b"AUTH" and len(words) >= 2:
            mechanism = words[1].upper()
            initial = _b64(words[2]) if len(words) > 2 and words[2] != b"=" else None
            if mechanism == b"PLAIN":
                return self._step(flow, direction, ts, "plain", initial) if initial is not None else (
                    self._expect("plain"))
            if mechanism == b"LOGIN":
                if initial is not None:
                    self._user = initial.decode("utf-8", "replace")
                    return self._expect("password")
                return self._expect("user", "password")
            if mechanism == b"CRAM-MD5":
                return self._expect("cram")
        return []

    def _expect(self, *steps: str) -> list[Observation]:
        self._awaiting = list(steps)
        return []

    def _step(self, flow: FlowId, direction: Direction, ts: float, step: str, data: bytes) -> list[Observation]:
        if step == "user":
            self._user = data.decode("utf-8", "replace")
            return []
        if step == "cram":
            user = data.rsplit(b" ", 1)[0].decode("utf-8", "replace")
            return [CredentialSeen(ts=ts, flow=flow, protocol=Proto.SMTP, presenter=direction, username=user,
                                   secret_kind=SecretKind.HASH, secret_fp=None, secret_hint=None,
                                   mechanism="auth cram-md5")]
        if step == "plain":
            parts = data.split(b"\x00")
            if len(parts) != 3:
                raise ParseError("smtp_bad_plain")
            self._user, data, mechanism = parts[1].decode("utf-8", "replace"), parts[2], "auth plain"
        else:
            mechanism = "auth login"
        fp = self.secrets.fingerprint(SecretKind.PASSWORD, data)
        return [CredentialSeen(ts=ts, flow=flow, protocol=Proto.SMTP, presenter=direction, username=self._user,
                               secret_kind=SecretKind.PASSWORD, secret_fp=fp.value, secret_hint=fp.hint,
                               mechanism=mechanism)]


def _b64(text: bytes) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ParseError("smtp_bad_base64") from None
