"""The analytics subcommands of `trustwatch`, registered by `analytics.cli` via `add_commands`.

    trustwatch audit PCAP_OR_DIR... --inventory FILE [--state DB] [--alerts FILE] [--fail-on SEV]
                     [--remote-access-windows FILE] [--ledger FILE] [--strict-inventory]
                     [--site-networks CIDR,... | --site FILE]
    trustwatch analyze OBSERVATIONS.jsonl... --inventory FILE [same options]
    trustwatch remote-access PCAP_OR_DIR... --inventory FILE [--remote-access-windows FILE]
                     [--unapproved] [--json]
    trustwatch alerts [--rule ID] [--severity SEV] [--device ID|MAC|IP] [--since TIME] [--json]
    trustwatch inventory check FILE [--inventory-map MAP]

Exit status: 0 clean; 1 an alert at or above `--fail-on` (default: low, i.e. any alert), or
for `remote-access` an unapproved session;
2 an error (bad inventory, rules, exceptions or state; an unreadable capture or observation
line) -- errors win over alerts, because an audit that could not read its input is not clean.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO

from ..sensor.records import Observation
from ..sensor.secrets import SecretHasher
from ..sensor.yamlfile import RULES_DIR, RulesFileError
from .alerts import write_alerts
from .inventory import (
    ColumnMap,
    Inventory,
    InventoryError,
    describe_problems,
    load_column_map,
    load_inventory,
    read_inventory,
)
from .metrics import Metrics, add_export_options, export_audit
from .options import EXIT_ALERTS, EXIT_ERROR, EXIT_OK, add_key_option, open_secrets
from .pipeline import AuditResult, load_rules, render_ledger, render_summary, run_audit
from .remote_access import ApprovalWindow, ApprovalWindowsError, LedgerEntry, ledger_record, load_windows
from .rules import RuleError, RuleSet, Severity
from .site import SiteError, SiteScope, load_site_file
from .state import State, StateError, default_state_path
from .suppressions import Suppression, SuppressionsError, load_suppressions

FAIL_ON = [s.value for s in Severity] + ["never"]


class _Fail(Exception):
    """A setup problem already described on stderr: exit 2."""


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `audit`, `analyze`, `remote-access`, `alerts` and `inventory check` on the `trustwatch` parser."""
    audit = subparsers.add_parser("audit", help="sense captures and audit them against the inventory")
    audit.add_argument("paths", nargs="+", metavar="PCAP_OR_DIR", help="capture files or directories")
    _analysis_options(audit)
    audit.set_defaults(func=cmd_audit)

    remote = subparsers.add_parser("remote-access", help="the remote-access ledger of captures: every session, "
                                   "unapproved ones marked")
    remote.add_argument("paths", nargs="+", metavar="PCAP_OR_DIR", help="capture files or directories")
    add_input_options(remote)
    add_site_options(remote)
    remote.add_argument("--unapproved", action="store_true", help="only the sessions no approval covers")
    remote.add_argument("--json", action="store_true", help="JSON lines (as --ledger writes them) instead of a table")
    add_key_option(remote)
    remote.set_defaults(func=cmd_remote_access)

    analyze = subparsers.add_parser("analyze", help="audit observations written by a (remote) sensor")
    analyze.add_argument("paths", nargs="+", metavar="OBSERVATIONS.jsonl", help="observation files")
    _analysis_options(analyze)
    analyze.set_defaults(func=cmd_analyze)

    alerts = subparsers.add_parser("alerts", help="list and filter the alerts stored in the state")
    alerts.add_argument("--state", type=Path, default=None, metavar="DB",
                        help=f"state database (default: {default_state_path()})")
    alerts.add_argument("--rule", metavar="ID", help="only this rule id")
    alerts.add_argument("--severity", choices=[s.value for s in Severity], help="only at or above this")
    alerts.add_argument("--device", metavar="ID|MAC|IP", help="only alerts involving this device")
    alerts.add_argument("--since", metavar="TIME", help="last seen at or after (ISO date or time, UTC)")
    alerts.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    alerts.set_defaults(func=cmd_alerts)

    inventory = subparsers.add_parser("inventory", help="inventory tools")
    inv_sub = inventory.add_subparsers(dest="inventory_command", required=True)
    check = inv_sub.add_parser("check", help="print every problem of an inventory (file:row:field: message)")
    check.add_argument("file", metavar="FILE", help="inventory (.csv, .yaml, .json)")
    check.add_argument("--inventory-map", metavar="MAP", help="column map for other CMMS exports")
    check.set_defaults(func=cmd_inventory_check)


def add_input_options(p: argparse.ArgumentParser) -> None:
    """What every analysis reads: inventory, rules, exceptions, remote-access windows, state."""
    p.add_argument("--inventory", required=True, metavar="FILE", help="asset inventory (.csv, .yaml, .json)")
    p.add_argument("--inventory-map", metavar="MAP", help="column map for other CMMS exports (YAML)")
    p.add_argument("--rules", type=Path, default=RULES_DIR, metavar="DIR",
                   help="rules directory (default: the repository's rules/)")
    p.add_argument("--strict-inventory", action="store_true",
                   help="refuse an inventory with any problem (default: skip bad rows with a warning)")
    p.add_argument("--exceptions", metavar="FILE", help="approved exceptions (YAML)")
    p.add_argument("--remote-access-windows", metavar="FILE",
                   help="approved remote-access windows (YAML); without it the inventory alone approves")
    state = p.add_mutually_exclusive_group()
    state.add_argument("--state", type=Path, default=None, metavar="DB",
                       help=f"state database (default: {default_state_path()})")
    state.add_argument("--no-state", action="store_true", help="keep no history (a throw-away run)")


def add_site_options(p: argparse.ArgumentParser) -> None:
    """The monitored site networks (`analytics.site`): devices off them are far ends, never unknown."""
    site = p.add_mutually_exclusive_group()
    site.add_argument("--site-networks", metavar="CIDR,...",
                      help="the site networks (default: the private blocks of the inventory's addresses)")
    site.add_argument("--site", metavar="FILE", help="site file (YAML) whose `networks:` list gives them")


def _site(args: argparse.Namespace, err: IO[str]) -> SiteScope | None:
    """The site networks of `--site-networks` or `--site`, or _Fail; None: the inventory's default."""
    try:
        if args.site_networks:
            return SiteScope.parse(args.site_networks.split(","), "--site-networks")
        return load_site_file(args.site) if args.site else None
    except SiteError as e:
        err.write(f"trustwatch: {e}\n")
        raise _Fail from None


def _analysis_options(p: argparse.ArgumentParser) -> None:
    add_input_options(p)
    add_site_options(p)
    p.add_argument("--ledger", metavar="FILE.jsonl", help="write every remote-access session here as JSON lines")
    p.add_argument("--alerts", metavar="FILE.jsonl", help="write alerts as JSON lines here ('-': stdout)")
    p.add_argument("--fail-on", choices=FAIL_ON, default="low",
                   help="exit 1 when an alert has at least this severity (default: low)")
    p.add_argument("--top", type=int, default=10, metavar="N", help="findings shown in the summary")
    add_export_options(p)
    add_key_option(p)


def cmd_audit(args: argparse.Namespace) -> int:
    """`trustwatch audit`: the sensor on captures, then the analytics."""
    return _analyse(args, _sensed(args))


def cmd_remote_access(args: argparse.Namespace) -> int:
    """`trustwatch remote-access`: an audit's remote-access ledger alone, as a table or JSON lines.
    Exit 1 when a session is unapproved, as an audit exits 1 on its alert."""
    run = _run(args, _sensed(args))
    if run is None:
        return EXIT_ERROR
    result, _rules, _metrics, errors = run
    for e in errors:
        sys.stderr.write(f"trustwatch: {e}\n")
    entries = [e for e in result.ledger if not (args.unapproved and e.approved)]
    if args.json:
        write_ledger(sys.stdout, entries)
    else:
        sys.stdout.write("\n".join(render_ledger(entries, len(entries)) or ["No remote-access sessions."]) + "\n")
    if errors:
        return EXIT_ERROR
    return EXIT_ALERTS if any(not e.approved for e in result.ledger) else EXIT_OK


def _sensed(args: argparse.Namespace) -> Source:
    """The sensor on `args.paths`, with the site's sensor rules (`args.rules`)."""
    from ..sensor.sense import sense_paths, terminal_progress

    def observations(secrets: SecretHasher) -> tuple[Iterable[Observation], list[str]]:
        try:
            obs, report = sense_paths(args.paths, terminal_progress(), secrets, args.rules)
        except RulesFileError as e:
            sys.stderr.write(f"trustwatch: {e}\n")
            raise _Fail from None
        errors: list[str] = []

        def run() -> Iterable[Observation]:
            yield from obs
            errors.extend(report.errors())
            for line in report.warnings():
                sys.stderr.write(f"trustwatch: {line}\n")

        return run(), errors

    return observations


def cmd_analyze(args: argparse.Namespace) -> int:
    """`trustwatch analyze`: the analytics on observation files from a sensor."""
    from ..sensor.ecs import read_observations

    def observations(_secrets: SecretHasher) -> tuple[Iterable[Observation], list[str]]:
        errors: list[str] = []

        def run() -> Iterable[Observation]:
            for path in args.paths:
                try:
                    yield from read_observations(path, errors)
                except (OSError, UnicodeDecodeError) as e:
                    errors.append(f"{path}: cannot read: {e}")

        return run(), errors

    return _analyse(args, observations)


Source = Callable[[SecretHasher], tuple[Iterable[Observation], list[str]]]
"""Where the observations come from (the sensor, or observation files) and the errors it met;
raises _Fail when it cannot start (said on stderr)."""


def _analyse(args: argparse.Namespace, source: Source) -> int:
    """Shared by audit and analyze: run, write alerts and the summary, pick the exit code."""
    err = sys.stderr
    run = _run(args, source)
    if run is None:
        return EXIT_ERROR
    result, rules, metrics, errors = run
    for e in errors:
        err.write(f"trustwatch: {e}\n")
    if not export_audit(args, result, rules, metrics, err):
        return EXIT_ERROR
    if args.alerts and not _write_alerts(args.alerts, result, err):
        return EXIT_ERROR
    if args.ledger and not _write_ledger(args.ledger, result, err):
        return EXIT_ERROR
    out = sys.stderr if args.alerts == "-" else sys.stdout
    out.write(render_summary(result, rules, args.top))
    if errors:
        return EXIT_ERROR
    fail_on = None if args.fail_on == "never" else Severity(args.fail_on)
    return EXIT_ALERTS if result.failing(fail_on) else EXIT_OK


def _run(args: argparse.Namespace, source: Source) -> tuple[AuditResult, RuleSet, Metrics, list[str]] | None:
    """Set up, read and correlate: the run's result and the input errors met, or None after
    saying on stderr why it could not start."""
    err = sys.stderr
    secrets = open_secrets(args.key_file)
    if secrets is None:
        return None
    try:
        rules, inventory, exceptions = _setup(args, err)
        windows = _windows(args.remote_access_windows, err)
        site = _site(args, err)
        observations, errors = source(secrets)
        state = None if args.no_state else _open_state(args.state, err)
    except _Fail:
        return None
    metrics = Metrics()
    try:
        result = run_audit(metrics.observe(observations), inventory, rules, state, exceptions,
                           source=" ".join(args.paths), secrets=secrets, windows=windows, site=site)
    finally:
        if state is not None:
            state.close()
    return result, rules, metrics, errors


def _setup(args: argparse.Namespace, err: IO[str]) -> tuple[RuleSet, Inventory, list[Suppression]]:
    """Rules, inventory and exceptions, every problem reported, or _Fail."""
    try:
        rules = load_rules(args.rules)
    except RuleError as e:
        err.write(f"trustwatch: {e}\n")
        raise _Fail from None
    try:
        cmap = load_column_map(args.inventory_map) if args.inventory_map else None
        inventory = load_inventory(args.inventory, cmap, strict=args.strict_inventory)
    except InventoryError as e:
        for p in e.problems:
            err.write(f"{p}\n")
        err.write(f"trustwatch: the inventory has {len(e.problems)} problem(s); fix them first\n")
        raise _Fail from None
    for p in inventory.problems:
        err.write(f"{p}\n")
    if inventory.problems:
        err.write(f"trustwatch: {args.inventory}: {describe_problems(inventory.problems)}; running on its "
                  f"{len(inventory.assets)} usable devices (--strict-inventory refuses it instead)\n")
    exceptions: list[Suppression] = []
    if args.exceptions:
        try:
            exceptions = load_suppressions(args.exceptions, rules.rules)
        except SuppressionsError as e:
            for line in e.problems:
                err.write(f"{line}\n")
            raise _Fail from None
    return rules, inventory, exceptions


def _windows(path: str | None, err: IO[str]) -> list[ApprovalWindow] | None:
    """The remote-access windows file, every problem reported, or _Fail; None without one."""
    if path is None:
        return None
    try:
        return load_windows(path)
    except ApprovalWindowsError as e:
        for line in e.problems:
            err.write(f"{line}\n")
        raise _Fail from None


def write_ledger(out: IO[str], entries: Iterable[LedgerEntry]) -> None:
    """The ledger as JSON lines, one session a line (`--ledger`, `remote-access --json`)."""
    for entry in entries:
        out.write(json.dumps(ledger_record(entry), ensure_ascii=False) + "\n")


def _write_ledger(path: str, result: AuditResult, err: IO[str]) -> bool:
    try:
        with open(path, "w", encoding="utf-8") as out:
            write_ledger(out, result.ledger)
    except OSError as e:
        err.write(f"trustwatch: cannot write the ledger: {e}\n")
        return False
    return True


def _open_state(path: Path | None, err: IO[str]) -> State:
    try:
        return State(path or default_state_path())
    except StateError as e:
        err.write(f"trustwatch: {e}\n")
        raise _Fail from None


def _write_alerts(target: str, result: AuditResult, err: IO[str]) -> bool:
    if target == "-":
        write_alerts(result.findings, sys.stdout)
        return True
    try:
        with open(target, "w", encoding="utf-8") as out:
            write_alerts(result.findings, out)
    except OSError as e:
        err.write(f"trustwatch: cannot write alerts: {e}\n")
        return False
    return True


def cmd_alerts(args: argparse.Namespace) -> int:
    """`trustwatch alerts`: stored alerts, filtered, for triage."""
    since = None
    if args.since:
        since = _parse_since(args.since)
        if since is None:
            sys.stderr.write(f"trustwatch: --since: not an ISO date or time: {args.since!r}\n")
            return EXIT_ERROR
    path = args.state or default_state_path()
    if not Path(path).exists():
        sys.stderr.write(f"trustwatch: no state database at {path} (run an audit first)\n")
        return EXIT_ERROR
    try:
        with State(path) as state:
            docs = state.alerts(args.rule, Severity(args.severity) if args.severity else None,
                                args.device, since)
    except StateError as e:
        sys.stderr.write(f"trustwatch: {e}\n")
        return EXIT_ERROR
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


def _parse_since(text: str) -> float | None:
    try:
        d = date.fromisoformat(text)
        return datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


def cmd_inventory_check(args: argparse.Namespace) -> int:
    """`trustwatch inventory check FILE`: every problem, one line each; exit 2 if any."""
    cmap: ColumnMap | None = None
    try:
        if args.inventory_map:
            cmap = load_column_map(args.inventory_map)
    except InventoryError as e:
        for p in e.problems:
            sys.stdout.write(f"{p}\n")
        return EXIT_ERROR
    inventory, problems = read_inventory(args.file, cmap)
    for p in problems:
        sys.stdout.write(f"{p}\n")
    if problems:
        sys.stderr.write(f"trustwatch: {args.file}: {len(problems)} problem(s)\n")
        return EXIT_ERROR
    sys.stdout.write(f"{args.file}: {len(inventory.assets)} devices, no problems\n")
    return EXIT_OK

