"""MQTT CONNECT (MQTT 3.1, 3.1.1 and 5.0): client id, user name and password in clear.

The first packet of a client connection names the client and, optionally, its user name and
password (binary data): the password is fingerprinted at once. Nothing after CONNECT is read
(telemetry payloads, possibly patient vital signs, follow).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import ClassVar

from ..flowid import Direction, FlowId
from ..records import CredentialSeen, Observation, Proto, SecretKind
from ..secrets import EPHEMERAL, SecretHasher
from .base import Extractor, ParseError

CONNECT = 0x10
PROTOCOL_NAMES = (b"\x00\x04MQTT", b"\x00\x06MQIsdp")
FLAG_USER, FLAG_PASSWORD, FLAG_WILL = 0x80, 0x40, 0x04
MAX_CONNECT = 64 * 1024


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ParseError("mqtt_truncated")
        self.pos += n
        return self.data[self.pos - n : self.pos]

    def field(self) -> bytes:
        """A two-byte length, then that many bytes (UTF-8 strings and binary data alike)."""
        return self.take(struct.unpack(">H", self.take(2))[0])

    def varint(self) -> int:
        value = 0
        for shift in range(0, 28, 7):
            byte = self.take(1)[0]
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
        raise ParseError("mqtt_bad_length")


class MqttExtractor(Extractor):
    """One MQTT connection: its CONNECT packet."""

    name = "mqtt"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp"})
    ports: ClassVar[frozenset[int]] = frozenset({1883})
    budget = MAX_CONNECT + 8

    def __init__(self, secrets: SecretHasher = EPHEMERAL) -> None:
        super().__init__(secrets)
        self._done = False

    @staticmethod
    def probe(first: bytes) -> bool:
        if first[:1] != bytes([CONNECT]):
            return False
        at = 1
        while at < 5 and at < len(first) and first[at] & 0x80:
            at += 1
        return first[at + 1 : at + 1 + 8].startswith(PROTOCOL_NAMES)

    @property
    def finished(self) -> bool:
        return self._done

    def parse(
        self, flow: FlowId, direction: Direction, ts: float, buf: bytes
    ) -> tuple[Sequence[Observation], int]:
        if direction == Direction.RESP:
            return [], len(buf)
        head = _Reader(buf)
        try:
            if head.take(1)[0] != CONNECT:
                raise ParseError("mqtt_not_connect")
            length = head.varint()
        except ParseError as e:
            if str(e) == "mqtt_truncated":
                return [], 0
            raise
        if length > MAX_CONNECT:
            raise ParseError("mqtt_bad_length")
        if len(buf) < head.pos + length:
            return [], 0
        self._done = True
        return [self._connect(flow, direction, ts, _Reader(head.take(length)))], head.pos

    def _connect(self, flow: FlowId, direction: Direction, ts: float, r: _Reader) -> CredentialSeen:
        r.field()  # protocol name
        level, flags = r.take(1)[0], r.take(1)[0]
        r.take(2)  # keep alive
        if level == 5:
            r.take(r.varint())  # properties
        client_id = r.field().decode("utf-8", "replace")
        if flags & FLAG_WILL:
            if level == 5:
                r.take(r.varint())
            r.field()
            r.field()
        user = r.field().decode("utf-8", "replace") if flags & FLAG_USER else None
        fp = self.secrets.fingerprint(SecretKind.PASSWORD, r.field()) if flags & FLAG_PASSWORD else None
        version = {3: "3.1", 4: "3.1.1", 5: "5.0"}.get(level, str(level))
        return CredentialSeen(
            ts=ts, flow=flow, protocol=Proto.MQTT, presenter=direction, username=user, host=client_id or None,
            secret_kind=SecretKind.PASSWORD if fp else SecretKind.NONE, secret_fp=fp.value if fp else None,
            secret_hint=fp.hint if fp else None, mechanism=f"connect {version}")
