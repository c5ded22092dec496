#!/usr/bin/env python3
"""How many packets per second each way of capturing live takes on this machine (needs root).

    python tests/bench/live_capture.py [--capture FILE] [--packets N] [--methods ring,pcapy,...]

A veth pair with its receiving end in a network namespace (tests/live/netns.py); for each method
a receiver runs in the namespace while `tcpreplay --topspeed` plays the first N packets of the
capture (default: the 1 GB benchmark mix, tests/bench/make_capture.py) into the other end. The
receiver counts frames from the first to the last, reads the kernel's drop counter and its own
CPU time from its first frame on. When nothing is dropped the receiver kept up with the sender, so its rate is a lower
bound (sender and receiver share 2 vCPUs); packets per CPU-second is the capacity of one core.

Methods: ring (sensor.live, AF_PACKET TPACKET_V3, frames turned into pcap records), ring+sensor
(the same feeding the whole sensor), pcapy (pcapy-ng `next_batch`, turned into records the
same way), pcapy-loop (pcapy-ng `dispatch` with a Python callback per packet), scapy
(`conf.L2listen` socket, `recv_raw` per packet). pcapy-ng and scapy are measured only if
installed; neither is a dependency of trustwatch.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, ROOT)

from tests.live.netns import VethNamespace  # noqa: E402

DEFAULT_CAPTURE = os.path.join(ROOT, "bench-data", "bench-hospital-1G.pcap")
IDLE = 2.0
"""Seconds without a frame that end a receiver."""


def receive(method: str, interface: str) -> dict[str, float]:
    """Run one receiver until the link is idle; what it took."""
    count = 0
    first = last = 0.0
    drops = 0

    def tick(n: int) -> None:
        nonlocal count, first, last, start_cpu
        if n:
            now = time.perf_counter()
            if not count:
                first = now
                start_cpu = time.process_time()
            count += n
            last = now

    start_cpu = 0.0
    print("ready", flush=True)
    if method in ("ring", "ring+sensor"):
        from trustwatch.sensor.live import LiveCapture
        from trustwatch.sensor.sense import Sensor
        cap = LiveCapture(interface)
        sensor = Sensor() if method == "ring+sensor" else None
        while not count or time.perf_counter() - last < IDLE:
            batch = cap.read(0.2)
            if sensor is not None and batch.runs:
                sensor.feed(cap.source, batch.runs, cap.frames, batch.last_ts or 0.0)
            tick(batch.frames)
        drops = cap.kernel.drops
    elif method in ("pcapy", "pcapy-loop"):
        import pcapy

        from trustwatch.sensor.capture import Records
        p = pcapy.create(interface)
        p.set_snaplen(65535)
        p.set_promisc(1)
        p.set_timeout(100)
        p.set_buffer_size(64 << 20)
        p.activate()
        p.setnonblock(1)  # next_batch/dispatch would wait for traffic forever
        meta = struct.Struct("=IIII")
        rec = struct.Struct("<IIII")
        while not count or time.perf_counter() - last < IDLE:
            if method == "pcapy":
                data, packed = p.next_batch(4096)
                n = len(packed) // 16
                parts: list[bytes] = []
                offsets = []
                pos = 0
                view = memoryview(data)
                for i in range(n):
                    sec, usec, off, caplen = meta.unpack_from(packed, 16 * i)
                    offsets.append(pos)
                    parts += (rec.pack(sec, usec, caplen, caplen), view[off : off + caplen])
                    pos += 16 + caplen
                if n:
                    Records(memoryview(b"".join(parts)), offsets, "<", 1, lambda a, b: a + b * 1e-6)
                else:
                    time.sleep(0.001)
                tick(n)
            else:
                seen = 0

                def one(_hdr: object, _data: bytes) -> None:
                    nonlocal seen
                    seen += 1

                p.dispatch(-1, one)
                if not seen:
                    time.sleep(0.001)
                tick(seen)
        drops = p.stats()[1]
    elif method == "scapy":
        from scapy.all import conf
        sock = conf.L2listen(iface=interface)
        import select
        while not count or time.perf_counter() - last < IDLE:
            r, _, _ = select.select([sock], [], [], 0.2)
            if r:
                sock.recv_raw()
                tick(1)
    return {"received": count, "seconds": last - first, "drops": drops, "cpu": time.process_time() - start_cpu}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--capture", default=DEFAULT_CAPTURE)
    ap.add_argument("--packets", type=int, default=200_000)
    ap.add_argument("--methods", default="ring,ring+sensor,pcapy,pcapy-loop,scapy")
    ap.add_argument("--receive", help=argparse.SUPPRESS)
    ap.add_argument("--interface", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.receive:
        print(json.dumps(receive(args.receive, args.interface)), flush=True)
        return 0
    with VethNamespace("twb") as ns:
        for method in args.methods.split(","):
            rx = subprocess.Popen(ns.exec(sys.executable, __file__, "--receive", method, "--interface", ns.sense),
                                  stdout=subprocess.PIPE, text=True, cwd=ROOT)
            assert rx.stdout is not None
            rx.stdout.readline()
            time.sleep(1.0)
            play = subprocess.run(["tcpreplay", "-i", ns.play, "--topspeed", "--limit", str(args.packets),
                                   args.capture], capture_output=True, text=True, check=True)
            sent = next((line.strip() for line in play.stdout.splitlines() if "Rated:" in line), "")
            res = json.loads(rx.stdout.readline())
            rx.wait()
            rate = res["received"] / res["seconds"] if res["seconds"] else 0.0
            per_cpu = res["received"] / res["cpu"] if res["cpu"] else 0.0
            print(f"{method:12} received {res['received']:>8,} of {args.packets:,}  kernel drops "
                  f"{res['drops']:>8,}  {rate:>10,.0f} pkt/s  {per_cpu:>10,.0f} pkt per CPU-second   "
                  f"(sender: {sent})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
