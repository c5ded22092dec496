"""Prometheus metrics of the analytics: identity hygiene and the analysis runs, `trustwatch_` prefixed.

One `Metrics` object joins the registry of the sensor's metrics (`sensor.metrics.SensorMetrics`:
packets, flows, weirds, observations, cleartext credentials), so that one endpoint, textfile or
push carries both. The monitor loop (or an audit) updates plain snapshots, and a scrape, a
textfile write or a Pushgateway push reads them. Labels are bounded by code and rules: rule,
severity, vendor, approval, status -- never a device, address or credential.

    identity        trustwatch_alerts_total{rule,severity}, _findings{rule,severity}, _devices{status},
                    _shared_credentials, _remote_sessions_total{vendor,approval},
                    _client_certificates_expiring
    analytics       trustwatch_analysis_runs_total, _analysis_duration_seconds,
                    _last_analysis_timestamp_seconds, _window_observations

Audits export the same registry in the node_exporter textfile format (written to a temporary
file and renamed over the target, so the collector never reads half a file) and/or push it to
a Pushgateway (`analytics.cli.audit`).
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import push_to_gateway, write_to_textfile
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..sensor.metrics import SensorMetrics, labelled
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
    """trustwatch's metrics, the sensor's included; update methods are called from one thread."""

    def __init__(self) -> None:
        self.sensor = SensorMetrics()
        """The sensor's metrics: observations pass through its `observe`."""
        self.registry = self.sensor.registry
        self._lock = threading.Lock()
        self._analysis = AnalysisSnapshot()
        self._remote: Counter[tuple[str, str]] = Counter()
        self._sessions: OrderedDict[str, None] = OrderedDict()
        self._alerts: Counter[tuple[str, str]] = Counter()
        self.registry.register(self)

    # --- updates ------------------------------------------------------------------------

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
            remote = dict(self._remote)
            alerts = dict(self._alerts)
        a = self._analysis
        yield labelled(CounterMetricFamily, "trustwatch_alerts", "Alerts raised by rule and severity.",
                       ("rule", "severity"), alerts)
        yield labelled(CounterMetricFamily, "trustwatch_remote_sessions",
                       "Remote-access sessions by vendor and approval (counted when first analysed).",
                       ("vendor", "approval"), remote)
        yield labelled(GaugeMetricFamily, "trustwatch_findings",
                       "Unsuppressed findings of the latest analysis by rule and severity.",
                       ("rule", "severity"), a.findings)
        yield labelled(GaugeMetricFamily, "trustwatch_devices",
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

    def write_textfile(self, path: str) -> None:
        """node_exporter textfile format, written to a temporary file then renamed over `path`."""
        write_to_textfile(path, self.registry)

    def push(self, gateway: str, job: str = DEFAULT_JOB) -> None:
        """Replace this job's metrics on a Pushgateway."""
        push_to_gateway(gateway, job=job, registry=self.registry)


def _epoch(iso: str) -> float:
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return float("nan")

