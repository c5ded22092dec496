"""The analytics state: an SQLite database that accumulates history over runs.

Tables: `runs`; `devices` (by device key, with first/last seen); `identities` (certificate
fingerprints, keyed secret fingerprints, user names, AE titles; first/last seen);
`sightings` (which device presented which identity, how it was matched, first/last seen,
count); `alerts` (each run's unsuppressed findings as their ECS document). Times are packet
times, so "credential in use since ..." is about the network, not about when we ran. Secrets
never get here: only their keyed fingerprints do.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from .alerts import to_alert
from .correlate import Sighting
from .findings import Finding
from .identities import Identity
from .inventory import normalise_mac
from .rules import Severity

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, started REAL NOT NULL, source TEXT NOT NULL,
    first_ts REAL, last_ts REAL, observations INTEGER, findings INTEGER
);
CREATE TABLE IF NOT EXISTS devices (
    key TEXT PRIMARY KEY, asset_id TEXT, mac TEXT, ip TEXT, status TEXT,
    first_seen REAL NOT NULL, last_seen REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS identities (
    kind TEXT NOT NULL, value TEXT NOT NULL, label TEXT NOT NULL,
    first_seen REAL NOT NULL, last_seen REAL NOT NULL, PRIMARY KEY (kind, value)
);
CREATE TABLE IF NOT EXISTS sightings (
    device_key TEXT NOT NULL, kind TEXT NOT NULL, value TEXT NOT NULL,
    method TEXT NOT NULL, match_value TEXT NOT NULL,
    first_seen REAL NOT NULL, last_seen REAL NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (device_key, kind, value)
);
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id),
    dedup_key TEXT NOT NULL, rule_id TEXT NOT NULL, severity_rank INTEGER NOT NULL,
    first_seen REAL NOT NULL, last_seen REAL NOT NULL, count INTEGER NOT NULL, doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_rule ON alerts (rule_id, last_seen);
"""


class StateError(Exception):
    """The state database cannot be opened or is not ours."""


DEFAULT_BUSY_TIMEOUT = 600.0
"""Seconds a run waits for another run that holds the state (`--state-timeout`)."""


class State:
    """One open state database (`:memory:` for a throw-away run).

    Runs on one database take turns: opened `exclusive`, the state holds SQLite's write lock
    from the start (readers such as `trustwatch alerts` still read), so a second audit waits
    up to `timeout` seconds before it reads anything, then fails with StateError. A run that
    stops half-way (disk full, a crash, kill -9) leaves the state as it was before it: its
    writes are one transaction."""

    def __init__(self, path: str | Path, timeout: float = DEFAULT_BUSY_TIMEOUT, exclusive: bool = False) -> None:
        self.path = str(path)
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=timeout)
            self.db.execute("BEGIN IMMEDIATE")
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise StateError(f"{self.path}: state schema version {version}, expected {SCHEMA_VERSION}")
            if version == 0:
                self.db.executescript(_SCHEMA)  # commits
                self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
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
        self.close()

    def close(self) -> None:
        """Commit and close."""
        self.db.commit()
        self.db.close()

    def begin_run(self, source: str) -> int:
        """A new run (wall-clock start, for the record only); its id."""
        cur = self.db.execute("INSERT INTO runs (started, source) VALUES (?, ?)", (time.time(), source))
        return int(cur.lastrowid or 0)

    def finish_run(self, run_id: int, first_ts: float | None, last_ts: float | None,
                   observations: int, findings: int) -> None:
        """Record what the run covered and commit."""
        self.db.execute("UPDATE runs SET first_ts=?, last_ts=?, observations=?, findings=? WHERE id=?",
                        (first_ts, last_ts, observations, findings, run_id))
        self.db.commit()

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

    def store_alerts(self, run_id: int, findings: Iterable[Finding]) -> None:
        """Keep the run's alerts (their ECS documents) for `trustwatch alerts`."""
        self.db.executemany(
            "INSERT INTO alerts (run_id, dedup_key, rule_id, severity_rank, first_seen, last_seen,"
            " count, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(run_id, f.dedup_key, f.rule_id, f.severity.rank, f.first_seen, f.last_seen, f.count,
              json.dumps(to_alert(f), ensure_ascii=False)) for f in findings])

    def alerts(self, rule: str | None = None, min_severity: Severity | None = None,
               device: str | None = None, since: float | None = None) -> list[dict[str, Any]]:
        """Stored alerts, newest last; `device` matches an asset id, MAC (any notation) or IP."""
        sql = "SELECT doc FROM alerts WHERE 1=1"
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
        docs = [json.loads(r[0]) for r in self.db.execute(sql + " ORDER BY last_seen, id", args)]
        if device:
            docs = [d for d in docs if _mentions(d, device)]
        return docs


def _mentions(doc: dict[str, Any], device: str) -> bool:
    mac = normalise_mac(device)
    for d in doc.get("trustwatch", {}).get("devices", []):
        if device == d.get("asset_id") or device in d.get("ip", []) or (mac and mac == d.get("mac")):
            return True
    return False
