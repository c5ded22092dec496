"""RDP, VNC and SSH sessions: crafted handshakes, every truncation, fuzzing, and the real
captures' cookies, versions, banners and HASSH against expected.json and tshark; the answers to
their authentication: the VNC SecurityResult, the RDP negotiation (not the password's), SSH's
always unknown (encrypted), against tshark's `vnc.auth_result` and `rdp.neg_type`."""

from __future__ import annotations

import contextlib
import hashlib
import json
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import needs_real_pcaps
from tests.sensor.protocols.streams import observations
from trustwatch.sensor.flowid import Direction, Endpoint, FlowId
from trustwatch.sensor.protocols.base import Extractor, ParseError
from trustwatch.sensor.protocols.rdp import FAILURES, RdpExtractor
from trustwatch.sensor.protocols.ssh import MAX_PRE_BANNER_LINES, SshExtractor, hassh
from trustwatch.sensor.protocols.vnc import VncExtractor
from trustwatch.sensor.records import AuthenticationOutcome, Outcome, Proto, RemoteAccessSession, TlsServerCertificate
from trustwatch.sensor.sense import Sensor

FLOW = FlowId(uid="Crem", transport="tcp", orig=Endpoint("203.0.113.9", 50100, None),
              resp=Endpoint("10.20.4.15", 3389, None))
C, S = Direction.ORIG, Direction.RESP


def tpkt(x224: bytes) -> bytes:
    return struct.pack("!BBH", 3, 0, 4 + len(x224)) + x224


def x224(code: int, user_data: bytes) -> bytes:
    return bytes([6 + len(user_data), code, 0, 0, 0x12, 0x34, 0]) + user_data


RDP_CR = tpkt(x224(0xE0, b"Cookie: mstshash=svc-philips\r\n" + struct.pack("<BBHI", 1, 0, 8, 0x3)))
RDP_CC = tpkt(x224(0xD0, struct.pack("<BBHI", 2, 0, 8, 0x2)))


def feed(ext: Extractor, messages: list[tuple[Direction, bytes]]) -> list[RemoteAccessSession]:
    out: list[RemoteAccessSession] = []
    for direction, data in messages:
        found, used = ext.parse(FLOW, direction, 1.0, data)
        assert used == len(data)
        out += [o for o in found if isinstance(o, RemoteAccessSession)]
    return out


def test_rdp_cookie_user_requested_and_selected_security_then_tls_handover() -> None:
    assert RdpExtractor.probe(RDP_CR)
    assert not RdpExtractor.probe(tpkt(x224(0xE0, b"\xc1\x02\x01\x00\xc2\x02\x01\x02\xc0\x01\x0a")))  # S7 COTP
    ext = RdpExtractor()
    [session] = feed(ext, [(C, RDP_CR), (S, RDP_CC)])
    assert session.user == "svc-philips" and session.product == "RDP" and session.direction == "inbound"
    assert session.security == ("requested TLS", "requested CredSSP", "selected CredSSP")
    assert ext.upgraded


def test_rdp_request_without_answer_is_concluded_at_close() -> None:
    ext = RdpExtractor()
    assert feed(ext, [(C, RDP_CR)]) == []
    [session] = ext.close(FLOW, 2.0)
    assert isinstance(session, RemoteAccessSession) and session.user == "svc-philips"


SSH_C = b"SSH-2.0-OpenSSH_9.6\r\n"
SSH_S = b"SSH-2.0-dropbear_2022.83\r\n"


def kexinit(lists: list[str]) -> bytes:
    body = bytes([20]) + b"\x11" * 16 + b"".join(struct.pack("!I", len(x)) + x.encode() for x in lists) + b"\0" * 5
    pad = 8 - (len(body) + 5) % 8 + 8
    return struct.pack("!IB", len(body) + pad + 1, pad) + body + b"\0" * pad


LISTS = ["curve25519-sha256", "ssh-ed25519", "aes128-ctr", "aes256-ctr", "hmac-sha2-256", "hmac-sha1", "none",
         "zlib", "", ""]


def test_ssh_banners_and_hassh() -> None:
    assert SshExtractor.probe(SSH_C)
    ext = SshExtractor()
    [session] = feed(ext, [(S, b"Welcome to the scanner\r\n"), (S, SSH_S), (C, SSH_C), (C, kexinit(LISTS)),
                           (S, kexinit(LISTS))])
    assert session.client_software == "SSH-2.0-OpenSSH_9.6" and session.server_software == SSH_S.decode().strip()
    assert session.hassh == hashlib.md5(b"curve25519-sha256;aes128-ctr;hmac-sha2-256;none").hexdigest()
    assert session.hassh_server == hashlib.md5(b"curve25519-sha256;aes256-ctr;hmac-sha1;zlib").hexdigest()
    assert session.hassh == hassh(LISTS, server=False) and ext.finished


def test_ssh_server_lines_before_the_version_line() -> None:
    """RFC 4253 4.2 lets a server send other lines first; OpenSSH's client reads up to 1024 of
    them (Zeek's server-pre-banner-data.pcap has 35, a cowsay fortune)."""
    notice = [(S, b"| line %d of the device's legal notice |\r\n" % i) for i in range(35)]
    [session] = feed(SshExtractor(), [(C, SSH_C), *notice, (S, SSH_S), (C, kexinit(LISTS)), (S, kexinit(LISTS))])
    assert session.server_software == SSH_S.decode().strip() and session.hassh_server is not None
    with pytest.raises(ParseError, match="ssh_no_version_line"):
        feed(SshExtractor(), [(S, b"x\r\n")] * (MAX_PRE_BANNER_LINES + 1))


def test_vnc_versions_and_security_types() -> None:
    assert VncExtractor.probe(b"RFB 003.008\n")
    [session] = feed(VncExtractor(), [(S, b"RFB 003.008\n"), (C, b"RFB 003.008\n"), (S, b"\x02\x01\x02"),
                                      (C, b"\x01")])
    assert (session.server_software, session.client_software) == ("RFB 003.008", "RFB 003.008")
    assert session.security == ("offered None", "offered VNC Authentication", "chosen None")
    [session] = feed(VncExtractor(), [(S, b"RFB 003.003\n"), (C, b"RFB 003.003\n"), (S, b"\0\0\0\x02")])
    assert session.security == ("offered VNC Authentication", "chosen VNC Authentication")


@pytest.mark.parametrize("cls,messages", [
    (RdpExtractor, [(C, RDP_CR), (S, RDP_CC)]),
    (SshExtractor, [(C, SSH_C), (C, kexinit(LISTS))]),
    (VncExtractor, [(S, b"RFB 003.008\n"), (C, b"RFB 003.008\n"), (S, b"\x02\x01\x02")]),
])
def test_every_truncation_waits_for_more(cls: type[Extractor], messages: list[tuple[Direction, bytes]]) -> None:
    for i, (direction, data) in enumerate(messages):
        for cut in range(1, len(data)):
            ext = cls()
            feed(ext, messages[:i])
            assert ext.parse(FLOW, direction, 1.0, data[:cut]) == ([], 0), (i, cut)


def test_garbage_is_a_named_parse_error() -> None:
    with pytest.raises(ParseError, match="rdp_bad_tpkt_length"):
        RdpExtractor().parse(FLOW, C, 1.0, b"\x03\x00\xff\xff" + b"\0" * 20)
    with pytest.raises(ParseError, match="ssh_no_version_line"):
        SshExtractor().parse(FLOW, C, 1.0, b"GET / HTTP/1.1\r\n")
    with pytest.raises(ParseError, match="vnc_bad_version"):
        VncExtractor().parse(FLOW, S, 1.0, b"RFB 3.8 hello\n")


@pytest.mark.parametrize("cls", [RdpExtractor, SshExtractor, VncExtractor])
@given(chunks=st.lists(st.tuples(st.sampled_from([C, S]), st.binary(max_size=80)), max_size=8))
def test_fuzz_raises_nothing_but_parse_errors(cls: type[Extractor], chunks: list[tuple[Direction, bytes]]) -> None:
    ext = cls()
    with contextlib.suppress(ParseError):
        for direction, data in chunks:
            ext.parse(FLOW, direction, 1.0, data)
        ext.close(FLOW, 2.0)


def sessions(path: Path) -> list[RemoteAccessSession]:
    return [o for o in Sensor().read(str(path)) if isinstance(o, RemoteAccessSession)]


def expected(real: Path, key: str) -> dict[str, list[dict[str, str]]]:
    doc = json.loads((real / "expected.json").read_text())
    return {f: v[key] for f, v in doc.items() if not f.startswith("_") and v.get(key)}


def tshark(path: Path, *fields: str, display: str | None = None) -> list[list[str]]:
    cmd = ["tshark", "-n", "-r", str(path), "-T", "fields", "-E", "occurrence=f"]
    if display:
        cmd += ["-Y", display]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in out.splitlines() if line.strip()]


@needs_real_pcaps
def test_every_expected_rdp_cookie_and_vnc_version_is_found(real_pcaps: Path) -> None:
    for name, entries in expected(real_pcaps, "remote_access").items():
        found = sessions(real_pcaps / name)
        for e in entries:
            if e["proto"] == "rdp":
                user = e["cookie"].removeprefix("Cookie: mstshash=").rstrip()
                assert any(s.user == user and s.flow.orig.ip == e["src"] for s in found), (name, e)
            elif "server_version" in e:
                assert any(s.server_software == f"RFB {e['server_version']}" for s in found), (name, e)
            else:
                assert any(s.client_software == f"RFB {e['client_version']}" for s in found), (name, e)


@needs_real_pcaps
def test_every_expected_ssh_banner_is_found(real_pcaps: Path) -> None:
    for name, entries in expected(real_pcaps, "ssh_banners").items():
        found = {b for s in sessions(real_pcaps / name) for b in (s.client_software, s.server_software)}
        for e in entries:
            assert e["banner"] in found, (name, e)


@needs_real_pcaps
@pytest.mark.parametrize("name", ["suricata-verify/ssh-hassh/input.pcap", "zeek/ssh/ssh_kex_curve25519.pcap",
                                  "suricata-verify/ssh-hassh-reassembled/input.pcap", "foxio-ja4/pcap/ssh.pcapng"])
def test_hassh_as_tshark(real_pcaps: Path, name: str) -> None:
    path = real_pcaps / name
    theirs = {h for row in tshark(path, "ssh.kex.hassh", "ssh.kex.hasshserver", display="ssh.message_code == 20")
              for h in row if h}
    ours = {h for s in sessions(path) for h in (s.hassh, s.hassh_server) if h}
    assert theirs and ours == theirs


@needs_real_pcaps
@pytest.mark.parametrize("name", ["zeek/rdp/rdp-to-ssl.pcap", "zeek/rdp/rdp-proprietary-encryption.pcap",
                                  "suricata-verify/rdp-protocol/RDP-003.pcap",
                                  "ndpi/tests/cfgs/default/pcap/rdp3.pcap"])
def test_rdp_cookies_as_tshark(real_pcaps: Path, name: str) -> None:
    path = real_pcaps / name
    theirs = {row[0].removeprefix("Cookie: mstshash=").rstrip() for row in tshark(path, "rdp.rt_cookie") if row[0]}
    assert theirs and {s.user for s in sessions(path)} == theirs


@needs_real_pcaps
@pytest.mark.parametrize("name", ["zeek/rfb/vnc-mac-to-linux.pcap",
                                  "suricata-verify/rfb-rules/00-vnc-openwall-3.7.pcap",
                                  "suricata-verify/rfb-protocol-3.3/06-vnc-Password-3.3.pcap"])
def test_vnc_versions_as_tshark(real_pcaps: Path, name: str) -> None:
    path = real_pcaps / name
    rows = tshark(path, "vnc.server_proto_ver", "vnc.client_proto_ver")
    theirs = {f"RFB {v}" for row in rows for v in row if v}
    ours = {v for s in sessions(path) for v in (s.server_software, s.client_software) if v}
    assert theirs and ours == theirs


@needs_real_pcaps
def test_rdp_over_tls_keeps_its_certificate_and_session_times(real_pcaps: Path) -> None:
    obs = list(Sensor().read(str(real_pcaps / "zeek" / "rdp" / "rdp-to-ssl.pcap")))
    assert [o for o in obs if isinstance(o, TlsServerCertificate)]
    for s in (o for o in obs if isinstance(o, RemoteAccessSession)):
        assert s.start <= s.ts <= s.end and s.bytes_orig > 0 and s.bytes_resp > 0


def answered(ext: Extractor, messages: list[tuple[Direction, bytes]]) -> list[tuple[int | None, str, str | None]]:
    """(attempt, outcome, code) of each answer once the connection ended, checking that each
    answers the attempt of the session it follows."""
    found = observations(ext, FLOW, messages, close=True)
    sessions = [o.attempt for o in found if isinstance(o, RemoteAccessSession) and o.attempt is not None]
    got = [(o.attempt, str(o.outcome), o.reason_code) for o in found if isinstance(o, AuthenticationOutcome)]
    assert sorted(a for a, _o, _c in got) == sorted(sessions)
    return got


def reasons(ext: Extractor, messages: list[tuple[Direction, bytes]]) -> list[tuple[str | None, str | None]]:
    return [(o.reason, o.basis) for o in observations(ext, FLOW, messages, close=True)
            if isinstance(o, AuthenticationOutcome)]


def test_rdp_negotiation_answers_are_not_the_passwords() -> None:
    refused = tpkt(x224(0xD0, struct.pack("<BBHI", 3, 0, 8, 5)))
    assert answered(RdpExtractor(), [(C, RDP_CR), (S, RDP_CC)]) == [(1, "unknown", "CredSSP")]
    assert reasons(RdpExtractor(), [(C, RDP_CR), (S, RDP_CC)]) == [
        ("negotiation accepted", "the credential is checked later, encrypted (TLS/CredSSP or RDP security)")]
    assert answered(RdpExtractor(), [(C, RDP_CR), (S, refused)]) == [(1, "failure", "HYBRID_REQUIRED_BY_SERVER")]
    assert answered(RdpExtractor(), [(C, RDP_CR)]) == [(1, "unknown", None)]


def test_ssh_sessions_are_unknown_their_answer_is_encrypted() -> None:
    messages = [(S, SSH_S), (C, SSH_C), (C, kexinit(LISTS)), (S, kexinit(LISTS))]
    assert answered(SshExtractor(), messages) == [(1, "unknown", None)]
    assert reasons(SshExtractor(), messages) == [(None, "encrypted (SSH)")]
    assert reasons(SshExtractor(), messages[:2]) == [(None, "encrypted (SSH)")], "concluded at close"


VNC_38 = [(S, b"RFB 003.008\n"), (C, b"RFB 003.008\n"), (S, b"\x02\x02\x10"), (C, b"\x02"), (S, bytes(16)),
          (C, bytes(range(16)))]
FAILED = b"\0\0\0\x01" + struct.pack("!I", 21) + b"Authentication failed"


@pytest.mark.parametrize(("messages", "expected", "reason"), [
    ([*VNC_38, (S, b"\0\0\0\0")], [(1, "success", "0")], None),
    ([*VNC_38, (S, FAILED)], [(1, "failure", "1")], "Authentication failed"),
    ([*VNC_38, (S, FAILED[:4]), (S, FAILED[4:])], [(1, "failure", "1")], "Authentication failed"),
    ([*VNC_38], [(1, "unknown", None)], None),
    ([(S, b"RFB 003.003\n"), (C, b"RFB 003.003\n"), (S, b"\0\0\0\x02" + bytes(16)), (C, bytes(16)),
      (S, b"\0\0\0\x01")], [(1, "failure", "1")], None),
    ([(S, b"RFB 003.889\n"), (C, b"RFB 003.889\n"), (S, b"\x02\x1e\x23"), (C, b"\x1e"),
      (S, b"\0\x02\0\x04" + bytes(8)), (C, bytes(132)), (S, b"\0\0\0\x01")], [(1, "failure", "1")], None),
    ([(S, b"RFB 003.008\n"), (C, b"RFB 003.008\n"), (S, b"\x01\x01"), (C, b"\x01"), (S, b"\0\0\0\0")],
     [(1, "success", "0")], None),
])
def test_vnc_security_result(messages: list[tuple[Direction, bytes]], expected: list[tuple[int, str, str]],
                             reason: str | None) -> None:
    """VNC Authentication (3.3, 3.8, the 3.8 reason string in the same segment or the next),
    Apple's ARD (its Diffie-Hellman parameters first, no reason string), None in 3.8."""
    assert answered(VncExtractor(), messages) == expected
    assert [r for r, _b in reasons(VncExtractor(), messages)] == [reason]


def test_vnc_types_without_a_security_result_to_follow() -> None:
    none_37 = [(S, b"RFB 003.007\n"), (C, b"RFB 003.007\n"), (S, b"\x02\x01\x02"), (C, b"\x01")]
    assert answered(VncExtractor(), none_37) == [(1, "success", None)]
    assert reasons(VncExtractor(), none_37) == [(None, "security type None: RFB 3.3/3.7 send no SecurityResult")]
    tight = [(S, b"RFB 003.008\n"), (C, b"RFB 003.008\n"), (S, b"\x02\x02\x10"), (C, b"\x10")]
    assert reasons(VncExtractor(), tight) == [(None, "Tight exchange not followed")]
    refused = [(S, b"RFB 003.008\n"), (C, b"RFB 003.008\n"), (S, b"\x00\0\0\0\x04busy")]
    assert answered(VncExtractor(), refused) == [], "no type offered: no authentication"


def test_vnc_result_however_the_servers_bytes_are_cut() -> None:
    server = bytes(16) + FAILED
    for cut in range(len(server) + 1):
        messages = [*VNC_38[:4], (S, server[:cut]), (C, bytes(16)), (S, server[cut:])]
        assert answered(VncExtractor(), messages) == [(1, "failure", "1")], cut
        assert [r for r, _b in reasons(VncExtractor(), messages)] == ["Authentication failed"], cut


def vnc_outcomes(path: Path) -> dict[int, str]:
    """Our VNC outcomes by client port."""
    return {o.flow.orig.port: str(o.outcome) for o in Sensor().read(str(path))
            if isinstance(o, AuthenticationOutcome) and o.protocol == Proto.VNC}


@needs_real_pcaps
@pytest.mark.parametrize("name", ["zeek/rfb/vnc-mac-to-linux.pcap", "zeek/rfb/vncmac.pcap",
                                  "suricata-verify/rfb-rules/00-vnc-openwall-3.7.pcap",
                                  "ndpi/tests/cfgs/default/pcap/vnc.pcap"])
def test_vnc_outcomes_as_tshark_reads_the_security_result(real_pcaps: Path, name: str) -> None:
    """tshark's `vnc.auth_result` (false: OK) per client port, against our outcomes; without one,
    ours is unknown."""
    path = real_pcaps / name
    theirs = {int(port): "failure" if result in ("1", "True") else "success"
              for port, result in tshark(path, "tcp.dstport", "vnc.auth_result", display="vnc.auth_result")}
    ours = vnc_outcomes(path)
    assert ours and {p: o for p, o in ours.items() if o != "unknown"} == theirs


@needs_real_pcaps
@pytest.mark.parametrize(("name", "client_port", "result"), [
    ("suricata-verify/rfb-protocol-3.3/06-vnc-Password-3.3.pcap", 58048, "success"),
    ("zeek/rfb/vnc-scanner.pcap", 46381, "failure"),
])
def test_vnc_outcomes_where_tshark_loses_the_rfb_state(real_pcaps: Path, name: str, client_port: int,
                                                       result: str) -> None:
    """tshark mistracks these two: the 3.3 server sends its type and challenge in one segment,
    the scanner's 3.8 server its type list one byte a segment; it then reads the
    `vnc.auth_result` in a client's packet (or none). The server's 4-byte SecurityResult is
    00000000 in the first, 00000001 and "Authentication failed from 192.168.0.1" in the second."""
    path = real_pcaps / name
    assert vnc_outcomes(path) == {client_port: result}
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-c", "40", "-Y", "vnc.auth_result", "-T", "fields", "-e",
                          "tcp.dstport"], capture_output=True, text=True, check=True).stdout  # the handshake's frames
    assert {int(port) for port in out.split()} <= {5900}


@needs_real_pcaps
@pytest.mark.parametrize("name", ["zeek/rdp/rdp-to-ssl.pcap", "zeek/rdp/rdp-proprietary-encryption.pcap",
                                  "zeek/rdp/rdp-no-cookie-mstshash.pcap", "zeek/rdp/rdp-unknown-keyboard.pcap",
                                  "ndpi/tests/cfgs/default/pcap/rdp.pcap",
                                  "ndpi/tests/cfgs/default/pcap/rdp_over_tls.pcap"])
def test_rdp_outcomes_as_tshark_reads_the_negotiation(real_pcaps: Path, name: str) -> None:
    """tshark's `rdp.neg_type` of the confirm (2: response, 3: failure with
    `rdp.negFailure.failureCode`) per client port: failure for 3, unknown for 2."""
    path = real_pcaps / name
    rows = tshark(path, "tcp.dstport", "rdp.neg_type", "rdp.negFailure.failureCode", display="rdp.neg_type != 1")
    theirs = {int(port): ("failure", FAILURES[int(code, 16)]) if kind == "0x03" else ("unknown", None)
              for port, kind, code in rows}
    found = list(Sensor().read(str(path)))
    ours = {o.flow.orig.port: (str(o.outcome), o.reason_code if o.outcome == Outcome.FAILURE else None)
            for o in found if isinstance(o, AuthenticationOutcome)}
    assert theirs and ours == theirs


@needs_real_pcaps
def test_every_ssh_session_of_the_real_captures_is_unknown(real_pcaps: Path) -> None:
    for name in expected(real_pcaps, "ssh_banners"):
        found = list(Sensor().read(str(real_pcaps / name)))
        ssh = [o for o in found if isinstance(o, RemoteAccessSession) and o.protocol == "ssh"]
        outcomes = {(o.flow.uid, o.attempt): o for o in found if isinstance(o, AuthenticationOutcome)}
        assert ssh and all(outcomes[s.flow.uid, s.attempt].basis == "encrypted (SSH)" for s in ssh), name
