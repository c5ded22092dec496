"""Audit-to-audit memory: one stored alert per subject, and where it stands.

An audit's findings are merged into the state's `alerts` by dedup key (rule and subject): one
alert per subject, with its first and last sighting (packet times), its count, the runs it
appeared in (`alert_runs`, with each run's own document) and a status:

* `new`: first raised (and not seen again since);
* `open`: seen again by a later audit, in other data;
* `resolved`: a later complete audit of the same segment did not find it;
* `acknowledged`: an analyst took it on (`trustwatch alerts ack ID --note ... --by ...`); it stays
  so while it is seen, until `trustwatch alerts reopen` or its resolution;
* `suppressed`: an approved exception in force covers it (it leaves that state when the exception
  expires, and is resolved like any other when it is no longer seen).

**Segment.** The segment of a run is the set of site networks it judged by (`SiteScope`:
`--site-networks`, a site file's `networks:`, or by default the private blocks of the
inventory's addresses), written as the sorted CIDRs. An alert belongs to the segment of the run
that raised it. It is resolved by a later run that (1) is an audit (a monitor's window sees only
a while of traffic: it raises and reopens, never resolves), (2) judged the same segment, (3)
read all its input (no capture or observation line it could not read), (4) covers packet times
up to or after the alert's last sighting (re-reading older captures never resolves a newer
alert), and (5) did not find it. To audit one ward's capture without resolving the others'
alerts, give that ward's networks (`--site-networks`): it is a segment of its own.

**Same data.** A run's data is the digest of the observations it read (`data_digest`). An alert
counts each data once: re-auditing the same captures adds a row to the audit log (`runs`, and
`alert_runs` for what it found) and changes nothing else: no status, count, first or last seen
moves, and no sighting is counted twice (`State.seen_data`). A resolved alert found again in
data newer than the audit that resolved it is `open` again.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..sensor.records import Observation
from .alerts import AlertStatus, alert_id, to_alert
from .ecs import iso
from .findings import Finding
from .inventory import normalise_mac
from .rules import RuleSet, Severity
from .scope import SiteScope
from .state import Run, State
from .suppressions import Suppression

ACTIVE = (AlertStatus.NEW, AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED, AlertStatus.SUPPRESSED)
"""Statuses of an alert that is still seen: the ones a later audit may resolve."""


class AlertError(Exception):
    """An analyst's action cannot be done (no such alert, an ambiguous id, a status that does not allow it)."""


@dataclass(frozen=True, slots=True)
class Remembered:
    """What the state remembers of one finding's alert after a run."""

    id: str
    created: float
    """Wall clock of the run that first raised it (ECS `event.created`)."""
    status: AlertStatus


@dataclass(frozen=True, slots=True)
class Diff:
    """A run's findings against the previous audit of its segment."""

    previous: int | None
    """Run id of the previous audit of the segment; None for the first."""
    new: int
    """Found now, not by the previous audit (raised for the first time, or back)."""
    still_open: int
    """Found by both."""
    acknowledged: int
    """Of those still open, acknowledged by an analyst."""
    resolved: int
    """Resolved by this run."""

    def describe(self) -> str:
        """`3 new, 41 still open (2 acknowledged), 4 resolved since audit 7`."""
        ack = f" ({self.acknowledged} acknowledged)" if self.acknowledged else ""
        since = f"since audit {self.previous}" if self.previous is not None else "(the segment's first audit)"
        return f"{self.new} new, {self.still_open} still open{ack}, {self.resolved} resolved {since}"


def segment_of(scope: SiteScope) -> str:
    """A run's segment: its site networks as sorted CIDRs, `10.0.0.0/8,169.254.0.0/16,fe80::/10`."""
    return ",".join(sorted(str(n) for n in scope.networks))


def data_digest(observations: Iterable[Observation]) -> str:
    """The digest of what a run read: kind, packet time, connection and frames of every observation
    (the capture by its file name, so the same files read from elsewhere are the same data)."""
    h = hashlib.sha256()
    for o in observations:
        ev = o.evidence
        h.update(f"{o.action}|{o.ts!r}|{o.flow.uid}|{ev.capture.rsplit('/', 1)[-1]}|{ev.frames}\n".encode())
    return h.hexdigest()


def remember(state: State, run: Run, kept: Sequence[Finding], suppressed: Sequence[tuple[Finding, Suppression]],
             rules: RuleSet, now: float, order: Mapping[str, tuple[int, int]]) -> tuple[dict[str, Remembered], Diff]:
    """Merge a run's findings (kept, and those an exception suppressed) into the stored alerts and
    resolve what it no longer finds; each finding's alert by dedup key, and the diff. `order`: each
    kept finding's summary line and place in it (`pipeline.summary_lines`), kept for the report."""
    db = state.db
    memory: dict[str, Remembered] = {}
    by = {f.dedup_key: s for f, s in suppressed}
    for f in [*kept, *(f for f, _s in suppressed)]:
        memory[f.dedup_key] = _merge(db, run, f, rules, by.get(f.dedup_key), now, order.get(f.dedup_key))
    resolved = _resolve(db, run, {m.id for m in memory.values()})
    return memory, _diff(db, run, [memory[f.dedup_key] for f in kept], resolved)


def _merge(db: sqlite3.Connection, run: Run, f: Finding, rules: RuleSet, exception: Suppression | None,
           now: float, place: tuple[int, int] | None) -> Remembered:
    aid = alert_id(f.dedup_key)
    row = db.execute("SELECT status, created, resolved_by, last_seen FROM alerts WHERE id=?", (aid,)).fetchone()
    data = run.data or f"run:{run.id}"
    seen = db.execute("SELECT 1 FROM alert_runs WHERE alert_id=? AND data=? LIMIT 1", (aid, data)).fetchone()
    new_data = seen is None
    created = now if row is None else float(row[1])
    doc = json.dumps(to_alert(f, rules.get(f.rule_id), created), ensure_ascii=False)
    if row is None:
        status = AlertStatus.SUPPRESSED if exception else AlertStatus.NEW
        db.execute("INSERT INTO alerts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)",
                   (aid, f.dedup_key, f.rule_id, f.severity.rank, run.segment, str(status), f.first_seen,
                    f.last_seen, f.count, created, doc))
    else:
        status = _status(db, AlertStatus(row[0]), row[2], f, new_data, exception is not None)
        db.execute(
            """UPDATE alerts SET status=?, severity_rank=?, segment=coalesce(segment, ?),
               first_seen=min(first_seen, ?), last_seen=max(last_seen, ?),
               resolved_by=CASE WHEN ? = 'resolved' THEN resolved_by END,
               doc=CASE WHEN ? >= last_seen THEN ? ELSE doc END WHERE id=?""",
            (str(status), f.severity.rank, run.segment, f.first_seen, f.last_seen, str(status), f.last_seen, doc,
             aid))
    db.execute("INSERT OR REPLACE INTO alert_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               (aid, run.id, data, f.first_seen, f.last_seen, f.count,
                exception.source if exception else None, doc, *(place or (None, None))))
    db.execute("""UPDATE alerts SET count = (SELECT sum(count) FROM (SELECT count, max(run_id) FROM alert_runs
                  WHERE alert_id=? GROUP BY data)) WHERE id=?""", (aid, aid))
    return Remembered(aid, created, status)


def _status(db: sqlite3.Connection, before: AlertStatus, resolved_by: int | None, f: Finding, new_data: bool,
            suppressed: bool) -> AlertStatus:
    """The status of a stored alert found again by a run."""
    if suppressed:
        return AlertStatus.SUPPRESSED
    if before is AlertStatus.RESOLVED:
        row = db.execute("SELECT first_ts FROM runs WHERE id=?", (resolved_by,)).fetchone()
        back = row is None or row[0] is None or f.last_seen > row[0]
        return AlertStatus.OPEN if back else AlertStatus.RESOLVED
    if before is AlertStatus.SUPPRESSED:  # its exception no longer covers it
        return AlertStatus.OPEN
    if before is AlertStatus.NEW:
        return AlertStatus.OPEN if new_data else AlertStatus.NEW
    return before


def _resolve(db: sqlite3.Connection, run: Run, found: set[str]) -> int:
    """Resolve the segment's still-seen alerts that this run, a complete audit covering their last
    sighting, did not find; how many. Migrated alerts (no segment yet) are judged by any such audit."""
    if run.kind != "audit" or not run.complete or run.last_ts is None:
        return 0
    marks = ",".join("?" * len(ACTIVE))
    rows = db.execute(f"SELECT id FROM alerts WHERE (segment=? OR segment IS NULL) AND status IN ({marks})"
                      " AND last_seen <= ?", (run.segment, *map(str, ACTIVE), run.last_ts)).fetchall()
    gone = [r[0] for r in rows if r[0] not in found]
    db.executemany("UPDATE alerts SET status='resolved', resolved_by=?, segment=coalesce(segment, ?) WHERE id=?",
                   [(run.id, run.segment, a) for a in gone])
    return len(gone)


def _diff(db: sqlite3.Connection, run: Run, found: Sequence[Remembered], resolved: int) -> Diff:
    row = db.execute("SELECT max(id) FROM runs WHERE kind='audit' AND (segment IS ? OR segment IS NULL) AND id < ?",
                     (run.segment, run.id)).fetchone()
    previous = row[0] if row else None
    before = {r[0] for r in db.execute("SELECT alert_id FROM alert_runs WHERE run_id=? AND suppressed_by IS NULL",
                                       (previous,))} if previous is not None else set()
    again = [m for m in found if m.id in before]
    return Diff(previous, len(found) - len(again), len(again),
                sum(m.status is AlertStatus.ACKNOWLEDGED for m in again), resolved)


def find_alert(state: State, ref: str) -> str:
    """The id of the stored alert `ref` names: its id or a unique prefix of it (6 digits at least)."""
    ref = ref.strip().lower()
    if len(ref) < 6:
        raise AlertError(f"alert id {ref!r}: give at least 6 of its digits")
    rows = state.db.execute("SELECT id FROM alerts WHERE id LIKE ? || '%' LIMIT 2", (ref,)).fetchall()
    if not rows:
        raise AlertError(f"no alert {ref!r} in {state.path} (`trustwatch alerts` lists them)")
    if len(rows) > 1:
        raise AlertError(f"alert id {ref!r} is ambiguous: give more of its digits")
    return str(rows[0][0])


def annotate(state: State, ref: str, action: str, note: str, author: str, now: float) -> tuple[str, AlertStatus]:
    """An analyst's `ack` (new or open -> acknowledged) or `reopen` (acknowledged or resolved ->
    open), kept with its time, author and note; the alert's id and new status."""
    aid = find_alert(state, ref)
    before = AlertStatus(state.db.execute("SELECT status FROM alerts WHERE id=?", (aid,)).fetchone()[0])
    allowed, after = {"ack": ((AlertStatus.NEW, AlertStatus.OPEN), AlertStatus.ACKNOWLEDGED),
                      "reopen": ((AlertStatus.ACKNOWLEDGED, AlertStatus.RESOLVED), AlertStatus.OPEN)}[action]
    if before not in allowed:
        raise AlertError(f"alert {aid} is {before}: {action} applies to {' or '.join(map(str, allowed))} alerts")
    state.db.execute("UPDATE alerts SET status=?, resolved_by=NULL WHERE id=?", (str(after), aid))
    state.db.execute("INSERT INTO alert_notes VALUES (?, ?, ?, ?, ?, ?)", (aid, now, author, action, str(after), note))
    return aid, after


def stored_alerts(state: State, rule: str | None = None, min_severity: Severity | None = None,
                  device: str | None = None, since: float | None = None,
                  statuses: Sequence[AlertStatus] | None = None) -> list[dict[str, Any]]:
    """Stored alerts, least recently seen first, as ECS documents of the whole memory: first and last
    sighting and count over every run, `trustwatch.status`, `.audits` (run ids) and `.notes`;
    `device` matches an asset id, MAC (any notation) or IP."""
    sql = "SELECT id, status, first_seen, last_seen, count, doc FROM alerts WHERE 1=1"
    args: list[Any] = []
    if rule:
        sql += " AND rule_id = ?"
        args.append(rule)
    if min_severity is not None:
        sql += " AND severity_rank >= ?"
        args.append(min_severity.rank)
    if since is not None:
        sql += " AND last_seen >= ?"
        args.append(since)
    if statuses is not None:
        sql += f" AND status IN ({','.join('?' * len(statuses))})"
        args.extend(map(str, statuses))
    docs = []
    for aid, status, first, last, count, text in state.db.execute(sql + " ORDER BY last_seen, id", args).fetchall():
        doc = json.loads(text)
        if device and not _mentions(doc, device):
            continue
        doc["event"].update(start=iso(first), end=iso(last))
        tw = doc["trustwatch"]
        tw.update(count=count, status=status, audits=[r[0] for r in state.db.execute(
            "SELECT run_id FROM alert_runs WHERE alert_id=? ORDER BY run_id", (aid,))])
        tw["notes"] = [{"time": iso(ts), "by": who, "action": action, "status": after, "note": note}
                       for ts, who, action, after, note in state.db.execute(
                           "SELECT ts, author, action, status, note FROM alert_notes WHERE alert_id=? ORDER BY ts",
                           (aid,))]
        docs.append(doc)
    return docs


def _mentions(doc: dict[str, Any], device: str) -> bool:
    mac = normalise_mac(device)
    for d in doc.get("trustwatch", {}).get("devices", []):
        if device == d.get("asset_id") or device in d.get("ip", []) or (mac and mac == d.get("mac")):
            return True
    return False
