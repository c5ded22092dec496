"""The server's answer to a client certificate, read from the records that follow it.

TLS <= 1.2 and DTLS <= 1.2 (RFC 5246 7.2, 7.4.6-7.4.9; RFC 6347 4.1): the server checks the
client's Certificate and CertificateVerify before it sends its own ChangeCipherSpec and
Finished. So a refusal is an alert in clear before them, named as the RFC names it
(bad_certificate, certificate_expired, unknown_ca, access_denied...). Acceptance is read from
the record types, which stay in clear under the new keys: the server's Finished, then
application data both ways. An alert under the new keys (its type is in clear, its words are
not) that the end of the connection follows without application data from the server is a
refusal too, unnamed. Anything else is unknown, and says what was seen.

TLS 1.3 encrypts its alerts as well: `tls13_inference.Tls13Answer` judges from record sizes.

Only a few records of each side are read while the answer is awaited (`MAX_ANSWER_RECORDS`):
it comes at once, and bulk application data is never inspected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ..records import Outcome
from ..wire import Reader
from .tls_names import (
    ALERT_FATAL,
    ALERT_LEVELS,
    CT_ALERT,
    CT_APPLICATION_DATA,
    CT_CHANGE_CIPHER_SPEC,
    CT_HANDSHAKE,
    alert_name,
)

MAX_ANSWER_RECORDS = 6
"""Encrypted records of one side read while the answer is awaited: a Finished and the first
requests and responses; past them the answer is unknown and inspection ends."""
BOTH_WAYS = "application data both ways after the handshake"
ENCRYPTED_ALERT = "encrypted alert, then close"


@dataclass(frozen=True, slots=True)
class Verdict:
    """An answer as the records show it: what `Extractor.answer` records."""

    outcome: Outcome
    """Accepted, refused or not seen (`Outcome`)."""
    code: str | None = None
    """The alert's name (ECS error.code), when the alert was in clear."""
    reason: str | None = None
    """The alert as the server sent it: level, name and number."""
    basis: str | None = None
    """How the outcome was read when no alert in clear says it."""
    confidence: float | None = None
    """0..1 when inferred from record sizes (TLS 1.3); None: read from the wire."""


def read_alert(body: bytes, weird: str) -> tuple[bool, Verdict]:
    """Whether an alert in clear is fatal, and the refusal it says (RFC 5246 7.2: level,
    description; a record may hold several, the first one tells). `weird` names a body
    shorter than one alert."""
    r = Reader(body, weird)
    level, description = r.uint(1), r.uint(1)
    name = alert_name(description)
    words = f"{ALERT_LEVELS.get(level, f'level {level}')} alert {name}"
    return level == ALERT_FATAL, Verdict(Outcome.FAILURE, name, words if name.isdigit() else f"{words} ({description})")


class AnswerReader(Protocol):
    """Reads the records that follow a client's authentication until they say its answer."""

    def record(self, from_server: bool, ctype: int, encrypted: bool, length: int, body: bytes) -> Verdict | None:
        """One record of either side: the answer once it is known, else None. `encrypted`: the
        sender's ChangeCipherSpec (DTLS: a new epoch) came before it; `body` may be cut short
        for an application_data record (only its header is read)."""

    def closing(self) -> Verdict:
        """The connection ended before a record said the answer: what the records seen say."""


@dataclass(slots=True)
class Tls12Answer:
    """TLS <= 1.2, DTLS <= 1.2: what each side sent after the client's Certificate, by type."""

    weird: str
    """The weird of an alert too short to read ("tls_bad_alert", "dtls_bad_alert")."""
    server_finished: bool = False
    """A handshake record (its Finished) came after the server's ChangeCipherSpec."""
    server_data: bool = False
    """Application data from the server after its Finished."""
    client_data: bool = False
    """Application data from the client (after its Finished: TLS allows none before)."""
    encrypted_alert: bool = False
    """The server sent an alert under the new keys before any application data."""
    warning: Verdict | None = None
    """A warning-level alert in clear: a refusal unless the server goes on."""
    records: list[int] = field(default_factory=lambda: [0, 0])
    """Encrypted records read per side: [client, server]."""

    def record(self, from_server: bool, ctype: int, encrypted: bool, length: int, body: bytes) -> Verdict | None:
        """See `AnswerReader.record`."""
        if encrypted:
            self.records[from_server] += 1
        if not from_server:
            self.client_data = self.client_data or ctype == CT_APPLICATION_DATA
        elif ctype == CT_ALERT and not encrypted:
            fatal, verdict = read_alert(body, self.weird)
            if fatal:
                return verdict
            self.warning = verdict
        elif ctype == CT_ALERT:
            self.encrypted_alert = self.encrypted_alert or not self.server_data
        elif ctype == CT_CHANGE_CIPHER_SPEC:
            self.warning = None  # the server goes on with the handshake
        elif ctype == CT_HANDSHAKE and encrypted:
            self.server_finished = True
        elif ctype == CT_APPLICATION_DATA and self.server_finished:
            self.server_data = True
        if self.server_data and self.client_data:
            return Verdict(Outcome.SUCCESS, basis=BOTH_WAYS)
        if max(self.records) >= MAX_ANSWER_RECORDS:
            return self._unknown(f"; no answer within {MAX_ANSWER_RECORDS} records")
        return None

    def closing(self) -> Verdict:
        """See `AnswerReader.closing`."""
        if self.encrypted_alert and not self.server_data:
            return Verdict(Outcome.FAILURE, basis=ENCRYPTED_ALERT)
        if self.warning is not None:
            return Verdict(Outcome.FAILURE, self.warning.code, self.warning.reason,
                           basis="warning alert, then close")
        return self._unknown("")

    def _unknown(self, suffix: str) -> Verdict:
        if not self.server_finished:
            seen = "no alert and no Finished from the server"
        elif self.server_data:
            seen = "the server finished the handshake and sent application data, the client none"
        elif self.client_data:
            seen = "the server finished the handshake; application data from the client only"
        else:
            seen = "the server finished the handshake; no application data"
        return Verdict(Outcome.UNKNOWN, basis=seen + suffix)
