"""Detections on the synthetic ward: precision and recall 1.0 per rule, near misses silent,
boundaries of the certificate rules, thresholds from the rules, and new detections plugging in."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.analytics import scenario
from tests.analytics.builders import HASHER, T0, cert, client_cert, ep
from trustwatch.analytics.detections import DETECTIONS
from trustwatch.analytics.detections.base import Context
from trustwatch.analytics.detections.long_lived_certificate import too_long
from trustwatch.analytics.detections.weak_certificate import Params as WeakParams
from trustwatch.analytics.detections.weak_certificate import weaknesses
from trustwatch.analytics.findings import Finding, finding
from trustwatch.analytics.inventory import load_inventory
from trustwatch.analytics.pipeline import AuditResult, load_rules, run_audit
from trustwatch.analytics.rules import Rule, RuleSet
from trustwatch.sensor.records import Observation, X509Cert
from trustwatch.sensor.yamlfile import RULES_DIR


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> AuditResult:
    inv = load_inventory(scenario.write_inventory(tmp_path_factory.mktemp("inv")))
    return run_audit(scenario.observations(), inv, load_rules(), secrets=HASHER)


def audit(tmp_path: Path, observations: list[Observation], rules: RuleSet | None = None) -> AuditResult:
    inv = load_inventory(scenario.write_inventory(tmp_path))
    return run_audit(observations, inv, rules or load_rules(), secrets=HASHER)


@pytest.mark.parametrize("rule_id", scenario.RULE_IDS)
def test_precision_and_recall(result: AuditResult, rule_id: str) -> None:
    got = {f.subject for f in result.findings if f.rule_id == rule_id}
    expected = {s for r, s in scenario.EXPECTED if r == rule_id}
    true_pos = got & expected
    precision = len(true_pos) / len(got) if got else 0.0
    recall = len(true_pos) / len(expected)
    assert (precision, recall) == (1.0, 1.0), f"extra {got - expected}, missing {expected - got}"


def test_every_rule_fires(result: AuditResult) -> None:
    assert set(scenario.RULE_IDS) == {d.RULE_ID for d in DETECTIONS}
    assert all(n > 0 for n in result.summary.values())


def test_one_finding_per_rule_and_subject(result: AuditResult) -> None:
    keys = [f.dedup_key for f in result.findings]
    assert len(keys) == len(set(keys))
    retired = next(f for f in result.findings if f.rule_id == "retired-device-authenticates")
    assert retired.count == 2 and retired.last_seen > retired.first_seen


def involved(result: AuditResult) -> set[str]:
    return {d.asset_id or d.key for f in result.findings for d in f.devices}


def test_near_misses_silent(result: AuditResult) -> None:
    # INF-001 moved IP by DHCP; INF-002 has unique certificates, one valid exactly 5 years, and
    # a Digest login; INF-008/INF-011 are routed but known by static IP; PACS and the vendor
    # cloud only present (weak) server certificates to many clients.
    assert not involved(result) & {"INF-001", "INF-002", "INF-008", "INF-011", "PACS-01", "RTR-1"}
    subjects = " ".join(f.subject for f in result.findings)
    for server in (scenario.SERVER_WEAK, scenario.CLOUD):
        assert server.sha256 not in subjects
    assert "52.10.1.7" not in subjects
    # One user name with different secrets is not shared; it is nobody's retired account.
    shared_secrets = [f for f in result.findings
                      if f.rule_id == "shared-credential" and f.subject.startswith("secret:")]
    assert [f.subject for f in shared_secrets] == [f"secret:{scenario.fingerprint('Ph1lips!')}"]
    assert "MON-012" not in {d.asset_id for f in shared_secrets for d in f.devices}
    assert not any(f.subject == "username:biomed" for f in result.findings)


def test_shared_credential_details(result: AuditResult) -> None:
    f = next(f for f in result.findings if f.subject == f"client-certificate:{scenario.FLEET.sha256}")
    assert [(d.asset_id, d.match, d.ips) for d in f.devices] == [
        ("INF-003", "mac", ("10.20.0.53",)), ("INF-004", "mac", ("10.20.0.54",))]
    assert f.message.startswith("The same client certificate CN=alaris-fleet")
    assert "INF-003 (BD Alaris 8015, Ward 3), INF-004" in f.message
    assert f.evidence[0].capture == "ward3.pcapng" and len(f.evidence[0].frames) == 2
    routed = next(f for f in result.findings if f.subject.endswith(scenario.ROUTED_FLEET.sha256)
                  and f.rule_id == "shared-credential")
    assert [d.key for d in routed.devices] == ["ip:10.40.0.5", "ip:10.40.0.6"]
    assert all(d.mac is None for d in routed.devices)  # the router's MAC is not theirs


def test_messages_say_what_happened(result: AuditResult) -> None:
    by_rule = {f.rule_id: f.message for f in result.findings}
    assert "INF-009 (BD Alaris 8015, Ward 3) is retired since 2023-11-30" in by_rule["retired-device-authenticates"]
    assert "expired on 2024-01-01" in by_rule["expired-certificate"]
    assert "valid for 10.0 years" in by_rule["long-lived-certificate"]
    assert "SHA1 signature" in by_rule["weak-certificate"]
    assert "RSA 1024-bit key (minimum 2048)" in by_rule["weak-certificate"]
    assert "registers to INF-007" in by_rule["identity-mismatch"]
    outlives = [f.message for f in result.findings if f.rule_id == "credential-outlives-device"]
    assert any("decommissioned since 2023-06-30, but was presented by INF-005" in m for m in outlives)
    cleartext = [f.message for f in result.findings if f.rule_id == "cleartext-credential"]
    assert "MON-011 (Philips IntelliVue MX450, Ward 3) sent a password in clear over FTP for user(s) " \
           "biomed, vent20svc (2 time(s))." in cleartext


PUMP = ep("10.20.0.64", scenario.mac(14), 50000)
PACS = ep("10.20.0.200", scenario.mac(0xC8), 443)


def hygiene(tmp_path: Path, ts: float, leaf: X509Cert) -> set[str]:
    res = audit(tmp_path, [client_cert(ts, PUMP, PACS, leaf)])
    return {f.rule_id for f in res.findings}


def test_expiry_judged_at_packet_time(tmp_path: Path) -> None:
    leaf = cert("t", not_before="2024-01-01", not_after="2024-06-01")
    assert hygiene(tmp_path, T0, leaf) == set()
    late = cert("t", not_before="2024-01-01", not_after="2024-06-01")
    assert "expired-certificate" in hygiene(tmp_path, T0 + 100 * 86400, late)
    early = cert("t", not_before="2024-01-01", not_after="2024-06-01")
    assert "expired-certificate" in hygiene(tmp_path, T0 - 90 * 86400, early)


def test_not_yet_valid_message(tmp_path: Path) -> None:
    res = audit(tmp_path, [client_cert(T0, PUMP, PACS, cert("future", not_before="2025-01-01"))])
    [f] = [f for f in res.findings if f.rule_id == "expired-certificate"]
    assert "is not valid before 2025-01-01T00:00:00Z" in f.message


def test_long_lived_boundary() -> None:
    assert not too_long(cert("a", not_before="2020-02-29", not_after="2025-03-01"), 5)
    assert too_long(cert("b", not_before="2020-02-29", not_after="2025-03-01T00:00:01"), 5)
    assert not too_long(replace(cert("c"), not_before="", parsed=True), 5)


def test_weak_thresholds() -> None:
    p = WeakParams()
    assert weaknesses(cert("ok"), p) == []
    assert weaknesses(replace(cert("ok"), key_bits=224), p) == ["EC 224-bit key (minimum 256)"]
    assert weaknesses(replace(cert("ok"), signature_hash="md5", signature_algorithm="md5WithRSAEncryption"),
                      p) == ["MD5 signature (md5WithRSAEncryption)"]
    assert weaknesses(replace(cert("ok"), key_type="Ed25519", key_bits=256, signature_hash=None), p) == []
    assert weaknesses(cert("rsa", key="rsa2048"), p) == []


def test_unparsed_certificate_is_not_judged(tmp_path: Path) -> None:
    leaf = replace(cert("x"), parsed=False, not_after="", not_before="", key_bits=None)
    assert hygiene(tmp_path, T0, leaf) == set()


def copied_rules(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(RULES_DIR, target)
    return target


def test_threshold_from_rules(tmp_path: Path) -> None:
    rules_dir = copied_rules(tmp_path)
    path = rules_dir / "certificates.yaml"
    path.write_text(path.read_text().replace("max_validity_years: 5", "max_validity_years: 11"))
    res = audit(tmp_path, scenario.observations(), load_rules(rules_dir))
    assert "long-lived-certificate" not in {f.rule_id for f in res.findings}


def test_disabled_rule(tmp_path: Path) -> None:
    rules_dir = copied_rules(tmp_path)
    path = rules_dir / "credentials.yaml"
    path.write_text(path.read_text().replace("severity: medium", "severity: medium\n    enabled: false"))
    res = audit(tmp_path, scenario.observations(), load_rules(rules_dir))
    assert "cleartext-credential" not in res.summary
    assert "cleartext-credential" not in {f.rule_id for f in res.findings}


@dataclass(frozen=True, slots=True)
class _NoParams:
    """Parameters of the plug-in detection."""


def test_new_detection_plugs_in(tmp_path: Path) -> None:
    """A new module (here a namespace) and its rule: nothing else changes."""

    def detect(ctx: Context, rule: Rule) -> Iterator[Finding]:
        unknown = [s for s in ctx.sightings if s.asset is None]
        if unknown:
            yield finding(rule, "segment:ward3", unknown, f"{len(unknown)} unknown presentations")

    plugin = SimpleNamespace(RULE_ID="segment-unknown-share", Params=_NoParams, detect=detect)
    detections = (*DETECTIONS, plugin)
    rules_dir = copied_rules(tmp_path)
    (rules_dir / "remote.yaml").write_text(
        "rules:\n  - id: segment-unknown-share\n    name: Unknown share of a segment\n    severity: critical\n")
    rules = load_rules(rules_dir, detections)
    inv = load_inventory(scenario.write_inventory(tmp_path))
    res = run_audit(scenario.observations(), inv, rules, detections=detections, secrets=HASHER)
    assert res.findings[0].rule_id == "segment-unknown-share"  # most severe first
    assert res.summary["segment-unknown-share"] == 1
