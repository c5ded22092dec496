"""TCP reassembly and the bounded flow table."""

from __future__ import annotations

import struct

import pytest

from trustwatch.sensor.decode import Packet
from trustwatch.sensor.flowid import Direction
from trustwatch.sensor.flows import Flow, FlowTable, TcpStream
from trustwatch.sensor.limits import SensorLimits

DATA = bytes(range(256)) * 4


def feed(stream: TcpStream, segments: list[tuple[int, bytes]], syn_seq: int | None = None,
         owner: FlowTable | None = None) -> tuple[bytes, list[int]]:
    owner = table() if owner is None else owner
    out: list[tuple[bytes, int]] = []
    if syn_seq is not None:
        out += stream.add(syn_seq, True, b"", 0, owner)
    for frame, (seq, data) in enumerate(segments, 1):
        out += stream.add(seq, False, data, frame, owner)
    return b"".join(d for d, _ in out), [f for _, f in out]


def test_in_order_after_syn() -> None:
    got, frames = feed(TcpStream(), [(101, DATA[:100]), (201, DATA[100:])], syn_seq=100)
    assert got == DATA and frames == [1, 2]


def test_retransmission_overlap_and_reordering() -> None:
    segs = [
        (1, DATA[0:100]),
        (301, DATA[300:400]),   # early: waits
        (1, DATA[0:100]),       # retransmission: dropped
        (51, DATA[50:200]),     # overlaps the first: only 100..200 is new
        (201, DATA[200:300]),   # fills the hole; 300..400 follows from the buffer
        (351, DATA[350:450]),   # overlaps the buffered one
    ]
    got, frames = feed(TcpStream(), segs, syn_seq=0)
    assert got == DATA[:450]
    assert frames == [1, 4, 5, 2, 6]


def test_missing_syn_starts_at_first_data() -> None:
    got, _ = feed(TcpStream(), [(5000, DATA[:10]), (5010, DATA[10:20])])
    assert got == DATA[:20]


def test_sequence_wraparound() -> None:
    start = (1 << 32) - 50
    got, _ = feed(TcpStream(), [(start, DATA[:100]), ((start + 100) % (1 << 32), DATA[100:200])])
    assert got == DATA[:200]


def test_hole_that_never_fills_becomes_a_gap() -> None:
    stream = TcpStream()
    got, _ = feed(stream, [(1, DATA[:10])] + [(100 + 10 * i, DATA[99 + 10 * i:109 + 10 * i])
                                               for i in range(4)], syn_seq=0,
                  owner=table(limits=SensorLimits(reassembly_segments=3)))
    assert stream.gap
    assert got == DATA[:10] + DATA[99:139]  # what came after the hole, in order


def test_out_of_order_bytes_of_all_flows_stay_under_the_memcap() -> None:
    """Holes that never fill in many flows: each direction stays under its own cap, and all
    together under `reassembly_memcap`, which counts when it bites."""
    owner = table(limits=SensorLimits(reassembly_memcap=10_000))
    streams = [TcpStream() for _ in range(50)]
    for stream in streams:
        feed(stream, [(1, DATA[:10])] + [(1000 + 500 * i, DATA[:500]) for i in range(8)], syn_seq=0, owner=owner)
        assert owner.reassembly_held <= 10_000
    assert owner.stats.reassembly_memcap > 0
    assert sum(s.buffered for s in streams) == owner.reassembly_held
    for stream in streams:
        stream.stop(owner)
    assert owner.reassembly_held == 0


def test_a_stopped_direction_buffers_nothing() -> None:
    owner = table()
    stream = TcpStream()
    feed(stream, [(1, DATA[:10]), (500, DATA[:100])], syn_seq=0, owner=owner)
    assert owner.reassembly_held == 100
    stream.stop(owner)
    assert feed(stream, [(700, DATA[:100]), (11, DATA[:10])], owner=owner) == (b"", [])
    assert owner.reassembly_held == 0 and not stream.ooo


def packet(src: str, dst: str, sport: int, dport: int, flags: int = 0x10, proto: int = 6) -> Packet:
    pkt = Packet()
    pkt.src = bytes(int(x) for x in src.split("."))
    pkt.dst = bytes(int(x) for x in dst.split("."))
    pkt.ports = struct.pack(">HH", sport, dport)
    pkt.flags = flags
    pkt.proto = proto
    pkt.src_mac = b"\x00\x11\x22\x33\x44\x55"
    return pkt


def table(removed: list[Flow] | None = None, max_flows: int = 100, limits: SensorLimits | None = None) -> FlowTable:
    sink = removed if removed is not None else []
    return FlowTable(frozenset({443, 2762}), lambda f, now: sink.append(f),
                     limits or SensorLimits(max_flows=max_flows))


@pytest.mark.parametrize(
    ("sport", "dport", "flags", "client_port"),
    [
        (443, 50000, 0x12, 50000),   # SYN-ACK: the sender is the server
        (50000, 443, 0x02, 50000),   # SYN: the sender is the client
        (2762, 50000, 0x18, 50000),  # mid-stream: the known server port wins
        (50000, 50001, 0x18, 50000),  # nothing known: the first sender is the client
        (80, 50001, 0x18, 50001),    # a low port is the server's
    ],
)
def test_orientation(sport: int, dport: int, flags: int, client_port: int) -> None:
    t = table()
    flow, d = t.create(packet("10.0.0.1", "10.0.0.2", sport, dport, flags), 1.0)
    assert flow.id.orig.port == client_port
    assert d == (Direction.ORIG if sport == client_port else Direction.RESP)
    assert t.tcp[flow.keys[1]] == (flow, 1 - d)


def test_both_directions_find_the_flow_and_macs_are_ecs() -> None:
    t = table()
    flow, _ = t.create(packet("10.0.0.1", "10.0.0.2", 50000, 443, 0x02), 1.0)
    key_back = bytes([10, 0, 0, 2, 10, 0, 0, 1]) + struct.pack(">HH", 443, 50000)
    assert t.tcp[key_back][0] is flow
    assert flow.id.orig.mac == "00-11-22-33-44-55"
    assert flow.id.orig.ip == "10.0.0.1" and flow.id.resp.port == 443


def test_idle_flows_expire_and_are_concluded() -> None:
    removed: list[Flow] = []
    t = table(removed)
    old, _ = t.create(packet("10.0.0.1", "10.0.0.2", 50000, 443, 0x02), 0.0)
    t.maybe_sweep(0.0)
    fresh, _ = t.create(packet("10.0.0.3", "10.0.0.2", 50000, 443, 0x02), 400.0)
    t.maybe_sweep(400.0)
    assert removed == [old] and len(t) == 1 and t.stats.expired == 1
    assert t.tcp[fresh.keys[0]][0] is fresh


def test_table_cap_evicts_the_least_recently_active() -> None:
    removed: list[Flow] = []
    t = table(removed, max_flows=20)
    for i in range(25):
        flow, _ = t.create(packet("10.0.0.1", "10.0.0.2", 40000 + i, 443, 0x02), float(i))
        flow.last = float(i)
    assert len(t) <= 20
    assert t.stats.evicted == len(removed) > 0
    assert sorted(f.id.orig.port for f in removed) == list(range(40000, 40000 + len(removed)))
