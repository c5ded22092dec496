"""`default-credential-attempt`: a published default tried but never accepted: refused, left
unanswered, or sent where no answer comes (an SNMP trap). Low: the device asked said no or said
nothing, but a host keeps presenting a default that some device might still accept.

One finding per source, however many attempts and targets (a scan, or a misconfigured poller:
the site's roles say which, `analytics.roles`), with the frames of the attempts and of the
refusals as evidence. The published defaults are `default-credential`'s (the same list: a YAML
anchor in rules/credentials.yaml); an accepted one is `default-credential`'s finding.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from ...sensor.records import CredentialSeen, Outcome, Proto
from ..correlate import Sighting
from ..findings import Finding, device_refs, finding
from ..ownership import SNMP_NOTIFICATIONS, snmp_pdu
from ..rules import Rule
from . import default_credential
from .base import Context, group, list_devices

RULE_ID = "default-credential-attempt"
Params = default_credential.Params
SCAN_TARGETS = 2
"""Targets from which one source's attempts read as a scan."""


def _tried(s: Sighting, accepting: set[tuple[str, str]]) -> bool:
    """An attempt (not an answer) that was refused, or that nobody was seen to accept at a device
    not seen to accept it either (a retry that timed out, on an agent that answered the others,
    is no attempt)."""
    if s.place.reply or default_credential.acceptor(s) is not None:
        return False
    target = s.peer.device_key if s.peer else ""
    return s.outcome is Outcome.FAILURE or (target, s.presentation.identity.value) not in accepting


def _why(s: Sighting) -> str:
    """Why this attempt is not an accepted one: `refused (authorizationError)`, `unanswered`..."""
    if s.outcome is Outcome.FAILURE:
        code = s.answer.reason_code if s.answer else None
        return f"refused ({code})" if code else "refused"
    if s.outcome is Outcome.UNKNOWN:
        return "unanswered"
    obs = s.presentation.obs
    if obs.protocol is Proto.SNMP and isinstance(obs, CredentialSeen) and snmp_pdu(obs) in SNMP_NOTIFICATIONS:
        return "sent in a notification, which asks no answer" if snmp_pdu(obs) != "inform-request" else "unanswered"
    return "with no answer reported"


def detect(ctx: Context, rule: Rule) -> Iterator[Finding]:
    """One finding per source of unaccepted attempts."""
    match = default_credential.matcher(ctx, rule.params_as(Params))
    accepting = {(a.device_key, s.presentation.identity.value) for s in ctx.sightings
                 if match(s) and (a := default_credential.acceptor(s)) is not None}
    groups = group(ctx.sightings, lambda s: f"source:{s.device_key}" if match(s) and _tried(s, accepting) else None)
    for subject, sightings in groups.items():
        entries = dict.fromkeys(default_credential.describe(e) for s in sightings if (e := match(s)))
        source = device_refs(sightings)[0]
        targets = device_refs(s.peer for s in sightings if s.peer is not None)
        role = ctx.roles.of(sightings[0].device_key)
        who = f" ({role.describe()}: {role.basis})" if role else " (a scan)" if len(targets) >= SCAN_TARGETS else ""
        why = Counter(_why(s) for s in sightings)
        message = (f"{source.label}{who} tried the published default credential of {'; '.join(entries)} "
                   f"{len(sightings)} time(s) against {len(targets)} device(s): {list_devices(targets)}; never "
                   f"accepted ({', '.join(f'{n} {reason}' for reason, n in why.items())}).")
        yield finding(rule, subject, sightings, message, sightings[0].presentation.identity, devices=(source,),
                      cause="published default tried, never accepted")
