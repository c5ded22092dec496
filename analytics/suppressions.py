"""Exceptions: the only way to silence a finding, and only until they expire.

A YAML file with a list (or `exceptions:` holding one) of entries:

    - rule: shared-credential
      subject: "secret:9f86d081884c7d65..."   # the finding's subject (trustwatch.subject)
      approver: Dr. A. Meyer (biomed)
      reason: Vendor fleet password, replacement scheduled (CHG-4711)
      expires: 2025-06-30                     # a date (valid through that day, UTC) or ISO time

Expiry is judged at **packet time**, like the certificate rules: an exception suppresses a
finding only if every occurrence (its last_seen) precedes the expiry, so re-analysing a
capture gives the same answer whenever it is run. An exception whose expiry lies before the
run's newest packet is reported as expired. Every field is required; no wildcards.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from ..sensor.yamlfile import YamlError, load_yaml
from .findings import Finding

FIELDS = ("rule", "subject", "approver", "reason", "expires")


class SuppressionsError(Exception):
    """The exceptions file cannot be used; `problems` are `file:entry:field: message` lines."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Suppression:
    """An approved exception to one rule for one subject."""

    rule: str
    subject: str
    approver: str
    reason: str
    expires: datetime
    """Aware UTC; the exception stops suppressing at this instant."""
    source: str = ""
    """`file:entry` for messages."""

    def covers(self, finding: Finding) -> bool:
        """Same rule and subject, and every occurrence before the expiry (packet time)."""
        return self.matches(finding) and finding.last_seen < self.expires.timestamp()

    def matches(self, finding: Finding) -> bool:
        """Same rule and subject, whatever the expiry."""
        return finding.rule_id == self.rule and finding.subject == self.subject


def load_suppressions(path: str | Path, rule_ids: Iterable[str] | None = None) -> list[Suppression]:
    """All exceptions of `path`, or SuppressionsError with every problem (unknown rule ids too)."""
    name = str(path)
    try:
        doc = load_yaml(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, YamlError) as e:
        raise SuppressionsError([f"{name}:0:-: cannot read: {e}"]) from None
    if isinstance(doc, dict) and set(doc) == {"exceptions"}:
        doc = doc["exceptions"]
    if doc is None:
        return []
    if not isinstance(doc, list):
        raise SuppressionsError([f"{name}:0:-: expected a list of exceptions (or exceptions: [...])"])
    known = set(rule_ids) if rule_ids is not None else None
    problems: list[str] = []
    out = []
    for n, entry in enumerate(doc, 1):
        if not isinstance(entry, dict):
            problems.append(f"{name}:{n}:-: entry is not a mapping")
            continue
        bad = len(problems)
        for key in entry:
            if key not in FIELDS:
                problems.append(f"{name}:{n}:{key}: unknown field (expected {', '.join(FIELDS)})")
        for key in FIELDS:
            if entry.get(key) in (None, ""):
                problems.append(f"{name}:{n}:{key}: required (an exception needs a rule, subject, "
                                f"approver, reason and expiry)")
        rule = str(entry.get("rule") or "")
        if rule and known is not None and rule not in known:
            problems.append(f"{name}:{n}:rule: unknown rule id {rule!r}")
        expires = _expiry(entry.get("expires"))
        if entry.get("expires") not in (None, "") and expires is None:
            problems.append(f"{name}:{n}:expires: not a date or ISO time: {entry.get('expires')!r}")
        if len(problems) == bad and expires is not None:
            out.append(Suppression(rule, str(entry["subject"]), str(entry["approver"]),
                                     str(entry["reason"]), expires, f"{name}:{n}"))
    if problems:
        raise SuppressionsError(problems)
    return out


def _expiry(value: Any) -> datetime | None:
    """A date means through that day (UTC): the exception ends at the next midnight."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC) + timedelta(days=1)
    if isinstance(value, str):
        try:
            return _expiry(date.fromisoformat(value))
        except ValueError:
            pass
        try:
            return _expiry(datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


def apply_suppressions(
    findings: Sequence[Finding], exceptions: Sequence[Suppression], clock: float
) -> tuple[list[Finding], list[tuple[Finding, Suppression]], list[Suppression]]:
    """(kept, suppressed with the exception that did it, expired as of `clock`)."""
    kept: list[Finding] = []
    suppressed: list[tuple[Finding, Suppression]] = []
    for f in findings:
        by = next((e for e in exceptions if e.covers(f)), None)
        if by is None:
            kept.append(f)
        else:
            suppressed.append((f, by))
    expired = [e for e in exceptions if e.expires.timestamp() <= clock]
    return kept, suppressed, expired
