"""Link, network and transport decoding for the frames the fast path does not take.

Link types: Ethernet (802.1Q/802.1ad/QinQ, MPLS, PPPoE, LLC/SNAP), Linux SLL and SLL2,
raw IPv4/IPv6, BSD loopback (NULL and LOOP), PPP. Network: IPv4 (fragments reassembled by
`Defragmenter`), IPv6 (extension headers walked, fragments reassembled). Tunnels carrying
whole packets are opened (GRE incl. ERSPAN, VXLAN, IP-in-IP) so the inner conversation is
the flow. Transport: TCP and UDP. Anything else is counted, never an error.
"""

from __future__ import annotations

import struct
from bisect import bisect_left

from .limits import DEFAULT_LIMITS, SensorLimits
from .weird import Weirds

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_PPP = 9
LINKTYPE_RAW_BSD = (12, 14)
LINKTYPE_PPP_HDLC = 50
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276

ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
ETH_VLAN = frozenset({0x8100, 0x88A8, 0x9100, 0x9200})
ETH_MPLS = frozenset({0x8847, 0x8848})
ETH_PPPOE = 0x8864
ETH_TEB = 0x6558  # transparent Ethernet bridging (GRE)
ETH_ERSPAN2 = 0x88BE
ETH_ERSPAN3 = 0x22EB
PPP_IPV4 = 0x0021
PPP_IPV6 = 0x0057

IP_TCP = 6
IP_UDP = 17
IP_IPIP = 4
IP_IPV6 = 41
IP_GRE = 47
IP6_EXT = frozenset({0, 43, 60})  # hop-by-hop, routing, destination options
IP6_FRAG = 44
IP6_AH = 51
UDP_VXLAN = 4789

MAX_TUNNEL_DEPTH = 4
FRAG_TIMEOUT = 30.0
MAX_DATAGRAM = 65535 + 8
_SEQ_ACK = struct.Struct(">II")


class Packet:
    """A decoded TCP or UDP packet: what flows and dispatch need, nothing more."""

    __slots__ = (
        "ack",
        "dst",
        "dst_mac",
        "flags",
        "payload",
        "ports",
        "proto",
        "seq",
        "src",
        "src_mac",
        "truncated",
        "vlan",
    )

    def __init__(self) -> None:
        self.src_mac: bytes | None = None
        self.dst_mac: bytes | None = None
        self.vlan: tuple[int, ...] = ()
        self.src = b""
        self.dst = b""
        """Network addresses, 4 or 16 bytes."""
        self.proto = 0
        self.ports = b""
        """Source and destination port, 4 bytes as on the wire: the flow key's tail."""
        self.flags = 0
        self.seq = 0
        self.ack = 0
        self.payload = b""
        self.truncated = False
        """The frame was cut by the snaplen: the payload is shorter than the packet's."""


class Defragmenter:
    """Bounded IPv4/IPv6 fragment reassembly in linear time: each fragment updates its
    datagram's covered spans, and the bytes are copied once, when the spans close. On
    overlaps the fragment at the lower offset wins (then the first to arrive)."""

    def __init__(self, weirds: Weirds, limits: SensorLimits = DEFAULT_LIMITS) -> None:
        self._weirds = weirds
        self._limits = limits
        self._pending: dict[bytes, _Datagram] = {}
        self._bytes = 0

    def add(self, key: bytes, ts: float, offset: int, more: bool, data: bytes) -> bytes | None:
        """Store one fragment; return the whole payload once every piece is there."""
        dgram = self._pending.get(key)
        if dgram is None:
            self._expire(ts)
            if len(self._pending) >= self._limits.defrag_datagrams:
                self._drop(next(iter(self._pending)), "ip_frag_table_full")
            dgram = self._pending[key] = _Datagram(ts)
        if offset + len(data) > MAX_DATAGRAM:
            self._drop(key, "ip_frag_too_large")
            return None
        if offset not in dgram.pieces:
            if len(dgram.pieces) >= self._limits.defrag_fragments:
                self._drop(key, "ip_frag_too_many")
                return None
            dgram.pieces[offset] = data
            dgram.held += len(data)
            self._bytes += len(data)
            dgram.cover(offset, offset + len(data))
        if not more:
            dgram.total = offset + len(data)
        if self._bytes > self._limits.defrag_memcap:
            self._drop(next(iter(self._pending)), "ip_frag_memory_full")
            if key not in self._pending:
                return None
        if dgram.total is None or not dgram.complete():
            return None
        self._forget(key)
        return dgram.assemble()

    def _expire(self, now: float) -> None:
        for key in [k for k, d in self._pending.items() if now - d.first > FRAG_TIMEOUT]:
            self._drop(key, "ip_frag_timeout")

    def _drop(self, key: bytes, weird: str) -> None:
        self._weirds.add(weird)
        self._forget(key)

    def _forget(self, key: bytes) -> None:
        dgram = self._pending.pop(key, None)
        if dgram is not None:
            self._bytes -= dgram.held


class _Datagram:
    """The fragments of one datagram and the spans of it they cover (sorted, disjoint)."""

    __slots__ = ("ends", "first", "held", "pieces", "starts", "total")

    def __init__(self, first: float) -> None:
        self.first = first
        self.pieces: dict[int, bytes] = {}
        self.held = 0
        self.total: int | None = None
        self.starts: list[int] = []
        self.ends: list[int] = []

    def cover(self, start: int, end: int) -> None:
        """Merge [start, end) into the covered spans: fragments arrive mostly in order (or in
        reverse), so the merge touches the ends of the lists."""
        starts, ends = self.starts, self.ends
        i = bisect_left(starts, start)
        if i and ends[i - 1] >= start:
            i -= 1
            start = starts[i]
        j = i
        while j < len(starts) and starts[j] <= end:
            end = max(end, ends[j])
            j += 1
        starts[i:j] = [start]
        ends[i:j] = [end]

    def complete(self) -> bool:
        """Every byte up to the last fragment's end is there."""
        return len(self.starts) == 1 and self.starts[0] == 0 and self.total is not None and self.ends[0] >= self.total

    def assemble(self) -> bytes:
        assert self.total is not None
        whole = bytearray(self.total)
        filled = 0
        for off in sorted(self.pieces):
            piece = self.pieces[off]
            end = min(off + len(piece), self.total)
            if end > filled:
                whole[filled:end] = piece[filled - off : end - off]
                filled = end
        return bytes(whole)


class Decoder:
    """Frame bytes to a `Packet`, or None (counted in `weirds` when it is a problem)."""

    def __init__(self, weirds: Weirds, limits: SensorLimits = DEFAULT_LIMITS) -> None:
        self.weirds = weirds
        self.defrag = Defragmenter(weirds, limits)
        self._bad_linktypes: set[int] = set()

    def decode(self, ts: float, linktype: int, buf: bytes, off: int, caplen: int) -> Packet | None:
        """Decode one frame from its link layer up to TCP/UDP."""
        pkt = Packet()
        end = off + caplen
        try:
            if linktype == LINKTYPE_ETHERNET and caplen >= 34 and buf[off + 12] == 8 and buf[off + 13] == 0 \
                    and buf[off + 14] >> 4 == 4:
                # Most frames: untagged Ethernet carrying IPv4, straight to the IP header.
                pkt.dst_mac = buf[off : off + 6]
                pkt.src_mac = buf[off + 6 : off + 12]
                return self._ipv4(pkt, ts, buf, off + 14, end, 0)
            return self._link(pkt, ts, linktype, buf, off, end, 0)
        except (IndexError, struct.error):
            self.weirds.add("truncated_header")
            return None

    def _link(
        self, pkt: Packet, ts: float, linktype: int, buf: bytes, off: int, end: int, depth: int
    ) -> Packet | None:
        if linktype == LINKTYPE_ETHERNET:
            return self._ethernet(pkt, ts, buf, off, end, depth)
        if linktype in (LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6, *LINKTYPE_RAW_BSD):
            return self._ip(pkt, ts, buf, off, end, depth)
        if linktype == LINKTYPE_LINUX_SLL:
            if end - off < 16:
                raise IndexError
            alen = min(struct.unpack_from(">H", buf, off + 4)[0], 8)
            if alen == 6:
                pkt.src_mac = buf[off + 6 : off + 12]
            return self._ethertype(pkt, ts, _u16(buf, off + 14), buf, off + 16, end, depth)
        if linktype == LINKTYPE_LINUX_SLL2:
            if end - off < 20:
                raise IndexError
            if buf[off + 11] == 6:
                pkt.src_mac = buf[off + 12 : off + 18]
            return self._ethertype(pkt, ts, _u16(buf, off), buf, off + 20, end, depth)
        if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
            if end - off < 4:
                raise IndexError
            # LOOP is big-endian; NULL is in the writer's byte order, which we do not know.
            family = struct.unpack_from(">I", buf, off)[0]
            if linktype == LINKTYPE_NULL and family > 0xFFFF:
                family = struct.unpack_from("<I", buf, off)[0]
            if family == 2:
                return self._ip(pkt, ts, buf, off + 4, end, depth)
            if family in (10, 23, 24, 28, 30):
                return self._ip(pkt, ts, buf, off + 4, end, depth)
            self.weirds.add("loopback_unknown_family")
            return None
        if linktype in (LINKTYPE_PPP, LINKTYPE_PPP_HDLC):
            return self._ppp(pkt, ts, buf, off, end, depth)
        if linktype not in self._bad_linktypes:
            self._bad_linktypes.add(linktype)
            self.weirds.add(f"unsupported_linktype_{linktype}")
        return None

    def _ethernet(
        self, pkt: Packet, ts: float, buf: bytes, off: int, end: int, depth: int
    ) -> Packet | None:
        if end - off < 14:
            raise IndexError
        if pkt.src_mac is None:
            pkt.dst_mac = buf[off : off + 6]
            pkt.src_mac = buf[off + 6 : off + 12]
        etype = _u16(buf, off + 12)
        off += 14
        if etype < 0x0600:  # 802.3 length: LLC, maybe SNAP
            if buf[off : off + 3] != b"\xaa\xaa\x03":
                return None
            etype = _u16(buf, off + 6)
            off += 8
        return self._ethertype(pkt, ts, etype, buf, off, end, depth)

    def _ethertype(
        self, pkt: Packet, ts: float, etype: int, buf: bytes, off: int, end: int, depth: int
    ) -> Packet | None:
        while etype in ETH_VLAN:
            pkt.vlan += (_u16(buf, off) & 0x0FFF,)
            etype = _u16(buf, off + 2)
            off += 4
        if etype in (ETH_IPV4, ETH_IPV6):
            return self._ip(pkt, ts, buf, off, end, depth)
        if etype in ETH_MPLS:
            while not buf[off + 2] & 1:  # bottom-of-stack bit
                off += 4
            return self._ip(pkt, ts, buf, off + 4, end, depth)
        if etype == ETH_PPPOE:
            return self._ppp(pkt, ts, buf, off + 6, end, depth)
        return None

    def _ppp(
        self, pkt: Packet, ts: float, buf: bytes, off: int, end: int, depth: int
    ) -> Packet | None:
        if buf[off] == 0xFF and buf[off + 1] == 0x03:
            off += 2
        if buf[off] & 1:  # protocol field compressed to one byte
            proto, off = buf[off], off + 1
        else:
            proto, off = _u16(buf, off), off + 2
        if proto in (PPP_IPV4, PPP_IPV6):
            return self._ip(pkt, ts, buf, off, end, depth)
        return None

    def _ip(
        self, pkt: Packet, ts: float, buf: bytes, off: int, end: int, depth: int
    ) -> Packet | None:
        version = buf[off] >> 4
        if version == 4:
            return self._ipv4(pkt, ts, buf, off, end, depth)
        if version == 6:
            return self._ipv6(pkt, ts, buf, off, end, depth)
        self.weirds.add("ip_bad_version")
        return None

    def _ipv4(
        self, pkt: Packet, ts: float, buf: bytes, off: int, end: int, depth: int
    ) -> Packet | None:
        ihl = (buf[off] & 0x0F) * 4
        total = (buf[off + 2] << 8) | buf[off + 3]  # _u16 inline here and below: every frame comes by
        if total == 0:  # segmentation offload: the length is only known to the NIC
            total = end - off
        if ihl < 20 or total < ihl:
            self.weirds.add("ip_bad_header_len")
            return None
        if off + total < end:
            end = off + total  # Ethernet padding
        elif off + total > end:
            pkt.truncated = True
        if end - off < ihl:
            raise IndexError
        frag = (buf[off + 6] << 8) | buf[off + 7]
        proto = buf[off + 9]
        pkt.src = buf[off + 12 : off + 16]
        pkt.dst = buf[off + 16 : off + 20]
        if frag & 0x3FFF:  # more fragments, or an offset
            if pkt.truncated:
                self.weirds.add("ip_frag_truncated")
                return None
            key = b"4" + buf[off + 4 : off + 6] + pkt.src + pkt.dst + bytes((proto,))
            whole = self.defrag.add(key, ts, (frag & 0x1FFF) * 8, bool(frag & 0x2000), buf[off + ihl : end])
            if whole is None:
                return None
            return self._transport(pkt, ts, proto, whole, 0, len(whole), depth)
        return self._transport(pkt, ts, proto, buf, off + ihl, end, depth)

    def _ipv6(
        self, pkt: Packet, ts: float, buf: bytes, off: int, end: int, depth: int
    ) -> Packet | None:
        if end - off < 40:
            raise IndexError
        plen = _u16(buf, off + 4)
        nxt = buf[off + 6]
        pkt.src = buf[off + 8 : off + 24]
        pkt.dst = buf[off + 24 : off + 40]
        if plen and off + 40 + plen < end:
            end = off + 40 + plen
        elif off + 40 + plen > end:
            pkt.truncated = True
        pos = off + 40
        while True:
            if nxt in IP6_EXT:
                nxt, pos = buf[pos], pos + (buf[pos + 1] + 1) * 8
            elif nxt == IP6_AH:
                nxt, pos = buf[pos], pos + (buf[pos + 1] + 2) * 4
            elif nxt == IP6_FRAG:
                fnext = buf[pos]
                fword = _u16(buf, pos + 2)
                key = b"6" + buf[pos + 4 : pos + 8] + pkt.src + pkt.dst
                pos += 8
                if pos > end:
                    raise IndexError
                whole = self.defrag.add(key, ts, fword & 0xFFF8, bool(fword & 1), buf[pos:end])
                if whole is None:
                    return None
                if fnext in IP6_EXT or fnext == IP6_AH:
                    self.weirds.add("ipv6_ext_after_fragment")
                    return None
                return self._transport(pkt, ts, fnext, whole, 0, len(whole), depth)
            else:
                break
            if pos > end:
                raise IndexError
        return self._transport(pkt, ts, nxt, buf, pos, end, depth)

    def _transport(
        self, pkt: Packet, ts: float, proto: int, buf: bytes, off: int, end: int, depth: int
    ) -> Packet | None:
        if proto == IP_TCP:
            if end - off < 20:
                raise IndexError
            doff = (buf[off + 12] >> 4) * 4
            if doff < 20:
                self.weirds.add("tcp_bad_header_len")
                return None
            pkt.proto = IP_TCP
            pkt.ports = buf[off : off + 4]
            pkt.seq, pkt.ack = _SEQ_ACK.unpack_from(buf, off + 4)
            pkt.flags = buf[off + 13]
            pkt.payload = buf[off + doff : end] if off + doff < end else b""
            return pkt
        if proto == IP_UDP:
            if end - off < 8:
                raise IndexError
            dport = (buf[off + 2] << 8) | buf[off + 3]
            if dport == UDP_VXLAN and depth < MAX_TUNNEL_DEPTH and end - off >= 16 + 14:
                return self._ethernet(_inner(pkt), ts, buf, off + 16, end, depth + 1)
            pkt.proto = IP_UDP
            pkt.ports = buf[off : off + 4]
            pkt.payload = buf[off + 8 : end]
            return pkt
        if depth >= MAX_TUNNEL_DEPTH:
            return None
        if proto in (IP_IPIP, IP_IPV6):
            return self._ip(_inner(pkt), ts, buf, off, end, depth + 1)
        if proto == IP_GRE:
            return self._gre(pkt, ts, buf, off, end, depth + 1)
        return None

    def _gre(
        self, pkt: Packet, ts: float, buf: bytes, off: int, end: int, depth: int
    ) -> Packet | None:
        flags = _u16(buf, off)
        etype = _u16(buf, off + 2)
        pos = off + 4 + 4 * (bool(flags & 0x8000) + bool(flags & 0x2000) + bool(flags & 0x1000))
        inner = _inner(pkt)
        if etype == ETH_TEB:
            return self._ethernet(inner, ts, buf, pos, end, depth)
        if etype == ETH_ERSPAN2:
            return self._ethernet(inner, ts, buf, pos + 8 if flags & 0x1000 else pos, end, depth)
        if etype == ETH_ERSPAN3:
            has_subheader = buf[pos + 11] & 1
            return self._ethernet(inner, ts, buf, pos + 12 + 8 * has_subheader, end, depth)
        return self._ethertype(inner, ts, etype, buf, pos, end, depth)


def _inner(outer: Packet) -> Packet:
    """A fresh packet for a tunnel's payload (keeps the outer VLAN tags)."""
    pkt = Packet()
    pkt.vlan = outer.vlan
    return pkt


def _u16(buf: bytes, off: int) -> int:
    return (buf[off] << 8) | buf[off + 1]
