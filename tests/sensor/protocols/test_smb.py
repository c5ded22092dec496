"""SMB session setups: the NTLM logon of SMB2 and SMB1 (extended security) over 445 and NetBIOS
139 and its answer (the session setup status), other messages skipped unbuffered, done at the
first successful setup; truncation, fuzz, tshark `ntlmssp.auth.*` and `smb2.nt_status` on the
real captures."""

from __future__ import annotations

import contextlib
import struct
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import needs_real_pcaps
from tests.sensor.protocols.streams import answers, observations, paired
from tests.sensor.test_ntlm import NEGOTIATE, authenticate, spnego
from trustwatch.sensor.flowid import Direction, Endpoint, FlowId
from trustwatch.sensor.protocols.base import ParseError
from trustwatch.sensor.protocols.smb import NT_STATUS_NAMES, SmbExtractor
from trustwatch.sensor.records import CredentialSeen, Observation, Proto
from trustwatch.sensor.sense import Sensor

FLOW = FlowId(uid="Csmb", transport="tcp", orig=Endpoint("10.20.3.7", 49670, None),
              resp=Endpoint("10.10.1.5", 445, None))
C, S = Direction.ORIG, Direction.RESP
MORE_PROCESSING = 0xC0000016


def nbss(message: bytes, kind: int = 0) -> bytes:
    return bytes([kind]) + len(message).to_bytes(3, "big") + message


def smb2(command: int, body: bytes, status: int = 0, reply: bool = False, message_id: int = 2) -> bytes:
    return nbss(struct.pack("<4sHHIHHIIQIIQ16s", b"\xfeSMB", 64, 0, status, command, 1, int(reply), 0, message_id, 0,
                            0, 0, bytes(16)) + body)


def setup2(blob: bytes, message_id: int = 2) -> bytes:
    return smb2(1, struct.pack("<HBBIIHHQ", 25, 0, 1, 1, 0, 64 + 24, len(blob), 0) + blob, message_id=message_id)


def setup2_response(status: int, message_id: int = 2) -> bytes:
    return smb2(1, struct.pack("<HHHH", 9, 0, 72, 0), status, reply=True, message_id=message_id)


def setup1(blob: bytes, words: int = 12, status: int = 0, reply: bool = False, flags2: int = 0xC807) -> bytes:
    header = struct.pack("<4sBIBHH8sHHHHH", b"\xffSMB", 0x73, status, 0x98 if reply else 0x18, flags2, 0, bytes(8),
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


LOGON_FAILURE, ACCOUNT_DISABLED, NO_LOGON_SERVERS = 0xC000006D, 0xC0000072, 0xC000005E


def exchange(chunks: list[tuple[Direction, bytes]]) -> list[Observation]:
    return observations(SmbExtractor(), FLOW, chunks, close=True)


def test_smb2_session_setup_status_answers_the_authenticate_of_its_message_id() -> None:
    """MORE_PROCESSING_REQUIRED answers the NEGOTIATE step (no attempt); the status of the
    response with the AUTHENTICATE's MessageId answers it; other message ids answer nothing."""
    def logon(user: str, first_id: int, status: int) -> list[tuple[Direction, bytes]]:
        return [(C, setup2(spnego(NEGOTIATE), first_id)), (S, setup2_response(MORE_PROCESSING, first_id)),
                (C, setup2(spnego(authenticate(user=user)), first_id + 1)), (S, setup2_response(status, 99)),
                (S, setup2_response(status, first_id + 1))]

    found = exchange([*logon("guess1", 2, LOGON_FAILURE), *logon("nurse7", 4, ACCOUNT_DISABLED),
                      *logon("nurse7", 6, NO_LOGON_SERVERS), *logon("nurse8", 8, 0)])
    assert answers(found) == [(1, "failure", "STATUS_LOGON_FAILURE"), (2, "failure", "STATUS_ACCOUNT_DISABLED"),
                              (3, "unknown", "STATUS_NO_LOGON_SERVERS"), (4, "success", "STATUS_SUCCESS")]
    assert answers(exchange([(C, setup2(spnego(authenticate())))])) == [(1, "unknown", None)]


def test_smb1_nt_status_and_dos_errors() -> None:
    request = setup1(authenticate(user="nurse7"))
    assert answers(exchange([(C, request), (S, setup1(b"", status=LOGON_FAILURE, reply=True))])) == [
        (1, "failure", "STATUS_LOGON_FAILURE")]
    bad_password = 0x02 | (0x0002 << 16)  # ERRSRV, ERRbadpw
    assert answers(exchange([(C, request), (S, setup1(b"", status=bad_password, reply=True, flags2=0x8807))])) == [
        (1, "failure", "DOS 0x02/0x0002")]
    assert answers(exchange([(C, request), (S, setup1(b"", status=0x01 | (0x0047 << 16), reply=True, flags2=0))]
                            )) == [(1, "unknown", "DOS 0x01/0x0047")]


def test_session_setup_response_truncated_at_every_byte_waits() -> None:
    response = setup2_response(LOGON_FAILURE)
    for cut in range(len(response)):
        ext = SmbExtractor()
        observations(ext, FLOW, [(C, setup2(spnego(authenticate())))])
        assert ext.parse(FLOW, S, 1.0, response[:cut]) == ([], 0)


@given(st.binary(max_size=200))
def test_fuzzed_responses_raise_nothing_but_parse_errors(data: bytes) -> None:
    ext = SmbExtractor()
    observations(ext, FLOW, [(C, setup2(spnego(authenticate())))])
    with contextlib.suppress(ParseError):
        ext.parse(FLOW, S, 1.0, nbss(b"\xfeSMB" + data[:60].ljust(60, b"\0")[:12] + b"\x01\x00\x00\x00\x01\x00\x00\x00"
                                     + data[60:]))


@needs_real_pcaps
@pytest.mark.parametrize("name", ["suricata-verify/smb2-ntlmssp-negotiateflags/input.pcap",
                                  "zeek/smb/raw_ntlm_in_smb.pcap", "zeek/ldap/aduser1.pcap"])
def test_outcomes_as_tshark_reads_the_session_setup_status(real_pcaps: Path, name: str) -> None:
    """tshark's `smb2.nt_status` / `smb.nt_status` of the session setup response with the
    AUTHENTICATE request's `smb2.msg_id` / `smb.mid`, per client port."""
    out = subprocess.run(["tshark", "-n", "-r", str(real_pcaps / name), "-Y", "smb2.cmd == 1 || smb.cmd == 0x73",
                          "-T", "fields", "-E", "occurrence=f", "-e", "tcp.srcport", "-e", "tcp.dstport", "-e",
                          "smb2.msg_id", "-e", "smb.mid", "-e", "smb2.nt_status", "-e", "smb.nt_status", "-e",
                          "ntlmssp.messagetype"], capture_output=True, text=True, check=True).stdout
    authenticates, theirs = set(), Counter[tuple[int, int]]()
    for line in out.splitlines():
        src, dst, msg_id, mid, status2, status1, ntlm = line.split("\t")
        if ntlm == "0x00000003":
            authenticates.add((src, msg_id or mid))
        elif (dst, msg_id or mid) in authenticates:
            theirs[int(dst), int(status2 or status1, 16)] += 1
    found = Sensor().read(str(real_pcaps / name))
    names = {v: k for k, v in NT_STATUS_NAMES.items()} | {"STATUS_SUCCESS": 0}
    ours = Counter((c.flow.orig.port, names[a.reason_code or ""]) for c, a in paired(found) if c.protocol == Proto.SMB)
    assert theirs and ours == theirs
