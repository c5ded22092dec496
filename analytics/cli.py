"""The `trustwatch` command: the top of the import graph.

`trustwatch sense` runs the sensor alone (captures to observations); the analytics commands
(`audit`, `analyze`, `remote-access`, `alerts`, `inventory check`; `monitor`) are registered by
`analytics.commands` and `analytics.monitor`, which are imported only when one of them may run:
`sense` starts without loading the analytics.
Exit status: 0 all well, 1 alerts at or above `--fail-on` (analytics), 2 some input could not
be read or used.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from ..sensor.ecs import write_jsonl
from ..sensor.sense import SenseReport, sense_paths, terminal_progress
from ..sensor.yamlfile import RULES_DIR, RulesFileError
from .options import EXIT_ERROR, EXIT_OK, add_key_option, add_metrics_endpoint_options, open_secrets


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = argparse.ArgumentParser(
        prog="trustwatch", description="Passive device identity monitor for hospital networks."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sense = sub.add_parser("sense", help="extract identity observations from captures")
    source = sense.add_mutually_exclusive_group(required=True)
    source.add_argument("--read", "-r", nargs="+", metavar="FILE_OR_DIR",
                        help="capture files (pcap, pcapng, gzip) or directories of them")
    source.add_argument("--interface", "-i", metavar="IF",
                        help="capture live from this interface until SIGTERM/SIGINT (analytics.monitor)")
    sense.add_argument("--bpf", metavar="FILTER", help="live capture filter (tcpdump syntax)")
    add_metrics_endpoint_options(sense)
    sense.add_argument("-o", "--output", metavar="FILE",
                       help="write JSON lines here (default: standard output)")
    sense.add_argument("--quiet", "-q", action="store_true", help="no summary on stderr")
    sense.add_argument("--rules", type=Path, default=RULES_DIR, metavar="DIR",
                       help="rules directory: the remote-access catalog and HTTP API-key names "
                            "(default: the repository's rules/)")
    add_key_option(sense)
    sense.set_defaults(func=cmd_sense)
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] != ["sense"]:
        from .commands import add_commands
        from .monitor import add_live_commands

        add_commands(sub)
        add_live_commands(sub)
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except BrokenPipeError:  # `trustwatch ... | head`: the reader has all it wants
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    return code


def cmd_sense(args: argparse.Namespace) -> int:
    """`trustwatch sense --read ... [-o FILE]`."""
    if args.interface:
        from .monitor import cmd_sense_interface  # live: the metrics endpoint's analytics

        return cmd_sense_interface(args)
    secrets = open_secrets(args.key_file)
    if secrets is None:
        return EXIT_ERROR
    try:
        observations, report = sense_paths(args.read, terminal_progress(), secrets, args.rules)
    except RulesFileError as e:
        sys.stderr.write(f"trustwatch: {e}\n")
        return EXIT_ERROR
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            write_jsonl(observations, out)
    else:
        write_jsonl(observations, sys.stdout)
        sys.stdout.flush()
    print_sense_report(report, sys.stderr, verbose=not args.quiet)
    return EXIT_ERROR if report.failed or not report.captures else EXIT_OK


def print_sense_report(report: SenseReport, out: IO[str], verbose: bool = True) -> None:
    """Problems always, one line each naming the file; the summary unless quiet."""
    for line in report.errors() + report.warnings():
        out.write(f"trustwatch: {line}\n")
    if not verbose:
        return
    rate = report.frames / report.seconds if report.seconds else 0.0
    out.write(
        f"trustwatch: {len(report.captures)} capture(s), {report.frames:,} frames, "
        f"{report.observations:,} observations, {report.flows.get('created', 0):,} flows "
        f"in {report.seconds:.2f} s ({rate:,.0f} frames/s)\n"
    )
    flows = report.flows
    if flows.get("evicted") or flows.get("over_memory"):
        out.write(f"trustwatch: flow table full: {flows['evicted']:,} flows evicted, "
                  f"{flows['over_memory']:,} directions dropped over the memory cap\n")
    for line in report.weirds.summary()[:20]:
        out.write(f"trustwatch: weird {line}\n")


if __name__ == "__main__":
    sys.exit(main())
