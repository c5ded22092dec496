#!/usr/bin/env python3
"""Hostile floods against the sensor's memory caps: peak memory and time, at two sizes.

    python tests/bench/floods.py [--data bench-data/floods] [--scale 1.0] [--only NAME]

Each flood is written once (deterministic, streamed to disk: the generator's memory stays
flat), then read by `trustwatch sense` at half and full size. Reported per run: wall and CPU
time, frames/s, peak resident and anonymous memory, and what each cap dropped (the sensor's
counters line). A cap holds when the peak stays flat from half to full size; time is linear
when frames/s stays flat. Not a test (nothing in pytest is timed).

Floods (full size at --scale 1):
  syn          1,000,000 SYNs from as many sources: the flow table (max_flows)
  ooo          10,000 connections, each with 260 KB of segments after a hole that never fills:
               the out-of-order queues (reassembly_direction, reassembly_memcap)
  certificates 5,000 TLS connections whose server sends 99 KB of a Certificate message but
               never its last record: the parsers' handshake buffers (parser_memcap)
  fragments    200 datagrams of 8,190 eight-byte IPv4 fragments, one piece missing each: the
               fragment tables (defrag_fragments, defrag_memcap) and linear reassembly
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path[:0] = [str(HERE), str(ROOT / "sample_pcaps")]  # importable from the tests too
from bench import installed_env, run  # noqa: E402
from craft.capture import pcap_header  # noqa: E402
from craft.flows import fold, ipv4_tcp_bytes, word_sum  # noqa: E402
from craft.link import Host, ether_prefix  # noqa: E402
from craft.tls import CT_HANDSHAKE, HS_CERTIFICATE, HS_SERVER_HELLO, handshake, record, u16  # noqa: E402

CLIENT_MAC, SERVER_MAC = "02:00:00:00:00:01", "02:00:00:00:00:02"
T0 = 1_741_680_000
Frames = Iterator[tuple[float, bytes]]


def tcp(src: Host, dst: Host, sport: int, dport: int, seq: int, flags: str, payload: bytes = b"") -> bytes:
    """One Ethernet/IPv4/TCP frame (the crafting library's fast path)."""
    mac_src, mac_dst = (CLIENT_MAC, SERVER_MAC) if sport > dport else (SERVER_MAC, CLIENT_MAC)
    return ether_prefix(mac_src, mac_dst, ()) + ipv4_tcp_bytes(src, dst, sport, dport, seq, 1, flags, 65535,
                                                               payload=payload)


def client(i: int) -> Host:
    return Host(f"c{i}", CLIENT_MAC, f"10.{100 + (i >> 16) % 100}.{(i >> 8) & 255}.{i & 255}")


SERVER = Host("server", SERVER_MAC, "10.50.0.1")


def syn_flood(n: int) -> Frames:
    for i in range(n):
        yield T0 + i / 100_000, tcp(client(i), SERVER, 1024 + i % 60000, 443, i * 7919 % (1 << 32), "S")


def ooo_flood(n: int) -> Frames:
    """Per connection: SYN, one byte, then 1448-byte segments starting 10,000 bytes further on:
    the hole never fills."""
    chunk = bytes(1448)
    for i in range(n):
        c, port = client(i), 1024 + i % 60000
        ts = T0 + i * 0.001
        yield ts, tcp(c, SERVER, port, 8080, 1000, "S")
        yield ts, tcp(c, SERVER, port, 8080, 1001, "PA", b"G")
        for k in range(180):  # 260 KB waiting
            yield ts, tcp(c, SERVER, port, 8080, 11_002 + k * 1448, "PA", chunk)


def certificate_flood(n: int) -> Frames:
    """Per connection: the server's ServerHello and 99 KB of a 100 KB Certificate message in
    16 KB records, the last record never sent."""
    hello = record(CT_HANDSHAKE, handshake(HS_SERVER_HELLO, u16(0x0303) + bytes(32) + b"\x00" + u16(0xC02F) + b"\x00"))
    body = bytes(100_000)
    message = handshake(HS_CERTIFICATE, body)
    records = [record(CT_HANDSHAKE, message[k:k + 16_000]) for k in range(0, len(message), 16_000)][:-1]
    stream = hello + b"".join(records)
    for i in range(n):
        c, port = client(i), 1024 + i % 60000
        ts = T0 + i * 0.001
        yield ts, tcp(c, SERVER, port, 443, 5000, "S")
        yield ts, tcp(SERVER, c, 443, port, 9000, "SA")
        for k in range(0, len(stream), 1448):
            yield ts, tcp(SERVER, c, 443, port, 9001 + k, "PA", stream[k:k + 1448])


def fragment_flood(n: int) -> Frames:
    """Per datagram: 8,190 eight-byte fragments of a UDP datagram, the 100th missing."""
    eth = ether_prefix(CLIENT_MAC, SERVER_MAC, ())
    src, dst = bytes([10, 60, 0, 5]), bytes([10, 50, 0, 1])
    for i in range(n):
        ts = T0 + i * 0.01
        for k in range(8190):
            if k == 100:
                continue
            more = 0x2000 if k < 8189 else 0
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28, i & 0xFFFF, more | k, 64, 17, 0, src, dst)
            ip = ip[:10] + struct.pack("!H", fold(word_sum(ip))) + ip[12:]
            yield ts, eth + ip + bytes(8)


FLOODS: dict[str, tuple[Callable[[int], Frames], int]] = {
    "syn": (syn_flood, 1_000_000),
    "ooo": (ooo_flood, 10_000),
    "certificates": (certificate_flood, 5_000),
    "fragments": (fragment_flood, 200),
}


def write(path: Path, frames: Frames) -> int:
    """Stream `frames` into a pcap file; how many."""
    count = 0
    with open(path, "wb") as out:
        out.write(pcap_header(1))
        for ts, frame in frames:
            sec = int(ts)
            out.write(struct.pack("<IIII", sec, int((ts - sec) * 1e6), len(frame), len(frame)) + frame)
            count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT / "bench-data" / "floods")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every flood's size")
    parser.add_argument("--only", choices=sorted(FLOODS))
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    trustwatch = str(Path(sys.executable).parent / "trustwatch")
    env = installed_env(args.data, trustwatch)
    print(f"{'flood':13} {'size':>10} {'frames':>11} {'wall s':>7} {'cpu s':>7} {'frames/s':>10} "
          f"{'rss MB':>7} {'anon MB':>8}  what the caps dropped")
    for name, (make, full) in FLOODS.items():
        if args.only and name != args.only:
            continue
        for size in (int(full * args.scale) // 2, int(full * args.scale)):
            path = args.data / f"{name}-{size}.pcap"
            counted = path.with_suffix(".frames")
            if not counted.exists():
                counted.write_text(str(write(path, make(size))))
            frames = int(counted.read_text())
            stderr = args.data / f"{name}-{size}.stderr"
            result = run(name, [trustwatch, "sense", "--read", str(path), "-o", os.devnull, "--key-file",
                                str(args.data / "site.key")], env=env, stderr=stderr)
            caps = next((line.split(": ", 1)[1] for line in stderr.read_text().splitlines()
                         if "memory caps bit" in line), "nothing")
            print(f"{name:13} {size:>10,} {frames:>11,} {float(result['seconds']):>7.2f} {float(result['cpu']):>7.2f} "
                  f"{frames / float(result['seconds']):>10,.0f} {float(result['rss_mb']):>7.0f} "
                  f"{float(result['anon_mb']):>8.0f}  {caps}", flush=True)


if __name__ == "__main__":
    main()
