"""The alert record: `Finding` (one rule, one subject, one run) and the devices it names; and
`PassedCheck`, a check that held (a server that refused an expired certificate), for the report.

Below the detections, so that what only handles findings (alerts, state, exceptions, metrics)
needs no detection loaded. `finding()` builds one from the sightings behind it, so that
deduplication, counts, devices and evidence are made the same way by every detection.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from ..sensor.flowid import FlowId
from ..sensor.records import Evidence
from .correlate import Sighting
from .identities import Identity
from .inventory import Asset
from .profiles import DeviceProfile
from .rules import Rule, Severity

MAX_EVIDENCE_FRAMES = 50
"""Frames kept per capture in one finding: enough to open the packets, bounded in size."""


class Role(StrEnum):
    """What a device has to do with a finding."""

    PRESENTER = "presenter"
    """It presented the identity (or reached, or was reached by, the session) on the wire."""
    REGISTERED_OWNER = "registered-owner"
    """The inventory registers the identity to it; it need not have been seen."""


@dataclass(frozen=True, slots=True)
class DeviceRef:
    """A device involved in a finding, and how it was recognised."""

    key: str
    """`asset:<id>`, `mac:<MAC>` or `ip:<IP>` (see `Sighting.device_key`)."""
    asset_id: str | None
    mac: str | None
    ips: tuple[str, ...]
    status: str | None
    """Inventory status; None for unknown devices."""
    match: str
    """Method: mac, dhcp, ip, certificate, ae-title or none; `inventory` for a registered owner."""
    match_value: str
    """What matched; for a registered owner the inventory row (`file:row`)."""
    label: str
    """`INF-0042 (BD Alaris 8015, ICU)` or `unknown 10.1.2.3 (00-1A-...)`."""
    role: Role = Role.PRESENTER
    profile: DeviceProfile | None = None
    """What the network says about it (unknown devices)."""
    hostname: str = ""
    """The inventory's host name (ECS `related.hosts`)."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One alert: one rule, one subject, one run (Zeek's NOTICE with its identifier)."""

    rule_id: str
    rule_name: str
    severity: Severity
    subject: str
    """What the finding is about, e.g. `client-certificate:<sha256>` or `asset:INF-0042`."""
    message: str
    """One sentence an analyst understands."""
    first_seen: float
    last_seen: float
    """Packet times."""
    count: int
    """Presentations behind the finding."""
    devices: tuple[DeviceRef, ...]
    identity: Identity | None
    evidence: tuple[Evidence, ...]
    protocols: tuple[str, ...]
    cause: str = ""
    """What several findings of one rule share, so that the summary shows them as one line
    (e.g. `community in clear over SNMP`); empty: the finding stands alone."""
    flow: FlowId | None = None
    """The connection of the first presentation behind it: the alert's `source`/`destination`
    and Community ID, what a SIEM pivots on."""

    @property
    def dedup_key(self) -> str:
        """`rule:subject`: one finding per key per run; exceptions match on it."""
        return f"{self.rule_id}:{self.subject}"


def device_refs(sightings: Iterable[Sighting]) -> tuple[DeviceRef, ...]:
    """The distinct devices of `sightings`, with every IP each used."""
    by_key: dict[str, tuple[Sighting, list[str]]] = {}
    for s in sightings:
        _first, ips = by_key.setdefault(s.device_key, (s, []))
        if s.ip not in ips:
            ips.append(s.ip)
    refs = []
    for key, (s, ips) in by_key.items():
        a = s.asset
        unknown = f"unknown {', '.join(ips)}" + (f" ({s.mac})" if s.mac else "")
        label = a.label if a is not None else unknown
        refs.append(DeviceRef(key, a.asset_id if a else None, s.mac, tuple(ips),
                              str(a.status) if a else None, str(s.method), s.match_value, label,
                              hostname=a.hostname if a else ""))
    return tuple(refs)


def owner_refs(owners: Iterable[Asset]) -> tuple[DeviceRef, ...]:
    """The inventory devices an identity is registered to, as `registered-owner`s."""
    return tuple(DeviceRef(f"asset:{a.asset_id}", a.asset_id, a.macs[0] if a.macs else None, a.ips, str(a.status),
                           "inventory", a.source, a.label, Role.REGISTERED_OWNER, hostname=a.hostname)
                 for a in owners)


def merge_evidence(sightings: Iterable[Sighting]) -> tuple[Evidence, ...]:
    """Frames per capture, sorted, at most MAX_EVIDENCE_FRAMES each."""
    frames: dict[str, set[int]] = {}
    for s in sightings:
        ev = s.presentation.obs.evidence
        if ev.capture or ev.frames:
            frames.setdefault(ev.capture, set()).update(ev.frames)
    return tuple(Evidence(c, tuple(sorted(f)[:MAX_EVIDENCE_FRAMES])) for c, f in frames.items())


def finding(
    rule: Rule,
    subject: str,
    sightings: Sequence[Sighting],
    message: str,
    identity: Identity | None = None,
    *,
    devices: Sequence[DeviceRef] | None = None,
    cause: str = "",
) -> Finding:
    """The finding of `rule` about `subject`, built from the sightings that caused it; `devices`
    when they are not exactly the sightings' (owners added, profiles filled in)."""
    ts = [s.ts for s in sightings]
    first = min(sightings, key=lambda s: s.ts)
    protocols = tuple(dict.fromkeys(str(s.presentation.obs.protocol) for s in sightings))
    return Finding(
        rule_id=rule.id, rule_name=rule.name, severity=rule.severity, subject=subject,
        message=message, first_seen=min(ts), last_seen=max(ts), count=len(sightings),
        devices=tuple(devices) if devices is not None else device_refs(sightings), identity=identity,
        evidence=merge_evidence(sightings), protocols=protocols, cause=cause, flow=first.presentation.obs.flow,
    )


@dataclass(frozen=True, slots=True)
class PassedCheck:
    """A check that held, shown in the report beside the findings (e.g. `expired-certificate-refused`:
    a server refused an expired client certificate). Detections of such checks add them to
    `AuditResult.passed`; the report groups them by `check` whatever they are."""

    check: str
    """Stable id of the check."""
    title: str
    """What held, for the section's heading: `Servers refused expired client certificates`."""
    subject: str
    message: str
    """One sentence: who did what, when."""
    devices: tuple[DeviceRef, ...] = ()
    evidence: tuple[Evidence, ...] = ()
