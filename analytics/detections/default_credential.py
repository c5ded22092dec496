"""`default-credential`: a device logs in with a vendor's published default (admin/admin,
the SNMP community "public", a service account printed in a manual or a CVE).

The defaults are public, so the rule lists them in clear (rules/credentials.yaml); they are
fingerprinted with the site key, like the sensor fingerprints what it sees, and compared by
fingerprint. Alerts name the vendor, product, user and source, never the password.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ...sensor.records import CredentialSeen, SecretKind
from ..correlate import Sighting
from ..findings import Finding, device_refs, finding
from ..identities import IdentityKind
from ..rules import Rule
from .base import Context, group, list_devices

RULE_ID = "default-credential"
FIELDS = frozenset({"vendor", "product", "user", "password", "source"})


@dataclass(frozen=True, slots=True)
class Params:
    """The published defaults: vendor, product, user (optional: any), password, source."""

    defaults: tuple[dict[str, str], ...] = ()

    def __post_init__(self) -> None:
        for n, entry in enumerate(self.defaults, 1):
            if not {"vendor", "product", "password", "source"} <= set(entry) or not set(entry) <= FIELDS:
                raise ValueError(f"default #{n}: needs vendor, product, password, source (and may name a user)")


def detect(ctx: Context, rule: Rule) -> Iterator[Finding]:
    """One finding per default credential in use, listing the devices that use it."""
    by_fingerprint: dict[str, list[dict[str, str]]] = {}
    for published in rule.params_as(Params).defaults:
        fp = ctx.secrets.fingerprint(SecretKind.PASSWORD, published["password"]).value
        by_fingerprint.setdefault(fp, []).append(published)

    def match(s: Sighting) -> dict[str, str] | None:
        identity, obs = s.presentation.identity, s.presentation.obs
        if identity.kind is not IdentityKind.SECRET or not isinstance(obs, CredentialSeen):
            return None
        user = (obs.username or "").casefold()
        return next((e for e in by_fingerprint.get(identity.value, ())
                     if "user" not in e or e["user"].casefold() == user), None)

    groups = group(ctx.sightings, lambda s: s.presentation.identity.key if match(s) else None)
    for subject, sightings in groups.items():
        entry = match(sightings[0])
        assert entry is not None
        user = f"user {entry['user']!r}" if "user" in entry else "no user"
        protocols = sorted({str(s.presentation.obs.protocol) for s in sightings})
        message = (f"The published default credential of {entry['vendor']} {entry['product']} ({user}; "
                   f"{entry['source']}) is in use over {', '.join(protocols)} by "
                   f"{list_devices(device_refs(sightings))}.")
        yield finding(rule, subject, sightings, message, sightings[0].presentation.identity)
