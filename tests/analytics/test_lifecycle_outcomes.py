"""The lifecycle findings say whether the identity was accepted: `retired-device-authenticates`,
`credential-outlives-device` and `unknown-device` are high when accepted, lower when refused
every time (the service fails closed, the device still tries), and as before when the answer
was not seen; the alert carries ECS `event.outcome`."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.analytics.builders import HASHER, T0, cert, client_cert, ep, login
from trustwatch.analytics.alerts import to_alert
from trustwatch.analytics.findings import Finding
from trustwatch.analytics.inventory import load_inventory
from trustwatch.analytics.pipeline import load_rules, run_audit
from trustwatch.analytics.rules import RuleError, Severity
from trustwatch.sensor.records import Observation, Outcome
from trustwatch.sensor.yamlfile import RULES_DIR

INVENTORY = """\
asset_id,mac,ip,status,status_date,usernames,manufacturer,model,department
MON-005,00:09:fb:00:20:05,10.20.2.35,retired,2024-11-30,mon005-export,Philips,MX800,ICU
MON-002,00:09:fb:00:20:02,10.20.2.32,active,,,Philips,MX800,ICU
"""
FTP = ep("10.10.5.40", "00-00-0C-9F-F0-14", 21)
MON5 = ep("10.20.2.35", "00-09-FB-00-20-05", 40000)
MON2 = ep("10.20.2.32", "00-09-FB-00-20-02", 40001)
STRANGER = ep("10.20.1.250", "B8-27-EB-5A-11-02", 40002)
RULES = load_rules()


def audit(tmp_path: Path, observations: Sequence[Observation]) -> dict[str, Finding]:
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / "inventory.csv"
    path.write_text(INVENTORY)
    result = run_audit(observations, load_inventory(path), RULES, secrets=HASHER)
    lifecycle = ("retired-device-authenticates", "credential-outlives-device", "unknown-device")
    return {f.rule_id: f for f in result.findings if f.rule_id in lifecycle}


CASES = [
    (True, Severity.HIGH, Severity.HIGH, Outcome.SUCCESS, " Accepted 1 of 1 time(s)."),
    (False, Severity.MEDIUM, Severity.LOW, Outcome.FAILURE,
     " Refused every time (1): the service fails closed, but the device still tries."),
    (None, Severity.HIGH, Severity.MEDIUM, Outcome.UNKNOWN, " The answer was not seen."),
]


@pytest.mark.parametrize(("ok", "lifecycle", "unknown", "outcome", "said"), CASES,
                         ids=["accepted", "refused", "unseen"])
def test_severity_and_words_follow_the_answer(tmp_path: Path, ok: bool | None, lifecycle: Severity,
                                              unknown: Severity, outcome: Outcome, said: str) -> None:
    found = audit(tmp_path, [*login(T0, MON5, FTP, "mon005-export", "pw", ok),
                             *login(T0 + 60, MON2, FTP, "mon005-export", "pw", ok),
                             *login(T0 + 120, STRANGER, FTP, "pi", "raspberry", ok)])
    for rule_id in ("retired-device-authenticates", "credential-outlives-device"):
        f = found[rule_id]
        assert (f.severity, f.outcome) == (lifecycle, outcome), rule_id
        assert f.message.endswith(said), f.message
        assert to_alert(f, load_rules().get(rule_id), 0.0)["event"]["outcome"] == outcome.value
    assert (found["unknown-device"].severity, found["unknown-device"].outcome) == (unknown, outcome)
    assert found["unknown-device"].message.endswith(said)


def test_mixed_answers(tmp_path: Path) -> None:
    """Refused once, accepted once: it got in (high). Refused once, the other answer not seen:
    not refused-only, so the rule's own severity."""
    got_in = audit(tmp_path / "a", [*login(T0, MON5, FTP, "mon005-export", "typo", False),
                                    *login(T0 + 9, MON5, FTP, "mon005-export", "pw", True)])
    f = got_in["retired-device-authenticates"]
    assert (f.severity, f.outcome) == (Severity.HIGH, Outcome.SUCCESS)
    assert f.message.endswith(" Accepted 1 of 2 time(s).")
    half = audit(tmp_path / "b", [*login(T0, MON5, FTP, "mon005-export", "typo", False),
                                  *login(T0 + 9, MON5, FTP, "mon005-export", "pw", None)])
    f = half["retired-device-authenticates"]
    assert (f.severity, f.outcome) == (Severity.HIGH, Outcome.UNKNOWN)
    assert f.message.endswith(" Refused 1 of 2 time(s); the other answers were not seen.")


def test_no_answer_asked_keeps_today(tmp_path: Path) -> None:
    """A client certificate from a sensor that numbers no attempt (TLS before its outcome work):
    no outcome, no words, no `event.outcome`."""
    found = audit(tmp_path, [client_cert(T0, STRANGER, ep("10.10.4.20", None, 443), cert("raspberrypi"))])
    f = found["unknown-device"]
    assert (f.severity, f.outcome) == (Severity.MEDIUM, None)
    assert "outcome" not in to_alert(f, load_rules().get(f.rule_id), 0.0)["event"]
    assert "accepted" not in f.message.lower() and "refused" not in f.message.lower()


def test_severities_come_from_the_rules(tmp_path: Path) -> None:
    rules_dir = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules_dir)
    path = rules_dir / "identity.yaml"
    path.write_text(path.read_text().replace("refused_severity: low", "refused_severity: severe"))
    with pytest.raises(RuleError, match=r"rule unknown-device: .*unknown severity 'severe'"):
        load_rules(rules_dir)
