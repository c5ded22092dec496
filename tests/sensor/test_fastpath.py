"""The bulk path (`sensor.fastpath.count_done`) must count exactly what the full path counts.

Captures are read twice: as the sensor reads them, and with the bulk path switched off so every
packet takes the full path. Every flow's per-direction packets, bytes, first and last time and
addresses with their MACs, every observation, the undecoded frames and the weirds must be the
same, and the bulk path must have taken most of the packets; small read blocks put many
records across block boundaries. Benchmark-style captures (tests/bench/make_capture.py: bulk
DICOM and TLS transfers, 802.1Q-tagged flows, UDP, TLS handshakes) as pcap and pcapng, and
crafted frames at the edges of what the bulk path may count.
"""

from __future__ import annotations

import itertools
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

import trustwatch.sensor.capture
import trustwatch.sensor.sense
from tests.conftest import ROOT
from trustwatch.sensor.ecs import to_ecs
from trustwatch.sensor.fastpath import count_done
from trustwatch.sensor.flows import Flow
from trustwatch.sensor.sense import Sensor


def flows_and_observations(path: Path) -> tuple[list[tuple[Any, ...]], list[Any], Any]:
    """Each flow as it left the table, the observations, and what the full path could not
    decode (frames, weirds)."""
    sensor_ = Sensor()
    flows: list[tuple[Any, ...]] = []
    conclude = sensor_._on_remove

    def record(flow: Flow, now: float) -> None:
        flows.append((flow.id.uid, str(flow.id), tuple(flow.pkts), tuple(flow.bytes), flow.first, flow.last,
                      flow.closed))
        conclude(flow, now)

    sensor_.table._on_remove = record
    observations = [(to_ecs(o), o.evidence.frames) for o in sensor_.read(str(path))]
    for doc, _frames in observations:
        del doc["trustwatch"]["evidence"]  # names the file; its frames are kept beside
    assert not sensor_.report.captures[0].warnings
    return sorted(flows), observations, (sensor_.report.undecoded, sensor_.report.weirds.summary())


def full_path_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every frame through the full path."""
    monkeypatch.setattr(trustwatch.sensor.sense, "count_done", lambda _data, offsets, indices, _big, _countable: (
        list(range(len(offsets))) if indices is None else indices, []))


def bulk_share(path: Path) -> float:
    """The share of a capture's frames the bulk path counted."""
    sensor_ = Sensor()
    slow = sensor_._slow
    calls = []

    def counted_slow(*args: Any) -> bool:
        calls.append(1)
        return slow(*args)

    sensor_._slow = counted_slow  # type: ignore[method-assign, assignment]
    list(sensor_.read(str(path)))
    return 1 - len(calls) / sensor_.report.frames


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
@pytest.mark.parametrize("mix", ["hospital", "small"])
def test_bulk_path_counts_like_the_full_path(mix: str, fmt: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / f"{mix}.pcap"
    subprocess.run([sys.executable, str(ROOT / "tests" / "bench" / "make_capture.py"), "--size", "3M",
                    "--mix", mix, "-o", str(path)], check=True, capture_output=True)
    if fmt == "pcapng":  # Wireshark's converter writes Enhanced Packet Blocks
        subprocess.run(["editcap", "-F", "pcapng", str(path), str(path.with_suffix(".pcapng"))], check=True)
        path = path.with_suffix(".pcapng")
    monkeypatch.setattr(trustwatch.sensor.capture, "READ_BLOCK", 1 << 16)
    fast = flows_and_observations(path)
    assert bulk_share(path) > {"hospital": 0.8, "small": 0.5}[mix]  # the small mix is mostly short connections
    full_path_only(monkeypatch)
    full = flows_and_observations(path)
    assert len(fast[0]) > 20 and len(fast[1]) > 20
    assert fast == full
    frames = sum(p for _uid, _id, pkts, _b, _f, _l, _c in fast[0] for p in pkts)
    assert frames > 2000


def test_ipv6_and_tagged_flows_count_like_the_full_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """IPv6 (TCP and UDP) and 802.1Q-tagged flows, interleaved: every layout the bulk path
    classifies, each flow done early (unidentified bytes or datagrams past the budgets)."""
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Dot1Q, Ether
    from scapy.utils import wrpcap

    def eth(tag: int | None) -> Any:
        head = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        return head / Dot1Q(vlan=tag) if tag else head

    flows = [
        (None, IPv6(src="fd00::1", dst="fd00::2"), "tcp"),
        (42, IPv6(src="fd00::3", dst="fd00::4"), "tcp"),
        (None, IPv6(src="fd00::5", dst="fd00::6"), "udp"),
        (43, IPv6(src="fd00::7", dst="fd00::8"), "udp"),
        (44, IP(src="10.0.0.1", dst="10.0.0.2"), "tcp"),
        (45, IP(src="10.0.0.3", dst="10.0.0.4"), "udp"),
    ]
    packets = []
    for n in range(400):
        for k, (tag, ip, kind) in enumerate(flows):
            sport, dport = 40000 + k, 9000 + k
            if kind == "udp":
                packets.append(eth(tag) / ip / UDP(sport=sport, dport=dport) / bytes(200))
                continue
            if n == 0:
                packets.append(eth(tag) / ip / TCP(sport=sport, dport=dport, flags="S", seq=0))
                continue
            packets.append(eth(tag) / ip / TCP(sport=sport, dport=dport, flags="A", seq=1 + (n - 1) * 500)
                           / bytes(500))
    for i, p in enumerate(packets):
        p.time = 1_700_000_000 + i / 1000
    path = tmp_path / "v6.pcap"
    wrpcap(str(path), packets)
    monkeypatch.setattr(trustwatch.sensor.capture, "READ_BLOCK", 1 << 16)
    fast = flows_and_observations(path)
    assert bulk_share(path) > 0.8
    full_path_only(monkeypatch)
    assert fast == flows_and_observations(path)
    assert len(fast[0]) == len(flows) and sum(sum(pkts) for _u, _id, pkts, _b, _f, _l, _c in fast[0]) == len(packets)


def edge_capture(path: Path) -> None:
    """Four flows made done by 300 rounds of unidentified payload (a TCP connection behind a
    router, IPv6 TCP, UDP behind two VLAN tags, VXLAN carrying UDP), then, between rounds,
    frames the bulk path must leave to the full path or count exactly as it would: the
    server's first frame (it tells the server's own MAC), a bad TCP data offset, an IPv4 total
    length of 0 (segmentation offload) and one under 20, Ethernet padding, frames cut by the
    snaplen inside and after the TCP header, an IPv4 fragment, a FIN and a RST closing done
    flows, a new connection on the ports of a done one, and its FIN."""
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Dot1AD, Dot1Q, Ether
    from scapy.layers.vxlan import VXLAN

    client, router, server = "02:00:00:00:00:01", "02:00:00:00:00:fe", "02:00:00:00:00:02"
    a_out = Ether(src=client, dst=router) / IP(src="10.1.0.1", dst="10.2.0.1")
    a_back = Ether(src=server, dst=client) / IP(src="10.2.0.1", dst="10.1.0.1")
    b_out = Ether(src=client, dst=server) / IPv6(src="fd00::1", dst="fd00::2")
    c_out = Ether(src=client, dst=server) / Dot1AD(vlan=100) / Dot1Q(vlan=200) / IP(src="10.3.0.1", dst="10.3.0.2")
    d_out = (Ether(src=client, dst=server) / IP(src="10.4.0.1", dst="10.4.0.2") / UDP(sport=50000, dport=4789)
             / VXLAN(vni=7) / Ether(src=client, dst=server) / IP(src="10.5.0.1", dst="10.5.0.2"))

    def tcp(head: Any, n: int, payload: int = 500, flags: str = "A", **kw: Any) -> bytes:
        sport, dport = (40000, 9000) if head is not a_back else (9000, 40000)
        return bytes(head / TCP(sport=sport, dport=dport, flags=flags, seq=1 + n * 500, **kw) / bytes(payload))

    def patched(frame: bytes, at: int, value: bytes) -> bytes:
        return frame[:at] + value + frame[at + len(value):]

    edges: dict[int, list[tuple[bytes, int]]] = {  # round -> (frame, caplen) after it
        120: [(tcp(a_back, 0, 0), 0)],
        130: [(patched(tcp(a_out, 130), 14 + 20 + 12, b"\x40"), 0)],  # data offset 4
        140: [(patched(tcp(a_out, 140), 14 + 2, b"\0\0"), 0)],  # total length 0
        150: [(patched(tcp(a_out, 150), 14 + 2, b"\0\x0a"), 0)],  # total length 10
        160: [(tcp(a_out, 160, 0) + bytes(20), 0)],  # 20 bytes of Ethernet padding
        170: [(tcp(a_out, 170), 60), (tcp(a_out, 171), 50), (tcp(b_out, 170), 74), (tcp(b_out, 171), 68)],
        180: [(bytes(a_out / IP(flags="MF", proto=6) / bytes(40)), 0)],
        200: [(tcp(b_out, 200, 0, "FA"), 0)],
        220: [(tcp(a_out, 220, 0, "R"), 0)],
        250: [(tcp(a_out, 250, 0, "S"), 0)],  # the done connection's ports reused by a new one
        299: [(tcp(a_out, 300, 0, "FA"), 0)],
    }
    records = []
    for n in range(300):
        records += [(tcp(a_out, n), 0), (tcp(b_out, n), 0),
                    (bytes(c_out / UDP(sport=40001, dport=9001) / bytes(200)), 0),
                    (bytes(d_out / UDP(sport=40002, dport=9002) / bytes(100)), 0)]
        records += edges.get(n, [])
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, (frame, caplen) in enumerate(records):
            kept = frame[: caplen or len(frame)]
            f.write(struct.pack("<IIII", 1_700_000_000 + i // 1000, i % 1000 * 1000, len(kept), len(frame)) + kept)


def test_edge_frames_count_like_the_full_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "edges.pcap"
    edge_capture(path)
    monkeypatch.setattr(trustwatch.sensor.capture, "READ_BLOCK", 1 << 15)
    fast = flows_and_observations(path)
    assert bulk_share(path) > 0.55  # a quarter of the frames are VXLAN: the full path opens the tunnel
    full_path_only(monkeypatch)
    assert fast == flows_and_observations(path)
    flows, _observations, (undecoded, weirds) = fast
    assert len(flows) == 5  # A twice, B, C, and the flow inside the VXLAN tunnel (the outer one is none)
    tcp_a = next(f for f in flows if "10.1.0.1" in f[1] and f[2][1])
    assert "02-00-00-00-00-02" in tcp_a[1]  # the server's own MAC, not the router's
    assert undecoded >= 4 and any("tcp_bad_header_len" in w for w in weirds)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.lists(st.integers(-5, 420), max_size=20), st.booleans())
def test_count_done_takes_any_bytes_and_offsets(block: bytes, offsets: list[int], big_endian: bool) -> None:
    """Garbage records, offsets past the end or negative: every packet is either sent to the
    full path or counted once, into what `countable` gave for its key."""
    keys: list[tuple[bool, bytes]] = []

    def countable(tcp: bool, key: bytes) -> int:
        keys.append((tcp, key))
        assert len(key) in (12, 36)
        return len(keys) - 1

    full, counted = count_done(block, offsets, None, big_endian, countable)
    assert full == sorted(full) and len(set(full)) == len(full)
    assert len(full) + sum(packets for _target, packets, _wire, _last, _closing in counted) == len(offsets)
    assert sorted(target for target, *_ in counted) == list(range(len(keys)))


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_count_done_on_some_records_is_count_done_on_their_offsets(data: st.DataObject) -> None:
    """Counting the records at some indices (a run counted again) gives what counting a list
    of just their offsets gives, with the indices mapped back."""
    frames = [bytes(Ether() / IP(src=f"10.0.0.{n % 4}", dst="10.0.1.1")
                    / (TCP(sport=40000, dport=443, flags="A") if n % 2 else UDP(sport=40000, dport=53))
                    / bytes(n)) for n in range(40)]
    block = b"".join(struct.pack("<IIII", 0, 0, len(f), len(f)) + f for f in frames)
    offsets = list(itertools.accumulate([0] + [16 + len(f) for f in frames[:-1]]))
    keys: list[bytes] = []
    count_done(block, offsets, None, False, lambda _tcp, key: keys.append(key))
    assert len(keys) >= 2
    indices = sorted(data.draw(st.sets(st.integers(0, len(offsets) - 1))))
    done = data.draw(st.sets(st.sampled_from(keys)))

    def countable(_tcp: bool, key: bytes) -> bytes | None:
        return key if key in done else None

    full, counted = count_done(block, offsets, indices, False, countable)
    just_full, just_counted = count_done(block, [offsets[i] for i in indices], None, False, countable)
    assert full == [indices[j] for j in just_full]
    assert [row[:3] for row in counted] == [row[:3] for row in just_counted]
    with pytest.raises(IndexError):
        count_done(block, offsets, [len(offsets)], False, countable)


def test_count_done_passes_on_what_countable_raises() -> None:
    frame = bytes(Ether() / IP() / UDP() / bytes(10))
    record = struct.pack("<IIII", 0, 0, len(frame), len(frame)) + frame

    def countable(_tcp: bool, _key: bytes) -> None:
        raise LookupError("table gone")

    with pytest.raises(LookupError, match="table gone"):
        count_done(record, [0], None, False, countable)
