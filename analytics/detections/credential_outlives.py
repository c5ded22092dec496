"""`credential-outlives-device`: a certificate, user name or AE title the inventory registers
to a retired or decommissioned device is presented by some other device. The finding's devices
are the presenters and the gone owners (`registered-owner`). Severity by the answer, as
`retired-device-authenticates`: accepted, refused every time (lower), or not seen."""

from __future__ import annotations

from collections.abc import Iterator

from ..correlate import Sighting
from ..findings import Finding, device_refs, finding, outcome_of, owner_refs
from ..inventory import Status
from ..rules import Rule
from .base import (
    Context,
    GoneParams,
    answer_phrase,
    check_statuses,
    group,
    list_devices,
    registered_to,
    since,
    status_phrase,
)

RULE_ID = "credential-outlives-device"


Params = GoneParams


def detect(ctx: Context, rule: Rule) -> Iterator[Finding]:
    """One finding per outliving identity, listing the devices that use it now."""
    p = rule.params_as(Params)
    gone = check_statuses(p.statuses)
    groups = group(ctx.sightings, lambda s: s.presentation.identity.key if _outlives(ctx, s, gone) else None)
    for subject, sightings in groups.items():
        identity = sightings[0].presentation.identity
        owners = [a for a in registered_to(ctx.inventory, identity) if a.status in gone]
        whose = ", ".join(f"{a.label}, {status_phrase(a)}" for a in owners)
        presenters = device_refs(sightings)
        message = (f"The {identity.describe()} belongs to {whose}, but was presented by "
                   f"{list_devices(presenters)}{since(ctx, identity, sightings[0].ts)}.{answer_phrase(sightings)}")
        yield finding(rule, subject, sightings, message, identity, devices=presenters + owner_refs(owners),
                      severity=p.severity(rule, outcome_of(sightings)))


def _outlives(ctx: Context, s: Sighting, gone: frozenset[Status]) -> bool:
    owners = registered_to(ctx.inventory, s.presentation.identity)
    return any(a.status in gone for a in owners) and (
        s.asset is None or s.asset.asset_id not in {a.asset_id for a in owners})
