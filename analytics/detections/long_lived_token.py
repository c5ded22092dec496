"""`long-lived-token`: a bearer token (a JWT seen in HTTP, DICOM...) that never expires or
lives longer than the policy allows (a year by default): a stolen copy stays good."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from ...sensor.records import CredentialSeen, TokenClaims
from ..correlate import Sighting
from ..findings import Finding, device_refs, finding
from ..identities import IdentityKind
from ..rules import Rule
from .base import Context, group, list_devices

RULE_ID = "long-lived-token"
DAY = 86400.0


@dataclass(frozen=True, slots=True)
class Params:
    """The longest acceptable token lifetime."""

    max_lifetime_days: int = 365

    def __post_init__(self) -> None:
        if self.max_lifetime_days < 1:
            raise ValueError("max_lifetime_days must be at least 1")


def claims(s: Sighting) -> TokenClaims | None:
    """The token claims behind a secret presentation, if it was a JWT."""
    obs = s.presentation.obs
    if s.presentation.identity.kind is IdentityKind.SECRET and isinstance(obs, CredentialSeen):
        return obs.token
    return None


def lifetime(token: TokenClaims, seen: float) -> float | None:
    """Seconds from issue (or from when it was seen) to expiry; None: it never expires."""
    if token.exp is None:
        return None
    return token.exp - (token.iat if token.iat is not None else seen)


def detect(ctx: Context, rule: Rule) -> Iterator[Finding]:
    """One finding per long-lived token."""
    limit = rule.params_as(Params).max_lifetime_days * DAY

    def too_long(s: Sighting) -> bool:
        token = claims(s)
        if token is None:
            return False
        life = lifetime(token, s.ts)
        return life is None or life > limit

    groups = group(ctx.sightings, lambda s: s.presentation.identity.key if too_long(s) else None)
    for subject, sightings in groups.items():
        token = claims(sightings[0])
        assert token is not None
        life = lifetime(token, sightings[0].ts)
        how = ("never expires (no exp claim)" if life is None or token.exp is None else
               f"lives {life / DAY:,.0f} days (until {datetime.fromtimestamp(token.exp, UTC).date().isoformat()})")
        issuer = f" issued by {token.iss!r}" if token.iss else ""
        who = f" for {token.sub!r}" if token.sub else ""
        message = (f"A bearer token{issuer}{who} {how}; presented by {list_devices(device_refs(sightings))} "
                   f"over {sightings[0].presentation.obs.protocol}.")
        yield finding(rule, subject, sightings, message, sightings[0].presentation.identity)
