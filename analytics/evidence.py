"""The packets behind an alert (`trustwatch evidence`): its frames, or its whole connections,
copied out of the captures into one small pcap, and the Wireshark/tshark display filter that
selects them in the original capture.

An alert's evidence names each capture and frame numbers (1-based, as Wireshark numbers them;
at most `findings.MAX_EVIDENCE_FRAMES` per capture). Relative capture paths are read from the
directory the audit ran in (`runs.cwd`) when they are not found from here. The written pcap
has the frames in time order, with nanosecond times; its frames are numbered afresh, which is
why the filter is given for the original captures.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..sensor.capture import Capture, CaptureError
from ..sensor.decode import Decoder
from ..sensor.weird import Weirds

PCAP_NS_MAGIC = 0xA1B23C4D
SNAPLEN = 262144


class EvidenceError(Exception):
    """The evidence cannot be read or written (the message names the capture or file)."""


@dataclass(frozen=True, slots=True)
class Packets:
    """Frames taken from one capture."""

    capture: str
    """The capture as the alert names it."""
    numbers: tuple[int, ...]
    """Their frame numbers in it."""
    frames: tuple[tuple[float, int, bytes, int], ...]
    """(time, link type, bytes, original length) of each."""


def display_filter(frames: Iterable[int]) -> str:
    """tshark 4.0 / Wireshark display filter for `frames`: `frame.number in {392,393,400..410}`."""
    numbers = sorted(set(frames))
    parts: list[str] = []
    i = 0
    while i < len(numbers):
        j = i
        while j + 1 < len(numbers) and numbers[j + 1] == numbers[j] + 1:
            j += 1
        if j - i >= 2:
            parts.append(f"{numbers[i]}..{numbers[j]}")
        else:
            parts.extend(str(n) for n in numbers[i : j + 1])
        i = j + 1
    return "frame.number in {" + ",".join(parts) + "}"


def resolve_capture(capture: str, audit_dir: str | None) -> Path:
    """Where `capture` is: as written, else relative to the directory the audit ran in."""
    path = Path(capture)
    if not path.exists() and audit_dir and not path.is_absolute() and (Path(audit_dir) / path).exists():
        return Path(audit_dir) / path
    return path


def take(capture: str, path: Path, frames: Sequence[int], whole_flows: bool) -> Packets:
    """The frames `frames` of the capture at `path` or, `whole_flows`, every frame of their connections."""
    wanted = set(frames)
    try:
        cap = Capture(str(path))
    except (CaptureError, OSError) as e:
        raise EvidenceError(f"{path}: cannot read the capture: {e}") from None
    try:
        everything = list(cap.frames()) if whole_flows else []
        if whole_flows:
            decoder = Decoder(Weirds())
            keys = {_flow_key(decoder, f) for n, f in enumerate(everything, 1) if n in wanted} - {None}
            decoder = Decoder(Weirds())
            wanted = {n for n, f in enumerate(everything, 1) if _flow_key(decoder, f) in keys} | wanted
            chosen = [(n, f) for n, f in enumerate(everything, 1) if n in wanted]
        else:
            chosen = []
            for n, f in enumerate(cap.frames(), 1):
                if n in wanted:
                    chosen.append((n, f))
                    if len(chosen) == len(wanted):
                        break
    finally:
        cap.close()
    missing = wanted - {n for n, _f in chosen}
    if missing:
        raise EvidenceError(f"{path}: has no frame {min(missing)} (is it the capture the audit read?)")
    return Packets(capture, tuple(n for n, _f in chosen),
                   tuple((f[0], f[1], f[2], f[5]) for _n, f in chosen))


def _flow_key(decoder: Decoder, frame: tuple[float, int, bytes, int, int, int]) -> tuple[int, frozenset[bytes]] | None:
    """The connection of a frame, the same both ways: protocol and the two (address, port) ends."""
    ts, linktype, data, off, caplen, _wirelen = frame
    pkt = decoder.decode(ts, linktype, data, off, caplen)
    if pkt is None:
        return None
    return pkt.proto, frozenset((pkt.src + pkt.ports[:2], pkt.dst + pkt.ports[2:]))


def write_pcap(out: IO[bytes], packets: Sequence[Packets]) -> int:
    """All frames of `packets` in time order as one pcap (nanosecond times); how many. They must
    share one link type (a pcap has one)."""
    frames = sorted((f for p in packets for f in p.frames), key=lambda f: f[0])
    linktypes = {f[1] for f in frames}
    if len(linktypes) > 1:
        raise EvidenceError(f"the frames have several link types ({', '.join(map(str, sorted(linktypes)))}); "
                            "a pcap holds one: take the captures one at a time")
    out.write(struct.pack("<IHHiIII", PCAP_NS_MAGIC, 2, 4, 0, 0, SNAPLEN, linktypes.pop() if linktypes else 1))
    for ts, _linktype, data, wirelen in frames:
        ns = round(ts * 1e9)
        out.write(struct.pack("<IIII", ns // 10**9, ns % 10**9, len(data), wirelen))
        out.write(data)
    return len(frames)
