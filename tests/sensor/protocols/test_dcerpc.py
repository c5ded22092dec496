"""DCE-RPC auth verifiers: the NTLM logon in BIND/ALTER_CONTEXT/AUTH3 (NTLMSSP or SPNEGO, either
byte order), done at the logon or the first REQUEST; truncation, fuzz, tshark on the real capture."""

from __future__ import annotations

import contextlib
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import needs_real_pcaps
from tests.sensor.test_ntlm import NEGOTIATE, authenticate, spnego
from trustwatch.sensor.flowid import Direction, Endpoint, FlowId
from trustwatch.sensor.protocols.base import ParseError
from trustwatch.sensor.protocols.dcerpc import DceRpcExtractor
from trustwatch.sensor.records import CredentialSeen, Observation, Proto
from trustwatch.sensor.sense import Sensor

FLOW = FlowId(uid="Cdce", transport="tcp", orig=Endpoint("10.20.3.7", 54784, None),
              resp=Endpoint("10.10.1.5", 58772, None))
C, S = Direction.ORIG, Direction.RESP
BIND, BIND_ACK, ALTER_CONTEXT, AUTH3, REQUEST = 11, 12, 14, 16, 0
CONTEXT = bytes(range(72))
"""Stands for a PDU body (presentation context list, call arguments): never read."""


def pdu(ptype: int, auth: bytes = b"", auth_type: int = 10, little: bool = True, body: bytes = CONTEXT) -> bytes:
    trailer = bytes([auth_type, 2, 0, 0, 0, 0, 0, 0]) if auth else b""
    lengths = struct.pack("<HH" if little else ">HH", 16 + len(body) + len(trailer) + len(auth), len(auth))
    return bytes([5, 0, ptype, 3]) + (b"\x10\x00\x00\x00" if little else bytes(4)) + lengths + b"\x02\x00\x00\x00" \
        + body + trailer + auth


def run(stream: list[tuple[Direction, bytes]], ext: DceRpcExtractor) -> list[Observation]:
    out: list[Observation] = []
    for direction, data in stream:
        found, used = ext.parse(FLOW, direction, 1.0, data)
        assert used == len(data)
        out += found
    return out


def test_alter_context_logon_in_spnego() -> None:
    ext = DceRpcExtractor()
    creds = run([(C, pdu(BIND, NEGOTIATE)), (S, pdu(BIND_ACK, b"NTLMSSP\x00\x02\x00\x00\x00")),
                 (C, pdu(ALTER_CONTEXT, spnego(authenticate(user="Administrator", domain="BLACKCLOVER")), 9))], ext)
    assert [(c.protocol, c.username, c.domain, c.host, c.mechanism) for c in creds if isinstance(c, CredentialSeen)
            ] == [(Proto.DCERPC, "Administrator", "BLACKCLOVER", "PUMP-0042", "NTLM")]
    assert ext.finished


def test_auth3_big_endian_other_auth_types_and_requests() -> None:
    creds = run([(C, pdu(AUTH3, authenticate(), little=False, body=bytes(4)))], DceRpcExtractor())
    assert [c.username for c in creds if isinstance(c, CredentialSeen)] == ["nurse7"]
    ext = DceRpcExtractor()
    assert run([(C, pdu(BIND, authenticate(), auth_type=16)), (C, pdu(BIND))], ext) == []
    assert not ext.finished
    run([(C, pdu(REQUEST))], ext)
    assert ext.finished


def test_probe_and_malformed_pdus() -> None:
    assert DceRpcExtractor.probe(pdu(BIND))
    assert not DceRpcExtractor.probe(pdu(BIND_ACK)) and not DceRpcExtractor.probe(b"\x04" + pdu(BIND)[1:])
    with pytest.raises(ParseError, match="dcerpc_bad_version"):
        DceRpcExtractor().parse(FLOW, C, 1.0, b"\x04" + pdu(BIND)[1:])
    bad = bytearray(pdu(BIND, NEGOTIATE))
    bad[10:12] = (500).to_bytes(2, "little")  # auth_length past the fragment
    with pytest.raises(ParseError, match="dcerpc_bad_length"):
        DceRpcExtractor().parse(FLOW, C, 1.0, bytes(bad))


def test_truncation_at_every_byte() -> None:
    data = pdu(ALTER_CONTEXT, authenticate())
    for cut in range(len(data)):
        assert DceRpcExtractor().parse(FLOW, C, 1.0, data[:cut]) == ([], 0)


@given(st.binary(max_size=300))
def test_fuzz_raises_nothing_but_parse_errors(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        DceRpcExtractor().parse(FLOW, C, 1.0, pdu(ALTER_CONTEXT, b"NTLMSSP\x00\x03\x00\x00\x00" + data))
        DceRpcExtractor().parse(FLOW, C, 1.0, b"\x05\x00" + data)


@needs_real_pcaps
def test_same_logon_as_tshark(real_pcaps: Path) -> None:
    path = real_pcaps / "zeek" / "dce-rpc" / "dce_rpc_ntlm.pcapng"
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-Y", "ntlmssp.messagetype == 3 && dcerpc", "-T",
                          "fields", "-e", "ntlmssp.auth.username", "-e", "ntlmssp.auth.domain", "-e",
                          "ntlmssp.auth.hostname"], capture_output=True, text=True, check=True).stdout
    theirs = {tuple(line.split("\t")) for line in out.splitlines()}
    ours = {(c.username, c.domain, c.host) for c in Sensor().read(str(path))
            if isinstance(c, CredentialSeen) and c.protocol == Proto.DCERPC}
    assert theirs and ours == theirs == {("Administrator", "BLACKCLOVER", "CBTH-WS-1")}
