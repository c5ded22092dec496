"""`trustwatch remote-access`: an audit's remote-access ledger alone, as a table or JSON lines.

    trustwatch remote-access PCAP_OR_DIR... --inventory FILE [--remote-access-windows FILE]
                     [--unapproved] [--json]

Exit status: 0 every session approved; 1 an unapproved session, as an audit exits 1 on its
alert; 2 an error (as `trustwatch audit`).
"""

from __future__ import annotations

import argparse
import sys

from ..pipeline import render_ledger
from .audit import run_analysis, sensed, write_ledger
from .options import EXIT_ALERTS, EXIT_ERROR, EXIT_OK, add_key_option, add_memcap_option, add_progress_option
from .site import add_input_options


def add_remote_access_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `remote-access` on the `trustwatch` parser."""
    remote = subparsers.add_parser("remote-access", help="the remote-access ledger of captures: every session, "
                                   "unapproved ones marked")
    remote.add_argument("paths", nargs="+", metavar="PCAP_OR_DIR", help="capture files or directories")
    add_input_options(remote)
    remote.add_argument("--unapproved", action="store_true", help="only the sessions no approval covers")
    remote.add_argument("--json", action="store_true", help="JSON lines (as --ledger writes them) instead of a table")
    add_key_option(remote)
    add_memcap_option(remote)
    add_progress_option(remote)
    remote.set_defaults(func=cmd_remote_access)


def cmd_remote_access(args: argparse.Namespace) -> int:
    """`trustwatch remote-access`: every session of the captures, or the unapproved ones."""
    run = run_analysis(args, sensed(args))
    run.state.close()
    for e in run.errors:
        sys.stderr.write(f"trustwatch: {e}\n")
    ledger = run.result.ledger
    entries = [e for e in ledger if not (args.unapproved and e.approved)]
    if args.json:
        write_ledger(sys.stdout, entries)
    else:
        sys.stdout.write("\n".join(render_ledger(entries, len(entries)) or ["No remote-access sessions."]) + "\n")
    if run.errors:
        return EXIT_ERROR
    return EXIT_ALERTS if any(not e.approved for e in ledger) else EXIT_OK
