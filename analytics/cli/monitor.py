"""`trustwatch monitor`: the sensor and the analytics on a live interface.

    trustwatch monitor --interface IF --inventory FILE [--bpf FILTER] [--state DB] [--alerts FILE]
                       [--metrics-address 127.0.0.1] [--metrics-port 9750] [--analyze-every S]

The sensor's live loop (`sensor.live_loop`, the one `trustwatch sense --interface` runs) feeds
the observations into a bounded window; between batches, every `--analyze-every` seconds, the
analytics run over the window (`run_audit`, as audits do) and each finding not alerted before
goes out at once as a JSON line (one per rule and subject for the life of the process). When
the window is full, and at exit, the window is recorded as one run in the state (sightings,
history, alerts) and starts afresh. SIGTERM and SIGINT conclude the open flows, run the
analytics one last time, record, flush and exit 0; SIGHUP reloads the inventory, rules,
exceptions and windows (a bad file keeps the old ones). Metrics are served on
http://127.0.0.1:9750/metrics by default (`sensor.metrics` and `analytics.metrics`).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections import OrderedDict
from collections.abc import Iterable
from contextlib import ExitStack
from types import FrameType
from typing import IO

from ...sensor.live_loop import StopSignal, sense_live
from ...sensor.records import Observation
from ...sensor.secrets import SecretHasher
from ..alerts import to_alert
from ..findings import Finding
from ..metrics import Metrics
from ..pipeline import AuditResult, run_audit
from ..rules import RuleSet
from ..state import State
from .options import (
    EXIT_OK,
    CommandError,
    add_key_option,
    add_memcap_option,
    add_metrics_endpoint_options,
    memcaps,
    site_secrets,
)
from .sense import live_sensor, open_capture
from .site import Site, add_input_options, analysis_state, load_site

ANALYZE_EVERY = 10.0
"""Seconds between two analytics runs over the window."""
MAX_WINDOW = 100_000
"""Observations held for the analytics (identity facts: a busy segment makes a few per second)."""
MAX_ALERTED = 100_000
"""Alert keys remembered so that a finding is streamed once; the oldest are forgotten first."""


def add_monitor_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `monitor` on the `trustwatch` parser."""
    p = subparsers.add_parser("monitor", help="sense an interface and run the analytics continuously")
    p.add_argument("--interface", "-i", required=True, metavar="IF", help="interface to capture from")
    p.add_argument("--bpf", metavar="FILTER", help="capture filter (tcpdump syntax), applied in the kernel")
    add_input_options(p)
    p.add_argument("--alerts", metavar="FILE.jsonl", help="append alerts here as they happen ('-': stdout)")
    add_metrics_endpoint_options(p)
    p.add_argument("--analyze-every", type=float, default=ANALYZE_EVERY, metavar="S",
                   help=f"seconds between analytics runs (default: {ANALYZE_EVERY:g})")
    p.add_argument("--window", type=int, default=MAX_WINDOW, metavar="N",
                   help=f"observations held for the analytics before they are recorded (default: {MAX_WINDOW})")
    add_key_option(p)
    add_memcap_option(p)
    p.set_defaults(func=cmd_monitor)


def cmd_monitor(args: argparse.Namespace) -> int:
    """`trustwatch monitor`: set up, sense until a stop signal, analyse a last time, flush."""
    err = sys.stderr
    secrets = site_secrets(args.key_file)
    site = load_site(args)
    sensor = live_sensor(secrets, args.rules, memcaps(args))
    with ExitStack() as opened:
        state = analysis_state(args, exclusive=False)
        if state is not None:
            opened.callback(state.close)
        out = _alerts_out(args.alerts)
        if out is not None and out is not sys.stdout:
            opened.callback(out.close)
        monitor = Monitor(args, site, secrets, state, out, err)
        capture = open_capture(args, monitor.metrics.sensor)
        opened.callback(capture.close)
        stop = StopSignal()
        stop.install()
        signal.signal(signal.SIGHUP, monitor.on_hup)
        err.write(f"trustwatch: monitoring {args.interface}"
                  f"{f' (metrics on {args.metrics_address}:{args.metrics_port})' if args.metrics_port else ''}\n")
        err.flush()
        sense_live(sensor, capture, monitor.metrics.sensor, stop, monitor.take, monitor.between_batches)
        monitor.analyse(record=True)
    err.write(f"trustwatch: stopped: {capture.frames:,} frames, {capture.kernel.drops:,} dropped by the "
              f"kernel, {len(monitor.alerted):,} alerts\n")
    return EXIT_OK


def _alerts_out(target: str | None) -> IO[str] | None:
    """Where alerts stream (`--alerts`, appended to; '-': stdout), None without the option."""
    if not target:
        return None
    if target == "-":
        return sys.stdout
    try:
        return open(target, "a", encoding="utf-8")  # closed by cmd_monitor's exit stack
    except OSError as e:
        raise CommandError(f"trustwatch: cannot open the alerts file: {e}") from None


class Monitor:
    """The analytics side of the monitor, between and after the sensor's batches."""

    def __init__(self, args: argparse.Namespace, site: Site, secrets: SecretHasher, state: State | None,
                 out: IO[str] | None, err: IO[str]) -> None:
        self.args = args
        self.site = site
        self.secrets = secrets
        self.state = state
        self.out = out
        self.err = err
        self.window: list[Observation] = []
        self.alerted: OrderedDict[str, None] = OrderedDict()
        self.metrics = Metrics()
        self.reload = False
        """Set by SIGHUP: reload the site's files between two batches."""
        self.due = time.monotonic() + args.analyze_every
        """When the next analysis without recording runs."""

    def on_hup(self, _sig: int, _frame: FrameType | None) -> None:
        """SIGHUP handler: ask for a reload."""
        self.reload = True

    def take(self, observations: Iterable[Observation]) -> None:
        """The live loop's observations join the window."""
        self.window.extend(observations)

    def between_batches(self) -> None:
        """The live loop's hook: reload if asked, analyse when the window is full or the time has come."""
        if self.reload:
            self.reload = False
            self._reload()
        if len(self.window) >= self.args.window:
            self.analyse(record=True)
        elif time.monotonic() >= self.due:
            self.analyse(record=False)
            self.due = time.monotonic() + self.args.analyze_every

    def _reload(self) -> None:
        try:
            self.site = load_site(self.args)
        except CommandError as e:
            self.err.write(f"{e}\ntrustwatch: reload failed; keeping the previous inventory, rules, exceptions and "
                           "windows\n")
            return
        self.err.write("trustwatch: reloaded inventory, rules, exceptions and windows\n")

    def analyse(self, record: bool) -> None:
        """The analytics over the window; new findings out; with `record`, into the state too."""
        start = time.perf_counter()
        site = self.site
        state = self.state if record else None
        result = run_audit(self.window, site.inventory, site.rules, state, site.exceptions,
                           source=f"interface:{self.args.interface}", secrets=self.secrets, windows=site.windows,
                           site=site.scope, roles=site.roles, kind="monitor")
        if state is not None:
            state.commit()
        self._emit([f for f in result.findings if f.dedup_key not in self.alerted], result, site.rules)
        self.metrics.analysed(result, site.rules, time.time(), time.perf_counter() - start)
        if record:
            self.window = []

    def _emit(self, findings: list[Finding], result: AuditResult, rules: RuleSet) -> None:
        for f in findings:
            self.alerted[f.dedup_key] = None
            if len(self.alerted) > MAX_ALERTED:
                self.alerted.popitem(last=False)
            if self.out is not None:
                m = result.memory.get(f.dedup_key)
                doc = to_alert(f, rules.get(f.rule_id), m.created if m else result.started, m.status if m else None)
                self.out.write(json.dumps(doc, ensure_ascii=False) + "\n")
        if self.out is not None:
            self.out.flush()
        self.metrics.alerted(findings)
