"""The authentication-outcome samples (sample_pcaps/outcomes/, written by gen_outcomes.py), end
to end: every planted login is read with its answer (the frames of the PASS and of the reply,
the reply code equal to tshark's `ftp.response.code`), and the audit raises exactly the planted
`failed-authentication-burst` alerts, the near misses silent."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SAMPLES
from trustwatch.analytics.cli import main
from trustwatch.sensor.flowid import Direction
from trustwatch.sensor.records import AuthenticationOutcome, CredentialSeen, SecretKind
from trustwatch.sensor.secrets import SecretHasher
from trustwatch.sensor.sense import Sensor

OUTCOMES = SAMPLES / "outcomes"
EXPECTED = sorted(OUTCOMES.glob("*.expected.json"))
RULE = "failed-authentication-burst"


def facts(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


@pytest.mark.parametrize("expected", EXPECTED, ids=lambda p: p.name.split(".")[0])
def test_every_login_is_read_with_its_answer(expected: Path) -> None:
    doc = facts(expected)
    observations = list(Sensor().read(str(OUTCOMES / doc["capture"])))
    answers = {(o.flow.uid, o.attempt): o for o in observations if isinstance(o, AuthenticationOutcome)}
    got = []
    for c in (o for o in observations if isinstance(o, CredentialSeen)):
        a = answers[(c.flow.uid, c.attempt)]
        got.append({"client": f"{c.flow.orig.ip}:{c.flow.orig.port}", "server": f"{c.flow.resp.ip}:{c.flow.resp.port}",
                    "user": c.username, "reply": f"{a.reason_code} {a.reason}", "outcome": a.outcome.value,
                    "pass_frame": c.evidence.frames[-1], "reply_frame": a.evidence.frames[-1]})
    keys = ("client", "server", "user", "reply", "outcome", "pass_frame", "reply_frame")
    assert got == [{k: login[k] for k in keys} for login in doc["logins"]]
    assert all(c.presenter is Direction.ORIG for c in observations if isinstance(c, CredentialSeen))


@pytest.mark.parametrize("expected", EXPECTED, ids=lambda p: p.name.split(".")[0])
def test_reply_codes_equal_tsharks(expected: Path) -> None:
    doc = facts(expected)
    out = subprocess.run(["tshark", "-n", "-r", str(OUTCOMES / doc["capture"]), "-Y", "ftp.response.code", "-T",
                          "fields", "-e", "frame.number", "-e", "ftp.response.code"],
                         capture_output=True, text=True, check=True).stdout
    codes = dict(line.split("\t") for line in out.splitlines())
    assert {str(login["reply_frame"]): codes[str(login["reply_frame"])] for login in doc["logins"]} == {
        str(login["reply_frame"]): login["reply"][:3] for login in doc["logins"]}


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], SecretHasher]:
    where = tmp_path_factory.mktemp("outcomes")
    alerts = where / "alerts.jsonl"
    code = main(["audit", str(OUTCOMES), "--inventory", str(OUTCOMES / "inventory.csv"), "--no-state",
                 "--alerts", str(alerts), "--key-file", str(where / "site.key"), "--fail-on", "never"])
    assert code == 0
    docs = [json.loads(line) for line in alerts.read_text().splitlines()]
    return docs, SecretHasher((where / "site.key").read_bytes())


def planted(subject: str, hasher: SecretHasher) -> str:
    return re.sub(r"\{fingerprint:(.*?)\}", lambda m: hasher.fingerprint(SecretKind.PASSWORD, m[1]).value, subject)


def test_precision_and_recall_of_the_bursts(audited: tuple[list[dict[str, Any]], SecretHasher]) -> None:
    docs, hasher = audited
    got = {d["trustwatch"]["subject"] for d in docs if d["rule"]["id"] == RULE}
    want = {planted(a["subject"], hasher) for p in EXPECTED for a in facts(p)["alerts"]}
    assert got == want
    for p in EXPECTED:
        for miss in facts(p)["near_misses"]:
            assert planted(miss["subject"], hasher) not in got, miss["why"]
    outcome = {d["trustwatch"]["subject"].split(":")[0]: (d["event"]["outcome"], d["trustwatch"]["severity"])
               for d in docs if d["rule"]["id"] == RULE}
    assert outcome == {"guessing": ("success", "high"), "spraying": ("failure", "medium"),
                       "many-sources": ("failure", "medium"), "stale": ("failure", "medium")}


def test_evidence_names_the_logins_and_the_refusals(audited: tuple[list[dict[str, Any]], SecretHasher]) -> None:
    docs, _hasher = audited
    spray = next(d for d in docs if d["trustwatch"]["subject"].startswith("spraying:"))
    doc = facts(OUTCOMES / "logon-spray.expected.json")
    refused = [login for login in doc["logins"] if login["client"].startswith("10.20.9.1:")]
    [evidence] = spray["trustwatch"]["evidence"]
    assert evidence["capture"].endswith("logon-spray.pcap")
    assert {f for login in refused for f in (login["pass_frame"], login["reply_frame"])} <= set(evidence["frames"])
    others = {f for login in doc["logins"] if login not in refused for f in (login["pass_frame"], login["reply_frame"])}
    assert others.isdisjoint(evidence["frames"])


def test_the_samples_are_what_their_generator_writes(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(SAMPLES / "gen_outcomes.py"), "--out", str(tmp_path)], check=True)
    for path in OUTCOMES.iterdir():
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name
