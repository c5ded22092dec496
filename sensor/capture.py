"""Capture files: pcap (either byte order, µs or ns) and pcapng (SHB/IDB/EPB/SPB and the
obsolete PB; several interfaces, each with its own link type, `if_tsresol` and
`if_tsoffset`), plain or gzip-compressed.

Yields one `Frame` tuple per packet: (ts, linktype, buf, off, caplen, wirelen). The frame's
bytes are `buf[off:off + caplen]`; `buf` is a whole read block shared by many frames, so no
packet is ever copied. The file is read in blocks of `READ_BLOCK` bytes: memory stays flat
whatever the capture's size.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from typing import BinaryIO

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


class CaptureError(Exception):
    """The file is not a capture we can read (the message says why)."""


class Capture:
    """One capture file, read once from start to end.

    `warnings` collects what went wrong without stopping the read (a truncated last record,
    a corrupt block); every frame before the problem is still delivered.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.warnings: list[str] = []
        self.frames_read = 0
        self.endian = "<"
        self.ts_scale = 1e-6
        self.linktype = 0
        """pcap: byte order, timestamp unit and link type, known once the header is read."""
        self._raw: io.BufferedReader = open(path, "rb")  # noqa: SIM115 - closed in close()
        self._f: io.BufferedReader | _Gunzip = self._raw
        try:
            head = self._raw.read(4)
            if head[:2] == GZIP_MAGIC:
                self._raw.seek(0)
                self._f = _Gunzip(self._raw)
                head = self._f.read(4)
            if len(head) < 4:
                raise CaptureError("not a capture file (shorter than a capture header)")
            self._head = head
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
        try:
            return self._raw.tell()
        except (OSError, ValueError):
            return 0

    def frames(self) -> Iterator[Frame]:
        """Every frame of the file in order; problems end up in `warnings`."""
        return self._pcap() if self.format == "pcap" else self._pcapng()

    def _read_error(self, e: Exception) -> None:
        self.warnings.append(f"read error after frame {self.frames_read}: {e}")

    # --- pcap ---------------------------------------------------------------------------

    def _pcap(self) -> Iterator[Frame]:
        for block, offsets in self.pcap_blocks():
            # The header is read by the first block: byte order, link type and unit are known.
            unpack = struct.Struct(self.endian + "IIII").unpack_from
            linktype, scale = self.linktype, self.ts_scale
            for pos in offsets:
                sec, frac, caplen, wirelen = unpack(block, pos)
                frame = bytes(block[pos + 16 : pos + 16 + caplen])
                yield (sec + frac * scale, linktype, frame, 0, caplen, wirelen)

    def pcap_blocks(self) -> Iterator[tuple[memoryview, list[int]]]:
        """Classic pcap only: each read block with the offsets of the records wholly inside it
        (16-byte record header, then the frame). A record straddling the block's end starts
        the next block. The block's memory is reused for the next one (no fresh allocation
        per block, which costs more than walking it): copy what you keep.
        The sensor's hot path walks these (`sensor.fastpath`)."""
        try:
            f = self._f
            rest = f.read(20)
            if len(rest) < 20:
                self.warnings.append("truncated pcap file header")
                return
            head = self._head + rest
            self.endian = "<" if struct.unpack("<I", head[:4])[0] in (PCAP_US, PCAP_NS) else ">"
            self.ts_scale = 1e-9 if struct.unpack(self.endian + "I", head[:4])[0] == PCAP_NS else 1e-6
            self.linktype = struct.unpack(self.endian + "I", head[20:24])[0] & 0x0FFFFFFF
            unpack = struct.Struct(self.endian + "I").unpack_from
            size = READ_BLOCK
            buf = bytearray(size + MAX_RECORD + 16)
            view = memoryview(buf)
            have = 0
            """Bytes carried over from the previous block (a partial record)."""
            while True:
                got = f.readinto(view[have : have + size])
                n = have + got
                block = view[:n]
                pos = 0
                offsets: list[int] = []
                append = offsets.append
                while pos + 16 <= n:
                    caplen = unpack(block, pos + 8)[0]
                    end = pos + 16 + caplen
                    if end > n or caplen > MAX_RECORD:
                        break
                    append(pos)
                    pos = end
                self.frames_read += len(offsets)
                if offsets:
                    yield block, offsets
                if pos + 16 <= n and unpack(block, pos + 8)[0] > MAX_RECORD:
                    self._corrupt(f"record length {unpack(block, pos + 8)[0]}")
                    return
                have = n - pos
                buf[:have] = buf[pos:n]
                if not got:
                    if have:
                        self._truncated(have)
                    return
        except (OSError, zlib.error, struct.error) as e:
            self._read_error(e)

    # --- pcapng -------------------------------------------------------------------------

    def _pcapng(self) -> Iterator[Frame]:
        try:
            f = self._f
            buf = self._head + f.read(READ_BLOCK)
            pos = 0
            endian = "<"
            hdr = struct.Struct("<II")
            ifaces: list[tuple[int, float, float, int]] = []  # linktype, units/s, offset, snaplen
            last_ts = 0.0
            while True:
                n = len(buf)
                if pos + 12 > n or pos + hdr.unpack_from(buf, pos)[1] > n:
                    # Complete the straddling block, then continue with a fresh read block.
                    block = buf[pos:]
                    if len(block) < 12:
                        block += f.read(12 - len(block))
                    if not block:
                        return
                    if len(block) < 12:
                        self._truncated(len(block))
                        return
                    btype = struct.unpack_from("<I", block)[0]
                    if btype == PCAPNG_SHB:
                        endian = ">" if block[8:12] == b"\x1a\x2b\x3c\x4d" else "<"
                        hdr = struct.Struct(endian + "II")
                    blen = hdr.unpack_from(block)[1]
                    if blen < 12 or blen > MAX_BLOCK or blen % 4:
                        self._corrupt(f"block length {blen}")
                        return
                    if len(block) < blen:
                        block += f.read(blen - len(block))
                    if len(block) < blen:
                        self._truncated(len(block))
                        return
                    buf, pos = block + f.read(READ_BLOCK), 0
                    n = len(buf)
                btype_le = struct.unpack_from("<I", buf, pos)[0]
                if btype_le == PCAPNG_SHB:
                    bom = buf[pos + 8 : pos + 12]
                    if bom == b"\x4d\x3c\x2b\x1a":
                        endian = "<"
                    elif bom == b"\x1a\x2b\x3c\x4d":
                        endian = ">"
                    else:
                        self._corrupt("section header byte-order magic")
                        return
                    hdr = struct.Struct(endian + "II")
                    ifaces = []
                btype, blen = hdr.unpack_from(buf, pos)
                if blen < 12 or blen > MAX_BLOCK or blen % 4:
                    self._corrupt(f"block length {blen}")
                    return
                if pos + blen > n:
                    continue  # handled at the top of the loop
                body = pos + 8
                if btype in (BT_EPB, BT_PB):
                    if btype == BT_EPB:
                        iface, hi, lo, caplen, wirelen = struct.unpack_from(endian + "IIIII", buf, body)
                        data = body + 20
                    else:
                        iface, _drops, hi, lo, caplen, wirelen = struct.unpack_from(
                            endian + "HHIIII", buf, body
                        )
                        data = body + 20
                    if iface >= len(ifaces) or data + caplen > pos + blen - 4:
                        self._corrupt(f"packet block (interface {iface}, length {caplen})")
                        return
                    linktype, units, offset, _snap = ifaces[iface]
                    last_ts = ((hi << 32) | lo) / units + offset
                    self.frames_read += 1
                    yield (last_ts, linktype, buf, data, caplen, wirelen)
                elif btype == BT_SPB:
                    if not ifaces:
                        self._corrupt("simple packet block before any interface")
                        return
                    wirelen = struct.unpack_from(endian + "I", buf, body)[0]
                    linktype, _units, _offset, snap = ifaces[0]
                    caplen = min(wirelen, blen - 16, snap or wirelen)
                    self.frames_read += 1
                    yield (last_ts, linktype, buf, body + 4, caplen, wirelen)
                elif btype == BT_IDB:
                    ifaces.append(_interface(buf, body, pos + blen - 4, endian))
                pos += blen
        except (OSError, zlib.error, struct.error) as e:
            self._read_error(e)

    def _truncated(self, have: int) -> None:
        self.warnings.append(
            f"truncated last record after frame {self.frames_read} ({have} bytes left over)"
        )

    def _corrupt(self, what: str) -> None:
        self.warnings.append(f"corrupt {what} after frame {self.frames_read}; rest of file skipped")


def _interface(buf: bytes, body: int, end: int, endian: str) -> tuple[int, float, float, int]:
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


class _Gunzip:
    """Incremental gzip reader that keeps what it could decompress when the file is cut
    short (gzip.GzipFile raises and loses the last block instead)."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._buf = bytearray()
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
