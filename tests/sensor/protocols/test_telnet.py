"""Telnet: negotiation stripped, the keystrokes typed at the login and password prompts (the
password fingerprinted), the server's words after the password read conservatively as its
outcome, the session after never read; truth files, tshark `telnet.data`, truncation and
fuzzing."""

from __future__ import annotations

import codecs
import contextlib
import json
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import needs_real_pcaps
from tests.sensor.protocols.streams import answers, credentials, observations, paired
from trustwatch.sensor.flowid import Direction, Endpoint, FlowId
from trustwatch.sensor.protocols.base import ParseError
from trustwatch.sensor.protocols.telnet import MAX_INPUT, MAX_SUBNEGOTIATION, TelnetExtractor
from trustwatch.sensor.records import AuthenticationOutcome, CredentialSeen, Outcome, SecretKind
from trustwatch.sensor.secrets import SecretHasher
from trustwatch.sensor.sense import Sensor

KEY = SecretHasher(b"telnet-test-site-key")
FLOW = FlowId(uid="Ctelnet", transport="tcp", orig=Endpoint("10.20.9.8", 50023, None),
              resp=Endpoint("10.10.2.23", 23, None))
C, S = Direction.ORIG, Direction.RESP
NEGOTIATION = [(S, b"\xff\xfd\x18\xff\xfd\x20\xff\xfb\x01"), (C, b"\xff\xfb\x18\xff\xfc\x20\xff\xfd\x01"),
               (S, b"\xff\xfa\x18\x01\xff\xf0"), (C, b"\xff\xfa\x18\x00VT\xff\xff100\xff\xf0")]


def fp(password: bytes) -> str:
    return KEY.fingerprint(SecretKind.PASSWORD, password).value


def feed(chunks: list[tuple[Direction, bytes]]) -> tuple[TelnetExtractor, list[CredentialSeen]]:
    ext = TelnetExtractor(KEY)
    return ext, credentials(ext, FLOW, chunks)


def typed(text: bytes, echo: bool) -> list[tuple[Direction, bytes]]:
    """One keystroke per segment, each echoed by the server if `echo`."""
    return [step for key in text for step in ([(C, bytes([key])), (S, bytes([key]))] if echo else [(C, bytes([key]))])]


def test_character_mode_with_echo_backspace_and_negotiation() -> None:
    ext, creds = feed([*NEGOTIATION, (S, b"\r\nInfusion pump gateway\r\n\r\nlogin: "),
                       *typed(b"biomedx\x7f\r\x00", echo=True), (S, b"Pass"), (S, b"word: "),
                       *typed(b"Pump#\xff\xff12\x08\x083x\xff\xf7!\r\n", echo=False),
                       (S, b"\r\nLast login: today\r\n$ "), (C, b"cat /etc/shadow\r\n")])
    assert [(c.username, c.secret_kind, c.secret_fp, c.mechanism) for c in creds] == [
        ("biomed", SecretKind.PASSWORD, fp(b"Pump#\xff3!"), "login-prompt")]
    assert ext.finished


@pytest.mark.parametrize(("prompt", "line_end"), [(b"Username:", b"\n"), (b"User Name: ", b"\r\n"),
                                                  (b"LOGIN: ", b"\r\x00")])
def test_line_mode_prompts(prompt: bytes, line_end: bytes) -> None:
    _ext, creds = feed([*NEGOTIATION, (S, prompt), (C, b"tech" + line_end), (S, b"tech\r\nPassword:"),
                        (C, b"infu5ion" + line_end)])
    assert [(c.username, c.secret_fp) for c in creds] == [("tech", fp(b"infu5ion"))]


def test_password_only_device_kill_line_and_lines_not_asked_for() -> None:
    ext, creds = feed([*NEGOTIATION, (C, b"hello\r\n"), (S, b"\r\nUser Access Verification\r\n\r\nPassword: "),
                       (C, b"wrong\x15cisco\xff\xf8c1sco\r\n")])
    assert [(c.username, c.secret_fp) for c in creds] == [(None, fp(b"c1sco"))]
    assert not ext.finished, "the server's verdict is awaited"
    credentials(ext, FLOW, [(S, b"\r\nward3-sw>")])
    assert ext.finished
    ext, creds = feed([*NEGOTIATION, (S, b"Welcome\r\n$ "), (C, b"ls\r\n"), (S, b"Last login: x\r\n")])
    assert creds == [] and not ext.finished


def test_probe() -> None:
    assert TelnetExtractor.probe(b"\xff\xfd\x18\xff\xfd\x20\xff\xfd\x23")
    assert TelnetExtractor.probe(b"\xff\xfb\x01\xff\xfb\x03")
    assert not TelnetExtractor.probe(b"\xff\xfa\x25\x02\x02\xff\xf0")
    assert not TelnetExtractor.probe(b"login: ") and not TelnetExtractor.probe(b"\xff")


def test_truncation_and_garbage() -> None:
    for sequence in (b"\xff\xfd\x18", b"\xff\xfa\x18\x00VT\xff\xff100\xff\xf0"):
        for cut in range(len(sequence)):
            assert TelnetExtractor(KEY).parse(FLOW, C, 1.0, sequence[:cut]) == ([], 0)
        assert TelnetExtractor(KEY).parse(FLOW, C, 1.0, sequence + b"\xff") == ([], len(sequence))
    with pytest.raises(ParseError, match="telnet_subnegotiation_too_long"):
        TelnetExtractor(KEY).parse(FLOW, S, 1.0, b"\xff\xfa\x18" + b"x" * MAX_SUBNEGOTIATION)
    with pytest.raises(ParseError, match="telnet_line_too_long"):
        feed([(S, b"Password: "), (C, b"x" * (MAX_INPUT + 1))])
    _ext, creds = feed([(S, b"Password: "), (C, b"x" * MAX_INPUT + b"\r\n")])
    assert len(creds) == 1


@given(st.lists(st.tuples(st.sampled_from([C, S]), st.binary(max_size=40)), max_size=12))
def test_fuzz_raises_nothing_but_parse_errors(chunks: list[tuple[Direction, bytes]]) -> None:
    with contextlib.suppress(ParseError):
        feed([(S, b"login: "), *chunks])


def tshark_logins(path: Path) -> set[tuple[str | None, str]]:
    """The lines the client typed after tshark's server data ended with a login or password
    prompt (these captures are in line mode: one line a segment)."""
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-Y", "telnet.data", "-T", "fields", "-e", "tcp.stream",
                          "-e", "tcp.dstport", "-e", "telnet.data", "-E", "aggregator=\x1f"],
                         capture_output=True, text=True, check=True).stdout
    asked: dict[str, bytes] = {}
    users: dict[str, str | None] = {}
    logins = set()
    for stream, port, data in (line.split("\t") for line in out.splitlines()):
        text = codecs.escape_decode(data.replace("\x1f", "").encode())[0]
        if port != "23":
            asked[stream] = text.rstrip().lower()
        elif asked.get(stream, b"").endswith(b"login:"):
            users[stream] = text.rstrip(b"\r\n").decode()
        elif asked.get(stream, b"").endswith(b"password:"):
            logins.add((users.get(stream), fp(text.rstrip(b"\r\n"))))
    return logins


@needs_real_pcaps
@pytest.mark.parametrize("name", ["ndpi/tests/cfgs/default/pcap/telnet.pcap",
                                  "suricata-verify/telnet/telnet-01/telnet.pcap", "lab/telnet.pcap"])
def test_same_logins_as_tshark(real_pcaps: Path, name: str) -> None:
    ours = {(o.username, o.secret_fp) for o in Sensor(secrets=KEY).read(str(real_pcaps / name))
            if isinstance(o, CredentialSeen)}
    assert ours == tshark_logins(real_pcaps / name)
    if name != "lab/telnet.pcap":  # 'fake' typed at "login: ", 'user' at "Password:"
        assert ours == {("fake", fp(b"user"))}


@needs_real_pcaps
def test_every_telnet_login_of_the_truth_file(real_pcaps: Path) -> None:
    facts = json.loads((real_pcaps / "lab" / "expected.json").read_text())["telnet.pcap"]
    truth = {(c["user"], fp(c["password"].encode())) for c in facts["credentials"] if c["proto"] == "telnet"}
    ours = {(o.username, o.secret_fp) for o in Sensor(secrets=KEY).read(str(real_pcaps / "lab" / "telnet.pcap"))
            if isinstance(o, CredentialSeen)}
    assert len(truth) == 2 and ours == truth


@needs_real_pcaps
def test_no_login_in_captures_without_one(real_pcaps: Path) -> None:
    for name in ("zeek/mixed-vlan-mpls.pcap", "zeek/telnet-auth-missing-name.pcap"):
        assert not [o for o in Sensor(secrets=KEY).read(str(real_pcaps / name))
                    if isinstance(o, CredentialSeen) and o.protocol == "telnet"]


LOGIN = [*NEGOTIATION, (S, b"\r\nplc58 login: "), (C, b"nadiak14\r\n"), (S, b"nadiak14\r\nPassword: "),
         (C, b"secret\r\n")]


def verdicts(*server: bytes) -> list[tuple[str, str | None, str | None]]:
    """(outcome, reason, basis) of each answer to the logins of LOGIN and the server's output after it."""
    found = observations(TelnetExtractor(KEY), FLOW, [*LOGIN, *[(S, chunk) for chunk in server]], close=True)
    answers(found)
    return [(str(o.outcome), o.reason, o.basis) for o in found if isinstance(o, AuthenticationOutcome)]


@pytest.mark.parametrize(("server", "outcome"), [
    ([b"\r\nLast login: Mon Jan  8 09:12:44 2024 from 10.20.9.8\r\n"], "success"),
    ([b"\r\n", b"\x1b]0;nadiak14@plc58: ~\x07\x1b[01;32mnadiak14@plc58\x1b[00m:\x1b[01;34m~\x1b[00m$ "], "success"),
    ([b"\r\nThere were 3 failed login attempts since the last successful login.\r\nRouter#"], "success"),
    ([b"\r\nC:\\Users\\biomed>"], "success"),
    ([b"\r\n", b"Login incorrect\r\n", b"\r\nplc58 login: "], "failure"),
    ([b"\r\n% Authentication failed\r\n\r\nUsername: "], "failure"),
    ([b"\r\n% Bad passwords\r\n"], "failure"),
    ([b"\r\nplc58 login: "], "unknown"),
    ([b"\r\n##########################\r\n", b"###############"], "unknown"),
    ([b"\r\nWelcome, checking your account..."], "unknown"),
    ([], "unknown"),
])
def test_the_servers_words_after_the_password(server: list[bytes], outcome: str) -> None:
    (verdict,) = verdicts(*server)
    assert verdict[0] == outcome
    assert verdict[2] is not None, "read from the server's words, not a code: the basis says how"


def test_refused_then_accepted_is_two_attempts_and_reading_ends_at_the_accepted() -> None:
    ext = TelnetExtractor(KEY)
    found = observations(ext, FLOW, [*LOGIN, (S, b"\r\nLogin incorrect\r\nplc58 login: "), (C, b"nadiak14\r\n"),
                                     (S, b"nadiak14\r\nPassword: "), (C, b"right\r\n")])
    assert not ext.finished
    found += observations(ext, FLOW, [(S, b"\r\nLast login: today\r\n$ ")])
    assert answers(found) == [(1, "failure", None), (2, "success", None)] and ext.finished
    assert [c.secret_fp for c in found if isinstance(c, CredentialSeen)] == [fp(b"secret"), fp(b"right")]
    assert [o.reason for o in found if isinstance(o, AuthenticationOutcome)] == ["Login incorrect", "Last login"]


def test_a_line_break_alone_asks_nothing_new() -> None:
    """The echo of the password's CR LF leaves "Password:" at the end of the server's output: it
    is no new prompt (the shell commands typed next are no password)."""
    ext = TelnetExtractor(KEY)
    found = observations(ext, FLOW, [*LOGIN, (S, b"\r\n"), (C, b"id\r\n"), (S, b"\r\n")])
    assert [c.secret_fp for c in found if isinstance(c, CredentialSeen)] == [fp(b"secret")]
    assert not ext.finished and len(ext.pending) == 1


def test_truncated_verdicts_wait() -> None:
    output = b"\r\nLogin incorrect\r\n"
    for cut in range(len(output) - 1):  # the refusal counts once its line ends
        assert verdicts(output[:cut]) == [("unknown", None, "no answer captured")]


@given(st.lists(st.binary(max_size=40), max_size=8))
def test_fuzz_verdicts_raise_nothing_but_parse_errors(chunks: list[bytes]) -> None:
    with contextlib.suppress(ParseError):
        assert len(verdicts(*chunks)) >= 1


@needs_real_pcaps
def test_outcomes_of_the_lab_logins_equal_the_truth(real_pcaps: Path) -> None:
    """No tshark field decodes a Telnet login's outcome: the lab's truth is the reference."""
    truth = json.loads((real_pcaps / "lab" / "expected.json").read_text())["telnet.pcap"]["credentials"]
    ours = sorted((c.secret_fp or "", a.outcome == Outcome.SUCCESS)
                  for c, a in paired(Sensor(secrets=KEY).read(str(real_pcaps / "lab" / "telnet.pcap"))))
    assert ours == sorted((fp(c["password"].encode()), c["auth_ok"]) for c in truth)


@needs_real_pcaps
@pytest.mark.parametrize("name", ["ndpi/tests/cfgs/default/pcap/telnet.pcap",
                                  "suricata-verify/telnet/telnet-01/telnet.pcap"])
def test_an_openbsd_login_is_accepted(real_pcaps: Path, name: str) -> None:
    """OpenBSD's login prints "Last login", then the message of the day and a `$ ` prompt."""
    ((_cred, answer),) = paired(Sensor(secrets=KEY).read(str(real_pcaps / name)))
    assert (answer.outcome, answer.reason) == (Outcome.SUCCESS, "Last login")
