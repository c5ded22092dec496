"""`remote-access-unapproved`: a remote-access session the inventory or the windows do not
approve; one finding per device and vendor per run, however many sessions (the ledger,
`analytics.remote_access`, lists each one)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ..findings import Finding, device_refs, finding
from ..remote_access import LedgerEntry, ledger, tool_name
from ..rules import Rule
from .base import Context, moment

RULE_ID = "remote-access-unapproved"


@dataclass(frozen=True, slots=True)
class Params:
    """No thresholds: the approvals are the inventory's and the windows file's."""


def detect(ctx: Context, rule: Rule) -> Iterator[Finding]:
    """One finding per (device, vendor or product) with an unapproved session."""
    groups: dict[str, list[LedgerEntry]] = {}
    for e in ledger(ctx.sightings, ctx.windows):
        if not e.approved:
            groups.setdefault(f"{e.sighting.device_key}:{e.sighting.presentation.identity.value}", []).append(e)
    for subject, entries in groups.items():
        first, sightings = entries[0], [e.sighting for e in entries]
        s = first.session
        remote = s.flow.orig if s.direction == "inbound" else s.flow.resp
        far = f"{s.remote_name} ({remote.ip})" if s.remote_name else remote.ip
        user = f" as user {s.user!r}" if s.user else ""
        seconds = sum(e.session.duration for e in entries)
        how = "reached from" if s.direction == "inbound" else "called out to"
        message = (f"{device_refs(sightings)[0].label} {how} {far} with {tool_name(s)}{user}: {len(entries)} "
                   f"session(s) from {moment(s.start)}, {seconds:.0f} s in all; {first.reason}.")
        yield finding(rule, f"remote-access:{subject}", sightings, message, first.sighting.presentation.identity)
