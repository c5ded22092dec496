"""Exceptions: they need an approver, a reason and an expiry, and stop at the expiry
(packet time); expired ones are reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.analytics import scenario
from tests.analytics.builders import HASHER
from trustwatch.analytics.inventory import load_inventory
from trustwatch.analytics.pipeline import AuditResult, load_rules, run_audit
from trustwatch.analytics.suppressions import Suppression, SuppressionsError, load_suppressions

FLEET = f"client-certificate:{scenario.FLEET.sha256}"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exceptions.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def entry(expires: str, subject: str = FLEET) -> str:
    return (f"- rule: shared-credential\n  subject: \"{subject}\"\n  approver: Dr. A. Meyer (biomed)\n"
            f"  reason: vendor fleet certificate, replacement ordered (CHG-4711)\n  expires: {expires}\n")


def run(tmp_path: Path, exceptions: list[Suppression]) -> AuditResult:
    inv = load_inventory(scenario.write_inventory(tmp_path))
    return run_audit(scenario.observations(), inv, load_rules(), exceptions=exceptions, secrets=HASHER)


def test_load(tmp_path: Path) -> None:
    path = write(tmp_path, "exceptions:\n" + entry("2024-06-30") + entry("2024-03-04T08:05:00Z", "x"))
    first, second = load_suppressions(path, load_rules().rules)
    assert first.expires.isoformat() == "2024-07-01T00:00:00+00:00"  # through the whole day
    assert second.expires.isoformat() == "2024-03-04T08:05:00+00:00"
    assert first.source == f"{path}:1"


def test_active_exception_suppresses(tmp_path: Path) -> None:
    exc = load_suppressions(write(tmp_path, entry("2024-06-30")))
    res = run(tmp_path, exc)
    assert FLEET not in {f.subject for f in res.findings}
    assert [(f.subject, e.approver) for f, e in res.suppressed] == [(FLEET, "Dr. A. Meyer (biomed)")]
    assert res.summary["shared-credential"] == 2
    assert res.expired == []


def test_expired_exception_stops_and_is_reported(tmp_path: Path) -> None:
    exc = load_suppressions(write(tmp_path, entry("2024-03-01")))
    res = run(tmp_path, exc)
    assert FLEET in {f.subject for f in res.findings}
    assert res.suppressed == [] and res.expired == exc


def test_expiry_during_the_capture_does_not_cover_later_use(tmp_path: Path) -> None:
    """The fleet certificate is seen from 08:06 to 08:08; an exception ending 08:07 is too short."""
    exc = load_suppressions(write(tmp_path, entry("2024-03-04T08:07:00Z")))
    res = run(tmp_path, exc)
    assert FLEET in {f.subject for f in res.findings}
    assert res.expired == exc


def test_other_subject_does_not_suppress(tmp_path: Path) -> None:
    res = run(tmp_path, load_suppressions(write(tmp_path, entry("2030-01-01", "client-certificate:00"))))
    assert FLEET in {f.subject for f in res.findings} and res.suppressed == []


@pytest.mark.parametrize(("text", "problem"), [
    ("- rule: shared-credential\n  subject: x\n  approver: a\n  reason: r\n",
     ":1:expires: required (an exception needs a rule, subject, approver, reason and expiry)"),
    ("- rule: shared-credential\n  subject: x\n  reason: r\n  expires: 2030-01-01\n", ":1:approver: required"),
    ("- rule: shared-credential\n  subject: x\n  approver: ''\n  reason: r\n  expires: 2030-01-01\n",
     ":1:approver: required"),
    ("- rule: shared-credential\n  subject: x\n  approver: a\n  reason: r\n  expires: next year\n",
     ":1:expires: not a date or ISO time: 'next year'"),
    ("- rule: shared-credentials\n  subject: x\n  approver: a\n  reason: r\n  expires: 2030-01-01\n",
     ":1:rule: unknown rule id 'shared-credentials'"),
    ("- rule: shared-credential\n  subject: x\n  approver: a\n  reason: r\n  expires: 2030-01-01\n  ticket: 1\n",
     ":1:ticket: unknown field (expected rule, subject, approver, reason, expires)"),
    ("- just text\n", ":1:-: entry is not a mapping"),
    ("rule: x\n", ":0:-: expected a list of exceptions (or exceptions: [...])"),
    ("- [\n", ":0:-: cannot read: line"),
])
def test_bad_exceptions(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SuppressionsError) as e:
        load_suppressions(path, load_rules().rules)
    assert any(p.startswith(f"{path}{problem}") for p in e.value.problems), e.value.problems
