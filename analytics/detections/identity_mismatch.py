"""`identity-mismatch`: a known device presents a certificate or AE title the inventory
registers to another device. The finding's devices are the presenter and the registered owners.

When that other device is retired or decommissioned, `credential-outlives-device` reports it
instead, so one copied certificate gives one alert.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ..correlate import Sighting
from ..findings import Finding, device_refs, finding, owner_refs
from ..identities import CERT_KINDS, IdentityKind
from ..inventory import Status
from ..rules import Rule
from .base import GONE, Context, check_statuses, group, registered_to

RULE_ID = "identity-mismatch"
KINDS = CERT_KINDS | {IdentityKind.AE_TITLE}


@dataclass(frozen=True, slots=True)
class Params:
    """Owners with these statuses are left to `credential-outlives-device`."""

    gone_statuses: tuple[str, ...] = GONE

    def __post_init__(self) -> None:
        check_statuses(self.gone_statuses)


def detect(ctx: Context, rule: Rule) -> Iterator[Finding]:
    """One finding per (presenting device, identity)."""
    gone = check_statuses(rule.params_as(Params).gone_statuses)
    groups = group(ctx.sightings, lambda s: f"{s.device_key}|{s.presentation.identity.key}"
                   if _mismatch(ctx, s, gone) else None)
    for subject, sightings in groups.items():
        s = sightings[0]
        assert s.asset is not None
        identity = s.presentation.identity
        owners = registered_to(ctx.inventory, identity)
        message = (f"{s.asset.label} presented the {identity.describe()}, which the inventory "
                   f"registers to {', '.join(a.label for a in owners)}.")
        yield finding(rule, subject, sightings, message, identity,
                      devices=device_refs(sightings) + owner_refs(owners))


def _mismatch(ctx: Context, s: Sighting, gone: frozenset[Status]) -> bool:
    if s.asset is None or s.presentation.identity.kind not in KINDS:
        return False
    owners = registered_to(ctx.inventory, s.presentation.identity)
    return bool(owners) and s.asset.asset_id not in {a.asset_id for a in owners} and not any(
        a.status in gone for a in owners)
