"""SNMP (RFC 1157, RFC 3416, RFC 3412/3414): v1/v2c communities and v3 user names.

A community is a shared secret sent in clear with every message: it is fingerprinted at once.
Whoever sends a message with it holds it: the manager that asks, and the agents that answer,
trap or inform with it (so one community across a fleet shows up as one secret on many
devices). Each sender and community is reported once per flow. SNMPv3 shows the USM user
name (its authentication is a keyed digest, nothing to fingerprint).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from ..ber import Ber
from ..flowid import Direction, FlowId
from ..records import CredentialSeen, Observation, Proto, SecretKind
from ..secrets import EPHEMERAL, SecretHasher
from .base import Extractor, ParseError, secret_fields

PDU_NAMES = {
    0xA0: "get-request", 0xA1: "get-next-request", 0xA2: "response", 0xA3: "set-request", 0xA4: "trap",
    0xA5: "get-bulk-request", 0xA6: "inform-request", 0xA7: "snmpv2-trap", 0xA8: "report",
}
VERSIONS = {0: "v1", 1: "v2c", 3: "v3"}
MAX_MESSAGES = 32
"""Messages of a flow looked at; a poller's later requests repeat the same community."""


class SnmpExtractor(Extractor):
    """The messages of one SNMP flow (UDP 161/162, or TCP with one message per read)."""

    name = "snmp"
    transports: ClassVar[frozenset[str]] = frozenset({"udp"})
    ports: ClassVar[frozenset[int]] = frozenset({161, 162})
    budget = 64 * 1024
    max_messages = MAX_MESSAGES

    def __init__(self, secrets: SecretHasher = EPHEMERAL) -> None:
        super().__init__(secrets)
        self._seen: set[tuple[Direction, str]] = set()

    @staticmethod
    def probe(first: bytes) -> bool:
        """A SEQUENCE whose first element is INTEGER version 0, 1 or 3."""
        if len(first) < 5 or first[0] != 0x30:
            return False
        at = 2 + (first[1] & 0x7F if first[1] & 0x80 else 0)
        return first[at : at + 2] == b"\x02\x01" and first[at + 2 : at + 3] in (b"\x00", b"\x01", b"\x03")

    def parse(
        self, flow: FlowId, direction: Direction, ts: float, buf: bytes
    ) -> tuple[Sequence[Observation], int]:
        self.count_message()
        message = Ber(Ber(buf, "snmp").expect(0x30), "snmp")
        version = int.from_bytes(message.expect(0x02), "big")
        if version not in VERSIONS:
            raise ParseError("snmp_bad_version")
        if version == 3:
            found = self._v3(flow, direction, ts, message)
        else:
            fp = self.secrets.fingerprint(SecretKind.COMMUNITY, message.expect(0x04))
            pdu, _ = message.tlv()
            found = [] if self._repeated(direction, fp.value) else [CredentialSeen(
                ts=ts, flow=flow, protocol=Proto.SNMP, presenter=direction, username=None,
                **secret_fields(SecretKind.COMMUNITY, fp),
                mechanism=f"{VERSIONS[version]} {PDU_NAMES.get(pdu, hex(pdu))}")]
        return found, len(buf)

    def _v3(self, flow: FlowId, direction: Direction, ts: float, message: Ber) -> list[Observation]:
        message.expect(0x30)  # msgGlobalData
        usm = Ber(Ber(message.expect(0x04), "snmp").expect(0x30), "snmp")
        usm.expect(0x04)  # msgAuthoritativeEngineID
        usm.expect(0x02)  # engine boots
        usm.expect(0x02)  # engine time
        user = usm.expect(0x04).decode("utf-8", "replace")
        if not user or self._repeated(direction, "user:" + user):  # discovery has no user yet
            return []
        return [CredentialSeen(ts=ts, flow=flow, protocol=Proto.SNMP, presenter=direction, username=user,
                               secret_kind=SecretKind.NONE, secret_fp=None, secret_hint=None, mechanism="v3 usm")]

    def _repeated(self, direction: Direction, key: str) -> bool:
        """Whether this sender already presented this community (by fingerprint) or user."""
        seen = (direction, key) in self._seen
        self._seen.add((direction, key))
        return seen
