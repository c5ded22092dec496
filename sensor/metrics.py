"""Prometheus metrics of the sensor: what it read, how it coped and what it emitted, `trustwatch_` prefixed.

`SensorMetrics` is the collector of its own `CollectorRegistry` (never the process-wide one):
`trustwatch sense --interface` serves it alone, the analytics register their collector in it too
(`analytics.metrics`). The live loop (`sensor.live_loop`) updates plain snapshots and
a scrape reads them, so the HTTP thread never walks the sensor's live tables. Labels are bounded
by code: action, protocol -- never a device, address or credential.

    trustwatch_packets_total, _bytes_total, _kernel_packets_total, _kernel_drops_total,
    _flows_active, _flows_created_total, _flows_expired_total, _flows_evicted_total,
    _memcap_drops_total{cap}, _parse_errors_total{protocol}, _inspected_bytes_total, _skipped_bytes_total,
    _last_packet_timestamp_seconds, _observations_total{action,protocol},
    _cleartext_credentials_total{protocol}
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from .limits import memcap_drops
from .live import LiveCapture
from .records import CredentialSeen, Observation, SecretKind
from .sense import SenseReport, Sensor


@dataclass(frozen=True)
class SensorSnapshot:
    """The counters of a sensor at one moment: reading a live capture, or done with files
    (then the kernel's counters and the wire bytes are None: not known)."""

    packets: int = 0
    wire_bytes: int | None = 0
    kernel_packets: int | None = 0
    kernel_drops: int | None = 0
    flows_active: int = 0
    flows_created: int = 0
    flows_expired: int = 0
    flows_evicted: int = 0
    memcap_drops: dict[str, int] = field(default_factory=dict)
    """Cap (`sensor.limits` name) -> what it dropped."""
    parse_errors: dict[str, int] = field(default_factory=dict)
    """Protocol -> weirds counted for it (`<proto>_<problem>`)."""
    inspected_bytes: int = 0
    last_packet_ts: float | None = None


def _parse_errors(weirds: dict[str, int]) -> dict[str, int]:
    errors: Counter[str] = Counter()
    for name, n in weirds.items():
        errors[name.split("_", 1)[0]] += n
    return dict(errors)


def sensor_snapshot(sensor: Sensor, capture: LiveCapture) -> SensorSnapshot:
    """A `SensorSnapshot` of `sensor` and the live capture it reads."""
    flows = sensor.flow_counters()
    weirds = dict(sensor.report.weirds.counts.copy())
    return SensorSnapshot(packets=capture.frames, wire_bytes=capture.wire_bytes,
                          kernel_packets=capture.kernel.packets, kernel_drops=capture.kernel.drops,
                          flows_active=len(sensor.table), flows_created=flows["created"],
                          flows_expired=flows["expired"], flows_evicted=flows["evicted"],
                          memcap_drops=memcap_drops(flows, weirds), parse_errors=_parse_errors(weirds),
                          inspected_bytes=sensor.report.inspected_bytes, last_packet_ts=capture.last_ts)


def report_snapshot(report: SenseReport) -> SensorSnapshot:
    """A `SensorSnapshot` of a finished read of capture files (an audit's metrics)."""
    weirds = dict(report.weirds.counts)
    flows = report.flows
    return SensorSnapshot(packets=report.frames, wire_bytes=None, kernel_packets=None, kernel_drops=None,
                          flows_active=0, flows_created=flows.get("created", 0), flows_expired=flows.get("expired", 0),
                          flows_evicted=flows.get("evicted", 0), memcap_drops=memcap_drops(flows, weirds),
                          parse_errors=_parse_errors(weirds), inspected_bytes=report.inspected_bytes)


class SensorMetrics:
    """The sensor's metrics in their own registry; updated from one thread, read by scrapes."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self._lock = threading.Lock()
        self._snapshot: SensorSnapshot | None = None
        self._observations: Counter[tuple[str, str]] = Counter()
        self._cleartext: Counter[str] = Counter()
        self.registry.register(self)

    def observe(self, observations: Iterable[Observation]) -> Iterator[Observation]:
        """Pass `observations` through, counting them by action and protocol on the way."""
        for obs in observations:
            with self._lock:
                self._observations[(obs.action, str(obs.protocol))] += 1
                if isinstance(obs, CredentialSeen) and obs.secret_kind != SecretKind.NONE:
                    self._cleartext[str(obs.protocol)] += 1
            yield obs

    def update(self, snapshot: SensorSnapshot) -> None:
        """The sensor's latest counters (see `sensor_snapshot`)."""
        self._snapshot = snapshot

    def serve(self, address: str, port: int) -> None:
        """Serve the registry (other collectors in it too) as /metrics over HTTP on `address:port`,
        in a daemon thread."""
        start_http_server(port, addr=address, registry=self.registry)

    def collect(self) -> Iterator[Metric]:
        """Every metric from the latest snapshot and counts (prometheus-client's Collector protocol)."""
        with self._lock:
            observations = dict(self._observations)
            cleartext = dict(self._cleartext)
        if self._snapshot is not None:
            yield from _health(self._snapshot)
        yield labelled(CounterMetricFamily, "trustwatch_observations", "Observations by action and protocol.",
                       ("action", "protocol"), observations)
        yield labelled(CounterMetricFamily, "trustwatch_cleartext_credentials",
                       "Credentials seen in clear (with a secret) by protocol.", ("protocol",), cleartext)


def _health(s: SensorSnapshot) -> Iterator[Metric]:
    yield CounterMetricFamily("trustwatch_packets", "Frames read.", value=s.packets)
    if s.wire_bytes is not None:
        yield CounterMetricFamily("trustwatch_bytes", "Frame bytes on the wire.", value=s.wire_bytes)
        yield CounterMetricFamily("trustwatch_skipped_bytes", "Bytes of done flows, only counted in bulk.",
                                  value=max(0, s.wire_bytes - s.inspected_bytes))
    if s.kernel_packets is not None and s.kernel_drops is not None:
        yield CounterMetricFamily("trustwatch_kernel_packets",
                                  "Frames the kernel passed to the capture, drops included.", value=s.kernel_packets)
        yield CounterMetricFamily("trustwatch_kernel_drops",
                                  "Frames the kernel dropped because the capture ring was full.", value=s.kernel_drops)
    yield CounterMetricFamily("trustwatch_inspected_bytes", "Bytes of frames decoded and inspected in full.",
                              value=s.inspected_bytes)
    yield GaugeMetricFamily("trustwatch_flows_active", "Flows in the flow table.", value=s.flows_active)
    yield CounterMetricFamily("trustwatch_flows_created", "Flows created.", value=s.flows_created)
    yield CounterMetricFamily("trustwatch_flows_expired", "Flows removed after their idle timeout.",
                              value=s.flows_expired)
    yield CounterMetricFamily("trustwatch_flows_evicted", "Flows pushed out of a full flow table.",
                              value=s.flows_evicted)
    yield labelled(CounterMetricFamily, "trustwatch_memcap_drops",
                   "What each memory cap dropped (flows, parser directions, out-of-order segments, fragments).",
                   ("cap",), s.memcap_drops)
    yield labelled(CounterMetricFamily, "trustwatch_parse_errors",
                   "Malformed or unexpected data, by protocol (weirds).", ("protocol",),
                   {(k,): v for k, v in s.parse_errors.items()})
    if s.last_packet_ts is not None:
        yield GaugeMetricFamily("trustwatch_last_packet_timestamp_seconds",
                                "Capture time of the newest packet (epoch seconds).", value=s.last_packet_ts)


def labelled(kind: type[Any], name: str, doc: str, labels: tuple[str, ...], values: dict[Any, int]) -> Metric:
    """A metric family of `kind` with one sample per key of `values` (a label value, or a tuple of them)."""
    family = kind(name, doc, labels=list(labels))
    for key, value in sorted(values.items()):
        family.add_metric(list(key) if isinstance(key, tuple) else [key], value)
    m: Metric = family
    return m
