"""SNMP: communities fingerprinted for every sender (manager, answering agent, trapping agent),
v3 user names; checked against the truth files, tshark's `snmp.community`, and fuzzing."""

from __future__ import annotations

import contextlib
import json
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import needs_real_pcaps
from trustwatch.sensor.flowid import Direction, Endpoint, FlowId
from trustwatch.sensor.protocols.base import ParseError
from trustwatch.sensor.protocols.snmp import SnmpExtractor
from trustwatch.sensor.records import CredentialSeen, SecretKind
from trustwatch.sensor.secrets import SecretHasher
from trustwatch.sensor.sense import Sensor

KEY = SecretHasher(b"snmp-test-site-key")
FLOW = FlowId(uid="Csnmp", transport="udp", orig=Endpoint("10.10.9.5", 40000, None),
              resp=Endpoint("10.20.2.31", 161, None))


def ber(tag: int, value: bytes) -> bytes:
    return bytes([tag, len(value)]) + value


def message(version: int, community: bytes, pdu: int) -> bytes:
    varbind = ber(0x30, ber(0x30, ber(0x06, b"\x2b\x06\x01\x02\x01\x01\x05\x00") + b"\x05\x00"))
    body = ber(0x02, bytes([version])) + ber(0x04, community) + ber(pdu, ber(0x02, b"\x07") + b"\x02\x01\x00" * 2
                                                                      + varbind)
    return ber(0x30, body)


def test_every_sender_presents_the_community_once() -> None:
    ext = SnmpExtractor(KEY)
    out = []
    for direction, pdu in [(Direction.ORIG, 0xA0), (Direction.RESP, 0xA2), (Direction.ORIG, 0xA0)]:
        found, _used = ext.parse(FLOW, direction, 1.0, message(1, b"h0spital-ro", pdu))
        out += found
    assert [(c.presenter, c.mechanism) for c in out] == [(Direction.ORIG, "v2c get-request"),
                                                           (Direction.RESP, "v2c response")]
    cred = out[0]
    assert isinstance(cred, CredentialSeen) and cred.secret_kind == SecretKind.COMMUNITY
    assert cred.secret_fp == KEY.fingerprint(SecretKind.COMMUNITY, "h0spital-ro").value
    assert "h0spital" not in repr(out)


def test_probe() -> None:
    assert SnmpExtractor.probe(message(0, b"public", 0xA4))
    assert not SnmpExtractor.probe(b"\x30\x03\x02\x01\x02") and not SnmpExtractor.probe(b"\x16\x03\x01\x00")


def test_truncation_at_every_byte_raises_only_parse_errors() -> None:
    data = message(0, b"public", 0xA0)
    for cut in range(len(data)):
        with pytest.raises(ParseError):
            SnmpExtractor(KEY).parse(FLOW, Direction.ORIG, 1.0, data[:cut])


@given(st.binary(max_size=200))
def test_garbage_raises_nothing_but_parse_errors(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        SnmpExtractor(KEY).parse(FLOW, Direction.ORIG, 1.0, b"\x30" + bytes([len(data) & 0x7F]) + data)


def truth(real: Path) -> dict[str, set[str]]:
    """Communities (as fingerprints) and v3 users the truth files list, per capture."""
    out: dict[str, set[str]] = {}
    for prefix, name in (("", "expected.json"), ("lab/", "lab/expected.json")):
        for capture, facts in json.loads((real / name).read_text()).items():
            for c in facts.get("credentials", []) if isinstance(facts, dict) else []:
                if c.get("proto") == "snmp":
                    value = (KEY.fingerprint(SecretKind.COMMUNITY, c["community"]).value if c.get("community")
                             else c.get("user"))
                    if value:
                        out.setdefault(prefix + capture, set()).add(value)
    return out


def sensed(path: Path) -> list[CredentialSeen]:
    return [o for o in Sensor(secrets=KEY).read(str(path)) if isinstance(o, CredentialSeen)]


@needs_real_pcaps
def test_every_community_and_user_of_the_real_captures(real_pcaps: Path) -> None:
    expected = truth(real_pcaps)
    assert len(expected) >= 8
    for name, values in expected.items():
        got = {c.secret_fp or c.username for c in sensed(real_pcaps / name)}
        assert values <= got, name


@needs_real_pcaps
def test_same_communities_as_tshark(real_pcaps: Path) -> None:
    for name in truth(real_pcaps):
        out = subprocess.run(["tshark", "-n", "-r", str(real_pcaps / name), "-Y", "snmp.community", "-T", "fields",
                              "-e", "snmp.community"], capture_output=True, text=True, check=True).stdout
        theirs = {KEY.fingerprint(SecretKind.COMMUNITY, line).value for line in out.splitlines() if line}
        ours = {c.secret_fp for c in sensed(real_pcaps / name) if c.secret_kind == SecretKind.COMMUNITY}
        assert ours == theirs, name
