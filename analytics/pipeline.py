"""The analytics engine: observations in, findings out; and the readable audit summary.

`load_rules` reads the rules for the detections of `DETECTIONS`; `run_audit` resolves every
presented identity to a device (`correlate`), adds the sightings to the state, runs every
enabled detection with its rule, and applies the exceptions. It knows no detection by name,
so a new detection module needs no change here. What a detection yields is a finding, or a
check the network passed (`PassedCheck`: a server refused what it must refuse), kept apart.

The first audit of a site (no earlier run in the state) cannot know how long a credential has
been in use before it: the summary says so instead of guessing.

Findings are ranked (`rank`): by severity, then within a severity by the number of devices
involved, then by the clinical criticality of the most critical of them (`analytics.criticality`),
then by time; never by rule id. The summary (`render_summary`) shows them so, one line per rule
and cause (`Finding.cause`: 32 devices sending one community in clear are one line), and always
shows the best line of each headline rule (`headline: true` in rules/).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..sensor.records import Observation
from ..sensor.secrets import EPHEMERAL, SecretHasher
from ..sensor.yamlfile import RULES_DIR
from .alerts import to_alert
from .auditlog import keep_inventory, record_facts
from .correlate import Sighting, correlate, router_macs
from .criticality import Criticality, function_criticality, rank_of
from .detections import DETECTIONS
from .detections.base import Context, Detection, moment
from .findings import DeviceRef, Finding, PassedCheck, Role, bounded
from .hostroles import DeclaredRole
from .identities import Identity, IdentityKind
from .inventory import Inventory, SkippedRow
from .memory import Diff, Remembered, data_digest, remember, segment_of
from .profiles import NetworkFacts
from .remote_access import ApprovalWindow, LedgerEntry, ledger, tool_name
from .roles import SiteRoles
from .rules import RuleSet, Severity, read_rules
from .scope import SiteScope
from .state import State
from .suppressions import Suppression, apply_suppressions

MAX_DEVICES_PER_LINE = 5


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
    """Devices on the site networks that the inventory does not know."""
    far_ends: int = 0
    """Unknown endpoints off the site networks (internet servers, clouds): never unknown devices."""
    scope: SiteScope | None = None
    """The site networks the run judged by."""
    criticality: Mapping[str, Criticality] = field(default_factory=dict)
    """Asset id -> clinical criticality (inventory cell, else the rules' mapping), for ranking."""
    inventory_skipped: tuple[SkippedRow, ...] = ()
    """Inventory rows left out for their problems."""
    first_ts: float | None = None
    last_ts: float | None = None
    run_id: int | None = None
    sightings: list[Sighting] = field(default_factory=list)
    """Every presentation resolved to its device (for metrics: devices by status, certificates)."""
    ledger: list[LedgerEntry] = field(default_factory=list)
    """Every remote-access session, approved or not."""
    passed: list[PassedCheck] = field(default_factory=list)
    """Checks the network passed (a server that refused an expired certificate: it fails closed)."""
    history_since: float | None = None
    """The first packet time of the earlier runs in the state; None on a site's first audit."""
    """Checks that held (e.g. servers that refused expired certificates), for the report."""
    started: float = field(default_factory=time.time)
    """Wall clock of the run: `event.created` of the alerts it raises first."""
    memory: dict[str, Remembered] = field(default_factory=dict)
    """Dedup key -> the stored alert (id, first raised, status), when the run kept a state."""
    diff: Diff | None = None
    """The findings against the previous audit of the segment, when the run kept a state."""

    def failing(self, fail_on: Severity | None) -> bool:
        """Whether some finding is at or above `fail_on` (None: never fail)."""
        return fail_on is not None and any(f.severity.rank >= fail_on.rank for f in self.findings)

    def alerts(self, rules: RuleSet) -> list[dict[str, object]]:
        """The unsuppressed findings as ECS alert documents: with their stored id's creation time and
        status when the run kept a state, else created now."""
        docs = []
        for f in self.findings:
            m = self.memory.get(f.dedup_key)
            docs.append(to_alert(f, rules.get(f.rule_id), m.created if m else self.started, m.status if m else None))
        return docs


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
    site: SiteScope | None = None,
    roles: Sequence[DeclaredRole] = (),
    read_errors: Sequence[str] = (),
    kind: str = "audit",
) -> AuditResult:
    """Run every enabled detection over `observations` and record the run in `state` (uncommitted:
    the caller commits once its outputs are written, or abandons the state).

    `site`: the monitored networks (None: derived from the inventory, `SiteScope.of_inventory`);
    `roles`: the hosts the site file names as pollers, jump hosts and vendor gateways.
    `read_errors`: filled while `observations` are read (what the source could not read): a run
    with any is recorded but resolves no alert (`analytics.memory`); so is a monitor's window
    (`kind="monitor"`). Observations are held in memory for the run (the routed-segment guard
    looks at all of them before resolving any); they are handshake facts, a tiny share of a capture.
    """
    started = time.time()
    obs = list(observations)
    scope = site or SiteScope.of_inventory(inventory)
    sightings = correlate(obs, inventory, rules.correlation)
    run_id = history = None
    if state is not None:
        data = data_digest(obs)
        run_id = state.begin_run(source, kind, segment_of(scope), data, keep_inventory(state, inventory))
        history = state.history_since(run_id)
        if not state.seen_data(data, run_id):  # the same data again: its sightings are counted already
            state.record(sightings)

    def first_seen(identity: Identity) -> float | None:
        return state.identity_first_seen(identity) if state is not None else None

    network = NetworkFacts(obs, router_macs(obs, rules.correlation))
    criticality = {a.asset_id: c for a in inventory.assets
                   if (c := a.criticality or function_criticality(rules.clinical_functions, a.clinical_function))}
    site_roles = SiteRoles.recognise(sightings, inventory, roles, rules.roles, rules.vendor_accounts, criticality)
    ctx = Context(sightings, inventory, first_seen, secrets, windows, scope, network, history_since=history,
                  roles=site_roles)
    findings: list[Finding] = []
    passed: list[PassedCheck] = []
    summary: dict[str, int] = {}
    for d in detections:
        rule = rules.get(d.RULE_ID)
        if rule.enabled:
            verdicts = _apart(d.detect(ctx, rule), passed, rules.audit.max_findings_per_rule)
            findings.extend(_note_unusable_rows(f, inventory)
                            for f in bounded(verdicts, rules.audit.max_findings_per_rule))
            summary[rule.id] = 0
    findings.sort(key=lambda f: (*rank(f, criticality), f.subject))
    first_ts = min((o.ts for o in obs), default=None)
    last_ts = max((o.ts for o in obs), default=None)
    clock = last_ts if last_ts is not None else time.time()
    kept, suppressed, expired = apply_suppressions(findings, exceptions, clock)
    for f in kept:
        summary[f.rule_id] += 1
    known = {s.device_key for s in sightings if s.asset is not None}
    unknown = {s.device_key for s in sightings if s.asset is None and scope.contains(s.ip)}
    far = {s.device_key for s in sightings if s.asset is None} - unknown
    result = AuditResult(
        findings=kept, suppressed=suppressed, expired=expired, summary=summary,
        observations=len(obs), presentations=len(sightings),
        devices_known=len(known), devices_unknown=len(unknown), far_ends=len(far),
        first_ts=first_ts, last_ts=last_ts, run_id=run_id, sightings=sightings,
        ledger=ledger(sightings, windows, site_roles), scope=scope, criticality=criticality,
        inventory_skipped=inventory.skipped, passed=passed, history_since=history, started=started,
    )
    if state is not None and run_id is not None:
        state.finish_run(run_id, first_ts, last_ts, len(obs), len(kept), complete=not read_errors)
        run = state.run(run_id)
        assert run is not None
        order = {f.dedup_key: (i, j) for i, line in enumerate(summary_lines(kept, criticality))
                 for j, f in enumerate(line.findings)}
        result.memory, result.diff = remember(state, run, kept, suppressed, rules, started, order)
        record_facts(state, run_id, inventory=inventory, sightings=sightings, ledger=result.ledger, scope=scope,
                     network=network, exceptions=exceptions, suppressed=suppressed, clock=clock,
                     passed=result.passed)
        state.db.execute("UPDATE runs SET summary=? WHERE id=?", (json.dumps(_run_summary(result, inventory)), run_id))
    return result


def _run_summary(result: AuditResult, inventory: Inventory) -> dict[str, object]:
    """What the audit log keeps of a run's summary, for the report's overview and trend."""
    return {"presentations": result.presentations, "devices_known": result.devices_known,
            "devices_unknown": result.devices_unknown, "far_ends": result.far_ends,
            "inventoried": len(inventory.assets), "scope": result.scope.describe() if result.scope else "",
            "rules": result.summary, "suppressed": len(result.suppressed),
            "expired_exceptions": len(result.expired),
            "diff": None if result.diff is None else {
                "previous": result.diff.previous, "new": result.diff.new, "still_open": result.diff.still_open,
                "acknowledged": result.diff.acknowledged, "resolved": result.diff.resolved},
            "inventory_skipped": [r.source for r in result.inventory_skipped]}


def _apart(verdicts: Iterable[Finding | PassedCheck], passed: list[PassedCheck], limit: int) -> Iterator[Finding]:
    """The findings of one rule's `verdicts`, as they come; its passed checks go to `passed`, at
    most `limit` of them (a flood of refusals stays bounded, as the findings do)."""
    kept = 0
    for verdict in verdicts:
        if not isinstance(verdict, PassedCheck):
            yield verdict
        elif kept < limit:
            passed.append(verdict)
            kept += 1


def rank(f: Finding, criticality: Mapping[str, Criticality]) -> tuple[int, int, int, float]:
    """Sort key, best first: severity, devices involved, the most critical device, first seen."""
    return (-f.severity.rank, -f.device_count, -_most_critical(f.devices, criticality), f.first_seen)


def _most_critical(devices: Iterable[DeviceRef], criticality: Mapping[str, Criticality]) -> int:
    return max((rank_of(criticality.get(d.asset_id or "")) for d in devices), default=rank_of(None))


def _note_unusable_rows(f: Finding, inventory: Inventory) -> Finding:
    """`f`, its message saying so when an inventory row skipped for its problems lists the address
    of a device it names (that row might have made the device known)."""
    notes = dict.fromkeys(row.describe() for d in f.devices if d.role is Role.PRESENTER
                          if (row := inventory.unusable_row((*([d.mac] if d.mac else []), *d.ips))))
    return replace(f, message=" ".join([f.message, *(f"Note: {n}." for n in notes)])) if notes else f


@dataclass(frozen=True, slots=True)
class SummaryLine:
    """Findings of one rule and one cause: one line of the summary."""

    findings: tuple[Finding, ...]
    devices: tuple[DeviceRef, ...]
    """Every device the findings list, once each."""
    more_devices: int = 0
    """Devices the findings count beyond those they list (`Finding.more_devices`)."""

    @property
    def device_count(self) -> int:
        """Every device involved."""
        return len(self.devices) + self.more_devices

    @property
    def first(self) -> Finding:
        """The best-ranked finding of the line."""
        return self.findings[0]


def summary_lines(findings: Sequence[Finding], criticality: Mapping[str, Criticality]) -> list[SummaryLine]:
    """`findings` grouped by rule and cause (each finding with no cause alone), best line first."""
    groups: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        groups.setdefault((f.rule_id, f.cause or f"subject:{f.subject}"), []).append(f)
    lines = []
    for group in groups.values():
        group.sort(key=lambda f: (*rank(f, criticality), f.subject))
        devices = {d.key: d for f in group for d in f.devices}
        lines.append(SummaryLine(tuple(group), tuple(devices.values()), sum(f.more_devices for f in group)))

    def line_rank(line: SummaryLine) -> tuple[int, int, int, float, str]:
        f = line.first
        return (-f.severity.rank, -line.device_count, -_most_critical(line.devices, criticality),
                min(x.first_seen for x in line.findings), f.subject)

    return sorted(lines, key=line_rank)


def top_lines(lines: Sequence[SummaryLine], rules: RuleSet, top: int) -> list[SummaryLine]:
    """The best `top` lines, in rank order, with the best line of every headline rule among them.

    A headline line missing from the best `top` takes the place of the worst line whose rule has
    another line shown (else of the worst line of a rule that is not a headline)."""
    chosen = list(lines[:top])
    for rule_id in dict.fromkeys(line.first.rule_id for line in lines):
        if not rules.get(rule_id).headline or any(c.first.rule_id == rule_id for c in chosen):
            continue
        if len(chosen) >= top:
            shown = Counter(c.first.rule_id for c in chosen)
            repeated = [c for c in chosen if shown[c.first.rule_id] > 1]
            others = [c for c in chosen if not rules.get(c.first.rule_id).headline]
            if repeated or others:
                chosen.remove((repeated or others)[-1])
        chosen.append(next(line for line in lines if line.first.rule_id == rule_id))
    return [line for line in lines if line in chosen]


def render_summary(result: AuditResult, rules: RuleSet, top: int = 10) -> str:
    """The text an auditor reads: counts per rule, then the top findings with their devices."""
    lines = []
    span = (f", {moment(result.first_ts)} to {moment(result.last_ts)}"
            if result.first_ts is not None and result.last_ts is not None else "")
    lines.append(f"trustwatch: {result.observations} observations, {result.presentations} identity "
                 f"presentations, {result.devices_known + result.devices_unknown} devices on the site "
                 f"({result.devices_known} in the inventory, {result.devices_unknown} unknown), "
                 f"{result.far_ends} far end{'' if result.far_ends == 1 else 's'} off it{span}")
    if result.scope is not None:
        lines.append(f"Site networks: {result.scope.describe()}")
    if result.inventory_skipped:
        rows = ", ".join(r.source for r in result.inventory_skipped[:5])
        more = len(result.inventory_skipped) - 5
        lines.append(f"Inventory rows skipped for their problems: {rows}{f' and {more} more' if more > 0 else ''}")
    if (age := _age_caveat(result)) is not None:
        lines.append(age)
    lines.append("")
    lines.append("Findings per rule:")
    for rule_id, n in sorted(result.summary.items(), key=lambda kv: (-rules.get(kv[0]).severity.rank, kv[0])):
        lines.append(f"  {rules.get(rule_id).severity.value:<9} {rule_id:<30} {n:>4}")
    if result.suppressed:
        lines.append(f"  suppressed by exceptions: {len(result.suppressed)}")
    passed = Counter(c.rule_id for c in result.passed)
    if passed:
        lines.append("Checks passed (a service refused what it must refuse: it fails closed): "
                     + ", ".join(f"{rule_id} {n}" for rule_id, n in sorted(passed.items())))
    if result.diff is not None:
        lines.append(f"Against the previous audit: {result.diff.describe()}")
    for e in result.expired:
        lines.append(f"Expired exception: {e.rule} {e.subject} (approved by {e.approver}, "
                     f"expired {e.expires:%Y-%m-%d %H:%M} UTC; {e.source})")
    grouped = summary_lines(result.findings, result.criticality)
    shown = top_lines(grouped, rules, top)
    if shown:
        lines.append("")
        lines.append(f"Top findings ({len(shown)} of {len(grouped)} lines, {len(result.findings)} findings; "
                     f"one line per rule and cause, ranked by severity, devices, criticality, time):")
    for line in shown:
        f = line.first
        if len(line.findings) == 1:
            lines.append(f"  [{f.severity.value}] {f.rule_id}: {f.message}")
        else:
            lines.append(f"  [{f.severity.value}] {f.rule_id} x{len(line.findings)}: {f.cause}, "
                         f"{line.device_count} devices")
        for d in line.devices[:MAX_DEVICES_PER_LINE]:
            where = ", ".join(x for x in (d.mac or "", *d.ips) if x)
            how = "registered owner" if d.role is Role.REGISTERED_OWNER else f"matched by {d.match}"
            lines.append(f"      - {d.label} [{where}] {how}")
        if line.device_count > MAX_DEVICES_PER_LINE:
            lines.append(f"      - ... {line.device_count - MAX_DEVICES_PER_LINE:,} more devices")
    if not result.findings:
        lines.append("")
        lines.append("No findings.")
    if result.ledger:
        lines.extend(["", *render_ledger(result.ledger, top * 5)])
    return "\n".join(lines) + "\n"


def _age_caveat(result: AuditResult) -> str | None:
    """What a site's first audit says instead of guessing how long its secrets have been in use."""
    secrets = {s.presentation.identity for s in result.sightings
               if s.presentation.identity.kind is IdentityKind.SECRET}
    if result.history_since is not None or not secrets or result.first_ts is None:
        return None
    return (f"Credential ages: first audit of this site (no earlier run in the state), so how long each of the "
            f"{len(secrets)} secret(s) seen was in use before it is unknown; they count as in use since "
            f"{moment(result.first_ts)} and their rotation is judged from a later audit (certificates: by "
            f"their notBefore).")


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
        peer = e.relay.describe() if e.relay else s.remote_name or far.ip
        lines.append(f"  {mark}{moment(s.start)} {s.duration:>7.0f} s  {device} {arrow} {peer}  "
                     f"{tool_name(s)}{user}  "
                     f"[{s.bytes_orig:,} B out, {s.bytes_resp:,} B back]  {e.reason}")
    if len(entries) > limit:
        lines.append(f"  ... {len(entries) - limit} more (--ledger FILE writes them all)")
    return lines
