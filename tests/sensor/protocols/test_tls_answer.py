"""The server's answer to a client certificate (`tls_answer`, and `Tls13Answer` in
`tls13_inference`): the answers as hex fixtures with a comment per layer, every truncation,
garbage, hypothesis over record sequences, DTLS, TLS 1.3 flights; the sample captures against
what their generator planted; the real captures against the lab's truth and, in a
differential test, against tshark's `tls.alert_message.desc` and `tls.record.content_type`.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import SAMPLES, needs_real_pcaps
from tests.sensor.protocols.streams import observations
from tests.sensor.protocols.test_tls import (
    CCS,
    CLIENT_FLIGHT,
    CLIENT_HELLO,
    CLIENT_KEY_EXCHANGE,
    DEVICE_DER,
    DTLS_CLIENT_HELLO,
    ENCRYPTED_FINISHED,
    FLOW,
    FUZZ,
    SERVER_FLIGHT,
    UDP_FLOW,
    app_data,
    certificate_msg,
    dtls_fragment,
    dtls_record,
    h,
    record,
    run_13,
)
from tests.sensor.test_tshark_diff import DECODE_AS
from trustwatch.sensor.flowid import Direction
from trustwatch.sensor.protocols.base import ParseError
from trustwatch.sensor.protocols.tls import DtlsExtractor, TlsExtractor
from trustwatch.sensor.protocols.tls13_inference import Tls13Answer
from trustwatch.sensor.protocols.tls_answer import BOTH_WAYS, ENCRYPTED_ALERT, MAX_ANSWER_RECORDS
from trustwatch.sensor.protocols.tls_names import alert_name
from trustwatch.sensor.records import (
    AuthenticationOutcome,
    Observation,
    Outcome,
    Proto,
    TlsClientCertificate,
    TlsEncryptedHandshake,
)
from trustwatch.sensor.sense import Sensor

ORIG, RESP = Direction.ORIG, Direction.RESP
Chunks = list[tuple[Direction, bytes]]

HANDSHAKE: Chunks = [(ORIG, CLIENT_HELLO), (RESP, SERVER_FLIGHT), (ORIG, CLIENT_FLIGHT)]
"""Up to the client's Finished: its Certificate is attempt 1."""
ALERT_EXPIRED = h("""
15 0303 0002                  # record layer: alert, TLS 1.2, 2 bytes (in clear: before the server's CCS)
02                            # level: fatal
2d                            # description: certificate_expired (45)
""")
SERVER_FINISHED = CCS + ENCRYPTED_FINISHED  # change_cipher_spec, then Finished under the new keys
CLIENT_DATA = record(23, bytes(88))  # application_data: 8 nonce + 64 + 16 tag
SERVER_DATA = record(23, bytes(420))
SERVER_ENCRYPTED_ALERT = h("15 0303 001a") + bytes(26)  # alert under the new keys: nonce, 2, tag


def alert(description: int, level: int = 2) -> bytes:
    """An alert record in clear (RFC 5246 7.2)."""
    return record(21, bytes([level, description]))


def converse(ext: TlsExtractor | DtlsExtractor, chunks: Chunks, close: bool = True) -> list[Observation]:
    """Feed `chunks` as the dispatcher does, then end the connection (close, then the attempts
    left unanswered)."""
    flow = UDP_FLOW if isinstance(ext, DtlsExtractor) else FLOW
    found = observations(ext, flow, chunks)
    if close:
        found += [*ext.close(flow, 2.0), *ext.unanswered(flow, 2.0)]
    return found


def answers(chunks: Chunks, close: bool = True, ext: TlsExtractor | None = None) -> list[AuthenticationOutcome]:
    """The outcomes of a TLS connection; every attempt gets exactly one (when it is closed)."""
    found = converse(ext or TlsExtractor(), chunks, close)
    outcomes = [o for o in found if isinstance(o, AuthenticationOutcome)]
    attempts = [o.attempt for o in found if isinstance(o, TlsClientCertificate)]
    if close:
        assert sorted(o.attempt for o in outcomes) == attempts
    return outcomes


def summary(outcomes: list[AuthenticationOutcome]) -> list[tuple[str, str | None, str | None]]:
    return [(str(o.outcome), o.reason_code, o.basis) for o in outcomes]


# --- refused: an alert in clear ------------------------------------------------------------


def test_alert_fixture_is_a_named_refusal() -> None:
    ext = TlsExtractor()
    (refused,) = answers([*HANDSHAKE, (RESP, ALERT_EXPIRED)], close=False, ext=ext)
    assert (refused.attempt, refused.outcome, refused.reason_code) == (1, Outcome.FAILURE, "certificate_expired")
    assert refused.reason == "fatal alert certificate_expired (45)"
    assert refused.basis is None and refused.confidence is None and refused.protocol is Proto.TLS
    assert ext.finished  # nothing more to learn
    assert ext.close(FLOW, 2.0) == [] and ext.unanswered(FLOW, 2.0) == []


@pytest.mark.parametrize(("description", "name"), [
    (40, "handshake_failure"), (42, "bad_certificate"), (43, "unsupported_certificate"),
    (44, "certificate_revoked"), (45, "certificate_expired"), (46, "certificate_unknown"),
    (48, "unknown_ca"), (49, "access_denied"), (51, "decrypt_error"), (116, "certificate_required"),
])
def test_each_named_alert(description: int, name: str) -> None:
    (refused,) = answers([*HANDSHAKE, (RESP, alert(description))])
    assert (refused.outcome, refused.reason_code) == (Outcome.FAILURE, name)
    assert refused.reason == f"fatal alert {name} ({description})"


def test_an_unknown_alert_keeps_its_number() -> None:
    (refused,) = answers([*HANDSHAKE, (RESP, alert(253))])
    assert (refused.outcome, refused.reason_code, refused.reason) == (Outcome.FAILURE, "253", "fatal alert 253")


def test_a_warning_is_a_refusal_only_if_the_server_stops() -> None:
    warned = [*HANDSHAKE, (RESP, alert(42, level=1))]
    assert summary(answers(warned)) == [("failure", "bad_certificate", "warning alert, then close")]
    went_on = [*warned, (RESP, SERVER_FINISHED), (ORIG, CLIENT_DATA), (RESP, SERVER_DATA)]
    assert summary(answers(went_on)) == [("success", None, BOTH_WAYS)]


def test_alerts_that_answer_no_certificate() -> None:
    """Before the client's Certificate (unrecognized_name after the ClientHello), after an
    empty one (a client that declined), or from the client: none of them is an answer."""
    early = [(ORIG, CLIENT_HELLO), (RESP, alert(112, level=1)), (RESP, SERVER_FLIGHT), (ORIG, CLIENT_FLIGHT),
             (RESP, SERVER_FINISHED), (ORIG, CLIENT_DATA), (RESP, SERVER_DATA)]
    assert summary(answers(early)) == [("success", None, BOTH_WAYS)]
    declined = [(ORIG, CLIENT_HELLO), (RESP, SERVER_FLIGHT),
                (ORIG, record(22, certificate_msg() + CLIENT_KEY_EXCHANGE) + CCS + ENCRYPTED_FINISHED),
                (RESP, alert(40))]
    assert answers(declined) == []
    (unanswered,) = answers([*HANDSHAKE, (ORIG, alert(48))])
    assert unanswered.outcome is Outcome.UNKNOWN


# --- accepted: the server's Finished, then application data both ways ---------------------


def test_application_data_both_ways_after_the_handshake() -> None:
    ext = TlsExtractor()
    chunks = [*HANDSHAKE, (RESP, SERVER_FINISHED), (ORIG, CLIENT_DATA)]
    assert answers(chunks, close=False, ext=ext) == [] and not ext.finished
    (accepted,) = answers([(RESP, SERVER_DATA)], close=False, ext=ext)  # the server's record completes it
    assert (accepted.attempt, accepted.outcome, accepted.basis) == (1, Outcome.SUCCESS, BOTH_WAYS)
    assert accepted.reason_code is None and accepted.confidence is None
    assert ext.finished


def test_completed_by_the_client_the_answer_comes_at_close() -> None:
    """Server data first (a server that speaks first): the client's record completes the
    answer; the extractor is finished at once and gives it when the dispatcher closes it, so
    the evidence holds both sides' frames."""
    ext = TlsExtractor()
    assert answers([*HANDSHAKE, (RESP, SERVER_FINISHED + SERVER_DATA), (ORIG, CLIENT_DATA)], close=False, ext=ext) == []
    assert ext.finished
    (accepted,) = ext.close(FLOW, 2.0)
    assert isinstance(accepted, AuthenticationOutcome) and accepted.outcome is Outcome.SUCCESS


def test_false_start_client_data_before_the_servers_finished() -> None:
    chunks = [*HANDSHAKE[:2], (ORIG, CLIENT_FLIGHT + CLIENT_DATA), (RESP, SERVER_FINISHED + SERVER_DATA)]
    assert summary(answers(chunks)) == [("success", None, BOTH_WAYS)]


def test_encrypted_alert_then_close_is_an_unnamed_refusal() -> None:
    chunks = [*HANDSHAKE, (RESP, SERVER_FINISHED + SERVER_ENCRYPTED_ALERT)]
    assert summary(answers(chunks)) == [("failure", None, ENCRYPTED_ALERT)]
    after_data = [*HANDSHAKE, (RESP, SERVER_FINISHED + SERVER_DATA + SERVER_ENCRYPTED_ALERT)]
    assert [o.outcome for o in answers(after_data)] == [Outcome.UNKNOWN]  # a close_notify after data


@pytest.mark.parametrize(("after", "basis"), [
    ([], "no alert and no Finished from the server"),
    ([(RESP, SERVER_FINISHED)], "the server finished the handshake; no application data"),
    ([(RESP, SERVER_FINISHED), (ORIG, CLIENT_DATA)],
     "the server finished the handshake; application data from the client only"),
    ([(RESP, SERVER_FINISHED + SERVER_DATA)],
     "the server finished the handshake and sent application data, the client none"),
])
def test_unanswered_says_what_was_seen(after: Chunks, basis: str) -> None:
    assert summary(answers([*HANDSHAKE, *after])) == [("unknown", None, basis)]


def test_a_few_records_at_most_after_the_handshake() -> None:
    """A backup: the client streams, the server only acknowledges. After MAX_ANSWER_RECORDS
    records of the client the answer is unknown and the connection is no longer inspected."""
    ext = TlsExtractor()
    uploads = [(ORIG, CLIENT_DATA)] * (MAX_ANSWER_RECORDS + 5)
    assert answers([*HANDSHAKE, (RESP, SERVER_FINISHED), *uploads], close=False, ext=ext) == []
    assert ext.finished
    (unknown,) = ext.close(FLOW, 2.0)
    assert isinstance(unknown, AuthenticationOutcome) and unknown.outcome is Outcome.UNKNOWN
    assert unknown.basis == (f"the server finished the handshake; application data from the client only; "
                             f"no answer within {MAX_ANSWER_RECORDS} records")


def test_application_data_is_skipped_as_it_comes_not_buffered() -> None:
    """Awaiting the answer, a 16 KB record arriving in 1448-byte segments is read by its
    header: each segment is used up at once, and the server's answer is its first segment."""
    ext = TlsExtractor()
    answers([*HANDSHAKE, (RESP, SERVER_FINISHED)], close=False, ext=ext)
    upload = record(23, bytes(16_000))
    for i in range(0, len(upload), 1448):
        found, used = ext.parse(FLOW, ORIG, 1.0, upload[i : i + 1448])
        assert (found, used) == ([], len(upload[i : i + 1448]))
    download = record(23, bytes(16_000))
    (accepted,), used = ext.parse(FLOW, RESP, 1.0, download[:1448])
    assert isinstance(accepted, AuthenticationOutcome) and accepted.outcome is Outcome.SUCCESS
    assert used == 1448 and ext.finished


# --- truncation, garbage, fuzzing ---------------------------------------------------------


def test_every_truncation_of_the_alert_waits() -> None:
    for cut in range(len(ALERT_EXPIRED)):
        ext = TlsExtractor()
        answers(HANDSHAKE, close=False, ext=ext)
        assert ext.parse(FLOW, RESP, 1.0, ALERT_EXPIRED[:cut]) == ([], 0), cut


@pytest.mark.parametrize(("answer", "whole"), [
    ([(RESP, ALERT_EXPIRED)], ("failure", "certificate_expired")),
    ([(RESP, SERVER_FINISHED), (ORIG, CLIENT_DATA), (RESP, SERVER_DATA)], ("success", None)),
    ([(RESP, SERVER_FINISHED + SERVER_ENCRYPTED_ALERT)], ("failure", None)),
], ids=["alert", "both-ways", "encrypted-alert"])
def test_every_truncation_of_the_exchange_is_the_answer_or_unknown(answer: Chunks,
                                                                    whole: tuple[str, str | None]) -> None:
    """The capture ends at any byte: the answer is the whole exchange's or unknown, never
    another; the handshake itself cut short has its attempt unknown or none."""
    stream = [(d, bytes([b])) for d, data in [*HANDSHAKE, *answer] for b in data]
    for cut in range(len(stream) + 1):
        got = [(str(o.outcome), o.reason_code) for o in answers(stream[:cut])]
        assert got in ([], [("unknown", None)], [whole]), cut
    assert [(str(o.outcome), o.reason_code) for o in answers(stream)] == [whole]


@pytest.mark.parametrize(("ext", "data", "weird"), [
    (TlsExtractor, record(21, h("02")), "tls_bad_alert"),
    (DtlsExtractor, dtls_record(21, h("02")), "dtls_bad_alert"),
])
def test_an_alert_shorter_than_one_is_garbage(ext: type[TlsExtractor | DtlsExtractor], data: bytes,
                                               weird: str) -> None:
    extractor = ext()
    chunks = [(ORIG, CLIENT_HELLO), (RESP, SERVER_FLIGHT), (ORIG, CLIENT_FLIGHT)] if ext is TlsExtractor else DTLS_CERT
    converse(extractor, chunks, close=False)
    flow = FLOW if ext is TlsExtractor else UDP_FLOW
    with pytest.raises(ParseError, match=f"^{weird}$"):
        extractor.parse(flow, RESP, 1.0, data)


RECORDS = st.lists(st.tuples(st.sampled_from([ORIG, RESP]), st.sampled_from([20, 21, 22, 23]),
                             st.integers(0, 3)), max_size=14)


@FUZZ
@given(RECORDS)
def test_record_sequences_after_a_client_certificate(sequence: list[tuple[Direction, int, int]]) -> None:
    """Any sequence of records after the client's Finished: one answer, never raises anything
    but ParseError, and success only after the server's CCS, Finished and data and the
    client's data; failure only after a server alert."""
    chunks = [(d, record(ctype, bytes([2, 42, 0][:size]) if ctype == 21 else bytes(size + 40)))
              for d, ctype, size in sequence]
    try:
        (answer,) = answers([*HANDSHAKE, *chunks])
    except ParseError:
        return
    server = [ctype for d, ctype, _ in sequence if d == RESP]
    if answer.outcome is Outcome.SUCCESS:
        assert 20 in server and 22 in server[server.index(20):] and 23 in server
        assert any(d == ORIG and ctype == 23 for d, ctype, _ in sequence)
    if answer.outcome is Outcome.FAILURE:
        assert 21 in server


@FUZZ
@given(st.lists(st.tuples(st.sampled_from([ORIG, RESP]), st.binary(max_size=200)), max_size=6))
def test_fuzz_binary_after_a_client_certificate(chunks: Chunks) -> None:
    with contextlib.suppress(ParseError):
        answers([*HANDSHAKE, *chunks])


# --- DTLS ---------------------------------------------------------------------------------

DTLS_CERT: Chunks = [
    (ORIG, dtls_record(22, dtls_fragment(DTLS_CLIENT_HELLO, 0, 0, len(DTLS_CLIENT_HELLO) - 4))),
    (ORIG, dtls_record(22, dtls_fragment(certificate_msg(DEVICE_DER), 1, 0, len(certificate_msg(DEVICE_DER)) - 4),
                       seq=1)),
]
"""A DTLS 1.2 ClientHello, then the client's Certificate: attempt 1."""


def dtls_answers(chunks: Chunks) -> list[tuple[str, str | None, str | None]]:
    found = converse(DtlsExtractor(), [*DTLS_CERT, *chunks])
    return summary([o for o in found if isinstance(o, AuthenticationOutcome)])


def test_dtls_alert_in_epoch_0_is_a_named_refusal() -> None:
    assert dtls_answers([(RESP, dtls_record(21, h("02 30")))]) == [("failure", "unknown_ca", None)]


def test_dtls_epoch_1_both_ways_is_accepted_and_an_alert_there_unnamed() -> None:
    finished = [(RESP, dtls_record(20, h("01")) + dtls_record(22, bytes(40), epoch=1))]
    data = [(ORIG, dtls_record(23, bytes(60), epoch=1)), (RESP, dtls_record(23, bytes(90), epoch=1))]
    assert dtls_answers([*finished, *data]) == [("success", None, BOTH_WAYS)]
    encrypted_alert = [(RESP, dtls_record(21, bytes(26), epoch=1))]
    assert dtls_answers([*finished, *encrypted_alert]) == [("failure", None, ENCRYPTED_ALERT)]
    assert dtls_answers(finished) == [("unknown", None, "the server finished the handshake; no application data")]


def test_dtls_srtp_media_both_ways_is_accepted_and_bounded() -> None:
    """WebRTC: SRTP keyed by the handshake shares its 5-tuple (RFC 5764, RFC 7983). Media both
    ways after the server's Finished accepts the certificate; media alone never keeps the flow
    inspected past MAX_ANSWER_RECORDS datagrams."""
    rtp = h("80 60 0001 00000000 12345678") + bytes(160)  # RTP v2, payload type 96, SSRC
    finished = [(RESP, dtls_record(20, h("01")) + dtls_record(22, bytes(40), epoch=1))]
    assert dtls_answers([*finished, (ORIG, rtp), (RESP, rtp)]) == [("success", None, BOTH_WAYS)]
    ext = DtlsExtractor()
    converse(ext, [*DTLS_CERT, *[(ORIG, rtp)] * MAX_ANSWER_RECORDS], close=False)
    assert ext.finished


# --- TLS 1.3: judged from record sizes ----------------------------------------------------

LIKELY = CCS + app_data(1688, 96, 53)  # OpenSSL: Certificate, CertificateVerify, Finished
UNLIKELY = CCS + app_data(53)  # a Finished alone


def tls13(client_flight: bytes, after: Chunks) -> tuple[list[Observation], TlsExtractor]:
    ext = run_13((6, 2400, 264, 53), ())
    return converse(ext, [(ORIG, client_flight), *after]), ext


def test_tls13_a_large_server_record_after_a_certificate_is_likely_accepted() -> None:
    found, _ = tls13(LIKELY, [(ORIG, app_data(40)), (RESP, app_data(234, 1800))])
    handshake, accepted = found
    assert isinstance(handshake, TlsEncryptedHandshake) and handshake.mutual_auth == "likely"
    assert isinstance(accepted, AuthenticationOutcome)
    assert (accepted.attempt, accepted.outcome, accepted.confidence) == (1, Outcome.SUCCESS, 0.9)
    assert accepted.basis == ("a 234 B record from the server after the client's flight: larger than an alert "
                              "(19 B), the server went on")


def test_tls13_an_alert_sized_record_then_close_is_likely_refused() -> None:
    found, _ = tls13(LIKELY, [(RESP, app_data(19))])
    refused = found[-1]
    assert isinstance(refused, AuthenticationOutcome)
    assert (refused.outcome, refused.reason_code, refused.confidence) == (Outcome.FAILURE, None, 0.75)
    assert refused.basis == "a 19 B record from the server after the client's flight (an alert's size), then close"


@pytest.mark.parametrize(("after", "basis"), [
    ([], "no server record after the client's flight"),
    ([(RESP, app_data(19, 30))], "the server's records after the client's flight are under 64 B and the last is "
                                 "no alert's size"),
    ([(ORIG, app_data(*[40] * MAX_ANSWER_RECORDS))], f"no server record of 64 B or more within {MAX_ANSWER_RECORDS} "
                                                     "records"),
])
def test_tls13_otherwise_unknown(after: Chunks, basis: str) -> None:
    found, _ = tls13(LIKELY, after)
    answer = found[-1]
    assert isinstance(answer, AuthenticationOutcome) and answer.outcome is Outcome.UNKNOWN
    assert answer.basis == basis


def test_tls13_no_certificate_no_outcome() -> None:
    found, ext = tls13(UNLIKELY, [(RESP, app_data(19))])
    assert [type(o) for o in found] == [TlsEncryptedHandshake]
    assert ext.pending == []


def test_tls13_alert_size_follows_the_suite_tag() -> None:
    assert (Tls13Answer(0x1301).alert_size, Tls13Answer(0x1305).alert_size) == (19, 11)
    ccm8 = Tls13Answer(0x1305)
    assert ccm8.record(True, 23, True, 11, b"") is None
    assert ccm8.closing().outcome is Outcome.FAILURE


# --- sample captures: what the generator planted ------------------------------------------

ANSWERED = [p for p in sorted(SAMPLES.glob("*.expected.json"))
            if any("server_answer" in c for c in json.loads(p.read_text())["tls_connections"])]


def test_three_samples_plant_an_answer() -> None:
    assert len(ANSWERED) == 3


@pytest.mark.parametrize("expected", ANSWERED, ids=lambda p: p.name.split(".")[0])
def test_sample_answers_are_read(expected: Path) -> None:
    facts = json.loads(expected.read_text())
    (conn,) = facts["tls_connections"]
    observed = list(Sensor().read(str(SAMPLES / facts["capture"])))
    (cert,) = [o for o in observed if isinstance(o, TlsClientCertificate)]
    (answer,) = [o for o in observed if isinstance(o, AuthenticationOutcome)]
    assert (answer.flow.uid, answer.attempt) == (cert.flow.uid, cert.attempt)
    planted, frames = conn["server_answer"], conn["frames"]
    assert str(answer.outcome) == planted["outcome"]
    if planted["alert"]:
        assert answer.reason_code == planted["alert"]["name"] == alert_name(planted["alert"]["description"])
        assert answer.evidence.frames == (frames["server_alert"],)
    else:
        assert answer.basis == BOTH_WAYS
        assert answer.evidence.frames == (frames["server_finished"], frames["server_data"])


# --- real captures ------------------------------------------------------------------------

REAL_ANSWERS = {
    "lab/tls_mtls.pcap": ["success"] * 4,
    "suricata-verify/tls/tls-store-02/tls-client-auth.pcap": ["success"],
    "zeek/tls/client-certificate.pcap": ["success"],
    "zeek/globus-url-copy.pcap": ["unknown"],  # the server sends no application data (cleartext follows)
    "zeek/tls/webrtc-stun.pcap": ["unknown"],  # DTLS: the capture ends at the server's Finished
    "zeek/tls/certificate-request-failed.pcap": [],  # an empty client Certificate: no attempt
    "ndpi/tests/cfgs/default/pcap/tls_client_certificate_with_missing_server_one.pcapng": ["unknown"] * 2,
    "ndpi/tests/cfgs/default/pcap/anydesk.pcapng": ["success"] * 3 + ["unknown"],  # one client leaves first
}
"""Every real capture with a client certificate (MANIFEST.md), and the answers in it."""


def sensed(path: Path) -> list[AuthenticationOutcome]:
    return [o for o in Sensor().read(str(path)) if isinstance(o, AuthenticationOutcome)
            and o.protocol in (Proto.TLS, Proto.DTLS)]


@needs_real_pcaps
@pytest.mark.parametrize("name", sorted(REAL_ANSWERS))
def test_real_captures_answers(real_pcaps: Path, name: str) -> None:
    assert sorted(str(o.outcome) for o in sensed(real_pcaps / name)) == sorted(REAL_ANSWERS[name])


@needs_real_pcaps
def test_lab_answers_equal_the_truth(real_pcaps: Path) -> None:
    """OpenSSL s_server -Verify 1 accepted every client certificate of the lab (handshake_ok),
    the TLS 1.3 one too (not observable: its answer is inferred, with a confidence)."""
    truth = json.loads((real_pcaps / "lab" / "expected.json").read_text())["tls_mtls.pcap"]
    sessions = [c for c in truth["client_certs"] if c["chain_pos"] == 0]
    sessions += [c for c in truth["_meta"]["not_observable"] if c["what"].startswith("client certificate")]
    observed = list(Sensor().read(str(real_pcaps / "lab" / "tls_mtls.pcap")))
    answers_ = {o.flow.uid: o for o in observed if isinstance(o, AuthenticationOutcome)}
    assert sorted(str(o.outcome) for o in answers_.values()) == sorted(
        "success" if c["handshake_ok"] else "failure" for c in sessions)
    (inferred,) = [o for o in answers_.values() if o.confidence is not None]
    (tls13_flow,) = [o.flow.uid for o in observed if isinstance(o, TlsEncryptedHandshake)]
    assert inferred.flow.uid == tls13_flow and inferred.confidence >= 0.9


TSHARK_FIELDS = [
    "frame.number", "tcp.stream", "udp.stream", "ip.src", "ipv6.src", "tcp.srcport", "udp.srcport",
    "tls.handshake.type", "tls.handshake.certificate", "tls.record.content_type", "tls.record.opaque_type",
    "tls.record.length", "tls.alert_message.level", "tls.alert_message.desc",
    "dtls.handshake.type", "dtls.handshake.certificate", "dtls.record.content_type", "dtls.alert_message.level",
    "dtls.alert_message.desc",
]


@dataclass
class TsharkStream:
    """One connection as tshark's fields show it, after the client's certificate."""

    client: str | None = None
    attempt: bool = False
    answer: tuple[str, str | None] | None = None
    server_ccs: bool = False
    server_finished: bool = False
    server_data: bool = False
    client_data: bool = False
    encrypted_alert: bool = False
    flight13: bool = False
    """TLS 1.3: the client's encrypted flight was seen."""
    last13: int | None = None
    """TLS 1.3: the length of the server's last record after it."""

    def server_records(self, ctypes: list[str], alert_levels: list[str], alert_descs: list[str]) -> None:
        """TLS <= 1.2: tshark decodes an alert's description only in clear."""
        if alert_descs and alert_levels[0] == "2":
            self.answer = ("failure", alert_name(int(alert_descs[0])))
        for t in ctypes:
            self.server_ccs = self.server_ccs or t == "20"
            self.server_finished = self.server_finished or (t == "22" and self.server_ccs)
            self.server_data = self.server_data or (t == "23" and self.server_finished)
            self.encrypted_alert = self.encrypted_alert or (t == "21" and self.server_ccs and not self.server_data)

    def ended(self) -> tuple[str, str | None]:
        if self.answer is not None:
            return self.answer
        if self.encrypted_alert or (self.flight13 and self.last13 == 19):
            return ("failure", None)
        return ("unknown", None)


LARGE_FIRST_RECORD_13 = 200
"""TLS 1.3: a client's first encrypted record this large holds a Certificate (a Finished is
53 or 69 B; `tls13_inference` needs 150 B more)."""


def tshark_answers(path: Path, decode_as: tuple[str, ...] = ()) -> Counter[tuple[str, str | None]]:
    """The answers to the client certificates as tshark's fields show them, by the issue's rule:
    a fatal server alert in clear; or the server's CCS, a handshake record after it, then its
    application data and the client's; or an alert after its CCS, no server data, and the end;
    else unknown. TLS 1.3 (opaque records): after the client's encrypted flight, a server
    record of 64 B or more is accepted, an alert-sized last one refused."""
    cmd = ["tshark", "-n", "-r", str(path), *decode_as, "-o", "tls.desegment_ssl_records:TRUE", "-Y", "tls || dtls",
           "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|", "-E", "separator=\t"]
    for f in TSHARK_FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    streams: dict[str, TsharkStream] = {}
    for line in out.splitlines():
        row = dict(zip(TSHARK_FIELDS, [v.split("|") if v else [] for v in line.split("\t")], strict=False))
        key = "t" + "".join(row["tcp.stream"]) if row["tcp.stream"] else "u" + "".join(row["udp.stream"])
        src = f"{(row['ip.src'] or row['ipv6.src'])[-1]}:{''.join(row['tcp.srcport'] or row['udp.srcport'])}"
        s = streams.setdefault(key, TsharkStream())
        if s.client is None and "1" in row["tls.handshake.type"] + row["dtls.handshake.type"]:
            s.client = src
        from_client, opaque = src == s.client, row["tls.record.opaque_type"]
        if from_client and (row["tls.handshake.certificate"] or row["dtls.handshake.certificate"]):
            s.attempt = True
        elif from_client and opaque and not s.flight13:  # a first record this large holds a Certificate
            s.flight13, s.attempt = True, int(row["tls.record.length"][-len(opaque)]) >= LARGE_FIRST_RECORD_13
        elif not s.attempt or s.answer is not None:
            continue
        elif opaque:
            if not from_client:
                s.last13 = int(row["tls.record.length"][-len(opaque)])
                s.answer = ("success", None) if s.last13 >= 64 else None
        elif from_client:
            s.client_data = s.client_data or "23" in row["tls.record.content_type"] + row["dtls.record.content_type"]
        else:
            s.server_records(row["tls.record.content_type"] + row["dtls.record.content_type"],
                             row["tls.alert_message.level"] + row["dtls.alert_message.level"],
                             row["tls.alert_message.desc"] + row["dtls.alert_message.desc"])
        if s.answer is None and s.server_data and s.client_data:
            s.answer = ("success", None)
    return Counter(s.ended() for s in streams.values() if s.attempt)


@needs_real_pcaps
def test_same_answers_as_tshark(real_pcaps: Path) -> None:
    """Every real capture with a client certificate, the answered samples and the TLS 1.3
    sample (one flight with a certificate, one without): tshark's alert descriptions, record
    types and lengths give the same answers."""
    paths = {name: real_pcaps / name for name in REAL_ANSWERS}
    paths.update({p.name: SAMPLES / json.loads(p.read_text())["capture"] for p in ANSWERED})
    paths["tls13-mutual-and-not"] = SAMPLES / "tls13-mutual-and-not.pcap"
    for name, path in paths.items():
        ours = Counter((str(o.outcome), o.reason_code) for o in sensed(path))
        assert ours == tshark_answers(path, DECODE_AS.get(name, ())), name
