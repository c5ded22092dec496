"""Redis (RESP 2/3): AUTH and HELLO ... AUTH, the password in clear, and the server's answer.

Commands are RESP arrays of bulk strings (or, typed by hand, inline lines). `AUTH password`,
`AUTH user password` (ACL users, Redis 6+) and `HELLO <proto> AUTH user password` carry the
credential; the password is fingerprinted at once. Only the first `MAX_COMMANDS` commands of
a connection are read (the rest is application data, which may hold anything).

Every command gets one reply, in order; the server's replies are walked for their framing
only (bulk strings skipped unread, aggregates counted, RESP3 pushes set apart as answering
nothing), so the reply to each AUTH is found: `+OK` (or HELLO's map) accepted; `-WRONGPASS`,
`-NOAUTH` and Redis 5's `-ERR invalid password` refused; any other error (no password set,
wrong arity, the command renamed away) says nothing of the password: unknown. After
SUBSCRIBE or MONITOR the server talks on its own, so the connection's reading ends there.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from ..flowid import Direction, FlowId
from ..records import CredentialSeen, Observation, Outcome, Proto, SecretKind
from ..secrets import EPHEMERAL, SecretHasher
from .base import Extractor, ParseError, secret_fields, server_words

MAX_COMMANDS = 16
MAX_ARGS = 64
MAX_BULK = 64 * 1024
MAX_REPLY_LINE = 4 * 1024
"""Longest line of a reply (a simple string, an error, a length)."""
MAX_DEPTH = 32
"""Aggregates nested in a reply."""
_ARRAY = re.compile(rb"\*(\d{1,4})\r\n\$")
_LENGTH = re.compile(rb"-1|\d{1,18}")
SIMPLE = frozenset(b"+-:,(#_")
"""Reply types that are one line: string, error, integer, double, big number, boolean, null."""
BULK = frozenset(b"$!=")
"""Reply types whose length in bytes follows, then the bytes: string, error, verbatim."""
AGGREGATE = {ord("*"): 1, ord("~"): 1, ord(">"): 1, ord("%"): 2, ord("|"): 2}
"""Reply types whose count of elements follows (a map's and an attribute's count pairs)."""
ATTRIBUTE, PUSH = ord("|"), ord(">")
REFUSED = frozenset({b"WRONGPASS", b"NOAUTH"})
SERVER_TALKS = frozenset({b"SUBSCRIBE", b"PSUBSCRIBE", b"SSUBSCRIBE", b"MONITOR"})
"""Commands after which the server sends what was not asked for (RESP 2 has no push type)."""


class RedisExtractor(Extractor):
    """One Redis client connection."""

    name = "redis"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp"})
    ports: ClassVar[frozenset[int]] = frozenset({6379})
    budget = 256 * 1024
    max_messages = MAX_COMMANDS

    def __init__(self, secrets: SecretHasher = EPHEMERAL) -> None:
        super().__init__(secrets)
        self._awaiting: list[bool] = []
        """Per command read and not yet answered, oldest first: whether it presented a credential."""
        self._open: list[int] = []
        """Elements still to come in each aggregate of the reply being read, outermost first."""
        self._bulk = 0
        """Bytes of a bulk string (and its CRLF) of the reply still to skip."""
        self._head = b""
        """The first line of the reply being read: its type, and a simple reply's text."""

    @staticmethod
    def probe(first: bytes) -> bool:
        return bool(_ARRAY.match(first)) or first[:5].upper() in (b"AUTH ", b"HELLO")

    @property
    def finished(self) -> bool:
        """Once the commands worth reading were read and every credential among them answered."""
        return self.done and not self.pending

    def parse(
        self, flow: FlowId, direction: Direction, ts: float, buf: bytes
    ) -> tuple[Sequence[Observation], int]:
        if direction == Direction.RESP:
            return self._reply(flow, ts, buf)
        if self.done:
            return [], len(buf)  # past the commands worth reading: waiting for the answers only
        parsed = _command(buf)
        if parsed is None:
            if len(buf) > MAX_BULK * 2:
                raise ParseError("redis_command_too_long")
            return [], 0
        args, used = parsed
        self.count_message()
        verb = args[0].upper() if args else b""
        if verb in SERVER_TALKS:
            self.done = True
        user, password = None, None
        if verb == b"AUTH" and len(args) in (2, 3):
            user, password = (args[1], args[2]) if len(args) == 3 else (None, args[1])
        elif verb == b"HELLO" and b"AUTH" in (a.upper() for a in args):
            at = [a.upper() for a in args].index(b"AUTH")
            if at + 2 < len(args):
                user, password = args[at + 1], args[at + 2]
        if args:  # an empty inline line gets no reply
            self._awaiting.append(password is not None)
        if password is None:
            return [], used
        fp = self.secrets.fingerprint(SecretKind.PASSWORD, password)
        return [CredentialSeen(
            ts=ts, flow=flow, protocol=Proto.REDIS, presenter=direction,
            username=user.decode("utf-8", "replace") if user is not None else None,
            **secret_fields(SecretKind.PASSWORD, fp), mechanism=verb.decode().lower(),
            attempt=self.attempt(Proto.REDIS))], used

    def _reply(self, flow: FlowId, ts: float, buf: bytes) -> tuple[list[Observation], int]:
        """One step through the server's replies: a line, or a run of a bulk string's bytes."""
        if self._bulk:
            used = min(self._bulk, len(buf))
            self._bulk -= used
            return (self._element(flow, ts) if not self._bulk else []), used
        end = buf.find(b"\r\n")
        if end < 0:
            if len(buf) > MAX_REPLY_LINE:
                raise ParseError("redis_reply_too_long")
            return [], 0
        line, used = buf[:end], end + 2
        if not self._open or (self._open == [1] and self._head[:1] == b"|"):
            self._head = line  # a reply's first line, or that of the reply an attribute describes
        kind = line[0] if line else 0
        if kind in SIMPLE:
            return self._element(flow, ts), used
        if not _LENGTH.fullmatch(line[1:]) or not (kind in BULK or kind in AGGREGATE):
            raise ParseError("redis_bad_reply")
        length = int(line[1:])
        if kind in BULK:
            self._bulk = length + 2 if length >= 0 else 0
            return (self._element(flow, ts) if not self._bulk else []), used
        # An attribute describes the reply that follows it: that reply is one more element.
        count = length * AGGREGATE[kind] + (kind == ATTRIBUTE) if length >= 0 else 0
        if not count:
            return self._element(flow, ts), used
        if len(self._open) >= MAX_DEPTH:
            raise ParseError("redis_reply_too_deep")
        self._open.append(count)
        return [], used

    def _element(self, flow: FlowId, ts: float) -> list[Observation]:
        """An element of the reply is complete: the reply too, once no aggregate stays open."""
        while self._open:
            self._open[-1] -= 1
            if self._open[-1]:
                return []
            self._open.pop()
        if self._head[:1] == b">" or not self._awaiting:  # a push answers no command
            return []
        if not self._awaiting.pop(0) or not self.pending:
            return []
        kind, text = self._head[:1], self._head[1:]
        if kind == b"+":
            return self.answer(flow, ts, Outcome.SUCCESS, text.split(b" ", 1)[0].decode("ascii", "replace"))
        if kind not in (b"-", b"!"):
            return self.answer(flow, ts, Outcome.SUCCESS)  # HELLO's map of the server's properties
        code, _, words = text.partition(b" ")
        reason = server_words(words)
        refused = code in REFUSED or b"invalid password" in words or b"invalid username-password" in words
        if refused:
            return self.answer(flow, ts, Outcome.FAILURE, code.decode("ascii", "replace") or None, reason)
        return self.answer(flow, ts, Outcome.UNKNOWN, code.decode("ascii", "replace") or None, reason,
                           basis="an error that does not judge the password")


def _command(buf: bytes) -> tuple[list[bytes], int] | None:
    """One command's arguments and length, None while incomplete; ParseError when invalid."""
    if buf[:1] != b"*":
        end = buf.find(b"\n")
        return (buf[:end].rstrip(b"\r").split(), end + 1) if end >= 0 else None
    end = buf.find(b"\r\n")
    if end < 0:
        return None
    if not buf[1:end].isdigit() or int(buf[1:end]) > MAX_ARGS:
        raise ParseError("redis_bad_array")
    args, pos = [], end + 2
    for _ in range(int(buf[1:end])):
        end = buf.find(b"\r\n", pos)
        if end < 0:
            return None
        if buf[pos : pos + 1] != b"$" or not buf[pos + 1 : end].isdigit():
            raise ParseError("redis_bad_bulk")
        size = int(buf[pos + 1 : end])
        if size > MAX_BULK:
            raise ParseError("redis_bad_bulk")
        start = end + 2
        if len(buf) < start + size + 2:
            return None
        args.append(buf[start : start + size])
        pos = start + size + 2
    return args, pos
