"""`shared-credential`: one secret, client certificate or DICOM AE title presented by several devices.

The identity is the secret's keyed fingerprint (password, token, SNMP community, DICOM
passcode...) or the client certificate's SHA-256. Near misses that stay silent: one device
that changes IP (one device key), a server certificate seen by many clients (server
certificates are not counted), one user name with different secrets (different fingerprints).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ..findings import Finding, device_refs, finding
from ..identities import Identity, IdentityKind
from ..rules import Rule
from .base import Context, group, list_devices, since

RULE_ID = "shared-credential"
KINDS = frozenset({IdentityKind.SECRET, IdentityKind.CLIENT_CERT, IdentityKind.AE_TITLE})


@dataclass(frozen=True, slots=True)
class Params:
    """Thresholds of the rule."""

    min_devices: int = 2
    """Distinct devices presenting the same identity before it counts as shared."""

    def __post_init__(self) -> None:
        if self.min_devices < 2:
            raise ValueError("min_devices must be at least 2")


def detect(ctx: Context, rule: Rule) -> Iterator[Finding]:
    """One finding per shared identity, listing every device that presented it."""
    p = rule.params_as(Params)
    groups = group(ctx.sightings,
                   lambda s: s.presentation.identity.key if s.presentation.identity.kind in KINDS else None)
    for subject, sightings in groups.items():
        devices = device_refs(sightings)
        if len(devices) < p.min_devices:
            continue
        first = sightings[0].presentation.identity
        users = sorted({s.presentation.identity.label for s in sightings if s.presentation.identity.label})
        label = first.label if first.kind is IdentityKind.CLIENT_CERT else ", ".join(users)
        identity = Identity(first.kind, first.value, label, first.detail)
        message = (f"The same {identity.describe()} was presented by {len(devices)} devices: "
                   f"{list_devices(devices)}{since(ctx, identity, sightings[0].ts)}.")
        yield finding(rule, subject, sightings, message, identity)
