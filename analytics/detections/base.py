"""What every detection shares: the `Finding` record, the run `Context`, grouping helpers.

A detection module declares `RULE_ID` (the contract), a frozen `Params` dataclass (its
thresholds, filled from rules/*.yaml) and `detect(ctx, rule)` yielding Findings. It groups
sightings by a subject and makes one Finding per subject per run with `finding()`, so
deduplication, counts, devices and evidence are built the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from ...sensor.records import Evidence
from ...sensor.secrets import EPHEMERAL, SecretHasher
from ..correlate import Sighting
from ..identities import CERT_KINDS, Identity, IdentityKind
from ..inventory import Asset, Inventory
from ..remote_access import ApprovalWindow
from ..rules import Rule, Severity

MAX_EVIDENCE_FRAMES = 50
"""Frames kept per capture in one finding: enough to open the packets, bounded in size."""
MAX_DEVICES_IN_MESSAGE = 5


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
    """Method: mac, dhcp, ip, certificate, ae-title or none."""
    match_value: str
    label: str
    """`INF-0042 (BD Alaris 8015, ICU)` or `unknown 10.1.2.3 (00-1A-...)`."""


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

    @property
    def dedup_key(self) -> str:
        """`rule:subject`: one finding per key per run; exceptions match on it."""
        return f"{self.rule_id}:{self.subject}"


@dataclass(frozen=True, slots=True)
class Context:
    """Everything a detection may look at."""

    sightings: Sequence[Sighting]
    inventory: Inventory
    first_seen: Callable[[Identity], float | None] = lambda _identity: None
    """When the state first saw an identity (over all runs); None without history."""
    secrets: SecretHasher = EPHEMERAL
    """The site's hasher, the sensor's: known secrets (public defaults) compare by fingerprint."""
    windows: Sequence[ApprovalWindow] | None = None
    """The site's approved remote-access windows; None: no windows file, the inventory decides."""


class Detection(Protocol):
    """A detection module (read-only members, so that a module's constants satisfy it)."""

    @property
    def RULE_ID(self) -> str:
        """The rule id: a contract with SIEM searches and exceptions."""
        ...

    @property
    def Params(self) -> type:
        """Frozen dataclass of the rule's parameters, with defaults."""
        ...

    def detect(self, ctx: Context, rule: Rule) -> Iterable[Finding]:
        """The findings of this rule over one run."""
        ...


def group(sightings: Iterable[Sighting], key: Callable[[Sighting], str | None]) -> dict[str, list[Sighting]]:
    """Sightings by subject, skipping those whose key is None; in first-seen order."""
    out: dict[str, list[Sighting]] = {}
    for s in sightings:
        k = key(s)
        if k is not None:
            out.setdefault(k, []).append(s)
    return out


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
                              str(a.status) if a else None, str(s.method), s.match_value, label))
    return tuple(refs)


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
) -> Finding:
    """The finding of `rule` about `subject`, built from the sightings that caused it."""
    ts = [s.ts for s in sightings]
    protocols = tuple(dict.fromkeys(str(s.presentation.obs.protocol) for s in sightings))
    return Finding(
        rule_id=rule.id, rule_name=rule.name, severity=rule.severity, subject=subject,
        message=message, first_seen=min(ts), last_seen=max(ts), count=len(sightings),
        devices=device_refs(sightings), identity=identity, evidence=merge_evidence(sightings),
        protocols=protocols,
    )


def list_devices(devices: Sequence[DeviceRef]) -> str:
    """`INF-1 (…), INF-2 (…) and 3 more` for messages."""
    names = [d.label for d in devices[:MAX_DEVICES_IN_MESSAGE]]
    more = len(devices) - len(names)
    return ", ".join(names) + (f" and {more} more" if more else "")


def day(ts: float) -> str:
    """Packet time as a UTC date for messages."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def moment(ts: float) -> str:
    """Packet time as UTC date and minute for messages."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def since(ctx: Context, identity: Identity, seen: float) -> str:
    """`; in use since 2023-04-01` when the state knows it from before this run, else ``."""
    first = ctx.first_seen(identity)
    return f"; in use since {day(first)}" if first is not None and day(first) < day(seen) else ""


def registered_to(inventory: Inventory, identity: Identity) -> tuple[Asset, ...]:
    """The devices the inventory registers `identity` to (certificates, user names, AE titles)."""
    if identity.kind in CERT_KINDS:
        return inventory.by_cert.get(identity.value, ())
    if identity.kind is IdentityKind.USERNAME:
        return inventory.by_username.get(identity.value, ())
    if identity.kind is IdentityKind.AE_TITLE:
        return inventory.by_ae_title.get(identity.value, ())
    return ()
