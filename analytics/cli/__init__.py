"""The `trustwatch` command: the top of the import graph.

One module per command group: `sense` (the sensor alone), `audit` (audit, analyze),
`remote_access`, `alerts` (list, ack, reopen), `evidence`, `report`, `inventory` (inventory
check) and `monitor`; `options` holds what
they share (exit statuses, `CommandError`, the site key) and `site` loads what a site gives the
analytics. The analytics commands are imported only when one of them may run: `sense` starts
without loading the analytics.
Exit status: 0 all well, 1 alerts at or above `--fail-on` (analytics), 2 some input could not
be read or used: a command that cannot go on raises `CommandError`, written here on stderr.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence
from importlib.metadata import version

from .options import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, CommandError
from .sense import add_sense_command

GC_THRESHOLDS = (50_000, 20, 100)
DEFAULT_UMASK = 0o077
"""Outputs hold fingerprints, device names and addresses: private unless the site says otherwise."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = argparse.ArgumentParser(
        prog="trustwatch", description="Passive device identity monitor for hospital networks."
    )
    parser.add_argument("--version", action="version", version=f"trustwatch {version('trustwatch')}")
    parser.add_argument("--umask", type=_octal, default=DEFAULT_UMASK, metavar="OCTAL",
                        help="file mode mask for everything written: outputs, state, site key "
                             f"(default: {DEFAULT_UMASK:03o}, private to the user; 027 lets the group read)")
    sub = parser.add_subparsers(dest="command", required=True)
    add_sense_command(sub)
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] != ["sense"]:
        from .alerts import add_alerts_command
        from .audit import add_analyze_command, add_audit_command
        from .evidence import add_evidence_command
        from .inventory import add_inventory_command
        from .monitor import add_monitor_command
        from .remote_access import add_remote_access_command
        from .report import add_report_command

        add_audit_command(sub)
        add_remote_access_command(sub)
        add_analyze_command(sub)
        add_alerts_command(sub)
        add_evidence_command(sub)
        add_report_command(sub)
        add_inventory_command(sub)
        add_monitor_command(sub)
    args = parser.parse_args(argv)
    os.umask(args.umask)
    # The collector's generations sized for a process that builds a few objects per flow and
    # keeps them for minutes: the default (700 allocations) re-walks every live flow thousands
    # of times (a flood of 50,000 one-packet flows: 10 s -> 5 s). What imports built is frozen.
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        code: int = args.func(args)
    except CommandError as e:
        sys.stderr.write(f"{e}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:  # Ctrl-C: outputs are whole or absent, the run's state writes rolled back
        sys.stderr.write("\ntrustwatch: interrupted; nothing half-written (unfinished outputs removed, "
                         "the state keeps only finished runs)\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `trustwatch ... | head`: the reader has all it wants
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    return code


def _octal(text: str) -> int:
    value = int(text, 8)
    if not 0 <= value <= 0o777:
        raise ValueError(text)
    return value
