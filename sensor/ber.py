"""A cursor over BER (ITU-T X.690) tag-length-values, for the ASN.1 protocols (SNMP, LDAP).

Single-byte tags and definite lengths only: what those protocols put on the wire. A value
that runs past its container raises `ParseError("<proto>_truncated")`.
"""

from __future__ import annotations

from .protocols.base import ParseError

MAX_LENGTH_OCTETS = 4


class Ber:
    """Reads one TLV after another from `data`."""

    def __init__(self, data: bytes, proto: str) -> None:
        self.data = data
        self.pos = 0
        self.proto = proto

    @property
    def left(self) -> int:
        return len(self.data) - self.pos

    def header(self) -> tuple[int, int, int]:
        """Tag, value length and header size of the next TLV, without consuming it; the value
        itself may not be there yet (streams read it once complete)."""
        data, pos = self.data, self.pos
        if pos + 2 > len(data):
            raise ParseError(f"{self.proto}_truncated")
        tag, length, size = data[pos], data[pos + 1], 2
        if length & 0x80:
            octets = length & 0x7F
            if not 1 <= octets <= MAX_LENGTH_OCTETS:
                raise ParseError(f"{self.proto}_bad_length")
            if pos + 2 + octets > len(data):
                raise ParseError(f"{self.proto}_truncated")
            length = int.from_bytes(data[pos + 2 : pos + 2 + octets], "big")
            size += octets
        return tag, length, size

    def tlv(self) -> tuple[int, bytes]:
        tag, length, size = self.header()
        start = self.pos + size
        if start + length > len(self.data):
            raise ParseError(f"{self.proto}_truncated")
        self.pos = start + length
        return tag, self.data[start : start + length]

    def expect(self, tag: int) -> bytes:
        got, value = self.tlv()
        if got != tag:
            raise ParseError(f"{self.proto}_unexpected_tag")
        return value
