"""`trustwatch monitor` (sensor and analytics on a live interface) and `trustwatch sense --interface`.

    trustwatch monitor --interface IF --inventory FILE [--bpf FILTER] [--state DB] [--alerts FILE]
                       [--metrics-address 127.0.0.1] [--metrics-port 9750] [--analyze-every S]
    trustwatch sense --interface IF [--bpf FILTER] [-o FILE]

The monitor feeds every batch from the ring (`sensor.live`) to the sensor; the observations
join a bounded window. Every `--analyze-every` seconds the analytics run over the window
(`run_audit`, as audits do) and each finding not alerted before goes out at once as a JSON line
(one per rule and subject for the life of the process). When the window is full, and at exit,
the window is recorded as one run in the state (sightings, history, alerts) and starts afresh.
SIGTERM and SIGINT conclude the open flows, run the analytics one last time, record, flush
and exit 0; SIGHUP reloads the inventory, rules and exceptions (a bad file keeps the old ones).
Metrics are served on http://127.0.0.1:9750/metrics by default (`analytics.metrics`).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections import OrderedDict
from pathlib import Path
from types import FrameType
from typing import IO

from ..sensor.ecs import write_jsonl
from ..sensor.live import LiveCapture, LiveError
from ..sensor.records import Observation
from ..sensor.secrets import SecretHasher
from ..sensor.sense import Sensor
from ..sensor.yamlfile import RulesFileError
from .alerts import to_alert
from .commands import _Fail, _open_state, _setup, _windows, add_input_options
from .findings import Finding
from .metrics import Metrics, sensor_snapshot
from .options import EXIT_ERROR, EXIT_OK, add_key_option, add_metrics_endpoint_options, open_secrets
from .pipeline import run_audit
from .remote_access import ApprovalWindow
from .state import State

ANALYZE_EVERY = 10.0
"""Seconds between two analytics runs over the window."""
MAX_WINDOW = 100_000
"""Observations held for the analytics (identity facts: a busy segment makes a few per second)."""
MAX_ALERTED = 100_000
"""Alert keys remembered so that a finding is streamed once; the oldest are forgotten first."""
READ_TIMEOUT = 0.5
"""Longest wait for packets: how soon a signal or a due analysis is acted upon."""


class _Stop:
    """Signal flags, set by the handlers and read by the loop."""

    def __init__(self) -> None:
        self.stop = False
        self.reload = False

    def install(self, hup: bool) -> None:
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        if hup:
            signal.signal(signal.SIGHUP, self._on_hup)

    def _on_stop(self, _sig: int, _frame: FrameType | None) -> None:
        self.stop = True

    def _on_hup(self, _sig: int, _frame: FrameType | None) -> None:
        self.reload = True


def add_live_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    p.set_defaults(func=cmd_monitor)


def _sensor(secrets: SecretHasher, rules_dir: Path, err: IO[str]) -> Sensor:
    """The sensor with the site's catalog and API-key names, or _Fail after saying why."""
    try:
        return Sensor(secrets=secrets, rules_dir=rules_dir)
    except RulesFileError as e:
        err.write(f"trustwatch: {e}\n")
        raise _Fail from None


def _open(interface: str, bpf: str | None, metrics: Metrics, args: argparse.Namespace,
          err: IO[str]) -> LiveCapture | None:
    """The capture and the metrics endpoint, or None after saying why on `err`."""
    try:
        capture = LiveCapture(interface, bpf)
    except LiveError as e:
        err.write(f"trustwatch: {e}\n")
        return None
    if args.metrics_port:
        try:
            metrics.serve(args.metrics_address, args.metrics_port)
        except OSError as e:
            err.write(f"trustwatch: metrics endpoint {args.metrics_address}:{args.metrics_port}: {e}\n")
            capture.close()
            return None
    return capture


class Monitor:
    """The monitor's state between batches."""

    def __init__(self, args: argparse.Namespace, err: IO[str]) -> None:
        self.args = args
        self.err = err
        self.window: list[Observation] = []
        self.windows: list[ApprovalWindow] | None = None
        """Approved remote-access windows (`--remote-access-windows`)."""
        self.alerted: OrderedDict[str, None] = OrderedDict()
        self.metrics = Metrics()
        self.state: State | None = None
        self.out: IO[str] | None = None

    def run(self) -> int:
        """Set up, loop until a stop signal, flush; the exit code."""
        args, err = self.args, self.err
        secrets = open_secrets(args.key_file)
        if secrets is None:
            return EXIT_ERROR
        self.secrets = secrets
        try:
            self.rules, self.inventory, self.exceptions = _setup(args, err)
            self.windows = _windows(args.remote_access_windows, err)
            sensor = _sensor(secrets, args.rules, err)
            self.state = None if args.no_state else _open_state(args.state, err)
        except _Fail:
            return EXIT_ERROR
        try:
            if args.alerts:
                self.out = sys.stdout if args.alerts == "-" else open(args.alerts, "a", encoding="utf-8")  # noqa: SIM115
        except OSError as e:
            err.write(f"trustwatch: cannot open the alerts file: {e}\n")
            return EXIT_ERROR
        capture = _open(args.interface, args.bpf, self.metrics, args, err)
        if capture is None:
            return EXIT_ERROR
        flags = _Stop()
        flags.install(hup=True)
        err.write(f"trustwatch: monitoring {args.interface}"
                  f"{f' (metrics on {args.metrics_address}:{args.metrics_port})' if args.metrics_port else ''}\n")
        err.flush()
        due = time.monotonic() + args.analyze_every
        try:
            while not flags.stop:
                batch = capture.read(READ_TIMEOUT)
                obs = sensor.feed(capture.source, batch.runs, capture.frames - batch.frames + 1,
                                  batch.last_ts if batch.last_ts is not None else time.time())
                self.window.extend(self.metrics.observe(obs))
                self.metrics.sensor(sensor_snapshot(sensor, capture))
                if flags.reload:
                    flags.reload = False
                    self._reload()
                if len(self.window) >= args.window:
                    self._analyse(record=True)
                elif time.monotonic() >= due:
                    self._analyse(record=False)
                    due = time.monotonic() + args.analyze_every
            self.window.extend(self.metrics.observe(sensor.finish(capture.last_ts or time.time())))
            self.metrics.sensor(sensor_snapshot(sensor, capture))
            self._analyse(record=True)
        finally:
            capture.close()
            if self.state is not None:
                self.state.close()
            if self.out is not None and self.out is not sys.stdout:
                self.out.close()
        err.write(f"trustwatch: stopped: {capture.frames:,} frames, {capture.kernel.drops:,} dropped by the "
                  f"kernel, {len(self.alerted):,} alerts\n")
        return EXIT_OK

    def _reload(self) -> None:
        try:
            loaded = _setup(self.args, self.err)
            windows = _windows(self.args.remote_access_windows, self.err)
        except _Fail:
            self.err.write("trustwatch: reload failed; keeping the previous inventory, rules, exceptions and "
                           "windows\n")
            return
        (self.rules, self.inventory, self.exceptions), self.windows = loaded, windows
        self.err.write("trustwatch: reloaded inventory, rules, exceptions and windows\n")

    def _analyse(self, record: bool) -> None:
        """The analytics over the window; new findings out; with `record`, into the state too."""
        start = time.perf_counter()
        state = self.state if record else None
        result = run_audit(self.window, self.inventory, self.rules, state, self.exceptions,
                           source=f"interface:{self.args.interface}", secrets=self.secrets, windows=self.windows)
        new = [f for f in result.findings if f.dedup_key not in self.alerted]
        self._emit(new)
        self.metrics.analysed(result, self.rules, time.time(), time.perf_counter() - start)
        if record:
            self.window = []

    def _emit(self, findings: list[Finding]) -> None:
        for f in findings:
            self.alerted[f.dedup_key] = None
            if len(self.alerted) > MAX_ALERTED:
                self.alerted.popitem(last=False)
            if self.out is not None:
                self.out.write(json.dumps(to_alert(f), ensure_ascii=False) + "\n")
        if self.out is not None:
            self.out.flush()
        self.metrics.alerted(findings)


def cmd_monitor(args: argparse.Namespace) -> int:
    """`trustwatch monitor`."""
    return Monitor(args, sys.stderr).run()


def cmd_sense_interface(args: argparse.Namespace) -> int:
    """`trustwatch sense --interface IF`: observations as JSON lines until SIGTERM/SIGINT."""
    err = sys.stderr
    secrets = open_secrets(args.key_file)
    if secrets is None:
        return EXIT_ERROR
    try:
        sensor = _sensor(secrets, args.rules, err)
    except _Fail:
        return EXIT_ERROR
    metrics = Metrics()
    capture = _open(args.interface, args.bpf, metrics, args, err)
    if capture is None:
        return EXIT_ERROR
    flags = _Stop()
    flags.install(hup=False)
    if not args.quiet:
        err.write(f"trustwatch: sensing {args.interface}\n")
        err.flush()
    try:
        out = open(args.output, "a", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    except OSError as e:
        err.write(f"trustwatch: cannot open {args.output}: {e}\n")
        capture.close()
        return EXIT_ERROR
    try:
        while not flags.stop:
            batch = capture.read(READ_TIMEOUT)
            obs = sensor.feed(capture.source, batch.runs, capture.frames - batch.frames + 1,
                              batch.last_ts if batch.last_ts is not None else time.time())
            if write_jsonl(metrics.observe(obs), out):
                out.flush()
            metrics.sensor(sensor_snapshot(sensor, capture))
        write_jsonl(metrics.observe(sensor.finish(capture.last_ts or time.time())), out)
        out.flush()
    finally:
        capture.close()
        if out is not sys.stdout:
            out.close()
    if not args.quiet:
        err.write(f"trustwatch: {capture.frames:,} frames, {sensor.report.observations:,} observations, "
                  f"{capture.kernel.drops:,} dropped by the kernel\n")
    return EXIT_OK
