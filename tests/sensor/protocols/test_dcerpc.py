"""DCE-RPC auth verifiers: the NTLM logon in BIND/ALTER_CONTEXT/AUTH3 (NTLMSSP or SPNEGO, either
byte order) and the server's answer to it, done at that answer or the first REQUEST without a
logon; truncation, fuzz, tshark on the real capture."""

from __future__ import annotations

import contextlib
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import needs_real_pcaps
from tests.sensor.protocols.streams import answers, observations, paired
from tests.sensor.test_ntlm import NEGOTIATE, authenticate, spnego
from trustwatch.sensor.flowid import Direction, Endpoint, FlowId
from trustwatch.sensor.protocols.base import ParseError
from trustwatch.sensor.protocols.dcerpc import DceRpcExtractor
from trustwatch.sensor.records import AuthenticationOutcome, CredentialSeen, Observation, Proto
from trustwatch.sensor.sense import Sensor

FLOW = FlowId(uid="Cdce", transport="tcp", orig=Endpoint("10.20.3.7", 54784, None),
              resp=Endpoint("10.10.1.5", 58772, None))
C, S = Direction.ORIG, Direction.RESP
REQUEST, RESPONSE, FAULT, BIND, BIND_ACK, BIND_NAK, ALTER_CONTEXT, ALTER_CONTEXT_RESP, AUTH3 = \
    0, 2, 3, 11, 12, 13, 14, 15, 16
CONTEXT = bytes(range(72))
"""Stands for a PDU body (presentation context list, call arguments): never read."""


def pdu(ptype: int, auth: bytes = b"", auth_type: int = 10, little: bool = True, body: bytes = CONTEXT,
        call_id: int = 2) -> bytes:
    trailer = bytes([auth_type, 2, 0, 0, 0, 0, 0, 0]) if auth else b""
    lengths = struct.pack("<HHI" if little else ">HHI", 16 + len(body) + len(trailer) + len(auth), len(auth), call_id)
    return bytes([5, 0, ptype, 3]) + (b"\x10\x00\x00\x00" if little else bytes(4)) + lengths + body + trailer + auth


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
    assert not ext.finished, "the answer to the logon is still to come"
    run([(S, pdu(ALTER_CONTEXT_RESP))], ext)
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


def fault(status: int, call_id: int, little: bool = True) -> bytes:
    """A FAULT: alloc_hint, p_cont_id, cancel_count, reserved, then the status (C706 12.6.4.7)."""
    return pdu(FAULT, body=bytes(8) + struct.pack("<I" if little else ">I", status) + bytes(4), little=little,
               call_id=call_id)


def exchange(chunks: list[tuple[Direction, bytes]]) -> list[Observation]:
    return observations(DceRpcExtractor(), FLOW, chunks, close=True)


CHALLENGE = b"NTLMSSP\x00\x02\x00\x00\x00"
ALTER = [(C, pdu(BIND, NEGOTIATE)), (S, pdu(BIND_ACK, CHALLENGE)),
         (C, pdu(ALTER_CONTEXT, spnego(authenticate()), 9, call_id=3))]
AFTER_AUTH3 = [(C, pdu(BIND, NEGOTIATE)), (S, pdu(BIND_ACK, CHALLENGE)), (C, pdu(AUTH3, authenticate(), body=bytes(4))),
               (C, pdu(REQUEST, call_id=7))]


@pytest.mark.parametrize(("stream", "expected"), [
    ([*ALTER, (S, pdu(ALTER_CONTEXT_RESP, call_id=2)), (S, pdu(ALTER_CONTEXT_RESP, call_id=3))],
     [(1, "success", "alter_context_resp")]),
    ([*ALTER, (S, fault(5, 3))], [(1, "failure", "nca_s_fault_access_denied")]),
    ([*ALTER, (S, pdu(BIND_NAK, body=b"\x08\x00", call_id=3))], [(1, "failure", "bind_nak")]),
    ([*AFTER_AUTH3, (S, pdu(RESPONSE, call_id=7))], [(1, "success", "response")]),
    ([*AFTER_AUTH3, (S, fault(0x721, 7, little=False))], [(1, "failure", "nca_s_fault_sec_pkg_error")]),
    ([*AFTER_AUTH3, (S, fault(0x1C010002, 7))], [(1, "unknown", "fault 0x1c010002")]),
    (ALTER, [(1, "unknown", None)]),
])
def test_the_answer_to_the_logon(stream: list[tuple[Direction, bytes]], expected: list[tuple[int, str, str]]) -> None:
    """The BIND_ACK answering the NEGOTIATE is not the logon's answer; the server's PDU of the
    AUTHENTICATE's call_id (after an AUTH3: of the next REQUEST) is."""
    ext = DceRpcExtractor()
    found = observations(ext, FLOW, stream, close=True)
    assert answers(found) == expected
    assert ext.finished == (expected[0][2] is not None)


def test_a_bind_nak_names_its_reason() -> None:
    (outcome,) = (o for o in exchange([*ALTER, (S, pdu(BIND_NAK, body=b"\x08\x00", call_id=3))])
                  if isinstance(o, AuthenticationOutcome))
    assert outcome.reason == "authentication_type_not_recognized"


@pytest.mark.parametrize("answer", [fault(5, 3), pdu(ALTER_CONTEXT_RESP, call_id=3)])
def test_answers_truncated_at_every_byte_wait(answer: bytes) -> None:
    for cut in range(len(answer)):
        ext = DceRpcExtractor()
        observations(ext, FLOW, ALTER)
        assert ext.parse(FLOW, S, 1.0, answer[:cut]) == ([], 0)


@given(st.binary(max_size=120), st.sampled_from([RESPONSE, FAULT, BIND_NAK, ALTER_CONTEXT_RESP]))
def test_fuzzed_answers_raise_nothing_but_parse_errors(data: bytes, ptype: int) -> None:
    ext = DceRpcExtractor()
    observations(ext, FLOW, ALTER)
    with contextlib.suppress(ParseError):
        ext.parse(FLOW, S, 1.0, pdu(ptype, body=data, call_id=3))


@needs_real_pcaps
def test_the_real_logon_unanswered_as_tshark_shows(real_pcaps: Path) -> None:
    """Zeek's capture ends with the ALTER_CONTEXT carrying the AUTHENTICATE (`ntlmssp.messagetype`
    3): tshark shows no server PDU of its `dcerpc.cn_call_id` after it, so the logon is unknown."""
    path = real_pcaps / "zeek" / "dce-rpc" / "dce_rpc_ntlm.pcapng"
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-Y", "dcerpc", "-T", "fields", "-e", "tcp.srcport",
                          "-e", "dcerpc.pkt_type", "-e", "dcerpc.cn_call_id", "-e", "ntlmssp.messagetype"],
                         capture_output=True, text=True, check=True).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    logon = next(i for i, row in enumerate(rows) if row[3] == "0x00000003")
    client, call_id = rows[logon][0], rows[logon][2]
    theirs = [row[1] for row in rows[logon + 1 :] if row[0] != client and row[2] == call_id]
    ours = [(str(a.outcome), a.basis) for c, a in paired(Sensor().read(str(path))) if c.protocol == Proto.DCERPC]
    assert theirs == [] and ours == [("unknown", "no answer captured")]
