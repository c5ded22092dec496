"""The sensor's metrics: observations counted on their way through, by action and protocol, the
credentials seen in clear, and every authentication answer by protocol and outcome."""

from __future__ import annotations

import subprocess

from prometheus_client import generate_latest

from trustwatch.sensor.flowid import Direction, Endpoint, FlowId
from trustwatch.sensor.metrics import SensorMetrics
from trustwatch.sensor.records import AuthenticationOutcome, CredentialSeen, Observation, Outcome, Proto, SecretKind

FLOW = FlowId(uid="Cftp1", transport="tcp", orig=Endpoint("10.20.1.7", 40000, "00-1B-4F-00-10-07"),
              resp=Endpoint("10.10.5.40", 21, None))


def login(attempt: int, outcome: Outcome) -> list[Observation]:
    """Attempt `attempt` on the connection and its answer."""
    return [CredentialSeen(ts=1.0 + attempt, flow=FLOW, protocol=Proto.FTP, presenter=Direction.ORIG, username="a",
                           secret_kind=SecretKind.PASSWORD, secret_fp=f"{attempt:064x}",
                           secret_hint="password, 4 bytes", mechanism="USER/PASS", attempt=attempt),
            AuthenticationOutcome(ts=1.5 + attempt, flow=FLOW, protocol=Proto.FTP, attempt=attempt, outcome=outcome)]


def test_answers_are_counted_by_protocol_and_outcome() -> None:
    metrics = SensorMetrics()
    observations = [*login(1, Outcome.FAILURE), *login(2, Outcome.FAILURE), *login(3, Outcome.SUCCESS),
                    *login(4, Outcome.UNKNOWN)]
    assert list(metrics.observe(observations)) == observations
    text = generate_latest(metrics.registry).decode()
    for outcome, n in (("failure", 2), ("success", 1), ("unknown", 1)):
        assert f'trustwatch_authentications_total{{outcome="{outcome}",protocol="ftp"}} {n}.0\n' in text
    assert 'trustwatch_cleartext_credentials_total{protocol="ftp"} 4.0\n' in text
    done = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
