"""POP3: USER/PASS (password fingerprinted), APOP (user, a hash), STLS handed over; truth
files, tshark `pop.request.*`, truncation and fuzzing."""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sensor.flowid import Direction, Endpoint, FlowId
from sensor.protocols.base import ParseError
from sensor.protocols.pop3 import Pop3Extractor
from sensor.records import CredentialSeen, SecretKind, TlsServerCertificate
from sensor.secrets import SecretHasher
from sensor.sense import Sensor
from tests.conftest import needs_real_pcaps

KEY = SecretHasher(b"pop3-test-site-key")
FLOW = FlowId(uid="Cpop", transport="tcp", orig=Endpoint("10.20.9.1", 50900, None),
              resp=Endpoint("10.10.2.110", 110, None))
C, S = Direction.ORIG, Direction.RESP


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


def test_probe_truncation_and_garbage() -> None:
    assert Pop3Extractor.probe(b"+OK Dovecot (Debian) ready.\r\n")
    assert not Pop3Extractor.probe(b"220 (vsFTPd 3.0.5)\r\n")
    with pytest.raises(ParseError, match="pop3_line_too_long"):
        Pop3Extractor(KEY).parse(FLOW, C, 1.0, b"PASS " + b"x" * 2000)
    line = b"PASS secret\r\n"
    for cut in range(len(line)):
        assert Pop3Extractor(KEY).parse(FLOW, C, 1.0, line[:cut]) == ([], 0)


@given(st.lists(st.tuples(st.sampled_from([C, S]), st.binary(max_size=60)), max_size=8))
def test_fuzz_raises_nothing_but_parse_errors(lines: list[tuple[Direction, bytes]]) -> None:
    ext = Pop3Extractor(KEY)
    with contextlib.suppress(ParseError):
        for direction, line in lines:
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
            if isinstance(o, CredentialSeen)}
    assert theirs and ours == theirs


@needs_real_pcaps
def test_stls_connection_yields_its_tls_handshake(real_pcaps: Path) -> None:
    path = real_pcaps / "zeek" / "tls" / "pop3-starttls.pcap"
    assert [o for o in Sensor().read(str(path)) if isinstance(o, TlsServerCertificate)]
