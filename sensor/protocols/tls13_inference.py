"""TLS 1.3 mutual authentication and its answer, inferred from the sizes of encrypted records.

TLS 1.3 encrypts the Certificate messages (RFC 8446 4.4.2): whether the client proved itself
with a certificate cannot be read, only judged from its first encrypted flight. The verdict
comes with a confidence and the reasons, so an analyst sees what it rests on. Its alerts are
encrypted too (RFC 8446 6): whether the server accepted that certificate is judged from the
sizes of the records after the client's flight (`Tls13Answer`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..records import Outcome
from .tls_answer import MAX_ANSWER_RECORDS, Verdict

MAX_FLIGHT_RECORDS = 64
"""TLS 1.3: encrypted record sizes kept per flight for the mutual-auth inference."""

# TLS 1.3 Finished record on the wire: 4-byte header + verify_data (hash length) + 1 inner
# content type + AEAD tag (RFC 8446 4.4.4, 5.2). SHA-256 suites: 4 + 32 + 1 + 16 = 53 bytes.
TLS13_HASH_LEN = {0x1302: 48}
"""Hash length of TLS 1.3 suites other than SHA-256 ones (TLS_AES_256_GCM_SHA384)."""
TLS13_TAG_LEN = {0x1305: 8}
"""AEAD tag length of TLS 1.3 suites other than 16-byte-tag ones (CCM_8)."""
EMPTY_CERTIFICATE_13 = 8
"""An empty TLS 1.3 Certificate message: 4-byte header, context length 0, list length 0."""
EMPTY_CERTIFICATE_RECORD = EMPTY_CERTIFICATE_13 + 1 + 16
"""That empty Certificate alone in a record (OpenSSL sends one message per record): 25 B."""
MIN_CERTIFICATE_BYTES = 150
"""Bytes a client Certificate (+ CertificateVerify) adds at least: DER of a tiny EC
certificate plus headers; real ones add 500-3000."""


def infer_mutual_auth(
    cipher: int, server_flight: Sequence[int], client_flight: Sequence[int]
) -> tuple[str, float, tuple[str, ...]]:
    """Guess whether a TLS 1.3 client sent a certificate, from encrypted record sizes.

    `server_flight` / `client_flight` are the lengths of the application_data records each
    side sent after the ServerHello (the client's only once the server's flight was seen;
    change_cipher_spec compatibility records excluded). The client's first record is the
    key: a Finished alone is exactly 4 + hash + 1 + tag bytes (53 for SHA-256 suites, 69 for
    SHA-384); Certificate + CertificateVerify make it hundreds of bytes larger, whether
    packed in one record (BoringSSL, Go, rustls) or sent as separate records (OpenSSL),
    where the certificate record comes first. Returns (verdict, confidence, reasons).
    """
    finished = 4 + TLS13_HASH_LEN.get(cipher, 32) + 1 + TLS13_TAG_LEN.get(cipher, 16)
    reasons = [f"server flight {sum(server_flight)} B in {len(server_flight)} records"]
    if not client_flight:
        reasons.append("no encrypted client flight seen")
        return "unknown", 0.0, tuple(reasons)
    first = client_flight[0]
    reasons.append(f"client flight starts with a {first} B record "
                   f"({len(client_flight)} records, {sum(client_flight)} B seen with it); "
                   f"Finished alone is {finished} B")
    if first == finished:
        reasons.append("first client record is a Finished alone: no client certificate")
        return "unlikely", 0.9, tuple(reasons)
    if first in (EMPTY_CERTIFICATE_RECORD, finished + EMPTY_CERTIFICATE_13):
        reasons.append("an empty Certificate: a certificate was requested and not sent")
        return "unlikely", 0.85, tuple(reasons)
    if first >= finished + MIN_CERTIFICATE_BYTES:
        reasons.append("first client record is large enough for a Certificate")
        return "likely", 0.8, tuple(reasons)
    if first > finished:
        # e.g. Chrome's client EncryptedExtensions (ALPS) packed with its Finished: 63 B.
        reasons.append("extra bytes before Finished too few for a certificate")
        return "unlikely", 0.6, tuple(reasons)
    reasons.append("record sizes fit neither shape (padding or an unusual stack)")
    return "unknown", 0.3, tuple(reasons)


ALERT_PLAINTEXT = 3
"""An alert inside a TLS 1.3 record: level, description and the inner content type."""
MIN_GOING_ON_RECORD = 64
"""A server record after the client's flight at least this large is no alert (19 B with a
16-byte tag; alerts are rarely padded): a NewSessionTicket (OpenSSL's: ~250 B) or data."""
ACCEPTED_CONFIDENCE = 0.9
"""A server that goes on after the client's flight has accepted it (or ignores certificates)."""
REFUSED_CONFIDENCE = 0.75
"""An alert-sized last record could also be a close_notify of a server that had nothing to say."""


@dataclass(slots=True)
class Tls13Answer:
    """TLS 1.3: the answer to a client flight shaped like a certificate, from the sizes of the
    records after it. A server that accepts goes on with session tickets or data (RFC 8446
    4.6.1); one that refuses sends an alert and closes (RFC 8446 6.2)."""

    cipher: int
    last_short: int | None = None
    """The size of the server's last record when it was an alert's."""
    records: list[int] = field(default_factory=lambda: [0, 0])
    """Records read per side: [client, server]."""

    @property
    def alert_size(self) -> int:
        """An encrypted alert's record with this suite: 19 B (11 B with CCM_8)."""
        return ALERT_PLAINTEXT + TLS13_TAG_LEN.get(self.cipher, 16)

    def record(self, from_server: bool, ctype: int, encrypted: bool, length: int, body: bytes) -> Verdict | None:
        """See `tls_answer.AnswerReader.record`."""
        self.records[from_server] += 1
        if from_server:
            self.last_short = length if length <= self.alert_size else None
            if length >= MIN_GOING_ON_RECORD:
                return Verdict(Outcome.SUCCESS, basis=(
                    f"a {length} B record from the server after the client's flight: larger than an "
                    f"alert ({self.alert_size} B), the server went on"), confidence=ACCEPTED_CONFIDENCE)
        if max(self.records) >= MAX_ANSWER_RECORDS:
            return Verdict(Outcome.UNKNOWN, basis=(
                f"no server record of {MIN_GOING_ON_RECORD} B or more within {MAX_ANSWER_RECORDS} records"))
        return None

    def closing(self) -> Verdict:
        """See `tls_answer.AnswerReader.closing`."""
        if self.last_short is not None:
            return Verdict(Outcome.FAILURE, basis=(
                f"a {self.last_short} B record from the server after the client's flight (an alert's "
                "size), then close"), confidence=REFUSED_CONFIDENCE)
        if not self.records[1]:
            return Verdict(Outcome.UNKNOWN, basis="no server record after the client's flight")
        return Verdict(Outcome.UNKNOWN, basis=(
            f"the server's records after the client's flight are under {MIN_GOING_ON_RECORD} B and "
            "the last is no alert's size"))
