"""`remote-access-unapproved`: a remote-access session the inventory or the windows do not
approve; one finding per device and vendor per run, however many sessions (the ledger,
`analytics.remote_access`, lists each one, internal administration included).

A session an on-site vendor gateway relays is that vendor's and is called out by name ("Siemens
Healthineers gateway GW-01 -> CT-02 as user 'x'"); one whose user name belongs to another
vendor's service staff than the device approves is raised to `foreign_account_severity`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from ..findings import Finding, device_refs, finding
from ..remote_access import LedgerEntry, ledger, tool_name
from ..rules import Rule, Severity
from .base import Context, moment

RULE_ID = "remote-access-unapproved"


@dataclass(frozen=True, slots=True)
class Params:
    """The approvals are the inventory's and the windows file's; how much worse another vendor's account is."""

    foreign_account_severity: str = "critical"
    """Severity of a finding with a session whose user name is another vendor's service account."""

    def __post_init__(self) -> None:
        Severity(self.foreign_account_severity)


def detect(ctx: Context, rule: Rule) -> Iterator[Finding]:
    """One finding per (device, vendor or product) with an unapproved session."""
    raised = Severity(rule.params_as(Params).foreign_account_severity)
    groups: dict[str, list[LedgerEntry]] = {}
    for e in ledger(ctx.sightings, ctx.windows, ctx.roles):
        if not e.approved:
            groups.setdefault(f"{e.sighting.device_key}:{(e.vendor or e.session.product).casefold()}", []).append(e)
    for subject, entries in groups.items():
        first, sightings = entries[0], [e.sighting for e in entries]
        s = first.session
        remote = s.flow.orig if s.direction == "inbound" else s.flow.resp
        far = f"{s.remote_name} ({remote.ip})" if s.remote_name else remote.ip
        users = sorted({e.session.user for e in entries if e.session.user})
        user = f" as user {', '.join(repr(u) for u in users)}" if users else ""
        seconds = sum(e.session.duration for e in entries)
        device = device_refs(sightings)[0].label
        if first.relay is not None:
            what = f"{first.relay.describe()} -> {device} over {s.protocol.value.upper()}{user}"
        else:
            how = "reached from" if s.direction == "inbound" else "called out to"
            what = f"{device} {how} {far} with {tool_name(s)}{user}"
        message = (f"{what}: {len(entries)} session(s) from {moment(s.start)}, {seconds:.0f} s in all; "
                   f"{first.reason}.")
        found = finding(rule, f"remote-access:{subject}", sightings, message, first.sighting.presentation.identity)
        foreign = next((e.foreign_account for e in entries if e.foreign_account), "")
        yield replace(found, severity=raised) if foreign and raised.rank > found.severity.rank else found
