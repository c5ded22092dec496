"""Default credentials that are accepted (issue 16, point 2): `default-credential` (high) only
when a published default was accepted; tried and refused, unanswered or sent where no answer
comes is `default-credential-attempt` (low), one finding per source, with the refusal as evidence.

On crafted observations (SNMP with the agent's answer in band and with the sensor's outcome
records, FTP with its outcome records) and on the real SNMP captures.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from tests.analytics.builders import T0, credential, ep
from tests.analytics.test_ownership import NMS, agent, audit, notify, poll
from tests.conftest import needs_real_pcaps
from trustwatch.analytics.findings import Finding, Role
from trustwatch.analytics.hostroles import DeclaredRole, HostRole
from trustwatch.analytics.inventory import Inventory
from trustwatch.analytics.pipeline import AuditResult, load_rules, run_audit
from trustwatch.sensor.records import AuthenticationOutcome, Evidence, Observation, Outcome, Proto, SecretKind
from trustwatch.sensor.secrets import SecretHasher
from trustwatch.sensor.sense import Sensor
from trustwatch.sensor.yamlfile import RULES_DIR


def by_rule(result: AuditResult, rule_id: str) -> list[Finding]:
    return [f for f in result.findings if f.rule_id == rule_id]


@pytest.mark.parametrize("outcomes", [False, True], ids=["answer-in-band", "sensor-outcomes"])
def test_public_answered_by_one_agent_is_accepted_the_rest_of_the_scan_is_an_attempt(
        tmp_path: Path, outcomes: bool) -> None:
    observations = [*poll(NMS, agent(1), "public", outcomes=outcomes),
                    *(o for n in (2, 3, 4) for o in poll(NMS, agent(n), "public", answered=False, outcomes=outcomes))]
    result = audit(tmp_path, observations)
    [accepted] = by_rule(result, "default-credential")
    assert accepted.severity.value == "high"
    assert [(d.asset_id, d.role) for d in accepted.devices] == [("AG-1", Role.ACCEPTOR), ("NMS-01", Role.PRESENTER)]
    assert ("was accepted over snmp by AG-1 (BD Alaris, ICU), presented by NMS-01 (Paessler PRTG, IT)."
            in accepted.message)
    [tried] = by_rule(result, "default-credential-attempt")
    assert (tried.subject, tried.severity.value, tried.count) == ("source:asset:NMS-01", "low", 3)
    assert [d.asset_id for d in tried.devices] == ["NMS-01"]
    assert "3 time(s) against 3 device(s): AG-2 (BD Alaris, ICU), AG-3 (BD Alaris, ICU), AG-4 " in tried.message
    assert ("3 unanswered" if outcomes else "3 with no answer reported") in tried.message
    assert " (poller: SNMP requests to 4 agents) " in tried.message and by_rule(result, "shared-credential") == []


def test_a_refusal_is_the_evidence_of_the_attempt(tmp_path: Path) -> None:
    refused = poll(NMS, agent(1), "public", outcomes=True, refused=True)
    answer = refused[-1]
    assert isinstance(answer, AuthenticationOutcome)
    refused[-1] = replace(answer, evidence=Evidence("snmp.pcap", (77,)))
    result = audit(tmp_path, refused)
    assert by_rule(result, "default-credential") == []
    [tried] = by_rule(result, "default-credential-attempt")
    assert "1 refused (authorizationError)" in tried.message and " (a scan)" not in tried.message
    scan = [o for n in (1, 2) for o in poll(NMS, agent(n), "public", answered=False)]
    assert " (a scan) " in by_rule(audit(tmp_path, scan), "default-credential-attempt")[0].message
    assert 77 in [f for ev in tried.evidence for f in ev.frames]


def test_a_trap_asks_no_answer_so_its_default_community_is_an_attempt(tmp_path: Path) -> None:
    result = audit(tmp_path, notify(agent(5), NMS, "public"))
    assert by_rule(result, "default-credential") == []
    [tried] = by_rule(result, "default-credential-attempt")
    assert tried.subject == "source:asset:AG-5" and "sent in a notification, which asks no answer" in tried.message


def test_a_recognised_poller_is_named_as_such(tmp_path: Path) -> None:
    observations = [o for n in (1, 2, 3) for o in poll(NMS, agent(n), "private", answered=False)]
    result = audit(tmp_path, observations, [DeclaredRole("10.50.9.5", HostRole.POLLER)])
    [tried] = by_rule(result, "default-credential-attempt")
    assert tried.message.startswith("NMS-01 (Paessler PRTG, IT) (poller: site file) tried the published default "
                                    "credential of any SNMP agent v1/v2c write community")


def test_a_login_with_a_factory_password_accepted_or_refused(tmp_path: Path) -> None:
    printer = ep("10.50.3.7", "00-00-AA-50-03-07", 21)

    def login(attempt_outcome: Outcome, code: str, n: int) -> list[Observation]:
        cred = replace(credential(T0 + n, agent(n), printer, "admin", "1111"), attempt=1)
        return [cred, AuthenticationOutcome(ts=T0 + n + 0.1, flow=cred.flow, protocol=Proto.FTP, attempt=1,
                                            outcome=attempt_outcome, reason_code=code)]

    result = audit(tmp_path, [*login(Outcome.FAILURE, "530", 1), *login(Outcome.SUCCESS, "230", 2)])
    [accepted] = by_rule(result, "default-credential")
    assert [(d.key, d.role) for d in accepted.devices] == [("mac:00-00-AA-50-03-07", Role.ACCEPTOR),
                                                           ("asset:AG-2", Role.PRESENTER)]
    assert "Xerox WorkCentre (user 'admin'; " in accepted.message
    [tried] = by_rule(result, "default-credential-attempt")
    assert tried.subject == "source:asset:AG-1" and "1 refused (530)" in tried.message


def test_both_rules_use_one_list_of_defaults() -> None:
    rules = load_rules()
    assert rules.get("default-credential").params == rules.get("default-credential-attempt").params
    doc = yaml.safe_load((RULES_DIR / "credentials.yaml").read_text())
    entries = {r["id"]: r for r in doc["rules"]}
    assert entries["default-credential"]["params"]["defaults"] is entries["default-credential-attempt"]["params"][
        "defaults"], "one YAML anchor, not two lists"


# --- the real captures ---------------------------------------------------------------------------


KEY = SecretHasher(b"real-captures-site-key-32-bytes!")


def real_audit(path: Path, rules_dir: Path = RULES_DIR) -> AuditResult:
    return run_audit(Sensor(secrets=KEY).read(str(path)), Inventory(), load_rules(rules_dir), secrets=KEY)


@needs_real_pcaps
def test_zeek_a_poller_and_its_one_agent_public_accepted_not_shared(real_pcaps: Path) -> None:
    """Zeek's snmpv1_get: 172.31.19.54 asks 172.31.19.73 with "public" thirty times; the agent answers
    all but two (retries that timed out at an agent that accepts it are no attempt)."""
    result = real_audit(real_pcaps / "zeek/snmp/snmpv1_get.pcap")
    assert by_rule(result, "shared-credential") == []
    [accepted] = by_rule(result, "default-credential")
    assert [(d.ips, d.role) for d in accepted.devices] == [(("172.31.19.73",), Role.ACCEPTOR),
                                                           (("172.31.19.54",), Role.PRESENTER)]
    assert by_rule(result, "default-credential-attempt") == []


@needs_real_pcaps
def test_ndpi_public_answered_by_three_agents_is_shared_and_accepted_a_trap_is_an_attempt(real_pcaps: Path) -> None:
    """nDPI's snmp.pcap: three agents answer "public" and a fourth traps with it (held, not
    accepted); the two pollers asking are neither holders nor sharers."""
    result = real_audit(real_pcaps / "ndpi/tests/cfgs/default/pcap/snmp.pcap")
    public = KEY.fingerprint(SecretKind.COMMUNITY, "public").value
    [shared] = [f for f in by_rule(result, "shared-credential") if f.subject == f"secret:{public}"]
    assert sorted(ip for d in shared.devices for ip in d.ips) == ["10.100.253.146", "130.70.149.185",
                                                                  "200.76.132.137", "97.0.115.163"]
    [accepted] = by_rule(result, "default-credential")
    assert {ip for d in accepted.devices if d.role is Role.ACCEPTOR for ip in d.ips} == {
        "10.100.253.146", "130.70.149.185", "97.0.115.163"}
    assert {f.subject for f in by_rule(result, "default-credential-attempt")} == {"source:mac:00-00-00-42-88-22"}


@needs_real_pcaps
def test_suricata_v1_trap_with_public_is_only_an_attempt(real_pcaps: Path) -> None:
    trap = ("suricata-verify/firewall/ruletype-firewall-54-snmp-v1-trap/"
            "public-wiresharkwiki-c06-snmpv1-trap-app-r1-1-12.pcap")
    result = real_audit(real_pcaps / trap)
    assert by_rule(result, "default-credential") == []
    [tried] = by_rule(result, "default-credential-attempt")
    assert "192.168.0.2" in tried.message and "sent in a notification, which asks no answer" in tried.message


@needs_real_pcaps
def test_lab_communities_accepted_as_net_snmp_accepted_them(real_pcaps: Path, tmp_path: Path) -> None:
    """The lab's snmpd accepted wen-ro-574 (v1) and nkU+KbprFuqHVm (v2c) and left public98 unanswered
    (its `expected_ok`): listed as published defaults in a copy of the rules, the first two are
    accepted and the third only tried."""
    truth = json.loads((real_pcaps / "lab/expected.json").read_text())["snmp.pcap"]["credentials"]
    communities = {c["community"]: c["expected_ok"] for c in truth if "community" in c}
    rules = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules, ignore=shutil.ignore_patterns("__*"))
    text = (rules / "credentials.yaml").read_text()
    extra = "".join(f'        - {{vendor: lab, product: "{c}", password: "{c}", source: lab}}\n' for c in communities)
    (rules / "credentials.yaml").write_text(text.replace("      defaults: &published_defaults\n",
                                                         "      defaults: &published_defaults\n" + extra))
    result = real_audit(real_pcaps / "lab/snmp.pcap", rules)
    accepted = {f.message.split("of lab ", 1)[1].split(" (", 1)[0] for f in by_rule(result, "default-credential")}
    tried = {f.message.split("of lab ", 1)[1].split(" (", 1)[0] for f in by_rule(result, "default-credential-attempt")}
    assert accepted == {c for c, ok in communities.items() if ok}
    assert tried == {c for c, ok in communities.items() if not ok}
    assert by_rule(result, "shared-credential") == []
