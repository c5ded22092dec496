"""Seed corpora for the fuzz targets, built when they are needed from the sample captures (and
the real captures in $TRUSTWATCH_REAL_PCAPS when present), never committed.

Each capture is read with the sensor's own reader, decoder and flow table (TCP put back in order):
every flow that some extractor's probe claims gives that extractor a conversation (its first
chunks, both directions) and the sensor a small capture of the flow's frames; runs of frames seed
the decoder, and the files' first bytes the capture reader.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import struct
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path

from tests.conftest import REAL_PCAPS, SAMPLES
from tests.fuzz.harness import BOUND, LINKTYPES, TARGETS, Chunk, conversation, frame_input
from trustwatch.sensor.capture import PCAP_US, Capture, CaptureError
from trustwatch.sensor.decode import IP_TCP, Decoder
from trustwatch.sensor.dispatch import PROBE_MIN
from trustwatch.sensor.flowid import Direction
from trustwatch.sensor.flows import TCP_SYN, Flow, FlowTable
from trustwatch.sensor.protocols.base import Extractor
from trustwatch.sensor.weird import Weirds

PER_TARGET = 48
"""Seeds kept per target, taken from the captures in turn (variety over volume)."""
CONVERSATION_BYTES = 6000
"""Payload kept per conversation (the extractors' targets take 8 KB inputs)."""
FLOW_FRAMES, FLOW_BYTES = 32, 12000
"""Frames of one flow kept for the sensor's seed capture (its target takes 16 KB)."""
HEAD_BYTES = 4096
"""First bytes of each capture file seeding the capture reader."""
DECODE_RUN, DECODE_RUNS = 4, 6
"""Consecutive frames per decoder seed, and seeds per capture."""

_PORTS = frozenset(p for cls in BOUND.values() for p in cls.ports)


def capture_files() -> list[Path]:
    """The sample captures, then the real ones (when present), each list in name order."""
    found = []
    for root in (SAMPLES, REAL_PCAPS):
        if root is not None:
            found += sorted(p for p in root.rglob("*") if p.name.endswith((".pcap", ".pcapng", ".pcap.gz")))
    return found


class _Flow:
    """What one flow of a capture seeds: its conversation and its frames."""

    __slots__ = ("chunks", "frames", "payload")

    def __init__(self) -> None:
        self.chunks: list[Chunk] = []
        self.frames: list[tuple[float, bytes]] = []
        self.payload = 0


def _flows(path: Path) -> tuple[int, list[tuple[Flow, _Flow]], list[tuple[int, float, bytes]]]:
    """A capture's link type (of its first frame), its flows in order of appearance and its frames."""
    table = FlowTable(_PORTS, lambda _flow, _now: None)
    decoder = Decoder(Weirds())
    flows: list[tuple[Flow, _Flow]] = []
    all_frames: list[tuple[int, float, bytes]] = []
    first_linktype = -1
    try:
        cap = Capture(str(path))
    except CaptureError:
        return first_linktype, flows, all_frames
    try:
        for ts, linktype, buf, off, caplen, _wire in cap.frames():
            frame = bytes(buf[off : off + caplen])
            all_frames.append((linktype, ts, frame))
            if first_linktype < 0:
                first_linktype = linktype
            pkt = decoder.decode(ts, linktype, frame, 0, caplen)
            if pkt is None:
                continue
            tcp = pkt.proto == IP_TCP
            entry = (table.tcp if tcp else table.udp).get(pkt.src + pkt.dst + pkt.ports)
            flow, d = entry if entry is not None else table.create(pkt, ts)
            if flow.session is None:
                flow.session = _Flow()
                flows.append((flow, flow.session))
            seen: _Flow = flow.session
            if linktype == first_linktype and len(seen.frames) < FLOW_FRAMES \
                    and sum(len(f) for _, f in seen.frames) + len(frame) <= FLOW_BYTES:
                seen.frames.append((ts, frame))
            if seen.payload >= CONVERSATION_BYTES:
                continue
            if tcp:
                assert flow.streams is not None
                parts = [data for data, _ in flow.streams[d].add(pkt.seq, bool(pkt.flags & TCP_SYN), pkt.payload,
                                                                 0, table)]
            else:
                parts = [pkt.payload] if pkt.payload else []
            for data in parts:
                data = data[: CONVERSATION_BYTES - seen.payload]
                seen.chunks.append((Direction(d), data))
                seen.payload += len(data)
    finally:
        cap.close()
    return first_linktype, flows, all_frames


def _claimed_by(flow: Flow, parts: list[Chunk]) -> type[Extractor] | None:
    """The extractor the dispatcher would attach, from the first direction's first segments,
    `PROBE_MIN` bytes at least (the extractors of the server's port asked first)."""
    if not parts:
        return None
    first, head = parts[0][0], b""
    for d, body in parts:
        if d == first and len(head) < PROBE_MIN:
            head += body
    port = flow.id.resp.port
    ordered = sorted((cls for cls in BOUND.values() if flow.id.transport in cls.transports),
                     key=lambda cls: port not in cls.ports)
    return next((cls for cls in ordered if cls.probe(head)), None)


def _pcap(linktype: int, records: Iterable[tuple[float, bytes]]) -> bytes:
    out = bytearray(struct.pack("<IHHiIII", PCAP_US, 2, 4, 0, 0, 65535, linktype))
    for ts, frame in records:
        sec = int(ts)
        out += struct.pack("<IIII", sec, int((ts - sec) * 1e6), len(frame), len(frame)) + frame
    return bytes(out)


def _decode_runs(frames: list[tuple[int, float, bytes]]) -> Iterator[bytes]:
    """Runs of consecutive frames spread over the capture, each under the decoder's 4 KB."""
    if not frames:
        return
    step = max(1, len(frames) // DECODE_RUNS)
    for start in range(0, len(frames), step):
        out = b""
        before = frames[start][1]
        for linktype, ts, frame in frames[start : start + DECODE_RUN]:
            if linktype not in LINKTYPES:
                continue
            one = frame_input(linktype, min(15, max(0, int(ts - before))), frame)
            if len(out) + len(one) > TARGETS["decode"].max_len:
                break
            out += one
            before = ts
        if out:
            yield out


def build(paths: Iterable[Path] | None = None) -> dict[str, list[bytes]]:
    """Seed inputs per target name, from `paths` (default: `capture_files()`)."""
    per_capture: dict[str, list[list[bytes]]] = defaultdict(list)
    for path in capture_files() if paths is None else paths:
        found: dict[str, list[bytes]] = defaultdict(list)
        linktype, flows, frames = _flows(path)
        for flow, seen in flows:
            cls = _claimed_by(flow, seen.chunks)
            if cls is None:
                continue
            found[f"extractor-{cls.name}"].append(conversation(flow.id.transport == "udp", seen.chunks))
            if seen.frames:
                found["sensor"].append(_pcap(linktype, seen.frames))
        head = path.read_bytes()[:HEAD_BYTES]
        found["capture"].append(head)
        if not path.name.endswith(".gz"):
            found["capture"].append(gzip.compress(head, mtime=0))
            if path.name.endswith(".pcapng"):
                found["sensor"].append(path.read_bytes()[: TARGETS["sensor"].max_len])
        found["decode"] += _decode_runs(frames)
        for name, inputs in found.items():
            per_capture[name].append(inputs)
    return {name: _take(lists) for name, lists in per_capture.items()}


def _take(lists: list[list[bytes]]) -> list[bytes]:
    """Up to `PER_TARGET` distinct inputs, the first of every capture, then the second..."""
    out: dict[bytes, None] = {}
    for row in itertools.zip_longest(*lists):
        for data in row:
            if data is not None and len(out) < PER_TARGET:
                out.setdefault(data)
    return list(out)


def write(directory: Path, inputs: Iterable[bytes]) -> int:
    """Inputs as files named by their SHA-1, as libFuzzer names its corpus; how many."""
    directory.mkdir(parents=True, exist_ok=True)
    n = 0
    for data in inputs:
        (directory / hashlib.sha1(data).hexdigest()).write_bytes(data)
        n += 1
    return n
