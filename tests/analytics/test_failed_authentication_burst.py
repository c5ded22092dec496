"""`failed-authentication-burst` on crafted logons and their answers: guessing, spraying, many
sources, a stale credential after a rotation, each beside the near misses that must stay silent;
and the lab's real FTP capture (one wrong password, then the right one from another host)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.analytics.builders import T0, answered, credential, ep, evidence, fingerprint, flow, login
from tests.conftest import needs_real_pcaps
from trustwatch.analytics.correlate import correlate
from trustwatch.analytics.detections import failed_authentication_burst as burst
from trustwatch.analytics.detections.base import Context
from trustwatch.analytics.findings import Finding
from trustwatch.analytics.inventory import Inventory
from trustwatch.analytics.pipeline import load_rules
from trustwatch.analytics.rules import RuleError, Severity
from trustwatch.sensor.flowid import Direction, Endpoint
from trustwatch.sensor.records import AuthenticationOutcome, CredentialSeen, Observation, Outcome, Proto, SecretKind
from trustwatch.sensor.secrets import SecretHasher
from trustwatch.sensor.sense import Sensor
from trustwatch.sensor.yamlfile import RULES_DIR

RULES = load_rules()
FTP = ep("10.10.5.40", "00-00-0C-9F-F0-14", 21)
MINUTE = 60.0


def device(n: int) -> str:
    return f"00-1B-4F-00-10-{n:02X}"


def client(n: int, port: int = 40000) -> Endpoint:
    return ep(f"10.20.1.{n}", device(n), port)


def found(observations: Sequence[Observation], rules_dir: Path | None = None) -> list[Finding]:
    rules = load_rules(rules_dir) if rules_dir else RULES
    inventory = Inventory()
    ctx = Context(correlate(observations, inventory), inventory)
    return [f for f in burst.detect(ctx, rules.get(burst.RULE_ID))]


def logins(n: int, start: float, step: float, user: str, secrets: Sequence[str | None], ok: bool | None,
           server: Endpoint = FTP) -> list[Observation]:
    """Device n logging in as `user` once per secret, `step` seconds apart."""
    out: list[Observation] = []
    for i, secret in enumerate(secrets):
        out += login(start + i * step, client(n, 40000 + i), server, user, secret, ok)
    return out


# --- guessing ---------------------------------------------------------------------------------


def test_guessing_five_different_passwords_in_ten_minutes() -> None:
    obs = logins(7, T0, MINUTE, "admin", [f"guess-{i}" for i in range(6)], ok=False)
    [f] = found(obs)
    assert f.subject == f"guessing:mac:{device(7)}|account:admin@10.10.5.40"
    assert (f.count, f.severity, f.outcome, f.cause) == (6, Severity.MEDIUM, Outcome.FAILURE, "guessing")
    assert f.message.startswith("unknown 10.20.1.7 (00-1B-4F-00-10-07) was refused 6 time(s) as 'admin' at "
                                "10.10.5.40 (FTP) with 6 different secret(s) (6 within 10 minutes at the peak")
    assert f.message.endswith("; refused with 530 Login incorrect.")
    frames = {n for o in obs for n in o.evidence.frames}
    assert set(f.evidence[0].frames) == frames, "each login's frame and its answer's"
    assert (f.first_seen, f.last_seen) == (T0, T0 + 5 * MINUTE)


def test_guessing_that_ends_in_acceptance_is_high() -> None:
    obs = logins(7, T0, 20.0, "admin", [f"guess-{i}" for i in range(5)], ok=False)
    obs += login(T0 + 200, client(7, 41000), FTP, "admin", "guess-right", ok=True)
    [f] = found(obs)
    assert (f.severity, f.outcome, f.count) == (Severity.HIGH, Outcome.SUCCESS, 6)
    assert "Then it was accepted at 2024-03-04 08:03 UTC: the guess may have worked." in f.message


def test_near_misses_of_guessing_stay_silent() -> None:
    typo = logins(8, T0, 5.0, "biomed", ["Ph1lips1"], ok=False) + logins(8, T0 + 10, 5.0, "biomed", ["Ph1lips!"], True)
    four = logins(9, T0, MINUTE, "admin", [f"guess-{i}" for i in range(4)], ok=False)
    slow = logins(10, T0, 4 * MINUTE, "admin", [f"guess-{i}" for i in range(6)], ok=False)  # 3 per 10 minutes
    retry = logins(11, T0, MINUTE, "export", ["stored"] * 8, ok=False)  # one secret, never accepted anywhere
    unanswered = logins(12, T0, MINUTE, "admin", [f"guess-{i}" for i in range(6)], ok=None)
    assert found(typo + four + slow + retry + unanswered) == []


def test_challenge_responses_count_as_different_secrets() -> None:
    """Kerberos pre-authentication shows no secret to compare: each refusal counts."""
    kdc = ep("10.10.1.10", None, 88)
    obs: list[Observation] = []
    for i in range(5):
        cred = credential(T0 + i * MINUTE, client(13, 40000 + i), kdc, "jsmith", None, SecretKind.HASH, "kerberos")
        obs += answered(cred, Outcome.FAILURE, "KDC_ERR_PREAUTH_FAILED", "pre-authentication failed")
    [f] = found(obs)
    assert f.subject == f"guessing:mac:{device(13)}|account:jsmith@10.10.1.10"
    assert "with 5 different secret(s)" in f.message and "KDC_ERR_PREAUTH_FAILED" in f.message


def test_many_attempts_on_one_connection() -> None:
    """A brute forcer sends USER/PASS after USER/PASS on one FTP connection: attempts 1..6."""
    conn = flow(client(14), FTP)
    obs: list[Observation] = []
    for n in range(1, 7):
        ts = T0 + n * 3
        obs.append(CredentialSeen(ts=ts, flow=conn, protocol=Proto.FTP, evidence=evidence(), presenter=Direction.ORIG,
                                  username="root", secret_kind=SecretKind.PASSWORD, secret_fp=f"{n:064x}",
                                  secret_hint="password, 8 bytes", mechanism="USER/PASS", attempt=n))
        obs.append(AuthenticationOutcome(ts=ts + 1, flow=conn, protocol=Proto.FTP, evidence=evidence(), attempt=n,
                                         outcome=Outcome.FAILURE, reason_code="530"))
    [f] = found(obs)
    assert f.count == 6 and f.subject.startswith("guessing:")


# --- spraying, many sources ----------------------------------------------------------------------


def test_spraying_one_password_against_five_accounts() -> None:
    obs: list[Observation] = []
    for i, user in enumerate(["root", "admin", "biomed", "service", "backup"]):
        obs += login(T0 + i * 30, client(20, 40000 + i), FTP, user, "Spring2025!", ok=False)
    [f] = found(obs)
    assert (f.subject, f.count, f.cause) == (f"spraying:mac:{device(20)}", 5, "spraying")
    assert "was refused for 5 accounts over FTP" in f.message
    assert "root@10.10.5.40, admin@10.10.5.40, biomed@10.10.5.40, service@10.10.5.40, backup@10.10.5.40" in f.message
    assert found(obs[:-2]) == [], "four accounts"


def test_a_poller_whose_one_agent_refuses_it_stays_silent() -> None:
    """The NMS polls six agents every minute; one was never given its community."""
    obs: list[Observation] = []
    for poll in range(10):
        for agent in range(6):
            where = ep(f"10.20.3.{agent}", None, 161)
            obs += login(T0 + poll * MINUTE + agent, client(30, 40000 + poll * 10 + agent), where, None, "h0sp-RO",
                         ok=agent != 5, kind=SecretKind.COMMUNITY, protocol="snmp")
    assert found(obs) == []


def test_one_account_refused_for_three_devices() -> None:
    obs: list[Observation] = []
    for n in (40, 41, 42):
        obs += login(T0 + n, client(n), FTP, "ventlog", f"old-{n}", ok=False)
    [f] = found(obs)
    assert (f.subject, f.cause) == ("many-sources:account:ventlog@10.10.5.40", "one account refused for many devices")
    assert [d.key for d in f.devices] == [f"mac:{device(n)}" for n in (40, 41, 42)]
    assert found(obs[:4]) == [], "two devices"


# --- a stale credential after a rotation -------------------------------------------------------------


def test_stale_after_another_secret_of_the_account_was_accepted() -> None:
    """LAB-01 logs in with the old password; the password is rotated, LAB-02 gets in with the new
    one, LAB-01 keeps trying the old one."""
    obs = login(T0, client(50), FTP, "cobas", "old", ok=True)
    obs += login(T0 + 10 * MINUTE, client(51), FTP, "cobas", "new", ok=True)
    obs += logins(50, T0 + 15 * MINUTE, 5 * MINUTE, "cobas", ["old"] * 4, ok=False)
    [f] = found(obs)
    fp = fingerprint("old")
    assert f.subject == f"stale:mac:{device(50)}|account:cobas@10.10.5.40|secret:{fp}"
    assert (f.count, f.cause, f.outcome) == (4, "stale credential after a rotation", Outcome.FAILURE)
    assert "after it was accepted at 2024-03-04 08:00 UTC and another password of the account was accepted at " \
           "2024-03-04 08:10 UTC from unknown 10.20.1.51" \
        in f.message


def test_stale_after_the_same_secret_was_accepted() -> None:
    obs = login(T0, client(52), FTP, "cobas", "old", ok=True)
    obs += logins(52, T0 + 30 * MINUTE, 20 * MINUTE, "cobas", ["old"] * 3, ok=False)
    [f] = found(obs)
    assert "after it was accepted at 2024-03-04 08:00 UTC" in f.message


def test_near_misses_of_stale_stay_silent() -> None:
    before = logins(53, T0, MINUTE, "cobas", ["old"] * 3, ok=False) + login(T0 + 300, client(54), FTP, "cobas",
                                                                           "new", ok=True)
    twice = login(T0, client(55), FTP, "lisexp", "old", ok=True) + logins(55, T0 + 600, 600, "lisexp", ["old"] * 2,
                                                                         ok=False)
    assert found(before + twice) == []


# --- thresholds from the rules ----------------------------------------------------------------------


def test_thresholds_come_from_the_rules(tmp_path: Path) -> None:
    rules_dir = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules_dir)
    path = rules_dir / "authentication.yaml"
    text = path.read_text()
    path.write_text(text.replace("guessing_failures: 5", "guessing_failures: 3"))
    obs = logins(60, T0, MINUTE, "admin", ["a", "b", "c"], ok=False)
    assert found(obs) == [] and len(found(obs, rules_dir)) == 1
    path.write_text(text.replace("stale_failures: 3", "stale_failures: 1"))
    with pytest.raises(RuleError, match="stale_failures must be at least 2"):
        load_rules(rules_dir)


# --- the real FTP capture of the lab ------------------------------------------------------------------


@needs_real_pcaps
def test_the_lab_ftp_capture(real_pcaps: Path) -> None:
    """Four FTP logins, one refused (wen.n51 from 127.0.0.11), then the same user accepted from
    127.0.0.13: the sightings carry the truth's answers, and a mistyped password stays silent."""
    truth = json.loads((real_pcaps / "lab" / "expected.json").read_text())["ftp.pcap"]["credentials"]
    sensor = Sensor(secrets=SecretHasher(b"lab-test-key-0123456789"))
    observations = list(sensor.read(str(real_pcaps / "lab" / "ftp.pcap")))
    sightings = [s for s in correlate(observations, Inventory()) if s.presentation.identity.kind == "username"]
    got = sorted((s.ip, s.presentation.identity.value, s.outcome) for s in sightings)
    want = sorted((c["src"], c["user"], Outcome.SUCCESS if c["auth_ok"] else Outcome.FAILURE) for c in truth)
    assert got == want
    assert found(observations) == []
