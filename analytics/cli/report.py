"""`trustwatch report`: the audit report from the state (`analytics.report`).

    trustwatch report [--state DB] [--audit N | --since TIME --until TIME] [-o DIR]

Writes DIR/report.html (one self-contained file), DIR/report.md and a CSV per table; the
latest audit unless `--audit` or a time range (packet times, UTC) says. `trustwatch audit
--report DIR` writes the same right after its audit. The report's modules (pandas, Jinja2,
matplotlib) are loaded only when a report is written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..state import State
from .alerts import parse_time
from .options import EXIT_OK, CommandError
from .site import default_state_path, open_state, state_path

DEFAULT_DIR = "report"


def add_report_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `report` on the `trustwatch` parser."""
    p = subparsers.add_parser("report", help="write the audit report (HTML, Markdown, CSV) from the state")
    p.add_argument("--state", type=Path, default=None, metavar="DB",
                   help=f"state database (default: {default_state_path()})")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--audit", type=int, metavar="N", help="this audit (the run id; default: the latest)")
    which.add_argument("--since", metavar="TIME", help="audits with packets at or after (ISO date or time, UTC)")
    p.add_argument("--until", metavar="TIME", help="audits with packets at or before (ISO date or time, UTC)")
    p.add_argument("-o", "--output", default=DEFAULT_DIR, metavar="DIR",
                   help=f"directory to write into (default: {DEFAULT_DIR}/)")
    p.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    """`trustwatch report`."""
    path = state_path(args.state)
    if not path.exists():
        raise CommandError(f"trustwatch: no state database at {path} (run an audit first)")
    with open_state(path) as state:
        written = write_state_report(state, str(path), args.output, args.audit,
                                     parse_time(args.since) if args.since else None,
                                     parse_time(args.until) if args.until else None)
    sys.stdout.write(f"trustwatch: report written to {written}\n")
    return EXIT_OK


def write_state_report(state: State, state_name: str, directory: str, audit: int | None = None,
                       since: float | None = None, until: float | None = None) -> Path:
    """Build and write the report; the HTML file's path. CommandError when there is nothing to
    report on or the directory cannot be written."""
    from ..report import ReportError, build_report, select_runs, write_report

    try:
        report = build_report(state, select_runs(state, audit, since, until), state_name)
        return write_report(report, directory)[0]
    except ReportError as e:
        raise CommandError(f"trustwatch: {e}") from None
    except OSError as e:
        raise CommandError(f"trustwatch: cannot write the report into {directory}: {e.strerror or e}; "
                           "nothing written there") from None
