"""SMB session setups: the NTLM logon of SMB2 and SMB1 (extended security) over 445 and NetBIOS
139, other messages skipped unbuffered, done at the first successful setup; truncation, fuzz,
tshark `ntlmssp.auth.*` on the real captures."""

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
from trustwatch.sensor.protocols.smb import SmbExtractor
from trustwatch.sensor.records import CredentialSeen, Observation, Proto
from trustwatch.sensor.sense import Sensor

FLOW = FlowId(uid="Csmb", transport="tcp", orig=Endpoint("10.20.3.7", 49670, None),
              resp=Endpoint("10.10.1.5", 445, None))
C, S = Direction.ORIG, Direction.RESP
MORE_PROCESSING = 0xC0000016


def nbss(message: bytes, kind: int = 0) -> bytes:
    return bytes([kind]) + len(message).to_bytes(3, "big") + message


def smb2(command: int, body: bytes, status: int = 0, reply: bool = False) -> bytes:
    return nbss(struct.pack("<4sHHIHHIIQIIQ16s", b"\xfeSMB", 64, 0, status, command, 1, int(reply), 0, 2, 0, 0,
                            0, bytes(16)) + body)


def setup2(blob: bytes) -> bytes:
    return smb2(1, struct.pack("<HBBIIHHQ", 25, 0, 1, 1, 0, 64 + 24, len(blob), 0) + blob)


def setup2_response(status: int) -> bytes:
    return smb2(1, struct.pack("<HHHH", 9, 0, 72, 0), status, reply=True)


def setup1(blob: bytes, words: int = 12, status: int = 0, reply: bool = False) -> bytes:
    header = struct.pack("<4sBIBHH8sHHHHH", b"\xffSMB", 0x73, status, 0x98 if reply else 0x18, 0xC807, 0, bytes(8),
                         0, 0, 0xFEFF, 0, 2)
    params = struct.pack("<BBHHHHIHII", 0xFF, 0, 0, 4356, 50, 0, 0, len(blob), 0, 0x8000E05C)
    return nbss(header + bytes([words]) + params[: 2 * words].ljust(2 * words, b"\0")
                + struct.pack("<H", len(blob)) + blob)


def run(stream: list[tuple[Direction, bytes]], ext: SmbExtractor | None = None) -> list[Observation]:
    ext, out = ext or SmbExtractor(), list[Observation]()
    for direction, data in stream:
        while data:
            found, used = ext.parse(FLOW, direction, 1.0, data)
            assert used
            out += found
            data = data[used:]
    return out


def test_smb2_logon_then_finished() -> None:
    ext = SmbExtractor()
    negotiate_protocol = smb2(0, struct.pack("<HHHHI16sQ", 36, 1, 1, 0, 0x7F, bytes(16), 0) + b"\x02\x02")
    creds = run([(C, negotiate_protocol), (C, setup2(spnego(NEGOTIATE))), (S, setup2_response(MORE_PROCESSING)),
                 (C, setup2(spnego(authenticate(user="Tim Tester", domain="DESKTOP-2AEFM7G"))))], ext)
    assert [(c.protocol, c.username, c.domain, c.host, c.mechanism) for c in creds
            if isinstance(c, CredentialSeen)] == [(Proto.SMB, "Tim Tester", "DESKTOP-2AEFM7G", "PUMP-0042", "NTLM")]
    assert not ext.finished
    run([(S, setup2_response(0))], ext)
    assert ext.finished


def test_smb1_over_netbios_and_pre_ntlmssp_logons() -> None:
    session_request = nbss(b"\x20" + b"CKFDENECFDEFFCFGEFFCCACACACACACA" + b"\x00" * 2, kind=0x81)
    creds = run([(C, session_request), (S, nbss(b"", kind=0x82)), (C, nbss(b"", kind=0x85)),
                 (C, setup1(authenticate(user="", domain="", workstation="DESKTOP-V1FA0UQ", nt=b"")))])
    assert [(c.username, c.host, c.notes) for c in creds if isinstance(c, CredentialSeen)] == [
        (None, "DESKTOP-V1FA0UQ", ("anonymous",))]
    assert run([(C, setup1(authenticate(), words=13))]) == []
    ext = SmbExtractor()
    run([(S, setup1(b"", reply=True))], ext)
    assert ext.finished


def test_other_messages_are_skipped_unbuffered() -> None:
    read_response = smb2(8, bytes(200_000), reply=True)
    ext = SmbExtractor()
    assert ext.parse(FLOW, S, 1.0, read_response[:1500]) == ([], 1500)
    assert ext.parse(FLOW, S, 1.0, read_response[1500:]) == ([], len(read_response) - 1500)
    assert ext.parse(FLOW, C, 1.0, nbss(b"\xfdSMB" + bytes(60))) == ([], 68)  # SMB3 encrypted
    assert ext.parse(FLOW, C, 1.0, nbss(b"\xfeSM")) == ([], 7)


def test_probe() -> None:
    assert SmbExtractor.probe(setup2(b"")) and SmbExtractor.probe(setup1(b""))
    assert not SmbExtractor.probe(nbss(b"\x20CKFDENECFDEFFCFGEFFC", kind=0x81))
    assert not SmbExtractor.probe(b"GET / HTTP/1.1\r\n")


def test_malformed_messages() -> None:
    with pytest.raises(ParseError, match="smb_bad_netbios_type"):
        run([(C, nbss(b"\xfeSMB", kind=0x42))])
    with pytest.raises(ParseError, match="smb_session_setup_too_large"):
        SmbExtractor().parse(FLOW, C, 1.0, b"\x00\x01\x11\x70" + setup2(b"")[4:])
    bad = bytearray(setup2(b"x" * 10))
    bad[4 + 64 + 12 : 4 + 64 + 14] = (200).to_bytes(2, "little")
    with pytest.raises(ParseError, match="smb_bad_security_buffer"):
        run([(C, bytes(bad))])
    for short in (smb2(1, b"\x19\x00\x00\x00"), nbss(setup1(b"")[4:42])):
        with pytest.raises(ParseError, match="smb_truncated"):
            run([(C, short)])


def test_truncation_at_every_byte() -> None:
    data = setup2(spnego(authenticate()))
    for cut in range(len(data)):
        assert SmbExtractor().parse(FLOW, C, 1.0, data[:cut]) == ([], 0)


@given(st.binary(max_size=300), st.sampled_from([0x00, 0x81, 0x85]))
def test_fuzz_raises_nothing_but_parse_errors(data: bytes, kind: int) -> None:
    ext, stream = SmbExtractor(), nbss(b"\xfeSMB" + data, kind) + nbss(b"\xffSMB" + data) + data
    with contextlib.suppress(ParseError):
        while stream:
            _found, used = ext.parse(FLOW, C, 1.0, stream)
            if not used:
                break
            stream = stream[used:]


@needs_real_pcaps
@pytest.mark.parametrize("name", ["suricata-verify/smb2-ntlmssp-negotiateflags/input.pcap",
                                  "zeek/smb/raw_ntlm_in_smb.pcap", "zeek/ldap/aduser1.pcap"])
def test_same_logons_as_tshark(real_pcaps: Path, name: str) -> None:
    out = subprocess.run(["tshark", "-n", "-r", str(real_pcaps / name), "-Y", "ntlmssp.messagetype == 3 && "
                          "(smb || smb2)", "-T", "fields", "-e", "tcp.srcport", "-e", "ntlmssp.auth.username", "-e",
                          "ntlmssp.auth.domain", "-e", "ntlmssp.auth.hostname"], capture_output=True, text=True,
                         check=True).stdout
    theirs = {(int(port), *(None if v == "NULL" else v for v in names))
              for port, *names in (line.split("\t") for line in out.splitlines())}
    ours = {(c.flow.orig.port, c.username, c.domain, c.host) for c in Sensor().read(str(real_pcaps / name))
            if isinstance(c, CredentialSeen) and c.protocol == Proto.SMB}
    assert theirs and ours == theirs
