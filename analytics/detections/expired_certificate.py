"""`expired-certificate`: a client certificate presented after its notAfter or before its
notBefore, judged at packet time (a capture from last year is judged as of last year)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ..correlate import Sighting
from ..findings import Finding, device_refs, finding
from ..rules import Rule
from .base import Context, client_cert, day, group, list_devices, out_of_validity

RULE_ID = "expired-certificate"


@dataclass(frozen=True, slots=True)
class Params:
    """No thresholds yet."""


def _out_of_validity(s: Sighting) -> str | None:
    cert = client_cert(s)
    return out_of_validity(cert, s.ts) if cert is not None else None


def detect(ctx: Context, rule: Rule) -> Iterator[Finding]:
    """One finding per certificate used outside its validity."""
    groups = group(ctx.sightings, lambda s: s.presentation.identity.key if _out_of_validity(s) else None)
    for subject, sightings in groups.items():
        state = _out_of_validity(sightings[0])
        identity = sightings[0].presentation.identity
        message = (f"The {identity.describe()} {state} but was presented "
                   f"{len(sightings)} time(s) up to {day(sightings[-1].ts)} by "
                   f"{list_devices(device_refs(sightings))}.")
        yield finding(rule, subject, sightings, message, identity)
