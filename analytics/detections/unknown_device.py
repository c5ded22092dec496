"""`unknown-device`: an endpoint the inventory does not know authenticates.

It presents a credential or a client certificate. Presenting a server certificate is not
enough: every server on the internet does that. Remote-access sessions to unknown devices
are `remote-access-unapproved`'s (no inventory line approves them).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ..findings import Finding, device_refs, finding
from ..identities import IdentityKind
from ..rules import Rule
from .base import Context, group

RULE_ID = "unknown-device"
NOT_AUTHENTICATING = frozenset({IdentityKind.SERVER_CERT, IdentityKind.REMOTE_ACCESS})


@dataclass(frozen=True, slots=True)
class Params:
    """No thresholds yet."""


def detect(ctx: Context, rule: Rule) -> Iterator[Finding]:
    """One finding per unknown device (by MAC, or by IP behind a router)."""
    groups = group(ctx.sightings, lambda s: s.device_key if s.asset is None
                   and s.presentation.identity.kind not in NOT_AUTHENTICATING else None)
    for key, sightings in groups.items():
        identities = list(dict.fromkeys(s.presentation.identity for s in sightings))
        shown = [i.describe() for i in identities[:3]]
        more = f" and {len(identities) - 3} more" if len(identities) > 3 else ""
        protocols = ", ".join(dict.fromkeys(str(s.presentation.obs.protocol).upper() for s in sightings))
        device = device_refs(sightings)[0].label.removeprefix("unknown ")
        message = (f"Device {device} is not in the inventory but authenticates over {protocols}: "
                   f"{'; '.join(shown)}{more}.")
        yield finding(rule, f"device:{key}", sightings, message, identities[0])
