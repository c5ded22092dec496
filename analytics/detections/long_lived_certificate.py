"""`long-lived-certificate`: a client certificate valid for more than N years (5 by default):
a device identity nobody will rotate."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from ...sensor.records import X509Cert
from ..findings import Finding, device_refs, finding
from ..rules import Rule
from .base import Context, client_cert, group, list_devices, validity_time

RULE_ID = "long-lived-certificate"


@dataclass(frozen=True, slots=True)
class Params:
    """The longest acceptable validity."""

    max_validity_years: int = 5

    def __post_init__(self) -> None:
        if self.max_validity_years < 1:
            raise ValueError("max_validity_years must be at least 1")


def _add_years(dt: datetime, years: int) -> datetime:
    try:
        return dt.replace(year=dt.year + years)
    except ValueError:  # 29 February in a year without it
        return dt.replace(year=dt.year + years, month=3, day=1)


def too_long(cert: X509Cert, years: int) -> bool:
    """Whether notAfter lies more than `years` calendar years after notBefore."""
    nb, na = validity_time(cert.not_before), validity_time(cert.not_after)
    return bool(nb and na and na > _add_years(nb, years))


def detect(ctx: Context, rule: Rule) -> Iterator[Finding]:
    """One finding per long-lived certificate."""
    years = rule.params_as(Params).max_validity_years
    groups = group(ctx.sightings, lambda s: s.presentation.identity.key
                   if (c := client_cert(s)) and too_long(c, years) else None)
    for subject, sightings in groups.items():
        cert = client_cert(sightings[0])
        assert cert is not None
        nb, na = validity_time(cert.not_before), validity_time(cert.not_after)
        assert nb and na
        span = (na - nb).days / 365.25
        identity = sightings[0].presentation.identity
        message = (f"The {identity.describe()} is valid for {span:.1f} years "
                   f"({nb.date().isoformat()} to {na.date().isoformat()}, more than {years}); "
                   f"presented by {list_devices(device_refs(sightings))}.")
        yield finding(rule, subject, sightings, message, identity)
