"""IMAP: LOGIN (atoms, quoted strings, literals), AUTHENTICATE (SASL), the tagged response as
the login's outcome (OK, NO, BAD), STARTTLS handed over, mailbox content never read; truth
files, tshark `imap.request.*` and `imap.response.status`, truncation and fuzzing."""

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
from tests.sensor.protocols.streams import answers, credentials, observations, paired
from trustwatch.sensor.flowid import Direction, Endpoint, FlowId
from trustwatch.sensor.protocols.base import ParseError
from trustwatch.sensor.protocols.imap import MAX_LINE, MAX_LITERAL, ImapExtractor
from trustwatch.sensor.records import AuthenticationOutcome, CredentialSeen, SecretKind, TlsServerCertificate
from trustwatch.sensor.secrets import SecretHasher
from trustwatch.sensor.sense import Sensor

KEY = SecretHasher(b"imap-test-site-key")
FLOW = FlowId(uid="Cimap", transport="tcp", orig=Endpoint("10.20.9.7", 50143, None),
              resp=Endpoint("10.10.2.143", 143, None))
C, S = Direction.ORIG, Direction.RESP
B64 = base64.b64encode
GREETING = (S, b"* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR AUTH=PLAIN] ready\r\n")
PASSWORD = KEY.fingerprint(SecretKind.PASSWORD, 'Ra"d\\iology 7').value


def feed(chunks: list[tuple[Direction, bytes]], ext: ImapExtractor | None = None
         ) -> tuple[ImapExtractor, list[CredentialSeen]]:
    ext = ext or ImapExtractor(KEY)
    return ext, credentials(ext, FLOW, chunks)


def test_login_atoms_quoted_and_literals() -> None:
    for login in (b'a1 LOGIN pacs-ws2 "Ra\\"d\\\\iology 7"\r\n',
                  b'a1 LOGIN "pacs-ws2" {13}\r\nRa"d\\iology 7\r\n',
                  b'a1 LOGIN {8+}\r\npacs-ws2 {13+}\r\nRa"d\\iology 7\r\n'):
        ext, creds = feed([GREETING, (C, login), (S, b"a1 OK LOGIN completed\r\n")])
        assert [(c.username, c.secret_kind, c.secret_fp, c.mechanism) for c in creds] == [
            ("pacs-ws2", SecretKind.PASSWORD, PASSWORD, "LOGIN")], login
        assert ext.finished


def test_synchronising_literal_after_the_continuation_byte_by_byte() -> None:
    exchange = [GREETING, (C, b"a1 LOGIN {8}\r\n"), (S, b"+ Ready for literal\r\n"), (C, b"pacs-ws2 {13}\r\n"),
                (S, b"+ go\r\n"), (C, b'Ra"d\\iology 7\r\n'), (S, b"a1 NO [AUTHENTICATIONFAILED] no\r\n")]
    ext, creds = feed([(d, bytes([b])) for d, chunk in exchange for b in chunk])
    assert [(c.username, c.secret_fp) for c in creds] == [("pacs-ws2", PASSWORD)]
    assert not ext.finished


@pytest.mark.parametrize("exchange", [
    [(C, b"a2 AUTHENTICATE PLAIN " + B64(b"\x00pacs-ws2\x00Ra\"d\\iology 7") + b"\r\n")],
    [(C, b"a2 AUTHENTICATE PLAIN\r\n"), (S, b"+ \r\n"), (C, B64(b"admin\x00pacs-ws2\x00Ra\"d\\iology 7") + b"\r\n")],
    [(C, b"a2 AUTHENTICATE LOGIN\r\n"), (S, b"+ VXNlcm5hbWU6\r\n"), (C, B64(b"pacs-ws2") + b"\r\n"),
     (S, b"+ UGFzc3dvcmQ6\r\n"), (C, B64(b"Ra\"d\\iology 7") + b"\r\n")],
])
def test_authenticate_plain_and_login(exchange: list[tuple[Direction, bytes]]) -> None:
    ext, creds = feed([GREETING, (C, b"a1 CAPABILITY\r\n"), *exchange, (S, b"a1 OK done\r\n")])
    assert [(c.username, c.secret_fp, c.mechanism) for c in creds] == [
        ("pacs-ws2", PASSWORD, exchange[0][1].split()[2].decode())]
    assert not ext.finished
    feed([(S, b"a2 OK [CAPABILITY IMAP4rev1] Logged in\r\n")], ext)
    assert ext.finished


def test_cram_md5_other_mechanisms_cancel_and_failure() -> None:
    _ext, creds = feed([(C, b"a1 AUTHENTICATE CRAM-MD5\r\n"), (S, b"+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2U+\r\n"),
                        (C, B64(b"pacs-ws2 b913a602c7eda7a495b4e6e7334d3890") + b"\r\n")])
    assert [(c.username, c.secret_kind, c.secret_fp) for c in creds] == [("pacs-ws2", SecretKind.HASH, None)]
    _ext, creds = feed([(C, b"a1 AUTHENTICATE GSSAPI\r\n"), (S, b"+ \r\n"), (C, B64(b"\x60\x82token") + b"\r\n")])
    assert [(c.username, c.secret_kind, c.secret_fp, c.mechanism) for c in creds] == [
        (None, SecretKind.NONE, None, "GSSAPI")]
    ext, creds = feed([(C, b"a1 AUTHENTICATE LOGIN\r\n"), (S, b"+ VXNlcm5hbWU6\r\n"), (C, b"*\r\n"),
                       (S, b"a1 BAD cancelled\r\n"), (C, b"a2 AUTHENTICATE PLAIN\r\n"), (S, b"a2 NO unsupported\r\n"),
                       (C, b"a3 LOGIN pacs-ws2 x\r\n"), (S, b"a3 NO [AUTHENTICATIONFAILED] no\r\n")])
    assert [(c.username, c.mechanism) for c in creds] == [("pacs-ws2", "LOGIN")]
    assert not ext.finished


def test_empty_literals() -> None:
    ext, creds = feed([GREETING, (C, b"a1 LOGIN {0}\r\n {0}\r\n\r\n"), (S, b"a1 OK\r\n")])
    assert [(c.username, c.secret_fp) for c in creds] == [("", KEY.fingerprint(SecretKind.PASSWORD, b"").value)]
    assert ext.finished


def test_starttls_preauth_and_probe() -> None:
    ext, _ = feed([GREETING, (C, b". STARTTLS\r\n"), (S, b". OK Begin TLS negotiation now\r\n")])
    assert ext.upgraded
    ext, _ = feed([GREETING, (C, b". STARTTLS\r\n"), (S, b". BAD not now\r\n"), (C, b". LOGIN u p\r\n"),
                   (S, b". OK logged in\r\n")])
    assert not ext.upgraded and ext.finished
    ext, _ = feed([(S, b"* PREAUTH [CAPABILITY IMAP4rev1] logged in as ward3\r\n")])
    assert ext.finished
    assert ImapExtractor.probe(b"* OK Dovecot ready.\r\n") and ImapExtractor.probe(b"* PREAUTH ready\r\n")
    assert not ImapExtractor.probe(b"+OK POP3 ready\r\n") and not ImapExtractor.probe(b"* BYE busy\r\n")


def test_literals_of_other_commands_and_of_the_server_are_skipped() -> None:
    ext, creds = feed([GREETING, (C, b'a0 ID ("name" {21+}\r\na9 LOGIN fake creds\r\n "os" NIL)\r\n'),
                       (C, b"a1 LOGIN pacs-ws2 {13+}\r\n" + b'Ra"d\\iology 7' + b"\r\n"),
                       (S, b'* ID ("name" {12}\r\na1 OK fake\r\n)\r\na0 OK ID completed\r\n'),
                       (S, b"a1 NO [AUTHENTICATIONFAILED] no\r\n")])
    assert [(c.username, c.secret_fp) for c in creds] == [("pacs-ws2", PASSWORD)]
    assert not ext.finished


def test_truncation_and_garbage() -> None:
    for line in (b"a1 LOGIN user secret\r\n", b"a1 AUTHENTICATE PLAIN " + B64(b"\x00u\x00p") + b"\r\n"):
        for cut in range(len(line)):
            assert ImapExtractor(KEY).parse(FLOW, C, 1.0, line[:cut]) == ([], 0)
    ext = ImapExtractor(KEY)
    assert ext.parse(FLOW, C, 1.0, b"a1 LOGIN {6}\r\n") == ([], 14)
    for cut in range(6):
        assert ext.parse(FLOW, C, 1.0, b"secret"[:cut]) == ([], 0)
    with pytest.raises(ParseError, match="imap_line_too_long"):
        ImapExtractor(KEY).parse(FLOW, C, 1.0, b"a1 LOGIN u " + b"x" * MAX_LINE)
    with pytest.raises(ParseError, match="imap_literal_too_long"):
        feed([(C, b"a1 LOGIN {%d}\r\n" % (MAX_LITERAL + 1)), (C, b"x")])
    with pytest.raises(ParseError, match="imap_login_too_long"):
        feed([(C, b"a1 LOGIN u p {3}\r\n")])
    with pytest.raises(ParseError, match="imap_bad_base64"):
        feed([(C, b"a1 AUTHENTICATE PLAIN %%%\r\n")])
    with pytest.raises(ParseError, match="imap_bad_plain"):
        feed([(C, b"a1 AUTHENTICATE PLAIN " + B64(b"user:secret") + b"\r\n")])


@given(st.lists(st.tuples(st.sampled_from([C, S]), st.binary(max_size=60)), max_size=10),
       st.sampled_from([b"a1 NOOP\r\n", b"a1 LOGIN {4}\r\n", b"a1 AUTHENTICATE LOGIN\r\n", b"a1 ID {3+}\r\n"]))
def test_fuzz_raises_nothing_but_parse_errors(chunks: list[tuple[Direction, bytes]], first: bytes) -> None:
    with contextlib.suppress(ParseError):
        feed([(C, first), *chunks])


def tshark_users(path: Path) -> set[str]:
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-Y", "imap.request.username", "-T", "fields",
                          "-e", "imap.request.username"], capture_output=True, text=True, check=True).stdout
    return {user[1:-1] if user.startswith('"') else user for user in out.splitlines()}


@needs_real_pcaps
@pytest.mark.parametrize("name", ["ndpi/tests/cfgs/default/pcap/imap.pcap",
                                  "suricata-verify/imap-detection/input.pcap"])
def test_same_users_as_tshark_and_passwords_of_the_truth_file(real_pcaps: Path, name: str) -> None:
    """tshark's imap.request.password drops the first and last character of an unquoted
    password ('pfres' shows as 'fre'): passwords come from expected.json."""
    ours = {(o.username, o.secret_fp) for o in Sensor(secrets=KEY).read(str(real_pcaps / name))
            if isinstance(o, CredentialSeen) and o.mechanism == "LOGIN"}
    assert {user for user, _ in ours} == tshark_users(real_pcaps / name)
    facts = json.loads((real_pcaps / "expected.json").read_text())[name]
    truth = {(c["user"], KEY.fingerprint(SecretKind.PASSWORD, c["password"]).value) for c in facts["credentials"]
             if c.get("mech") == "LOGIN-cmd"}
    assert truth and ours == truth


@needs_real_pcaps
def test_starttls_connection_yields_its_tls_handshake(real_pcaps: Path) -> None:
    path = real_pcaps / "ndpi" / "tests" / "cfgs" / "default" / "pcap" / "imap-starttls.pcap"
    certs = [o for o in Sensor().read(str(path)) if isinstance(o, TlsServerCertificate)]
    assert certs and "imap.gmx.net" in str(certs[0])


def outcomes(*chunks: tuple[Direction, bytes]) -> list[tuple[int, str, str | None]]:
    return answers(observations(ImapExtractor(KEY), FLOW, [GREETING, *chunks], close=True))


@pytest.mark.parametrize(("response", "outcome"), [
    (b"a1 OK [CAPABILITY IMAP4rev1] Logged in\r\n", "success"),
    (b"a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n", "failure"),
    (b"a1 NO [EXPIRED] Password expired\r\n", "failure"),
    (b"a1 NO Login failed\r\n", "failure"),
    (b"a1 NO [UNAVAILABLE] Temporary authentication failure\r\n", "unknown"),
    (b"a1 BAD Error in IMAP command\r\n", "unknown"),
])
def test_the_tagged_response_is_the_outcome(response: bytes, outcome: str) -> None:
    status = response.split()[1].decode()
    assert outcomes((C, b"a1 LOGIN pacs-ws2 secret\r\n"), (S, response)) == [(1, outcome, status)]
    assert outcomes((C, b"a1 AUTHENTICATE PLAIN\r\n"), (S, b"+ \r\n"), (C, B64(b"\x00pacs-ws2\x00secret") + b"\r\n"),
                    (S, response)) == [(1, outcome, status)]


def test_responses_pair_by_tag() -> None:
    """Untagged data, another command's response and a reused tag in between."""
    assert outcomes((C, b"a1 LOGIN u wrong\r\na2 NOOP\r\n"), (S, b"* BYE? no: * OK still here\r\n"),
                    (S, b"a2 OK NOOP done\r\na1 NO [AUTHENTICATIONFAILED] no\r\n"),
                    (C, b"a3 LOGIN u right\r\n"), (S, b"a3 OK in\r\n")) == [(1, "failure", "NO"), (2, "success", "OK")]
    assert outcomes((C, b"a1 LOGIN u p\r\n"), (C, b"a1 NOOP\r\n"), (S, b"a1 OK NOOP done\r\n")) == [
        (1, "unknown", None)], "the tag reused before its answer: which command it answers is unknown"
    assert outcomes((C, b"a1 LOGIN u p\r\n")) == [(1, "unknown", None)]


def test_the_reason_keeps_the_servers_words() -> None:
    found = observations(ImapExtractor(KEY), FLOW, [(C, b'a1 LOGIN pacs-ws2 "Ra d"\r\n'),
                                                    (S, b'a1 NO [AUTHENTICATIONFAILED] Invalid password "Ra d"\r\n')])
    (answer,) = [o for o in found if isinstance(o, AuthenticationOutcome)]
    assert answer.reason == "[AUTHENTICATIONFAILED] Invalid password"


def test_truncated_responses_wait() -> None:
    response = b"a1 NO [AUTHENTICATIONFAILED] no\r\n"
    for cut in range(len(response)):
        ext = ImapExtractor(KEY)
        observations(ext, FLOW, [(C, b"a1 LOGIN u p\r\n")])
        assert ext.parse(FLOW, S, 1.0, response[:cut]) == ([], 0)


@given(st.lists(st.binary(max_size=60), max_size=6))
def test_fuzz_responses_raise_nothing_but_parse_errors(lines: list[bytes]) -> None:
    with contextlib.suppress(ParseError):
        answers(observations(ImapExtractor(KEY), FLOW, [(C, b"a1 LOGIN u p\r\n"),
                                                        *[(S, b"a1 " + line + b"\r\n") for line in lines]],
                             close=True))


@needs_real_pcaps
@pytest.mark.parametrize("name", ["ndpi/tests/cfgs/default/pcap/imap.pcap",
                                  "suricata-verify/imap-detection/input.pcap"])
def test_outcomes_equal_tshark(real_pcaps: Path, name: str) -> None:
    """tshark's `imap.response.status` of the response tagged as each LOGIN or AUTHENTICATE."""
    out = subprocess.run(["tshark", "-n", "-r", str(real_pcaps / name), "-Y", "imap", "-T", "fields",
                          "-e", "tcp.stream", "-e", "imap.request_tag", "-e", "imap.request.command",
                          "-e", "imap.response_tag", "-e", "imap.response.status"],
                         capture_output=True, text=True, check=True).stdout
    theirs, logins = [], set()
    for stream, request_tag, command, response_tags, status in (line.split("\t") for line in out.splitlines()):
        if command.upper() in ("LOGIN", "AUTHENTICATE"):
            logins.add((stream, request_tag))
        for tag in response_tags.split(","):
            if (stream, tag) in logins:
                logins.discard((stream, tag))
                theirs.append(status.upper())
    ours = [a.reason_code for _c, a in paired(Sensor(secrets=KEY).read(str(real_pcaps / name)))]
    assert theirs and sorted(ours) == sorted(theirs)
