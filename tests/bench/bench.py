"""Throughput and memory benchmark: trustwatch vs tshark vs the read limit, same capture,
same run. Not a test (nothing here is timed inside pytest).

    python tests/bench/bench.py [--size 1G] [--mix hospital|small] [--data bench-data] [--repeat 3]

Generates the capture with `make_capture.py` when it is not there yet, then runs, one after
another: `tcpdump -r FILE -w /dev/null` (the plain read limit), `trustwatch sense` and tshark
extracting the same facts (display filter + fields, handshake reassembly on). Prints wall
time, CPU time (user + sys), packets/s, MB/s, peak resident and peak anonymous memory of each,
the ratios, and checks that trustwatch found every certificate, SNI and JA3 that tshark found.
The tools take turns, `--repeat` rounds, and each one's median run (by wall time) is reported
with the peak memory of all its runs: on a shared machine a single run can be off by a third.
trustwatch runs as an installed tool does, its bytecode cached (`installed_env`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
TSHARK_FILTER = "tls.handshake.type == 1 || tls.handshake.type == 2 || tls.handshake.type == 11"
TSHARK_FIELDS = ["tls.handshake.extensions_server_name", "tls.handshake.ja3",
                 "tls.handshake.certificate"]


class Peak:
    """Samples a child's /proc status every 20 ms: peak VmRSS and peak RssAnon (kB)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.rss = 0
        self.anon = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                status = Path(f"/proc/{self.pid}/status").read_text()
            except OSError:
                return
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    self.rss = max(self.rss, int(line.split()[1]))
                elif line.startswith("RssAnon:"):
                    self.anon = max(self.anon, int(line.split()[1]))
            time.sleep(0.02)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def run(name: str, cmd: list[str], stdout: Path | None = None,
        env: dict[str, str] | None = None, stderr: Path | None = None) -> dict[str, float | str]:
    """Run one tool to completion; wall time, CPU time (user + sys: the machine may be shared,
    wall time is noisy) and peak memory. Its stderr goes to the file `stderr` when given."""
    out = open(stdout, "w") if stdout else subprocess.DEVNULL  # noqa: SIM115
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, env=env)
    peak = Peak(proc.pid)
    _, err = proc.communicate()
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak.stop()
    if stderr:
        stderr.write_bytes(err)
    if stdout:
        out.close()  # type: ignore[union-attr]
    if proc.returncode != 0:
        sys.exit(f"{name} failed ({proc.returncode}): {err.decode(errors='replace')[-2000:]}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return {"tool": name, "seconds": seconds, "cpu": cpu, "rss_mb": peak.rss / 1024, "anon_mb": peak.anon / 1024}


def median(runs: list[dict[str, float | str]]) -> dict[str, float | str]:
    """The median run by wall time, with the highest memory peaks of all."""
    middle = dict(sorted(runs, key=lambda r: float(r["seconds"]))[len(runs) // 2])
    middle["rss_mb"] = max(float(r["rss_mb"]) for r in runs)
    middle["anon_mb"] = max(float(r["anon_mb"]) for r in runs)
    return middle


def installed_env(data: Path, trustwatch: str) -> dict[str, str]:
    """The environment trustwatch runs in as an installed tool: with its bytecode cached (here
    under `data`, warmed by one `--help`). A shell with PYTHONDONTWRITEBYTECODE set would
    otherwise recompile every module of the project at each start."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(data / "pycache")
    subprocess.run([trustwatch, "--help"], env=env, check=True, capture_output=True)
    return env


def tshark_facts(path: Path) -> dict[str, set[str]]:
    import hashlib

    facts: dict[str, set[str]] = {"certs": set(), "sni": set(), "ja3": set()}
    for line in path.read_text().splitlines():
        sni, ja3, certs = (line.split("\t") + [""] * 3)[:3]
        facts["sni"].update(s for s in sni.split("|") if s)
        facts["ja3"].update(j for j in ja3.split("|") if j)
        for cert in filter(None, certs.split("|")):
            facts["certs"].add(hashlib.sha1(bytes.fromhex(cert.replace(":", ""))).hexdigest())
    return facts


def trustwatch_facts(path: Path) -> dict[str, set[str]]:
    facts: dict[str, set[str]] = {"certs": set(), "sni": set(), "ja3": set()}
    with open(path) as fh:
        for line in fh:
            doc = json.loads(line)
            for cert in doc.get("trustwatch", {}).get("chain", []):
                facts["certs"].add(cert["sha1"])
            client = doc.get("tls", {}).get("client", {})
            if doc["event"]["action"] == "tls-client-hello":
                if client.get("server_name"):
                    facts["sni"].add(client["server_name"])
                facts["ja3"].add(client["ja3"])
    return facts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="1G")
    ap.add_argument("--mix", default="hospital", choices=["hospital", "small"])
    ap.add_argument("--data", default=str(ROOT / "bench-data"))
    ap.add_argument("--skip-tshark", action="store_true", help="only trustwatch and tcpdump")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each tool; the median is reported")
    args = ap.parse_args()
    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    capture = data / f"bench-{args.mix}-{args.size}.pcap"
    if not capture.exists():
        subprocess.run([sys.executable, str(HERE / "make_capture.py"), "--size", args.size,
                        "--mix", args.mix, "-o", str(capture)], check=True)
    size = capture.stat().st_size
    packets = int(subprocess.run(["capinfos", "-c", "-M", "-T", str(capture)], capture_output=True,
                                 text=True, check=True).stdout.split("\n")[1].split("\t")[1])
    trustwatch = str(Path(sys.executable).parent / "trustwatch")
    obs = data / "trustwatch.jsonl"
    tools: list[tuple[str, list[str], Path | None, dict[str, str] | None]] = [
        ("tcpdump -r -w /dev/null", ["tcpdump", "-r", str(capture), "-w", "/dev/null"], None, None),
        ("trustwatch sense", [trustwatch, "sense", "--read", str(capture), "-q", "-o", str(obs)], None,
         installed_env(data, trustwatch)),
    ]
    if not args.skip_tshark:
        cmd = ["tshark", "-n", "-r", str(capture), "-o", "tls.desegment_ssl_records:TRUE",
               "-Y", TSHARK_FILTER, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|"]
        for f in TSHARK_FIELDS:
            cmd += ["-e", f]
        tools.append(("tshark -Y -T fields", cmd, data / "tshark.tsv", None))
    repeat = max(1, args.repeat)
    runs: list[list[dict[str, float | str]]] = [[] for _ in tools]
    for _round in range(repeat):  # the tools take turns: each sees the machine as it is in every round
        for tool_runs, (name, command, stdout, env) in zip(runs, tools, strict=True):
            tool_runs.append(run(name, command, stdout, env))
    results = [median(r) for r in runs]
    print(f"capture {capture.name}: {size / 1e6:,.0f} MB, {packets:,} packets, "
          f"{size / packets:,.0f} B/frame average; median of {repeat} run(s) per tool")
    print(f"{'tool':26} {'seconds':>8} {'CPU s':>7} {'packets/s':>11} {'MB/s':>8} {'peak RSS':>9} {'peak anon':>9}")
    for r in results:
        s = float(r["seconds"])
        print(f"{r['tool']:26} {s:8.2f} {float(r['cpu']):7.2f} {packets / s:11,.0f} {size / s / 1e6:8.1f} "
              f"{r['rss_mb']:8.0f}M {r['anon_mb']:8.0f}M")
    ours, our_cpu = float(results[1]["seconds"]), float(results[1]["cpu"])
    print(f"trustwatch / read limit: {float(results[0]['seconds']) / ours:.2f}x the speed")
    if not args.skip_tshark:
        print(f"trustwatch vs tshark: {float(results[2]['seconds']) / ours:.1f}x faster "
              f"(CPU time: {float(results[2]['cpu']) / our_cpu:.1f}x less)")
        theirs, mine = tshark_facts(data / "tshark.tsv"), trustwatch_facts(obs)
        for kind in ("certs", "sni", "ja3"):
            missing = theirs[kind] - mine[kind]
            print(f"{kind}: tshark {len(theirs[kind])}, trustwatch {len(mine[kind])}, "
                  f"missed by trustwatch {len(missing)}")
    os.remove(obs)


if __name__ == "__main__":
    main()
