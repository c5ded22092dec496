"""Prometheus metrics: sensor health and identity hygiene, `trustwatch_` prefixed.

One `Metrics` object owns its own `CollectorRegistry` (never the process-wide one) and is its
only collector: the monitor loop (or an audit) updates plain snapshots, and a scrape, a
textfile write or a Pushgateway push reads them, so the HTTP thread never walks the sensor's
live tables. Labels are bounded by code and rules: rule, severity, protocol, action, status,
vendor, approval -- never a device, address or credential.

    sensor health   trustwatch_packets_total, _bytes_total, _kernel_packets_total,
                    _kernel_drops_total, _flows_active, _flows_created_total, _flows_expired_total,
                    _flows_evicted_total, _parse_errors_total{protocol}, _inspected_bytes_total,
                    _skipped_bytes_total, _last_packet_timestamp_seconds
    identity        trustwatch_observations_total{action,protocol}, _alerts_total{rule,severity},
                    _findings{rule,severity}, _devices{status}, _shared_credentials,
                    _cleartext_credentials_total{protocol}, _remote_sessions_total{vendor,approval},
                    _client_certificates_expiring
    analytics       trustwatch_analysis_runs_total, _analysis_duration_seconds,
                    _last_analysis_timestamp_seconds, _window_observations

Audits export the same registry in the node_exporter textfile format (`--metrics-textfile`,
written to a temporary file and renamed over the target, so the collector never reads half a
file) and/or push it to a Pushgateway (`--pushgateway`).
"""

from __future__ import annotations

import argparse
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from prometheus_client import CollectorRegistry, push_to_gateway, start_http_server, write_to_textfile
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..sensor.records import CredentialSeen, Observation, SecretKind
from .findings import Finding
from .identities import IdentityKind
from .pipeline import AuditResult
from .rules import RuleSet

EXPIRY_HORIZON = 30 * 86400.0
"""Client certificates whose notAfter is within this many seconds count as expiring."""
SHARED_CREDENTIAL_RULE = "shared-credential"
UNKNOWN_STATUS = "unknown"
"""The `status` label of devices the inventory does not know."""
DEFAULT_JOB = "trustwatch"

MAX_SESSIONS_REMEMBERED = 100_000
"""Remote-access sessions remembered so that each is counted once however often it is analysed."""


def remote_sessions(result: AuditResult) -> Iterator[tuple[str, str, str]]:
    """Hook for the remote-access ledger (issue 5): (session uid, vendor, approval) of every
    session the analysis judged; nothing while `AuditResult` has no `ledger`."""
    for entry in getattr(result, "ledger", ()):
        session = entry.session
        yield session.flow.uid, session.vendor or "unknown", "approved" if entry.approved else "unapproved"


@dataclass(frozen=True)
class SensorSnapshot:
    """The sensor's counters at one moment (None: not measured by this source)."""

    packets: int = 0
    wire_bytes: int | None = None
    kernel_packets: int | None = None
    kernel_drops: int | None = None
    flows_active: int = 0
    flows_created: int = 0
    flows_expired: int = 0
    flows_evicted: int = 0
    parse_errors: dict[str, int] = field(default_factory=dict)
    """Protocol -> weirds counted for it (`<proto>_<problem>`)."""
    inspected_bytes: int = 0
    last_packet_ts: float | None = None


@dataclass(frozen=True)
class AnalysisSnapshot:
    """What the latest analysis over the window found."""

    findings: dict[tuple[str, str], int] = field(default_factory=dict)
    devices: dict[str, int] = field(default_factory=dict)
    shared_credentials: int = 0
    client_certificates_expiring: int = 0
    window_observations: int = 0
    runs: int = 0
    duration: float = 0.0
    last_ts: float | None = None


class Metrics:
    """trustwatch's metrics in their own registry; update methods are called from one thread."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self._lock = threading.Lock()
        self._sensor: SensorSnapshot | None = None
        self._analysis = AnalysisSnapshot()
        self._observations: Counter[tuple[str, str]] = Counter()
        self._cleartext: Counter[str] = Counter()
        self._remote: Counter[tuple[str, str]] = Counter()
        self._sessions: OrderedDict[str, None] = OrderedDict()
        self._alerts: Counter[tuple[str, str]] = Counter()
        self.registry.register(self)

    # --- updates ------------------------------------------------------------------------

    def observe(self, observations: Iterable[Observation]) -> Iterator[Observation]:
        """Pass `observations` through, counting them by action and protocol on the way."""
        for obs in observations:
            with self._lock:
                self._observations[(obs.action, str(obs.protocol))] += 1
                if isinstance(obs, CredentialSeen) and obs.secret_kind != SecretKind.NONE:
                    self._cleartext[str(obs.protocol)] += 1
            yield obs

    def sensor(self, snapshot: SensorSnapshot) -> None:
        """The sensor's latest counters (see `sensor_snapshot`)."""
        self._sensor = snapshot

    def alerted(self, findings: Iterable[Finding]) -> None:
        """Alerts that went out (streamed by the monitor, or written by an audit)."""
        with self._lock:
            for f in findings:
                self._alerts[(f.rule_id, str(f.severity))] += 1

    def analysed(self, result: AuditResult, rules: RuleSet, now: float, duration: float) -> None:
        """The state of the window after an analysis run: findings per rule (zeros included),
        devices by inventory status, shared credentials, client certificates expiring by `now`;
        and remote-access sessions judged for the first time, by vendor and approval."""
        findings: Counter[tuple[str, str]] = Counter()
        for rule_id in result.summary:
            findings[(rule_id, str(rules.get(rule_id).severity))] = 0
        for f in result.findings:
            findings[(f.rule_id, str(f.severity))] += 1
        devices: dict[str, str] = {}
        expiring: set[str] = set()
        for s in result.sightings:
            devices[s.device_key] = str(s.asset.status) if s.asset is not None else UNKNOWN_STATUS
            cert = s.presentation.cert
            if (cert is not None and s.presentation.identity.kind is IdentityKind.CLIENT_CERT
                    and now <= _epoch(cert.not_after) < now + EXPIRY_HORIZON):
                expiring.add(cert.sha256)
        with self._lock:
            for uid, vendor, approval in remote_sessions(result):
                if uid not in self._sessions:
                    self._sessions[uid] = None
                    self._remote[(vendor, approval)] += 1
            while len(self._sessions) > MAX_SESSIONS_REMEMBERED:
                self._sessions.popitem(last=False)
        previous = self._analysis
        self._analysis = AnalysisSnapshot(
            findings=dict(findings), devices=dict(Counter(devices.values())),
            shared_credentials=sum(1 for f in result.findings if f.rule_id == SHARED_CREDENTIAL_RULE),
            client_certificates_expiring=len(expiring), window_observations=result.observations,
            runs=previous.runs + 1, duration=duration, last_ts=now)

    # --- the collector ------------------------------------------------------------------

    def collect(self) -> Iterator[Metric]:
        """Every metric from the latest snapshots (prometheus-client's Collector protocol)."""
        with self._lock:
            observations = dict(self._observations)
            cleartext = dict(self._cleartext)
            remote = dict(self._remote)
            alerts = dict(self._alerts)
        s, a = self._sensor, self._analysis
        if s is not None:
            yield from _sensor_metrics(s)
        yield _labelled(CounterMetricFamily, "trustwatch_observations", "Observations by action and protocol.",
                        ("action", "protocol"), observations)
        yield _labelled(CounterMetricFamily, "trustwatch_alerts", "Alerts raised by rule and severity.",
                        ("rule", "severity"), alerts)
        yield _labelled(CounterMetricFamily, "trustwatch_cleartext_credentials",
                        "Credentials seen in clear (with a secret) by protocol.", ("protocol",), cleartext)
        yield _labelled(CounterMetricFamily, "trustwatch_remote_sessions",
                        "Remote-access sessions by vendor and approval (counted when first analysed).",
                        ("vendor", "approval"), remote)
        yield _labelled(GaugeMetricFamily, "trustwatch_findings",
                        "Unsuppressed findings of the latest analysis by rule and severity.",
                        ("rule", "severity"), a.findings)
        yield _labelled(GaugeMetricFamily, "trustwatch_devices",
                        "Devices seen presenting an identity, by inventory status.", ("status",), a.devices)
        yield GaugeMetricFamily("trustwatch_shared_credentials",
                                "Credentials presented by two or more devices (shared-credential findings).",
                                value=a.shared_credentials)
        yield GaugeMetricFamily("trustwatch_client_certificates_expiring",
                                "Client certificates seen that expire within 30 days.",
                                value=a.client_certificates_expiring)
        yield GaugeMetricFamily("trustwatch_window_observations",
                                "Observations held for the analytics.", value=a.window_observations)
        yield CounterMetricFamily("trustwatch_analysis_runs", "Analysis runs.", value=a.runs)
        yield GaugeMetricFamily("trustwatch_analysis_duration_seconds", "Duration of the latest analysis run.",
                                value=a.duration)
        if a.last_ts is not None:
            yield GaugeMetricFamily("trustwatch_last_analysis_timestamp_seconds",
                                    "When the latest analysis ran (epoch seconds).", value=a.last_ts)

    # --- export -------------------------------------------------------------------------

    def serve(self, address: str, port: int) -> Any:
        """Serve /metrics over HTTP on `address:port` in a daemon thread; the server."""
        server, _thread = start_http_server(port, addr=address, registry=self.registry)
        return server

    def write_textfile(self, path: str) -> None:
        """node_exporter textfile format, written to a temporary file then renamed over `path`."""
        write_to_textfile(path, self.registry)

    def push(self, gateway: str, job: str = DEFAULT_JOB) -> None:
        """Replace this job's metrics on a Pushgateway."""
        push_to_gateway(gateway, job=job, registry=self.registry)


def sensor_snapshot(sensor: Any, capture: Any = None) -> SensorSnapshot:
    """A `SensorSnapshot` of a `sensor.sense.Sensor` and, live, its `sensor.live.LiveCapture`."""
    report = sensor.report
    flows = sensor.flow_counters()
    errors: Counter[str] = Counter()
    for name, n in report.weirds.counts.copy().items():
        errors[name.split("_", 1)[0]] += n
    if capture is None:
        return SensorSnapshot(packets=report.frames, flows_active=len(sensor.table),
                              flows_created=flows["created"], flows_expired=flows["expired"],
                              flows_evicted=flows["evicted"], parse_errors=dict(errors),
                              inspected_bytes=report.inspected_bytes)
    return SensorSnapshot(packets=capture.frames, wire_bytes=capture.wire_bytes,
                          kernel_packets=capture.kernel.packets, kernel_drops=capture.kernel.drops,
                          flows_active=len(sensor.table), flows_created=flows["created"],
                          flows_expired=flows["expired"], flows_evicted=flows["evicted"],
                          parse_errors=dict(errors), inspected_bytes=report.inspected_bytes,
                          last_packet_ts=capture.last_ts)


def _sensor_metrics(s: SensorSnapshot) -> Iterator[Metric]:
    yield CounterMetricFamily("trustwatch_packets", "Frames read.", value=s.packets)
    if s.wire_bytes is not None:
        yield CounterMetricFamily("trustwatch_bytes", "Frame bytes on the wire.", value=s.wire_bytes)
        yield CounterMetricFamily("trustwatch_skipped_bytes",
                                  "Bytes of done flows, only counted in bulk.",
                                  value=max(0, s.wire_bytes - s.inspected_bytes))
    if s.kernel_packets is not None and s.kernel_drops is not None:
        yield CounterMetricFamily("trustwatch_kernel_packets",
                                  "Frames the kernel passed to the capture, drops included.",
                                  value=s.kernel_packets)
        yield CounterMetricFamily("trustwatch_kernel_drops",
                                  "Frames the kernel dropped because the capture ring was full.",
                                  value=s.kernel_drops)
    yield CounterMetricFamily("trustwatch_inspected_bytes", "Bytes of frames decoded and inspected in full.",
                              value=s.inspected_bytes)
    yield GaugeMetricFamily("trustwatch_flows_active", "Flows in the flow table.", value=s.flows_active)
    yield CounterMetricFamily("trustwatch_flows_created", "Flows created.", value=s.flows_created)
    yield CounterMetricFamily("trustwatch_flows_expired", "Flows removed after their idle timeout.",
                              value=s.flows_expired)
    yield CounterMetricFamily("trustwatch_flows_evicted", "Flows pushed out of a full flow table.",
                              value=s.flows_evicted)
    yield _labelled(CounterMetricFamily, "trustwatch_parse_errors",
                    "Malformed or unexpected data, by protocol (weirds).", ("protocol",),
                    {(k,): v for k, v in s.parse_errors.items()})
    if s.last_packet_ts is not None:
        yield GaugeMetricFamily("trustwatch_last_packet_timestamp_seconds",
                                "Capture time of the newest packet (epoch seconds).", value=s.last_packet_ts)


def _labelled(kind: type[Any], name: str, doc: str, labels: tuple[str, ...], values: dict[Any, int]) -> Metric:
    family = kind(name, doc, labels=list(labels))
    for key, value in sorted(values.items()):
        family.add_metric(list(key) if isinstance(key, tuple) else [key], value)
    m: Metric = family
    return m


def _epoch(iso: str) -> float:
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return float("nan")


# --- audit options -------------------------------------------------------------------------


def add_export_options(p: argparse.ArgumentParser) -> None:
    """`--metrics-textfile` and `--pushgateway` for audits."""
    p.add_argument("--metrics-textfile", metavar="FILE.prom",
                   help="write the run's metrics here in the node_exporter textfile format (atomically)")
    p.add_argument("--pushgateway", metavar="URL", help="push the run's metrics to this Pushgateway")
    p.add_argument("--metrics-job", default=DEFAULT_JOB, metavar="JOB",
                   help=f"Pushgateway job name (default: {DEFAULT_JOB})")


def export_audit(args: argparse.Namespace, result: AuditResult, rules: RuleSet, metrics: Metrics,
                 err: IO[str]) -> bool:
    """After an audit: fill `metrics` from `result`, then write/push where asked; False (said
    on `err`) when an export failed."""
    if not (args.metrics_textfile or args.pushgateway):
        return True
    metrics.alerted(result.findings)
    metrics.analysed(result, rules, result.last_ts if result.last_ts is not None else time.time(), 0.0)
    ok = True
    if args.metrics_textfile:
        try:
            metrics.write_textfile(args.metrics_textfile)
        except OSError as e:
            err.write(f"trustwatch: cannot write metrics to {args.metrics_textfile}: {e}\n")
            ok = False
    if args.pushgateway:
        try:
            metrics.push(args.pushgateway, args.metrics_job)
        except OSError as e:
            err.write(f"trustwatch: cannot push metrics to {args.pushgateway}: {e}\n")
            ok = False
    return ok
