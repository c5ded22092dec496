"""The sensor's main loop: captures in, Observations out.

The per-packet loop lives in one place: the record walk in `capture.Capture`, then
`Sensor._run` per run of records. Frames of flows that are already done (the common case: bulk
transfer after the handshake) are only counted, a run at a time, by `fastpath.count_done`; every
other frame goes through `Decoder`, `FlowTable` and `Dispatcher`. The record walk and the
counting are compiled (`sensor/fastpath.c`): they are the only work done for every packet.
"""

from __future__ import annotations

import os
import struct
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from .capture import Capture, CaptureError, Records
from .decode import IP_TCP, LINKTYPE_ETHERNET, Decoder
from .dispatch import Dispatcher
from .fastpath import count_done
from .flows import TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, Flow, FlowTable
from .protocols import EXTRACTORS
from .protocols.base import Extractor
from .records import Observation
from .remote_access_tracker import RemoteAccessTracker
from .secrets import EPHEMERAL, SecretHasher
from .siterules import load_sensor_rules
from .weird import Weirds
from .yamlfile import RULES_DIR

CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".pcap.gz", ".pcapng.gz", ".cap.gz")
"""Files taken from a directory; files named on the command line are always tried."""
PROGRESS_EVERY = 1 << 16
"""Frames between two progress reports."""
RECOUNT_AFTER = 8
"""After a flow's inspection finishes, what is left of a run is counted again once a
`1/RECOUNT_AFTER` share of what the last count left is through."""


@dataclass
class CaptureReport:
    """How one input file went."""

    path: str
    frames: int = 0
    error: str | None = None
    """Why the file could not be read at all (it is not a capture, unreadable...)."""
    warnings: list[str] = field(default_factory=list)


@dataclass
class SenseReport:
    """What a run read and what it could not: the numbers behind `trustwatch sense`."""

    captures: list[CaptureReport] = field(default_factory=list)
    observations: int = 0
    undecoded: int = 0
    """Frames that were not TCP/UDP over IP (ARP, STP...) or could not be decoded."""
    weirds: Weirds = field(default_factory=Weirds)
    flows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    inspected_bytes: int = 0
    """Wire bytes of the frames the full path decoded; the others were only counted in bulk."""
    skipped: list[str] = field(default_factory=list)
    """Files in walked directories that were not read, each with why."""

    @property
    def frames(self) -> int:
        """Frames read over all captures."""
        return sum(c.frames for c in self.captures)

    @property
    def failed(self) -> bool:
        """Whether some input could not be read at all."""
        return any(c.error for c in self.captures)

    def errors(self) -> list[str]:
        """One line per input that could not be read, naming it."""
        lines = [f"{c.path}: {c.error}" for c in self.captures if c.error]
        return lines if self.captures else ["no capture files found"]

    def warnings(self) -> list[str]:
        """One line per problem inside a capture that was otherwise read."""
        return [f"warning: {line}" for line in self.skipped] + [
            f"warning: {c.path}: {w}" for c in self.captures for w in c.warnings]


class Sensor:
    """Reads captures one after another; each capture's flows end with it."""

    def __init__(
        self, extractors: Iterable[type[Extractor]] = EXTRACTORS, secrets: SecretHasher = EPHEMERAL,
        rules_dir: Path = RULES_DIR, memcaps: dict[str, str] | None = None, *, live: bool = False,
    ) -> None:
        """`rules_dir`: where the sensor's rules are, the remote-access catalog, the HTTP
        API-key names and the memory caps (`memcaps` overrides them); a broken one raises
        `RulesFileError` before anything is read. `live`: a remote-access session is reported
        when it is recognised, and again when it ends."""
        rules = load_sensor_rules(rules_dir, memcaps)
        extractors = tuple(e.bound(rules) for e in extractors)
        self.limits = rules.limits
        self.report = SenseReport()
        self.weirds = self.report.weirds
        ports = frozenset(p for e in extractors for p in e.ports)
        self.table = FlowTable(ports, self._on_remove, rules.limits)
        self.decoder = Decoder(self.weirds, rules.limits)
        self.dispatcher = Dispatcher(extractors, self.weirds, self.table, secrets,
                                     RemoteAccessTracker(rules.catalog, announce=live))
        self._out: list[Observation] = []

    def read(
        self, path: str, progress: Callable[[str, int, int, int], None] | None = None
    ) -> Iterator[Observation]:
        """Observations of one capture, in packet order. Never raises on bad input: a file
        that is not a capture gets its `CaptureReport.error`, problems become warnings."""
        rep = CaptureReport(path)
        self.report.captures.append(rep)
        try:
            cap = Capture(path)
        except (CaptureError, OSError) as e:
            rep.error = str(e)
            return
        size = _size(path)
        self.dispatcher.capture = self.weirds.capture = path
        out = self._out
        ts = 0.0
        number = 1
        next_progress = PROGRESS_EVERY
        try:
            for run in cap.runs():
                ts = self._run(run, number, ts)
                number += len(run.offsets)
                if out:
                    yield from out
                    self.report.observations += len(out)
                    out.clear()
                if progress is not None and number > next_progress:
                    progress(path, number - 1, cap.position(), size)
                    next_progress = number + PROGRESS_EVERY
            self.table.remove_all(ts)
            yield from out
            self.report.observations += len(out)
            out.clear()
        finally:
            rep.frames = cap.frames_read
            rep.warnings = cap.warnings
            if cap.clamped_times:
                self.weirds.add("capture_time_out_of_range", cap.clamped_times)
                rep.warnings.append(f"{cap.clamped_times} packet times outside 1970-9999 were clamped to that range")
            cap.close()
            if progress is not None:
                progress(path, cap.frames_read, size, size)

    def feed(self, source: str, runs: Iterable[Records], first_frame: int, now: float) -> list[Observation]:
        """Observations of packets that come as `capture.Records` from elsewhere than a file (a live
        interface: `sensor.live`), through the same bulk and full paths as `read`. Frames are
        numbered from `first_frame` in the evidence of `source`. Flows stay in the table between
        calls; idle ones expire by `now` (packet time), so a quiet link still concludes them;
        `finish` concludes the rest."""
        self.dispatcher.capture = self.weirds.capture = source
        for run in runs:
            self._run(run, first_frame, now)
            first_frame += len(run.offsets)
        self.table.maybe_sweep(now)
        return self._take()

    def finish(self, now: float) -> list[Observation]:
        """End of a live capture: conclude every flow still in the table."""
        self.table.remove_all(now)
        return self._take()

    def _take(self) -> list[Observation]:
        out = list(self._out)
        self._out.clear()
        self.report.observations += len(out)
        return out

    def _run(self, run: Records, number: int, ts: float) -> float:
        """One run of records, numbered from `number`: `count_done` counts the packets of done
        flows, the others go through the full path one by one (no per-packet generator or
        tuple); after one of those finishes its flow's inspection, the rest of the run is
        counted again, so the flow's later packets are only counted too. Returns the time of
        the last packet of the full path, `ts` if there was none."""
        data, offsets = run.data, run.offsets
        unpack = struct.Struct(run.endian + "IIII").unpack_from
        stamp, linktype = run.stamp, run.linktype
        slow = self._slow
        ethernet = linktype == LINKTYPE_ETHERNET
        inspected = 0
        full = self._count_done(run, None) if ethernet else list(range(len(offsets)))
        k = recount_at = 0
        finished = False
        while k < len(full):
            i = full[k]
            k += 1
            pos = offsets[i]
            a, b, caplen, wirelen = unpack(data, pos)
            ts = stamp(a, b)
            inspected += wirelen
            finished |= slow(ts, linktype, bytes(data[pos + 16 : pos + 16 + caplen]), 0, caplen, wirelen, number + i)
            if finished and ethernet and recount_at <= k < len(full):
                # Not before a share of what the last count left is through: counting again
                # costs as much as what is left, so a run of many short flows stays linear.
                full = self._count_done(run, full[k:])
                k, recount_at, finished = 0, len(full) // RECOUNT_AFTER, False
        self.report.inspected_bytes += inspected
        return ts

    def _count_done(self, run: Records, indices: list[int] | None) -> list[int]:
        """Count the packets of done flows among the run's records at `indices` (all when
        None); the indices of the others."""
        full, counted = count_done(run.data, run.offsets, indices, run.endian == ">", self._countable)
        for (flow, d), packets, wire_bytes, last, closing in counted:
            flow.pkts[d] += packets
            flow.bytes[d] += wire_bytes
            seconds, fraction = struct.unpack_from(run.endian + "II", run.data, last)
            flow.last = max(flow.last, run.stamp(seconds, fraction))
            if closing:
                flow.closed = True
        return full

    def _countable(self, tcp: bool, key: bytes) -> tuple[Flow, int] | None:
        """The table's entry for a flow key whose packets need only be counted: its flow is
        done, and this side has been seen already (a side's first frame tells its MAC)."""
        entry = (self.table.tcp if tcp else self.table.udp).get(key)
        if entry is None or not entry[0].done or not entry[0].pkts[entry[1]]:
            return None
        return entry

    def _slow(
        self, ts: float, linktype: int, buf: bytes, off: int, caplen: int, wirelen: int,
        frame: int,
    ) -> bool:
        """Decode in full, find or make the flow, reassemble and dispatch. Whether the packet
        finished its flow's inspection (its later packets need only be counted)."""
        self.weirds.frame = frame
        pkt = self.decoder.decode(ts, linktype, buf, off, caplen)
        if pkt is None:
            self.report.undecoded += 1
            return False
        table = self.table
        table.maybe_sweep(ts)
        tcp = pkt.proto == IP_TCP
        entry = (table.tcp if tcp else table.udp).get(pkt.src + pkt.dst + pkt.ports)
        if (entry is not None and tcp and pkt.flags & (TCP_SYN | TCP_ACK) == TCP_SYN
                and (entry[0].done or entry[0].closed)):
            # A new connection on the same addresses and ports: the old one is over.
            table.remove(entry[0], ts)
            entry = None
        flow, d = entry if entry is not None else table.create(pkt, ts, frame)
        if not flow.pkts[d]:
            table.learn_mac(flow, d, pkt.src_mac)
        flow.pkts[d] += 1
        flow.bytes[d] += wirelen
        if ts > flow.last:  # the bulk path may have counted later packets of this block already
            flow.last = ts
        if tcp and pkt.flags & (TCP_FIN | TCP_RST):
            flow.closed = True
        if flow.done:
            return False
        dispatcher = self.dispatcher
        if not tcp:
            if pkt.payload:
                dispatcher.datagram(flow, d, ts, pkt.payload, frame, self._out)
            return flow.done
        assert flow.streams is not None
        stream = flow.streams[d]
        if pkt.truncated and pkt.payload:
            self.weirds.add("tcp_snaplen_truncated")
            dispatcher.gap(flow, d, ts, self._out)
        chunks = stream.add(pkt.seq, bool(pkt.flags & TCP_SYN), pkt.payload, frame, table)
        if stream.gap:
            stream.gap = False
            dispatcher.gap(flow, d, ts, self._out)
        if chunks and not flow.done:
            dispatcher.stream(flow, d, ts, chunks, self._out)
        return flow.done

    def _on_remove(self, flow: Flow, now: float) -> None:
        self.dispatcher.conclude(flow, now, self._out)

    def flow_counters(self) -> dict[str, int]:
        """Flow-table counters, for the report and metrics."""
        s = self.table.stats
        return {
            "created": s.created,
            "expired": s.expired,
            "evicted": s.evicted,
            "over_memory": s.over_memory,
            "reassembly_memcap": s.reassembly_memcap,
            "parser_peak": s.parser_peak,
            "retransmissions": s.retransmissions,
            "overlaps": s.overlaps,
            "gaps": s.gaps,
        }


def find_captures(paths: Iterable[str], skipped: list[str] | None = None) -> Iterator[str]:
    """The files to read: named files as they are (`-` is standard input, a FIFO is read),
    directories walked in name order for regular capture files; anything else found there (a
    FIFO would block the walk forever, a socket or device is no capture) is noted in
    `skipped`."""
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    if name.lower().endswith(CAPTURE_SUFFIXES):
                        found = os.path.join(root, name)
                        if os.path.isfile(found):
                            yield found
                        elif skipped is not None:
                            skipped.append(f"{found}: not a regular file; skipped")
        else:
            yield path


def sense_paths(
    paths: Iterable[str],
    progress: Callable[[str, int, int, int], None] | None = None,
    secrets: SecretHasher = EPHEMERAL,
    rules_dir: Path = RULES_DIR,
    memcaps: dict[str, str] | None = None,
) -> tuple[Iterator[Observation], SenseReport]:
    """Observations of every capture under `paths`, and the report filled in as they go.
    Raises `RulesFileError` (before reading) when the sensor's rules or caps are broken."""
    sensor = Sensor(secrets=secrets, rules_dir=rules_dir, memcaps=memcaps)

    def run() -> Iterator[Observation]:
        start = time.perf_counter()
        for path in find_captures(paths, sensor.report.skipped):
            yield from sensor.read(path, progress)
        sensor.report.flows = sensor.flow_counters()
        sensor.report.seconds = time.perf_counter() - start

    return run(), sensor.report


PROGRESS_MODES = ("auto", "bar", "lines", "none")
PROGRESS_LINE_EVERY = 10.0
"""Seconds between two progress lines when stderr is not a terminal (a log, a scheduler)."""


def progress_display(mode: str, total: int, out: IO[str] | None = None, every: float = PROGRESS_LINE_EVERY,
                     clock: Callable[[], float] = time.monotonic) -> Callable[[str, int, int, int], None] | None:
    """The progress of a read of `total` bytes over all captures, with its rate and ETA: `bar`, one
    line redrawn in place; `lines`, a line every `every` seconds (and at the end of each capture
    once one was written: a read shorter than `every` writes none); `auto`, the bar on a terminal,
    else lines; `none`: None."""
    err = out or sys.stderr
    if mode == "none":
        return None
    bar = mode == "bar" or (mode == "auto" and err.isatty())
    start = clock()
    done_by_file: dict[str, int] = {}
    last = [start]
    written = [False]

    def show(path: str, frames: int, done: int, size: int) -> None:
        done_by_file[path] = done
        now = clock()
        finished = size > 0 and done >= size
        if not bar and now - last[0] < every and not (finished and written[0]):
            return
        last[0] = now
        written[0] = True
        read = sum(done_by_file.values())
        elapsed = max(now - start, 1e-6)
        pct = f"{100 * read / total:5.1f}%" if total else "     "
        eta = _eta((total - read) / (read / elapsed)) if total and read else "--:--"
        line = (f"{os.path.basename(path)[:40]:40} {pct} {frames:>12,} frames {frames / elapsed:>10,.0f}/s "
                f"ETA {eta}")
        if bar:
            err.write(f"\r{line}" + ("\n" if done >= size else ""))
        else:
            err.write(f"trustwatch: progress: {line}\n")
        err.flush()

    return show


def _eta(seconds: float) -> str:
    s = int(max(seconds, 0))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def total_size(paths: Iterable[str]) -> int:
    """Bytes of every capture under `paths` (what a progress display counts towards)."""
    return sum(_size(p) for p in find_captures(paths))


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
