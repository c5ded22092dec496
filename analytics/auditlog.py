"""What each run saw, kept in the state for the report (`analytics.report`), which reads nothing
else: the inventory it judged by (`inventories`, one copy per distinct inventory) and the run's
facts (`run_facts`, one JSON document each):

* `device`: every device that presented an identity: its inventory id and status, addresses,
  whether it is on the site networks, first/last seen, what the network says about it (unknown
  devices and far ends), and each identity it presented, to which service (peer address, port,
  protocol, the peer's inventory label) with the answer (accepted, refused, unknown, or none
  asked), first/last seen and count;
* `ledger`: the remote-access ledger (`remote_access.ledger_record`, ECS);
* `exception`: each approved exception, in force or expired at the run's newest packet, with the
  alerts it suppressed;
* `passed`: each passed check (`findings.PassedCheck`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from typing import Any

from ..sensor.flowid import Direction
from .alerts import alert_id
from .correlate import Sighting
from .findings import Finding, PassedCheck
from .inventory import Asset, Inventory
from .profiles import NetworkFacts
from .remote_access import LedgerEntry, ledger_record
from .scope import SiteScope
from .state import State
from .suppressions import Suppression

_OUTCOME = {"success": "accepted", "failure": "refused", "unknown": "no answer seen"}


def asset_row(a: Asset) -> dict[str, Any]:
    """An inventory row as the report shows it (lists for multi-valued cells, text for the rest)."""
    return {"asset_id": a.asset_id, "hostname": a.hostname, "manufacturer": a.manufacturer, "model": a.model,
            "firmware": a.firmware, "department": a.department, "clinical_function": a.clinical_function,
            "status": str(a.status), "status_date": a.status_date.isoformat() if a.status_date else "",
            "criticality": str(a.criticality) if a.criticality else "", "macs": list(a.macs), "ips": list(a.ips),
            "cert_sha256": list(a.cert_sha256), "usernames": list(a.usernames), "ae_titles": list(a.ae_titles),
            "remote_access": list(a.remote_access), "label": a.label, "source": a.source}


def keep_inventory(state: State, inventory: Inventory) -> str:
    """Store the inventory's rows once per distinct content; their digest (`runs.inventory`)."""
    text = json.dumps([asset_row(a) for a in inventory.assets], ensure_ascii=False, sort_keys=True)
    digest = hashlib.sha256(text.encode()).hexdigest()
    state.db.execute("INSERT OR IGNORE INTO inventories VALUES (?, ?)", (digest, text))
    return digest


def record_facts(state: State, run_id: int, *, inventory: Inventory, sightings: Sequence[Sighting],
                 ledger: Iterable[LedgerEntry], scope: SiteScope, network: NetworkFacts,
                 exceptions: Sequence[Suppression], suppressed: Sequence[tuple[Finding, Suppression]],
                 clock: float, passed: Iterable[PassedCheck]) -> None:
    """Keep what run `run_id` saw (see the module's docstring)."""
    docs = [("device", d) for d in device_facts(sightings, inventory, scope, network)]
    docs += [("ledger", ledger_record(e)) for e in ledger]
    for e in exceptions:
        ids = [alert_id(f.dedup_key) for f, by in suppressed if by == e]
        docs.append(("exception", {"rule": e.rule, "subject": e.subject, "approver": e.approver, "reason": e.reason,
                                   "expires": e.expires.isoformat(), "source": e.source,
                                   "state": "expired" if e.expires.timestamp() <= clock else "in force",
                                   "suppressed": ids}))
    docs += [("passed", p.as_fact()) for p in passed]
    state.db.executemany("INSERT INTO run_facts VALUES (?, ?, ?)",
                         [(run_id, kind, json.dumps(doc, ensure_ascii=False, default=str)) for kind, doc in docs])


def device_facts(sightings: Sequence[Sighting], inventory: Inventory, scope: SiteScope,
                 network: NetworkFacts) -> list[dict[str, Any]]:
    """One document per device that presented an identity, with what it presented to whom."""
    devices: dict[str, dict[str, Any]] = {}
    presented: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}
    for s in sightings:
        d = devices.get(s.device_key)
        if d is None:
            a = s.asset
            d = devices[s.device_key] = {
                "key": s.device_key, "asset_id": a.asset_id if a else None,
                "label": a.label if a else f"unknown {s.ip}" + (f" ({s.mac})" if s.mac else ""),
                "status": str(a.status) if a else None, "mac": s.mac, "ips": [], "in_scope": False,
                "first_seen": s.ts, "last_seen": s.ts, "match": str(s.method), "profile": None}
        if s.ip not in d["ips"]:
            d["ips"].append(s.ip)
        d["in_scope"] = d["in_scope"] or scope.contains(s.ip)
        d["first_seen"], d["last_seen"] = min(d["first_seen"], s.ts), max(d["last_seen"], s.ts)
        p = s.presentation
        peer = p.obs.flow.resp if p.side is Direction.ORIG else p.obs.flow.orig
        owner = inventory.by_ip.get(peer.ip)
        outcome = s.outcome
        key = (p.identity.kind, p.identity.value, str(p.obs.protocol), peer.ip, peer.port, outcome)
        row = presented.setdefault(s.device_key, {}).setdefault(key, {
            "kind": str(p.identity.kind), "value": p.identity.value, "label": p.identity.label or p.identity.value,
            "detail": p.identity.detail, "protocol": str(p.obs.protocol),
            "side": "client" if p.side is Direction.ORIG else "server", "peer_ip": peer.ip, "peer_port": peer.port,
            "peer": owner.label if owner else None,
            "answer": _OUTCOME.get(str(outcome), "none asked") if outcome is not None else "none asked",
            "reason": s.answer.reason if s.answer is not None else None,
            "first_seen": s.ts, "last_seen": s.ts, "count": 0})
        row["first_seen"], row["last_seen"] = min(row["first_seen"], s.ts), max(row["last_seen"], s.ts)
        row["count"] += 1
    for device_key, d in devices.items():
        d["presented"] = sorted(presented[device_key].values(), key=lambda r: (r["first_seen"], r["kind"], r["value"]))
        if d["asset_id"] is None:
            d["profile"] = asdict(network.profile(d["mac"], d["ips"]))
    return sorted(devices.values(), key=lambda d: (d["asset_id"] is None, d["asset_id"] or "", d["key"]))


def run_facts(state: State, run_ids: Sequence[int], kind: str) -> list[dict[str, Any]]:
    """The facts of `kind` of the runs `run_ids`, each with its `run_id`, in run order."""
    marks = ",".join("?" * len(run_ids))
    rows = state.db.execute(f"SELECT run_id, doc FROM run_facts WHERE kind=? AND run_id IN ({marks})"
                            " ORDER BY run_id, rowid", (kind, *run_ids)).fetchall()
    return [{"run_id": r, **json.loads(doc)} for r, doc in rows]


def inventory_rows(state: State, digest: str | None) -> list[Mapping[str, Any]]:
    """The inventory rows a run judged by."""
    row = state.db.execute("SELECT assets FROM inventories WHERE digest=?", (digest,)).fetchone()
    return list(json.loads(row[0])) if row else []
