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
only a password).

Telnet has no status code: the server's words after the password are its answer, read
conservatively. A line saying "Last login" (login(1)), or a shell prompt ending the output
(`user@host:~$ `, `Router#`, `C:\\>`: a short line ending in `$`, `#`, `>` or `%`), accepts it; a
line saying "Login incorrect", "Authentication failed" or one of the few phrases like them
(`FAILURE_WORDS`) refuses it, the phrase as the reason; a new login or password prompt without
either leaves it unknown, as does silence. After a refusal the next login is read as another
attempt; inspection ends once a login is accepted or at the budget: the session that follows is
never read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from ..flowid import Direction, FlowId
from ..records import CredentialSeen, Observation, Outcome, Proto, SecretKind
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
BLANKS = b" \t\r\n\x00"
LOGIN_PROMPTS = (b"login:", b"username:", b"user name:")
PASSWORD_PROMPTS = (b"password:",)
SUCCESS_WORDS = (b"last login", b"last successful login")
FAILURE_WORDS = (b"login incorrect", b"incorrect login", b"password incorrect", b"incorrect password",
                 b"authentication failed", b"authentication failure", b"login failed", b"logon failure",
                 b"login invalid", b"invalid login", b"invalid password", b"bad password")
"""Lowercase phrases of a refused login (Linux and BSD login, BusyBox, Cisco, Windows, MikroTik):
"There were 3 failed login attempts" after a success matches none of them."""
SHELL_PROMPT = re.compile(rb"[ -~]{0,79}[$#>%]")
"""A shell or CLI prompt: one short printable line ending in a prompt character."""
RULE = re.compile(rb"(.)\1{2,}")
"""A banner's rule ("#####", ">>>>"): not a prompt."""
ESCAPES = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|[\x00-\x1f\x7f]")
"""Terminal control sequences (colours, window titles) and control characters around a prompt."""


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
        self._after = bytearray()
        """The server's output since the password, while its answer is awaited: its last line only."""

    @staticmethod
    def probe(first: bytes) -> bool:
        """Option negotiation first: IAC then DO, DONT, WILL or WONT."""
        return len(first) >= 2 and first[0] == IAC and WILL <= first[1] < IAC

    def parse(
        self, flow: FlowId, direction: Direction, ts: float, buf: bytes
    ) -> tuple[Sequence[Observation], int]:
        data, used = _data(buf)
        if direction == Direction.RESP:
            return self._server(flow, ts, data), used
        found: list[Observation] = []
        for byte in data:
            found += self._key(flow, direction, ts, byte)
            if self.done:
                break
        return found, used

    def _server(self, flow: FlowId, ts: float, data: bytes) -> list[Observation]:
        if not data:
            return []
        found = self._verdict(flow, ts, data) if self.pending else []
        self._tail += data
        del self._tail[:-MAX_TAIL]
        if not data.strip(BLANKS):
            return found  # a line break, or the echo of one, asks nothing new
        end = self._tail.rstrip(BLANKS).lower()
        asked = b"login" if end.endswith(LOGIN_PROMPTS) else b"password" if end.endswith(PASSWORD_PROMPTS) else None
        if asked is not None:
            if self.pending:
                found += self.answer(flow, ts, Outcome.UNKNOWN, basis="asked to log in again without a verdict")
            self._asked, self._cr = asked, False
            self._input.clear()
        return found

    def _verdict(self, flow: FlowId, ts: float, data: bytes) -> list[Observation]:
        """The server's output after the password, line by line: the first words that judge it,
        or a prompt ending the output."""
        *lines, last = (bytes(self._after) + data).split(b"\n")
        self._after[:] = last[-MAX_TAIL:]
        for line in lines:
            text = line.lower()
            if any(words in text for words in SUCCESS_WORDS):
                return self._judged(flow, ts, Outcome.SUCCESS, "Last login", "the server's words after the password")
            failure = next((words for words in FAILURE_WORDS if words in text), None)
            if failure is not None:
                return self._judged(flow, ts, Outcome.FAILURE, failure.decode().capitalize(),
                                    "the server's words after the password")
        prompt = ESCAPES.sub(b"", last).strip()
        if SHELL_PROMPT.fullmatch(prompt) and not RULE.fullmatch(prompt):
            return self._judged(flow, ts, Outcome.SUCCESS, None, "a shell prompt after the password")
        return []

    def _judged(self, flow: FlowId, ts: float, outcome: Outcome, reason: str | None, basis: str) -> list[Observation]:
        """The answer to the password; reading goes on for the next login unless it was accepted."""
        self._after.clear()
        self.done = outcome == Outcome.SUCCESS  # logged in, the session follows; refused, another login may
        return self.answer(flow, ts, outcome, None, reason, basis=basis)

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
            fp = self.secrets.fingerprint(SecretKind.PASSWORD, typed)
            return [CredentialSeen(ts=ts, flow=flow, protocol=Proto.TELNET, presenter=direction, username=self._user,
                                   **secret_fields(SecretKind.PASSWORD, fp), mechanism="login-prompt",
                                   attempt=self.attempt(Proto.TELNET))]
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
