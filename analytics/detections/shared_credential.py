"""`shared-credential`: one secret, client certificate or DICOM AE title held by several devices.

The identity is the secret's keyed fingerprint (password, token, SNMP community, DICOM
passcode...) or the client certificate's SHA-256. Only its holders count (`analytics.ownership`):
the clients that log in with it, the SNMP agents that answer (or trap) with a community; never
the party that checks it, so a poller and the one agent it polls are one holder, and a host the
site's roles call a poller (`analytics.roles`) is never counted for an SNMP community. Near
misses that stay silent: one device that changes IP (one device key), a server certificate
seen by many clients (server certificates are not counted), one user name with different
secrets (different fingerprints), one client logging in to many servers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ...sensor.records import Proto
from ..correlate import Sighting
from ..findings import Finding, device_refs, finding
from ..hostroles import HostRole
from ..identities import Identity, IdentityKind
from ..ownership import Party
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
        held = [s for s in sightings if _holds(ctx, s)]
        devices = device_refs(held)
        if len(devices) < p.min_devices:
            continue
        first = held[0].presentation.identity
        users = sorted({s.presentation.identity.label for s in held if s.presentation.identity.label})
        label = first.label if first.kind is IdentityKind.CLIENT_CERT else ", ".join(users)
        identity = Identity(first.kind, first.value, label, first.detail)
        verifiers = device_refs(s for s in sightings if not _holds(ctx, s))
        checked = f"; checked by {list_devices(verifiers)}" if verifiers else ""
        message = (f"The same {identity.describe()} is held by {len(devices)} devices: "
                   f"{list_devices(devices)}{checked}{since(ctx, identity, held[0].ts)}.")
        yield finding(rule, subject, held, message, identity)


def _holds(ctx: Context, s: Sighting) -> bool:
    """The presenter holds the identity: not its verifier, nor a poller presenting a community."""
    if s.party is Party.VERIFIER:
        return False
    role = ctx.roles.of(s.device_key)
    return not (s.presentation.obs.protocol is Proto.SNMP and role is not None and role.role is HostRole.POLLER)
