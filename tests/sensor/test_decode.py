"""Link, network and transport decoding, on frames built with scapy."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import GRE, IP, TCP, UDP, fragment
from scapy.layers.inet6 import (
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
)
from scapy.layers.l2 import CookedLinux, CookedLinuxV2, Dot1AD, Dot1Q, Ether
from scapy.layers.ppp import PPP
from scapy.layers.vxlan import VXLAN
from scapy.packet import Raw

from trustwatch.sensor.decode import Decoder, Packet
from trustwatch.sensor.limits import SensorLimits
from trustwatch.sensor.weird import Weirds

PAYLOAD = b"\x16\x03\x01\x00\x05hello"
TCP_PKT = (IP(src="10.1.2.3", dst="10.9.8.7") / TCP(sport=50123, dport=2762, seq=1000, flags="PA")
           / Raw(PAYLOAD))


def dec(linktype: int, frame: bytes, ts: float = 0.0, decoder: Decoder | None = None) -> Packet | None:
    decoder = decoder or Decoder(Weirds())
    padded = b"\xee" * 7 + frame + b"\xee" * 5  # frames live inside a bigger read block
    return decoder.decode(ts, linktype, padded, 7, len(frame))


def check_tcp(pkt: Packet | None, vlan: tuple[int, ...] = ()) -> None:
    assert pkt is not None
    assert pkt.proto == 6
    assert pkt.src == bytes([10, 1, 2, 3]) and pkt.dst == bytes([10, 9, 8, 7])
    assert pkt.ports == struct.pack(">HH", 50123, 2762)
    assert pkt.seq == 1000 and pkt.flags == 0x18
    assert pkt.payload == PAYLOAD
    assert pkt.vlan == vlan


def test_ethernet_ipv4_tcp_with_padding_and_macs() -> None:
    frame = bytes(Ether(src="00:11:22:33:44:55", dst="66:77:88:99:aa:bb") / TCP_PKT) + b"\0" * 6
    pkt = dec(1, frame)
    check_tcp(pkt)
    assert pkt is not None and pkt.src_mac == bytes.fromhex("001122334455")
    assert pkt.dst_mac == bytes.fromhex("66778899aabb")


def test_vlan_and_qinq_tags_outermost_first() -> None:
    check_tcp(dec(1, bytes(Ether() / Dot1Q(vlan=42) / TCP_PKT)), (42,))
    check_tcp(dec(1, bytes(Ether() / Dot1AD(vlan=100) / Dot1Q(vlan=7) / TCP_PKT)), (100, 7))


def test_linux_sll_and_sll2_keep_the_sender_mac() -> None:
    sll = dec(113, bytes(CookedLinux(pkttype=0, lladdrtype=1, lladdrlen=6,
                                     src=bytes.fromhex("0011223344550000")) / TCP_PKT))
    check_tcp(sll)
    assert sll is not None and sll.src_mac == bytes.fromhex("001122334455")
    sll2 = dec(276, bytes(CookedLinuxV2(proto=0x0800, lladdrlen=6,
                                        src=bytes.fromhex("aabbccddeeff0000")) / TCP_PKT))
    check_tcp(sll2)
    assert sll2 is not None and sll2.src_mac == bytes.fromhex("aabbccddeeff")


@pytest.mark.parametrize("linktype", [101, 228, 12, 14])
def test_raw_ip(linktype: int) -> None:
    check_tcp(dec(linktype, bytes(TCP_PKT)))


@pytest.mark.parametrize("header", [struct.pack("<I", 2), struct.pack(">I", 2)])
def test_bsd_loopback_either_byte_order(header: bytes) -> None:
    check_tcp(dec(0, header + bytes(TCP_PKT)))


def test_loop_and_ppp() -> None:
    check_tcp(dec(108, struct.pack(">I", 2) + bytes(TCP_PKT)))
    check_tcp(dec(9, bytes(PPP(proto=0x0021) / TCP_PKT)))
    check_tcp(dec(9, b"\xff\x03" + bytes(PPP(proto=0x0021) / TCP_PKT)))


def test_ipv6_extension_headers_are_walked() -> None:
    v6 = (IPv6(src="fd00::1", dst="fd00::2") / IPv6ExtHdrHopByHop() / IPv6ExtHdrRouting()
          / IPv6ExtHdrDestOpt() / TCP(sport=1, dport=443, flags="S") / Raw(b"x"))
    pkt = dec(1, bytes(Ether() / v6))
    assert pkt is not None and pkt.proto == 6 and pkt.payload == b"x"
    assert len(pkt.src) == 16 and pkt.ports == struct.pack(">HH", 1, 443)


def test_ipv4_fragments_out_of_order_are_reassembled() -> None:
    big = IP(src="10.1.2.3", dst="10.9.8.7", id=77) / UDP(sport=5000, dport=53) / Raw(bytes(range(256)) * 8)
    frags = fragment(big, fragsize=512)
    assert len(frags) == 5
    decoder = Decoder(Weirds())
    results = [dec(101, bytes(f), decoder=decoder) for f in reversed(frags)]
    assert results[:-1] == [None] * 4
    whole = results[-1]
    assert whole is not None and whole.payload == bytes(range(256)) * 8 and whole.proto == 17


def test_ipv6_fragments_are_reassembled() -> None:
    body = bytes(UDP(sport=5000, dport=53) / Raw(b"A" * 1200))
    one = IPv6(src="fd00::1", dst="fd00::2") / IPv6ExtHdrFragment(nh=17, offset=0, m=1, id=9) / body[:600]
    two = IPv6(src="fd00::1", dst="fd00::2") / IPv6ExtHdrFragment(nh=17, offset=75, m=0, id=9) / body[600:]
    decoder = Decoder(Weirds())
    assert dec(229, bytes(two), decoder=decoder) is None
    pkt = dec(229, bytes(one), decoder=decoder)
    assert pkt is not None and pkt.payload == b"A" * 1200


def test_fragment_memory_is_bounded() -> None:
    weirds = Weirds()
    decoder = Decoder(weirds, SensorLimits(defrag_datagrams=10))
    for i in range(50):
        first = IP(src="10.0.0.1", dst="10.0.0.2", id=i, flags="MF", proto=17) / Raw(b"x" * 64)
        dec(101, bytes(first), decoder=decoder)
    assert len(decoder.defrag._pending) <= 10
    assert weirds.counts["ip_frag_table_full"] == 40


def fragment_train(count: int, size: int = 8, missing: int | None = None) -> list[bytes]:
    """One UDP datagram cut into `count` pieces of `size` bytes (IPv4 offsets are in 8-byte
    units), optionally without the piece at index `missing`."""
    body = bytes(UDP(sport=5000, dport=5001, chksum=0) / Raw(train_payload(count * size - 8)))
    frames = []
    for i in range(count):
        more = "MF" if i < count - 1 else 0
        piece = IP(src="10.0.0.1", dst="10.0.0.2", id=77, flags=more, frag=i * size // 8, proto=17)
        if i != missing:
            frames.append(bytes(piece / Raw(body[i * size:(i + 1) * size])))
    return frames


def train_payload(length: int) -> bytes:
    return bytes(i % 251 for i in range(length))


def test_a_fragment_train_is_capped_per_datagram() -> None:
    weirds = Weirds()
    decoder = Decoder(weirds)  # default: 1024 fragments a datagram
    assert [dec(101, f, decoder=decoder) for f in fragment_train(8190, missing=4000)].count(None) == 8189
    assert weirds.counts["ip_frag_too_many"] >= 1
    assert not decoder.defrag._pending or len(next(iter(decoder.defrag._pending.values())).pieces) <= 1024


def test_a_long_fragment_train_reassembles_once_complete() -> None:
    """8,190 eight-byte pieces (the issue's attack, with the cap raised): nothing until the
    missing piece arrives, then the datagram, byte for byte."""
    train = fragment_train(8190)
    missing = train.pop(4000)
    decoder = Decoder(Weirds(), SensorLimits(defrag_fragments=8192))
    assert all(dec(101, f, decoder=decoder) is None for f in reversed(train))
    pkt = dec(101, missing, decoder=decoder)
    assert pkt is not None
    assert pkt.payload == train_payload(8190 * 8 - 8)
    assert not decoder.defrag._pending


@given(st.permutations(range(12)), st.integers(0, 11))
def test_fragments_in_any_order_and_duplicated_reassemble(order: list[int], dup: int) -> None:
    train = fragment_train(12, size=16)
    decoder = Decoder(Weirds())
    results = [dec(101, train[i], decoder=decoder) for i in [*order[:dup], order[dup], *order[dup:]]]
    done = [r for r in results if r is not None]
    assert len(done) == 1
    assert done[0].payload == train_payload(12 * 16 - 8)


def test_tunnels_are_opened() -> None:
    inner = Ether() / TCP_PKT
    vxlan = Ether() / IP(src="1.1.1.1", dst="2.2.2.2") / UDP(sport=1, dport=4789) / VXLAN(vni=5) / inner
    check_tcp(dec(1, bytes(vxlan)))
    gre = Ether() / IP(src="1.1.1.1", dst="2.2.2.2") / GRE(proto=0x0800) / TCP_PKT
    check_tcp(dec(1, bytes(gre)))
    ipip = Ether() / IP(src="1.1.1.1", dst="2.2.2.2", proto=4) / TCP_PKT
    check_tcp(dec(1, bytes(ipip)))


def test_segmentation_offload_zero_length() -> None:
    raw = bytearray(bytes(Ether() / TCP_PKT))
    raw[16:18] = b"\0\0"
    check_tcp(dec(1, bytes(raw)))


def test_snaplen_cut_is_marked_truncated() -> None:
    frame = bytes(Ether() / TCP_PKT)
    pkt = dec(1, frame[:-4])
    assert pkt is not None and pkt.truncated and pkt.payload == PAYLOAD[:-4]


def test_other_traffic_is_not_an_error() -> None:
    weirds = Weirds()
    arp = bytes.fromhex("ffffffffffff001122334455" "0806") + b"\0" * 28
    assert dec(1, arp, decoder=Decoder(weirds)) is None
    assert dec(147, bytes(TCP_PKT), decoder=Decoder(weirds)) is None
    assert weirds.counts == {"unsupported_linktype_147": 1}


@pytest.mark.parametrize("linktype", [0, 1, 9, 101, 113, 276])
def test_every_truncation_is_safe(linktype: int) -> None:
    frames = {
        0: struct.pack("<I", 2) + bytes(TCP_PKT),
        1: bytes(Ether() / Dot1Q(vlan=3) / TCP_PKT),
        9: bytes(PPP(proto=0x0021) / TCP_PKT),
        101: bytes(IPv6() / IPv6ExtHdrDestOpt() / TCP(sport=1, dport=2) / Raw(b"abc")),
        113: bytes(CookedLinux() / TCP_PKT),
        276: bytes(CookedLinuxV2(proto=0x0800) / TCP_PKT),
    }
    frame = frames[linktype]
    for cut in range(len(frame)):
        dec(linktype, frame[:cut])  # must not raise


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([0, 1, 9, 101, 108, 113, 276]), st.binary(max_size=200))
def test_garbage_never_raises(linktype: int, data: bytes) -> None:
    dec(linktype, data)
