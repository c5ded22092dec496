"""`trustwatch alerts`: the alerts stored in the state, filtered, for triage.

    trustwatch alerts [--state DB] [--rule ID] [--severity SEV] [--device ID|MAC|IP] [--since TIME] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from ..rules import Severity
from .options import EXIT_OK, CommandError
from .site import default_state_path, open_state, state_path


def add_alerts_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `alerts` on the `trustwatch` parser."""
    alerts = subparsers.add_parser("alerts", help="list and filter the alerts stored in the state")
    alerts.add_argument("--state", type=Path, default=None, metavar="DB",
                        help=f"state database (default: {default_state_path()})")
    alerts.add_argument("--rule", metavar="ID", help="only this rule id")
    alerts.add_argument("--severity", choices=[s.value for s in Severity], help="only at or above this")
    alerts.add_argument("--device", metavar="ID|MAC|IP", help="only alerts involving this device")
    alerts.add_argument("--since", metavar="TIME", help="last seen at or after (ISO date or time, UTC)")
    alerts.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    alerts.set_defaults(func=cmd_alerts)


def cmd_alerts(args: argparse.Namespace) -> int:
    """`trustwatch alerts`: stored alerts, filtered, for triage."""
    since = _parse_since(args.since) if args.since else None
    path = state_path(args.state)
    if not path.exists():
        raise CommandError(f"trustwatch: no state database at {path} (run an audit first)")
    with open_state(path) as state:
        docs = state.alerts(args.rule, Severity(args.severity) if args.severity else None, args.device, since)
    for d in docs:
        if args.json:
            sys.stdout.write(json.dumps(d, ensure_ascii=False) + "\n")
        else:
            tw = d["trustwatch"]
            devices = ", ".join(x["label"] for x in tw["devices"][:3])
            sys.stdout.write(f"{d['event']['end'][:19]}  {tw['severity']:<8} {d['rule']['id']:<28} "
                             f"x{tw['count']:<4} {devices}\n    {d['message']}\n")
    if not args.json:
        sys.stdout.write(f"{len(docs)} alert(s)\n")
    return EXIT_OK


def _parse_since(text: str) -> float:
    """`--since` as epoch seconds: an ISO date (midnight UTC) or time (UTC unless it says)."""
    try:
        d = date.fromisoformat(text)
        return datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"trustwatch: --since: not an ISO date or time: {text!r}") from None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()
