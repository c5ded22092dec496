"""The engine's summary: counts per rule and the top findings with their devices."""

from __future__ import annotations

from pathlib import Path

from tests.analytics import scenario
from tests.analytics.builders import HASHER
from trustwatch.analytics.inventory import load_inventory
from trustwatch.analytics.pipeline import load_rules, render_summary, run_audit
from trustwatch.analytics.rules import Severity


def test_summary(tmp_path: Path) -> None:
    rules = load_rules()
    inv = load_inventory(scenario.write_inventory(tmp_path))
    res = run_audit(scenario.observations(), inv, rules, secrets=HASHER)
    text = render_summary(res, rules, top=3)
    # The vendor cloud (52.10.1.7) is a far end, not an unknown device.
    assert text.startswith("trustwatch: 49 observations, 55 identity presentations, 19 devices on the site "
                           "(16 in the inventory, 3 unknown), 1 far end off it, "
                           "2024-03-04 08:00 UTC to 2024-03-04 08:30 UTC\n"
                           "Site networks: 10.0.0.0/8, 169.254.0.0/16, fe80::/10 (default: the private blocks "
                           "of the inventory's addresses, and link-local)\n")
    assert "  high      shared-credential                 3\n" in text
    assert "  low       long-lived-certificate            1\n" in text
    # Three best lines, and the headline rules' best lines beyond them (unknown-device is medium).
    assert "Top findings (4 of 19 lines, 21 findings; " in text
    assert "      - VEN-020 (Draeger Evita V500, ICU) [00-1B-4F-00-00-20] registered owner\n" in text
    assert text.endswith("Remote-access sessions (1, 1 unapproved):\n  ! 2024-03-04 08:30 UTC     900 s  MON-010 "
                         "(Philips IntelliVue MX450, Ward 3) -> 52.10.1.7  AnyDesk  [0 B out, 0 B back]  "
                         "inventory approves none for this device, not AnyDesk\n")
    assert "      - INF-005 (BD Alaris 8015, Ward 3) [00-1B-4F-00-00-05, 10.20.0.55] matched by mac\n" in text
    assert res.failing(Severity.HIGH) and res.failing(Severity.LOW) and not res.failing(Severity.CRITICAL)
    assert not res.failing(None)


def test_nothing_found(tmp_path: Path) -> None:
    rules = load_rules()
    res = run_audit([], load_inventory(scenario.write_inventory(tmp_path)), rules, secrets=HASHER)
    text = render_summary(res, rules)
    assert text.startswith("trustwatch: 0 observations, 0 identity presentations, 0 devices")
    assert text.endswith("No findings.\n")
    assert set(res.summary.values()) == {0} and not res.failing(Severity.LOW)
