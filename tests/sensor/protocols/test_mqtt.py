"""MQTT CONNECT 3.1/3.1.1/5.0: client id, user name, password fingerprinted, the CONNACK's
answer; truth files, tshark `mqtt.username`/`mqtt.passwd`/`mqtt.conack.val`/
`mqtt.connack.reason_code`, truncation and fuzzing."""

from __future__ import annotations

import contextlib
import json
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import needs_real_pcaps
from tests.sensor.protocols.streams import answers, observations, paired
from trustwatch.sensor.flowid import Direction, Endpoint, FlowId
from trustwatch.sensor.protocols.base import ParseError
from trustwatch.sensor.protocols.mqtt import MqttExtractor
from trustwatch.sensor.records import AuthenticationOutcome, CredentialSeen, Observation, Outcome, SecretKind
from trustwatch.sensor.secrets import SecretHasher
from trustwatch.sensor.sense import Sensor

KEY = SecretHasher(b"mqtt-test-site-key")
FLOW = FlowId(uid="Cmqtt", transport="tcp", orig=Endpoint("10.20.2.31", 50600, None),
              resp=Endpoint("10.10.3.3", 1883, None))
C, S = Direction.ORIG, Direction.RESP


def field(data: bytes) -> bytes:
    return struct.pack(">H", len(data)) + data


def connect(level: int, user: bytes | None, password: bytes | None, will: bool = False) -> bytes:
    flags = (0x80 if user is not None else 0) | (0x40 if password is not None else 0) | (0x04 if will else 0) | 2
    body = field(b"MQTT") + bytes([level, flags]) + b"\x00\x3c" + (b"\x05\x11\x00\x00\x0e\x10" if level == 5 else b"")
    body += field(b"mon-001-vitals")
    if will:
        body += (b"\x00" if level == 5 else b"") + field(b"icu/mon-001/status") + field(b"offline")
    body += (field(user) if user is not None else b"") + (field(password) if password is not None else b"")
    return bytes([0x10, len(body)]) + body


def parse(data: bytes) -> CredentialSeen:
    found, used = MqttExtractor(KEY).parse(FLOW, Direction.ORIG, 1.0, data)
    assert used == len(data) and isinstance(found[0], CredentialSeen)
    return found[0]


def test_connect_every_version_with_and_without_will() -> None:
    for level in (3, 4, 5):
        for will in (False, True):
            cred = parse(connect(level, b"mon-001", b"Vit4ls\x00bin", will))
            assert cred.username == "mon-001" and cred.host == "mon-001-vitals"
            assert cred.secret_fp == KEY.fingerprint(SecretKind.PASSWORD, b"Vit4ls\x00bin").value
    anonymous = parse(connect(4, None, None))
    assert anonymous.secret_kind == SecretKind.NONE and anonymous.username is None


def test_probe_truncation_and_garbage() -> None:
    data = connect(4, b"u", b"p")
    assert MqttExtractor.probe(data) and not MqttExtractor.probe(b"\x10\x05\x00\x04HTTP")
    for cut in range(len(data)):
        assert MqttExtractor(KEY).parse(FLOW, Direction.ORIG, 1.0, data[:cut]) == ([], 0)


@given(st.binary(max_size=120))
def test_fuzz_raises_nothing_but_parse_errors(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        MqttExtractor(KEY).parse(FLOW, Direction.ORIG, 1.0, bytes([0x10, len(data)]) + data)


def truth(real: Path) -> dict[str, set[tuple[str | None, str | None]]]:
    out: dict[str, set[tuple[str | None, str | None]]] = {}
    for prefix, name in (("", "expected.json"), ("lab/", "lab/expected.json")):
        for capture, facts in json.loads((real / name).read_text()).items():
            for c in facts.get("credentials", []) if isinstance(facts, dict) else []:
                if c.get("proto") == "mqtt":
                    fp = KEY.fingerprint(SecretKind.PASSWORD, c["password"]).value if c.get("password") else None
                    out.setdefault(prefix + capture, set()).add((c.get("user"), fp))
    return out


def sensed(path: Path) -> set[tuple[str | None, str | None]]:
    return {(o.username, o.secret_fp) for o in Sensor(secrets=KEY).read(str(path)) if isinstance(o, CredentialSeen)}


@needs_real_pcaps
def test_every_mqtt_login_of_the_real_captures(real_pcaps: Path) -> None:
    expected = truth(real_pcaps)
    assert len(expected) >= 6
    for name, logins in expected.items():
        assert logins <= sensed(real_pcaps / name), name


@needs_real_pcaps
def test_same_logins_as_tshark(real_pcaps: Path) -> None:
    for name in truth(real_pcaps):
        out = subprocess.run(["tshark", "-n", "-r", str(real_pcaps / name), "-Y", "mqtt.msgtype == 1", "-T",
                              "fields", "-e", "mqtt.username", "-e", "mqtt.passwd"], capture_output=True, text=True,
                             check=True).stdout
        theirs = {(user or None, KEY.fingerprint(SecretKind.PASSWORD, pw).value if pw else None)
                  for user, pw in (line.split("\t") for line in out.splitlines())}
        assert sensed(real_pcaps / name) == theirs, name


def connack(code: int, level: int = 4, properties: bytes = b"") -> bytes:
    """CONNACK: acknowledge flags, return (5.0: reason) code, 5.0 properties."""
    body = b"\x00" + bytes([code]) + (bytes([len(properties)]) + properties if level == 5 else b"")
    return bytes([0x20, len(body)]) + body


def exchange(chunks: list[tuple[Direction, bytes]]) -> list[Observation]:
    return observations(MqttExtractor(KEY), FLOW, chunks, close=True)


@pytest.mark.parametrize(("level", "code", "expected"), [
    (4, 0, ("success", "0", "Connection Accepted", None)),
    (4, 4, ("failure", "4", "bad user name or password", None)),
    (3, 5, ("failure", "5", "not authorized", None)),
    (4, 2, ("unknown", "2", "identifier rejected", "refused for another reason than the credential")),
    (5, 0x00, ("success", "0x00", "Success", None)),
    (5, 0x86, ("failure", "0x86", "Bad User Name or Password", None)),
    (5, 0x87, ("failure", "0x87", "Not authorized", None)),
    (5, 0x8A, ("failure", "0x8a", "Banned", None)),
    (5, 0x9C, ("unknown", "0x9c", "Use another server", "refused for another reason than the credential")),
])
def test_connack_answers_the_connect(level: int, code: int, expected: tuple[str, str, str, str | None]) -> None:
    found = exchange([(C, connect(level, b"mon-001", b"Vit4ls")), (S, connack(code, level))])
    (outcome,) = (o for o in found if isinstance(o, AuthenticationOutcome))
    assert (str(outcome.outcome), outcome.reason_code, outcome.reason, outcome.basis) == expected
    assert answers(found) == [(1, expected[0], expected[1])]


def test_v5_reason_string_auth_exchange_and_what_follows_connect() -> None:
    properties = b"\x21\x00\x0a" + b"\x26" + field(b"k") + field(b"v") + b"\x1f" + field(b"password rejected")
    publish = b"\x30\x0f" + field(b"icu/bed3/spo2") + b"97"
    found = exchange([(C, connect(5, b"mon-001", b"Vit4ls") + publish), (S, b"\xf0\x02\x18\x00"),
                      (S, connack(0x86, 5, properties))])
    (outcome,) = (o for o in found if isinstance(o, AuthenticationOutcome))
    assert outcome.reason == "Bad User Name or Password: password rejected"
    ext = MqttExtractor(KEY)
    observations(ext, FLOW, [(C, connect(5, b"u", b"p")), (S, connack(0, 5, b"\x0b\x01"))])
    assert ext.weirds == ["mqtt_bad_properties"], "an identifier a CONNACK cannot hold: the code stands"


def test_unanswered_connect_and_a_server_that_is_not_mqtt() -> None:
    assert answers(exchange([(C, connect(4, b"u", b"p"))])) == [(1, "unknown", None)]
    ext = MqttExtractor(KEY)
    observations(ext, FLOW, [(C, connect(4, b"u", b"p"))])
    with pytest.raises(ParseError, match="mqtt_not_connack"):
        ext.parse(FLOW, S, 1.0, b"HTTP/1.1 400 Bad Request\r\n")


@pytest.mark.parametrize("level", [4, 5])
def test_connack_truncated_at_every_byte_waits(level: int) -> None:
    data = connack(0x86 if level == 5 else 4, level, b"\x1f" + field(b"no"))
    for cut in range(len(data)):
        ext = MqttExtractor(KEY)
        observations(ext, FLOW, [(C, connect(level, b"u", b"p"))])
        assert ext.parse(FLOW, S, 1.0, data[:cut]) == ([], 0)


@given(st.binary(max_size=120), st.sampled_from([4, 5]))
def test_fuzzed_connacks_raise_nothing_but_parse_errors(data: bytes, level: int) -> None:
    ext = MqttExtractor(KEY)
    observations(ext, FLOW, [(C, connect(level, b"u", b"p"))])
    with contextlib.suppress(ParseError):
        ext.parse(FLOW, S, 1.0, bytes([0x20, len(data)]) + data)


@needs_real_pcaps
def test_outcomes_of_the_lab_logins_equal_the_truth(real_pcaps: Path) -> None:
    """mosquitto's answers: each CONNECT accepted or refused as the lab configured it."""
    truth = json.loads((real_pcaps / "lab" / "expected.json").read_text())["mqtt.pcap"]["credentials"]
    pairs = paired(Sensor(secrets=KEY).read(str(real_pcaps / "lab" / "mqtt.pcap")))
    assert sorted((c.host or "", a.outcome == Outcome.SUCCESS) for c, a in pairs) == sorted(
        (t["client_id"], t["auth_ok"]) for t in truth)


@needs_real_pcaps
def test_outcomes_as_tshark_reads_the_connack(real_pcaps: Path) -> None:
    """tshark's `mqtt.conack.val` (3.1/3.1.1) and `mqtt.connack.reason_code` (5.0) per client
    port, against our outcomes' codes; a CONNECT without CONNACK is unknown."""
    for name in truth(real_pcaps):
        out = subprocess.run(["tshark", "-n", "-r", str(real_pcaps / name), "-d", "tcp.port==1883,mqtt", "-Y",
                              "mqtt.msgtype == 2", "-T", "fields", "-e", "tcp.dstport", "-e", "mqtt.conack.val",
                              "-e", "mqtt.connack.reason_code"], capture_output=True, text=True, check=True).stdout
        theirs = {}
        for line in out.splitlines():
            port, v3, v5 = line.split("\t")
            theirs[int(port)] = v3 or f"0x{int(v5):02x}"
        found = Sensor(secrets=KEY).read(str(real_pcaps / name))
        ours = {a.flow.orig.port: a.reason_code for _c, a in paired(found) if a.reason_code is not None}
        assert ours == theirs, name
