"""Alerts: ECS-shaped JSON lines, packet times, and never a secret."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from tests.analytics import scenario
from tests.analytics.builders import HASHER
from trustwatch.analytics.alerts import alert_id, to_alert, write_alerts
from trustwatch.analytics.findings import Finding
from trustwatch.analytics.inventory import load_inventory
from trustwatch.analytics.pipeline import AuditResult, load_rules, run_audit

RULES = load_rules()
CREATED = 1_700_000_000.0


def alert(f: Finding) -> dict[str, Any]:
    return to_alert(f, RULES.get(f.rule_id), CREATED)


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> AuditResult:
    inv = load_inventory(scenario.write_inventory(tmp_path_factory.mktemp("inv")))
    return run_audit(scenario.observations(), inv, load_rules(), secrets=HASHER)


def test_shape(result: AuditResult) -> None:
    f = next(f for f in result.findings if f.subject == f"secret:{scenario.fingerprint('Ph1lips!')}")
    doc = alert(f)
    assert doc["@timestamp"] == "2024-03-04T08:25:17.000000Z"
    assert doc["event"] == {"kind": "alert", "id": alert_id(f.dedup_key), "created": "2023-11-14T22:13:20.000000Z",
                            "severity": 73, "start": "2024-03-04T08:25:17.000000Z",
                            "end": "2024-03-04T08:26:31.000000Z", "dataset": "trustwatch.alerts"}
    rule = RULES.get("shared-credential")
    assert doc["rule"] == {"id": "shared-credential", "name": "Shared credential", "description": rule.description,
                           "reference": rule.reference, "category": "identity-governance"}
    assert doc["network"]["protocol"] == "ftp" and doc["network"]["transport"] == "tcp"
    assert doc["network"]["community_id"].startswith("1:")
    assert doc["source"]["ip"] == "10.20.0.10" and doc["destination"]["ip"] == "10.20.0.201"
    assert doc["related"] == {"ip": ["10.20.0.10", "10.20.0.11", "10.20.0.201"],
                              "hosts": ["MON-010", "mon-010", "MON-011", "mon-011"],
                              "user": ["biomed"], "hash": [scenario.fingerprint("Ph1lips!")]}
    assert doc["message"] == f.message
    assert doc["trustwatch"]["remediation"] == rule.remediation and "Fix:" in rule.remediation
    tw = doc["trustwatch"]
    assert (tw["severity"], tw["count"], tw["subject"]) == ("high", 3, f.subject)
    assert tw["dedup_key"] == f"shared-credential:{f.subject}"
    assert tw["identity"] == {"kind": "secret", "fingerprint": scenario.fingerprint("Ph1lips!"),
                              "user": "biomed", "secret_kind": "password"}
    assert tw["devices"][0] == {
        "key": "asset:MON-010", "asset_id": "MON-010", "mac": "00-1B-4F-00-00-10", "ip": ["10.20.0.10"],
        "status": "active",
        "match": {"method": "mac", "value": "00-1B-4F-00-00-10"},
        "label": "MON-010 (Philips IntelliVue MX450, Ward 3)", "role": "presenter"}
    assert tw["evidence"] == [{"capture": "ward3.pcapng", "frames": list(f.evidence[0].frames)}]


def test_unknown_device_and_certificate_identity(result: AuditResult) -> None:
    f = next(f for f in result.findings if f.subject == "device:ip:10.40.0.5")
    tw = alert(f)["trustwatch"]
    assert tw["devices"] == [{"key": "ip:10.40.0.5", "asset_id": None, "mac": None, "ip": ["10.40.0.5"], "status": None,
                              "match": {"method": "none", "value": ""}, "label": "unknown 10.40.0.5",
                              "role": "presenter", "network": {
                                  "dhcp": {"hostname": None, "vendor_class": None, "parameter_list": []},
                                  "mac_manufacturer": None, "mac_locally_administered": False,
                                  "first_seen": "2024-03-04T08:20:58.000000Z",
                                  "last_seen": "2024-03-04T08:21:35.000000Z"}}]
    assert tw["identity"]["kind"] == "client-certificate"
    assert tw["identity"]["subject"] == "CN=cgm-gateway,O=St. Example Hospital"


def test_lifecycle_alerts_name_the_registered_owner(result: AuditResult) -> None:
    f = next(f for f in result.findings if f.subject == f"client-certificate:{scenario.C['VEN-020'].sha256}")
    devices = alert(f)["trustwatch"]["devices"]
    assert [(d["asset_id"], d["role"]) for d in devices] == [("INF-005", "presenter"), ("VEN-020", "registered-owner")]
    assert devices[1]["status"] == "decommissioned" and devices[1]["match"]["method"] == "inventory"


def test_json_lines_without_secrets(result: AuditResult, tmp_path: Path) -> None:
    out = io.StringIO()
    assert write_alerts(result.alerts(RULES), out) == len(scenario.EXPECTED)
    lines = out.getvalue().splitlines()
    assert [json.loads(line)["rule"]["id"] for line in lines] == [f.rule_id for f in result.findings]
    for secret in ("Ph1lips!", "mon012-own", "Vent2018"):
        assert secret not in out.getvalue()
