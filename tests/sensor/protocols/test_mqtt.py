"""MQTT CONNECT 3.1/3.1.1/5.0: client id, user name, password fingerprinted; truth files,
tshark `mqtt.username`/`mqtt.passwd`, truncation and fuzzing."""

from __future__ import annotations

import contextlib
import json
import struct
import subprocess
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import needs_real_pcaps
from trustwatch.sensor.flowid import Direction, Endpoint, FlowId
from trustwatch.sensor.protocols.base import ParseError
from trustwatch.sensor.protocols.mqtt import MqttExtractor
from trustwatch.sensor.records import CredentialSeen, SecretKind
from trustwatch.sensor.secrets import SecretHasher
from trustwatch.sensor.sense import Sensor

KEY = SecretHasher(b"mqtt-test-site-key")
FLOW = FlowId(uid="Cmqtt", transport="tcp", orig=Endpoint("10.20.2.31", 50600, None),
              resp=Endpoint("10.10.3.3", 1883, None))


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
