"""The bounded flow table and TCP reassembly.

A flow is a TCP connection or a UDP conversation keyed by its addresses and ports (both
directions map to the same `Flow`). TCP payload is put back in sequence order per direction:
retransmissions and overlaps are trimmed (the first copy wins), out-of-order segments wait
in a bounded buffer, a capture that starts mid-stream begins at the first segment seen.
When a hole never fills, the direction is reported as a gap and inspection stops there.

Flows keep packets, bytes and first/last time per direction for their whole life, also once
they are `done` (no more inspection); they leave the table on idle timeout or when the
table is full (oldest first), and both are counted.
"""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Callable
from typing import Any

from .decode import IP_TCP, Packet
from .flowid import Direction, Endpoint, FlowId
from .limits import DEFAULT_LIMITS, SensorLimits

SEQ_MOD = 1 << 32
SEQ_HALF = 1 << 31
TCP_IDLE_TIMEOUT = 300.0
TCP_CLOSED_TIMEOUT = 5.0
UDP_IDLE_TIMEOUT = 60.0
SWEEP_INTERVAL = 10.0
"""Packet-time seconds between two sweeps for idle flows."""

TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_RST = 0x04
TCP_ACK = 0x10


class TcpStream:
    """One direction of a TCP connection, put back in order."""

    __slots__ = ("buffered", "gap", "next_seq", "ooo", "stopped")

    def __init__(self) -> None:
        self.next_seq: int | None = None
        self.ooo: dict[int, tuple[bytes, int]] = {}
        self.buffered = 0
        self.gap = False
        """A hole was skipped: the bytes delivered after it do not follow the ones before."""
        self.stopped = False
        """Nobody reads this direction any more: nothing is buffered for it."""

    def add(
        self, seq: int, syn: bool, data: bytes, frame: int, table: FlowTable
    ) -> list[tuple[bytes, int]]:
        """Take one segment; return the bytes that are now in order, each with its frame.
        Out-of-order bytes count against the table's `reassembly_memcap`."""
        if syn:
            seq = (seq + 1) % SEQ_MOD
            if self.next_seq is None:
                self.next_seq = seq
        if not data or self.stopped:
            return []
        if self.next_seq is None:
            self.next_seq = seq  # no SYN seen: start where the capture starts
        stats = table.stats
        out: list[tuple[bytes, int]] = []
        delta = (seq - self.next_seq) % SEQ_MOD
        if delta >= SEQ_HALF:  # starts before what we have: retransmission or overlap
            skip = SEQ_MOD - delta
            if skip >= len(data):
                stats.retransmissions += 1
                return out
            stats.overlaps += 1
            data, delta = data[skip:], 0
        if delta:
            held = self.ooo.get(seq)
            if held is None or len(held[0]) < len(data):
                grow = len(data) - (len(held[0]) if held else 0)
                if table.reassembly_held + grow > table.limits.reassembly_memcap:
                    stats.reassembly_memcap += 1
                    self._skip_hole(stats)
                    self._drain(out, stats, table)
                    return out
                self.ooo[seq] = (data, frame)
                self.buffered += grow
                table.reassembly_held += grow
            limits = table.limits
            if len(self.ooo) > limits.reassembly_segments or self.buffered > limits.reassembly_direction:
                self._skip_hole(stats)
            else:
                return out
        else:
            out.append((data, frame))
            self.next_seq = (self.next_seq + len(data)) % SEQ_MOD
        self._drain(out, stats, table)
        return out

    def stop(self, table: FlowTable) -> None:
        """No more reading of this direction: free what waits and buffer nothing more."""
        self.stopped = True
        table.reassembly_held -= self.buffered
        self.buffered = 0
        self.ooo = {}

    def _drain(self, out: list[tuple[bytes, int]], stats: FlowStats, table: FlowTable) -> None:
        progress = True
        while progress and self.ooo:
            progress = False
            for seq in list(self.ooo):
                assert self.next_seq is not None
                delta = (seq - self.next_seq) % SEQ_MOD
                if delta and delta < SEQ_HALF:
                    continue
                data, frame = self.ooo.pop(seq)
                self.buffered -= len(data)
                table.reassembly_held -= len(data)
                skip = (SEQ_MOD - delta) % SEQ_MOD
                if skip < len(data):
                    if skip:
                        stats.overlaps += 1
                    out.append((data[skip:], frame))
                    self.next_seq = (self.next_seq + len(data) - skip) % SEQ_MOD
                progress = True

    def _skip_hole(self, stats: FlowStats) -> None:
        if not self.ooo:
            return
        assert self.next_seq is not None
        base = self.next_seq
        self.next_seq = min(self.ooo, key=lambda s: (s - base) % SEQ_MOD)
        self.gap = True
        stats.gaps += 1


class FlowStats:
    """Counters of the flow table (they become metrics)."""

    __slots__ = (
        "created",
        "evicted",
        "expired",
        "gaps",
        "over_memory",
        "overlaps",
        "parser_peak",
        "reassembly_memcap",
        "retransmissions",
    )

    def __init__(self) -> None:
        self.created = 0
        self.expired = 0
        self.evicted = 0
        """Flows pushed out because the table was full."""
        self.over_memory = 0
        """Flow directions dropped because the parsers' bytes hit `parser_memcap`."""
        self.parser_peak = 0
        """The most bytes the parsers held at once (what `parser_memcap` bounds)."""
        self.reassembly_memcap = 0
        """Out-of-order segments not held because `reassembly_memcap` was reached (the hole
        became a gap)."""
        self.retransmissions = 0
        self.overlaps = 0
        self.gaps = 0


class Flow:
    """One connection's state; `done` flows cost one lookup per packet."""

    __slots__ = (
        "bytes", "closed", "done", "first", "first_frame", "id", "keys", "last", "pkts", "session",
        "streams", "tcp",
    )

    def __init__(self, fid: FlowId, keys: tuple[bytes, bytes], ts: float, tcp: bool, first_frame: int = 0) -> None:
        self.id = fid
        self.first_frame = first_frame
        """Frame number of the flow's first packet: evidence when nothing else is."""
        self.keys = keys
        self.done = False
        """No more inspection: only counters are updated."""
        self.closed = False
        """FIN or RST seen: the flow expires sooner."""
        self.pkts = [0, 0]
        self.bytes = [0, 0]
        """Per direction (index: Direction), whole frames as on the wire."""
        self.first = ts
        self.last = ts
        """Time of the latest packet (packets counted in bulk may arrive out of order)."""
        self.tcp = tcp
        self.streams: list[TcpStream] | None = [TcpStream(), TcpStream()] if tcp else None
        self.session: Any = None
        """The dispatcher's per-flow state (sensor.dispatch.Session)."""


class FlowTable:
    """TCP and UDP flows keyed by both directions' address/port bytes."""

    def __init__(
        self,
        server_ports: frozenset[int],
        on_remove: Callable[[Flow, float], None],
        limits: SensorLimits = DEFAULT_LIMITS,
    ) -> None:
        self.tcp: dict[bytes, tuple[Flow, int]] = {}
        self.udp: dict[bytes, tuple[Flow, int]] = {}
        self.stats = FlowStats()
        self.limits = limits
        self.buffered = 0
        """Payload bytes held by the parsers of all flows (kept up to date by the dispatcher),
        bounded by `limits.parser_memcap`."""
        self.reassembly_held = 0
        """Out-of-order bytes held by all TCP streams, bounded by `limits.reassembly_memcap`."""
        self._server_ports = server_ports
        self._on_remove = on_remove
        self._max_flows = limits.max_flows
        self._count = 0
        self._next_sweep = 0.0

    def __len__(self) -> int:
        return self._count

    def create(self, pkt: Packet, ts: float, frame: int = 0) -> tuple[Flow, int]:
        """A new flow for a packet whose key is unknown; returns it and the packet's direction."""
        if self._count >= self._max_flows:
            self._evict_oldest(ts)
        tcp = pkt.proto == IP_TCP
        key = pkt.src + pkt.dst + pkt.ports
        rkey = pkt.dst + pkt.src + pkt.ports[2:] + pkt.ports[:2]
        sport = (pkt.ports[0] << 8) | pkt.ports[1]
        dport = (pkt.ports[2] << 8) | pkt.ports[3]
        sender_is_client = self._sender_is_client(tcp, pkt.flags, sport, dport)
        src = Endpoint(_ip(pkt.src), sport, _mac(pkt.src_mac))
        dst = Endpoint(_ip(pkt.dst), dport, _mac(pkt.dst_mac))
        orig, resp = (src, dst) if sender_is_client else (dst, src)
        uid = "C" + hashlib.sha1(repr((ts, key)).encode()).hexdigest()[:17]
        fid = FlowId(uid=uid, transport="tcp" if tcp else "udp", orig=orig, resp=resp,
                     vlan=pkt.vlan)
        flow = Flow(fid, (key, rkey), ts, tcp, frame)
        table = self.tcp if tcp else self.udp
        d = 0 if sender_is_client else 1  # plain ints: IntEnum indexing is slow on the fast path
        table[key] = (flow, d)
        table[rkey] = (flow, 1 - d)
        self._count += 1
        self.stats.created += 1
        return flow, d

    @staticmethod
    def learn_mac(flow: Flow, direction: int, mac: bytes | None) -> None:
        """A side's own first frame tells its MAC for sure (the first frame of the other side
        only showed the MAC it was sent to, maybe a router's)."""
        side = flow.id.orig if direction == Direction.ORIG else flow.id.resp
        if mac is None or side.mac == _mac(mac):
            return
        side = Endpoint(side.ip, side.port, _mac(mac))
        fid = flow.id
        flow.id = FlowId(
            uid=fid.uid,
            transport=fid.transport,
            orig=side if direction == Direction.ORIG else fid.orig,
            resp=side if direction == Direction.RESP else fid.resp,
            vlan=fid.vlan,
        )

    def _sender_is_client(self, tcp: bool, flags: int, sport: int, dport: int) -> bool:
        if tcp and flags & TCP_SYN:
            return not flags & TCP_ACK
        if (sport in self._server_ports) != (dport in self._server_ports):
            return dport in self._server_ports
        if (sport < 1024) != (dport < 1024):
            return dport < 1024
        return True

    def maybe_sweep(self, now: float) -> None:
        """Expire idle flows, at most every SWEEP_INTERVAL of packet time."""
        if now < self._next_sweep:
            return
        self._next_sweep = now + SWEEP_INTERVAL
        for table, idle in ((self.tcp, TCP_IDLE_TIMEOUT), (self.udp, UDP_IDLE_TIMEOUT)):
            stale = [
                flow
                for key, (flow, _d) in table.items()
                if key is flow.keys[0]
                and now - flow.last > (TCP_CLOSED_TIMEOUT if flow.closed else idle)
            ]
            for flow in stale:
                self.remove(flow, now)
                self.stats.expired += 1

    def _evict_oldest(self, now: float) -> None:
        flows = [f for t in (self.tcp, self.udp) for k, (f, _d) in t.items() if k is f.keys[0]]
        flows.sort(key=lambda f: f.last)
        for flow in flows[: max(1, len(flows) // 10)]:
            self.remove(flow, now)
            self.stats.evicted += 1

    def remove(self, flow: Flow, now: float) -> None:
        """Take a flow out of the table, letting the dispatcher conclude it first."""
        self._on_remove(flow, now)
        self.release_streams(flow)
        table = self.tcp if flow.tcp else self.udp
        for key in flow.keys:
            table.pop(key, None)
        self._count -= 1

    def release_streams(self, flow: Flow) -> None:
        """The flow needs no reassembly any more: free what its streams hold."""
        if flow.streams is not None:
            for stream in flow.streams:
                stream.stop(self)
            flow.streams = None

    def remove_all(self, now: float) -> None:
        """End of input: conclude every flow."""
        for table in (self.tcp, self.udp):
            for flow in [f for k, (f, _d) in table.items() if k is f.keys[0]]:
                self.remove(flow, now)


def _ip(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)


def _mac(raw: bytes | None) -> str | None:
    """ECS notation: upper-case hex pairs joined by hyphens."""
    return raw.hex("-").upper() if raw else None
