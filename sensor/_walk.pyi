"""sensor/walk.c: the pcap record walk, compiled."""

def walk_pcap(
    block: bytes | bytearray | memoryview, pos: int, big_endian: bool, max_record: int, /
) -> tuple[list[int], int]: ...
