"""`unrotated-credential`: three audits of one site with its state, the rule firing only past
the policy's age; the first audit saying it cannot know the age instead of guessing;
certificates judged by their notBefore on any audit; policies per department and device class."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

from tests.analytics.builders import HASHER, T0, cert, client_cert, credential, ep, login
from trustwatch.analytics.inventory import Inventory, load_inventory
from trustwatch.analytics.pipeline import AuditResult, load_rules, render_summary, run_audit
from trustwatch.analytics.rules import RuleSet
from trustwatch.analytics.state import State
from trustwatch.sensor.flowid import Endpoint
from trustwatch.sensor.records import Observation, SecretKind
from trustwatch.sensor.yamlfile import RULES_DIR

DAY = 86400.0
RULE = "unrotated-credential"
INVENTORY = """\
asset_id,mac,ip,status,department,clinical_function,manufacturer,model
MON-010,00:1b:4f:00:00:10,10.20.0.10,active,Ward 3,monitoring,Philips,MX450
MON-011,00:1b:4f:00:00:11,10.20.0.11,active,Ward 3,monitoring,Philips,MX450
VEN-020,00:1b:4f:00:00:20,10.20.0.20,active,ICU,ventilation,Draeger,V500
INF-030,00:1b:4f:00:00:30,10.20.0.30,active,Ward 3,infusion,BD,Alaris
"""
FTP = ep("10.20.0.201", "00-1B-4F-00-00-C9", 21)
PACS = ep("10.20.0.200", "00-1B-4F-00-00-C8", 443)
OLD_CERT = cert("ven-020.icu", not_before="2018-01-01", not_after="2028-01-01")
"""Issued six years before the first audit: past the five-year policy already."""
RECENT_CERT = cert("inf-030.ward3", not_before="2021-06-01", not_after="2031-06-01")
EXPIRED_CERT = cert("mon-011.old", not_before="2017-01-01", not_after="2023-01-01")


def host(n: int) -> Endpoint:
    return ep(f"10.20.0.{n}", f"00-1B-4F-00-00-{n:02X}", 40000 + n)


def morning(day: float, mon011_password: str) -> list[Observation]:
    """One morning of the site, `day` days after the first: MON-010 and VEN-020 export with their
    passwords (never rotated), MON-011 with `mon011_password`; certificates to the PACS."""
    ts = T0 + day * DAY
    return [
        credential(ts, host(0x10), FTP, "trend", "mon010-2019"),
        credential(ts + 60, host(0x11), FTP, "trend11", mon011_password),
        credential(ts + 120, host(0x20), FTP, "ventlog", "vent-2020"),
        credential(ts + 150, host(0x20), FTP, "ventlog", "kerberos-like", SecretKind.HASH),
        client_cert(ts + 180, host(0x20), PACS, OLD_CERT),
        client_cert(ts + 240, host(0x30), PACS, RECENT_CERT),
        client_cert(ts + 300, host(0x11), PACS, EXPIRED_CERT),
    ]


def three_audits(tmp_path: Path, rules: RuleSet) -> list[AuditResult]:
    """Day 0, day 200 (MON-011 rotated its password before it), day 400, with one state."""
    inv_path = tmp_path / "inventory.csv"
    inv_path.write_text(INVENTORY)
    inv = load_inventory(inv_path)
    results = []
    for day, password in ((0, "mon011-A"), (200, "mon011-B"), (400, "mon011-B")):
        with State(tmp_path / "state.db") as state:
            results.append(run_audit(morning(day, password), inv, rules, state, source=f"day-{day}.pcap",
                                     secrets=HASHER))
    return results


def subjects(result: AuditResult) -> dict[str, str]:
    return {f.subject: f.message for f in result.findings if f.rule_id == RULE}


def fp(secret: str) -> str:
    return HASHER.fingerprint(SecretKind.PASSWORD, secret).value


def test_three_audits_fire_only_past_the_policy_age(tmp_path: Path) -> None:
    rules = load_rules()
    first, second, third = three_audits(tmp_path, rules)
    old_cert = f"client-certificate:{OLD_CERT.sha256}"
    # Day 0: the certificate's age is known from its notBefore; the secrets' ages are not.
    assert set(subjects(first)) == {old_cert}
    assert subjects(first)[old_cert].startswith(
        "The client certificate CN=ven-020.icu,O=St. Example Hospital (sha256 ")
    assert ("has been in use for 6.2 years: since 2018-01-01 (its notBefore), still presented on 2024-03-04 by "
            "VEN-020 (Draeger V500, ICU); the policy for certificates is 1825 days.") in subjects(first)[old_cert]
    caveat = ("Credential ages: first audit of this site (no earlier run in the state), so how long each of the 4 "
              "secret(s) seen was in use before it is unknown; they count as in use since 2024-03-04 08:00 UTC and "
              "their rotation is judged from a later audit (certificates: by their notBefore).\n")
    assert caveat in render_summary(first, rules)
    # Day 200: within the policy; a later audit says nothing about ages.
    assert set(subjects(second)) == {old_cert}
    assert "Credential ages" not in render_summary(second, rules)
    # Day 400: the passwords seen since the first audit are past 365 days; MON-011 rotated its own.
    third_found = subjects(third)
    assert set(third_found) == {old_cert, f"secret:{fp('mon010-2019')}", f"secret:{fp('vent-2020')}"}
    assert ("has been in use for 400 days: since 2024-03-04 (the first audit that saw it; it may be older), still "
            "presented on 2025-04-08 by MON-010 (Philips MX450, Ward 3); the policy for passwords is 365 days."
            ) in third_found[f"secret:{fp('mon010-2019')}"]
    causes = {f.cause for f in third.findings if f.rule_id == RULE}
    assert causes == {"certificates not rotated", "passwords not rotated"}


def tuned(tmp_path: Path, extra: str) -> RuleSet:
    rules_dir = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules_dir)
    path = rules_dir / "authentication.yaml"
    text = path.read_text()
    path.write_text(text.replace("      device_classes: {}    # clinical function -> {kind: days}, e.g. "
                                 "{infusion: {certificate: 1095}}\n", "")
                    .replace("      departments: {}       # department -> {kind: days}, e.g. {ICU: {password: 180}}\n",
                             extra))
    return load_rules(rules_dir)


def test_policies_per_department_and_device_class(tmp_path: Path) -> None:
    """ICU passwords live 180 days, ventilators' 150 (the device class wins); infusion devices'
    certificates three years (RECENT_CERT is 2.8 years old on day 0, 3.3 on day 200)."""
    rules = tuned(tmp_path, "      departments: {icu: {password: 180}}\n"
                            "      device_classes: {Ventilation: {password: 150}, infusion: {certificate: 1095}}\n")
    first, second, _third = three_audits(tmp_path, rules)
    assert set(subjects(first)) == {f"client-certificate:{OLD_CERT.sha256}"}
    got = subjects(second)
    assert set(got) == {f"client-certificate:{OLD_CERT.sha256}", f"client-certificate:{RECENT_CERT.sha256}",
                        f"secret:{fp('vent-2020')}"}
    assert got[f"secret:{fp('vent-2020')}"].endswith("the policy for passwords of ventilation devices is 150 days.")
    assert got[f"client-certificate:{RECENT_CERT.sha256}"].endswith(
        "the policy for certificates of infusion devices is 1095 days.")


def test_a_shared_secret_takes_the_strictest_policy(tmp_path: Path) -> None:
    rules = tuned(tmp_path, "      departments: {icu: {password: 30}}\n")
    obs = [credential(T0, host(0x10), FTP, "shared", "one-for-all"),
           credential(T0 + 45 * DAY, host(0x20), FTP, "shared", "one-for-all")]
    inv_path = tmp_path / "inventory.csv"
    inv_path.write_text(INVENTORY)
    result = run_audit(obs, load_inventory(inv_path), rules, secrets=HASHER)
    [f] = [f for f in result.findings if f.rule_id == RULE]
    assert f.message.endswith("the policy for passwords in ICU is 30 days.")


def test_a_refused_secret_is_not_in_use() -> None:
    """A password refused over a year of observations (a device retrying a wrong one) is no
    credential in use; accepted, it is."""
    def year(ok: bool) -> list[Observation]:
        return [*login(T0, host(0x10), FTP, "trend", "wrong", ok), *login(T0 + 366 * DAY, host(0x10), FTP, "trend",
                                                                          "wrong", ok)]

    rules = load_rules()
    assert not [f for f in run_audit(year(False), Inventory(), rules, secrets=HASHER).findings if f.rule_id == RULE]
    assert [f.rule_id for f in run_audit(year(True), Inventory(), rules, secrets=HASHER).findings
            if f.rule_id == RULE] == [RULE]


def test_without_state_a_run_longer_than_the_policy_still_counts() -> None:
    """An observation file spanning more than a year needs no history."""
    obs = [credential(T0, host(0x10), FTP, "trend", "pw"), replace(
        credential(T0, host(0x10), FTP, "trend", "pw"), ts=T0 + 366 * DAY)]
    result = run_audit(obs, Inventory(), load_rules(), secrets=HASHER)
    assert [f.rule_id for f in result.findings if f.rule_id == RULE] == [RULE]
