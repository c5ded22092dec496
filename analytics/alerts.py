"""Findings as alerts: one ECS-shaped JSON object per finding, written as JSON lines.

ECS names where ECS has them (`@timestamp`, `event.kind: alert`, `event.severity` as a number
with the name in `trustwatch.severity`, `event.start`/`event.end` for first and last seen,
`rule.id`, `rule.name`, `message`, `network.protocol`); the rest under `trustwatch.*`. Times
are packet times. `trustwatch.subject` is what an exception names.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import IO, Any

from .findings import DeviceRef, Finding


def iso(ts: float) -> str:
    """Epoch seconds as ISO 8601 UTC with a `Z`, as the observations write them."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def to_alert(f: Finding) -> dict[str, Any]:
    """The ECS document of one finding."""
    identity = None
    if f.identity is not None:
        i = f.identity
        identity = {"kind": str(i.kind), "fingerprint": i.value}
        if i.kind in ("client-certificate", "server-certificate"):
            identity["subject"] = i.label
        elif i.label:
            identity["user"] = i.label
        if i.detail:
            identity["secret_kind"] = i.detail
    protocols = list(f.protocols)
    doc: dict[str, Any] = {
        "@timestamp": iso(f.first_seen),
        "event": {
            "kind": "alert",
            "severity": f.severity.number,
            "start": iso(f.first_seen),
            "end": iso(f.last_seen),
            "dataset": "trustwatch.alerts",
        },
        "rule": {"id": f.rule_id, "name": f.rule_name},
        "message": f.message,
        "network": {"protocol": protocols[0] if len(protocols) == 1 else protocols},
        "trustwatch": {
            "severity": str(f.severity),
            "subject": f.subject,
            "dedup_key": f.dedup_key,
            "count": f.count,
            "devices": [_device(d) for d in f.devices],
            "identity": identity,
            "evidence": [{"capture": e.capture, "frames": list(e.frames)} for e in f.evidence],
        },
    }
    if f.more_devices:
        doc["trustwatch"]["more_devices"] = f.more_devices
    return doc


def _device(d: DeviceRef) -> dict[str, Any]:
    """One of `trustwatch.devices`: the device, how it was recognised, its role, and for unknown
    devices what the network says about it (`network`: DHCP, the MAC's manufacturer, first/last seen)."""
    doc: dict[str, Any] = {
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


def write_alerts(findings: Iterable[Finding], out: IO[str]) -> int:
    """One JSON line per finding; the number written."""
    n = 0
    for f in findings:
        out.write(json.dumps(to_alert(f), ensure_ascii=False, sort_keys=False))
        out.write("\n")
        n += 1
    return n
