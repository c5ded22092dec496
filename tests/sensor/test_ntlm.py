"""NTLMSSP AUTHENTICATE (sensor.ntlm): names in UTF-16 and OEM, found raw or in SPNEGO, every
malformed field a weird and never an exception; on the real captures of every carrier (SMB,
HTTP, LDAP, DCE-RPC) the same logons as tshark's `ntlmssp.auth.*` and the truth files."""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import needs_real_pcaps
from trustwatch.sensor.flowid import Direction, Endpoint, FlowId
from trustwatch.sensor.ntlm import SIGNATURE, NtlmAuthenticate, find_authenticate
from trustwatch.sensor.records import CredentialSeen, Proto, SecretKind
from trustwatch.sensor.sense import Sensor

FLOW = FlowId(uid="Cntlm", transport="tcp", orig=Endpoint("10.20.3.7", 49670, None),
              resp=Endpoint("10.10.1.5", 445, None))
NTLMV2 = bytes(range(16)) + b"\x01\x01" + bytes(30)
NEGOTIATE = SIGNATURE + b"\x01\x00\x00\x00" + b"\x07\x82\x08\xa2" + bytes(16)


def authenticate(user: str = "nurse7", domain: str = "WARD3", workstation: str = "PUMP-0042",
                 unicode: bool = True, nt: bytes = NTLMV2) -> bytes:
    """An AUTHENTICATE message (MS-NLMP 2.2.1.3) with a Version field, payload after it."""
    codec = "utf-16-le" if unicode else "ascii"
    fields, payload, offset = b"", b"", 72
    for data in (bytes(24), nt, domain.encode(codec), user.encode(codec), workstation.encode(codec), b""):
        fields += struct.pack("<HHI", len(data), len(data), offset + len(payload))
        payload += data
    flags = 0xE2888215 if unicode else 0xE2888216
    return SIGNATURE + b"\x03\x00\x00\x00" + fields + struct.pack("<I", flags) + bytes(8) + payload


def ber(tag: int, value: bytes) -> bytes:
    length = bytes([len(value)]) if len(value) < 0x80 else b"\x82" + len(value).to_bytes(2, "big")
    return bytes([tag]) + length + value


def spnego(token: bytes) -> bytes:
    """A NegTokenResp (RFC 4178 4.2.2) carrying `token` as responseToken, then a mechListMIC."""
    return ber(0xA1, ber(0x30, ber(0xA2, ber(0x04, token)) + ber(0xA3, ber(0x04, bytes(16)))))


def test_unicode_and_oem_names() -> None:
    assert find_authenticate(authenticate()) == (
        NtlmAuthenticate(domain="WARD3", user="nurse7", workstation="PUMP-0042", flags=0xE2888215,
                         nt_response_len=len(NTLMV2)), None)
    found, weird = find_authenticate(authenticate("Tim Tester", "", "DESKTOP-2AEFM7G", unicode=False))
    assert found is not None and weird is None
    assert (found.user, found.domain, found.workstation) == ("Tim Tester", "", "DESKTOP-2AEFM7G")


def test_found_behind_negotiate_and_inside_spnego() -> None:
    found, _ = find_authenticate(NEGOTIATE + b"junk" + spnego(authenticate(user="biomed")))
    assert found is not None and found.user == "biomed"
    assert find_authenticate(spnego(NEGOTIATE)) == (None, None)
    assert find_authenticate(b"") == (None, None)


def test_credential_notes_and_no_secret() -> None:
    found, _ = find_authenticate(authenticate(nt=bytes(24)))
    assert found is not None
    cred = found.credential(1.0, FLOW, Proto.SMB, Direction.ORIG)
    assert (cred.username, cred.domain, cred.host, cred.mechanism) == ("nurse7", "WARD3", "PUMP-0042", "NTLM")
    assert (cred.secret_kind, cred.secret_fp, cred.secret_hint, cred.notes) == (SecretKind.HASH, None, None,
                                                                                 ("NTLMv1",))
    found, _ = find_authenticate(authenticate(user="", domain="", nt=b""))
    assert found is not None
    anonymous = found.credential(1.0, FLOW, Proto.SMB, Direction.ORIG)
    assert (anonymous.username, anonymous.domain, anonymous.notes) == (None, None, ("anonymous",))


def test_malformed_fields_are_weirds() -> None:
    msg = bytearray(authenticate())
    assert find_authenticate(bytes(msg[:40])) == (None, "ntlm_truncated")
    msg[40:44] = (len(msg) - 2).to_bytes(4, "little")  # UserName runs past the end
    assert find_authenticate(bytes(msg)) == (None, "ntlm_bad_field")
    long_name = authenticate(user="x" * 600)
    assert find_authenticate(long_name) == (None, "ntlm_name_too_long")


def test_every_truncation_is_a_weird_or_nothing() -> None:
    msg = authenticate()
    for cut in range(len(msg)):
        found, weird = find_authenticate(msg[:cut])
        assert found is None and weird in (None, "ntlm_truncated", "ntlm_bad_field")


@given(st.binary(max_size=200), st.booleans())
def test_fuzz_never_raises(data: bytes, header: bool) -> None:
    found, weird = find_authenticate((SIGNATURE + b"\x03\x00\x00\x00" if header else b"") + data)
    assert found is None or weird is None


CAPTURES = [
    "suricata-verify/smb2-ntlmssp-negotiateflags/input.pcap", "zeek/smb/raw_ntlm_in_smb.pcap", "zeek/erspan.pcap",
    "zeek/ldap/aduser1-ntlm.pcap", "zeek/ldap/aduser1.pcap", "zeek/ldap/ldap_invalid_credentials.pcap",
    "zeek/ldap/sasl-ntlm.pcap", "suricata-verify/krb5-request-frag-log/krb5-frag.pcap",
    "zeek/dce-rpc/dce_rpc_ntlm.pcapng",
]
Logon = tuple[str | None, str | None, str | None]


def ntlm_logons(path: Path) -> list[CredentialSeen]:
    return [o for o in Sensor().read(str(path)) if isinstance(o, CredentialSeen) and o.mechanism == "NTLM"]


def absent(value: str) -> str | None:
    """tshark and the truth files write an empty name as "NULL"."""
    return None if value in ("NULL", "") else value


@needs_real_pcaps
@pytest.mark.parametrize("name", CAPTURES)
def test_same_logons_as_tshark(real_pcaps: Path, name: str) -> None:
    out = subprocess.run(["tshark", "-n", "-r", str(real_pcaps / name), "-Y", "ntlmssp.messagetype == 3", "-T",
                          "fields", "-e", "ntlmssp.auth.username", "-e", "ntlmssp.auth.domain", "-e",
                          "ntlmssp.auth.hostname"], capture_output=True, text=True, check=True).stdout
    theirs = {tuple(absent(v) for v in line.split("\t")) for line in out.splitlines()}
    ours = {(c.username, c.domain, c.host) for c in ntlm_logons(real_pcaps / name)}
    assert theirs and ours == theirs


@needs_real_pcaps
def test_every_ntlmssp_credential_of_the_truth_file(real_pcaps: Path) -> None:
    truth = json.loads((real_pcaps / "expected.json").read_text())
    expected = {(name, c["src"], c["dport"], absent(c["user"]), absent(c["domain"]), absent(c["workstation"]))
                for name, facts in truth.items() if isinstance(facts, dict)
                for c in facts.get("credentials", []) if c.get("proto") == "ntlmssp"}
    assert {e[0] for e in expected} == set(CAPTURES) and len(expected) == 17
    found = {(name, c.flow.orig.ip, c.flow.resp.port, c.username, c.domain, c.host)
             for name in CAPTURES for c in ntlm_logons(real_pcaps / name)}
    assert expected <= found
