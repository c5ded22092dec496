"""Redis AUTH / HELLO AUTH in RESP arrays and inline commands: user kept, password
fingerprinted; truth files, truncation and fuzzing."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import needs_real_pcaps
from trustwatch.sensor.flowid import Direction, Endpoint, FlowId
from trustwatch.sensor.protocols.base import ParseError
from trustwatch.sensor.protocols.redis import RedisExtractor
from trustwatch.sensor.records import CredentialSeen, SecretKind
from trustwatch.sensor.secrets import SecretHasher
from trustwatch.sensor.sense import Sensor

KEY = SecretHasher(b"redis-test-site-key")
FLOW = FlowId(uid="Credis", transport="tcp", orig=Endpoint("10.40.1.11", 50700, None),
              resp=Endpoint("10.40.0.20", 6379, None))


def resp(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


@pytest.mark.parametrize(("command", "user"), [
    (resp(b"AUTH", b"R3dis!pw"), None),
    (resp(b"auth", b"lis-cache", b"R3dis!pw"), "lis-cache"),
    (resp(b"HELLO", b"3", b"AUTH", b"lis-cache", b"R3dis!pw", b"SETNAME", b"lis"), "lis-cache"),
    (b"AUTH R3dis!pw\r\n", None),
])
def test_auth_forms(command: bytes, user: str | None) -> None:
    found, used = RedisExtractor(KEY).parse(FLOW, Direction.ORIG, 1.0, command)
    assert used == len(command)
    (cred,) = found
    assert isinstance(cred, CredentialSeen) and cred.username == user
    assert cred.secret_fp == KEY.fingerprint(SecretKind.PASSWORD, "R3dis!pw").value


def test_probe_truncation_and_garbage() -> None:
    data = resp(b"AUTH", b"u", b"p")
    assert RedisExtractor.probe(data) and not RedisExtractor.probe(b"*** banner ***")
    for cut in range(len(data)):
        assert RedisExtractor(KEY).parse(FLOW, Direction.ORIG, 1.0, data[:cut]) == ([], 0)
    with pytest.raises(ParseError, match="redis_bad_bulk"):
        RedisExtractor(KEY).parse(FLOW, Direction.ORIG, 1.0, b"*1\r\n+OK\r\n")


@given(st.binary(max_size=120))
def test_fuzz_raises_nothing_but_parse_errors(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        RedisExtractor(KEY).parse(FLOW, Direction.ORIG, 1.0, b"*2\r\n$" + data)


@needs_real_pcaps
def test_every_redis_login_of_the_real_captures(real_pcaps: Path) -> None:
    for prefix, name in (("", "expected.json"), ("lab/", "lab/expected.json")):
        for capture, facts in json.loads((real_pcaps / name).read_text()).items():
            logins = {(c.get("user") if "password" in c else (c["args"][0] if len(c["args"]) == 2 else None),
                       c.get("password") or c["args"][-1])
                      for c in (facts.get("credentials", []) if isinstance(facts, dict) else [])
                      if c.get("proto") == "redis"}
            if not logins:
                continue
            got = {(o.username, o.secret_fp) for o in Sensor(secrets=KEY).read(str(real_pcaps / prefix / capture))
                   if isinstance(o, CredentialSeen)}
            for user, password in logins:
                assert (user, KEY.fingerprint(SecretKind.PASSWORD, password).value) in got, (capture, user)
