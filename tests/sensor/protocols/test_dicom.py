"""DICOM A-ASSOCIATE: AE titles, implementation, every User Identity type, the acceptor's
answer (AC, RJ, A-ABORT); no dataset is read.

Checked against the lab capture of pynetdicom (its truth file), against tshark's
`dicom.assoc.*` / `dicom.userinfo.*` / `dicom.pdu.type` fields, and for robustness.
"""

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
from tests.sensor.protocols.streams import observations
from trustwatch.sensor.flowid import Direction, Endpoint, FlowId
from trustwatch.sensor.protocols.base import ParseError
from trustwatch.sensor.protocols.dicom import DicomExtractor
from trustwatch.sensor.records import AuthenticationOutcome, CredentialSeen, DicomAssociation, Observation, SecretKind
from trustwatch.sensor.secrets import SecretHasher
from trustwatch.sensor.sense import Sensor

KEY = SecretHasher(b"dicom-test-site-key")
FLOW = FlowId(uid="Cdcm", transport="tcp", orig=Endpoint("10.30.8.41", 50200, None),
              resp=Endpoint("10.10.6.10", 104, None))
JWT = (b"eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJpZHAiLCJzdWIiOiJjdDAxIiwiYXVkIjpbInBhY3MiXSwiaWF0IjoxNzQxNjc2NDAwfQ."
       b"c2lnbmF0dXJl")


def item(kind: int, value: bytes) -> bytes:
    return struct.pack(">BBH", kind, 0, len(value)) + value


def associate_rq(calling: bytes, called: bytes, identity: bytes | None) -> bytes:
    """An A-ASSOCIATE-RQ as PS3.8 9.3.2 lays it out."""
    user_info = item(0x51, struct.pack(">I", 16384)) + item(0x52, b"1.2.276.0.7230010.3.0.3.6.8") + \
        item(0x55, b"OFFIS_DCMTK_368")
    if identity is not None:
        user_info += item(0x58, identity)
    body = struct.pack(">HH", 1, 0) + called.ljust(16) + calling.ljust(16) + bytes(32) + \
        item(0x10, b"1.2.840.10008.3.1.1.1") + item(0x20, b"\x01\x00\xff\x00" + item(0x30, b"1.2.840.10008.1.1")) + \
        item(0x50, user_info)
    return struct.pack(">BBI", 1, 0, len(body)) + body


def identity(kind: int, primary: bytes, secondary: bytes = b"") -> bytes:
    out = struct.pack(">BBH", kind, 1, len(primary)) + primary + struct.pack(">H", len(secondary)) + secondary
    return out


def parse(data: bytes, direction: Direction = Direction.ORIG) -> list[Observation]:
    found, used = DicomExtractor(KEY).parse(FLOW, direction, 1.0, data)
    assert used == len(data)
    return list(found)


def test_request_with_user_and_passcode() -> None:
    assoc, cred = parse(associate_rq(b"CT01", b"PACS_STORE", identity(2, b"ct-tech", b"Rad!ology2024")))
    assert isinstance(assoc, DicomAssociation) and isinstance(cred, CredentialSeen)
    assert (assoc.pdu, assoc.calling_ae, assoc.called_ae) == ("request", "CT01", "PACS_STORE")
    assert assoc.implementation_class_uid == "1.2.276.0.7230010.3.0.3.6.8"
    assert assoc.implementation_version == "OFFIS_DCMTK_368" and assoc.user_identity_type == "username-passcode"
    assert cred.username == "ct-tech" and cred.secret_kind == SecretKind.PASSCODE
    assert cred.secret_fp == KEY.fingerprint(SecretKind.PASSCODE, "Rad!ology2024").value
    assert "Rad!ology" not in repr(assoc) + repr(cred)


@pytest.mark.parametrize(("kind", "primary", "secret_kind", "user"), [
    (1, b"ct-tech", SecretKind.NONE, "ct-tech"),
    (3, b"\x6e\x82kerberos-ticket", SecretKind.TOKEN, None),
    (4, b"<saml:Assertion/>", SecretKind.TOKEN, None),
    (5, JWT, SecretKind.TOKEN, "ct01"),
])
def test_every_user_identity_type(kind: int, primary: bytes, secret_kind: SecretKind, user: str | None) -> None:
    _assoc, cred = parse(associate_rq(b"CT01", b"PACS", identity(kind, primary)))
    assert isinstance(cred, CredentialSeen)
    assert cred.secret_kind == secret_kind and cred.username == user
    if secret_kind == SecretKind.TOKEN:
        assert cred.secret_fp == KEY.fingerprint(SecretKind.TOKEN, primary).value
    if kind == 5:
        assert cred.token is not None and cred.token.iss == "idp" and cred.token.aud == ("pacs",)
        assert cred.token.exp is None and cred.token.alg == "HS256"


def test_reject_and_data_end_the_association() -> None:
    ext = DicomExtractor(KEY)
    found, _ = ext.parse(FLOW, Direction.RESP, 1.0, bytes([3, 0, 0, 0, 0, 4, 0, 1, 1, 7]))
    assert isinstance(found[0], DicomAssociation)
    assert found[0].result == "rejected-permanent: called-AE-title-not-recognized" and ext.finished
    ext = DicomExtractor(KEY)
    pdata = struct.pack(">BBI", 4, 0, 8) + b"PATIENTX"
    assert ext.parse(FLOW, Direction.ORIG, 1.0, pdata) == ([], len(pdata)) and ext.finished


def test_probe() -> None:
    assert DicomExtractor.probe(associate_rq(b"A", b"B", None)[:8])
    assert not DicomExtractor.probe(b"\x16\x03\x01\x00\x10\x01\x00\x00")
    assert not DicomExtractor.probe(b"GET / HTTP/1.1\r\n")


def test_truncation_at_every_byte_raises_only_parse_errors() -> None:
    pdu = associate_rq(b"CT01", b"PACS", identity(2, b"u", b"p"))
    for cut in range(len(pdu)):
        assert DicomExtractor(KEY).parse(FLOW, Direction.ORIG, 1.0, pdu[:cut]) == ([], 0)
    bad = bytearray(pdu)
    bad[-3] = 0xFF  # the passcode's length runs past its item
    with pytest.raises(ParseError):
        parse(bytes(bad))


@given(st.binary(max_size=400))
def test_garbage_raises_nothing_but_parse_errors(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        DicomExtractor(KEY).parse(FLOW, Direction.ORIG, 1.0, bytes([1, 0]) + struct.pack(">I", len(data)) + data)


def sensed(path: Path) -> list[Observation]:
    return list(Sensor(secrets=KEY).read(str(path)))


@needs_real_pcaps
def test_every_association_of_the_lab_capture(real_pcaps: Path) -> None:
    truth = json.loads((real_pcaps / "lab" / "expected.json").read_text())["dicom.pcap"]["dicom"]
    got = sensed(real_pcaps / "lab" / "dicom.pcap")
    requests = {(o.calling_ae, o.called_ae, o.user_identity_type) for o in got
                if isinstance(o, DicomAssociation) and o.pdu == "request"}
    creds = {(o.username, o.secret_fp) for o in got if isinstance(o, CredentialSeen)}
    types = {1: "username", 2: "username-passcode", 5: "jwt"}
    for t in truth:
        assert (t["calling_ae"], t["called_ae"], types.get(t["user_identity_type"])) in requests, t
        if t["passcode"]:
            assert (t["username"], KEY.fingerprint(SecretKind.PASSCODE, t["passcode"]).value) in creds
        if t["jwt"]:
            assert KEY.fingerprint(SecretKind.TOKEN, t["jwt"]).value in {fp for _u, fp in creds}
    rejects = [o for o in got if isinstance(o, DicomAssociation) and o.pdu == "reject"]
    assert len(rejects) == sum(t["association_result"] != "accepted" for t in truth)


@needs_real_pcaps
def test_same_ae_titles_and_identities_as_tshark(real_pcaps: Path) -> None:
    path = real_pcaps / "lab" / "dicom.pcap"
    fields = ["dicom.pdu.type", "dicom.assoc.ae.calling", "dicom.assoc.ae.called",
              "dicom.userinfo.user_identify.type", "dicom.userinfo.user_identify.primary_field"]
    cmd = ["tshark", "-n", "-r", str(path), "-Y", "dicom.pdu.type == 1", "-T", "fields", "-E", "occurrence=f"]
    out = subprocess.run([*cmd, *(a for f in fields for a in ("-e", f))], capture_output=True, text=True,
                         check=True).stdout
    theirs = set()
    for line in out.splitlines():
        _pdu, calling, called, kind, primary = line.split("\t")
        theirs.add((calling.strip(), called.strip(), primary if kind in ("1", "2") else ""))
    ours = set()
    got = sensed(path)
    for assoc in (o for o in got if isinstance(o, DicomAssociation) and o.pdu == "request"):
        users = [c.username for c in got if isinstance(c, CredentialSeen) and c.flow.uid == assoc.flow.uid
                 and c.mechanism in ("user-identity-username", "user-identity-username-passcode")]
        ours.add((assoc.calling_ae, assoc.called_ae, users[0] if users else ""))
    assert ours == theirs


C, S = Direction.ORIG, Direction.RESP


def associate_ac(calling: bytes, called: bytes, server_response: bytes | None = None) -> bytes:
    """An A-ASSOCIATE-AC (PS3.8 9.3.3), with the User Identity server response sub-item (0x59,
    PS3.7 D.3.3.7.2) when given."""
    user_info = item(0x51, struct.pack(">I", 16384)) + item(0x52, b"1.2.840.10008.5.1.4.1")
    if server_response is not None:
        user_info += item(0x59, struct.pack(">H", len(server_response)) + server_response)
    body = struct.pack(">HH", 1, 0) + called.ljust(16) + calling.ljust(16) + bytes(32) + \
        item(0x10, b"1.2.840.10008.3.1.1.1") + item(0x21, b"\x01\x00\x00\x00" + item(0x40, b"1.2.840.10008.1.2")) + \
        item(0x50, user_info)
    return struct.pack(">BBI", 2, 0, len(body)) + body


def reject(result: int, source: int, reason: int) -> bytes:
    return bytes([3, 0, 0, 0, 0, 4, 0, result, source, reason])


def abort(source: int, reason: int) -> bytes:
    return bytes([7, 0, 0, 0, 0, 4, 0, 0, source, reason])


REQUEST = associate_rq(b"CT01", b"PACS_STORE", identity(2, b"ct-tech", b"Rad!ology2024"))


def exchange(chunks: list[tuple[Direction, bytes]]) -> list[Observation]:
    return observations(DicomExtractor(KEY), FLOW, chunks, close=True)


def outcomes(found: list[Observation]) -> list[tuple[int, str, str | None, str | None, str | None]]:
    """(attempt, outcome, code, reason, basis) of each answer, checking that it answers the
    request's attempt, which its credential shares."""
    requests = [o.attempt for o in found if isinstance(o, DicomAssociation) and o.pdu == "request"]
    got = [(o.attempt, str(o.outcome), o.reason_code, o.reason, o.basis) for o in found
           if isinstance(o, AuthenticationOutcome)]
    assert [a for a, *_ in got] == requests
    assert all(c.attempt in requests for c in found if isinstance(c, CredentialSeen))
    return got


@pytest.mark.parametrize(("answer", "expected"), [
    (associate_ac(b"CT01", b"PACS_STORE"), (1, "success", None, "A-ASSOCIATE-AC", None)),
    (associate_ac(b"CT01", b"PACS_STORE", b"ticket"),
     (1, "success", None, "A-ASSOCIATE-AC; user identity server response present", None)),
    (reject(1, 1, 3), (1, "failure", "1/1/3",
                       "rejected-permanent: calling-AE-title-not-recognized (source: service-user)", None)),
    (reject(2, 2, 1), (1, "failure", "2/2/1",
                       "rejected-transient: no-reason-given (source: service-provider (ACSE))", None)),
    (reject(2, 3, 1), (1, "unknown", "2/3/1",
                       "rejected-transient: temporary-congestion (source: service-provider (presentation))",
                       "transient rejection: says nothing of the identity")),
    (abort(2, 2), (1, "failure", "abort/2/2", "A-ABORT by the service-provider: unexpected-PDU", None)),
])
def test_the_acceptors_answer_to_the_request(answer: bytes, expected: tuple[str, ...]) -> None:
    found = exchange([(C, REQUEST), (S, answer)])
    assert outcomes(found) == [expected]
    assert "ticket" not in repr(found) and "Rad!ology" not in repr(found)


def test_requestor_abort_unanswered_request_and_abort_after_the_answer() -> None:
    assert outcomes(exchange([(C, REQUEST), (C, abort(0, 0))])) == [
        (1, "unknown", "abort/0/0", "A-ABORT by the service-user: reason-not-specified",
         "the requestor aborted before an answer")]
    assert outcomes(exchange([(C, REQUEST)])) == [(1, "unknown", None, None, "no answer captured")]
    ext = DicomExtractor(KEY)
    observations(ext, FLOW, [(C, REQUEST), (S, associate_ac(b"CT01", b"PACS_STORE"))])
    assert ext.finished and ext.parse(FLOW, S, 1.0, abort(2, 0)) == ([], 10)


@pytest.mark.parametrize("answer", [associate_ac(b"CT01", b"PACS", b"ticket"), reject(1, 1, 7), abort(2, 6)])
def test_answers_truncated_at_every_byte_wait(answer: bytes) -> None:
    for cut in range(len(answer)):
        ext = DicomExtractor(KEY)
        ext.parse(FLOW, C, 1.0, REQUEST)
        assert ext.parse(FLOW, S, 1.0, answer[:cut]) == ([], 0)


@given(st.sampled_from([2, 3, 7]), st.binary(max_size=200))
def test_fuzzed_answers_raise_nothing_but_parse_errors(pdu_type: int, data: bytes) -> None:
    ext = DicomExtractor(KEY)
    ext.parse(FLOW, C, 1.0, REQUEST)
    with contextlib.suppress(ParseError):
        ext.parse(FLOW, S, 1.0, bytes([pdu_type, 0]) + struct.pack(">I", len(data)) + data)


@needs_real_pcaps
def test_outcomes_of_the_lab_associations_equal_the_truth_and_tshark(real_pcaps: Path) -> None:
    """pynetdicom's answers: each association accepted or rejected as the lab configured it (a
    wrong called AE title, a wrong passcode), and as tshark reads the PDU answering each
    request (`dicom.pdu.type`, `dicom.assoc.reject.*`)."""
    path = real_pcaps / "lab" / "dicom.pcap"
    truth = json.loads((real_pcaps / "lab" / "expected.json").read_text())["dicom.pcap"]["dicom"]
    found = sensed(path)
    requests = {(o.flow.uid, o.attempt): o for o in found if isinstance(o, DicomAssociation) and o.pdu == "request"}
    answers = {(o.flow.uid, o.attempt): o for o in found if isinstance(o, AuthenticationOutcome)}
    assert set(answers) == set(requests)
    assert sorted((requests[k].calling_ae, str(answers[k].outcome)) for k in requests) == sorted(
        (t["calling_ae"], "success" if t["association_result"] == "accepted" else "failure") for t in truth)
    fields = ["tcp.dstport", "dicom.pdu.type", "dicom.assoc.reject.result", "dicom.assoc.reject.source",
              "dicom.assoc.reject.reason"]
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-d", "tcp.port==104,dicom", "-Y",
                          "dicom.pdu.type == 2 || dicom.pdu.type == 3", "-T", "fields", "-E", "occurrence=f",
                          *(a for f in fields for a in ("-e", f))], capture_output=True, text=True, check=True).stdout
    theirs = {}
    for line in out.splitlines():
        port, pdu, result, source, reason = line.split("\t")
        theirs[port] = None if pdu == "0x02" else f"{int(result, 0)}/{int(source, 0)}/{int(reason, 0)}"
    assert len(theirs) == len(truth)
    assert {str(o.flow.orig.port): o.reason_code for o in answers.values()} == theirs
