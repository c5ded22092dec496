"""Live capture from a network interface: Linux AF_PACKET with a TPACKET_V3 memory-mapped ring.

The kernel writes frames into a shared ring of blocks (`RING_BLOCKS` x `BLOCK_SIZE`); a block
is handed over when full or after `BLOCK_TIMEOUT_MS`. We walk each filled block once, writing a
pcap record header in front of every frame inside the ring, and give the block to the sensor as
a `capture.Records` run, so live packets take exactly the path capture files take
(`Sensor.feed`: the compiled bulk path for done flows, the full path for the rest) and no frame is
copied before the sensor decides it needs it. There is no system call per packet; a filter
given with `--bpf` is compiled by `tcpdump -ddd` and attached in the kernel (`SO_ATTACH_FILTER`)
before the socket is bound, so no unfiltered frame gets in.
Kernel counters (`PACKET_STATISTICS`: packets seen and dropped for want of ring space) are read
after every batch; the read resets them, so they are accumulated here.

The kernel strips the outer 802.1Q tag before packet sockets see a frame and reports it in the
ring's per-frame header; it is put back in the frame, as libpcap does.

Privileges: only CAP_NET_RAW (raw packet socket, promiscuous membership); nothing else.

Why this and not a library: measured with `python tests/bench/live_capture.py --packets 400000`
(2 vCPUs shared by sender and receiver, kernel 6.18; one end of a veth pair in a network
namespace receives while `tcpreplay --topspeed` plays the first 400,000 frames of the 1 GB
hospital mix, 989 B average, into the other). Frames per CPU-second of the receiving process,
from its first frame to its last, i.e. what one core can take:

    AF_PACKET TPACKET_V3 ring, records made in place (this module)   715,000 /s  (0 drops)
    libpcap via pcapy-ng 2.1 `next_batch`, records built in Python   648,000 /s  (0 drops)
    libpcap via pcapy-ng `dispatch`, a Python callback per frame   1,810,000 /s  (0 drops; no
        records built at all: its per-frame work is a counter, so it is a bound, not a rival)
    scapy 2.8 `conf.L2listen` + `recv_raw` per frame                  ~22,000 /s  (took 37k of
        200k frames; the rest were lost in the socket buffer)
    the ring feeding the whole sensor (`Sensor.feed`)                218,000 /s  (0 drops at the
        sender's 113k frames/s = 900 Mbit/s; 79k of 400k dropped when the sender reached
        150k frames/s before the in-place records, which cost 2.4 us per frame)

The ring in place is the fastest way to get frames into the sensor's record layout, needs no
extension module on top of libpcap (pcapy-ng) and gives the kernel's counters
directly; scapy is two orders of magnitude too slow for a SPAN port.

End to end (`python tests/bench/live_replay.py`: `trustwatch sense --interface` in the namespace,
the whole 1 GB mix, 1,085,641 frames, replayed with `tcpreplay --mbps` at rising rates): no
kernel drop at 200, 400, 600, 800, 1000, 1200 and 1500 Mbit/s (192,700 frames/s); at 2000
asked (1943 Mbit/s reached, 249,600 frames/s) 304,489 frames were dropped. (Both measured with
the numpy bulk path that `sensor/fastpath.c` replaced; counting is cheaper now, the ring walk
here is unchanged: not measured again.)
"""

from __future__ import annotations

import ctypes
import mmap
import select
import socket
import struct
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

from .capture import Records
from .decode import LINKTYPE_ETHERNET, LINKTYPE_RAW

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
PACKET_RX_RING = 5
PACKET_STATISTICS = 6
PACKET_VERSION = 10
TPACKET_V3 = 2
SO_ATTACH_FILTER = 26

TP_STATUS_KERNEL = 0
TP_STATUS_USER = 1
TP_STATUS_VLAN_VALID = 1 << 4
TP_STATUS_VLAN_TPID_VALID = 1 << 6
ETH_P_8021Q = 0x8100

ARPHRD_LINKTYPES = {1: LINKTYPE_ETHERNET, 772: LINKTYPE_ETHERNET, 65534: LINKTYPE_RAW}
"""Interface hardware type (ARPHRD_ETHER, ARPHRD_LOOPBACK, ARPHRD_NONE) -> link type of its frames."""

BLOCK_SIZE = 1 << 20
"""Bytes per ring block (a power of two times the page size; holds any frame)."""
RING_BLOCKS = 64
"""Blocks in the ring: 64 MB absorb ~0.5 s of a saturated 1 Gbit/s link while analytics run."""
FRAME_SIZE = 1 << 11
"""TPACKET_V3 ignores frame sizes but the kernel checks the request's arithmetic."""
BLOCK_TIMEOUT_MS = 100
"""A block that is not full is handed over after this long: the latency of a quiet link."""
MAX_BATCH_BLOCKS = 8
"""Blocks taken at most in one `read` call, so the caller keeps its pace (timers, signals)."""

_BLOCK_HEAD = struct.Struct("<III")
"""tpacket_block_desc at +8: block_status, num_pkts, offset_to_first_pkt."""
_FRAME_HEAD = struct.Struct("<IIIIIIHHIIH")
"""tpacket3_hdr: next_offset, sec, nsec, snaplen, len, status, mac, net, rxhash, vlan_tci, vlan_tpid."""
_RECORD = struct.Struct("<IIII")
_STATUS = struct.Struct("<I")
_STATS = struct.Struct("<III")
_VLAN = struct.Struct(">HH")


class LiveError(Exception):
    """The interface cannot be captured from (the message says why and what to do)."""


@dataclass
class KernelStats:
    """Totals since the capture opened, from PACKET_STATISTICS."""

    packets: int = 0
    """Frames the kernel handed to this socket's filter and ring, drops included."""
    drops: int = 0
    """Frames lost because the ring was full: the sensor fell behind."""
    freezes: int = 0


@dataclass
class Batch:
    """What one `LiveCapture.read` took from the ring."""

    runs: list[Records]
    frames: int
    wire_bytes: int
    last_ts: float | None


def _stamp(sec: int, nsec: int) -> float:
    return sec + nsec * 1e-9


def compile_filter(interface: str, expression: str) -> bytes:
    """A tcpdump filter expression as classic BPF instructions (struct sock_filter array),
    compiled by `tcpdump -ddd` for the interface (so libpcap knows about the kernel's VLAN
    handling); raises LiveError with tcpdump's message when the expression is wrong."""
    try:
        done = subprocess.run(["tcpdump", "-i", interface, "-ddd", expression], capture_output=True,
                              text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise LiveError(f"cannot compile the capture filter with tcpdump: {e}") from None
    if done.returncode != 0:
        raise LiveError(f"capture filter {expression!r}: {done.stderr.strip()}")
    lines = done.stdout.split()
    count = int(lines[0])
    words = [int(w) for w in lines[1:]]
    if len(words) != 4 * count:
        raise LiveError(f"capture filter {expression!r}: unexpected tcpdump -ddd output")
    return b"".join(struct.pack("=HBBI", *words[i : i + 4]) for i in range(0, len(words), 4))


class LiveCapture:
    """An open interface; `read` returns what the kernel captured since the last call."""

    def __init__(self, interface: str, bpf: str | None = None, blocks: int = RING_BLOCKS,
                 promiscuous: bool = True) -> None:
        self.interface = interface
        self.source = f"interface:{interface}"
        self.kernel = KernelStats()
        self.frames = 0
        self.wire_bytes = 0
        self.last_ts: float | None = None
        """Capture time of the newest frame."""
        self._nblocks = blocks
        try:
            ifindex = socket.if_nametoindex(interface)
        except OSError:
            raise LiveError(f"{interface}: no such interface") from None
        program = compile_filter(interface, bpf) if bpf else None
        try:
            # Protocol 0: no frame is queued until bind(), after the filter is in place.
            self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        except PermissionError:
            raise LiveError(f"{interface}: capturing needs CAP_NET_RAW (see README, 'Live monitoring')") from None
        try:
            if program is not None:
                code = ctypes.create_string_buffer(program)
                fprog = struct.pack("HP", len(program) // 8, ctypes.addressof(code))
                self._sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
            self._sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V3)
            req = struct.pack("7I", BLOCK_SIZE, blocks, FRAME_SIZE, BLOCK_SIZE * blocks // FRAME_SIZE,
                              BLOCK_TIMEOUT_MS, 0, 0)
            self._sock.setsockopt(SOL_PACKET, PACKET_RX_RING, req)
            self._ring = mmap.mmap(self._sock.fileno(), BLOCK_SIZE * blocks, mmap.MAP_SHARED,
                                   mmap.PROT_READ | mmap.PROT_WRITE)
            if promiscuous:
                mreq = struct.pack("iHH8s", ifindex, PACKET_MR_PROMISC, 0, b"")
                self._sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
            self._sock.bind((interface, ETH_P_ALL))
            hatype = self._sock.getsockname()[3]
        except OSError as e:
            self._sock.close()
            raise LiveError(f"{interface}: cannot capture: {e}") from None
        if hatype not in ARPHRD_LINKTYPES:
            self.close()
            raise LiveError(f"{interface}: unsupported hardware type {hatype} (Ethernet, loopback and "
                            f"raw-IP interfaces are supported)")
        self.linktype = ARPHRD_LINKTYPES[hatype]
        self._view = memoryview(self._ring)
        self._block = 0
        self._held: list[int] = []
        """Ring offsets of the blocks the last batch's runs point into."""
        self._poll = select.poll()
        self._poll.register(self._sock.fileno(), select.POLLIN | select.POLLERR)

    def close(self) -> None:
        """Release the ring and the socket."""
        if hasattr(self, "_view"):
            self._view.release()
        if hasattr(self, "_ring"):
            self._ring.close()
        self._sock.close()

    def read(self, timeout: float) -> Batch:
        """The blocks the kernel has handed over, waiting up to `timeout` seconds for the first.

        The runs point into the ring itself: they are valid until the next `read`, which hands
        their blocks back to the kernel (the sensor copies what it keeps)."""
        self._release()
        runs: list[Records] = []
        frames = wire = 0
        last: float | None = None
        waited = False
        block = self._block
        while len(runs) < MAX_BATCH_BLOCKS:
            base = block * BLOCK_SIZE
            status, count, first = _BLOCK_HEAD.unpack_from(self._ring, base + 8)
            if not status & TP_STATUS_USER:
                if self._held or waited:
                    break
                self._poll.poll(max(0, int(timeout * 1000)))
                waited = True
                continue
            self._held.append(base)
            block = (block + 1) % self._nblocks
            if count:
                run, size, last = self._records(base, count, first)
                runs.append(run)
                frames += count
                wire += size
        self._block = block
        self.frames += frames
        self.wire_bytes += wire
        if last is not None:
            self.last_ts = last
        self._read_stats()
        return Batch(runs, frames, wire, last)

    def _release(self) -> None:
        """Hand the blocks of the previous batch back to the kernel."""
        for base in self._held:
            _STATUS.pack_into(self._ring, base + 8, TP_STATUS_KERNEL)
        self._held.clear()

    def _records(self, base: int, count: int, first: int) -> tuple[Records, int, float]:
        """One ring block as pcap records, in place: each frame's 16-byte record header is written
        into the ring just before the frame (over the kernel's sockaddr_ll, already unused), and an
        802.1Q tag the kernel took out is put back by moving the MAC addresses 4 bytes down."""
        ring = self._ring
        unpack = _FRAME_HEAD.unpack_from
        record = _RECORD.pack_into
        vlan = _VLAN.pack_into
        ethernet = self.linktype == LINKTYPE_ETHERNET
        offsets: list[int] = []
        wire = 0
        p = base + first
        sec = nsec = 0
        for _ in range(count):
            nxt, sec, nsec, snap, length, status, mac, _net, _hash, tci, tpid = unpack(ring, p)
            start = p + mac
            if status & TP_STATUS_VLAN_VALID and ethernet and snap >= 12:
                ring[start - 4 : start + 8] = ring[start : start + 12]
                vlan(ring, start + 8, tpid if status & TP_STATUS_VLAN_TPID_VALID else ETH_P_8021Q, tci)
                start -= 4
                snap += 4
                length += 4
            record(ring, start - 16, sec, nsec, snap, length)
            offsets.append(start - 16 - base)
            wire += length
            p += nxt
        data = self._view[base : base + BLOCK_SIZE]
        return Records(data, offsets, "<", self.linktype, _stamp), wire, _stamp(sec, nsec)

    def _read_stats(self) -> None:
        packets, drops, freezes = _STATS.unpack(self._sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, _STATS.size))
        self.kernel.packets += packets
        self.kernel.drops += drops
        self.kernel.freezes += freezes

    def __iter__(self) -> Iterator[Batch]:
        """Batches forever, one at least every second (possibly empty)."""
        while True:
            yield self.read(1.0)
