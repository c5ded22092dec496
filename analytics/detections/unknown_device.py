"""`unknown-device`: a device on a site network that the inventory does not know presents an
identity: a certificate (client or server), a credential, a remote-access session or a DICOM
AE title.

Scope (`analytics.site`): only devices with an address on the monitored site networks count;
an internet server or a vendor's cloud is a far end, never an unknown device, whatever it
presents. Each finding describes the device as the network shows it (`analytics.profiles`:
DHCP host name, vendor class and parameter list, the MAC's registered manufacturer, first and
last seen), and says so when an inventory row lists its address but was unusable. Severity by
the answer: accepted is `accepted_severity` (a stranger got in), refused every time
`refused_severity` (it tries, the services fail closed), not seen the rule's severity.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from ..correlate import Sighting
from ..findings import Finding, device_refs, finding, outcome_of
from ..rules import Rule
from .base import AnswerSeverities, Context, answer_phrase, group

RULE_ID = "unknown-device"
MAX_IDENTITIES_IN_MESSAGE = 3


@dataclass(frozen=True, slots=True)
class Params(AnswerSeverities):
    """The severities by answer (the rule's own when it was not seen)."""

    refused_severity: str = "low"


def detect(ctx: Context, rule: Rule) -> Iterator[Finding]:
    """One finding per unknown device on the site (by MAC, or by IP behind a router)."""
    p = rule.params_as(Params)
    groups = group(ctx.sightings, lambda s: s.device_key if _unknown_here(ctx, s) else None)
    for key, sightings in groups.items():
        identities = list(dict.fromkeys(s.presentation.identity for s in sightings))
        shown = [i.describe() for i in identities[:MAX_IDENTITIES_IN_MESSAGE]]
        more = len(identities) - len(shown)
        protocols = ", ".join(dict.fromkeys(str(s.presentation.obs.protocol).upper() for s in sightings))
        ref = device_refs(sightings)[0]
        profile = ctx.network.profile(ref.mac, ref.ips, (s.ts for s in sightings))
        said = profile.describe()
        message = (f"Device {ref.label.removeprefix('unknown ')} is not in the inventory but presents over "
                   f"{protocols}: {'; '.join(shown)}{f' and {more} more' if more else ''}."
                   f"{f' The network says: {said}.' if said else ''}{answer_phrase(sightings)}")
        yield finding(rule, f"device:{key}", sightings, message, identities[0],
                      devices=(replace(ref, profile=profile),), severity=p.severity(rule, outcome_of(sightings)))


def _unknown_here(ctx: Context, s: Sighting) -> bool:
    return s.asset is None and ctx.scope.contains(s.ip)
