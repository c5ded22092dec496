"""What the scenario tests share: run `trustwatch audit` on a generated scenario as a user runs it,
and measure each rule's precision and recall against the alerts its generator planted.

A scenario directory holds the captures, `inventory.csv`, `remote-access-windows.yaml` and
`expected-alerts.json` (alerts and near misses, each with why; `{fingerprint:S}` stands for the
keyed fingerprint of secret S under the audit's site key). An alert only a sensor reporting the
outcomes of one protocol can raise names that protocol (`needs_outcomes`) and the alert raised
until then (`until_then`), so the test holds before and after the sensor learns it.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from trustwatch.analytics.cli import main
from trustwatch.sensor.records import AuthenticationOutcome, SecretKind
from trustwatch.sensor.secrets import SecretHasher
from trustwatch.sensor.sense import Sensor


def audit(directory: Path, tmp_path: Path, *extra: str, paths: tuple[str, ...] = (),
          inventory: Path | None = None) -> tuple[int, list[dict[str, Any]]]:
    """Exit status and alerts of `trustwatch audit` on the scenario in `directory`."""
    alerts = tmp_path / "alerts.jsonl"
    code = main(["audit", *(paths or (str(directory),)), "--inventory", str(inventory or directory / "inventory.csv"),
                 "--state", str(tmp_path / "state.db"), "--alerts", str(alerts), "--key-file",
                 str(tmp_path / "site.key"), "--remote-access-windows",
                 str(directory / "remote-access-windows.yaml"), *extra])
    docs = [json.loads(line) for line in alerts.read_text().splitlines()] if alerts.exists() else []
    return code, docs


def subject(planted: str, key: Path) -> str:
    """An expected subject with `{fingerprint:S}` made under the audit's site key."""
    hasher = SecretHasher(key.read_bytes())
    return re.sub(r"\{fingerprint:(.*)\}", lambda m: hasher.fingerprint(SecretKind.PASSWORD, m[1]).value, planted)


def answered_protocols(directory: Path) -> set[str]:
    """The protocols whose authentication outcomes the sensor reports in the scenario's captures."""
    captures = sorted(p for p in directory.iterdir() if p.suffix in (".pcap", ".pcapng"))
    return {str(o.protocol) for c in captures for o in Sensor().read(str(c)) if isinstance(o, AuthenticationOutcome)}


def planted_alerts(expected: dict[str, Any], answered: set[str]) -> list[dict[str, Any]]:
    """The alerts the audit must raise with this sensor: each planted alert, or the one raised
    until the sensor reports the outcomes it needs."""
    return [a if a.get("needs_outcomes", "") in answered or "needs_outcomes" not in a else a["until_then"]
            for a in expected["alerts"]]


def figures(docs: list[dict[str, Any]], planted: list[dict[str, Any]], key: Path,
            rule_ids: set[str]) -> dict[str, tuple[float, float, int]]:
    """Rule id -> (precision, recall, planted alerts) of the audit's alerts `docs`; a rule with
    neither planted nor raised alerts scores 1.0 and 1.0."""
    want: dict[str, set[str]] = defaultdict(set)
    for a in planted:
        want[a["rule"]].add(subject(a["subject"], key))
    got: dict[str, set[str]] = defaultdict(set)
    for doc in docs:
        got[doc["rule"]["id"]].add(doc["trustwatch"]["subject"])
    out = {}
    for rule in sorted(rule_ids | set(got)):
        hits = len(want[rule] & got[rule])
        out[rule] = (hits / len(got[rule]) if got[rule] else 1.0, hits / len(want[rule]) if want[rule] else 1.0,
                     len(want[rule]))
    return out


def misses(docs: list[dict[str, Any]], planted: list[dict[str, Any]], key: Path) -> str:
    """What differs, for an assertion message."""
    want = {(a["rule"], subject(a["subject"], key)) for a in planted}
    got = {(d["rule"]["id"], d["trustwatch"]["subject"]) for d in docs}
    return f"raised but not planted: {sorted(got - want)}; planted but not raised: {sorted(want - got)}"
