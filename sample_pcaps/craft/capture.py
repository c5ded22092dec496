"""Captures being written: `Packet`s in file order, with the stream-offset tags that tell in
which frame a message becomes complete (`Capture.completion_frame`), and the pcap and pcapng
writers (struct, either byte order, µs or ns, gzip).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

SNAPLEN = 262144
SAMPLES = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
"""sample_pcaps/, where the generators write by default."""


@dataclass
class Packet:
    """One captured packet in file order."""

    ts_ns: int
    data: bytes
    iface: int = 0
    spb: bool = False
    """pcapng: written as a Simple Packet Block (no timestamp, interface 0)."""
    tag: tuple[str, str, int, int] | None = None
    """(flow id, direction "c"/"s", stream start offset, end offset) of TCP payload it carries;
    only the packet that makes the bytes available (last IPv4 fragment) is tagged."""
    comment: str | None = None


class Capture:
    """Packets in file order plus the bookkeeping to find where messages complete."""

    def __init__(self) -> None:
        self.packets: list[Packet] = []

    def add(self, pkt: Packet) -> int:
        """Append; returns the 1-based frame number."""
        self.packets.append(pkt)
        return len(self.packets)

    def completion_frame(self, flow_id: str, direction: str, end: int) -> int:
        """First frame (1-based) after which bytes [0, end) of that stream have all arrived."""
        have: list[tuple[int, int]] = []
        for n, p in enumerate(self.packets, 1):
            if p.tag is None or p.tag[0] != flow_id or p.tag[1] != direction:
                continue
            have.append((p.tag[2], p.tag[3]))
            have.sort()
            reach = 0
            for a, b in have:
                if a > reach:
                    break
                reach = max(reach, b)
            if reach >= end:
                return n
        raise ValueError(f"{flow_id}/{direction}: byte {end} never completed")


# --------------------------------------------------------------------------------------
# pcap
# --------------------------------------------------------------------------------------


def pcap_header(linktype: int, *, endian: str = "<", nanos: bool = False, snaplen: int = SNAPLEN) -> bytes:
    """A classic pcap file header: µs (0xa1b2c3d4) or ns (0xa1b23c4d) magic, either byte order."""
    return struct.pack(endian + "IHHiIII", 0xA1B23C4D if nanos else 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype)


def pcap_bytes(
    packets: Sequence[Packet], linktype: int, *, endian: str = "<", nanos: bool = False, snaplen: int = SNAPLEN
) -> bytes:
    """A classic pcap file: the header, then one record per packet."""
    out = [pcap_header(linktype, endian=endian, nanos=nanos, snaplen=snaplen)]
    for p in packets:
        sec, frac = divmod(p.ts_ns, 1_000_000_000)
        if not nanos:
            frac //= 1000
        n = len(p.data)
        out.append(struct.pack(endian + "IIII", sec, frac, min(n, snaplen), n) + p.data[:snaplen])
    return b"".join(out)


def write_pcap(
    path: str,
    packets: Sequence[Packet],
    linktype: int,
    *,
    endian: str = "<",
    nanos: bool = False,
    gz: bool = False,
) -> None:
    """Write a pcap file (gzip-compressed, with a fixed header mtime, if `gz`)."""
    data = pcap_bytes(packets, linktype, endian=endian, nanos=nanos)
    if gz:
        data = gzip.compress(data, compresslevel=9, mtime=0)
    with open(path, "wb") as fh:
        fh.write(data)


# --------------------------------------------------------------------------------------
# pcapng
# --------------------------------------------------------------------------------------

SHB_HARDWARE, SHB_OS, SHB_USERAPPL = 2, 3, 4


@dataclass(frozen=True)
class Interface:
    """A pcapng interface: link type, if_tsresol byte (6 = µs, 9 = ns, 0x80|n = 2^-n), name."""

    linktype: int
    tsresol: int | None = 6
    """None: no if_tsresol option (the pcapng default, µs)."""
    name: str | None = None
    description: str | None = None
    snaplen: int = SNAPLEN


def _opt(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + b"\x00" * (-len(value) % 4)


def _block(btype: int, body: bytes) -> bytes:
    body += b"\x00" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)


def _ts_units(tsresol: int | None) -> tuple[int, int]:
    """(numerator, denominator) turning ns into interface units: units = ns * num // den."""
    if tsresol is None:
        tsresol = 6
    if tsresol & 0x80:
        return 2 ** (tsresol & 0x7F), 1_000_000_000
    return 10**tsresol, 1_000_000_000


def pcapng_bytes(
    packets: Sequence[Packet], interfaces: Sequence[Interface], *, shb: dict[int, str] | None = None
) -> bytes:
    """A little-endian pcapng section: SHB, one IDB per interface, EPBs (or SPBs)."""
    opts = b"".join(_opt(c, v.encode()) for c, v in (shb or {}).items())
    out = [
        _block(
            0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + (opts + _opt(0, b"") if opts else b"")
        )
    ]
    for i in interfaces:
        o = b""
        if i.name:
            o += _opt(2, i.name.encode())
        if i.description:
            o += _opt(3, i.description.encode())
        if i.tsresol is not None:
            o += _opt(9, bytes([i.tsresol]))
        if o:
            o += _opt(0, b"")
        out.append(_block(1, struct.pack("<HHI", i.linktype, 0, i.snaplen) + o))
    for p in packets:
        n = len(p.data)
        if p.spb:
            assert p.iface == 0, "a Simple Packet Block belongs to interface 0"
            out.append(_block(3, struct.pack("<I", n) + p.data))
            continue
        num, den = _ts_units(interfaces[p.iface].tsresol)
        ts = p.ts_ns * num // den
        body = struct.pack("<IIIII", p.iface, ts >> 32, ts & 0xFFFFFFFF, n, n) + p.data
        body += b"\x00" * (-len(body) % 4)
        if p.comment:
            body += _opt(1, p.comment.encode()) + _opt(0, b"")
        out.append(_block(6, body))
    return b"".join(out)


def write_pcapng(
    path: str,
    packets: Sequence[Packet],
    interfaces: Sequence[Interface],
    *,
    shb: dict[int, str] | None = None,
) -> None:
    """Write a pcapng file."""
    with open(path, "wb") as fh:
        fh.write(pcapng_bytes(packets, interfaces, shb=shb))


# --------------------------------------------------------------------------------------
# what a generator writes
# --------------------------------------------------------------------------------------

Facts = dict[str, Any]
"""Planted facts: one JSON object of an expected file."""
Writer = Callable[[str, list[Packet]], None]
"""Writes a capture's packets to a path in one fixed format."""


def pcap_writer(linktype: int, **kw: Any) -> Writer:
    """A pcap writer with fixed link type and options."""
    return lambda path, pkts: write_pcap(path, pkts, linktype, **kw)


def pcapng_writer(ifaces: list[Interface], shb: dict[int, str]) -> Writer:
    """A pcapng writer with fixed interfaces."""
    return lambda path, pkts: write_pcapng(path, pkts, ifaces, shb=shb)


def output_dir(description: str, subdir: str = "") -> str:
    """The directory a generator writes to: its command line's --out DIR (default
    sample_pcaps/`subdir`), created if missing."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--out", default=os.path.join(SAMPLES, subdir) if subdir else SAMPLES)
    out: str = ap.parse_args().out
    os.makedirs(out, exist_ok=True)
    return out


def write_expected(path: str, doc: dict[str, Any]) -> None:
    """Write an expected file (or any planted facts): JSON, one-space indent, a final newline."""
    with open(path, "w") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")


SPAN_SHB = {SHB_HARDWARE: "SPAN clinical-core-sw1 Gi1/0/48", SHB_OS: "Linux 6.1",
            SHB_USERAPPL: "trustwatch sample_pcaps/generate.py"}
"""The section header of the hospital's pcapng captures: the sensor's SPAN port on the core switch."""
RADIOLOGY_SPAN = Interface(1, 6, "eth1", "SPAN radiology VLAN 30")
"""The pcapng interface of the radiology VLAN's SPAN (Ethernet, µs)."""
