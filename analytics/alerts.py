"""Findings as alerts: one ECS document per finding, written as JSON lines.

ECS names where ECS has them, so a SIEM can pivot: `event.id` (stable per alert: the same
subject keeps its id across audits), `event.created` (when trustwatch first raised it, wall
clock), `event.severity` as a number with the name in `trustwatch.severity`, `event.start`/
`event.end` for first and last seen (packet times), `event.outcome` (whether the identity behind
it was accepted, where an answer was asked for), `rule.id`, `rule.name`, `rule.description`,
`rule.reference`, `rule.category`, `message`, `source`/`destination` (ip, port, mac of the
connection of the first presentation), `network.protocol`, `network.transport`,
`network.community_id`, and `related.ip`, `related.hosts`, `related.user`, `related.hash`;
the rest under `trustwatch.*` (`trustwatch.subject` is what an exception names,
`trustwatch.remediation` the rule's advice, `trustwatch.status` the alert's place in the
audit-to-audit memory). The README maps every field; `alert.schema.json` beside this module
(package data) is its schema.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from enum import StrEnum
from typing import IO, Any

from .ecs import connection, iso, stable_id
from .findings import DeviceRef, Finding
from .identities import CERT_KINDS, IdentityKind
from .rules import Rule


class AlertStatus(StrEnum):
    """Where a stored alert stands (`analytics.memory`)."""

    NEW = "new"
    """First raised by the latest audit that saw it."""
    OPEN = "open"
    """Seen again in a later audit."""
    RESOLVED = "resolved"
    """Not seen by a later audit of the same segment."""
    ACKNOWLEDGED = "acknowledged"
    """An analyst took it on (`trustwatch alerts ack`): stays so while it is seen."""
    SUPPRESSED = "suppressed"
    """An approved exception in force covers it."""


def alert_id(dedup_key: str) -> str:
    """ECS `event.id`: the alert's id, derived from its dedup key, so stable across audits."""
    return stable_id(dedup_key)


def to_alert(f: Finding, rule: Rule, created: float, status: AlertStatus | None = None) -> dict[str, Any]:
    """The ECS document of one finding of `rule`, first raised at `created` (epoch, wall clock)."""
    identity = None
    if f.identity is not None:
        i = f.identity
        identity = {"kind": str(i.kind), "fingerprint": i.value}
        if i.kind in CERT_KINDS:
            identity["subject"] = i.label
        elif i.label:
            identity["user"] = i.label
        if i.detail:
            identity["secret_kind"] = i.detail
    protocols = list(f.protocols)
    flow = connection(f.flow) if f.flow is not None else {"network": {}}
    doc: dict[str, Any] = {
        "@timestamp": iso(f.first_seen),
        "event": {
            "kind": "alert",
            "id": alert_id(f.dedup_key),
            "created": iso(created),
            "severity": f.severity.number,
            "start": iso(f.first_seen),
            "end": iso(f.last_seen),
            "dataset": "trustwatch.alerts",
        },
        "rule": {"id": f.rule_id, "name": f.rule_name, "description": rule.description,
                 "reference": rule.reference, "category": rule.category},
        "message": f.message,
    }
    if f.outcome is not None:
        doc["event"]["outcome"] = str(f.outcome)
    if f.flow is not None:
        doc["source"] = flow["source"]
        doc["destination"] = flow["destination"]
    doc["network"] = {"protocol": protocols[0] if len(protocols) == 1 else protocols, **flow["network"]}
    doc["related"] = related(f)
    doc["trustwatch"] = {
        "severity": str(f.severity),
        "subject": f.subject,
        "dedup_key": f.dedup_key,
        "count": f.count,
        "devices": [_device(d) for d in f.devices],
        "identity": identity,
        "evidence": [{"capture": e.capture, "frames": list(e.frames)} for e in f.evidence],
        "remediation": rule.remediation,
    }
    if f.more_devices:
        doc["trustwatch"]["more_devices"] = f.more_devices
    if status is not None:
        doc["trustwatch"]["status"] = str(status)
    return doc


def related(f: Finding) -> dict[str, list[str]]:
    """ECS `related`: every address, host name (inventory and DHCP) and asset id, user name and
    hash (certificate SHA-256, keyed secret fingerprint) of the finding, each once, in order."""
    ips: dict[str, None] = {}
    hosts: dict[str, None] = {}
    for d in f.devices:
        ips.update(dict.fromkeys(d.ips))
        hosts.update(dict.fromkeys(h for h in (d.asset_id, d.hostname, d.profile and d.profile.hostname) if h))
    if f.flow is not None:
        ips.update(dict.fromkeys((f.flow.orig.ip, f.flow.resp.ip)))
    users: list[str] = []
    hashes: list[str] = []
    if (i := f.identity) is not None:
        if i.kind in CERT_KINDS or i.kind is IdentityKind.SECRET:
            hashes.append(i.value)
        if i.kind in (IdentityKind.USERNAME, IdentityKind.SECRET) and i.label:
            users.append(i.label)
    return {"ip": list(ips), "hosts": list(hosts), "user": users, "hash": hashes}


def _device(d: DeviceRef) -> dict[str, Any]:
    """One of `trustwatch.devices`: the device, how it was recognised, its role, and for unknown
    devices what the network says about it (`network`: DHCP, the MAC's manufacturer, first/last seen)."""
    doc: dict[str, Any] = {
        "key": d.key,
        "asset_id": d.asset_id,
        "mac": d.mac,
        "ip": list(d.ips),
        "status": d.status,
        "match": {"method": d.match, "value": d.match_value},
        "label": d.label,
        "role": str(d.role),
    }
    if (p := d.profile) is not None:
        doc["network"] = {
            "dhcp": {"hostname": p.hostname, "vendor_class": p.vendor_class,
                     "parameter_list": list(p.parameter_list)},
            "mac_manufacturer": p.manufacturer,
            "mac_locally_administered": p.locally_administered,
            "first_seen": iso(p.first_seen) if p.first_seen is not None else None,
            "last_seen": iso(p.last_seen) if p.last_seen is not None else None,
        }
    return doc


def write_alerts(docs: Iterable[dict[str, Any]], out: IO[str]) -> int:
    """One JSON line per alert document; the number written."""
    n = 0
    for doc in docs:
        out.write(json.dumps(doc, ensure_ascii=False, sort_keys=False))
        out.write("\n")
        n += 1
    return n
