#!/usr/bin/env python3
"""The highest replay rate the live sensor takes without kernel drops (needs root; not a test).

    python tests/bench/live_replay.py [--capture FILE] [--rates 200,400,...] [--packets N]

For each rate (Mbit/s, rising) a fresh `trustwatch sense --interface` runs in a network
namespace on one end of a veth pair (tests/live/netns.py) while `tcpreplay --mbps RATE` plays
the capture (default: the 1 GB hospital mix, `tests/bench/make_capture.py --size 1G`) into the
other end; when the replay is over the sensor is stopped with SIGTERM and prints its frame and
kernel-drop counts. The sweep stops at the first rate with drops. tcpreplay's own achieved
rate is printed too: on a small machine the sender may not reach the rate asked for.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, ROOT)

from tests.live.netns import VethNamespace  # noqa: E402

DEFAULT_CAPTURE = os.path.join(ROOT, "bench-data", "bench-hospital-1G.pcap")
DEFAULT_RATES = "200,400,600,800,1000,1200,1500,2000"


def one_rate(ns: VethNamespace, capture: str, mbps: int, packets: int | None) -> tuple[int, int, str]:
    """(frames the sensor read, kernel drops, tcpreplay's rate line) at `mbps`."""
    sensor = subprocess.Popen(
        ns.exec(sys.executable, "-m", "trustwatch.analytics.cli", "sense", "--interface", ns.sense, "-o", os.devnull,
                "--metrics-port", "0", "--key-file", os.path.join("/tmp", f"twbench-{os.getpid()}.key")),
        cwd=ROOT, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)  # imports and the ring set up
    cmd = ["tcpreplay", "-i", ns.play, "--mbps", str(mbps)]
    if packets:
        cmd += ["--limit", str(packets)]
    play = subprocess.run([*cmd, capture], capture_output=True, text=True, check=True)
    time.sleep(1.0)  # the last ring block times out and is read
    sensor.send_signal(signal.SIGTERM)
    _out, err = sensor.communicate(timeout=120)
    m = re.search(r"([\d,]+) frames, [\d,]+ observations, ([\d,]+) dropped by the kernel", err)
    if m is None:
        raise SystemExit(f"sensor failed:\n{err}")
    rated = next((line.strip() for line in play.stdout.splitlines() if "Rated:" in line), "")
    return int(m[1].replace(",", "")), int(m[2].replace(",", "")), rated


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--capture", default=DEFAULT_CAPTURE)
    ap.add_argument("--rates", default=DEFAULT_RATES, help="Mbit/s, comma-separated, rising")
    ap.add_argument("--packets", type=int, default=None, help="replay only the first N packets")
    args = ap.parse_args()
    if not os.path.exists(args.capture):
        raise SystemExit(f"{args.capture}: missing (python tests/bench/make_capture.py --size 1G -o {args.capture})")
    best = None
    with VethNamespace("twr") as ns:
        for mbps in (int(r) for r in args.rates.split(",")):
            frames, drops, rated = one_rate(ns, args.capture, mbps, args.packets)
            print(f"{mbps:>6} Mbit/s asked: {frames:>10,} frames read, {drops:>9,} kernel drops   ({rated})",
                  flush=True)
            if drops:
                break
            best = (mbps, rated)
    print(f"highest rate without kernel drops: {f'{best[0]} Mbit/s asked ({best[1]})' if best else 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
