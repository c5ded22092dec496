"""`trustwatch sense`: the sensor alone, captures (or a live interface) to observations.

    trustwatch sense --read FILE_OR_DIR... [-o FILE] [--quiet] [--rules DIR] [--key-file FILE]
    trustwatch sense --interface IF [--bpf FILTER] [-o FILE] [--metrics-address A] [--metrics-port P]

Imports nothing from the analytics but `cli.options`: a sensor-only run starts that much
sooner. The live loop and its metrics (`sensor.live_loop`, prometheus-client) are loaded only
for `--interface`. `trustwatch audit` and `monitor` start the sensor through the functions
here, so its problems read the same whichever command met them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

from ...sensor.ecs import write_jsonl
from ...sensor.limits import memcap_drops
from ...sensor.live import LiveCapture, LiveError
from ...sensor.output import STDOUT, output_file
from ...sensor.records import Observation
from ...sensor.secrets import SecretHasher
from ...sensor.sense import SenseReport, Sensor, progress_display, sense_paths, total_size
from ...sensor.yamlfile import RULES_DIR, RulesFileError
from .options import (
    EXIT_ERROR,
    EXIT_OK,
    CommandError,
    add_key_option,
    add_memcap_option,
    add_metrics_endpoint_options,
    add_progress_option,
    check_inputs,
    memcaps,
    site_secrets,
)

if TYPE_CHECKING:  # loaded for `--interface` only: they import prometheus-client
    from ...sensor.metrics import SensorMetrics


def add_sense_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `sense` on the `trustwatch` parser."""
    sense = subparsers.add_parser("sense", help="extract identity observations from captures")
    source = sense.add_mutually_exclusive_group(required=True)
    source.add_argument("--read", "-r", nargs="+", metavar="FILE_OR_DIR",
                        help="capture files (pcap, pcapng, gzip) or directories of them")
    source.add_argument("--interface", "-i", metavar="IF",
                        help="capture live from this interface until SIGTERM/SIGINT (sensor.live_loop)")
    sense.add_argument("--bpf", metavar="FILTER", help="live capture filter (tcpdump syntax)")
    add_metrics_endpoint_options(sense)
    sense.add_argument("-o", "--output", metavar="FILE",
                       help="write JSON lines here, whole or not at all ('-' or none: standard output)")
    sense.add_argument("--quiet", "-q", action="store_true", help="no summary on stderr")
    sense.add_argument("--rules", type=Path, default=RULES_DIR, metavar="DIR",
                       help="rules directory: the remote-access catalog and HTTP API-key names "
                            "(default: the repository's rules/)")
    add_key_option(sense)
    add_memcap_option(sense)
    add_progress_option(sense)
    sense.set_defaults(func=cmd_sense)


def cmd_sense(args: argparse.Namespace) -> int:
    """`trustwatch sense --read ... | --interface IF [-o FILE]`."""
    if args.read:
        check_inputs(args.read)
    if args.output and args.output != STDOUT and not os.path.isdir(os.path.dirname(os.path.abspath(args.output))):
        raise CommandError(f"trustwatch: cannot write {args.output}: no such directory "
                           f"{os.path.dirname(os.path.abspath(args.output))}; nothing read, nothing written")
    secrets = site_secrets(args.key_file)
    if args.interface:
        return _sense_interface(args, secrets)
    observations, report = sense_files(args.read, secrets, args.rules, memcaps(args), args.progress)
    try:
        with output_file(args.output or STDOUT) as out:
            write_jsonl(observations, out)
    except OSError as e:
        raise CommandError(f"trustwatch: cannot write {args.output}: {e.strerror or e}; nothing written") from None
    print_sense_report(report, sys.stderr, verbose=not args.quiet)
    return EXIT_ERROR if report.failed or not report.captures else EXIT_OK


def sense_files(paths: list[str], secrets: SecretHasher, rules_dir: Path,
                caps: dict[str, str], progress: str = "auto") -> tuple[Iterator[Observation], SenseReport]:
    """The sensor on the captures under `paths` (with progress as `--progress` says): its
    observations and the report filled in as they go; CommandError when the sensor's rules
    in `rules_dir` are broken."""
    try:
        return sense_paths(paths, progress_display(progress, total_size(paths)), secrets, rules_dir, caps)
    except RulesFileError as e:
        raise CommandError(f"trustwatch: {e}") from None


def live_sensor(secrets: SecretHasher, rules_dir: Path, caps: dict[str, str]) -> Sensor:
    """The sensor for a live interface, with the site's rules in `rules_dir` (the catalog and
    API-key names), reporting remote-access sessions when they start; CommandError when the rules
    are broken."""
    try:
        return Sensor(secrets=secrets, rules_dir=rules_dir, memcaps=caps, live=True)
    except RulesFileError as e:
        raise CommandError(f"trustwatch: {e}") from None


def open_capture(args: argparse.Namespace, metrics: SensorMetrics) -> LiveCapture:
    """`args.interface` (filtered by `args.bpf`) and the endpoint serving `metrics`
    (`--metrics-address`, `--metrics-port`); CommandError when either cannot be opened."""
    from ...sensor.live_loop import open_interface

    try:
        return open_interface(args.interface, args.bpf, metrics, args.metrics_address, args.metrics_port)
    except LiveError as e:
        raise CommandError(f"trustwatch: {e}") from None


def _sense_interface(args: argparse.Namespace, secrets: SecretHasher) -> int:
    """`trustwatch sense --interface IF`: observations as JSON lines until SIGTERM/SIGINT."""
    from ...sensor.live_loop import StopSignal, sense_live
    from ...sensor.metrics import SensorMetrics

    err = sys.stderr
    sensor = live_sensor(secrets, args.rules, memcaps(args))
    metrics = SensorMetrics()
    capture = open_capture(args, metrics)
    stop = StopSignal()
    stop.install()
    if not args.quiet:
        err.write(f"trustwatch: sensing {args.interface}\n")
        err.flush()
    try:
        out = open(args.output, "a", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    except OSError as e:
        capture.close()
        raise CommandError(f"trustwatch: cannot open {args.output}: {e}") from None

    def write(observations: Iterator[Observation]) -> None:
        if write_jsonl(observations, out):
            out.flush()

    try:
        sense_live(sensor, capture, metrics, stop, write)
    finally:
        capture.close()
        if out is not sys.stdout:
            out.close()
    if not args.quiet:
        err.write(f"trustwatch: {capture.frames:,} frames, {sensor.report.observations:,} observations, "
                  f"{capture.kernel.drops:,} dropped by the kernel\n")
    return EXIT_OK


def print_sense_report(report: SenseReport, out: IO[str], verbose: bool = True) -> None:
    """Problems always, one line each naming the file; the summary unless quiet."""
    lines = report.errors() + report.warnings() + (sense_counters(report) if verbose else [])
    out.writelines(f"trustwatch: {line}\n" for line in lines)


def sense_counters(report: SenseReport) -> list[str]:
    """What a read did, for the analyst: totals, what each memory cap dropped (when one bit),
    the most frequent weirds."""
    rate = report.frames / report.seconds if report.seconds else 0.0
    lines = [f"{len(report.captures)} capture(s), {report.frames:,} frames, {report.observations:,} observations, "
             f"{report.flows.get('created', 0):,} flows in {report.seconds:.2f} s ({rate:,.0f} frames/s)"]
    drops = {cap: n for cap, n in memcap_drops(report.flows, dict(report.weirds.counts)).items() if n}
    if drops:
        lines.append("memory caps bit (rules/sensor.yaml, --memcap): "
                     + ", ".join(f"{cap} dropped {n:,}" for cap, n in drops.items()))
    return lines + [f"weird {line}" for line in report.weirds.summary()[:20]]
