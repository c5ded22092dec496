"""HL7 v2 over MLLP: the MSH segment, MSH-8 fingerprinted, and nothing after MSH ever read.

Checked against the lab capture of the `hl7` package's MLLP client (its truth file), against
tshark's `hl7.segment`, and for robustness.
"""

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
from trustwatch.sensor.protocols.hl7 import Hl7Extractor
from trustwatch.sensor.records import CredentialSeen, Hl7Message, Observation, SecretKind
from trustwatch.sensor.secrets import SecretHasher
from trustwatch.sensor.sense import Sensor

KEY = SecretHasher(b"hl7-test-site-key")
FLOW = FlowId(uid="Chl7", transport="tcp", orig=Endpoint("10.40.1.11", 50300, None),
              resp=Endpoint("10.40.0.10", 2575, None))
ORU = (b"\x0bMSH|^~\\&|COBAS|LAB1|LIS|ST_EXAMPLE|20250311070100||ORU^R01|MSG0001|P|2.5.1\r"
       b"PID|1||MRN77120044^^^HOSP||SMITH^ANNA||19600101|F\rOBX|1|NM|GLU^Glucose||5.4|mmol/L\r\x1c\r")
SECURED = ORU.replace(b"||ORU", b"|Lab$ecret1|ORU")


def run(chunks: list[bytes], direction: Direction = Direction.ORIG, complete: bool = True) -> list[Observation]:
    ext, out, buf = Hl7Extractor(KEY), [], b""
    for chunk in chunks:
        buf += chunk
        while buf:
            found, used = ext.parse(FLOW, direction, 1.0, buf)
            if not used:
                break
            out += found
            buf = buf[used:]
    assert buf == b"" or not complete
    return out


def test_msh_facts_and_nothing_after_msh() -> None:
    (msg,) = run([ORU])
    assert isinstance(msg, Hl7Message)
    assert (msg.sending_application, msg.sending_facility, msg.receiving_application, msg.receiving_facility,
            msg.message_type, msg.version) == ("COBAS", "LAB1", "LIS", "ST_EXAMPLE", "ORU^R01", "2.5.1")
    assert "SMITH" not in repr(msg) and "MRN77120044" not in repr(msg)


def test_msh8_security_is_a_fingerprinted_secret() -> None:
    msg, cred = run([SECURED])
    assert isinstance(cred, CredentialSeen) and cred.mechanism == "msh-8"
    assert cred.secret_fp == KEY.fingerprint(SecretKind.PASSCODE, "Lab$ecret1").value
    assert cred.username == "COBAS" and "Lab$ecret" not in repr(msg) + repr(cred)


def test_body_split_anywhere_is_skipped_and_repeats_reported_once() -> None:
    stream = ORU * 3 + SECURED
    for cut in range(1, len(stream)):
        out = run([stream[:cut], stream[cut:]])
        assert [type(o).__name__ for o in out] == ["Hl7Message", "Hl7Message", "CredentialSeen"]


def test_probe_and_garbage() -> None:
    assert Hl7Extractor.probe(ORU[:8]) and Hl7Extractor.probe(b"\x0bFHS|^~\\&")
    assert not Hl7Extractor.probe(b"MSH|^~\\&|") and not Hl7Extractor.probe(b"\x16\x03\x01")
    with pytest.raises(ParseError, match="hl7_no_msh"):
        run([b"\x0bPID|1||MRN1\r\x1c\r"])
    with pytest.raises(ParseError, match="hl7_no_start_block"):
        run([b"GET / HTTP/1.1\r\n"])


@given(st.binary(max_size=300))
def test_fuzz_raises_nothing_but_parse_errors(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        run([b"\x0bMSH|" + data], complete=False)


def sensed(path: Path) -> list[Observation]:
    return list(Sensor(secrets=KEY).read(str(path)))


@needs_real_pcaps
def test_every_message_of_the_lab_capture(real_pcaps: Path) -> None:
    truth = json.loads((real_pcaps / "lab" / "expected.json").read_text())["hl7_mllp.pcap"]["hl7"]
    got = {(o.sending_application, o.sending_facility, o.receiving_application, o.receiving_facility,
            o.message_type, o.version) for o in sensed(real_pcaps / "lab" / "hl7_mllp.pcap")
           if isinstance(o, Hl7Message)}
    for t in truth:
        assert (t["sending_application"], t["sending_facility"], t["receiving_application"],
                t["receiving_facility"], t["message_type"], t["version"]) in got, t


@needs_real_pcaps
@pytest.mark.parametrize(("name", "port"), [("lab/hl7_mllp.pcap", 2575),
                                           ("ndpi/tests/cfgs/default/pcap/hl7.pcap", 6661)])
def test_same_headers_as_tshark(real_pcaps: Path, name: str, port: int) -> None:
    """tshark needs to be told the MLLP port (decode-as); trustwatch finds HL7 by content."""
    path = real_pcaps / name
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-d", f"tcp.port=={port},hl7", "-Y", "hl7", "-T", "fields",
                          "-E", "occurrence=a", "-E", "aggregator=\x1f", "-e", "hl7.segment"],
                         capture_output=True, text=True, check=True).stdout
    theirs = set()
    for line in out.splitlines():
        for segment in line.split("\x1f"):
            segment = segment.removesuffix("\\r")  # tshark prints the terminator escaped
            if segment.startswith("MSH"):
                f = segment.split(segment[3]) + [""] * 12
                theirs.add((f[2], f[3], f[4], f[5], f[8], f[11]))
    ours = {(o.sending_application, o.sending_facility, o.receiving_application, o.receiving_facility,
             o.message_type, o.version) for o in sensed(path) if isinstance(o, Hl7Message)}
    assert theirs and ours == theirs
