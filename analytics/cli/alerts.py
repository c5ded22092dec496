"""`trustwatch alerts`: the alerts stored in the state, filtered, for triage; and the analyst's
actions on one of them.

    trustwatch alerts [--state DB] [--rule ID] [--severity SEV] [--device ID|MAC|IP] [--since TIME]
                      [--status new,open,...|all] [--json]
    trustwatch alerts ack ID --note TEXT --by NAME       # new/open -> acknowledged
    trustwatch alerts reopen ID --note TEXT --by NAME    # acknowledged/resolved -> open

An alert's ID is its `event.id` (a unique prefix of 6 digits or more will do). Each action is
kept with its time, author and note (`analytics.memory`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

from ...sensor.yamlfile import RULES_DIR
from ..alerts import AlertStatus
from ..memory import AlertError, annotate, stored_alerts
from ..rules import Severity
from .options import EXIT_OK, CommandError
from .site import default_state_path, load_rule_ids, open_state, state_path

DEFAULT_STATUSES = (AlertStatus.NEW, AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED)
"""What `trustwatch alerts` lists unless `--status` says: what still needs someone."""


def add_alerts_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `alerts` (and `alerts ack`, `alerts reopen`) on the `trustwatch` parser."""
    alerts = subparsers.add_parser("alerts", help="list and filter the alerts stored in the state; ack or reopen one")
    alerts.add_argument("--state", type=Path, default=None, metavar="DB",
                        help=f"state database (default: {default_state_path()})")
    alerts.add_argument("--rules", type=Path, default=RULES_DIR, metavar="DIR",
                        help="rules directory, for the known rule ids (default: the repository's rules/)")
    alerts.add_argument("--rule", metavar="ID", help="only this rule id")
    alerts.add_argument("--severity", choices=[s.value for s in Severity], help="only at or above this")
    alerts.add_argument("--device", metavar="ID|MAC|IP", help="only alerts involving this device")
    alerts.add_argument("--since", metavar="TIME", help="last seen at or after (ISO date or time, UTC)")
    alerts.add_argument("--status", default=",".join(DEFAULT_STATUSES), metavar="STATUS,...",
                        help=f"only these statuses ({', '.join(AlertStatus)}; 'all'; "
                             f"default: {','.join(DEFAULT_STATUSES)})")
    alerts.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    alerts.set_defaults(func=cmd_alerts)
    actions = alerts.add_subparsers(dest="action", metavar="{ack,reopen}")
    for name, text in (("ack", "acknowledge an alert: someone is on it"), ("reopen", "reopen an alert")):
        p = actions.add_parser(name, help=text)
        p.add_argument("alert", metavar="ID", help="the alert's id (event.id), or a unique prefix of it")
        p.add_argument("--note", required=True, metavar="TEXT", help="why (kept with the alert)")
        p.add_argument("--by", required=True, metavar="NAME", help="who")
        p.add_argument("--state", type=Path, default=argparse.SUPPRESS, metavar="DB",
                       help=f"state database (default: {default_state_path()})")
        p.set_defaults(func=cmd_alert_action)


def cmd_alerts(args: argparse.Namespace) -> int:
    """`trustwatch alerts`: stored alerts, filtered, for triage."""
    since = parse_time(args.since) if args.since else None
    statuses = _statuses(args.status)
    path = state_path(args.state)
    if not path.exists():
        raise CommandError(f"trustwatch: no state database at {path} (run an audit first)")
    with open_state(path) as state:
        if args.rule:
            known = set(load_rule_ids(args.rules)) | {
                r[0] for r in state.db.execute("SELECT DISTINCT rule_id FROM alerts")}
            if args.rule not in known:
                raise CommandError(f"trustwatch: --rule: unknown rule id {args.rule!r}; known: "
                                   f"{', '.join(sorted(known))}")
        docs = stored_alerts(state, args.rule, Severity(args.severity) if args.severity else None, args.device,
                             since, statuses)
    for d in docs:
        if args.json:
            sys.stdout.write(json.dumps(d, ensure_ascii=False) + "\n")
        else:
            tw = d["trustwatch"]
            devices = ", ".join(x["label"] for x in tw["devices"][:3])
            sys.stdout.write(f"{d['event']['id']}  {tw['status']:<12} {d['event']['end'][:19]}  {tw['severity']:<8} "
                             f"{d['rule']['id']:<28} x{tw['count']:<4} {devices}\n    {d['message']}\n")
    if not args.json:
        sys.stdout.write(f"{len(docs)} alert(s)\n")
    return EXIT_OK


def cmd_alert_action(args: argparse.Namespace) -> int:
    """`trustwatch alerts ack|reopen ID --note TEXT --by NAME`."""
    path = state_path(args.state)
    if not path.exists():
        raise CommandError(f"trustwatch: no state database at {path} (run an audit first)")
    with open_state(path, exclusive=True) as state:
        try:
            aid, status = annotate(state, args.alert, args.action, args.note, args.by, time.time())
        except AlertError as e:
            raise CommandError(f"trustwatch: {e}") from None
    sys.stdout.write(f"{aid} {status} ({args.by}: {args.note})\n")
    return EXIT_OK


def _statuses(text: str) -> list[AlertStatus] | None:
    if text.strip() == "all":
        return None
    try:
        return [AlertStatus(s.strip()) for s in text.split(",") if s.strip()]
    except ValueError:
        raise CommandError(f"trustwatch: --status: expected some of {', '.join(AlertStatus)} or 'all', "
                           f"not {text!r}") from None


def parse_time(text: str) -> float:
    """`--since` (and `--until`) as epoch seconds: an ISO date (midnight UTC) or time (UTC unless it says)."""
    try:
        d = date.fromisoformat(text)
        return datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"trustwatch: not an ISO date or time: {text!r}") from None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()
