"""FTP: USER/PASS become credentials with the password fingerprinted; AUTH TLS hands over.

Checked against the real captures' truth files, against tshark's `ftp.request.*` fields, and
for robustness: truncation at every byte, garbage and fuzzing raise nothing but ParseError.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import needs_real_pcaps
from trustwatch.sensor.flowid import Direction, Endpoint, FlowId
from trustwatch.sensor.protocols.base import ParseError
from trustwatch.sensor.protocols.ftp import FtpExtractor
from trustwatch.sensor.records import (
    AuthenticationOutcome,
    CredentialSeen,
    Outcome,
    Proto,
    SecretKind,
    TlsServerCertificate,
)
from trustwatch.sensor.secrets import SecretHasher
from trustwatch.sensor.sense import Sensor

KEY = SecretHasher(b"ftp-test-site-key")
FLOW = FlowId(uid="Cftp", transport="tcp", orig=Endpoint("10.20.2.31", 40100, None),
              resp=Endpoint("10.10.7.5", 21, None))
LOGIN = [
    (Direction.RESP, b"220 (vsFTPd 3.0.5)\r\n"),
    (Direction.ORIG, b"USER biomed\r\n"),
    (Direction.RESP, b"331 Please specify the password.\r\n"),
    (Direction.ORIG, b"PASS Ph1lips!: trend export\r\n"),
    (Direction.RESP, b"230 Login successful.\r\n"),
]


def run(exchange: list[tuple[Direction, bytes]]) -> list[CredentialSeen]:
    ext = FtpExtractor(KEY)
    out = []
    for direction, data in exchange:
        found, used = ext.parse(FLOW, direction, 1.0, data)
        assert used == len(data)
        out += [o for o in found if isinstance(o, CredentialSeen)]
    return out


def test_a_login_is_one_credential_with_the_password_fingerprinted() -> None:
    ext_out = run(LOGIN)
    assert len(ext_out) == 1
    cred = ext_out[0]
    assert cred.username == "biomed" and cred.presenter == Direction.ORIG
    assert cred.secret_kind == SecretKind.PASSWORD and cred.mechanism == "USER/PASS"
    assert cred.secret_fp == KEY.fingerprint(SecretKind.PASSWORD, "Ph1lips!: trend export").value
    assert cred.secret_hint == "password, 22 bytes"
    assert "Ph1lips" not in repr(cred)


def test_login_ends_inspection_and_refused_auth_tls_is_noted() -> None:
    ext = FtpExtractor(KEY)
    for direction, data in [(Direction.ORIG, b"AUTH TLS\r\n"), (Direction.RESP, b"534 Policy forbids TLS\r\n"),
                            *LOGIN[1:4]]:
        found, _ = ext.parse(FLOW, direction, 1.0, data)
    assert not ext.finished and found and found[0].notes == ("AUTH TLS refused by the server",)
    ext.parse(FLOW, Direction.RESP, 1.0, LOGIN[4][1])
    assert ext.finished and not ext.upgraded


def test_multiline_replies_and_a_pop3_server_are_told_apart() -> None:
    greeting = [(Direction.RESP, line) for line in (b"220-Welcome\r\n", b" 331 just text\r\n", b"220 ready\r\n")]
    assert len(run([*greeting, *LOGIN[1:]])) == 1
    ext = FtpExtractor(KEY)
    ext.parse(FLOW, Direction.ORIG, 1.0, b"USER moises\r\n")
    with pytest.raises(ParseError, match="ftp_bad_reply"):
        ext.parse(FLOW, Direction.RESP, 1.0, b"+OK password required\r\n")
    with pytest.raises(ParseError, match="ftp_bad_reply"):
        ext.parse(FLOW, Direction.ORIG, 1.0, b"PASS secret\r\n")


def test_accepted_auth_tls_hands_the_connection_over() -> None:
    ext = FtpExtractor(KEY)
    ext.parse(FLOW, Direction.ORIG, 1.0, b"AUTH TLS\r\n")
    ext.parse(FLOW, Direction.RESP, 1.0, b"234 Proceed with negotiation.\r\n")
    assert ext.upgraded


def test_probe() -> None:
    assert FtpExtractor.probe(b"220 ProFTPD Server (Debian)\r\n")
    assert FtpExtractor.probe(b"220-Microsoft FTP Service\r\n")
    assert FtpExtractor.probe(b"USER anonymous\r\n")
    # A greeting that does not say FTP is left alone; the client's USER identifies the flow.
    assert not FtpExtractor.probe(b"220-FileZilla Server 1.8\r\n")
    assert not FtpExtractor.probe(b"220 mail.example.org ESMTP Postfix\r\n")
    assert not FtpExtractor.probe(b"\x16\x03\x01\x02\x00\x01\x00\x01")


def test_truncation_at_every_byte_and_garbage_raise_only_parse_errors() -> None:
    stream = b"".join(data for d, data in LOGIN if d == Direction.ORIG)
    for cut in range(len(stream) + 1):
        _found, used = FtpExtractor(KEY).parse(FLOW, Direction.ORIG, 1.0, stream[:cut])
        assert used <= cut
    with pytest.raises(ParseError, match="ftp_line_too_long"):
        FtpExtractor(KEY).parse(FLOW, Direction.ORIG, 1.0, b"PASS " + b"x" * 5000)


@given(st.lists(st.tuples(st.sampled_from([Direction.ORIG, Direction.RESP]), st.binary(max_size=300)),
                max_size=12))
def test_fuzzed_exchanges_raise_nothing_but_parse_errors(exchange: list[tuple[Direction, bytes]]) -> None:
    ext = FtpExtractor(KEY)
    for direction, data in exchange:
        try:
            while data:
                _found, used = ext.parse(FLOW, direction, 1.0, data)
                if not used:
                    break
                data = data[used:]
        except ParseError:
            return


def sensed(path: Path) -> list[CredentialSeen]:
    return [o for o in Sensor(secrets=KEY).read(str(path)) if isinstance(o, CredentialSeen) and o.protocol == Proto.FTP]


def truth(real: Path) -> dict[str, Counter[tuple[str, str]]]:
    """(user, password fingerprint) of every FTP login the truth files list, per capture."""
    out: dict[str, Counter[tuple[str, str]]] = {}
    docs = {"": json.loads((real / "expected.json").read_text()),
            "lab/": json.loads((real / "lab" / "expected.json").read_text())}
    for prefix, doc in docs.items():
        for name, facts in doc.items():
            for c in facts.get("credentials", []) if isinstance(facts, dict) else []:
                if c.get("proto") == "ftp":
                    fp = KEY.fingerprint(SecretKind.PASSWORD, c["password"]).value
                    out.setdefault(prefix + name, Counter())[(c["user"], fp)] += 1
    return out


@needs_real_pcaps
def test_every_ftp_login_of_the_real_captures_is_found(real_pcaps: Path) -> None:
    expected = truth(real_pcaps)
    assert len(expected) >= 9
    for name, logins in expected.items():
        got = Counter((c.username or "", c.secret_fp or "") for c in sensed(real_pcaps / name))
        assert set(logins) <= set(got), name


@needs_real_pcaps
def test_same_logins_as_tshark(real_pcaps: Path) -> None:
    for name in truth(real_pcaps):
        out = subprocess.run(
            ["tshark", "-n", "-r", str(real_pcaps / name), "-Y", "ftp.request.command", "-T", "fields",
             "-e", "ftp.request.command", "-e", "ftp.request.arg"], capture_output=True, text=True, check=True,
        ).stdout
        theirs, user = Counter(), ""
        for line in out.splitlines():
            command, _, arg = line.partition("\t")
            if command.upper() == "USER":
                user = arg
            elif command.upper() == "PASS":
                theirs[(user, KEY.fingerprint(SecretKind.PASSWORD, arg).value)] += 1
        ours = Counter((c.username or "", c.secret_fp or "") for c in sensed(real_pcaps / name))
        assert ours == theirs, name


@needs_real_pcaps
def test_auth_tls_connection_still_yields_its_tls_handshake(real_pcaps: Path) -> None:
    path = real_pcaps / "ndpi" / "tests" / "cfgs" / "default" / "pcap" / "ftp-start-tls.pcap"
    certs = [o for o in Sensor().read(str(path)) if isinstance(o, TlsServerCertificate)]
    assert [c.leaf.sha1[:12] for c in certs] == ["0a143aabe13a"]


def outcomes(exchange: list[tuple[Direction, bytes]], close: bool = True) -> list[tuple[int | None, str, str | None]]:
    """(attempt, outcome, code) of every credential's answer, in order; `close` ends the
    connection as the dispatcher does (close, then the attempts left unanswered)."""
    ext = FtpExtractor(KEY)
    found = []
    for direction, data in exchange:
        while data:
            more, used = ext.parse(FLOW, direction, 1.0, data)
            found += more
            data = data[used:]
    if close:
        found += [*ext.close(FLOW, 2.0), *ext.unanswered(FLOW, 2.0)]
    attempts = [o.attempt for o in found if isinstance(o, CredentialSeen)]
    answers = [(o.attempt, str(o.outcome), o.reason_code) for o in found if isinstance(o, AuthenticationOutcome)]
    assert sorted(a for a, _o, _c in answers) == attempts  # every attempt gets exactly one answer
    return answers


def test_accepted_refused_and_unanswered_logins() -> None:
    refused = [*LOGIN[:4], (Direction.RESP, b"530 Login incorrect.\r\n"),
               (Direction.ORIG, b"USER biomed\r\nPASS second try\r\n"),  # pipelined: 331 then 230 answer
               (Direction.RESP, b"331 Please specify the password.\r\n230 Login successful.\r\n")]
    assert outcomes(LOGIN) == [(1, "success", "230")]
    assert outcomes(refused) == [(1, "failure", "530"), (2, "success", "230")]
    assert outcomes(LOGIN[:4]) == [(1, "unknown", None)]
    assert outcomes([*LOGIN[:4], (Direction.RESP, b"421 Too many users, try later.\r\n")]) == [(1, "unknown", "421")]
    assert outcomes([*LOGIN[:4], (Direction.RESP, b"332 Need account.\r\n"), (Direction.ORIG, b"ACCT x\r\n"),
                     (Direction.RESP, b"230 In.\r\n")]) == [(1, "success", "230")]


@needs_real_pcaps
def test_outcomes_of_the_lab_logins_equal_the_truth_and_tshark(real_pcaps: Path) -> None:
    """pyftpdlib's answers: each login accepted or refused as the lab configured it, and as
    tshark reads the reply code after each PASS."""
    lab = real_pcaps / "lab" / "ftp.pcap"
    truth = json.loads((real_pcaps / "lab" / "expected.json").read_text())["ftp.pcap"]["credentials"]
    observed = list(Sensor(secrets=KEY).read(str(lab)))
    creds = {(o.flow.uid, o.attempt): o for o in observed if isinstance(o, CredentialSeen)}
    answers = {(o.flow.uid, o.attempt): o for o in observed if isinstance(o, AuthenticationOutcome)}
    assert set(answers) == set(creds)
    ours = sorted((creds[k].username, answers[k].outcome == Outcome.SUCCESS) for k in creds)
    assert ours == sorted((c["user"], c["auth_ok"]) for c in truth)
    out = subprocess.run(["tshark", "-n", "-r", str(lab), "-Y", "ftp", "-T", "fields", "-e", "tcp.stream",
                          "-e", "ftp.request.command", "-e", "ftp.response.code"],
                         capture_output=True, text=True, check=True).stdout
    theirs, after_pass = [], set()
    for line in out.splitlines():
        stream, command, code = [*line.split("\t"), "", ""][:3]
        if command.upper() == "PASS":
            after_pass.add(stream)
        elif code and stream in after_pass and not code.startswith(("1", "3")):
            theirs.append(code)
            after_pass.discard(stream)
    assert sorted(a.reason_code or "" for a in answers.values()) == sorted(theirs)
