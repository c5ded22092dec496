"""`trustwatch evidence`: the packets behind an alert, in one step.

    trustwatch evidence ALERT_ID [--state DB] [-o FILE.pcap] [--flows]

Prints, for each capture of the alert's evidence, the display filter that selects its frames
in Wireshark or tshark (`tshark -r CAPTURE -Y 'frame.number in {392,393}'`), and writes those
frames (or, `--flows`, every frame of their connections) into one small pcap: `-o`, else
`ALERT_ID.pcap` here.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ...sensor.output import output_binary
from ..evidence import EvidenceError, Packets, display_filter, resolve_capture, take, write_pcap
from ..memory import AlertError, find_alert
from .options import EXIT_OK, CommandError
from .site import default_state_path, open_state, state_path


def add_evidence_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `evidence` on the `trustwatch` parser."""
    p = subparsers.add_parser("evidence", help="write the packets behind an alert into a pcap; print their filter")
    p.add_argument("alert", metavar="ALERT_ID", help="the alert's id (event.id), or a unique prefix of it")
    p.add_argument("--state", type=Path, default=None, metavar="DB",
                   help=f"state database (default: {default_state_path()})")
    p.add_argument("-o", "--output", metavar="FILE.pcap", help="where to write the frames (default: ALERT_ID.pcap)")
    p.add_argument("--flows", action="store_true", help="every frame of the alert's connections, not just its own")
    p.set_defaults(func=cmd_evidence)


def cmd_evidence(args: argparse.Namespace) -> int:
    """`trustwatch evidence ALERT_ID`."""
    path = state_path(args.state)
    if not path.exists():
        raise CommandError(f"trustwatch: no state database at {path} (run an audit first)")
    with open_state(path) as state:
        try:
            aid = find_alert(state, args.alert)
        except AlertError as e:
            raise CommandError(f"trustwatch: {e}") from None
        doc, cwd = state.db.execute(
            "SELECT a.doc, r.cwd FROM alerts a JOIN alert_runs ar ON ar.alert_id = a.id JOIN runs r ON r.id = ar.run_id"
            " WHERE a.id=? ORDER BY ar.run_id DESC LIMIT 1", (aid,)).fetchone()
    evidence = json.loads(doc)["trustwatch"]["evidence"]
    if not evidence:
        raise CommandError(f"trustwatch: alert {aid} names no frames")
    taken: list[Packets] = []
    target = args.output or f"{aid}.pcap"
    try:
        for item in evidence:
            capture = resolve_capture(item["capture"], cwd)
            sys.stdout.write(f"{item['capture']}: {display_filter(item['frames'])}\n")
            taken.append(take(item["capture"], capture, item["frames"], args.flows))
        with output_binary(target) as out:
            n = write_pcap(out, taken)
    except EvidenceError as e:
        raise CommandError(f"trustwatch: {e}") from None
    except OSError as e:
        raise CommandError(f"trustwatch: cannot write {target}: {e.strerror or e}; nothing written") from None
    what = "frames of the alert's connections" if args.flows else "frames"
    sys.stdout.write(f"wrote {n} {what} to {target}\n")
    return EXIT_OK
