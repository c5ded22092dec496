"""Reading binary protocols: the bounded `Reader` and the two ways a parse stops.

Below the extractors (`sensor.protocols`) and the helpers they share (`sensor.ber`): every
binary parser reads fields through a `Reader`, and running short of data is always the one
signal `Incomplete`, never a message text to compare.

* `Incomplete`: the data ends inside a field. A parser reading the head of a stream catches
  it and waits for more (`parse` returns `([], 0)`). Inside a container that arrived whole (a
  record, a datagram, a length-delimited message) running short means the container lies
  about its contents: that is invalid input, so `Incomplete` is a `ParseError` and, left to
  propagate, is counted as the weird the `Reader` was given (as dpkt's `NeedData` is an
  `UnpackError`).
* `ParseError("<proto>_<problem>")`: the input is invalid.
"""

from __future__ import annotations

import struct


class ParseError(Exception):
    """Invalid input; the message is the weird's name, e.g. "tls_bad_record_len"."""


class Incomplete(ParseError):
    """The data ends inside a field; the message is the weird to count should the data have
    been whole (see the module docstring)."""


class Reader:
    """Reads fields from `buf` front to back; running past its end raises `Incomplete(weird)`."""

    __slots__ = ("buf", "pos", "weird")

    def __init__(self, buf: bytes, weird: str, pos: int = 0) -> None:
        self.buf = buf
        self.pos = pos
        """Where the next field starts."""
        self.weird = weird
        """The weird the data running short means, should it have been whole."""

    @property
    def left(self) -> int:
        """Bytes not read yet."""
        return len(self.buf) - self.pos

    def take(self, n: int) -> bytes:
        """The next `n` bytes."""
        pos = self.pos
        end = pos + n
        if end > len(self.buf):
            raise Incomplete(self.weird)
        self.pos = end
        return self.buf[pos:end]

    def uint(self, size: int) -> int:
        """A big-endian unsigned integer of `size` bytes."""
        return int.from_bytes(self.take(size), "big")

    def vector(self, len_size: int) -> bytes:
        """A `len_size`-byte big-endian length, then that many bytes (a TLS vector, an MQTT
        string, an SSH name-list). Checks its bounds itself: a ClientHello reads some forty."""
        buf, pos = self.buf, self.pos
        start = pos + len_size
        end = start + int.from_bytes(buf[pos:start], "big")
        if end > len(buf):  # a length cut short ends past the end too
            raise Incomplete(self.weird)
        self.pos = end
        return buf[start:end]

    def sub(self, len_size: int) -> Reader:
        """A reader over the next vector (`vector`), running short with the same weird."""
        return Reader(self.vector(len_size), self.weird)

    def varint(self) -> int:
        """A QUIC variable-length integer (RFC 9000 16): the top two bits of the first byte
        give its size, 1, 2, 4 or 8 bytes."""
        first = self.take(1)[0]
        rest = self.take((1 << (first >> 6)) - 1)
        return int.from_bytes(bytes([first & 0x3F]) + rest, "big")

    def uint16s(self, data: bytes) -> list[int]:
        """A list of 16-bit values (cipher suites, groups ...) from a vector's body; an odd
        length is invalid."""
        if len(data) % 2:
            raise ParseError(self.weird)
        return list(struct.unpack(f">{len(data) // 2}H", data))


def add_range(ranges: list[tuple[int, int]], start: int, end: int) -> list[tuple[int, int]]:
    """`ranges` (sorted, disjoint [start, end) byte ranges of a message reassembled by offset)
    with [start, end) added: overlapping and touching ranges merged."""
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted([*ranges, (start, end)]):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged
