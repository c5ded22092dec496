"""MQTT CONNECT (MQTT 3.1, 3.1.1 and 5.0): client id, user name and password in clear.

The first packet of a client connection names the client and, optionally, its user name and
password (binary data): the password is fingerprinted at once. The broker's CONNACK answers it
(3.1.1 3.2.2.3, 5.0 3.2.2.2): return code 0 (5.0: reason code 0x00) accepted; 4 "bad user name
or password" and 5 "not authorized" (5.0: 0x86, 0x87, 0x8A banned, 0x8C bad authentication
method) refused; the other refusals (protocol version, client identifier, server unavailable or
busy...) say nothing of the credential: unknown. A 5.0 CONNACK's Reason String property is the
broker's words. Nothing the client sends after CONNECT is read (telemetry payloads, possibly
patient vital signs, follow); a 5.0 AUTH exchange before the CONNACK is skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from ..flowid import Direction, FlowId
from ..records import CredentialSeen, Observation, Outcome, Proto, SecretKind
from ..secrets import EPHEMERAL, SecretHasher
from ..wire import Incomplete, Reader
from .base import Extractor, ParseError, secret_fields

CONNECT, CONNACK, AUTH = 0x10, 0x20, 0xF0
PROTOCOL_NAMES = (b"\x00\x04MQTT", b"\x00\x06MQIsdp")
FLAG_USER, FLAG_PASSWORD, FLAG_WILL = 0x80, 0x40, 0x04
MAX_CONNECT = 64 * 1024
RETURN_CODES = {
    0: "Connection Accepted", 1: "unacceptable protocol version", 2: "identifier rejected",
    3: "Server unavailable", 4: "bad user name or password", 5: "not authorized",
}
"""MQTT 3.1/3.1.1 CONNACK return codes (3.1.1 Table 3.1)."""
REFUSED_3 = frozenset({4, 5})
REASON_CODES = {
    0x00: "Success", 0x80: "Unspecified error", 0x81: "Malformed Packet", 0x82: "Protocol Error",
    0x83: "Implementation specific error", 0x84: "Unsupported Protocol Version", 0x85: "Client Identifier not valid",
    0x86: "Bad User Name or Password", 0x87: "Not authorized", 0x88: "Server unavailable", 0x89: "Server busy",
    0x8A: "Banned", 0x8C: "Bad authentication method", 0x90: "Topic Name invalid", 0x95: "Packet too large",
    0x97: "Quota exceeded", 0x99: "Payload format invalid", 0x9A: "Retain not supported", 0x9B: "QoS not supported",
    0x9C: "Use another server", 0x9D: "Server moved", 0x9F: "Connection rate exceeded",
}
"""MQTT 5.0 CONNACK reason codes (5.0 3.2.2.2)."""
REFUSED_5 = frozenset({0x86, 0x87, 0x8A, 0x8C})
PROPERTY_REASON_STRING, PROPERTY_USER = 0x1F, 0x26
PROPERTY_SIZES = {0x01: 1, 0x02: 4, 0x11: 4, 0x13: 2, 0x17: 1, 0x18: 4, 0x19: 1, 0x21: 2, 0x22: 2, 0x23: 2,
                  0x24: 1, 0x25: 1, 0x27: 4, 0x28: 1, 0x29: 1, 0x2A: 1}
"""5.0 properties (2.2.2.2) of a fixed size, by identifier."""
PROPERTY_VECTORS = frozenset({0x03, 0x08, 0x09, 0x12, 0x15, 0x16, 0x1A, 0x1C, PROPERTY_REASON_STRING})
"""5.0 properties that are one UTF-8 string or binary data (a 2-byte length, then the bytes)."""


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

    def __init__(self, secrets: SecretHasher = EPHEMERAL) -> None:
        super().__init__(secrets)
        self._level: int | None = None
        """The protocol level of the CONNECT seen (4: 3.1.1, 5: 5.0); None until then."""

    def parse(
        self, flow: FlowId, direction: Direction, ts: float, buf: bytes
    ) -> tuple[Sequence[Observation], int]:
        if direction == Direction.ORIG and self._level is not None:
            return [], len(buf)  # after CONNECT: the client's messages, never read
        head = Reader(buf, "mqtt_truncated")
        try:
            kind = head.uint(1)
            length = _remaining_length(head)
        except Incomplete:
            return [], 0
        expected = (CONNECT,) if direction == Direction.ORIG else (CONNACK, AUTH)
        if kind not in expected:
            raise ParseError("mqtt_not_connect" if direction == Direction.ORIG else "mqtt_not_connack")
        if length > MAX_CONNECT:
            raise ParseError("mqtt_bad_length")
        if len(buf) < head.pos + length:
            return [], 0
        body = Reader(head.take(length), "mqtt_truncated")
        if kind == CONNECT:
            return [self._connect(flow, direction, ts, body)], head.pos
        if kind == AUTH:
            return [], head.pos
        self.done = True
        return self._connack(flow, ts, body), head.pos

    def _connack(self, flow: FlowId, ts: float, r: Reader) -> list[Observation]:
        """The broker's answer: acknowledge flags, then the return (5.0: reason) code and, in
        5.0, properties."""
        r.take(1)  # acknowledge flags
        code = r.uint(1)
        if self._level != 5:
            text = RETURN_CODES.get(code, f"return code {code}")
            outcome = Outcome.SUCCESS if code == 0 else Outcome.FAILURE if code in REFUSED_3 else Outcome.UNKNOWN
            return self.answer(flow, ts, outcome, str(code), text, basis=_basis(outcome))
        text = REASON_CODES.get(code, f"reason code 0x{code:02x}")
        said = self._reason_string(r) if r.left else None
        outcome = Outcome.SUCCESS if code == 0 else Outcome.FAILURE if code in REFUSED_5 else Outcome.UNKNOWN
        return self.answer(flow, ts, outcome, f"0x{code:02x}", f"{text}: {said}" if said else text,
                           basis=_basis(outcome))

    def _reason_string(self, r: Reader) -> str | None:
        """The Reason String property of a 5.0 CONNACK, if it has one; a property list that is
        cut short or holds an identifier 5.0 does not define is a weird (the code stands)."""
        try:
            properties = Reader(r.take(_remaining_length(r)), "mqtt_bad_properties")
            while properties.left:
                identifier = _remaining_length(properties)
                if identifier == PROPERTY_REASON_STRING:
                    return properties.vector(2).decode("utf-8", "replace")
                if identifier in PROPERTY_SIZES:
                    properties.take(PROPERTY_SIZES[identifier])
                elif identifier in PROPERTY_VECTORS:
                    properties.vector(2)
                elif identifier == PROPERTY_USER:  # a string pair
                    properties.vector(2)
                    properties.vector(2)
                else:
                    raise ParseError("mqtt_bad_properties")
        except ParseError:
            self.weirds.append("mqtt_bad_properties")
        return None

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
        self._level = level
        return CredentialSeen(
            ts=ts, flow=flow, protocol=Proto.MQTT, presenter=direction, username=user, host=client_id or None,
            **secret_fields(SecretKind.PASSWORD if fp else SecretKind.NONE, fp), mechanism=f"connect {version}",
            attempt=self.attempt(Proto.MQTT))


def _basis(outcome: Outcome) -> str | None:
    """Why a refusal is no verdict on the credential."""
    return "refused for another reason than the credential" if outcome == Outcome.UNKNOWN else None
