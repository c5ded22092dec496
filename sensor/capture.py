"""Capture files: pcap (either byte order, µs or ns) and pcapng (SHB/IDB/EPB/SPB and the
obsolete PB; several interfaces, each with its own link type, `if_tsresol` and
`if_tsoffset`), plain or gzip-compressed.

Records come in runs (`Records`), each inside one block of the file: a regular file is mapped
a window of `READ_BLOCK` bytes at a time and walked in place (copying it into a buffer of our
own costs more than walking it); a compressed file, a pipe or a device is read block by block
into one reused buffer. Either way memory stays flat whatever the capture's size, and no
packet is copied before the sensor keeps it. Runs of records are found by compiled walks
(`sensor/fastpath.c`); what a bad length or an unusual block means is decided here.
"""

from __future__ import annotations

import io
import mmap
import os
import stat
import struct
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from . import mapguard
from .fastpath import walk_pcap, walk_pcapng

STDIN = "-"
"""The path that names standard input."""
READ_BLOCK = 1 << 22
MAX_RECORD = 1 << 18
"""Largest frame we accept (pcap's snaplen limit); a bigger one means a corrupt file."""
MAX_BLOCK = 1 << 24
"""Largest pcapng block we accept."""

PCAP_US = 0xA1B2C3D4
PCAP_NS = 0xA1B23C4D
PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_BOM = 0x1A2B3C4D
GZIP_MAGIC = b"\x1f\x8b"

BT_IDB = 1
BT_PB = 2  # obsolete Packet Block
BT_SPB = 3
BT_EPB = 6
OPT_IF_TSRESOL = 9
OPT_IF_TSOFFSET = 14

Frame = tuple[float, int, bytes, int, int, int]
"""(ts, linktype, buf, off, caplen, wirelen)."""


@dataclass(frozen=True, slots=True)
class Records:
    """A run of records sharing one link type and clock, inside one read block.

    Each record at `offsets[i]` in `data` is laid out as a pcap record: two 32-bit timestamp
    words, caplen, wirelen (in `endian` byte order), then the frame. `data` is reused for the
    next run: copy what you keep.
    """

    data: memoryview
    offsets: list[int]
    endian: str
    linktype: int
    stamp: Callable[[int, int], float]
    """The two timestamp words -> epoch seconds."""


TIME_MIN = 0.0
TIME_MAX = 253402300799.0
"""Packet times a record can carry into reports: 1970 to the last second of 9999. A pcapng
clock can say anything (`if_tsresol` 0 with microsecond values, a huge `if_tsoffset`); a time
outside is clamped to the nearer end and counted in `Capture.clamped_times`."""


class CaptureError(Exception):
    """The file is not a capture we can read (the message says why)."""


class Capture:
    """One capture file, read once from start to end.

    `warnings` collects what went wrong without stopping the read (a truncated last record,
    a corrupt block); every frame before the problem is still delivered.
    """

    def __init__(self, path: str) -> None:
        """`path` names a file, or is `-` for standard input (a pipe: gzip too)."""
        self.path = path
        self.warnings: list[str] = []
        self.frames_read = 0
        self.clamped_times = 0
        """Timestamps outside TIME_MIN..TIME_MAX, clamped (each time one is read)."""
        self._raw: io.BufferedReader = (  # closed in close()
            open(os.dup(sys.stdin.fileno()), "rb") if path == STDIN else open(path, "rb")  # noqa: SIM115
        )
        try:
            head = self._raw.read(4)
            unzipped = None
            if head[:2] == GZIP_MAGIC:
                unzipped = _Gunzip(self._raw, head)
                head = unzipped.read(4)
            if len(head) < 4:
                raise CaptureError("not a capture file (shorter than a capture header)")
            magic_le = struct.unpack("<I", head)[0]
            if magic_le in (PCAP_US, PCAP_NS) or struct.unpack(">I", head)[0] in (
                PCAP_US,
                PCAP_NS,
            ):
                self.format = "pcap"
            elif magic_le == PCAPNG_SHB:
                self.format = "pcapng"
            else:
                raise CaptureError(f"not a capture file (unknown magic {head.hex()})")
            self._blocks: _MappedBlocks | _CopiedBlocks = (
                _MappedBlocks(self._raw.fileno())
                if unzipped is None and _mappable(self._raw.fileno())
                else _CopiedBlocks(unzipped or self._raw, head, self._raw)
            )
        except (OSError, zlib.error) as e:
            self.close()
            raise CaptureError(f"unreadable: {e}") from e
        except CaptureError:
            self.close()
            raise

    def close(self) -> None:
        """Release the file."""
        self._raw.close()

    def position(self) -> int:
        """Bytes of the file on disk consumed so far (for progress on compressed files too)."""
        return self._blocks.position()

    def frames(self) -> Iterator[Frame]:
        """Every frame of the file in order, as its own bytes; problems end up in `warnings`."""
        for run in self.runs():
            unpack = struct.Struct(run.endian + "IIII").unpack_from
            for pos in run.offsets:
                a, b, caplen, wirelen = unpack(run.data, pos)
                frame = bytes(run.data[pos + 16 : pos + 16 + caplen])
                yield (run.stamp(a, b), run.linktype, frame, 0, caplen, wirelen)

    def runs(self) -> Iterator[Records]:
        """The file's records in runs that share a link type and a clock, each inside one read
        block (read into one reused buffer: a fresh allocation per block costs more than
        walking it). Problems end up in `warnings`, a file cut short while it is read too:
        the records before its new end are kept, the rest of the run is not delivered."""
        blocks = self._blocks
        for run in self._pcap() if self.format == "pcap" else self._pcapng():
            if blocks.cut_short():
                run = self._before_end(run)
            if run.offsets:
                yield run
            if blocks.cut_short():
                self.warnings.append(f"capture truncated while reading, after frame {self.frames_read}; "
                                     "every frame before the cut was read")
                return

    def _before_end(self, run: Records) -> Records:
        """The records of a mapped run that lie wholly before the file's current end."""
        if not isinstance(run.data.obj, mmap.mmap):
            return run
        limit = os.fstat(self._raw.fileno()).st_size - self._blocks.position()
        caplen = struct.Struct(run.endian + "I").unpack_from
        kept = [o for o in run.offsets if o + 16 <= limit and o + 16 + caplen(run.data, o + 8)[0] <= limit]
        self.frames_read -= len(run.offsets) - len(kept)
        return Records(run.data, kept, run.endian, run.linktype, run.stamp)

    def _read_error(self, e: Exception) -> None:
        self.warnings.append(f"read error after frame {self.frames_read}: {e}")

    # --- pcap ---------------------------------------------------------------------------

    def _pcap(self) -> Iterator[Records]:
        """A pcap record is 16 bytes (seconds, fraction, caplen, wirelen), then the frame:
        one run per block."""
        try:
            blocks = self._blocks
            block = blocks.next(0)
            while len(block) < 24 and not blocks.final:
                block = blocks.next(0)
            if len(block) < 24:
                self.warnings.append("truncated pcap file header")
                return
            head = bytes(block[:24])
            endian = "<" if struct.unpack("<I", head[:4])[0] in (PCAP_US, PCAP_NS) else ">"
            scale = 1e-9 if struct.unpack(endian + "I", head[:4])[0] == PCAP_NS else 1e-6
            linktype = struct.unpack(endian + "I", head[20:24])[0] & 0x0FFFFFFF

            def stamp(sec: int, frac: int) -> float:
                return sec + frac * scale

            unpack = struct.Struct(endian + "I").unpack_from
            big_endian = endian == ">"
            pos = 24
            while True:
                n = len(block)
                offsets, pos = walk_pcap(block, pos, big_endian, MAX_RECORD)
                self.frames_read += len(offsets)
                if offsets:
                    yield Records(block, offsets, endian, linktype, stamp)
                if pos + 16 <= n and unpack(block, pos + 8)[0] > MAX_RECORD:
                    self._corrupt(f"record length {unpack(block, pos + 8)[0]}")
                    return
                if blocks.final:
                    if pos < n:
                        self._truncated(n - pos)
                    return
                block, pos = blocks.next(pos), 0
        except (OSError, zlib.error, struct.error) as e:
            self._read_error(e)

    # --- pcapng -------------------------------------------------------------------------

    def _pcapng(self) -> Iterator[Records]:
        """Enhanced (and obsolete) Packet Blocks hold, 12 bytes in, the same layout as a pcap
        record: timestamp high and low words, caplen, wirelen, frame. A run is cut wherever
        the interface changes; a Simple Packet Block becomes a run of its own."""
        try:
            blocks = self._blocks
            block = blocks.next(0)
            pos = 0
            endian = "<"
            hdr = struct.Struct("<II")
            u32 = struct.Struct("<I")
            ifaces: list[tuple[int, float, float, int]] = []  # linktype, units/s, offset, snaplen
            last_ts = 0.0
            while True:
                n = len(block)
                run: list[int] = []
                run_iface = -1
                while pos + 12 <= n:
                    if u32.unpack_from(block, pos)[0] == PCAPNG_SHB:
                        if run:  # the section ends: its packets go in its own byte order
                            last_ts = self._stamp(block, run[-1], endian, ifaces[run_iface])
                            yield from self._run(block, run, endian, ifaces, run_iface)
                            run, run_iface = [], -1
                        bom = bytes(block[pos + 8 : pos + 12])
                        if bom not in (b"\x4d\x3c\x2b\x1a", b"\x1a\x2b\x3c\x4d"):
                            yield from self._run(block, run, endian, ifaces, run_iface)
                            self._corrupt("section header byte-order magic")
                            return
                        endian = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
                        hdr, u32 = struct.Struct(endian + "II"), struct.Struct(endian + "I")
                    btype, blen = hdr.unpack_from(block, pos)
                    if blen < 12 or blen > MAX_BLOCK or blen % 4:
                        yield from self._run(block, run, endian, ifaces, run_iface)
                        self._corrupt(f"block length {blen}")
                        return
                    if pos + blen > n:
                        break
                    if btype in (BT_EPB, BT_PB):
                        iface = u32.unpack_from(block, pos + 8)[0]
                        if btype == BT_PB:
                            iface = iface & 0xFFFF if endian == "<" else iface >> 16
                        caplen = u32.unpack_from(block, pos + 20)[0]
                        if iface >= len(ifaces) or pos + 28 + caplen > pos + blen - 4:
                            yield from self._run(block, run, endian, ifaces, run_iface)
                            self._corrupt(f"packet block (interface {iface}, length {caplen})")
                            return
                        if iface != run_iface:
                            yield from self._run(block, run, endian, ifaces, run_iface)
                            run, run_iface = [], iface
                        run.append(pos + 12)
                        more, pos = walk_pcapng(block, pos + blen, endian == ">", iface, MAX_BLOCK)
                        run += more  # the packet blocks that follow on the same interface
                        continue
                    else:
                        if run:
                            last_ts = self._stamp(block, run[-1], endian, ifaces[run_iface])
                        yield from self._run(block, run, endian, ifaces, run_iface)
                        run, run_iface = [], -1
                        if btype == BT_SPB:
                            if not ifaces:
                                self._corrupt("simple packet block before any interface")
                                return
                            yield self._simple(block, pos, blen, endian, ifaces[0], last_ts)
                        elif btype == BT_IDB:
                            ifaces.append(_interface(block, pos + 8, pos + blen - 4, endian))
                        elif btype == PCAPNG_SHB:
                            ifaces = []
                    pos += blen
                if run:
                    last_ts = self._stamp(block, run[-1], endian, ifaces[run_iface])
                yield from self._run(block, run, endian, ifaces, run_iface)
                if blocks.final:
                    if pos < n:
                        self._truncated(n - pos)
                    return
                block, pos = blocks.next(pos), 0
        except (OSError, zlib.error, struct.error) as e:
            self._read_error(e)

    def _run(
        self, block: memoryview, offsets: list[int], endian: str,
        ifaces: list[tuple[int, float, float, int]], iface: int,
    ) -> Iterator[Records]:
        if not offsets:
            return
        linktype, units, offset, _snap = ifaces[iface]

        def stamp(high: int, low: int) -> float:
            ts = ((high << 32) | low) / units + offset
            return ts if TIME_MIN <= ts <= TIME_MAX else self._clamp(ts)

        self.frames_read += len(offsets)
        yield Records(block, offsets, endian, linktype, stamp)

    def _stamp(self, block: memoryview, pos: int, endian: str, iface: tuple[int, float, float, int]) -> float:
        high, low = struct.unpack_from(endian + "II", block, pos)
        ts = float(((high << 32) | low) / iface[1] + iface[2])
        return ts if TIME_MIN <= ts <= TIME_MAX else self._clamp(ts)

    def _clamp(self, ts: float) -> float:
        self.clamped_times += 1
        return min(max(ts, TIME_MIN), TIME_MAX)

    def _simple(
        self, block: memoryview, pos: int, blen: int, endian: str,
        iface: tuple[int, float, float, int], ts: float,
    ) -> Records:
        """A Simple Packet Block has no timestamp (it takes the previous packet's) and no
        caplen: as a one-record run of its own, in pcap record layout."""
        linktype, _units, _offset, snap = iface
        wirelen = struct.unpack_from(endian + "I", block, pos + 8)[0]
        caplen = min(wirelen, blen - 16, snap or wirelen)
        record = struct.pack(endian + "IIII", 0, 0, caplen, wirelen) + bytes(block[pos + 12 : pos + 12 + caplen])
        self.frames_read += 1
        return Records(memoryview(record), [0], endian, linktype, lambda _a, _b: ts)

    def _truncated(self, have: int) -> None:
        self.warnings.append(
            f"truncated last record after frame {self.frames_read} ({have} bytes left over)"
        )

    def _corrupt(self, what: str) -> None:
        self.warnings.append(f"corrupt {what} after frame {self.frames_read}; rest of file skipped")


def _interface(buf: bytes | memoryview, body: int, end: int, endian: str) -> tuple[int, float, float, int]:
    """An Interface Description Block: link type, time units per second, offset, snaplen."""
    linktype, _reserved, snaplen = struct.unpack_from(endian + "HHI", buf, body)
    units, offset = 1e6, 0.0
    opt = body + 8
    while opt + 4 <= end:
        code, length = struct.unpack_from(endian + "HH", buf, opt)
        value = buf[opt + 4 : opt + 4 + length]
        if code == 0:
            break
        if code == OPT_IF_TSRESOL and length >= 1:
            res = value[0]
            units = float(2 ** (res & 0x7F)) if res & 0x80 else float(10**res)
        elif code == OPT_IF_TSOFFSET and length >= 8:
            offset = float(struct.unpack(endian + "q", value[:8])[0])
        opt += 4 + length + (-length % 4)
    return linktype, units, offset, snaplen


def _mappable(fd: int) -> bool:
    """A regular file whose file system maps it (some network and FUSE ones do not)."""
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        return False
    try:
        mmap.mmap(fd, 4, access=mmap.ACCESS_READ).close()
    except (OSError, ValueError):
        return False
    return True


class _MappedBlocks:
    """A regular file's bytes straight from the page cache, one mapped window at a time. The
    pages are the file's, not the process's own memory, and a window is unmapped once nothing
    refers to it any more. A file cut short by another program while it is read would end the
    process with SIGBUS on the next page past its new end: `mapguard` turns that page into
    zeros and counts, and `cut_short` tells the reader."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._faults = mapguard.faults()
        self._start = 0
        """File offset of the block handed out last."""
        self._window = 0
        self.final = False
        """The last block handed out reaches the end of the file."""

    def next(self, consumed: int) -> memoryview:
        """The file from `consumed` bytes into the last block on, a window of `READ_BLOCK`
        bytes, or twice the last window when nothing of it was consumed (a pcapng block longer
        than the window)."""
        start = self._start + consumed
        self._window = self._window * 2 if consumed == 0 and self._window else READ_BLOCK
        self._start = start
        size = os.fstat(self._fd).st_size
        if start >= size:
            self.final = True
            return memoryview(b"")
        base = start - start % mmap.ALLOCATIONGRANULARITY
        length = min(start - base + self._window, size - base)
        self.final = base + length == size
        window = mmap.mmap(self._fd, length, access=mmap.ACCESS_READ, offset=base)
        mapguard.watch(window)
        return memoryview(window)[start - base :]

    def cut_short(self) -> bool:
        """Whether a page of a window vanished under the reader (the file was truncated)."""
        return mapguard.faults() != self._faults

    def position(self) -> int:
        """Bytes of the file behind the last block handed out."""
        return self._start


class _CopiedBlocks:
    """A compressed file, a pipe or a device read into one reused buffer, `READ_BLOCK` bytes
    at a time, behind what the last block left unconsumed."""

    def __init__(self, f: io.BufferedReader | _Gunzip, head: bytes, raw: io.BufferedReader) -> None:
        self._f = f
        self._raw = raw
        self._buf = bytearray(READ_BLOCK + MAX_RECORD + 16)
        self._buf[: len(head)] = head
        self._have = len(head)
        self.final = False
        """Nothing was left to read behind the last block handed out."""

    def next(self, consumed: int) -> memoryview:
        """What the last block left from `consumed` on, then up to `READ_BLOCK` bytes more."""
        rest = self._have - consumed
        if rest + READ_BLOCK > len(self._buf):  # a pcapng block longer than the buffer's spare room
            bigger = bytearray(rest + READ_BLOCK + MAX_RECORD + 16)
            bigger[:rest] = self._buf[consumed : self._have]
            self._buf = bigger
        else:
            self._buf[:rest] = self._buf[consumed : self._have]
        view = memoryview(self._buf)
        got = self._f.readinto(view[rest : rest + READ_BLOCK])
        self._have = rest + got
        self.final = not got
        return view[: self._have]

    @staticmethod
    def cut_short() -> bool:
        """Copied bytes never vanish."""
        return False

    def position(self) -> int:
        """Bytes of the file on disk read so far."""
        try:
            return self._raw.tell()
        except (OSError, ValueError):
            return 0


class _Gunzip:
    """Incremental gzip reader that keeps what it could decompress when the file is cut
    short (gzip.GzipFile raises and loses the last block instead)."""

    def __init__(self, raw: BinaryIO, head: bytes) -> None:
        """`head`: what was already read of `raw` to recognise it (a pipe cannot seek back)."""
        self._raw = raw
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._buf = bytearray(self._z.decompress(head))
        self._eof = False

    def read(self, n: int) -> bytes:
        """Up to `n` bytes; fewer only at the end of the data."""
        while len(self._buf) < n and not self._eof:
            chunk = self._raw.read(1 << 16)
            if not chunk:
                self._eof = True
                self._buf += self._z.flush()
                break
            self._buf += self._z.decompress(chunk)
            while self._z.eof and self._z.unused_data:  # a further gzip member
                rest = self._z.unused_data
                self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
                self._buf += self._z.decompress(rest)
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def readinto(self, target: memoryview) -> int:
        """Fill `target` as far as the data goes; the number of bytes written."""
        data = self.read(len(target))
        target[: len(data)] = data
        return len(data)
