"""The per-packet hot path, one read block at a time: the packets of flows that are done are
only counted, in bulk, with numpy; every other packet goes to the sensor's full path.

Nearly all of a capture's packets belong to flows whose handshake is over (bulk DICOM, backups,
TLS downloads). For those the sensor needs only the flow lookup and the per-direction packet
and byte counters with the last packet time. Per packet in Python that costs over a
microsecond; here a block costs one row copy per packet (the record's lengths and the frame's
first bytes), a few numpy passes over those rows, and one dict lookup per distinct flow key.

The classification is the one the full decoder reaches for the common case: Ethernet
(optionally one 802.1Q tag) carrying IPv4 with a 20-byte header and no fragmentation, or IPv6,
with TCP or UDP next. Anything else (other link types, IP options, fragments, extension
headers, tunnels, short frames) is left to the full path, which handles all of it.

A flow is judged done as of the start of its block; a flow that finishes its handshake within
a block has the rest of that block's packets counted by the full path.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sensor.flows import Flow, FlowTable

ETHERNET = 1
_TCP = 6
_UDP = 17
_ROW = 8
"""Rows start at record byte 8: caplen (4), wirelen (4), then the frame."""
_FRAME = 68
"""Frame bytes up to the TCP flags behind an IPv6 header."""
_ROW_LEN = 8 + 4 + _FRAME
"""Record lengths, then the frame up to the TCP flags behind one VLAN tag and an IPv6 header."""
_SYN_FIN_RST = 0x07
"""TCP packets that open or close a connection take the full path (port reuse, timeouts)."""
_VLAN_TAG = 4
_HASH_MUL = np.uint64(0x9E3779B97F4A7C15)
_BE16 = np.dtype(">u2")

Latest = list[tuple[Flow, float]]
"""Each counted group's flow and the time of its last packet."""


def count_done_flows(
    block: memoryview, offsets: list[int], endian: str, stamp: Callable[[int, int], float], linktype: int,
    table: FlowTable,
) -> list[int]:
    """Count the packets of done flows among the records at `offsets` in `block` (laid out as
    `capture.Records` says); return the indices (into `offsets`, in order) of the packets the
    full path must see."""
    data = np.frombuffer(block, dtype=np.uint8)
    record = np.asarray(offsets, dtype=np.int64)
    fits = record + _ROW + _ROW_LEN <= len(data)
    if linktype != ETHERNET or not fits.any():
        return list(range(len(offsets)))
    index = np.flatnonzero(fits)
    rows = _gather(data, record[index] + _ROW, _ROW_LEN)
    u32 = np.dtype(f"{endian}u4")
    caplen = rows[:, 0:4].view(u32)[:, 0]
    wirelen = rows[:, 4:8].view(u32)[:, 0]
    # One layout for all: a tagged frame is read 4 bytes further on, as if it had no tag.
    frame = rows[:, 8 : 8 + _FRAME]
    tagged = rows[:, 20:22].view(_BE16)[:, 0] == 0x8100
    v6_caplen = caplen
    if tagged.any():
        frame = frame.copy()
        frame[tagged] = rows[tagged, 8 + _VLAN_TAG :]
        v6_caplen = caplen - _VLAN_TAG * tagged
    ethertype = frame[:, 12:14].view(_BE16)[:, 0]
    v4_proto, v6_next = frame[:, 23], frame[:, 20]
    is_v4 = (
        (ethertype == 0x0800) & (frame[:, 14] == 0x45) & ((frame[:, 20:22].view(_BE16)[:, 0] & 0x3FFF) == 0)
        & (caplen >= 54)
        & ((v4_proto == _UDP) | ((v4_proto == _TCP) & ((frame[:, 47] & _SYN_FIN_RST) == 0)))
    )
    is_v6 = (ethertype == 0x86DD) & (
        ((v6_next == _UDP) & (v6_caplen >= 58))
        | ((v6_next == _TCP) & (v6_caplen >= 68) & ((frame[:, 67] & _SYN_FIN_RST) == 0))
    )
    counted = np.zeros(len(record), dtype=bool)
    latest: Latest = []
    for found, proto, key in ((is_v4, v4_proto, slice(26, 38)), (is_v6, v6_next, slice(22, 58))):
        sel = np.flatnonzero(found)
        if len(sel):
            _count(frame[sel, key], proto[sel], index[sel], wirelen[sel], record, data, endian,
                   stamp, table, counted, latest)
    # A flow's last time is its latest packet's, whichever direction (or group) that was in.
    for flow, ts in latest:
        if ts > flow.last:
            flow.last = ts
    return np.flatnonzero(~counted).tolist()


def _count(
    keys: np.ndarray, proto: np.ndarray, index: np.ndarray, wirelen: np.ndarray, record: np.ndarray,
    data: np.ndarray, endian: str, stamp: Callable[[int, int], float], table: FlowTable, counted: np.ndarray,
    latest: Latest,
) -> None:
    """Group packets by (protocol, the table's key); count each group whose flow is done.
    Grouping hashes the key; a row whose key differs from its group's is left alone."""
    words = keys.view(np.uint32)
    digest = proto.astype(np.uint64)
    for j in range(words.shape[1]):
        digest *= _HASH_MUL
        digest += words[:, j]
    _unique, first, inverse, sizes = np.unique(
        digest, return_index=True, return_inverse=True, return_counts=True
    )
    tcp_get, udp_get = table.tcp.get, table.udp.get
    done = np.zeros(len(first), dtype=bool)
    entries = []
    for g, (row, p) in enumerate(zip(first.tolist(), proto[first].tolist(), strict=True)):
        entry = (tcp_get if p == _TCP else udp_get)(keys[row].tobytes())
        if entry is not None and entry[0].done:
            done[g] = True
            entries.append((g, entry))
    if not entries:
        return
    take = done[inverse]
    rep = first[inverse]
    exact = (words == words[rep]).all(axis=1) & (proto == proto[rep])
    if not exact.all():
        take &= exact
        sizes = np.bincount(inverse[take], minlength=len(first))
    group = inverse[take]
    hit = index[take]
    wire = np.bincount(group, weights=wirelen[take], minlength=len(first)).tolist()
    last = np.zeros(len(first), dtype=np.int64)
    np.maximum.at(last, group, hit)
    stamps = _gather(data, record[last], 8)
    seconds = stamps[:, 0:4].view(np.dtype(f"{endian}u4"))[:, 0].tolist()
    fractions = stamps[:, 4:8].view(np.dtype(f"{endian}u4"))[:, 0].tolist()
    counts = sizes.tolist()
    for g, (flow, d) in entries:
        if counts[g]:
            flow.pkts[d] += counts[g]
            flow.bytes[d] += int(wire[g])
            latest.append((flow, stamp(seconds[g], fractions[g])))
    counted[hit] = True


def _gather(data: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """The `length` bytes at each of `starts` as the rows of a 2-D array. Viewing the buffer as
    overlapping fixed-size opaque items makes each row one memcpy (a strided 2-D view copies
    byte by byte: twice as slow)."""
    items = np.ndarray((len(data) - length + 1,), dtype=np.dtype((np.void, length)), buffer=data, strides=(1,))
    rows: np.ndarray = items[starts].view(np.uint8).reshape(-1, length)
    return rows
