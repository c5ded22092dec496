"""MQTT CONNECT (MQTT 3.1, 3.1.1 and 5.0): client id, user name and password in clear.

The first packet of a client connection names the client and, optionally, its user name and
password (binary data): the password is fingerprinted at once. Nothing after CONNECT is read
(telemetry payloads, possibly patient vital signs, follow).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from ..flowid import Direction, FlowId
from ..records import CredentialSeen, Observation, Proto, SecretKind
from ..wire import Incomplete, Reader
from .base import Extractor, ParseError, secret_fields

CONNECT = 0x10
PROTOCOL_NAMES = (b"\x00\x04MQTT", b"\x00\x06MQIsdp")
FLAG_USER, FLAG_PASSWORD, FLAG_WILL = 0x80, 0x40, 0x04
MAX_CONNECT = 64 * 1024


def _remaining_length(r: Reader) -> int:
    """MQTT's variable byte integer (3.1.1 2.2.3): seven bits a byte, least significant first,
    at most four bytes."""
    value = 0
    for shift in range(0, 28, 7):
        byte = r.uint(1)
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

    @staticmethod
    def probe(first: bytes) -> bool:
        if first[:1] != bytes([CONNECT]):
            return False
        at = 1
        while at < 5 and at < len(first) and first[at] & 0x80:
            at += 1
        return first[at + 1 : at + 1 + 8].startswith(PROTOCOL_NAMES)

    def parse(
        self, flow: FlowId, direction: Direction, ts: float, buf: bytes
    ) -> tuple[Sequence[Observation], int]:
        if direction == Direction.RESP:
            return [], len(buf)
        head = Reader(buf, "mqtt_truncated")
        try:
            if head.uint(1) != CONNECT:
                raise ParseError("mqtt_not_connect")
            length = _remaining_length(head)
        except Incomplete:
            return [], 0
        if length > MAX_CONNECT:
            raise ParseError("mqtt_bad_length")
        if len(buf) < head.pos + length:
            return [], 0
        self.done = True
        return [self._connect(flow, direction, ts, Reader(head.take(length), "mqtt_truncated"))], head.pos

    def _connect(self, flow: FlowId, direction: Direction, ts: float, r: Reader) -> CredentialSeen:
        """The CONNECT packet's body: strings and binary data are each a two-byte length, then
        that many bytes (a `vector(2)`)."""
        r.vector(2)  # protocol name
        level, flags = r.uint(1), r.uint(1)
        r.take(2)  # keep alive
        if level == 5:
            r.take(_remaining_length(r))  # properties
        client_id = r.vector(2).decode("utf-8", "replace")
        if flags & FLAG_WILL:
            if level == 5:
                r.take(_remaining_length(r))
            r.vector(2)
            r.vector(2)
        user = r.vector(2).decode("utf-8", "replace") if flags & FLAG_USER else None
        fp = self.secrets.fingerprint(SecretKind.PASSWORD, r.vector(2)) if flags & FLAG_PASSWORD else None
        version = {3: "3.1", 4: "3.1.1", 5: "5.0"}.get(level, str(level))
        return CredentialSeen(
            ts=ts, flow=flow, protocol=Proto.MQTT, presenter=direction, username=user, host=client_id or None,
            **secret_fields(SecretKind.PASSWORD if fp else SecretKind.NONE, fp), mechanism=f"connect {version}")
