"""`retired-device-authenticates`: a retired or decommissioned device still presents a
credential or certificate (its own or anyone's). Remote-access sessions to it are
`remote-access-unapproved`'s."""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding, finding
from ..identities import IdentityKind
from ..rules import Rule
from .base import Context, GoneParams, check_statuses, group, moment, status_phrase

RULE_ID = "retired-device-authenticates"


Params = GoneParams


def detect(ctx: Context, rule: Rule) -> Iterator[Finding]:
    """One finding per gone device that authenticated in this run."""
    gone = check_statuses(rule.params_as(Params).statuses)
    groups = group(ctx.sightings, lambda s: s.device_key if s.asset and s.asset.status in gone
                   and s.presentation.identity.kind is not IdentityKind.REMOTE_ACCESS else None)
    for key, sightings in groups.items():
        asset = sightings[0].asset
        assert asset is not None
        identities = list(dict.fromkeys(s.presentation.identity for s in sightings))
        what = "; ".join(i.describe() for i in identities[:3])
        message = (f"{asset.label} is {status_phrase(asset)} but authenticated {len(sightings)} time(s) "
                   f"from {moment(sightings[0].ts)} to {moment(sightings[-1].ts)}: {what}.")
        yield finding(rule, key, sightings, message, identities[0])
