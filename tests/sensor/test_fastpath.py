"""The bulk path (`sensor.fastpath`) must count exactly what the full path counts.

Benchmark-style captures (made by tests/bench/make_capture.py: bulk DICOM and TLS transfers,
802.1Q-tagged flows, UDP, TLS handshakes), as pcap and as pcapng, are read twice: as the sensor reads them, and with
the bulk path switched off so every packet takes the full path. Every flow's per-direction
packets, bytes, first and last time, and every observation, must be the same; small read
blocks put many records across block boundaries.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import sensor.capture
import sensor.sense
from sensor.encode import to_ecs
from sensor.flows import Flow
from sensor.sense import Sensor
from tests.conftest import ROOT


def flows_and_observations(path: Path) -> tuple[list[tuple[Any, ...]], list[Any]]:
    sensor_ = Sensor()
    flows: list[tuple[Any, ...]] = []
    conclude = sensor_._on_remove

    def record(flow: Flow, now: float) -> None:
        flows.append((flow.id.uid, tuple(flow.pkts), tuple(flow.bytes), flow.first, flow.last))
        conclude(flow, now)

    sensor_.table._on_remove = record
    observations = [(to_ecs(o), o.evidence.frames) for o in sensor_.read(str(path))]
    for doc, _frames in observations:
        del doc["trustwatch"]["evidence"]  # names the file; its frames are kept beside
    assert not sensor_.report.captures[0].warnings
    return sorted(flows), observations


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
    monkeypatch.setattr(sensor.capture, "READ_BLOCK", 1 << 16)
    fast = flows_and_observations(path)
    monkeypatch.setattr(sensor.sense, "count_done_flows", lambda _d, offsets, *_a: range(len(offsets)))
    full = flows_and_observations(path)
    assert len(fast[0]) > 20 and len(fast[1]) > 20
    assert fast == full
    frames = sum(p for _uid, pkts, _b, _f, _l in fast[0] for p in pkts)
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
    monkeypatch.setattr(sensor.capture, "READ_BLOCK", 1 << 16)
    fast = flows_and_observations(path)
    monkeypatch.setattr(sensor.sense, "count_done_flows", lambda _d, offsets, *_a: range(len(offsets)))
    assert fast == flows_and_observations(path)
    assert len(fast[0]) == len(flows) and sum(sum(pkts) for _u, pkts, _b, _f, _l in fast[0]) == len(packets)
