"""IPv4/IPv6 flows: `TcpFlow` (seq/ack bookkeeping, handshake, segmentation, IPv4
fragments, FIN) over scapy layers or, for plain IPv4 on Ethernet, a struct fast path that
writes the same bytes 50 times faster; UDP datagrams; `Timeline`, the clock and ephemeral
ports of a capture's conversations.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Self

from scapy.layers.inet import IP, TCP, UDP, fragment
from scapy.layers.inet6 import IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrHopByHop, PadN, RouterAlert
from scapy.packet import Packet as ScapyPacket
from scapy.packet import Raw

from .capture import Capture, Packet
from .fixed import fixed_int
from .link import Host, Link, ether_prefix


@dataclass
class Segment:
    """A TCP payload piece at stream offset `off` (relative to ISN+1)."""

    off: int
    data: bytes


class TcpFlow:
    """One TCP connection between two Hosts; tracks seq/ack and writes into a Capture.

    Directions are "c" (client -> server) and "s". Stream offsets are relative to ISN+1.
    Timestamps advance with the flow's own clock (`now_ns`), in microsecond steps.
    """

    def __init__(
        self,
        cap: Capture,
        link: Link,
        client: Host,
        cport: int,
        server: Host,
        sport: int,
        *,
        flow_id: str,
        start_ns: int,
        isn_c: int,
        isn_s: int,
        iface: int = 0,
        ipv6: bool = False,
        c_ext: Sequence[str] = (),
        rtt_us: int = 400,
        window: int = 64240,
        mss: int = 1460,
        ts_jitter_ns: int = 0,
        fast: bool = False,
    ) -> None:
        self.cap, self.link, self.flow_id, self.iface = cap, link, flow_id, iface
        self.hosts = {"c": client, "s": server}
        self.ports = {"c": cport, "s": sport}
        self.isn = {"c": isn_c, "s": isn_s}
        self.sent = {"c": 0, "s": 0}  # highest stream offset sent per direction
        self.now_ns = start_ns
        self.ipv6, self.c_ext, self.rtt_us, self.window, self.mss = ipv6, tuple(c_ext), rtt_us, window, mss
        self.ts_jitter_ns = ts_jitter_ns
        self.fast = fast and not ipv6 and type(link) is Link
        """fast: pack IPv4/TCP/Ethernet with struct instead of scapy (same bytes, 50x faster)."""
        self.fin = {"c": False, "s": False}
        self.rcv_ranges: dict[str, list[tuple[int, int]]] = {"c": [], "s": []}
        self.rcv_next = {"c": 0, "s": 0}

    @classmethod
    def labelled(cls, cap: Capture, link: Link, client: Host, cport: int, server: Host, sport: int, label: str,
                 start_ns: int, **kw: Any) -> Self:
        """A flow named `label` whose initial sequence numbers derive from that name."""
        return cls(cap, link, client, cport, server, sport, flow_id=label, start_ns=start_ns,
                   isn_c=fixed_int(label + "/isn-c", 4), isn_s=fixed_int(label + "/isn-s", 4), **kw)

    @staticmethod
    def other(d: str) -> str:
        """The other direction."""
        return "s" if d == "c" else "c"

    def tick(self, us: int) -> None:
        """Advance this flow's clock."""
        self.now_ns += us * 1000

    def seq_of(self, d: str, off: int) -> int:
        """Absolute sequence number of stream offset `off` in direction d."""
        return (self.isn[d] + 1 + off) & 0xFFFFFFFF

    def ack_for(self, d: str) -> int:
        """What a packet sent in direction d acknowledges: the other side's bytes received
        in order so far (a hole left by an out-of-order segment is not acknowledged)."""
        o = self.other(d)
        extra = 1 if self.fin[o] else 0
        return (self.isn[o] + 1 + self.rcv_next[o] + extra) & 0xFFFFFFFF

    def _received(self, d: str, start: int, end: int) -> None:
        """Book bytes [start, end) of direction d as arrived; advance the in-order point."""
        self.rcv_ranges[d].append((start, end))
        self.rcv_ranges[d].sort()
        reach = self.rcv_next[d]
        for a, b in self.rcv_ranges[d]:
            if a > reach:
                break
            reach = max(reach, b)
        self.rcv_next[d] = reach

    def l3(self, d: str, tcp: ScapyPacket) -> ScapyPacket:
        """IP (v4 or v6, with the client's extension headers) around a TCP segment."""
        src, dst = self.hosts[d], self.hosts[self.other(d)]
        if self.ipv6:
            p: ScapyPacket = IPv6(src=src.ip, dst=dst.ip, hlim=src.ttl, fl=0)
            if d == "c":
                for e in self.c_ext:
                    if e == "hbh":
                        p = p / IPv6ExtHdrHopByHop(options=[RouterAlert(value=0), PadN(optdata=b"")])
                    elif e == "dst":
                        p = p / IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\x00" * 4)])
            return p / tcp
        return IP(src=src.ip, dst=dst.ip, ttl=src.ttl, id=src.next_id(), flags="DF") / tcp

    def emit(self, d: str, flags: str, seq: int, ack: int | None, payload: bytes = b"",
             options: list[tuple[str, Any]] | None = None, tag: tuple[int, int] | None = None,
             spb: bool = False) -> int:
        """Write one segment now; returns its frame number."""
        win = self.window if "S" in flags else self.window >> 7  # scaled by WScale 7 after SYN
        src, dst = self.hosts[d], self.hosts[self.other(d)]
        sport, dport, ack = self.ports[d], self.ports[self.other(d)], ack if ack is not None else 0
        if self.fast:
            data = ether_prefix(src.mac, dst.mac, self.link.vlans) + ipv4_tcp_bytes(
                src, dst, sport, dport, seq, ack, flags, win, tcp_options(options or []), payload)
        else:
            tcp = TCP(sport=sport, dport=dport, seq=seq, ack=ack, flags=flags, window=win, options=options or [])
            data = self.link.frame(src, dst, self.l3(d, tcp / Raw(payload) if payload else tcp), outgoing=(d == "c"))
        t = None if tag is None else (self.flow_id, d, tag[0], tag[1])
        if tag is not None:
            self._received(d, *tag)
        return self.cap.add(Packet(self.now_ns + self.ts_jitter_ns, data, self.iface, spb, t))

    def handshake(self, spb_ack: bool = False) -> None:
        """SYN, SYN-ACK, ACK with the usual options."""
        opts: list[tuple[str, Any]] = [("MSS", self.mss), ("SAckOK", b""), ("WScale", 7)]
        self.emit("c", "S", self.isn["c"], None, options=opts)
        self.tick(self.rtt_us // 2)
        self.emit("s", "SA", self.isn["s"], self.seq_of("c", 0), options=opts)
        self.tick(self.rtt_us // 2)
        self.emit("c", "A", self.seq_of("c", 0), self.seq_of("s", 0), spb=spb_ack)
        self.tick(60)

    def segments(self, d: str, data: bytes, mss: int | None = None) -> list[Segment]:
        """Cut `data` (to be sent next in direction d) into MSS-sized segments."""
        m = mss or self.mss
        base = self.sent[d]
        return [Segment(base + i, data[i : i + m]) for i in range(0, len(data), m)]

    def send_segments(
        self, d: str, segs: Iterable[Segment], ack_every: int = 2, gap_us: int = 12
    ) -> list[int]:
        """Emit the given segments in the given order (PSH on the last), the receiver ACKing
        every `ack_every` segments; returns the data frames."""
        segs = list(segs)
        frames = []
        for i, s in enumerate(segs):
            end = s.off + len(s.data)
            flags = "PA" if i == len(segs) - 1 else "A"
            frames.append(
                self.emit(d, flags, self.seq_of(d, s.off), self.ack_for(d), s.data, tag=(s.off, end))
            )
            self.sent[d] = max(self.sent[d], end)
            self.tick(gap_us)
            if ack_every and ((i + 1) % ack_every == 0 or i == len(segs) - 1):
                o = self.other(d)
                self.tick(self.rtt_us // 4)
                self.emit(o, "A", self.seq_of(o, self.sent[o]), self.ack_for(o))
        self.tick(self.rtt_us // 2)
        return frames

    def send(self, d: str, data: bytes, mss: int | None = None, ack_every: int = 2) -> int:
        """Send `data` in direction d; returns the stream offset where it started."""
        start = self.sent[d]
        self.send_segments(d, self.segments(d, data, mss), ack_every)
        return start

    def close(self) -> None:
        """Client FIN, server FIN-ACK, client ACK."""
        self.emit("c", "FA", self.seq_of("c", self.sent["c"]), self.ack_for("c"))
        self.fin["c"] = True
        self.tick(self.rtt_us // 2)
        self.emit("s", "FA", self.seq_of("s", self.sent["s"]), self.ack_for("s"))
        self.fin["s"] = True
        self.tick(self.rtt_us // 2)
        self.emit("c", "A", self.seq_of("c", self.sent["c"] + 1), self.ack_for("c"))
        self.tick(100)

    def send_fragmented(self, d: str, data: bytes, fragsize: int, order: Sequence[int]) -> list[int]:
        """Send `data` as ONE TCP segment in IPv4 fragments emitted in `order` (indices).

        Only the last fragment emitted carries the stream tag: reassembly completes there.
        """
        assert not self.ipv6
        off = self.sent[d]
        tcp = TCP(sport=self.ports[d], dport=self.ports[self.other(d)], seq=self.seq_of(d, off), ack=self.ack_for(d),
                  flags="PA", window=self.window >> 7) / Raw(data)
        whole = IP(bytes(self.l3(d, tcp)))  # checksums fixed before fragmenting
        frags = fragment(whole, fragsize=fragsize)
        frames = []
        for k, idx in enumerate(order):
            last = k == len(order) - 1
            frame = self.link.frame(self.hosts[d], self.hosts[self.other(d)], frags[idx], d == "c")
            t = (self.flow_id, d, off, off + len(data)) if last else None
            frames.append(self.cap.add(Packet(self.now_ns, frame, self.iface, False, t)))
            self.tick(15)
        self.sent[d] = off + len(data)
        self._received(d, off, off + len(data))
        self.tick(self.rtt_us // 2)
        o = self.other(d)
        self.emit(o, "A", self.seq_of(o, self.sent[o]), self.ack_for(o))
        self.tick(self.rtt_us // 2)
        return frames


_TCP_FLAGS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10, "U": 0x20}


def word_sum(data: bytes) -> int:
    """Sum of the big-endian 16-bit words of `data` (odd length padded), not yet folded: partial
    sums add up, so a header's sum can be kept and only the changed words added."""
    if len(data) % 2:
        data += b"\x00"
    return sum(struct.unpack(f"!{len(data) // 2}H", data))


def fold(s: int) -> int:
    """The Internet checksum (RFC 1071) of a `word_sum`: carries folded in, one's complement."""
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def tcp_options(opts: Sequence[tuple[str, Any]]) -> bytes:
    """MSS / SAckOK / WScale / NOP options as scapy encodes them (padded with EOL)."""
    out = b""
    for kind, val in opts:
        if kind == "MSS":
            out += struct.pack("!BBH", 2, 4, val)
        elif kind == "SAckOK":
            out += b"\x04\x02"
        elif kind == "WScale":
            out += struct.pack("!BBB", 3, 3, val)
        elif kind == "NOP":
            out += b"\x01"
        else:
            raise ValueError(kind)
    return out + b"\x00" * (-len(out) % 4)


def ipv4_tcp_bytes(
    src: Host,
    dst: Host,
    sport: int,
    dport: int,
    seq: int,
    ack: int,
    flags: str,
    window: int,
    options: bytes = b"",
    payload: bytes = b"",
    df: bool = True,
) -> bytes:
    """IPv4 + TCP packed with struct (the fast path); the same bytes scapy builds for these fields."""
    fl = 0
    for ch in flags:
        fl |= _TCP_FLAGS[ch]
    s_ip, d_ip = socket.inet_aton(src.ip), socket.inet_aton(dst.ip)
    off = (20 + len(options)) // 4
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off << 4, fl, window, 0, 0) + options
    ck = fold(word_sum(s_ip + d_ip + struct.pack("!BBH", 0, 6, len(tcp) + len(payload)) + tcp + payload))
    tcp = tcp[:16] + struct.pack("!H", ck) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), src.next_id(), 0x4000 if df else 0,
                     src.ttl, 6, 0, s_ip, d_ip)
    ip = ip[:10] + struct.pack("!H", fold(word_sum(ip))) + ip[12:]
    return ip + tcp + payload


def udp_frame(link: Link, src: Host, sport: int, dst: Host, dport: int, payload: bytes, outgoing: bool = True) -> bytes:
    """One UDP/IPv4 datagram framed for `link`."""
    l3 = IP(src=src.ip, dst=dst.ip, ttl=src.ttl, id=src.next_id()) / UDP(sport=sport, dport=dport) / Raw(payload)
    return link.frame(src, dst, l3, outgoing)


def datagram(cap: Capture, src: Host, sport: int, dst: Host, dport: int, payload: bytes, at_ns: int) -> int:
    """One UDP datagram on Ethernet; returns its frame number."""
    return cap.add(Packet(at_ns, udp_frame(Link(), src, sport, dst, dport, payload)))


def udp_exchange(cap: Capture, client: Host, cport: int, srv: Host, sport: int, at_ns: int, request: bytes,
                 reply: bytes, reply_after_ns: int = 1_500_000) -> tuple[int, int]:
    """A request datagram and its reply `reply_after_ns` later; returns their frames."""
    return (datagram(cap, client, cport, srv, sport, request, at_ns),
            datagram(cap, srv, sport, client, cport, reply, at_ns + reply_after_ns))


def endpoint(flow: TcpFlow, d: str) -> str:
    """ "ip:port" ("[ip]:port" for IPv6) of one side."""
    ip = flow.hosts[d].ip
    return f"[{ip}]:{flow.ports[d]}" if ":" in ip else f"{ip}:{flow.ports[d]}"


class Timeline:
    """A capture being written conversation by conversation: its packets, a clock that places
    each conversation `step_ns` after the one before, and the next ephemeral client port."""

    def __init__(self, name: str, t0_ns: int, step_ns: int, first_port: int) -> None:
        self.name, self.t0_ns, self.step_ns = name, t0_ns, step_ns
        self.cap = Capture()
        self.step = 0
        self.port = first_port

    def at(self) -> int:
        """The time of the next conversation."""
        self.step += 1
        return self.t0_ns + self.step * self.step_ns

    def next_port(self) -> int:
        """The next ephemeral client port."""
        self.port += 7
        return self.port

    def flow(self, client: Host, server: Host, port: int, link: Link | None = None) -> TcpFlow:
        """A TCP connection at the next conversation's time, from the next client port, not yet opened."""
        start = self.at()
        return TcpFlow.labelled(self.cap, link or Link(), client, self.next_port(), server, port,
                                f"{self.name}/{self.step}", start)

    def connect(self, client: Host, server: Host, port: int, link: Link | None = None) -> TcpFlow:
        """A new `flow`, its three-way handshake done."""
        flow = self.flow(client, server, port, link)
        flow.handshake()
        return flow
