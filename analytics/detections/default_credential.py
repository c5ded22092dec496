"""`default-credential`: a vendor's published default (admin/admin, the SNMP community "public",
a service account printed in a manual or a CVE) that was *accepted*: the login succeeded, or the
SNMP agent answered with it (`Sighting.outcome`, `analytics.ownership`).

The defaults are public, so the rule lists them in clear (rules/credentials.yaml); they are
fingerprinted with the site key, like the sensor fingerprints what it sees, and compared by
fingerprint. One finding per default, naming the devices that accepted it (`acceptor`: the
server of the login, the agent) and those that presented it; alerts name the vendor, product,
user and source, never the password. A default tried but not accepted (refused, unanswered, or
sent where no answer comes, as in a trap) is `default-credential-attempt`'s, at low severity.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ...sensor.records import CredentialSeen, Outcome, SecretKind
from ..correlate import Resolution, Sighting
from ..findings import Finding, Role, device_refs, finding
from ..identities import IdentityKind
from ..ownership import Party
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


Published = dict[str, str]
"""One entry of `Params.defaults`."""


def matcher(ctx: Context, params: Params) -> Callable[[Sighting], Published | None]:
    """The published default a sighting presents, if any (by fingerprint under the site key, and
    user name when the default names one)."""
    by_fingerprint: dict[str, list[Published]] = {}
    for published in params.defaults:
        fp = ctx.secrets.fingerprint(SecretKind.PASSWORD, published["password"]).value
        by_fingerprint.setdefault(fp, []).append(published)

    def match(s: Sighting) -> Published | None:
        identity, obs = s.presentation.identity, s.presentation.obs
        if identity.kind is not IdentityKind.SECRET or not isinstance(obs, CredentialSeen):
            return None
        user = (obs.username or "").casefold()
        return next((e for e in by_fingerprint.get(identity.value, ())
                     if "user" not in e or e["user"].casefold() == user), None)

    return match


def acceptor(s: Sighting) -> Resolution | None:
    """The device that accepted the identity of `s`: the presenter when it is its holder's own
    answer (an SNMP agent's Response), the other end when the attempt was answered with success."""
    if s.place.reply:
        return s if s.party is Party.HOLDER else None
    return s.peer if s.outcome is Outcome.SUCCESS else None


def describe(entry: Published) -> str:
    """`APC Network Management Card (user 'apc'; APC Network Management Card user guide)`."""
    user = f"user {entry['user']!r}" if "user" in entry else "no user"
    return f"{entry['vendor']} {entry['product']} ({user}; {entry['source']})"


def detect(ctx: Context, rule: Rule) -> Iterator[Finding]:
    """One finding per default credential accepted, listing who accepted and who presented it."""
    match = matcher(ctx, rule.params_as(Params))
    groups = group(ctx.sightings, lambda s: s.presentation.identity.key if match(s) and acceptor(s) else None)
    for subject, sightings in groups.items():
        entry = match(sightings[0])
        assert entry is not None
        acceptors = device_refs((a for s in sightings if (a := acceptor(s)) is not None), Role.ACCEPTOR)
        accepting = {d.key for d in acceptors}
        presenters = tuple(d for d in device_refs(s for s in sightings if not s.place.reply)
                           if d.key not in accepting)
        protocols = sorted({str(s.presentation.obs.protocol) for s in sightings})
        by = f", presented by {list_devices(presenters)}" if presenters else ""
        message = (f"The published default credential of {describe(entry)} was accepted over "
                   f"{', '.join(protocols)} by {list_devices(acceptors)}{by}.")
        yield finding(rule, subject, sightings, message, sightings[0].presentation.identity,
                      devices=acceptors + presenters)
