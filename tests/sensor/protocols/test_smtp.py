"""SMTP AUTH PLAIN/LOGIN (password fingerprinted), CRAM-MD5 (user, a hash), the reply ending
the exchange as its outcome (235, 535, 454...), STARTTLS handed over, mail content never read;
truth files, tshark `smtp.response.code`, truncation and fuzzing."""

from __future__ import annotations

import base64
import contextlib
import json
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import needs_real_pcaps
from tests.sensor.protocols.streams import answers, observations, paired
from trustwatch.sensor.flowid import Direction, Endpoint, FlowId
from trustwatch.sensor.protocols.base import ParseError
from trustwatch.sensor.protocols.smtp import SmtpExtractor
from trustwatch.sensor.records import AuthenticationOutcome, CredentialSeen, Outcome, SecretKind
from trustwatch.sensor.secrets import SecretHasher
from trustwatch.sensor.sense import Sensor

KEY = SecretHasher(b"smtp-test-site-key")
FLOW = FlowId(uid="Csmtp", transport="tcp", orig=Endpoint("10.30.8.44", 50800, None),
              resp=Endpoint("10.10.2.25", 587, None))
B64 = base64.b64encode


def run(lines: list[tuple[Direction, bytes]]) -> tuple[SmtpExtractor, list[CredentialSeen]]:
    ext, out = SmtpExtractor(KEY), []
    for direction, line in lines:
        found, used = ext.parse(FLOW, direction, 1.0, line + b"\r\n")
        assert used == len(line) + 2
        out += [o for o in found if isinstance(o, CredentialSeen)]
    return ext, out


C, S = Direction.ORIG, Direction.RESP


@pytest.mark.parametrize("exchange", [
    [(C, b"AUTH PLAIN " + B64(b"\x00dx01@example.org\x00Scan#2020"))],
    [(C, b"AUTH PLAIN"), (S, b"334 "), (C, B64(b"\x00dx01@example.org\x00Scan#2020"))],
    [(C, b"AUTH LOGIN"), (S, b"334 VXNlcm5hbWU6"), (C, B64(b"dx01@example.org")), (S, b"334 UGFzc3dvcmQ6"),
     (C, B64(b"Scan#2020"))],
    [(C, b"AUTH LOGIN " + B64(b"dx01@example.org")), (S, b"334 UGFzc3dvcmQ6"), (C, B64(b"Scan#2020"))],
])
def test_auth_plain_and_login(exchange: list[tuple[Direction, bytes]]) -> None:
    ext, creds = run([(S, b"220 mail.example.org ESMTP"), (C, b"EHLO dx01"), *exchange, (S, b"235 2.7.0 ok"),
                      (C, b"MAIL FROM:<dx01@example.org>")])
    assert [(c.username, c.secret_fp) for c in creds] == [
        ("dx01@example.org", KEY.fingerprint(SecretKind.PASSWORD, "Scan#2020").value)]
    assert ext.finished


def test_cram_md5_starttls_and_cancel() -> None:
    _ext, creds = run([(C, b"AUTH CRAM-MD5"), (S, b"334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2U+"),
                       (C, B64(b"dx01 b913a602c7eda7a495b4e6e7334d3890"))])
    assert [(c.username, c.secret_kind) for c in creds] == [("dx01", SecretKind.HASH)]
    assert run([(C, b"AUTH LOGIN"), (C, b"*"), (C, b"NOOP")])[1] == []
    ext, _ = run([(C, b"STARTTLS"), (S, b"220 2.0.0 Ready to start TLS")])
    assert ext.upgraded


def test_probe_truncation_and_garbage() -> None:
    assert SmtpExtractor.probe(b"220 mx.example.org ESMTP Postfix\r\n") and SmtpExtractor.probe(b"EHLO dx01\r\n")
    assert not SmtpExtractor.probe(b"220 (vsFTPd 3.0.5)\r\n")
    with pytest.raises(ParseError, match="smtp_bad_base64"):
        run([(C, b"AUTH PLAIN %%%")])
    line = b"AUTH PLAIN " + B64(b"\x00u\x00p") + b"\r\n"
    for cut in range(len(line)):
        assert SmtpExtractor(KEY).parse(FLOW, C, 1.0, line[:cut]) == ([], 0)


@given(st.lists(st.binary(max_size=80), max_size=6))
def test_fuzz_raises_nothing_but_parse_errors(lines: list[bytes]) -> None:
    ext = SmtpExtractor(KEY)
    with contextlib.suppress(ParseError):
        for line in [b"AUTH LOGIN", *lines]:
            ext.parse(FLOW, C, 1.0, line.replace(b"\n", b"") + b"\r\n")


@needs_real_pcaps
def test_every_smtp_login_of_the_real_captures(real_pcaps: Path) -> None:
    checked = 0
    for prefix, name in (("", "expected.json"), ("lab/", "lab/expected.json")):
        for capture, facts in json.loads((real_pcaps / name).read_text()).items():
            logins = {(c["user"], c["password"]) for c in (facts.get("credentials", []) if isinstance(facts, dict)
                                                           else []) if c.get("proto") == "smtp" and c.get("password")}
            if not logins:
                continue
            got = {(o.username, o.secret_fp) for o in Sensor(secrets=KEY).read(str(real_pcaps / prefix / capture))
                   if isinstance(o, CredentialSeen)}
            for user, password in logins:
                assert (user, KEY.fingerprint(SecretKind.PASSWORD, password).value) in got, (capture, user)
                checked += 1
    assert checked >= 5


PLAIN = (C, b"AUTH PLAIN " + B64(b"\x00dx01@example.org\x00Scan#2020") + b"\r\n")


def outcomes(*chunks: tuple[Direction, bytes]) -> list[tuple[int, str, str | None]]:
    return answers(observations(SmtpExtractor(KEY), FLOW, [(S, b"220 mx ESMTP\r\n"), (C, b"EHLO dx01\r\n"),
                                                           (S, b"250-mx\r\n250 AUTH PLAIN LOGIN\r\n"), *chunks],
                                close=True))


def test_accepted_refused_transient_and_unanswered_logins() -> None:
    login = [(C, b"AUTH LOGIN\r\n"), (S, b"334 VXNlcm5hbWU6\r\n"), (C, B64(b"dx01") + b"\r\n"),
             (S, b"334 UGFzc3dvcmQ6\r\n"), (C, B64(b"Scan#2020") + b"\r\n")]
    assert outcomes(PLAIN, (S, b"235 2.7.0 Authentication successful\r\n")) == [(1, "success", "235")]
    assert outcomes(*login, (S, b"535 5.7.8 Authentication credentials invalid\r\n"), PLAIN,
                    (S, b"235 2.7.0 ok\r\n")) == [(1, "failure", "535"), (2, "success", "235")]
    assert outcomes(PLAIN, (S, b"454 4.7.0 Temporary authentication failure\r\n")) == [(1, "unknown", "454")]
    assert outcomes(PLAIN) == [(1, "unknown", None)]
    assert outcomes((C, b"AUTH LOGIN\r\n"), (S, b"504 5.5.4 Unrecognized authentication type\r\n")) == []


def test_pipelined_transaction_waits_for_the_answer() -> None:
    """PIPELINING (RFC 2920): MAIL FROM sent with the AUTH; reading ends once the AUTH is answered."""
    ext = SmtpExtractor(KEY)
    found = observations(ext, FLOW, [(C, PLAIN[1] + b"MAIL FROM:<dx01@example.org>\r\n")])
    assert not ext.finished and len(found) == 1
    found += observations(ext, FLOW, [(S, b"535 5.7.8 no\r\n530 5.7.0 Authentication required\r\n")])
    assert answers(found) == [(1, "failure", "535")] and ext.finished


def test_the_reason_never_carries_what_the_client_sent() -> None:
    """sendmail quotes the response it could not decode: the reason stops before the quotation."""
    found = observations(SmtpExtractor(KEY), FLOW, [
        PLAIN, (S, b"501 5.5.4 cannot BASE64 decode '" + B64(b"\x00dx01@example.org\x00Scan#2020") + b"'\r\n")])
    (answer,) = [o for o in found if isinstance(o, AuthenticationOutcome)]
    assert (answer.outcome, answer.reason) == (Outcome.FAILURE, "5.5.4 cannot BASE64 decode")


def test_truncated_replies_wait() -> None:
    reply = b"235 2.7.0 Authentication successful\r\n"
    for cut in range(len(reply)):
        ext = SmtpExtractor(KEY)
        observations(ext, FLOW, [PLAIN])
        assert ext.parse(FLOW, S, 1.0, reply[:cut]) == ([], 0)


@given(st.lists(st.binary(max_size=60), max_size=6))
def test_fuzz_replies_raise_nothing_but_parse_errors(lines: list[bytes]) -> None:
    with contextlib.suppress(ParseError):
        answers(observations(SmtpExtractor(KEY), FLOW, [PLAIN, *[(S, line.replace(b"\n", b"") + b"\r\n")
                                                                 for line in lines]], close=True))


SMTP_CAPTURES = ["lab/smtp_auth.pcap", "suricata-verify/bug-3616-smtp/input.pcap", "zeek/smtp.pcap"]


@needs_real_pcaps
def test_outcomes_of_the_lab_logins_equal_the_truth(real_pcaps: Path) -> None:
    truth = json.loads((real_pcaps / "lab" / "expected.json").read_text())["smtp_auth.pcap"]["credentials"]
    ours = sorted((c.username or "", a.outcome == Outcome.SUCCESS)
                  for c, a in paired(Sensor(secrets=KEY).read(str(real_pcaps / "lab/smtp_auth.pcap"))))
    assert ours == sorted((c["user"], c["auth_ok"]) for c in truth)


@needs_real_pcaps
@pytest.mark.parametrize("name", SMTP_CAPTURES)
def test_outcomes_equal_tshark(real_pcaps: Path, name: str) -> None:
    """tshark's `smtp.response.code` of the reply ending each AUTH exchange (past its 334s)."""
    out = subprocess.run(["tshark", "-n", "-r", str(real_pcaps / name), "-d", "tcp.port==25,smtp", "-Y", "smtp",
                          "-T", "fields", "-e", "tcp.stream", "-e", "smtp.req.command", "-e", "smtp.response.code"],
                         capture_output=True, text=True, check=True).stdout
    theirs, awaiting = [], set()
    for stream, command, codes in (line.split("\t") for line in out.splitlines()):
        if command.upper() == "AUTH":
            awaiting.add(stream)
        for code in filter(None, codes.split(",")):
            if stream in awaiting and code != "334":
                awaiting.discard(stream)
                theirs.append(code)
    ours = [a.reason_code for _c, a in paired(Sensor(secrets=KEY).read(str(real_pcaps / name)))]
    assert theirs and sorted(ours) == sorted(theirs)
