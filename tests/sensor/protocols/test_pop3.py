"""POP3: USER/PASS (password fingerprinted), APOP (user, a hash), SASL AUTH, STLS handed over;
the response to each login (+OK, -ERR, RFC 2449/3206 codes) paired in order as its outcome;
truth files, tshark `pop.request.*` and `pop.response.indicator`, truncation and fuzzing."""

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
from trustwatch.sensor.protocols.pop3 import MAX_LINE, Pop3Extractor
from trustwatch.sensor.records import AuthenticationOutcome, CredentialSeen, SecretKind, TlsServerCertificate
from trustwatch.sensor.secrets import SecretHasher
from trustwatch.sensor.sense import Sensor

KEY = SecretHasher(b"pop3-test-site-key")
FLOW = FlowId(uid="Cpop", transport="tcp", orig=Endpoint("10.20.9.1", 50900, None),
              resp=Endpoint("10.10.2.110", 110, None))
C, S = Direction.ORIG, Direction.RESP
B64 = base64.b64encode


def run(lines: list[tuple[Direction, bytes]]) -> tuple[Pop3Extractor, list[CredentialSeen]]:
    ext, out = Pop3Extractor(KEY), []
    for direction, line in lines:
        found, used = ext.parse(FLOW, direction, 1.0, line + b"\r\n")
        assert used == len(line) + 2
        out += [o for o in found if isinstance(o, CredentialSeen)]
    return ext, out


def test_user_pass_apop_and_stls() -> None:
    ext, creds = run([(S, b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>"), (C, b"USER ward3"),
                      (S, b"+OK"), (C, b"PASS Rep0rts 2025"), (S, b"+OK maildrop has 2 messages")])
    assert [(c.username, c.secret_fp) for c in creds] == [
        ("ward3", KEY.fingerprint(SecretKind.PASSWORD, "Rep0rts 2025").value)]
    assert ext.finished
    _ext, creds = run([(C, b"APOP mrose c4c9334bac560ecc979e58001b3e22fb")])
    assert [(c.username, c.secret_kind) for c in creds] == [("mrose", SecretKind.HASH)]
    ext, _ = run([(C, b"STLS"), (S, b"+OK Begin TLS negotiation")])
    assert ext.upgraded


@pytest.mark.parametrize(("exchange", "mechanism"), [
    ([(C, b"AUTH PLAIN " + B64(b"\x00ward3\x00Rep0rts 2025"))], "PLAIN"),
    ([(C, b"AUTH PLAIN"), (S, b"+ "), (C, B64(b"admin\x00ward3\x00Rep0rts 2025"))], "PLAIN"),
    ([(C, b"AUTH LOGIN"), (S, b"+ VXNlcm5hbWU6"), (C, B64(b"ward3")), (S, b"+ UGFzc3dvcmQ6"),
      (C, B64(b"Rep0rts 2025"))], "LOGIN"),
    ([(C, b"AUTH LOGIN " + B64(b"ward3")), (S, b"+ UGFzc3dvcmQ6"), (C, B64(b"Rep0rts 2025"))], "LOGIN"),
])
def test_sasl_plain_and_login(exchange: list[tuple[Direction, bytes]], mechanism: str) -> None:
    ext, creds = run([(S, b"+OK POP3 ready"), (C, b"AUTH"), (S, b"+OK"), (S, b"PLAIN"), (S, b"."), *exchange])
    assert not ext.finished
    assert [(c.username, c.secret_kind, c.secret_fp, c.mechanism) for c in creds] == [
        ("ward3", SecretKind.PASSWORD, KEY.fingerprint(SecretKind.PASSWORD, "Rep0rts 2025").value, mechanism)]
    ext.parse(FLOW, S, 1.0, b"+OK maildrop locked\r\n")
    assert ext.finished


def test_sasl_cram_other_mechanisms_cancel_and_failure() -> None:
    _ext, creds = run([(C, b"AUTH CRAM-MD5"), (S, b"+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2U+"),
                       (C, B64(b"ward3 b913a602c7eda7a495b4e6e7334d3890"))])
    assert [(c.username, c.secret_kind, c.secret_fp) for c in creds] == [("ward3", SecretKind.HASH, None)]
    _ext, creds = run([(C, b"AUTH XOAUTH2"), (S, b"+ "), (C, B64(b"user=ward3\x01auth=Bearer t0ken\x01\x01"))])
    assert [(c.username, c.secret_kind, c.secret_fp, c.mechanism) for c in creds] == [
        (None, SecretKind.NONE, None, "XOAUTH2")]
    ext, creds = run([(C, b"AUTH LOGIN"), (S, b"+ VXNlcm5hbWU6"), (C, b"*"), (S, b"-ERR cancelled"),
                      (C, b"AUTH PLAIN"), (S, b"-ERR unsupported"), (C, b"USER ward3"), (S, b"+OK"),
                      (C, b"PASS Rep0rts 2025")])
    assert [(c.username, c.mechanism) for c in creds] == [("ward3", "USER/PASS")]
    assert not ext.finished


def test_probe_truncation_and_garbage() -> None:
    assert Pop3Extractor.probe(b"+OK Dovecot (Debian) ready.\r\n")
    assert not Pop3Extractor.probe(b"220 (vsFTPd 3.0.5)\r\n")
    with pytest.raises(ParseError, match="pop3_line_too_long"):
        Pop3Extractor(KEY).parse(FLOW, C, 1.0, b"PASS " + b"x" * MAX_LINE)
    with pytest.raises(ParseError, match="pop3_bad_base64"):
        run([(C, b"AUTH PLAIN"), (C, b"%%%")])
    with pytest.raises(ParseError, match="pop3_bad_plain"):
        run([(C, b"AUTH PLAIN " + B64(b"ward3:secret"))])
    for line in (b"PASS secret\r\n", b"AUTH PLAIN " + B64(b"\x00u\x00p") + b"\r\n"):
        for cut in range(len(line)):
            assert Pop3Extractor(KEY).parse(FLOW, C, 1.0, line[:cut]) == ([], 0)


@given(st.lists(st.tuples(st.sampled_from([C, S]), st.binary(max_size=60)), max_size=8),
       st.sampled_from([b"NOOP", b"AUTH PLAIN", b"AUTH LOGIN", b"AUTH CRAM-MD5"]))
def test_fuzz_raises_nothing_but_parse_errors(lines: list[tuple[Direction, bytes]], first: bytes) -> None:
    ext = Pop3Extractor(KEY)
    with contextlib.suppress(ParseError):
        for direction, line in [(C, first), *lines]:
            ext.parse(FLOW, direction, 1.0, line.replace(b"\n", b"") + b"\r\n")


@needs_real_pcaps
@pytest.mark.parametrize("name", ["ndpi/tests/cfgs/default/pcap/pop3.pcap", "suricata-verify/pop3/input.pcap"])
def test_same_user_pass_logins_as_tshark(real_pcaps: Path, name: str) -> None:
    out = subprocess.run(["tshark", "-n", "-r", str(real_pcaps / name), "-Y", "pop.request.command", "-T", "fields",
                          "-e", "pop.request.command", "-e", "pop.request.parameter"], capture_output=True, text=True,
                         check=True).stdout
    theirs, user = set(), None
    for command, _, arg in (line.partition("\t") for line in out.splitlines()):
        if command.upper() == "USER":
            user = arg
        elif command.upper() == "PASS":
            theirs.add((user, KEY.fingerprint(SecretKind.PASSWORD, arg).value))
    ours = {(o.username, o.secret_fp) for o in Sensor(secrets=KEY).read(str(real_pcaps / name))
            if isinstance(o, CredentialSeen) and o.mechanism == "USER/PASS"}
    assert theirs and ours == theirs


@needs_real_pcaps
@pytest.mark.parametrize("name", ["ndpi/tests/cfgs/default/pcap/pop3.pcap", "zeek/pop3/pop3.pcap"])
def test_same_sasl_plain_logins_as_tshark(real_pcaps: Path, name: str) -> None:
    """tshark shows the response after `AUTH PLAIN` as the next command: decoded here."""
    out = subprocess.run(["tshark", "-n", "-r", str(real_pcaps / name), "-Y", "pop.request.command", "-T", "fields",
                          "-e", "tcp.stream", "-e", "pop.request.command", "-e", "pop.request.parameter"],
                         capture_output=True, text=True, check=True).stdout
    theirs, last = set(), dict[str, tuple[str, str]]()
    for stream, command, arg in (line.split("\t") for line in out.splitlines()):
        if last.get(stream) == ("AUTH", "PLAIN"):
            _authzid, user, password = base64.b64decode(command).split(b"\x00")
            theirs.add((user.decode(), KEY.fingerprint(SecretKind.PASSWORD, password).value))
        last[stream] = (command.upper(), arg.upper())
    ours = {(o.username, o.secret_fp) for o in Sensor(secrets=KEY).read(str(real_pcaps / name))
            if isinstance(o, CredentialSeen) and o.mechanism == "PLAIN"}
    assert theirs and ours == theirs


@needs_real_pcaps
def test_every_sasl_login_of_the_truth_file(real_pcaps: Path) -> None:
    expected = json.loads((real_pcaps / "expected.json").read_text())
    checked = 0
    for capture, facts in expected.items():
        logins = {(c["user"], c["password"]) for c in (facts.get("credentials", []) if isinstance(facts, dict) else [])
                  if c.get("proto") == "pop3" and c.get("mech") == "PLAIN"}
        if not logins:
            continue
        got = {(o.username, o.secret_fp, o.mechanism) for o in Sensor(secrets=KEY).read(str(real_pcaps / capture))
               if isinstance(o, CredentialSeen)}
        for user, password in logins:
            assert (user, KEY.fingerprint(SecretKind.PASSWORD, password).value, "PLAIN") in got, (capture, user)
            checked += 1
    assert checked >= 4


@needs_real_pcaps
def test_xoauth2_is_named_without_its_token(real_pcaps: Path) -> None:
    creds = [o for o in Sensor(secrets=KEY).read(str(real_pcaps / "suricata-verify/pop3-auth-01/input.pcap"))
             if isinstance(o, CredentialSeen)]
    assert [(c.mechanism, c.secret_kind, c.secret_fp) for c in creds] == [("XOAUTH2", SecretKind.NONE, None)]


@needs_real_pcaps
def test_stls_connection_yields_its_tls_handshake(real_pcaps: Path) -> None:
    path = real_pcaps / "zeek" / "tls" / "pop3-starttls.pcap"
    assert [o for o in Sensor().read(str(path)) if isinstance(o, TlsServerCertificate)]


def outcomes(*chunks: tuple[Direction, bytes]) -> list[tuple[int, str, str | None]]:
    return answers(observations(Pop3Extractor(KEY), FLOW, [(S, b"+OK POP3 ready\r\n"), *chunks], close=True))


@pytest.mark.parametrize(("response", "outcome"), [
    (b"+OK maildrop has 2 messages", "success"),
    (b"-ERR [AUTH] Authentication failed.", "failure"),
    (b"-ERR invalid password", "failure"),
    (b"-ERR [IN-USE] Mailbox is locked by another POP3 session", "success"),
    (b"-ERR [LOGIN-DELAY] Wait 5 minutes", "unknown"),
    (b"-ERR [SYS/TEMP] Server is busy", "unknown"),
])
def test_the_response_to_a_login_is_its_outcome(response: bytes, outcome: str) -> None:
    code = response.split()[0].decode()
    for login in ([(C, b"USER ward3\r\n"), (S, b"+OK\r\n"), (C, b"PASS Rep0rts\r\n")],
                  [(C, b"APOP ward3 c4c9334bac560ecc979e58001b3e22fb\r\n")],
                  [(C, b"AUTH PLAIN\r\n"), (S, b"+ \r\n"), (C, B64(b"\x00ward3\x00Rep0rts") + b"\r\n")]):
        assert outcomes(*login, (S, response + b"\r\n")) == [(1, outcome, code)]


def test_responses_pair_with_pipelined_commands_past_multiline_ones() -> None:
    """CAPA's list (a line there could read as a status), then USER and PASS sent at once."""
    assert outcomes((C, b"CAPA\r\nUSER ward3\r\nPASS wrong\r\n"),
                    (S, b"+OK Capability list follows\r\n-ERR-LIKE\r\n+OK-LIKE\r\n.\r\n"),
                    (S, b"+OK user ok\r\n-ERR [AUTH] Authentication failed\r\n"),
                    (C, b"USER ward3\r\nPASS right\r\n"), (S, b"+OK\r\n+OK Logged in.\r\n")) == [
        (1, "failure", "-ERR"), (2, "success", "+OK")]
    assert outcomes((C, b"USER ward3\r\n"), (S, b"+OK\r\n"), (C, b"PASS x\r\n")) == [(1, "unknown", None)]


def test_the_reason_never_carries_what_the_client_sent() -> None:
    found = observations(Pop3Extractor(KEY), FLOW, [(C, b"PASS Rep0rts 2025\r\n"),
                                                    (S, b"-ERR bad password 'Rep0rts 2025'\r\n")])
    (answer,) = [o for o in found if isinstance(o, AuthenticationOutcome)]
    assert answer.reason == "bad password" and "Rep0rts" not in repr(found)


def test_truncated_responses_wait() -> None:
    response = b"-ERR [AUTH] Authentication failed\r\n"
    for cut in range(len(response)):
        ext = Pop3Extractor(KEY)
        observations(ext, FLOW, [(C, b"PASS x\r\n")])
        assert ext.parse(FLOW, S, 1.0, response[:cut]) == ([], 0)


@given(st.lists(st.binary(max_size=60), max_size=6))
def test_fuzz_responses_raise_nothing_but_parse_errors(lines: list[bytes]) -> None:
    with contextlib.suppress(ParseError):
        answers(observations(Pop3Extractor(KEY), FLOW, [(C, b"CAPA\r\nPASS x\r\n"),
                                                        *[(S, line.replace(b"\n", b"") + b"\r\n") for line in lines]],
                             close=True))


POP3_CAPTURES = ["ndpi/tests/cfgs/default/pcap/pop3.pcap", "zeek/pop3/pop3.pcap", "suricata-verify/pop3/input.pcap",
                 "suricata-verify/pop3-auth-01/input.pcap"]


@needs_real_pcaps
@pytest.mark.parametrize("name", POP3_CAPTURES)
def test_outcomes_equal_tshark(real_pcaps: Path, name: str) -> None:
    """tshark's `pop.response.indicator` of the first +OK or -ERR after each PASS, APOP or AUTH
    with a mechanism (past the SASL continuations)."""
    out = subprocess.run(["tshark", "-n", "-r", str(real_pcaps / name), "-Y", "pop", "-T", "fields",
                          "-e", "tcp.stream", "-e", "pop.request.command", "-e", "pop.request.parameter",
                          "-e", "pop.response.indicator"], capture_output=True, text=True, check=True).stdout
    theirs, awaiting = [], set()
    for stream, command, parameter, indicators in (line.split("\t") for line in out.splitlines()):
        if command.upper() in ("PASS", "APOP") or (command.upper() == "AUTH" and parameter):
            awaiting.add(stream)
        for indicator in indicators.split(","):
            if stream in awaiting and indicator in ("+OK", "-ERR"):
                awaiting.discard(stream)
                theirs.append(indicator)
    ours = [a.reason_code for _c, a in paired(Sensor(secrets=KEY).read(str(real_pcaps / name)))]
    assert theirs and sorted(ours) == sorted(theirs)
