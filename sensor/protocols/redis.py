"""Redis (RESP 2/3): AUTH and HELLO ... AUTH, the password in clear.

Commands are RESP arrays of bulk strings (or, typed by hand, inline lines). `AUTH password`,
`AUTH user password` (ACL users, Redis 6+) and `HELLO <proto> AUTH user password` carry the
credential; the password is fingerprinted at once. Only the first `MAX_COMMANDS` commands of
a connection are read (the rest is application data, which may hold anything).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from ..flowid import Direction, FlowId
from ..records import CredentialSeen, Observation, Proto, SecretKind
from ..secrets import EPHEMERAL, SecretHasher
from .base import Extractor, ParseError, secret_fields

MAX_COMMANDS = 16
MAX_ARGS = 64
MAX_BULK = 64 * 1024
_ARRAY = re.compile(rb"\*(\d{1,4})\r\n\$")


class RedisExtractor(Extractor):
    """One Redis client connection."""

    name = "redis"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp"})
    ports: ClassVar[frozenset[int]] = frozenset({6379})
    budget = 256 * 1024
    max_messages = MAX_COMMANDS

    def __init__(self, secrets: SecretHasher = EPHEMERAL) -> None:
        super().__init__(secrets)

    @staticmethod
    def probe(first: bytes) -> bool:
        return bool(_ARRAY.match(first)) or first[:5].upper() in (b"AUTH ", b"HELLO")

    def parse(
        self, flow: FlowId, direction: Direction, ts: float, buf: bytes
    ) -> tuple[Sequence[Observation], int]:
        if direction == Direction.RESP:
            return [], len(buf)
        parsed = _command(buf)
        if parsed is None:
            if len(buf) > MAX_BULK * 2:
                raise ParseError("redis_command_too_long")
            return [], 0
        args, used = parsed
        self.count_message()
        verb = args[0].upper() if args else b""
        user, password = None, None
        if verb == b"AUTH" and len(args) in (2, 3):
            user, password = (args[1], args[2]) if len(args) == 3 else (None, args[1])
        elif verb == b"HELLO" and b"AUTH" in (a.upper() for a in args):
            at = [a.upper() for a in args].index(b"AUTH")
            if at + 2 < len(args):
                user, password = args[at + 1], args[at + 2]
        if password is None:
            return [], used
        fp = self.secrets.fingerprint(SecretKind.PASSWORD, password)
        return [CredentialSeen(
            ts=ts, flow=flow, protocol=Proto.REDIS, presenter=direction,
            username=user.decode("utf-8", "replace") if user is not None else None,
            **secret_fields(SecretKind.PASSWORD, fp), mechanism=verb.decode().lower())], used


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
