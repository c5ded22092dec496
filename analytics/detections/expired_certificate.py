"""`expired-certificate`: a client certificate presented after its notAfter or before its
notBefore, judged at packet time (a capture from last year is judged as of last year)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ..correlate import Sighting
from ..findings import Finding, device_refs, finding
from ..rules import Rule
from .base import Context, client_cert, day, group, list_devices, validity_time

RULE_ID = "expired-certificate"


@dataclass(frozen=True, slots=True)
class Params:
    """No thresholds yet."""


def _out_of_validity(s: Sighting) -> bool:
    cert = client_cert(s)
    if cert is None:
        return False
    nb, na = validity_time(cert.not_before), validity_time(cert.not_after)
    return bool((na and s.ts > na.timestamp()) or (nb and s.ts < nb.timestamp()))


def detect(ctx: Context, rule: Rule) -> Iterator[Finding]:
    """One finding per certificate used outside its validity."""
    groups = group(ctx.sightings, lambda s: s.presentation.identity.key if _out_of_validity(s) else None)
    for subject, sightings in groups.items():
        cert = client_cert(sightings[0])
        assert cert is not None
        identity = sightings[0].presentation.identity
        na = validity_time(cert.not_after)
        if na and sightings[0].ts > na.timestamp():
            state = f"expired on {na.date().isoformat()}"
        else:
            state = f"is not valid before {cert.not_before}"
        message = (f"The {identity.describe()} {state} but was presented "
                   f"{len(sightings)} time(s) up to {day(sightings[-1].ts)} by "
                   f"{list_devices(device_refs(sightings))}.")
        yield finding(rule, subject, sightings, message, identity)
