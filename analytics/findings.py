"""The alert record: `Finding` (one rule, one subject, one run) and the devices it names; and
`PassedCheck`, the near miss that shows a control working (a server that refused what it must
refuse), kept beside the findings for the report.

Below the detections, so that what only handles findings (alerts, state, exceptions, metrics)
needs no detection loaded. `finding()` builds one from the sightings behind it, so that
deduplication, counts, devices, evidence and the answer's outcome are made the same way by
every detection: the evidence holds the frames of each presentation and of its answer.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ..sensor.flowid import FlowId
from ..sensor.records import Evidence, Outcome
from .correlate import Resolution, Sighting
from .identities import Identity
from .inventory import Asset
from .profiles import DeviceProfile
from .rules import Rule, Severity

MAX_EVIDENCE_FRAMES = 50
"""Frames kept per capture in one finding: enough to open the packets, bounded in size."""
MAX_FINDING_DEVICES = 100
"""Devices a finding lists (one secret on 200,000 devices: the rest is `more_devices`)."""


class Role(StrEnum):
    """What a device has to do with a finding."""

    PRESENTER = "presenter"
    """It presented the identity (or reached, or was reached by, the session) on the wire."""
    REGISTERED_OWNER = "registered-owner"
    """The inventory registers the identity to it; it need not have been seen."""
    ACCEPTOR = "acceptor"
    """It accepted the identity: the server that let the login in, the SNMP agent that answered."""


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
    more_devices: int = 0
    """Devices involved beyond the MAX_FINDING_DEVICES listed in `devices`."""
    outcome: Outcome | None = None
    """Whether the identity behind it was accepted (ECS `event.outcome`, `outcome_of`); None
    when no presentation behind it asks for an answer."""

    @property
    def device_count(self) -> int:
        """Every device involved, listed or not."""
        return len(self.devices) + self.more_devices
    flow: FlowId | None = None
    """The connection of the first presentation behind it: the alert's `source`/`destination`
    and Community ID, what a SIEM pivots on."""

    @property
    def dedup_key(self) -> str:
        """`rule:subject`: one finding per key per run; exceptions match on it."""
        return f"{self.rule_id}:{self.subject}"


def device_refs(resolved: Iterable[Resolution], role: Role = Role.PRESENTER) -> tuple[DeviceRef, ...]:
    """The distinct devices of sightings (their presenters) or resolved endpoints, with every IP
    each used."""
    by_key: dict[str, tuple[Resolution, list[str]]] = {}
    for s in resolved:
        _first, ips = by_key.setdefault(s.device_key, (s, []))
        if s.ip not in ips:
            ips.append(s.ip)
    refs = []
    for key, (s, ips) in by_key.items():
        a = s.asset
        unknown = f"unknown {', '.join(ips)}" + (f" ({s.mac})" if s.mac else "")
        label = a.label if a is not None else unknown
        refs.append(DeviceRef(key, a.asset_id if a else None, s.mac, tuple(ips),
                              str(a.status) if a else None, str(s.method), s.match_value, label, role,
                              hostname=a.hostname if a else ""))
    return tuple(refs)


def owner_refs(owners: Iterable[Asset]) -> tuple[DeviceRef, ...]:
    """The inventory devices an identity is registered to, as `registered-owner`s."""
    return tuple(DeviceRef(f"asset:{a.asset_id}", a.asset_id, a.macs[0] if a.macs else None, a.ips, str(a.status),
                           "inventory", a.source, a.label, Role.REGISTERED_OWNER, hostname=a.hostname)
                 for a in owners)


def merge_evidence(sightings: Iterable[Sighting]) -> tuple[Evidence, ...]:
    """Frames per capture of each presentation and of its answer, sorted, at most
    MAX_EVIDENCE_FRAMES each."""
    frames: dict[str, set[int]] = {}
    for s in sightings:
        for ev in (s.presentation.obs.evidence, *((s.answer.evidence,) if s.answer is not None else ())):
            if ev.capture or ev.frames:
                frames.setdefault(ev.capture, set()).update(ev.frames)
    return tuple(Evidence(c, tuple(sorted(f)[:MAX_EVIDENCE_FRAMES])) for c, f in frames.items())


def outcome_of(sightings: Iterable[Sighting]) -> Outcome | None:
    """The answer to an identity over its sightings: success when any was accepted, failure when
    every one was refused, unknown when some answer is missing; None when none asks for one."""
    outcomes = [s.outcome for s in sightings]
    if Outcome.SUCCESS in outcomes:
        return Outcome.SUCCESS
    if outcomes and all(o is Outcome.FAILURE for o in outcomes):
        return Outcome.FAILURE
    return Outcome.UNKNOWN if any(o is not None for o in outcomes) else None


def finding(
    rule: Rule,
    subject: str,
    sightings: Sequence[Sighting],
    message: str,
    identity: Identity | None = None,
    *,
    devices: Sequence[DeviceRef] | None = None,
    cause: str = "",
    severity: Severity | None = None,
    outcome: Outcome | None = None,
) -> Finding:
    """The finding of `rule` about `subject`, built from the sightings that caused it; `devices`
    when they are not exactly the sightings' (owners added, profiles filled in); `severity` when the
    answer decides it (else the rule's); `outcome` when it is not the sightings' (`outcome_of`)."""
    ts = [s.ts for s in sightings]
    first = min(sightings, key=lambda s: s.ts)
    protocols = tuple(dict.fromkeys(str(s.presentation.obs.protocol) for s in sightings))
    involved = tuple(devices) if devices is not None else device_refs(sightings)
    return Finding(
        rule_id=rule.id, rule_name=rule.name, severity=severity or rule.severity, subject=subject,
        message=message, first_seen=min(ts), last_seen=max(ts), count=len(sightings),
        devices=involved[:MAX_FINDING_DEVICES], identity=identity, evidence=merge_evidence(sightings),
        protocols=protocols, cause=cause, more_devices=max(0, len(involved) - MAX_FINDING_DEVICES),
        outcome=outcome or outcome_of(sightings), flow=first.presentation.obs.flow,
    )


@dataclass(frozen=True, slots=True)
class PassedCheck:
    """A check a rule made that the network passed: the near miss that proves a control works
    (a server answered an expired client certificate with its alert: it fails closed)."""

    near_miss: Finding
    """What the rule would have raised had the answer been the other: subject, devices, and the
    evidence of the presentations and of the refusals."""

    @property
    def rule_id(self) -> str:
        """The rule that made the check."""
        return self.near_miss.rule_id

    def as_fact(self) -> dict[str, Any]:
        """The check as the report shows it (`auditlog`): which check, a heading, the subject,
        what held, the devices and the evidence."""
        f = self.near_miss
        return {"check": f.rule_id, "title": f"The service refused what '{f.rule_name}' looks for: it fails closed",
                "subject": f.subject, "message": f.message, "devices": [d.label for d in f.devices],
                "evidence": [{"capture": e.capture, "frames": list(e.frames)} for e in f.evidence]}


def passed_check(rule: Rule, subject: str, sightings: Sequence[Sighting], message: str) -> PassedCheck:
    """The passed check of `rule` about `subject`, built from its sightings as `finding` builds findings."""
    return PassedCheck(finding(rule, subject, sightings, message))


FLOOD_DEVICES = 20
"""Devices a folded `flood` finding names (its count says how many more)."""


def bounded(findings: Iterable[Finding], limit: int) -> list[Finding]:
    """One rule's findings, at most `limit` of them one by one: past it (a flood), those with
    the fewest devices, then the latest, are folded as they come into one finding with subject
    `flood`, their count and a sample of their devices and evidence. Streaming: a flood of
    200,000 findings never holds more than `limit` of them."""
    heap: list[tuple[int, float, int, Finding]] = []
    folded: list[Finding] = []
    count = seen = 0
    first = last = 0.0
    devices: dict[str, DeviceRef] = {}
    evidence: dict[str, set[int]] = {}
    protocols: dict[str, None] = {}
    for n, f in enumerate(findings):
        heapq.heappush(heap, (f.device_count, -f.first_seen, -n, f))
        if len(heap) <= limit:
            continue
        _size, _first, _n, out = heapq.heappop(heap)
        if not folded:
            folded.append(out)
            first, last = out.first_seen, out.last_seen
        seen += 1
        count += out.count
        first, last = min(first, out.first_seen), max(last, out.last_seen)
        for d in out.devices:
            if len(devices) < FLOOD_DEVICES:
                devices.setdefault(d.key, d)
        for ev in out.evidence:
            if ev.capture in evidence or len(evidence) < 4:
                frames = evidence.setdefault(ev.capture, set())
                frames.update(ev.frames[: MAX_EVIDENCE_FRAMES - len(frames)])
        protocols.update(dict.fromkeys(out.protocols))
    kept = [f for _size, _first, _n, f in sorted(heap, key=lambda entry: -entry[2])]  # in the order they came
    if folded:
        sample = folded[0]
        names = ", ".join(d.label for d in list(devices.values())[:5])
        kept.append(Finding(
            rule_id=sample.rule_id, rule_name=sample.rule_name, severity=sample.severity, subject="flood",
            message=(f"{seen:,} more {sample.rule_id} findings in this run, folded into one (a flood: at most "
                     f"{limit} are listed one by one); devices include {names}. The first folded one: "
                     f"{sample.message}"),
            first_seen=first, last_seen=last, count=count, devices=tuple(devices.values()), identity=None,
            evidence=tuple(Evidence(c, tuple(sorted(f))) for c, f in evidence.items()),
            protocols=tuple(protocols), cause="flood"))
    return kept
