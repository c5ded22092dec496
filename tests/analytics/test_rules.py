"""Rules: the repository's load; anything unknown is refused with file and rule named."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from trustwatch.analytics.criticality import Criticality, function_criticality
from trustwatch.analytics.detections import DETECTIONS, long_lived_certificate, shared_credential
from trustwatch.analytics.rules import RuleError, Severity, read_rules
from trustwatch.sensor.yamlfile import RULES_DIR


def test_repository_rules_cover_every_detection() -> None:
    rules = read_rules(RULES_DIR, DETECTIONS)
    assert set(rules.rules) == {d.RULE_ID for d in DETECTIONS}
    assert rules.get("shared-credential").severity is Severity.HIGH
    assert rules.get("long-lived-certificate").params_as(long_lived_certificate.Params).max_validity_years == 5
    assert rules.correlation.router_min_ips == 3
    headline = {r.id for r in rules.rules.values() if r.headline}
    assert headline == {"shared-credential", "retired-device-authenticates", "credential-outlives-device",
                        "unknown-device"}
    assert rules.clinical_functions["ventilation"] is Criticality.LIFE_CRITICAL
    assert function_criticality(rules.clinical_functions, "Patient_Monitoring") is Criticality.LIFE_CRITICAL
    assert function_criticality(rules.clinical_functions, "door camera") is None


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    """A copy of the repository's rules to break."""
    target = tmp_path / "rules"
    shutil.copytree(RULES_DIR, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_thresholds_are_data(rules_dir: Path) -> None:
    edit(rules_dir / "certificates.yaml", "max_validity_years: 5", "max_validity_years: 3")
    edit(rules_dir / "identity.yaml", "min_devices: 2", "min_devices: 4")
    rules = read_rules(rules_dir, DETECTIONS)
    assert rules.get("long-lived-certificate").params_as(long_lived_certificate.Params).max_validity_years == 3
    assert rules.get("shared-credential").params_as(shared_credential.Params).min_devices == 4


@pytest.mark.parametrize(("file", "old", "new", "rule_id", "message"), [
    ("identity.yaml", "    severity: high\n    description: >\n      One secret",
     "    severity: high\n    colour: red\n    description: >\n      One secret",
     "shared-credential", "unknown key 'colour'"),
    ("identity.yaml", "id: unknown-device", "id: unknown-devices", "unknown-devices",
     "no detection has this rule id"),
    ("identity.yaml", "min_devices: 2", "min_device: 2", "shared-credential", "unknown parameter 'min_device'"),
    ("identity.yaml", "min_devices: 2", "min_devices: two", "shared-credential",
     "parameter 'min_devices': expected an integer, got 'two'"),
    ("identity.yaml", "min_devices: 2", "min_devices: true", "shared-credential", "expected an integer"),
    ("identity.yaml", "min_devices: 2", "min_devices: 1", "shared-credential", "min_devices must be at least 2"),
    ("identity.yaml", "statuses: [retired, decommissioned]\n\n  - id: credential",
     "statuses: [retired, scrapped]\n\n  - id: credential", "retired-device-authenticates",
     "unknown status 'scrapped'"),
    ("certificates.yaml", "severity: low", "severity: urgent", "long-lived-certificate",
     "severity must be one of low, medium, high, critical, not 'urgent'"),
    ("certificates.yaml", "weak_hashes: [md5, sha1]", "weak_hashes: md5", "weak-certificate", "expected a list"),
    ("credentials.yaml", "secret_kinds: [password,", "secret_kinds: [passwort,", "cleartext-credential",
     "unknown secret kind 'passwort'"),
    ("correlation.yaml", "router_min_ips: 3", "router_min_ip: 3", "correlation", "unknown parameter"),
    ("credentials.yaml", "rules:", "rulez:", "", "unknown top-level key 'rulez'"),
    ("credentials.yaml", "rules:", "rules: [\n", "", "invalid YAML"),
    ("identity.yaml", "name: Shared credential\n    headline: true", "name: Shared credential\n    headline: yes!",
     "shared-credential", "`headline` must be true or false"),
    ("clinical.yaml", "  high:\n", "  vital:\n", "clinical_functions", "unknown criticality 'vital'"),
    ("clinical.yaml", "    - imaging\n", "    - imaging\n    - ventilation\n", "clinical_functions",
     "clinical function 'ventilation' is both life-critical and high"),
    ("clinical.yaml", "  low:\n    - network management", "  low: network management", "clinical_functions",
     "low: expected a list of clinical functions"),
])
def test_rule_errors(rules_dir: Path, file: str, old: str, new: str, rule_id: str, message: str) -> None:
    edit(rules_dir / file, old, new)
    with pytest.raises(RuleError) as e:
        read_rules(rules_dir, DETECTIONS)
    assert e.value.path == str(rules_dir / file)
    assert e.value.rule_id == rule_id
    assert message in e.value.msg
    assert str(e.value).startswith(f"{rules_dir / file}: rule ")


def test_detection_without_rule(rules_dir: Path) -> None:
    (rules_dir / "credentials.yaml").unlink()
    with pytest.raises(RuleError) as e:
        read_rules(rules_dir, DETECTIONS)
    assert e.value.rule_id in ("cleartext-credential", "long-lived-token")
    assert e.value.msg == "no rule for this detection (add it, or set enabled: false)"


def test_rule_defined_twice(rules_dir: Path) -> None:
    shutil.copy(rules_dir / "credentials.yaml", rules_dir / "more.yaml")
    with pytest.raises(RuleError, match="defined twice"):
        read_rules(rules_dir, DETECTIONS)


def test_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="no rules files"):
        read_rules(tmp_path, DETECTIONS)
