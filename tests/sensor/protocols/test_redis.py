"""Redis AUTH / HELLO AUTH in RESP arrays and inline commands: user kept, password
fingerprinted; the reply to each (+OK, -WRONGPASS...) paired in order as its outcome; truth
files, tshark's RESP dissector, truncation and fuzzing."""

from __future__ import annotations

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
from trustwatch.sensor.protocols.redis import MAX_DEPTH, RedisExtractor
from trustwatch.sensor.records import AuthenticationOutcome, CredentialSeen, Outcome, SecretKind
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


C, S = Direction.ORIG, Direction.RESP
AUTH = resp(b"AUTH", b"lis-cache", b"R3dis!pw")
HELLO_MAP = b"%2\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:3\r\n"
"""HELLO's reply in RESP 3: a map of the server's properties."""


def outcomes(*chunks: tuple[Direction, bytes]) -> list[tuple[int, str, str | None]]:
    return answers(observations(RedisExtractor(KEY), FLOW, list(chunks), close=True))


@pytest.mark.parametrize(("reply", "outcome", "code"), [
    (b"+OK\r\n", "success", "OK"),
    (b"-WRONGPASS invalid username-password pair or user is disabled.\r\n", "failure", "WRONGPASS"),
    (b"-ERR invalid password\r\n", "failure", "ERR"),  # Redis 5
    (b"-NOAUTH Authentication required.\r\n", "failure", "NOAUTH"),
    (b"-ERR AUTH <password> called without any password configured for the default user.\r\n", "unknown", "ERR"),
    (b"-ERR wrong number of arguments for 'auth' command\r\n", "unknown", "ERR"),
    (HELLO_MAP, "success", None),
])
def test_the_reply_to_auth_is_its_outcome(reply: bytes, outcome: str, code: str | None) -> None:
    assert outcomes((C, AUTH), (S, reply)) == [(1, outcome, code)]


def test_replies_pair_with_commands_in_order_through_bulks_aggregates_and_pushes() -> None:
    """A GET's bulk reply split across segments, an array of arrays, a RESP 3 push and an
    attribute before the reply: only the reply to each AUTH answers it."""
    commands = (resp(b"GET", b"adt:last") + AUTH + resp(b"LRANGE", b"q", b"0", b"1") + resp(b"AUTH", b"x")
                + resp(b"PING"))
    replies = (b"$11\r\nhello world\r\n" + b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$-1\r\n" + b"+OK\r\n"
               + b"*2\r\n*1\r\n:1\r\n$1\r\na\r\n" + b"|1\r\n+ttl\r\n:3\r\n-WRONGPASS no\r\n" + b"+PONG\r\n")
    whole = outcomes((C, commands), (S, replies))
    assert whole == [(1, "success", "OK"), (2, "failure", "WRONGPASS")]
    assert outcomes((C, commands), *[(S, replies[i : i + 1]) for i in range(len(replies))]) == whole
    assert outcomes((C, AUTH)) == [(1, "unknown", None)], "no reply captured"


def test_the_reason_never_carries_what_the_client_sent() -> None:
    """A server without AUTH (renamed away) echoes the arguments: the password must not follow."""
    found = observations(RedisExtractor(KEY), FLOW, [
        (C, AUTH), (S, b"-ERR unknown command 'AUTH', with args beginning with: 'lis-cache' 'R3dis!pw'\r\n")])
    (answer,) = [o for o in found if isinstance(o, AuthenticationOutcome)]
    assert (answer.outcome, answer.reason) == (Outcome.UNKNOWN, "unknown command")
    assert "R3dis" not in repr(found)


def test_reading_ends_once_the_commands_are_read_and_answered() -> None:
    ext = RedisExtractor(KEY)
    observations(ext, FLOW, [(C, resp(b"PING") * 15 + AUTH + resp(b"AUTH", b"late"))])
    assert ext.done and not ext.finished and len(ext.pending) == 1, "the 16th command's answer is awaited"
    observations(ext, FLOW, [(S, b"+PONG\r\n" * 15 + b"+OK\r\n")])
    assert ext.finished
    subscribed = RedisExtractor(KEY)
    observations(subscribed, FLOW, [(C, resp(b"SUBSCRIBE", b"adt"))])
    assert subscribed.finished, "after SUBSCRIBE the server talks on its own: nothing more pairs"


def test_truncated_and_bad_replies() -> None:
    replies = b"*2\r\n$5\r\nhello\r\n:1\r\n-WRONGPASS x\r\n"
    for cut in range(len(replies)):  # the AUTH's reply, the last one, is never complete
        ext = RedisExtractor(KEY)
        observations(ext, FLOW, [(C, resp(b"LRANGE", b"q", b"0", b"1") + AUTH)])
        assert [o for o in observations(ext, FLOW, [(S, replies[:cut])]) if isinstance(o, AuthenticationOutcome)] == []
    assert RedisExtractor(KEY).parse(FLOW, S, 1.0, b"+O") == ([], 0)
    for bad in (b"?what\r\n", b"$x\r\n", b"*-2\r\n", b"\r\n"):
        with pytest.raises(ParseError, match="redis_bad_reply"):
            RedisExtractor(KEY).parse(FLOW, S, 1.0, bad)
    with pytest.raises(ParseError, match="redis_reply_too_deep"):
        observations(RedisExtractor(KEY), FLOW, [(S, b"*1\r\n" * (MAX_DEPTH + 1))])
    with pytest.raises(ParseError, match="redis_reply_too_long"):
        RedisExtractor(KEY).parse(FLOW, S, 1.0, b"+" + b"x" * 5000)


@given(st.binary(max_size=120))
def test_fuzz_replies_raise_nothing_but_parse_errors(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        answers(observations(RedisExtractor(KEY), FLOW, [(C, AUTH), (S, data)], close=True))


def lab_truth(real_pcaps: Path) -> list[tuple[str, bool]]:
    facts = json.loads((real_pcaps / "lab" / "expected.json").read_text())["redis.pcap"]["credentials"]
    return sorted((c["user"] or "", c["auth_ok"]) for c in facts)


def sensed_outcomes(path: Path) -> list[tuple[CredentialSeen, AuthenticationOutcome]]:
    return paired(Sensor(secrets=KEY).read(str(path)))


@needs_real_pcaps
def test_outcomes_of_the_lab_logins_equal_the_truth(real_pcaps: Path) -> None:
    ours = sorted((c.username or "", a.outcome == Outcome.SUCCESS)
                  for c, a in sensed_outcomes(real_pcaps / "lab/redis.pcap"))
    assert ours == lab_truth(real_pcaps)


@needs_real_pcaps
@pytest.mark.parametrize("name", ["lab/redis.pcap", "zeek/redis/auth.pcap"])
def test_outcomes_equal_tshark(real_pcaps: Path, name: str) -> None:
    """tshark's RESP dissector: the server's frame after each client frame whose command is
    AUTH (or HELLO with AUTH) holds an error (`resp.error`: its first word) or not (accepted)."""
    out = subprocess.run(["tshark", "-n", "-r", str(real_pcaps / name), "-d", "tcp.port==6379,resp", "-Y", "resp",
                          "-T", "fields", "-e", "tcp.stream", "-e", "tcp.srcport", "-e", "resp.bulk_string.value",
                          "-e", "resp.error"], capture_output=True, text=True, check=True).stdout
    theirs, awaiting = [], set()
    for stream, port, values, error in (line.split("\t") for line in out.splitlines()):
        words = [bytes.fromhex(v).upper() for v in values.split(",") if v]
        if port != "6379":
            if words[:1] == [b"AUTH"] or (words[:1] == [b"HELLO"] and b"AUTH" in words):
                awaiting.add(stream)
        elif stream in awaiting:
            awaiting.discard(stream)
            theirs.append(("failure", error.split(" ")[0]) if error else ("success", None))
    ours = [(str(a.outcome), a.reason_code if a.outcome != Outcome.SUCCESS else None)
            for _c, a in sensed_outcomes(real_pcaps / name)]
    assert theirs and sorted(ours) == sorted(theirs)
