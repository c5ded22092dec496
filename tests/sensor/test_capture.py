"""Capture readers: pcap in both byte orders and resolutions, pcapng with several
interfaces, gzip, truncation and corruption."""

from __future__ import annotations

import gzip
import json
import os
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import needs_real_pcaps
from trustwatch.sensor import capture
from trustwatch.sensor.capture import Capture, CaptureError
from trustwatch.sensor.fastpath import walk_pcap, walk_pcapng

FRAMES = [bytes([i]) * (60 + 37 * i) for i in range(6)]


def pcap_bytes(frames: list[bytes], endian: str = "<", nanos: bool = False, linktype: int = 1,
               t0: int = 1_700_000_000) -> bytes:
    """A pcap file: header, then one record per frame, 1.5 s apart."""
    magic = 0xA1B23C4D if nanos else 0xA1B2C3D4
    out = [struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, 65535, linktype)]
    for i, frame in enumerate(frames):
        frac = 500_000_000 if nanos else 500_000
        out.append(struct.pack(endian + "IIII", t0 + i, frac, len(frame), len(frame) + 4))
        out.append(frame)
    return b"".join(out)


def pcapng_block(btype: int, body: bytes, endian: str = "<") -> bytes:
    body += b"\0" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack(endian + "II", btype, n) + body + struct.pack(endian + "I", n)


def pcapng_bytes(endian: str = "<") -> bytes:
    """Two interfaces: Ethernet in µs, raw IP in ns (if_tsresol 9) with an offset; an EPB on
    each, then an SPB (interface 0), an unknown block type and a Name Resolution Block."""
    e = endian
    shb = pcapng_block(0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1), e)
    opt_ns = struct.pack(e + "HH", 9, 1) + b"\x09\0\0\0"
    opt_off = struct.pack(e + "HHq", 14, 8, 100)
    idb0 = pcapng_block(1, struct.pack(e + "HHI", 1, 0, 0), e)
    idb1 = pcapng_block(1, struct.pack(e + "HHI", 101, 0, 0) + opt_ns + opt_off + b"\0" * 4, e)

    def epb(iface: int, units: int, frame: bytes) -> bytes:
        return pcapng_block(6, struct.pack(e + "IIIII", iface, units >> 32, units & 0xFFFFFFFF,
                                           len(frame), len(frame)) + frame, e)

    return b"".join([
        shb, idb0, idb1,
        epb(0, 1_700_000_000_250_000, FRAMES[0]),
        epb(1, 1_700_000_000_000_000_001, FRAMES[1]),
        pcapng_block(3, struct.pack(e + "I", len(FRAMES[2])) + FRAMES[2], e),
        pcapng_block(0x0BAD, b"unknown block", e),
        pcapng_block(4, b"\0" * 4, e),
        epb(0, 1_700_000_001_000_000, FRAMES[3]),
    ])


def test_sections_of_both_byte_orders_each_read_in_their_own(tmp_path: Path) -> None:
    """A fuzz finding: the packets that ended a little-endian section were delivered in the byte
    order of the big-endian section after it (lengths and times misread)."""
    path = tmp_path / "x.pcapng"
    path.write_bytes(pcapng_bytes("<") + pcapng_bytes(">"))
    got, warnings = read_all(path)
    assert [g[2] for g in got] == [FRAMES[0], FRAMES[1], FRAMES[2], FRAMES[3]] * 2
    assert [g[0] for g in got[:4]] == [g[0] for g in got[4:]]
    assert warnings == []


def read_all(path: Path) -> tuple[list[tuple[float, int, bytes, int]], list[str]]:
    cap = Capture(str(path))
    got = [(ts, lt, bytes(buf[off:off + n]), wire) for ts, lt, buf, off, n, wire in cap.frames()]
    cap.close()
    return got, cap.warnings


@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("nanos", [False, True])
def test_pcap_both_byte_orders_and_resolutions(tmp_path: Path, endian: str, nanos: bool) -> None:
    path = tmp_path / "x.pcap"
    path.write_bytes(pcap_bytes(FRAMES, endian, nanos))
    got, warnings = read_all(path)
    assert [g[2] for g in got] == FRAMES
    assert [g[0] for g in got] == pytest.approx([1_700_000_000.5 + i for i in range(6)])
    assert {g[1] for g in got} == {1}
    assert [g[3] for g in got] == [len(f) + 4 for f in FRAMES]
    assert warnings == []


@pytest.mark.parametrize("endian", ["<", ">"])
def test_pcapng_interfaces_keep_their_linktype_and_resolution(tmp_path: Path, endian: str) -> None:
    path = tmp_path / "x.pcapng"
    path.write_bytes(pcapng_bytes(endian))
    got, warnings = read_all(path)
    assert [g[2] for g in got] == [FRAMES[0], FRAMES[1], FRAMES[2], FRAMES[3]]
    assert [g[1] for g in got] == [1, 101, 1, 1]
    assert got[0][0] == pytest.approx(1_700_000_000.25)
    assert got[1][0] == pytest.approx(1_700_000_100.000_000_001)  # ns units plus the offset
    assert got[2][0] == got[1][0]  # an SPB has no time of its own
    assert warnings == []


def test_gzip_capture_reads_like_the_plain_one(tmp_path: Path) -> None:
    plain = tmp_path / "x.pcapng"
    plain.write_bytes(pcapng_bytes())
    packed = tmp_path / "x.pcapng.gz"
    packed.write_bytes(gzip.compress(pcapng_bytes()))
    assert read_all(packed) == read_all(plain)


def fed_through_a_pipe(data: bytes, tmp_path: Path) -> Path:
    """A named pipe a thread writes `data` into: a capture that cannot be mapped or sought."""
    tmp_path.mkdir(exist_ok=True)
    fifo = tmp_path / "fifo.pcap"
    os.mkfifo(fifo)

    def write() -> None:
        with open(fifo, "wb") as f:
            f.write(data)

    threading.Thread(target=write, daemon=True).start()
    return fifo


@pytest.mark.parametrize("block", [17, 100, 4096])
@pytest.mark.parametrize("kind", ["pcap", "pcapng"])
@pytest.mark.parametrize("source", ["file", "gzip", "pipe"])
def test_records_straddling_read_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        block: int, kind: str, source: str) -> None:
    """Mapped windows (a file) and the copying reader (compressed, a pipe) cut records alike."""
    data = pcap_bytes(FRAMES) if kind == "pcap" else pcapng_bytes()
    path = tmp_path / f"x.{kind}"
    path.write_bytes(data)
    whole = read_all(path)
    assert len(whole[0]) == (6 if kind == "pcap" else 4)
    monkeypatch.setattr(capture, "READ_BLOCK", block)
    if source == "gzip":
        path = tmp_path / f"x.{kind}.gz"
        path.write_bytes(gzip.compress(data))
    elif source == "pipe":
        path = fed_through_a_pipe(data, tmp_path)
    assert read_all(path) == whole


@pytest.mark.parametrize("source", ["file", "pipe"])
def test_truncated_last_record_keeps_everything_before(tmp_path: Path, source: str) -> None:
    data = pcap_bytes(FRAMES)
    for cut in range(len(data) - len(FRAMES[-1]) - 15, len(data)):
        path = tmp_path / "t.pcap"
        path.write_bytes(data[:cut])
        if source == "pipe":
            path = fed_through_a_pipe(data[:cut], tmp_path / str(cut))
        got, warnings = read_all(path)
        assert [g[2] for g in got] == FRAMES[:-1]
        assert len(warnings) == 1 and "truncated last record after frame 5" in warnings[0]


def test_truncated_pcapng_and_gzip(tmp_path: Path) -> None:
    data = pcapng_bytes()
    path = tmp_path / "t.pcapng.gz"
    path.write_bytes(gzip.compress(data)[:-30])
    got, warnings = read_all(path)
    assert len(got) >= 3
    assert len(warnings) == 1


def test_corrupt_record_length_stops_with_a_warning(tmp_path: Path) -> None:
    data = bytearray(pcap_bytes(FRAMES))
    second = 24 + 16 + len(FRAMES[0])
    struct.pack_into("<I", data, second + 8, 0x7FFFFFFF)
    path = tmp_path / "c.pcap"
    path.write_bytes(bytes(data))
    got, warnings = read_all(path)
    assert [g[2] for g in got] == FRAMES[:1]
    assert "corrupt record length" in warnings[0]


BIG = [bytes([i % 251]) * (60 + (i * 97) % 1455) for i in range(1500)]
"""About 1.1 MB of frames: read blocks long enough for the walk's unchecked stretch (a block
longer than MAX_RECORD)."""


@pytest.mark.parametrize("block", [capture.MAX_RECORD + 1000, 1 << 20])
def test_long_blocks_deliver_every_frame(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    path = tmp_path / "big.pcap"
    path.write_bytes(pcap_bytes(BIG))
    monkeypatch.setattr(capture, "READ_BLOCK", block)
    got, warnings = read_all(path)
    assert [g[2] for g in got] == BIG and not warnings


@pytest.mark.parametrize("bad_len", [capture.MAX_RECORD + 1, 0x7FFFFFFF])
@pytest.mark.parametrize("at", [3, 700])
def test_corrupt_record_length_inside_a_long_block(tmp_path: Path, bad_len: int, at: int) -> None:
    data = bytearray(pcap_bytes(BIG))
    pos = 24 + sum(16 + len(f) for f in BIG[:at])
    struct.pack_into("<I", data, pos + 8, bad_len)
    path = tmp_path / "c.pcap"
    path.write_bytes(bytes(data))
    got, warnings = read_all(path)
    assert [g[2] for g in got] == BIG[:at]
    assert len(warnings) == 1 and f"corrupt record length {bad_len} after frame {at}" in warnings[0]


@pytest.mark.parametrize("content", [b"", b"hello", b"GET / HTTP/1.1\r\n\r\n", b"\x1f\x8bnot gzip"])
def test_not_a_capture_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(content)
    with pytest.raises(CaptureError, match=r"not a capture|unreadable"):
        Capture(str(path))


def test_empty_capture_has_no_frames(tmp_path: Path) -> None:
    path = tmp_path / "e.pcap"
    path.write_bytes(pcap_bytes([]))
    assert read_all(path) == ([], [])


@needs_real_pcaps
def test_every_real_capture_reads_with_capinfos_frame_count(real_pcaps: Path) -> None:
    """The frame count of each public capture equals the one capinfos recorded."""
    import json

    expected = json.loads((real_pcaps / "expected.json").read_text())
    checked = 0
    for rel, facts in expected.items():
        want = facts.get("_meta", {}).get("packets")
        if want is None:
            continue
        got, _warnings = read_all(real_pcaps / rel)
        assert len(got) == int(want), rel
        checked += 1
    assert checked > 150


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["pcap", "pcapng"]), st.binary(max_size=300), st.integers(0, 400))
def test_garbage_after_a_valid_start_never_raises(tmp_path: Path, kind: str, junk: bytes,
                                                  keep: int) -> None:
    good = pcap_bytes(FRAMES) if kind == "pcap" else pcapng_bytes()
    head = 24 if kind == "pcap" else 28
    path = tmp_path / f"fuzz.{kind}"
    path.write_bytes(good[: head + keep] + junk)
    got, warnings = read_all(path)  # frames or warnings, never an exception
    assert all(isinstance(w, str) for w in warnings)
    assert len(got) <= len(FRAMES) + len(junk) // 16 + 1


def walked_in_python(data: bytes, pos: int, big_endian: bool, max_record: int) -> tuple[list[int], int]:
    """The record walk as pcap defines it, one record at a time."""
    offsets = []
    while pos + 16 <= len(data):
        caplen = int.from_bytes(data[pos + 8 : pos + 12], "big" if big_endian else "little")
        if caplen > max_record or pos + 16 + caplen > len(data):
            break
        offsets.append(pos)
        pos += 16 + caplen
    return offsets, pos


records = st.builds(
    lambda frames, big, junk: b"".join(
        struct.pack(">IIII" if big else "<IIII", 1, 2, len(f), len(f)) + f for f in frames) + junk,
    st.lists(st.binary(max_size=60), max_size=12), st.booleans(), st.binary(max_size=40),
)


@settings(max_examples=500, deadline=None)
@given(st.one_of(records, st.binary(max_size=300)), st.integers(0, 320), st.booleans(), st.integers(0, 80))
def test_the_compiled_walk_finds_exactly_the_whole_records(data: bytes, pos: int, big_endian: bool,
                                                           max_record: int) -> None:
    """sensor/fastpath.c against the definition: records cut by the end, lengths over the limit
    and starts beyond the end stop the walk where they are, whatever the bytes."""
    assert walk_pcap(data, pos, big_endian, max_record) == walked_in_python(data, pos, big_endian, max_record)
    assert walk_pcap(memoryview(bytearray(data)), pos, big_endian, 1 << 18) == walked_in_python(
        data, pos, big_endian, 1 << 18)


def walked_pcapng_in_python(data: bytes, pos: int, big_endian: bool, interface: int,
                            max_block: int) -> tuple[list[int], int]:
    """Enhanced Packet Blocks of one interface, one after another, as pcapng defines them."""
    order = "big" if big_endian else "little"
    offsets = []
    while pos + 28 <= len(data):
        btype, length, iface = (int.from_bytes(data[pos + k : pos + k + 4], order) for k in (0, 4, 8))
        caplen = int.from_bytes(data[pos + 20 : pos + 24], order)
        if (btype != 6 or not 32 <= length <= max_block or length % 4 or pos + length > len(data)
                or iface != interface or 28 + caplen > length - 4):
            break
        offsets.append(pos + 12)
        pos += length
    return offsets, pos


packet_blocks = st.builds(
    lambda blocks, big, junk: b"".join(
        pcapng_block(btype, struct.pack((">" if big else "<") + "IIIII", iface, 0, 0, len(f), len(f)) + f,
                     ">" if big else "<")
        for btype, iface, f in blocks) + junk,
    st.lists(st.tuples(st.sampled_from([6, 6, 6, 1, 3]), st.integers(0, 1), st.binary(max_size=30)), max_size=10),
    st.booleans(), st.binary(max_size=40),
)


@settings(max_examples=500, deadline=None)
@given(st.one_of(packet_blocks, st.binary(max_size=300)), st.integers(0, 200), st.booleans(), st.integers(0, 1),
       st.sampled_from([40, 1 << 24]))
def test_the_compiled_pcapng_walk_takes_exactly_the_run_of_packet_blocks(
        data: bytes, pos: int, big_endian: bool, interface: int, max_block: int) -> None:
    assert walk_pcapng(data, pos, big_endian, interface, max_block) == walked_pcapng_in_python(
        data, pos, big_endian, interface, max_block)


def test_a_file_system_that_cannot_map_is_read_by_copying(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "x.pcap"
    path.write_bytes(pcap_bytes(BIG))

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise OSError(19, "No such device")

    monkeypatch.setattr(capture.mmap, "mmap", refuse)
    got, warnings = read_all(path)
    assert [g[2] for g in got] == BIG and not warnings


def test_a_capture_cut_short_while_mapped_keeps_what_came_before(tmp_path: Path) -> None:
    """Another program truncates the file while its first window is mapped and walked: the
    pages past the new end would raise SIGBUS. The reader survives (a child process, so a
    failure cannot take the test run down), every frame before the cut is intact, and the
    warning says what happened."""
    frames = [bytes([i % 256]) * 1000 for i in range(6000)]  # ~6 MB: more than one window
    path = tmp_path / "cut.pcap"
    path.write_bytes(pcap_bytes(frames))
    cut = 1_000_000
    script = f"""
import json, os, struct
from trustwatch.sensor import mapguard
from trustwatch.sensor.capture import Capture
cap = Capture({str(path)!r})
intact, read = 0, 0
for run in cap.runs():
    if read == 0:
        os.truncate({str(path)!r}, {cut})
    for o in run.offsets:
        caplen = struct.unpack_from("<I", run.data, o + 8)[0]
        frame = bytes(run.data[o + 16:o + 16 + caplen])
        intact += frame == bytes([read % 256]) * 1000
        read += 1
print(json.dumps({{"intact": intact, "read": read, "warnings": cap.warnings, "faults": mapguard.faults()}}))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    whole_before_cut = (cut - 24) // 1016
    assert result["faults"] > 0
    assert result["intact"] >= whole_before_cut
    assert any("truncated while reading" in w for w in result["warnings"])
