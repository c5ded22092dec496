"""The bounded Reader: every cut of the data raises Incomplete with the Reader's weird, which
is the ParseError a whole container that runs short is; BER and range merging on top."""

from __future__ import annotations

import pytest

from trustwatch.sensor.ber import Ber
from trustwatch.sensor.wire import Incomplete, ParseError, Reader, add_range

FIELDS = bytes.fromhex(
    "07"          # uint(1)
    "0102"        # uint(2)
    "0003616263"  # vector(2): "abc"
    "c2197c5eff14e88c"  # varint: 8 bytes, 151288809941952652 (RFC 9000 A.1)
    "0004000a001d"  # uint16s of a vector(2)
)


def read_all(r: Reader) -> tuple[object, ...]:
    return r.uint(1), r.uint(2), r.vector(2), r.varint(), r.uint16s(r.vector(2))


def test_fields_read_in_turn() -> None:
    r = Reader(FIELDS, "x_short")
    assert read_all(r) == (7, 0x0102, b"abc", 151288809941952652, [0x0A, 0x1D])
    assert r.left == 0


@pytest.mark.parametrize("cut", range(len(FIELDS)))
def test_every_cut_is_incomplete_with_the_weird(cut: int) -> None:
    with pytest.raises(Incomplete, match=r"^x_short$") as e:
        read_all(Reader(FIELDS[:cut], "x_short"))
    assert isinstance(e.value, ParseError)  # left to propagate, a whole container is invalid


def test_sub_reader_runs_short_with_the_same_weird() -> None:
    inner = Reader(bytes.fromhex("0002 0102 ff"), "x_short").sub(2)  # the ff is not the vector's
    assert inner.take(2) == b"\x01\x02"
    with pytest.raises(Incomplete, match="x_short"):
        inner.take(1)


def test_odd_uint16_list_is_invalid_not_incomplete() -> None:
    with pytest.raises(ParseError, match="x_bad") as e:
        Reader(b"", "x_bad").uint16s(b"\x00\x01\x02")
    assert not isinstance(e.value, Incomplete)


def test_ber_header_peeks_and_tlv_consumes() -> None:
    ber = Ber(bytes.fromhex("3082 0003 020105"), "snmp")  # SEQUENCE, long-form length 3
    assert ber.header() == (0x30, 3, 4) and ber.pos == 0
    assert ber.tlv() == (0x30, b"\x02\x01\x05") and ber.left == 0


def test_ber_truncation_and_bad_length() -> None:
    with pytest.raises(Incomplete, match="snmp_truncated"):
        Ber(bytes.fromhex("3005 0201"), "snmp").tlv()
    with pytest.raises(ParseError, match="snmp_bad_length"):
        Ber(bytes.fromhex("3085 0000000001"), "snmp").header()


@pytest.mark.parametrize(("ranges", "add", "merged"), [
    ([], (0, 4), [(0, 4)]),
    ([(0, 4)], (4, 8), [(0, 8)]),  # touching
    ([(0, 4), (8, 12)], (2, 9), [(0, 12)]),  # bridging
    ([(8, 12)], (0, 4), [(0, 4), (8, 12)]),  # a gap stays
])
def test_add_range(ranges: list[tuple[int, int]], add: tuple[int, int], merged: list[tuple[int, int]]) -> None:
    assert add_range(ranges, *add) == merged
