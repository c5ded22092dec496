"""`cleartext-credential`: a device sends a secret in clear; one finding per protocol and
device, whatever the number of logins, whose cause (the summary's line) is the secret kind and
the protocol. Challenge responses (Digest, NTLM) and bare user names are not secrets in clear
and are left out by default."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ...sensor.records import SecretKind
from ..correlate import Sighting
from ..findings import Finding, device_refs, finding
from ..identities import IdentityKind
from ..rules import Rule
from .base import Context, group

RULE_ID = "cleartext-credential"


@dataclass(frozen=True, slots=True)
class Params:
    """Which secret kinds count as sent in clear."""

    secret_kinds: tuple[str, ...] = ("password", "token", "api-key", "community", "passcode")

    def __post_init__(self) -> None:
        known = {k.value for k in SecretKind}
        for kind in self.secret_kinds:
            if kind not in known:
                raise ValueError(f"unknown secret kind {kind!r} (expected {', '.join(sorted(known))})")


def _key(s: Sighting, kinds: tuple[str, ...]) -> str | None:
    ident = s.presentation.identity
    if ident.kind is IdentityKind.SECRET and ident.detail in kinds:
        return f"{s.presentation.obs.protocol}:{s.device_key}"
    return None


def detect(ctx: Context, rule: Rule) -> Iterator[Finding]:
    """One finding per (protocol, device)."""
    kinds = rule.params_as(Params).secret_kinds
    for subject, sightings in group(ctx.sightings, lambda s: _key(s, kinds)).items():
        proto = str(sightings[0].presentation.obs.protocol).upper()
        secrets = ", ".join(dict.fromkeys(s.presentation.identity.detail for s in sightings))
        users = sorted({s.presentation.identity.label for s in sightings if s.presentation.identity.label})
        who = f" for user(s) {', '.join(users)}" if users else ""
        message = (f"{device_refs(sightings)[0].label} sent a {secrets} in clear over {proto}{who} "
                   f"({len(sightings)} time(s)).")
        yield finding(rule, subject, sightings, message, sightings[0].presentation.identity,
                      cause=f"{secrets} in clear over {proto}")
