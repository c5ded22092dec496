"""Authentication attempts: one per presentation that asks for an answer, with its account."""

from __future__ import annotations

from tests.analytics.builders import T0, cert, credential, ep, login, tls_answered
from trustwatch.analytics.attempts import attempts
from trustwatch.analytics.correlate import correlate
from trustwatch.analytics.inventory import Inventory
from trustwatch.sensor.records import Outcome, SecretKind

CLIENT = ep("10.20.1.7", "00-1B-4F-00-10-07", 40000)
FTP = ep("10.10.5.40", None, 21)


def test_a_user_and_password_are_one_attempt_for_the_user_at_the_server() -> None:
    [a] = attempts(correlate(login(T0, CLIENT, FTP, "Biomed", "pw", ok=False), Inventory()))
    assert (a.account, a.user, a.server, a.protocol, a.outcome) == (
        "biomed@10.10.5.40", "Biomed", "10.10.5.40", "ftp", Outcome.FAILURE)
    assert a.secret is not None and a.secret.kind == "secret" and a.device == "mac:00-1B-4F-00-10-07"


def test_accounts_without_a_user_name() -> None:
    agent = ep("10.20.3.1", None, 161)
    community = login(T0, CLIENT, agent, None, "h0sp-RO", ok=True, kind=SecretKind.COMMUNITY, protocol="snmp")
    certificate = tls_answered(T0, CLIENT, ep("10.10.4.20", None, 443), cert("pump-7"), ok=True)
    got = [(a.account, a.secret is not None) for a in attempts(correlate([*community, *certificate], Inventory()))]
    assert got == [("community@10.20.3.1", True), ("CN=pump-7,O=St. Example Hospital@10.10.4.20", True)]


def test_only_presentations_that_ask_for_an_answer() -> None:
    """No attempt number: an HL7 MSH-8, a sensor older than outcomes."""
    assert attempts(correlate([credential(T0, CLIENT, FTP, "biomed", "pw")], Inventory())) == []
