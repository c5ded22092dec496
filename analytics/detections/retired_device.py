"""`retired-device-authenticates`: a retired or decommissioned device still presents a
credential or certificate (its own or anyone's). Remote-access sessions to it are
`remote-access-unapproved`'s.

Relies on the answer (DESIGN.md, roles): accepted is `accepted_severity` (the device still gets
in), refused every time `refused_severity` (the service fails closed, yet the device is on the
network and trying); an answer not seen keeps the rule's severity."""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding, finding, outcome_of
from ..identities import IdentityKind
from ..rules import Rule
from .base import Context, GoneParams, answer_phrase, check_statuses, group, moment, status_phrase

RULE_ID = "retired-device-authenticates"


Params = GoneParams


def detect(ctx: Context, rule: Rule) -> Iterator[Finding]:
    """One finding per gone device that authenticated in this run."""
    p = rule.params_as(Params)
    gone = check_statuses(p.statuses)
    groups = group(ctx.sightings, lambda s: s.device_key if s.asset and s.asset.status in gone
                   and s.presentation.identity.kind is not IdentityKind.REMOTE_ACCESS else None)
    for key, sightings in groups.items():
        asset = sightings[0].asset
        assert asset is not None
        identities = list(dict.fromkeys(s.presentation.identity for s in sightings))
        what = "; ".join(i.describe() for i in identities[:3])
        message = (f"{asset.label} is {status_phrase(asset)} but authenticated {len(sightings)} time(s) "
                   f"from {moment(sightings[0].ts)} to {moment(sightings[-1].ts)}: {what}."
                   f"{answer_phrase(sightings)}")
        yield finding(rule, key, sightings, message, identities[0], severity=p.severity(rule, outcome_of(sightings)))
