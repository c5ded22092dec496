"""What every detection shares: the run `Context`, the `Detection` contract, grouping helpers.

A detection module declares `RULE_ID` (the contract), a frozen `Params` dataclass (its
thresholds, filled from rules/*.yaml) and `detect(ctx, rule)` yielding Findings. It groups
sightings by a subject and makes one Finding per subject per run with `findings.finding()`, so
deduplication, counts, devices and evidence are built the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from ...sensor.secrets import EPHEMERAL, SecretHasher
from ..correlate import Sighting
from ..findings import DeviceRef, Finding
from ..identities import CERT_KINDS, Identity, IdentityKind
from ..inventory import Asset, Inventory
from ..remote_access import ApprovalWindow
from ..rules import Rule

MAX_DEVICES_IN_MESSAGE = 5


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
