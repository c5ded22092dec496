"""What the detections share: the run `Context`, the `Detection` contract, grouping and message
helpers, client certificates judged at packet time, the statuses of gone devices, and the
severity and words that follow the other side's answer (accepted, refused, not seen).

A detection module declares `RULE_ID` (the contract), a frozen `Params` dataclass (its
thresholds, filled from rules/*.yaml) and `detect(ctx, rule)` yielding Findings. It groups
sightings by a subject and makes one Finding per subject per run with `findings.finding()`, so
deduplication, counts, devices and evidence are built the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from ...sensor.records import Outcome, X509Cert
from ...sensor.secrets import EPHEMERAL, SecretHasher
from ..correlate import Sighting
from ..findings import DeviceRef, Finding, PassedCheck
from ..identities import CERT_KINDS, Identity, IdentityKind
from ..inventory import Asset, Inventory, Status, parse_status
from ..profiles import NetworkFacts
from ..remote_access import ApprovalWindow
from ..roles import SiteRoles
from ..rules import Rule, Severity
from ..scope import EVERYWHERE, SiteScope

MAX_DEVICES_IN_MESSAGE = 5
GONE = ("retired", "decommissioned")
"""Statuses of devices that should no longer be on the network."""


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
    scope: SiteScope = EVERYWHERE
    """The monitored site networks: an unknown device off them is a far end, not unknown."""
    network: NetworkFacts = field(default_factory=NetworkFacts)
    """DHCP facts and packet times of the run, to describe unknown devices."""
    history_since: float | None = None
    """The first packet time of the earliest earlier run in the state; None on the first audit
    of a site (or without state): how long an identity was in use before this run is unknown."""
    roles: SiteRoles = field(default_factory=SiteRoles)
    """Pollers, jump hosts and vendor gateways; vendor accounts; which devices are clinical."""


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

    def detect(self, ctx: Context, rule: Rule) -> Iterable[Finding | PassedCheck]:
        """The findings of this rule over one run, and the checks the network passed."""
        ...


def group(sightings: Iterable[Sighting], key: Callable[[Sighting], str | None]) -> dict[str, list[Sighting]]:
    """Sightings by subject, skipping those whose key is None; in first-seen order."""
    out: dict[str, list[Sighting]] = {}
    for s in sightings:
        k = key(s)
        if k is not None:
            out.setdefault(k, []).append(s)
    return out


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


def client_cert(s: Sighting) -> X509Cert | None:
    """The parsed client certificate of `s`, else None (unparsed ones have no fields to judge)."""
    p = s.presentation
    if p.identity.kind is IdentityKind.CLIENT_CERT and p.cert is not None and p.cert.parsed:
        return p.cert
    return None


def validity_time(text: str) -> datetime | None:
    """An ISO 8601 validity bound as aware UTC datetime; None when unreadable."""
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def out_of_validity(cert: X509Cert, ts: float) -> str | None:
    """`expired on 2024-01-04` or `is not valid before 2025-01-01T00:00:00Z` at packet time `ts`;
    None while the certificate is valid (or its dates are unreadable)."""
    nb, na = validity_time(cert.not_before), validity_time(cert.not_after)
    if na and ts > na.timestamp():
        return f"expired on {na.date().isoformat()}"
    if nb and ts < nb.timestamp():
        return f"is not valid before {cert.not_before}"
    return None


def check_statuses(statuses: tuple[str, ...]) -> frozenset[Status]:
    """The statuses named, or ValueError naming the unknown one (rules.py reports it)."""
    out = set()
    for text in statuses:
        status = parse_status(text)
        if status is None:
            raise ValueError(f"unknown status {text!r} (expected {', '.join(s.value for s in Status)})")
        out.add(status)
    return frozenset(out)


def status_phrase(asset: Asset) -> str:
    """`retired since 2023-05-02` or `decommissioned`."""
    when = f" since {asset.status_date.isoformat()}" if asset.status_date else ""
    return f"{asset.status.value.replace('_', ' ')}{when}"




def parse_severity(text: str) -> Severity:
    """`text` as a Severity, or ValueError naming the choices (rules.py reports it)."""
    try:
        return Severity(text)
    except ValueError:
        raise ValueError(f"unknown severity {text!r} (expected {', '.join(s.value for s in Severity)})") from None


@dataclass(frozen=True, slots=True)
class AnswerSeverities:
    """Rule parameters of detections whose severity follows the other side's answer: accepted,
    or refused every time (the service fails closed; the device still tries, which is worth a
    finding, a lower one); when the answer was not seen, the rule's own severity."""

    accepted_severity: str = "high"
    refused_severity: str = "medium"

    def __post_init__(self) -> None:
        parse_severity(self.accepted_severity)
        parse_severity(self.refused_severity)

    def severity(self, rule: Rule, outcome: Outcome | None) -> Severity:
        """The severity of a finding whose sightings were answered so (`findings.outcome_of`)."""
        if outcome is Outcome.SUCCESS:
            return parse_severity(self.accepted_severity)
        if outcome is Outcome.FAILURE:
            return parse_severity(self.refused_severity)
        return rule.severity


def answers(sightings: Iterable[Sighting]) -> dict[tuple[str, int | None], Outcome | None]:
    """The answer to each authentication attempt of `sightings` (a user name and its password
    are one attempt), by (connection uid, attempt number)."""
    return {(s.presentation.obs.flow.uid, getattr(s.presentation.obs, "attempt", None)): s.outcome
            for s in sightings}


def answer_phrase(sightings: Sequence[Sighting]) -> str:
    """` Accepted 2 of 3 time(s).`, ` Refused every time (3): ...`, ` The answer was not seen.`,
    or `` when no presentation asks for an answer."""
    every = list(answers(sightings).values())
    answered = [o for o in every if o is not None]
    accepted, refused = answered.count(Outcome.SUCCESS), answered.count(Outcome.FAILURE)
    if accepted:
        return f" Accepted {accepted} of {len(answered)} time(s)."
    if refused == len(every) and refused:
        return f" Refused every time ({refused}): the service fails closed, but the device still tries."
    if refused:
        return f" Refused {refused} of {len(every)} time(s); the other answers were not seen."
    return " The answer was not seen." if answered else ""


@dataclass(frozen=True, slots=True)
class GoneParams(AnswerSeverities):
    """Rule parameters of detections about gone devices: which statuses count as gone, and the
    severities by answer."""

    statuses: tuple[str, ...] = GONE

    def __post_init__(self) -> None:
        AnswerSeverities.__post_init__(self)
        check_statuses(self.statuses)
