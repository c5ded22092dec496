"""The audit report: the hospital scenario's report holds every finding, device and ledger row
with the alerts' numbers; untrusted text renders as text; Chromium opens it from disk with no
console error and no network request."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.analytics import scenario
from tests.analytics.builders import HASHER, cert, client_cert, ep
from tests.browser import chromium, open_page
from tests.conftest import SAMPLES
from trustwatch.analytics.cli import main
from trustwatch.analytics.inventory import load_inventory
from trustwatch.analytics.pipeline import load_rules, run_audit
from trustwatch.analytics.report import build_report, select_runs, write_report
from trustwatch.analytics.state import State

HOSPITAL = SAMPLES / "hospital"
EVIL = '<script>alert("cn")</script>'
SHOWN = r'CN=\<script\>alert(\"cn\")\</script\>'
"""The certificate's subject as the sensor writes it (RFC 4514 escapes `<`, `>` and `"`): what the page must show."""


@pytest.fixture(scope="module")
def hospital(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    where = tmp_path_factory.mktemp("report")
    args = ["audit", str(HOSPITAL), "--inventory", str(HOSPITAL / "inventory.csv"), "--state", str(where / "state.db"),
            "--key-file", str(where / "site.key"), "--remote-access-windows",
            str(HOSPITAL / "remote-access-windows.yaml"), "--alerts", str(where / "alerts.jsonl"),
            "--ledger", str(where / "ledger.jsonl"), "--fail-on", "never", "--report", str(where / "report")]
    assert main(args) == 0
    return {"dir": where / "report", "html": (where / "report" / "report.html").read_text(),
            "md": (where / "report" / "report.md").read_text(),
            "alerts": [json.loads(x) for x in (where / "alerts.jsonl").read_text().splitlines()],
            "ledger": [json.loads(x) for x in (where / "ledger.jsonl").read_text().splitlines()],
            "state": where / "state.db"}


def test_every_finding_device_and_ledger_row_is_in_the_report(hospital: dict[str, Any]) -> None:
    html, md, alerts = hospital["html"], hospital["md"], hospital["alerts"]
    assert len(alerts) == len(json.loads((SAMPLES / "hospital" / "expected-alerts.json").read_text())["alerts"])
    for a in alerts:
        aid = a["event"]["id"]
        assert f'id="alert-{aid}"' in html and f"`{aid}`" in md
        assert f"trustwatch evidence {aid} --state" in html
        for e in a["trustwatch"]["evidence"]:
            assert e["capture"] in html
    presenters = {d["key"] for a in alerts for d in a["trustwatch"]["devices"] if d["role"] == "presenter"}
    for key in presenters:
        assert f'id="device-{key}"' in html, key
    for row in hospital["ledger"]:
        assert f'id="session-{row["event"]["id"]}"' in html
    with (hospital["dir"] / "findings.csv").open() as f:
        assert sorted(r["id"] for r in csv.DictReader(f)) == sorted(a["event"]["id"] for a in alerts)


def test_the_numbers_are_the_alerts(hospital: dict[str, Any]) -> None:
    html, alerts = hospital["html"], hospital["alerts"]
    by_rule = Counter(a["rule"]["id"] for a in alerts)
    table = html.split('<table id="by-rule">', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr><td>([a-z-]+)</td>(.*?)</tr>", table)
    assert {rule: int(re.findall(r'class="num">(\d+)</td>', cells)[-1]) for rule, cells in rows} == by_rule
    assert f"<b>{len(alerts)}</b>findings" in html
    for severity, n in Counter(a["trustwatch"]["severity"] for a in alerts).items():
        assert f'<b>{n}</b><span class="sev sev-{severity}">' in html
    unapproved = sum(not r["trustwatch"]["remote_access"]["approved"] for r in hospital["ledger"])
    assert f"Remote-access ledger ({len(hospital['ledger'])} sessions, {unapproved} unapproved)" in html
    assert ">2</b>unknown devices" in html and ">1</b>retired but active" in html
    assert f"{len(alerts)} new, 0 still open, 0 resolved" in html
    assert html.count("<svg") >= 3 and "http://" not in html.split("<svg", 1)[0].split("<style>")[0]


def test_a_report_from_the_state_again_and_for_a_time_range(hospital: dict[str, Any], tmp_path: Path) -> None:
    assert main(["report", "--state", str(hospital["state"]), "-o", str(tmp_path / "again")]) == 0
    assert main(["report", "--state", str(hospital["state"]), "--since", "2025-03-11", "--until", "2025-03-12",
                 "-o", str(tmp_path / "range")]) == 0
    for name in ("again", "range"):
        html = (tmp_path / name / "report.html").read_text()
        assert all(f'id="alert-{a["event"]["id"]}"' in html for a in hospital["alerts"])
    assert main(["report", "--state", str(hospital["state"]), "--since", "2030-01-01", "-o", str(tmp_path / "x")]) == 2


def escaping_report(tmp_path: Path) -> Path:
    """The scenario plus a stranger whose certificate's CN is a script tag."""
    inv = load_inventory(scenario.write_inventory(tmp_path))
    obs = scenario.observations()
    pacs = ep("10.20.0.200", scenario.mac(0xC8), 443)
    evil = client_cert(obs[-1].ts + 1, ep("10.20.0.66", "02-00-00-00-06-66", 40666), pacs, cert(EVIL))
    with State(tmp_path / "state.db") as state:
        run_audit([*obs, replace(evil)], inv, load_rules(), state, secrets=HASHER)
        report = build_report(state, select_runs(state), "state.db")
        write_report(report, tmp_path / "report")
    return tmp_path / "report"


def test_untrusted_text_renders_as_text(tmp_path: Path) -> None:
    out = escaping_report(tmp_path)
    html = (out / "report.html").read_text()
    assert "<script" not in html
    assert r"CN=\&lt;script\&gt;alert(\&#34;cn\&#34;)\&lt;/script\&gt;" in html
    md = (out / "report.md").read_text()
    assert "<script" not in md and r"CN=\&lt;script\&gt;" in md


@pytest.mark.skipif(chromium() is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_chromium_opens_it_from_disk_without_errors_or_requests(tmp_path: Path) -> None:
    out = escaping_report(tmp_path)
    url = (out / "report.html").resolve().as_uri()
    page = open_page(url)
    assert page.screenshot.startswith(b"\x89PNG\r\n\x1a\n") and len(page.screenshot) > 10_000
    (tmp_path / "shot.png").write_bytes(page.screenshot)
    assert page.console_errors == []
    assert page.requests == [url]
    assert page.scripts == 0 and SHOWN in page.text  # the CN shown as the text it is
    assert "Unknown devices" in page.text and "Remote-access ledger" in page.text
