"""Hostile input end to end: what once ended a run (a probe's IndexError, a pcapng clock out of
datetime's range) is counted, and every capture after it is still read."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import wrpcap

from tests.conftest import SAMPLES
from trustwatch.analytics.cli import main
from trustwatch.sensor.capture import TIME_MAX, Capture
from trustwatch.sensor.sense import Sensor

INVENTORY = ("asset_id,mac,ip,hostname,manufacturer,model,firmware,department,clinical_function,status\n"
             "WS-9,,10.99.0.9,ws9,Dell,OptiPlex,1,IT,workstation,active\n")


def pcapng_block(btype: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    return struct.pack("<II", btype, len(body) + 12) + body + struct.pack("<I", len(body) + 12)


def as_pcapng(source: Path, target: Path, tsresol: int | None, scale: int = 10**6, shift: int = 0) -> None:
    """`source`'s Ethernet frames in a pcapng whose interface has `if_tsresol` (None: the
    default µs), each timestamp written as `ts * scale + shift` units."""
    opts = b"" if tsresol is None else struct.pack("<HH", 9, 1) + bytes([tsresol]) + b"\0\0\0" + b"\0" * 4
    blocks = [pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)),
              pcapng_block(1, struct.pack("<HHI", 1, 0, 0) + opts)]
    cap = Capture(str(source))
    for ts, _lt, buf, off, n, wire in cap.frames():
        units = int(ts * scale) + shift
        blocks.append(pcapng_block(6, struct.pack("<IIIII", 0, units >> 32 & 0xFFFFFFFF, units & 0xFFFFFFFF, n, wire)
                                   + bytes(buf[off:off + n])))
    cap.close()
    target.write_bytes(b"".join(blocks))


@pytest.mark.parametrize(("tsresol", "shift"), [(0, 0), (None, 1 << 62)])
def test_out_of_range_packet_times_are_clamped_and_later_captures_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tsresol: int | None, shift: int
) -> None:
    """`if_tsresol` 0 (whole seconds) with µs values, or a huge timestamp: far past year 9999.
    The audit clamps, warns, and reads the next capture too."""
    bad = tmp_path / "clock.pcapng"
    as_pcapng(SAMPLES / "credentials" / "cred-ftp.pcap", bad, tsresol, shift=shift)
    inventory = tmp_path / "inventory.csv"
    inventory.write_text(INVENTORY)
    alerts = tmp_path / "alerts.jsonl"
    code = main(["audit", str(bad), str(SAMPLES / "credentials" / "cred-ldap.pcap"), "--inventory", str(inventory),
                 "--alerts", str(alerts), "--state", str(tmp_path / "s.db"), "--key-file", str(tmp_path / "k"),
                 "--fail-on", "never"])
    assert code == 0
    err = capsys.readouterr().err
    assert "clock.pcapng" in err and "clamped" in err
    docs = [json.loads(line) for line in alerts.read_text().splitlines()]
    protocols = {d["network"]["protocol"] for d in docs if d["rule"]["id"] == "cleartext-credential"}
    assert {"ftp", "ldap"} <= protocols
    clamped = [d for d in docs if d["network"]["protocol"] == "ftp"]
    assert all(d["@timestamp"].startswith("9999-12-31T23:59:59") for d in clamped)


def test_clamped_times_are_counted(tmp_path: Path) -> None:
    bad = tmp_path / "clock.pcapng"
    as_pcapng(SAMPLES / "credentials" / "cred-ftp.pcap", bad, 0)
    sensor = Sensor()
    observations = list(sensor.read(str(bad)))
    assert observations and all(o.ts == TIME_MAX for o in observations)
    assert sensor.weirds.counts["capture_time_out_of_range"] > 0


def test_eight_bytes_that_once_killed_the_ldap_probe(tmp_path: Path) -> None:
    """`30 85 00 00 00 00 00 02` to any port: no exception leaves the sensor, and a login on
    another connection in the same capture is still reported."""
    client, server = "10.1.1.5", "10.1.1.9"
    base = Ether(src="02:00:00:00:00:05", dst="02:00:00:00:00:09") / IP(src=client, dst=server)
    frames = [
        base / TCP(sport=40000, dport=3268, flags="S", seq=100),
        base / TCP(sport=40000, dport=3268, flags="PA", seq=101, ack=1) / Raw(bytes.fromhex("3085000000000002")),
        base / TCP(sport=40001, dport=21, flags="S", seq=500),
        base / TCP(sport=40001, dport=21, flags="PA", seq=501, ack=1) / Raw(b"USER nurse\r\n"),
        base / TCP(sport=40001, dport=21, flags="PA", seq=513, ack=1) / Raw(b"PASS not-a-real-one\r\n"),
    ]
    path = tmp_path / "eight.pcap"
    wrpcap(str(path), frames)
    observations = list(Sensor().read(str(path)))
    users = [getattr(o, "username", None) for o in observations]
    assert "nurse" in users
