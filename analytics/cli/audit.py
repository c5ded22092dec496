"""`trustwatch audit` and `trustwatch analyze`: the analytics over captures or observation files.

    trustwatch audit PCAP_OR_DIR... --inventory FILE [--state DB] [--alerts FILE] [--fail-on SEV]
                     [--remote-access-windows FILE] [--ledger FILE] [--report DIR]
    trustwatch analyze OBSERVATIONS.jsonl... --inventory FILE [same options]

Exit status: 0 clean; 1 an alert at or above `--fail-on` (default: low, i.e. any alert);
2 an error (bad inventory, rules, exceptions or state; an unreadable capture or observation
line) -- errors win over alerts, because an audit that could not read its input is not clean.
`run_analysis` is shared with `trustwatch remote-access`.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import IO

from ...sensor.ecs import read_observations
from ...sensor.metrics import report_snapshot
from ...sensor.output import output_file
from ...sensor.records import Observation
from ...sensor.secrets import SecretHasher
from ...sensor.sense import SenseReport
from ..alerts import write_alerts
from ..metrics import DEFAULT_JOB, Metrics
from ..pipeline import AuditResult, render_summary, run_audit
from ..remote_access import LedgerEntry, ledger_record
from ..rules import RuleSet, Severity
from ..state import State
from .options import (
    EXIT_ALERTS,
    EXIT_ERROR,
    EXIT_OK,
    CommandError,
    add_key_option,
    add_memcap_option,
    add_progress_option,
    check_inputs,
    memcaps,
    site_secrets,
)
from .report import write_state_report
from .sense import sense_counters, sense_files
from .site import add_input_options, analysis_state, load_site, state_path

FAIL_ON = [s.value for s in Severity] + ["never"]

Source = Callable[[SecretHasher], tuple[Iterable[Observation], list[str], SenseReport | None]]
"""Where the observations come from (the sensor, or observation files), the errors it met and,
for the sensor, its report; raises CommandError when it cannot start."""


def add_audit_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `audit` on the `trustwatch` parser."""
    audit = subparsers.add_parser("audit", help="sense captures and audit them against the inventory")
    audit.add_argument("paths", nargs="+", metavar="PCAP_OR_DIR", help="capture files or directories")
    _analysis_options(audit)
    add_memcap_option(audit)
    add_progress_option(audit)
    audit.set_defaults(func=cmd_audit)


def add_analyze_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `analyze` on the `trustwatch` parser."""
    analyze = subparsers.add_parser("analyze", help="audit observations written by a (remote) sensor")
    analyze.add_argument("paths", nargs="+", metavar="OBSERVATIONS.jsonl", help="observation files")
    _analysis_options(analyze)
    analyze.set_defaults(func=cmd_analyze)


def _analysis_options(p: argparse.ArgumentParser) -> None:
    add_input_options(p)
    p.add_argument("--ledger", metavar="FILE.jsonl", help="write every remote-access session here as JSON lines")
    p.add_argument("--alerts", metavar="FILE.jsonl", help="write alerts as JSON lines here ('-': stdout)")
    p.add_argument("--report", metavar="DIR", help="write the audit report (report.html, report.md, CSV) here")
    p.add_argument("--fail-on", choices=FAIL_ON, default="low",
                   help="exit 1 when an alert has at least this severity (default: low)")
    p.add_argument("--top", type=int, default=10, metavar="N", help="findings shown in the summary")
    p.add_argument("--metrics-textfile", metavar="FILE.prom",
                   help="write the run's metrics here in the node_exporter textfile format (atomically)")
    p.add_argument("--pushgateway", metavar="URL", help="push the run's metrics to this Pushgateway")
    p.add_argument("--metrics-job", default=DEFAULT_JOB, metavar="JOB",
                   help=f"Pushgateway job name (default: {DEFAULT_JOB})")
    add_key_option(p)


def cmd_audit(args: argparse.Namespace) -> int:
    """`trustwatch audit`: the sensor on captures, then the analytics."""
    return _analyse(args, sensed(args))


def cmd_analyze(args: argparse.Namespace) -> int:
    """`trustwatch analyze`: the analytics on observation files from a sensor."""

    def observations(_secrets: SecretHasher) -> tuple[Iterable[Observation], list[str], None]:
        errors: list[str] = []

        def run() -> Iterable[Observation]:
            for path in args.paths:
                try:
                    yield from read_observations(path, errors)
                except (OSError, UnicodeDecodeError) as e:
                    errors.append(f"{path}: cannot read: {e}")

        return run(), errors, None

    return _analyse(args, observations)


def sensed(args: argparse.Namespace) -> Source:
    """The sensor on `args.paths`, with the site's sensor rules (`args.rules`); once read, its
    warnings and counters (frames, flows, what the memory caps dropped, weirds) on stderr."""

    def observations(secrets: SecretHasher) -> tuple[Iterable[Observation], list[str], SenseReport]:
        obs, report = sense_files(args.paths, secrets, args.rules, memcaps(args), args.progress)
        errors: list[str] = []

        def run() -> Iterable[Observation]:
            yield from obs
            errors.extend(report.errors())
            sys.stderr.writelines(f"trustwatch: {line}\n" for line in report.warnings() + sense_counters(report))

        return run(), errors, report

    return observations


@dataclass(frozen=True, slots=True)
class Analysis:
    """One run of the analytics over a source, as a command reports it."""

    result: AuditResult
    rules: RuleSet
    metrics: Metrics
    errors: list[str]
    """Input the source could not read (a capture, an observation line), one line each."""
    state: State
    """The state the run was recorded in (committed, still open for the report; `:memory:` with
    `--no-state`): the caller closes it."""


def run_analysis(args: argparse.Namespace, source: Source) -> Analysis:
    """Set up, read and correlate; CommandError when the run cannot start."""
    check_inputs(args.paths)
    secrets = site_secrets(args.key_file)
    site = load_site(args)
    observations, errors, report = source(secrets)
    state = analysis_state(args) or State(":memory:", exclusive=True)
    metrics = Metrics()
    try:
        result = run_audit(metrics.sensor.observe(observations), site.inventory, site.rules, state, site.exceptions,
                           source=" ".join(args.paths), secrets=secrets, windows=site.windows, site=site.scope,
                           roles=site.roles, read_errors=errors)
        state.commit()
    except sqlite3.Error as e:  # a full disk: the state stays as it was before the run
        state.abandon()
        raise CommandError(f"trustwatch: cannot record the run in {state_path(args.state)}: {e}; "
                           "the state is unchanged, no alerts written") from None
    except BaseException:  # Ctrl-C: the run's writes are rolled back
        state.abandon()
        raise
    if report is not None:
        metrics.sensor.update(report_snapshot(report))
    return Analysis(result, site.rules, metrics, errors, state)


def _analyse(args: argparse.Namespace, source: Source) -> int:
    """Shared by audit and analyze: run, write alerts and the summary, pick the exit code."""
    run = run_analysis(args, source)
    try:
        for e in run.errors:
            sys.stderr.write(f"trustwatch: {e}\n")
        _export_metrics(args, run)
        if args.alerts:
            _write_alerts(args.alerts, run.result, run.rules)
        if args.ledger:
            _write_ledger(args.ledger, run.result)
        out = sys.stderr if args.alerts == "-" else sys.stdout
        out.write(render_summary(run.result, run.rules, args.top))
        if args.report:
            name = "(none: --no-state)" if args.no_state else str(state_path(args.state))
            html = write_state_report(run.state, name, args.report, run.result.run_id)
            out.write(f"Report: {html}\n")
    finally:
        run.state.close()
    if run.errors:
        return EXIT_ERROR
    fail_on = None if args.fail_on == "never" else Severity(args.fail_on)
    return EXIT_ALERTS if run.result.failing(fail_on) else EXIT_OK


def _export_metrics(args: argparse.Namespace, run: Analysis) -> None:
    """Fill the run's metrics from its result, then write/push them where asked; CommandError
    naming every export that failed."""
    if not (args.metrics_textfile or args.pushgateway):
        return
    result, metrics = run.result, run.metrics
    metrics.alerted(result.findings)
    metrics.analysed(result, run.rules, result.last_ts if result.last_ts is not None else time.time(), 0.0)
    failed: list[str] = []
    if args.metrics_textfile:
        try:
            metrics.write_textfile(args.metrics_textfile)
        except OSError as e:
            failed.append(f"trustwatch: cannot write metrics to {args.metrics_textfile}: {e}")
    if args.pushgateway:
        try:
            metrics.push(args.pushgateway, args.metrics_job)
        except OSError as e:
            failed.append(f"trustwatch: cannot push metrics to {args.pushgateway}: {e}")
    if failed:
        raise CommandError(*failed)


def _write_alerts(target: str, result: AuditResult, rules: RuleSet) -> None:
    try:
        with output_file(target) as out:
            write_alerts(result.alerts(rules), out)
    except OSError as e:
        raise CommandError(f"trustwatch: cannot write alerts to {target}: {e.strerror or e}; "
                           "nothing written (the state has them)") from None


def write_ledger(out: IO[str], entries: Iterable[LedgerEntry]) -> None:
    """The ledger as JSON lines, one session a line (`--ledger`, `remote-access --json`)."""
    for entry in entries:
        out.write(json.dumps(ledger_record(entry), ensure_ascii=False) + "\n")


def _write_ledger(path: str, result: AuditResult) -> None:
    try:
        with output_file(path) as out:
            write_ledger(out, result.ledger)
    except OSError as e:
        raise CommandError(f"trustwatch: cannot write the ledger to {path}: {e.strerror or e}; "
                           "nothing written") from None
