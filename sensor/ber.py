"""A cursor over BER (ITU-T X.690) tag-length-values, for the ASN.1 protocols (SNMP, LDAP,
Kerberos).

Single-byte tags and definite lengths only: what those protocols put on the wire. A value
that runs past its container raises `Incomplete("<proto>_truncated")` (`sensor.wire`).
"""

from __future__ import annotations

from .wire import ParseError, Reader

MAX_LENGTH_OCTETS = 4


class Ber(Reader):
    """Reads one TLV after another from `data`."""

    __slots__ = ("proto",)

    def __init__(self, data: bytes, proto: str) -> None:
        super().__init__(data, f"{proto}_truncated")
        self.proto = proto

    def header(self) -> tuple[int, int, int]:
        """Tag, value length and header size of the next TLV, without consuming it; the value
        itself may not be there yet (streams read it once complete)."""
        start = self.pos
        try:
            tag, length = self.uint(1), self.uint(1)
            if length & 0x80:
                octets = length & 0x7F
                if not 1 <= octets <= MAX_LENGTH_OCTETS:
                    raise ParseError(f"{self.proto}_bad_length")
                length = self.uint(octets)
            return tag, length, self.pos - start
        finally:
            self.pos = start

    def tlv(self) -> tuple[int, bytes]:
        tag, length, size = self.header()
        self.pos += size
        return tag, self.take(length)

    def expect(self, tag: int) -> bytes:
        got, value = self.tlv()
        if got != tag:
            raise ParseError(f"{self.proto}_unexpected_tag")
        return value
