"""`unrotated-credential`: a secret or client certificate in use longer than the site's policy
for its kind.

How long: a certificate since its notBefore (known on any audit); a secret (password, API key,
token, SNMP community, DICOM passcode...) since the first audit that saw it (the state's first
seen over all runs, a lower bound: it may be older). The first audit of a site cannot know how
long its secrets were in use before it: nothing is guessed (the summary says so), they are
judged from a later audit. A certificate outside its validity at packet time is
`expired-certificate`'s, not this rule's; a secret the other side refused is not one in use
(a mistyped password, a guess), though an accepted or unanswered one is.

The policy: `max_age_days` per kind (`certificate`, or the secret kind), tightened or relaxed per
device class (the inventory's clinical function: `device_classes: {infusion: {certificate: 1095}}`)
or department (`departments: {ICU: {password: 180}}`); the device class wins over the department,
which wins over the kind's default; several devices present it: the strictest of theirs. Kinds
without a policy are not judged. Relies on the state's history, the inventory and the answer.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from ...sensor.records import Outcome, SecretKind
from ..correlate import Sighting
from ..findings import Finding, device_refs, finding
from ..identities import IdentityKind
from ..inventory import Asset
from ..rules import Rule
from .base import Context, client_cert, day, group, list_devices, out_of_validity, validity_time

RULE_ID = "unrotated-credential"
CERTIFICATE = "certificate"
DAY = 86400.0
DEFAULT_AGES = {"password": 365, "api-key": 365, "token": 365, "community": 365, "passcode": 365, CERTIFICATE: 1825}


def _check(ages: Mapping[str, int], where: str) -> None:
    known = {k.value for k in SecretKind} | {CERTIFICATE}
    for kind, days in ages.items():
        if kind not in known:
            raise ValueError(f"{where}: unknown kind {kind!r} (expected {', '.join(sorted(known))})")
        if days < 1:
            raise ValueError(f"{where}: {kind}: at least 1 day")


@dataclass(frozen=True, slots=True)
class Params:
    """The longest use, in days, per kind; per device class and per department."""

    max_age_days: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_AGES))
    device_classes: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    """Clinical function (casefolded) -> kind -> days."""
    departments: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    """Department (casefolded) -> kind -> days."""

    def __post_init__(self) -> None:
        _check(self.max_age_days, "max_age_days")
        for name, table in (("device_classes", self.device_classes), ("departments", self.departments)):
            for key, ages in table.items():
                _check(ages, f"{name}: {key}")

    def policy(self, kind: str, asset: Asset | None) -> tuple[int, str] | None:
        """(days, whose policy) for `kind` on `asset`; None when the kind is not judged."""
        if asset is not None:
            for table, value, what in ((self.device_classes, asset.clinical_function, "of {} devices"),
                                       (self.departments, asset.department, "in {}")):
                ages = {k.casefold(): v for k, v in table.items()}.get(value.casefold(), {})
                if kind in ages:
                    return ages[kind], what.format(value)
        return (self.max_age_days[kind], "") if kind in self.max_age_days else None


def _kind(s: Sighting) -> str | None:
    """The policy kind of a sighting: `certificate` (a client certificate within its validity),
    the secret kind, or None (not judged: refused, or no kind)."""
    if s.outcome is Outcome.FAILURE:
        return None
    ident = s.presentation.identity
    if ident.kind is IdentityKind.SECRET:
        return ident.detail or None
    cert = client_cert(s)
    return CERTIFICATE if cert is not None and out_of_validity(cert, s.ts) is None else None


def detect(ctx: Context, rule: Rule) -> Iterator[Finding]:
    """One finding per credential in use past its policy."""
    p = rule.params_as(Params)
    groups = group(ctx.sightings, lambda s: s.presentation.identity.key
                   if (kind := _kind(s)) is not None and p.policy(kind, s.asset) else None)
    for subject, sightings in groups.items():
        kind = _kind(sightings[0])
        assert kind is not None
        days, whose = min(policy for s in sightings if (policy := p.policy(kind, s.asset)) is not None)
        since, how = _in_use_since(ctx, sightings, kind)
        last = max(s.ts for s in sightings)
        if since is None or last - since <= days * DAY:
            continue
        identity = sightings[0].presentation.identity
        age = (last - since) / DAY
        span = f"{age / 365.25:.1f} years" if age >= 730 else f"{age:.0f} days"
        noun = "certificates" if kind == CERTIFICATE else f"{kind}s"
        message = (f"The {identity.describe()} has been in use for {span}: since {day(since)} ({how}), still "
                   f"presented on {day(last)} by {list_devices(device_refs(sightings))}; the policy for {noun}"
                   f"{' ' + whose if whose else ''} is {days} days.")
        yield finding(rule, subject, sightings, message, identity, cause=f"{noun} not rotated")


def _in_use_since(ctx: Context, sightings: Sequence[Sighting], kind: str) -> tuple[float | None, str]:
    """When it came into use, and how that is known."""
    if kind == CERTIFICATE:
        cert = client_cert(sightings[0])
        nb = validity_time(cert.not_before) if cert is not None else None
        return (nb.timestamp() if nb else None), "its notBefore"
    first = ctx.first_seen(sightings[0].presentation.identity)
    seen = min(s.ts for s in sightings)
    return (min(first, seen) if first is not None else seen), "the first audit that saw it; it may be older"
