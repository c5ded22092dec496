"""SMTP AUTH PLAIN/LOGIN (password fingerprinted), CRAM-MD5 (user, a hash), STARTTLS handed
over, mail content never read; truth files, truncation and fuzzing."""

from __future__ import annotations

import base64
import contextlib
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import needs_real_pcaps
from trustwatch.sensor.flowid import Direction, Endpoint, FlowId
from trustwatch.sensor.protocols.base import ParseError
from trustwatch.sensor.protocols.smtp import SmtpExtractor
from trustwatch.sensor.records import CredentialSeen, SecretKind
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
