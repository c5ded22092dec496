"""Hosts and link framings: Ethernet (802.1Q / QinQ tagged or not), Linux cooked v1 and v2,
raw IP, BSD loopback. Each `Link` wraps an L3 scapy packet into the bytes of one frame.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import CookedLinux, CookedLinuxV2, Dot1AD, Dot1Q, Ether
from scapy.packet import Packet as ScapyPacket

from .fixed import fixed_int

ROUTER_MAC = "00:00:0c:9f:f0:14"
"""Cisco (HSRP virtual MAC), the hospital's clinical core router: every routed endpoint shows it."""


@dataclass
class Host:
    """A network endpoint: MAC (vendor OUI), IP, TTL and a deterministic IP-id counter."""

    label: str
    mac: str
    ip: str
    ttl: int = 64
    ip_id: int = 0x1000

    def next_id(self) -> int:
        """IPv4 identification for the next packet this host sends."""
        self.ip_id = (self.ip_id + 1) & 0xFFFF
        return self.ip_id


def host(label: str, mac: str, ip: str, ttl: int = 64) -> Host:
    """A host; its IP-id counter starts at a value derived from its label."""
    return Host(label, mac, ip, ttl, fixed_int(label, 2))


def routed_host(label: str, ip: str, ttl: int = 63) -> Host:
    """A host behind the core router (a data-centre server, the internet): seen with the router's MAC."""
    return host(label, ROUTER_MAC, ip, ttl)


def mac_bytes(mac: str) -> bytes:
    """The 6 bytes of a colon-separated MAC address."""
    return bytes.fromhex(mac.replace(":", ""))


def ether_prefix(src_mac: str, dst_mac: str, vlans: Sequence[tuple[int, int]], ethertype: int = 0x0800) -> bytes:
    """Ethernet header with optional 802.1Q/802.1ad tags (priority 0), packed with struct."""
    out = mac_bytes(dst_mac) + mac_bytes(src_mac)
    for tpid, vid in vlans:
        out += struct.pack("!HH", tpid, vid & 0x0FFF)
    return out + struct.pack("!H", ethertype)


class Link:
    """Ethernet, optionally 802.1Q / QinQ tagged: vlans = ((tpid, vid), ...) outermost first."""

    linktype = 1

    def __init__(self, vlans: Sequence[tuple[int, int]] = ()) -> None:
        self.vlans = tuple(vlans)

    def frame(self, src: Host, dst: Host, l3: ScapyPacket, outgoing: bool) -> bytes:
        """Wrap an L3 scapy packet; returns the frame bytes."""
        p: ScapyPacket = Ether(src=src.mac, dst=dst.mac)
        for tpid, vid in self.vlans:
            p = p / (Dot1AD(vlan=vid, prio=0) if tpid == 0x88A8 else Dot1Q(vlan=vid, prio=0))
        return bytes(p / l3)


class CookedLink(Link):
    """Linux cooked capture, what `tcpdump -i any` writes: v1 (DLT 113; `hatype` 1 = Ethernet,
    772 = loopback) or v2 (DLT 276, which adds the interface index)."""

    def __init__(self, version: int = 1, hatype: int = 1, ifindex: int = 3) -> None:
        super().__init__()
        self.version, self.hatype, self.ifindex = version, hatype, ifindex
        self.linktype = 113 if version == 1 else 276

    def frame(self, src: Host, dst: Host, l3: ScapyPacket, outgoing: bool) -> bytes:
        """The cooked header (packet type, ARPHRD type, the sender's link address, protocol;
        v2: and the interface index), then the IP packet. Loopback has no link address."""
        pkttype, sender = 4 if outgoing else 0, mac_bytes(src.mac) + b"\x00\x00"
        hdr: ScapyPacket
        if self.version == 2:
            hdr = CookedLinuxV2(ifindex=self.ifindex, lladdrtype=1, pkttype=pkttype, lladdrlen=6, src=sender)
        elif self.hatype == 772:
            hdr = CookedLinux(pkttype=0, lladdrtype=772, lladdrlen=6, src=b"\x00" * 8)
        else:
            hdr = CookedLinux(pkttype=pkttype, lladdrtype=1, lladdrlen=6, src=sender)
        return bytes(hdr / l3)


class RawLink(Link):
    """Raw IP, no link header: DLT 101 (LINKTYPE_RAW) or 228 (LINKTYPE_IPV4)."""

    def __init__(self, linktype: int = 101) -> None:
        super().__init__()
        self.linktype = linktype

    def frame(self, src: Host, dst: Host, l3: ScapyPacket, outgoing: bool) -> bytes:
        """The IP packet itself."""
        return bytes(l3)


class NullLink(Link):
    """BSD loopback (DLT 0): a 4-byte address family in the capturing host's byte order."""

    linktype = 0

    def __init__(self, af_inet6: int = 30, endian: str = "<") -> None:
        super().__init__()
        self.af_inet6, self.endian = af_inet6, endian

    def frame(self, src: Host, dst: Host, l3: ScapyPacket, outgoing: bool) -> bytes:
        """Family (2 = AF_INET; AF_INET6 is 24, 28 or 30 depending on the BSD) + IP."""
        fam = self.af_inet6 if isinstance(l3, IPv6) else 2
        return struct.pack(self.endian + "I", fam) + bytes(l3)
