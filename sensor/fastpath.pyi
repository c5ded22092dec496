"""sensor/fastpath.c: the per-packet loops, compiled."""

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

def walk_pcap(
    block: bytes | bytearray | memoryview, pos: int, big_endian: bool, max_record: int, /
) -> tuple[list[int], int]: ...
def walk_pcapng(
    block: bytes | bytearray | memoryview, pos: int, big_endian: bool, interface: int, max_block: int, /
) -> tuple[list[int], int]: ...
def count_done(
    block: bytes | bytearray | memoryview, offsets: list[int], indices: list[int] | None,
    big_endian: bool, countable: Callable[[bool, bytes], T | None], /,
) -> tuple[list[int], list[tuple[T, int, int, int, bool]]]: ...
