"""The analytics engine: observations in, findings out; and the readable audit summary.

`load_rules` reads the rules for the detections of `DETECTIONS`; `run_audit` resolves every
presented identity to a device (`correlate`), adds the sightings to the state, runs every
enabled detection with its rule, and applies the exceptions. It knows no detection by name,
so a new detection module needs no change here.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..sensor.records import Observation
from ..sensor.secrets import EPHEMERAL, SecretHasher
from ..sensor.yamlfile import RULES_DIR
from .correlate import Sighting, correlate
from .detections import DETECTIONS
from .detections.base import Context, Detection, moment
from .findings import Finding
from .identities import Identity
from .inventory import Inventory
from .remote_access import ApprovalWindow, LedgerEntry, ledger, tool_name
from .rules import RuleSet, Severity, read_rules
from .state import State
from .suppressions import Suppression, apply_suppressions


@dataclass
class AuditResult:
    """What one run found."""

    findings: list[Finding]
    """Unsuppressed findings, most severe first."""
    suppressed: list[tuple[Finding, Suppression]] = field(default_factory=list)
    expired: list[Suppression] = field(default_factory=list)
    """Exceptions past their expiry at the run's newest packet time."""
    summary: dict[str, int] = field(default_factory=dict)
    """Rule id -> unsuppressed findings, for every enabled rule (zeros included)."""
    observations: int = 0
    presentations: int = 0
    devices_known: int = 0
    devices_unknown: int = 0
    first_ts: float | None = None
    last_ts: float | None = None
    run_id: int | None = None
    sightings: list[Sighting] = field(default_factory=list)
    """Every presentation resolved to its device (for metrics: devices by status, certificates)."""
    ledger: list[LedgerEntry] = field(default_factory=list)
    """Every remote-access session, approved or not."""

    def failing(self, fail_on: Severity | None) -> bool:
        """Whether some finding is at or above `fail_on` (None: never fail)."""
        return fail_on is not None and any(f.severity.rank >= fail_on.rank for f in self.findings)


def load_rules(rules_dir: str | Path = RULES_DIR, detections: Sequence[Detection] = DETECTIONS) -> RuleSet:
    """The rules of `rules_dir`, checked against `detections` (every registered one by default)."""
    return read_rules(rules_dir, detections)


def run_audit(
    observations: Iterable[Observation],
    inventory: Inventory,
    rules: RuleSet,
    state: State | None = None,
    exceptions: Sequence[Suppression] = (),
    *,
    source: str = "",
    detections: Sequence[Detection] = DETECTIONS,
    secrets: SecretHasher = EPHEMERAL,
    windows: Sequence[ApprovalWindow] | None = None,
) -> AuditResult:
    """Run every enabled detection over `observations` and record the run in `state`.

    Observations are held in memory for the run (the routed-segment guard looks at all of
    them before resolving any); they are handshake facts, a tiny share of a capture.
    """
    obs = list(observations)
    sightings = correlate(obs, inventory, rules.correlation)
    run_id = None
    if state is not None:
        run_id = state.begin_run(source)
        state.record(sightings)

    def first_seen(identity: Identity) -> float | None:
        return state.identity_first_seen(identity) if state is not None else None

    ctx = Context(sightings, inventory, first_seen, secrets, windows)
    findings: list[Finding] = []
    summary: dict[str, int] = {}
    for d in detections:
        rule = rules.get(d.RULE_ID)
        if rule.enabled:
            findings.extend(d.detect(ctx, rule))
            summary[rule.id] = 0
    findings.sort(key=lambda f: (-f.severity.rank, f.rule_id, f.first_seen, f.subject))
    first_ts = min((o.ts for o in obs), default=None)
    last_ts = max((o.ts for o in obs), default=None)
    clock = last_ts if last_ts is not None else time.time()
    kept, suppressed, expired = apply_suppressions(findings, exceptions, clock)
    for f in kept:
        summary[f.rule_id] += 1
    if state is not None and run_id is not None:
        state.store_alerts(run_id, kept)
        state.finish_run(run_id, first_ts, last_ts, len(obs), len(kept))
    devices = {s.device_key: s.asset is not None for s in sightings}
    return AuditResult(
        findings=kept, suppressed=suppressed, expired=expired, summary=summary,
        observations=len(obs), presentations=len(sightings),
        devices_known=sum(devices.values()), devices_unknown=sum(not k for k in devices.values()),
        first_ts=first_ts, last_ts=last_ts, run_id=run_id, sightings=sightings,
        ledger=ledger(sightings, windows),
    )


def render_summary(result: AuditResult, rules: RuleSet, top: int = 10) -> str:
    """The text an auditor reads: counts per rule, then the top findings with their devices."""
    lines = []
    span = (f", {moment(result.first_ts)} to {moment(result.last_ts)}"
            if result.first_ts is not None and result.last_ts is not None else "")
    lines.append(f"trustwatch: {result.observations} observations, {result.presentations} identity "
                 f"presentations, {result.devices_known + result.devices_unknown} devices "
                 f"({result.devices_known} in the inventory, {result.devices_unknown} unknown){span}")
    lines.append("")
    lines.append("Findings per rule:")
    for rule_id, n in sorted(result.summary.items(), key=lambda kv: (-rules.get(kv[0]).severity.rank, kv[0])):
        lines.append(f"  {rules.get(rule_id).severity.value:<9} {rule_id:<30} {n:>4}")
    if result.suppressed:
        lines.append(f"  suppressed by exceptions: {len(result.suppressed)}")
    for e in result.expired:
        lines.append(f"Expired exception: {e.rule} {e.subject} (approved by {e.approver}, "
                     f"expired {e.expires:%Y-%m-%d %H:%M} UTC; {e.source})")
    if result.findings:
        lines.append("")
        lines.append(f"Top findings ({min(top, len(result.findings))} of {len(result.findings)}):")
    for f in result.findings[:top]:
        lines.append(f"  [{f.severity.value}] {f.rule_id}: {f.message}")
        for d in f.devices[:5]:
            where = ", ".join(x for x in (d.mac or "", *d.ips) if x)
            lines.append(f"      - {d.label} [{where}] matched by {d.match}")
        if len(f.devices) > 5:
            lines.append(f"      - ... {len(f.devices) - 5} more devices")
    if not result.findings:
        lines.append("")
        lines.append("No findings.")
    if result.ledger:
        lines.extend(["", *render_ledger(result.ledger, top * 5)])
    return "\n".join(lines) + "\n"


def render_ledger(entries: Sequence[LedgerEntry], limit: int) -> list[str]:
    """The remote-access ledger's lines: one per session, unapproved ones marked."""
    if not entries:
        return []
    unapproved = sum(not e.approved for e in entries)
    lines = [f"Remote-access sessions ({len(entries)}, {unapproved} unapproved):"]
    for e in entries[:limit]:
        s = e.session
        device = e.sighting.asset.label if e.sighting.asset else f"unknown {e.sighting.ip}"
        far = s.flow.orig if s.direction == "inbound" else s.flow.resp
        arrow = "<-" if s.direction == "inbound" else "->"
        user = f" user {s.user}" if s.user else ""
        mark = "  " if e.approved else "! "
        lines.append(f"  {mark}{moment(s.start)} {s.duration:>7.0f} s  {device} {arrow} {s.remote_name or far.ip}  "
                     f"{tool_name(s)}{user}  "
                     f"[{s.bytes_orig:,} B out, {s.bytes_resp:,} B back]  {e.reason}")
    if len(entries) > limit:
        lines.append(f"  ... {len(entries) - limit} more (--ledger FILE writes them all)")
    return lines
