"""Telnet (RFC 854, options RFC 855): the login typed at the server's prompts.

Both directions are read as data once the option negotiation is stripped: IAC IAC is a 0xFF
data byte, IAC with DO/DONT/WILL/WONT and an option is skipped, a subnegotiation (IAC SB ...
IAC SE) too, and IAC EC and IAC EL erase a character and the line as BS and ^U do.

The server's output (its recent tail only) tells what the client is asked: a login prompt
("login:", "Username:", "User Name:") or a password prompt ("Password:"), matched
case-insensitively at the end of the output so far. The client's keystrokes after a prompt,
often one per segment with the server echoing them, are collected up to CR or LF (CR LF and
CR NUL end one line), BS and DEL erasing a character, ^U the line, other control characters
ignored. After a login prompt they are the user name; after a password prompt the password,
fingerprinted at once (the user is None if no login prompt came first, as on devices asking
only a password). Inspection ends after the password line or at the budget: the session that
follows is never read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from ..flowid import Direction, FlowId
from ..records import CredentialSeen, Observation, Proto, SecretKind
from ..secrets import EPHEMERAL, SecretHasher
from .base import Extractor, ParseError, secret_fields

MAX_TAIL = 128
"""Bytes of the server's latest output kept to recognise a prompt."""
MAX_INPUT = 256
"""Longest line typed at a prompt."""
MAX_SUBNEGOTIATION = 1024
"""Longest option subnegotiation (IAC SB ... IAC SE)."""

IAC, SE, SB, WILL = 0xFF, 0xF0, 0xFA, 0xFB
ERASES = {0xF7: b"\x08", 0xF8: b"\x15"}
"""IAC EC and IAC EL, as the keystrokes that do the same: BS and ^U (NAK)."""
BACKSPACE, KILL, DEL = 0x08, 0x15, 0x7F
CR, LF = 0x0D, 0x0A
LOGIN_PROMPTS = (b"login:", b"username:", b"user name:")
PASSWORD_PROMPTS = (b"password:",)


class TelnetExtractor(Extractor):
    """One Telnet connection, up to its password."""

    name = "telnet"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp"})
    ports: ClassVar[frozenset[int]] = frozenset({23})
    budget = 16 * 1024

    def __init__(self, secrets: SecretHasher = EPHEMERAL) -> None:
        super().__init__(secrets)
        self._tail = bytearray()
        """The server's latest output, negotiation stripped."""
        self._asked: bytes | None = None
        """What the client's line answers: b"login", b"password", or None (not a prompt)."""
        self._input = bytearray()
        self._cr = False
        """The client's last byte was CR: an LF or NUL after it ends nothing more."""
        self._user: str | None = None

    @staticmethod
    def probe(first: bytes) -> bool:
        """Option negotiation first: IAC then DO, DONT, WILL or WONT."""
        return len(first) >= 2 and first[0] == IAC and WILL <= first[1] < IAC

    def parse(
        self, flow: FlowId, direction: Direction, ts: float, buf: bytes
    ) -> tuple[Sequence[Observation], int]:
        data, used = _data(buf)
        if direction == Direction.RESP:
            self._server(data)
            return [], used
        found: list[Observation] = []
        for byte in data:
            found += self._key(flow, direction, ts, byte)
            if self.done:
                break
        return found, used

    def _server(self, data: bytes) -> None:
        if not data:
            return
        self._tail += data
        del self._tail[:-MAX_TAIL]
        end = self._tail.rstrip(b" \t\r\n\x00").lower()
        asked = b"login" if end.endswith(LOGIN_PROMPTS) else b"password" if end.endswith(PASSWORD_PROMPTS) else None
        if asked is not None:
            self._asked, self._cr = asked, False
            self._input.clear()

    def _key(self, flow: FlowId, direction: Direction, ts: float, byte: int) -> list[Observation]:
        cr, self._cr = self._cr, byte == CR
        if byte == CR or (byte == LF and not cr):
            return self._line(flow, direction, ts)
        if byte in (BACKSPACE, DEL):
            del self._input[-1:]
        elif byte == KILL:
            self._input.clear()
        elif self._asked is not None and byte >= 0x20:
            if len(self._input) >= MAX_INPUT:
                raise ParseError("telnet_line_too_long")
            self._input.append(byte)
        return []

    def _line(self, flow: FlowId, direction: Direction, ts: float) -> list[Observation]:
        asked, self._asked = self._asked, None
        typed = bytes(self._input)
        self._input.clear()
        if asked == b"login":
            self._user = typed.decode("utf-8", "replace")
        elif asked == b"password":
            self.done = True
            fp = self.secrets.fingerprint(SecretKind.PASSWORD, typed)
            return [CredentialSeen(ts=ts, flow=flow, protocol=Proto.TELNET, presenter=direction, username=self._user,
                                   **secret_fields(SecretKind.PASSWORD, fp), mechanism="login-prompt")]
        return []


def _data(buf: bytes) -> tuple[bytes, int]:
    """The data bytes of `buf`, negotiation stripped, and the bytes used: all but an incomplete
    IAC sequence at the end."""
    data = bytearray()
    i = 0
    while (at := buf.find(IAC, i)) >= 0:
        data += buf[i:at]
        if at + 1 == len(buf):
            return bytes(data), at
        command = buf[at + 1]
        if command == IAC:
            data.append(IAC)
            i = at + 2
        elif command == SB:
            end = _subnegotiation_end(buf, at + 2)
            if end is None:
                if len(buf) - at > MAX_SUBNEGOTIATION:
                    raise ParseError("telnet_subnegotiation_too_long")
                return bytes(data), at
            i = end
        elif command >= WILL:
            if at + 2 == len(buf):
                return bytes(data), at
            i = at + 3
        else:
            data += ERASES.get(command, b"")
            i = at + 2
    data += buf[i:]
    return bytes(data), len(buf)


def _subnegotiation_end(buf: bytes, start: int) -> int | None:
    """Where the subnegotiation whose data starts at `start` ends (after IAC SE), None if not yet
    (IAC IAC inside it is a data byte)."""
    at = buf.find(IAC, start)
    while 0 <= at < len(buf) - 1:
        if buf[at + 1] == SE:
            return at + 2
        at = buf.find(IAC, at + 2)
    return None
