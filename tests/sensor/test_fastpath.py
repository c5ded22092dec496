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
