"""The analytics state: an SQLite database that accumulates history over runs.

Tables: `runs` (the audit log: one row per run, what it covered); `devices` (by device key, with
first/last seen); `identities` (certificate fingerprints, keyed secret fingerprints, user names,
AE titles; first/last seen); `sightings` (which device presented which identity, how it was
matched, first/last seen, count); the alerts' memory across audits (`alerts`, `alert_runs`,
`alert_notes`: `analytics.memory`); and what each run saw for the report (`run_facts`,
`inventories`: `analytics.auditlog`). Times are packet times, so "credential in use since ..."
is about the network, not about when we ran. Secrets never get here: only their keyed
fingerprints do.

The schema is versioned (`PRAGMA user_version`) and migrated in place when a file of an older
version is opened, in the same transaction as the run that opened it: version 1 kept each run's
alerts as separate rows; version 2 keeps one alert per subject with the runs it appeared in
(`_migrate_1_to_2`).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from .correlate import Sighting
from .ecs import iso, stable_id
from .identities import Identity

SCHEMA_VERSION = 2
_HISTORY = [
    """CREATE TABLE devices (
        key TEXT PRIMARY KEY, asset_id TEXT, mac TEXT, ip TEXT, status TEXT,
        first_seen REAL NOT NULL, last_seen REAL NOT NULL)""",
    """CREATE TABLE identities (
        kind TEXT NOT NULL, value TEXT NOT NULL, label TEXT NOT NULL,
        first_seen REAL NOT NULL, last_seen REAL NOT NULL, PRIMARY KEY (kind, value))""",
    """CREATE TABLE sightings (
        device_key TEXT NOT NULL, kind TEXT NOT NULL, value TEXT NOT NULL,
        method TEXT NOT NULL, match_value TEXT NOT NULL,
        first_seen REAL NOT NULL, last_seen REAL NOT NULL, count INTEGER NOT NULL,
        PRIMARY KEY (device_key, kind, value))""",
]
_RUNS_V1 = """CREATE TABLE runs (
    id INTEGER PRIMARY KEY, started REAL NOT NULL, source TEXT NOT NULL,
    first_ts REAL, last_ts REAL, observations INTEGER, findings INTEGER)"""
_RUNS_V2_COLUMNS = [
    "kind TEXT NOT NULL DEFAULT 'audit'",  # audit, or monitor (a window of a live capture)
    "segment TEXT",  # the site networks the run judged by (analytics.memory)
    "data TEXT",  # digest of the observations read: equal data, equal digest
    "complete INTEGER NOT NULL DEFAULT 1",  # read without input errors
    "cwd TEXT",  # the working directory, against which relative capture paths resolve
    "inventory TEXT REFERENCES inventories(digest)",
    "summary TEXT",  # JSON: device counts, findings per rule, the diff against the previous audit
]
_V2 = [
    """CREATE TABLE alerts (
        id TEXT PRIMARY KEY, dedup_key TEXT NOT NULL UNIQUE, rule_id TEXT NOT NULL,
        severity_rank INTEGER NOT NULL, segment TEXT, status TEXT NOT NULL,
        first_seen REAL NOT NULL, last_seen REAL NOT NULL, count INTEGER NOT NULL,
        created REAL NOT NULL, resolved_by INTEGER REFERENCES runs(id), doc TEXT NOT NULL)""",
    "CREATE INDEX alerts_rule ON alerts (rule_id, last_seen)",
    "CREATE INDEX alerts_segment ON alerts (segment, status)",
    """CREATE TABLE alert_runs (
        alert_id TEXT NOT NULL REFERENCES alerts(id), run_id INTEGER NOT NULL REFERENCES runs(id),
        data TEXT NOT NULL, first_seen REAL NOT NULL, last_seen REAL NOT NULL, count INTEGER NOT NULL,
        suppressed_by TEXT, doc TEXT NOT NULL, line INTEGER, position INTEGER,
        PRIMARY KEY (alert_id, run_id))""",
    "CREATE INDEX alert_runs_run ON alert_runs (run_id)",
    """CREATE TABLE alert_notes (
        alert_id TEXT NOT NULL REFERENCES alerts(id), ts REAL NOT NULL, author TEXT NOT NULL,
        action TEXT NOT NULL, status TEXT NOT NULL, note TEXT NOT NULL)""",
    """CREATE TABLE run_facts (
        run_id INTEGER NOT NULL REFERENCES runs(id), kind TEXT NOT NULL, doc TEXT NOT NULL)""",
    "CREATE INDEX run_facts_run ON run_facts (run_id, kind)",
    "CREATE TABLE inventories (digest TEXT PRIMARY KEY, assets TEXT NOT NULL)",
]


class StateError(Exception):
    """The state database cannot be opened or is not ours."""


DEFAULT_BUSY_TIMEOUT = 600.0
"""Seconds a run waits for another run that holds the state (`--state-timeout`)."""


@dataclass(frozen=True, slots=True)
class Run:
    """One row of the audit log, as the memory and the report use it."""

    id: int
    kind: str
    segment: str | None
    data: str | None
    complete: bool
    first_ts: float | None
    last_ts: float | None


class State:
    """One open state database (`:memory:` for a throw-away run).

    Runs on one database take turns: opened `exclusive`, the state holds SQLite's write lock
    from the start (readers such as `trustwatch alerts` still read), so a second audit waits
    up to `timeout` seconds before it reads anything, then fails with StateError. A run that
    stops half-way (disk full, a crash, Ctrl-C, kill -9) leaves the state as it was before it:
    its writes are one transaction, committed by `commit` (or `close`)."""

    def __init__(self, path: str | Path, timeout: float = DEFAULT_BUSY_TIMEOUT, exclusive: bool = False) -> None:
        self.path = str(path)
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=timeout)
            self.db.execute("BEGIN IMMEDIATE")
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, 1, SCHEMA_VERSION):
                raise StateError(f"{self.path}: state schema version {version}, expected {SCHEMA_VERSION} "
                                 "(a newer trustwatch made it)")
            if version == 0:
                _create(self.db)
            elif version == 1:
                _migrate_1_to_2(self.db)
            self.db.commit()
            if exclusive:
                self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as e:
            if "locked" in str(e) or "busy" in str(e):
                raise StateError(f"{self.path}: another run is using the state database; waited {timeout:g} s "
                                 "(--state-timeout)") from None
            raise StateError(f"{self.path}: cannot open the state database: {e}") from None
        except (sqlite3.Error, OSError) as e:
            raise StateError(f"{self.path}: cannot open the state database: {e}") from None

    def __enter__(self) -> State:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abandon()

    def close(self) -> None:
        """Commit and close."""
        self.db.commit()
        self.db.close()

    def abandon(self) -> None:
        """Roll back what is not committed and close: the state stays as it was."""
        self.db.rollback()
        self.db.close()

    def begin_run(self, source: str, kind: str = "audit", segment: str | None = None, data: str | None = None,
                  inventory: str | None = None) -> int:
        """A new run (wall-clock start, for the record only); its id."""
        cur = self.db.execute(
            "INSERT INTO runs (started, source, kind, segment, data, cwd, inventory) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (time.time(), source, kind, segment, data, os.getcwd(), inventory))
        return int(cur.lastrowid or 0)

    def finish_run(self, run_id: int, first_ts: float | None, last_ts: float | None,
                   observations: int, findings: int, complete: bool = True, summary: str | None = None) -> None:
        """Record what the run covered (its writes are committed with the state's)."""
        self.db.execute("UPDATE runs SET first_ts=?, last_ts=?, observations=?, findings=?, complete=?, summary=?"
                        " WHERE id=?", (first_ts, last_ts, observations, findings, int(complete), summary, run_id))

    def commit(self) -> None:
        """Make the run's writes durable."""
        self.db.commit()

    def run(self, run_id: int) -> Run | None:
        """The audit log's row `run_id`, or None."""
        row = self.db.execute("SELECT id, kind, segment, data, complete, first_ts, last_ts FROM runs WHERE id=?",
                              (run_id,)).fetchone()
        return Run(int(row[0]), row[1], row[2], row[3], bool(row[4]), row[5], row[6]) if row else None

    def seen_data(self, data: str, before: int) -> bool:
        """Whether a run before `before` read the same data (its sightings are in the history)."""
        row = self.db.execute("SELECT 1 FROM runs WHERE data=? AND id<? LIMIT 1", (data, before)).fetchone()
        return row is not None

    def record(self, sightings: Iterable[Sighting]) -> None:
        """Merge sightings into devices, identities and sightings (first/last seen, counts)."""
        for s in sightings:
            ident = s.presentation.identity
            a = s.asset
            self.db.execute(
                """INSERT INTO devices VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET
                   asset_id=excluded.asset_id, mac=coalesce(excluded.mac, mac),
                   ip=CASE WHEN excluded.last_seen >= last_seen THEN excluded.ip ELSE ip END,
                   status=excluded.status, first_seen=min(first_seen, excluded.first_seen),
                   last_seen=max(last_seen, excluded.last_seen)""",
                (s.device_key, a.asset_id if a else None, s.mac, s.ip, str(a.status) if a else None,
                 s.ts, s.ts))
            self.db.execute(
                """INSERT INTO identities VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, value) DO UPDATE SET
                   first_seen=min(first_seen, excluded.first_seen),
                   last_seen=max(last_seen, excluded.last_seen)""",
                (str(ident.kind), ident.value, ident.label, s.ts, s.ts))
            self.db.execute(
                """INSERT INTO sightings VALUES (?, ?, ?, ?, ?, ?, ?, 1)
                   ON CONFLICT (device_key, kind, value) DO UPDATE SET
                   method=excluded.method, match_value=excluded.match_value,
                   first_seen=min(first_seen, excluded.first_seen),
                   last_seen=max(last_seen, excluded.last_seen), count=count + 1""",
                (s.device_key, str(ident.kind), ident.value, str(s.method), s.match_value, s.ts, s.ts))

    def history_since(self, run_id: int) -> float | None:
        """The first packet time of the runs before `run_id` (None: it is the site's first audit)."""
        row = self.db.execute("SELECT min(first_ts) FROM runs WHERE id < ?", (run_id,)).fetchone()
        return float(row[0]) if row[0] is not None else None

    def identity_first_seen(self, identity: Identity) -> float | None:
        """When any run first saw `identity` (packet time), or None."""
        row = self.db.execute("SELECT first_seen FROM identities WHERE kind=? AND value=?",
                              (str(identity.kind), identity.value)).fetchone()
        return float(row[0]) if row else None

    def device_seen(self, key: str) -> tuple[float, float] | None:
        """(first seen, last seen) of a device key over all runs, or None."""
        row = self.db.execute("SELECT first_seen, last_seen FROM devices WHERE key=?", (key,)).fetchone()
        return (float(row[0]), float(row[1])) if row else None

    def identity_devices(self, identity: Identity) -> list[str]:
        """Device keys that ever presented `identity`, oldest first."""
        rows = self.db.execute(
            "SELECT device_key FROM sightings WHERE kind=? AND value=? ORDER BY first_seen",
            (str(identity.kind), identity.value)).fetchall()
        return [str(r[0]) for r in rows]


def _create(db: sqlite3.Connection) -> None:
    """A fresh database of the current version (in the open transaction)."""
    for sql in [_RUNS_V1, *_HISTORY, *_V2]:
        db.execute(sql)
    for column in _RUNS_V2_COLUMNS:
        db.execute(f"ALTER TABLE runs ADD COLUMN {column}")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _migrate_1_to_2(db: sqlite3.Connection) -> None:
    """Version 1 kept every run's alerts as rows of their own (a re-audit doubled them); version 2
    keeps one alert per dedup key. Each v1 row becomes the alert's appearance in its run; rows
    with equal first/last seen and count are taken as the same data seen again (their count is
    not added twice). A migrated alert is `open` when it appeared in more than one run's data,
    else `new`; its segment is unknown (NULL) until an audit finds it again, and the next
    complete audit judges it (`analytics.memory`). Devices, identities and sightings are kept."""
    for column in _RUNS_V2_COLUMNS:
        db.execute(f"ALTER TABLE runs ADD COLUMN {column}")
    db.execute("ALTER TABLE alerts RENAME TO alerts_v1")
    db.execute("DROP INDEX IF EXISTS alerts_rule")
    for sql in _V2:
        db.execute(sql)
    started = dict(db.execute("SELECT id, started FROM runs").fetchall())
    rows = db.execute("SELECT run_id, dedup_key, rule_id, severity_rank, first_seen, last_seen, count, doc"
                      " FROM alerts_v1 ORDER BY id").fetchall()
    occurrences: dict[str, dict[str, int]] = {}
    for run_id, key, rule_id, rank, first, last, count, text in rows:
        alert = stable_id(key)
        data = "v1:" + stable_id(repr((first, last, count)))
        doc = json.loads(text)
        doc["event"] = {"id": alert, "created": iso(started.get(run_id, first)), **doc["event"]}
        seen = occurrences.setdefault(alert, {})
        seen[data] = count
        status = "open" if len(seen) > 1 else "new"
        db.execute(
            """INSERT INTO alerts VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, NULL, ?) ON CONFLICT (id) DO UPDATE SET
               status=excluded.status, first_seen=min(first_seen, excluded.first_seen),
               last_seen=max(last_seen, excluded.last_seen), count=excluded.count,
               doc=CASE WHEN excluded.last_seen >= last_seen THEN excluded.doc ELSE doc END""",
            (alert, key, rule_id, rank, status, first, last, sum(seen.values()), started.get(run_id, first),
             json.dumps(doc, ensure_ascii=False)))
        db.execute("INSERT OR REPLACE INTO alert_runs VALUES (?, ?, ?, ?, ?, ?, NULL, ?, NULL, NULL)",
                   (alert, run_id, data, first, last, count, json.dumps(doc, ensure_ascii=False)))
    db.execute("DROP TABLE alerts_v1")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
