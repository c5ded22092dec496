"""The fuzz targets: one function per target name that takes the fuzzer's bytes and raises only on
a finding, an exception the sensor's contracts do not allow or a broken invariant.

* `extractor-<name>`, one per extractor in `EXTRACTORS`: the bytes are a conversation (`chunks`),
  probed and parsed the way `sensor.dispatch` does it. `probe` never raises; `parse` returns
  `([], 0)` while the input is incomplete or raises only `ParseError`; `close` never raises; every
  observation encodes as its JSON line; every weird is named `<proto>_<problem>`.
* `capture`: the bytes are a file for `Capture` (pcap, pcapng, gzip): only `CaptureError`, every
  record lies inside its block, every packet time is in range.
* `sensor`: the bytes are a capture file for `Sensor().read`: nothing raises, no extractor bug is
  counted, every observation encodes.
* `decode`: the bytes are frames of any link type (`frames`) for one `Decoder`: nothing raises,
  every packet it returns is whole TCP or UDP.

No atheris here: `tests/fuzz/run.py` instruments and fuzzes these, the tests replay inputs in-process.
"""

from __future__ import annotations

import io
import math
import os
import re
import struct
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

from trustwatch.sensor.capture import TIME_MAX, TIME_MIN, Capture, CaptureError
from trustwatch.sensor.decode import (
    IP_TCP,
    IP_UDP,
    LINKTYPE_ETHERNET,
    LINKTYPE_IPV4,
    LINKTYPE_IPV6,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_LOOP,
    LINKTYPE_NULL,
    LINKTYPE_PPP,
    LINKTYPE_PPP_HDLC,
    LINKTYPE_RAW,
    LINKTYPE_RAW_BSD,
    Decoder,
)
from trustwatch.sensor.dispatch import MAX_UDP_PROBES, PROBE_MIN
from trustwatch.sensor.ecs import write_jsonl
from trustwatch.sensor.flowid import Direction, Endpoint, FlowId
from trustwatch.sensor.protocols import EXTRACTORS
from trustwatch.sensor.protocols.base import Extractor, ParseError
from trustwatch.sensor.records import Observation
from trustwatch.sensor.sense import Sensor
from trustwatch.sensor.siterules import load_sensor_rules
from trustwatch.sensor.weird import Weirds


class Finding(AssertionError):
    """A broken contract that raised nothing by itself (a bad return value, a counted bug)."""


# --- input layouts ----------------------------------------------------------------------------

UDP_FLAG = 0x01
"""First byte of a conversation: bit 0 asks for UDP where the extractor speaks both."""
RESP_BIT = 0x8000
"""A chunk's 2-byte header: the top bit is the direction (set: the server's), the rest its length."""
Chunk = tuple[Direction, bytes]


def chunks(data: bytes) -> tuple[bool, list[Chunk]]:
    """A conversation: one flags byte, then chunks of a 2-byte header and that many bytes (the
    last one may be cut short by the end of the input)."""
    udp = bool(data[:1] and data[0] & UDP_FLAG)
    out: list[Chunk] = []
    pos = 1
    while pos + 2 <= len(data):
        head = struct.unpack_from(">H", data, pos)[0]
        body = data[pos + 2 : pos + 2 + (head & ~RESP_BIT)]
        out.append((Direction.RESP if head & RESP_BIT else Direction.ORIG, body))
        pos += 2 + len(body)
    return udp, out


def conversation(udp: bool, parts: list[Chunk]) -> bytes:
    """The input `chunks` reads back as `udp, parts` (each part under 32 KB)."""
    out = bytearray([UDP_FLAG if udp else 0])
    for direction, body in parts:
        out += struct.pack(">H", len(body) | (RESP_BIT if direction == Direction.RESP else 0)) + body
    return bytes(out)


LINKTYPES = (
    LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2,
    LINKTYPE_NULL, LINKTYPE_LOOP, LINKTYPE_PPP, LINKTYPE_PPP_HDLC, *LINKTYPE_RAW_BSD, 147,  # 147: not decoded
)
"""A frame's link type by the low 4 bits of its first header byte (modulo this many)."""
Frame = tuple[int, float, bytes]
"""(link type, seconds since the frame before, bytes)."""


def frames(data: bytes) -> list[Frame]:
    """Frames: each a header byte (link type in the low 4 bits, 0-15 seconds since the frame
    before in the high 4: fragments can time out), a 2-byte length and the frame."""
    out: list[Frame] = []
    pos = 0
    while pos + 3 <= len(data):
        head, length = struct.unpack_from(">BH", data, pos)
        frame = data[pos + 3 : pos + 3 + length]
        out.append((LINKTYPES[(head & 0x0F) % len(LINKTYPES)], float(head >> 4), frame))
        pos += 3 + len(frame)
    return out


def frame_input(linktype: int, gap: int, frame: bytes) -> bytes:
    """One frame as `frames` reads it (`linktype` one of `LINKTYPES`, `gap` 0-15 seconds)."""
    return struct.pack(">BH", LINKTYPES.index(linktype) | gap << 4, len(frame)) + frame


# --- targets ----------------------------------------------------------------------------------

_RULES = load_sensor_rules()
BOUND: dict[str, type[Extractor]] = {cls.name: cls.bound(_RULES) for cls in EXTRACTORS}
"""Every extractor as the sensor binds it (API-key names, the remote-access catalog)."""


def _flow(cls: type[Extractor], udp: bool) -> FlowId:
    transport = "udp" if (udp and "udp" in cls.transports) or "tcp" not in cls.transports else "tcp"
    port = min(cls.ports, default=9)
    return FlowId(uid="Cfuzz", transport=transport, orig=Endpoint("10.0.0.1", 40000, "02-00-00-00-00-01"),
                  resp=Endpoint("10.0.0.2", port, "02-00-00-00-00-02"))


def _encode(found: object) -> None:
    """Observations as the sensor writes them; anything else is a finding."""
    if not isinstance(found, list | tuple):
        raise Finding(f"parse returned {type(found).__name__}, not a sequence of observations")
    for obs in found:
        if not isinstance(obs, Observation):
            raise Finding(f"parse returned a {type(obs).__name__}, not an Observation")
        write_jsonl([obs], io.StringIO())


WEIRD_NAME = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)+")
"""`<proto>_<problem>`: a weird is a metric's label, never a piece of the input."""


def _weirds(names: list[str]) -> None:
    """The weirds a parse left (a name each), cleared as the dispatcher clears them."""
    for name in names:
        if not (isinstance(name, str) and len(name) <= 64 and WEIRD_NAME.fullmatch(name)):
            raise Finding(f"weird name {name!r} is not <proto>_<problem>")
    names.clear()


def _probe(cls: type[Extractor], udp: bool, parts: list[Chunk]) -> None:
    """What the dispatcher shows `probe` before a flow is identified: each datagram (UDP); over
    TCP each direction's bytes at every segment boundary, `PROBE_MIN` at least, and a segment
    alone when the short bytes before it were a message of their own."""
    heads: list[bytes] = []
    pending = [b"", b""]
    for direction, body in parts[:MAX_UDP_PROBES]:
        if udp:
            heads.append(body)
            continue
        head = pending[direction.value] + body
        if len(head) < PROBE_MIN:
            pending[direction.value] = head
            continue
        pending[direction.value] = b""
        heads.append(head)
        if len(head) > len(body) >= PROBE_MIN:
            heads.append(body)
    heads += [head for head in pending if head]  # streams that end short
    for head in heads:
        claimed = cls.probe(head)
        if not isinstance(claimed, bool):
            raise Finding(f"probe returned {claimed!r}")


def run_extractor(cls: type[Extractor], data: bytes) -> None:
    """Probe, then parse every chunk and close, as `Dispatcher` does."""
    udp, parts = chunks(data)
    flow = _flow(cls, udp)
    udp = flow.transport == "udp"
    _probe(cls, udp, parts)
    ext = cls()
    bufs = [b"", b""]
    inspected = [0, 0]
    stopped = [False, False]
    for ts, (direction, body) in enumerate(parts):
        d = direction.value
        if stopped[d]:
            continue
        bufs[d] += body
        while bufs[d] and not stopped[d]:
            try:
                found, used = ext.parse(flow, direction, float(ts), bufs[d])
            except ParseError as e:
                _weirds([str(e)])
                stopped[d] = True
                break
            _weirds(ext.weirds)
            if not isinstance(used, int) or used < 0 or used > len(bufs[d]):
                raise Finding(f"parse used {used!r} of {len(bufs[d])} bytes")
            _encode(found)
            if used == 0:
                if found:
                    raise Finding("parse returned observations without using any bytes: the dispatcher drops them")
                if len(bufs[d]) > ext.budget:
                    stopped[d] = True
                break
            bufs[d] = bufs[d][used:]
            inspected[d] += used
            if ext.upgraded or ext.finished:
                stopped = [True, True]
            elif inspected[d] >= ext.budget:
                stopped[d] = True
        if all(stopped):
            break
    _encode(list(ext.close(flow, float(len(parts)))))
    _weirds(ext.weirds)


_FILES = tempfile.mkdtemp(prefix="trustwatch-fuzz-")
"""Where the file targets write their input (one file per process, rewritten each time)."""


def _as_file(data: bytes) -> str:
    path = os.path.join(_FILES, "input.pcap")
    with open(path, "wb") as f:
        f.write(data)
    return path


def run_capture(data: bytes) -> None:
    """Read a file of these bytes to its end, checking each run of records."""
    try:
        cap = Capture(_as_file(data))
    except CaptureError:
        return
    try:
        for run in cap.runs():
            record = struct.Struct(run.endian + "IIII")
            for pos in run.offsets:
                if pos < 0 or pos + 16 > len(run.data):
                    raise Finding(f"record header at {pos} outside its block of {len(run.data)} bytes")
                a, b, caplen, _wirelen = record.unpack_from(run.data, pos)
                if pos + 16 + caplen > len(run.data):
                    raise Finding(f"record at {pos} ({caplen} bytes) runs past its block of {len(run.data)} bytes")
                ts = run.stamp(a, b)
                if not (isinstance(ts, float) and math.isfinite(ts) and TIME_MIN <= ts <= TIME_MAX):
                    raise Finding(f"packet time {ts!r} out of range")
    finally:
        cap.close()


def run_sensor(data: bytes) -> None:
    """The whole sensor on a file of these bytes, its observations written as JSON lines."""
    sensor = Sensor()
    write_jsonl(sensor.read(_as_file(data)), io.StringIO())
    bugs = sorted(name for name in sensor.weirds.counts if name.startswith("extractor_bug_"))
    if bugs:
        raise Finding(f"extractor bugs counted: {', '.join(bugs)}")


def run_decode(data: bytes) -> None:
    """One decoder (fragments reassemble across frames) over every frame."""
    decoder = Decoder(Weirds())
    ts = 0.0
    for linktype, gap, frame in frames(data):
        ts += gap
        pkt = decoder.decode(ts, linktype, frame, 0, len(frame))
        if pkt is None:
            continue
        if pkt.proto not in (IP_TCP, IP_UDP) or len(pkt.ports) != 4 or len(pkt.src) not in (4, 16) \
                or len(pkt.dst) != len(pkt.src) or not isinstance(pkt.payload, bytes):
            raise Finding(f"decoded a broken packet: proto {pkt.proto}, ports {pkt.ports!r}, "
                          f"addresses {pkt.src!r} {pkt.dst!r}")


@dataclass(frozen=True, slots=True)
class Target:
    """One fuzz target."""

    name: str
    run: Callable[[bytes], None]
    max_len: int
    """Longest input the fuzzer makes (libFuzzer's -max_len)."""


def _extractor_target(cls: type[Extractor]) -> Target:
    return Target(f"extractor-{cls.name}", lambda data: run_extractor(cls, data), 8192)


TARGETS: dict[str, Target] = {t.name: t for t in (
    *(_extractor_target(cls) for cls in BOUND.values()),
    Target("capture", run_capture, 16384),
    Target("sensor", run_sensor, 16384),
    Target("decode", run_decode, 4096),
)}
