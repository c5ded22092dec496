"""The TLS handshake as both TLS and DTLS carry it: who is the client, which version and
suite the server chose, and what each handshake message in clear says about identity.

`HandshakeExtractor` turns whole handshake messages into observations (ClientHello,
ServerHello, Certificate, CertificateRequest) and, for TLS 1.3, notes the sizes of the
encrypted flights until the mutual-auth inference (`tls13_inference`) can be made. A client
certificate (or a TLS 1.3 flight shaped like one) is an authentication attempt: the records
that follow are read until they show the server's answer (`tls_answer`). The record layers
that feed it are its subclasses (`sensor.protocols.tls`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from ..flowid import Direction, FlowId
from ..records import (
    Observation,
    Proto,
    TlsCertificateRequest,
    TlsClientCertificate,
    TlsClientHello,
    TlsEncryptedHandshake,
    TlsServerCertificate,
    TlsServerHello,
)
from ..secrets import EPHEMERAL, SecretHasher
from .base import Extractor
from .tls13_inference import MAX_FLIGHT_RECORDS, Tls13Answer, infer_mutual_auth
from .tls_answer import AnswerReader, Tls12Answer, Verdict
from .tls_certificates import decode_certificate, parse_certificate_list, parse_certificate_request
from .tls_hello import Hello, fingerprints, ja3s_string, md5_hex, parse_client_hello, parse_server_hello
from .tls_names import (
    DTLS13,
    HS_CERTIFICATE,
    HS_CERTIFICATE_REQUEST,
    HS_CLIENT_HELLO,
    HS_SERVER_HELLO,
    TLS13,
    TLS13_DRAFTS,
    cipher_name,
    name_text,
    version_name,
)

HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
"""ServerHello.random of a HelloRetryRequest (RFC 8446 4.1.3): not the final ServerHello."""


@dataclass(slots=True)
class _Side:
    """What one direction has shown of the handshake so far."""

    encrypted: bool = False
    """After its ChangeCipherSpec (<= 1.2) or epoch > 0 (DTLS): handshake is opaque."""
    offered13: bool = False
    """This side sent a ClientHello offering TLS 1.3."""
    compat_ccs: bool = False
    """A CCS came before any ServerHello from a 1.3-offering client: compat or 1.2 Finished?"""
    flight: list[int] = field(default_factory=list)
    """TLS 1.3: lengths of the encrypted records of this side's first flight."""


class HandshakeExtractor(Extractor):
    """Handshake-message logic common to TLS and DTLS; subclasses read the record layer."""

    protocol: ClassVar[Proto]
    dtls: ClassVar[bool]

    def __init__(self, secrets: SecretHasher = EPHEMERAL) -> None:
        super().__init__(secrets)
        self._sides = (_Side(), _Side())
        self._client: Direction | None = None
        self._version: int | None = None
        """Version the final ServerHello chose."""
        self._cipher = 0
        self._hrr = False
        self._inferred = False
        self._answer: AnswerReader | None = None
        """Reads the records after the client's certificate until they show the answer."""
        self._verdict: Verdict | None = None
        """An answer completed by a client's record, given by `close` (see `_answer_record`)."""

    @property
    def _tls13(self) -> bool:
        return self._version in (TLS13, DTLS13) or (
            self._version is not None and self._version in TLS13_DRAFTS)

    @property
    def _watching(self) -> bool:
        """A client certificate awaits its answer: the record layers show each record."""
        return self._answer is not None and self._verdict is None and bool(self.pending)

    @property
    def finished(self) -> bool:
        """<= 1.2: both sides encrypted; 1.3: the mutual-auth inference is made; and a client
        certificate's answer read."""
        if self._answer is not None:
            return not self._watching
        if self._tls13:
            return self._inferred
        return all(side.encrypted for side in self._sides)

    def _is_client(self, direction: Direction) -> bool:
        return direction == (self._client if self._client is not None else Direction.ORIG)

    def _change_cipher_spec(self, direction: Direction) -> None:
        # TLS 1.3 sends a dummy change_cipher_spec for middleboxes (RFC 8446 D.4): meaningless.
        side = self._sides[direction]
        if self._tls13 or self._hrr:
            return
        if self._version is None and side.offered13:
            # Before any ServerHello (one-sided capture, or the HRR was not captured): a
            # client offering 1.3 sends it before a second ClientHello or 0-RTT data.
            side.compat_ccs = True
            return
        side.encrypted = True

    def _handshake(
        self, flow: FlowId, direction: Direction, ts: float, msg_type: int, body: bytes
    ) -> list[Observation]:
        """One complete plaintext handshake message."""
        if msg_type == HS_CLIENT_HELLO:
            if self._client is None:
                self._client = direction
            hello = parse_client_hello(body, self.dtls)
            self._sides[direction].offered13 = TLS13 in hello.supported_versions
            return [self._client_hello(flow, ts, hello)]
        if msg_type == HS_SERVER_HELLO:
            return self._server_hello(flow, direction, ts, parse_server_hello(body, self.dtls))
        if msg_type == HS_CERTIFICATE and not self._tls13:
            return self._certificate(flow, direction, ts, body)
        if msg_type == HS_CERTIFICATE_REQUEST and not self._tls13:
            names = parse_certificate_request(body, self._version, self.dtls)
            return [TlsCertificateRequest(ts=ts, flow=flow, protocol=self.protocol,
                                          ca_names=names)]
        return []  # other messages carry no identity; unknown types keep going

    def _client_hello(self, flow: FlowId, ts: float, hello: Hello) -> Observation:
        prints = fingerprints(hello, self.dtls)
        return TlsClientHello(
            ts=ts, flow=flow, protocol=self.protocol, server_name=hello.sni,
            alpn=tuple(name_text(a) for a in hello.alpn), versions=prints.versions,
            ja3=prints.ja3, ja3_hash=prints.ja3_hash, ja4=prints.ja4)

    def _server_hello(
        self, flow: FlowId, direction: Direction, ts: float, hello: Hello
    ) -> list[Observation]:
        if self._client is None:
            self._client = direction.other
        if hello.random == HRR_RANDOM:
            # A HelloRetryRequest: a second ClientHello follows in clear; early-data CCS
            # marks mean nothing now.
            self._hrr = True
            for side in self._sides:
                side.encrypted = False
            return []
        chosen = hello.supported_versions[0] if hello.supported_versions else hello.version
        self._version, self._cipher = chosen, hello.ciphers[0]
        if self._tls13:
            for side in self._sides:
                side.encrypted = True
                side.flight.clear()
        text = ja3s_string(hello)
        return [TlsServerHello(
            ts=ts, flow=flow, protocol=self.protocol, version=version_name(chosen),
            cipher=cipher_name(hello.ciphers[0]),
            alpn=name_text(hello.alpn[0]) if hello.alpn else None, ja3s=text, ja3s_hash=md5_hex(text))]

    def _certificate(
        self, flow: FlowId, direction: Direction, ts: float, body: bytes
    ) -> list[Observation]:
        ders = parse_certificate_list(body, self.dtls)
        if not ders:
            return []  # an empty client Certificate: the client declined
        chain = []
        for der in ders:
            cert, weirds = decode_certificate(der)
            chain.append(cert)
            self.weirds.extend(weirds)
        if not self._is_client(direction):
            return [TlsServerCertificate(ts=ts, flow=flow, protocol=self.protocol, chain=tuple(chain))]
        if self._answer is None:
            self._answer = Tls12Answer("dtls_bad_alert" if self.dtls else "tls_bad_alert")
        return [TlsClientCertificate(ts=ts, flow=flow, protocol=self.protocol, chain=tuple(chain),
                                     attempt=self.attempt(self.protocol))]

    def _answer_record(
        self, flow: FlowId, direction: Direction, ts: float, ctype: int, encrypted: bool, length: int,
        body: bytes,
    ) -> list[Observation]:
        """A record of either side while a client certificate awaits its answer (`_watching`).

        An answer the server's record completes is given at once: its evidence is that record's
        frames (with the server's others since its last observation). One a client's record
        completes (its application data after the server's) is held for `close`, which the
        dispatcher calls at once (`finished`) and evidences with both sides' frames, so the
        server's answer is in the evidence either way."""
        assert self._answer is not None
        from_server = not self._is_client(direction)
        verdict = self._answer.record(from_server, ctype, encrypted, length, body)
        if verdict is None:
            return []
        if from_server:
            return self._give(flow, ts, verdict)
        self._verdict = verdict
        return []

    def _give(self, flow: FlowId, ts: float, verdict: Verdict) -> list[Observation]:
        return self.answer(flow, ts, verdict.outcome, verdict.code, verdict.reason, basis=verdict.basis,
                           confidence=verdict.confidence)

    def _encrypted_record(self, direction: Direction, length: int) -> None:
        """TLS 1.3: note the size of an encrypted record for the inference."""
        if not self._tls13 or self._inferred:
            return
        server = self._sides[direction.other if self._is_client(direction) else direction]
        if self._is_client(direction):
            flight = self._sides[direction].flight
            if server.flight and len(flight) < MAX_FLIGHT_RECORDS:  # before: 0-RTT early data
                flight.append(length)
        elif len(server.flight) < MAX_FLIGHT_RECORDS:
            server.flight.append(length)

    def _conclude(self, flow: FlowId, ts: float, at_close: bool) -> list[Observation]:
        """TLS 1.3: emit the mutual-auth inference once the client's flight is in."""
        if not self._tls13 or self._inferred:
            return []
        client_dir = self._client if self._client is not None else Direction.ORIG
        client, server = self._sides[client_dir], self._sides[client_dir.other]
        if not client.flight and not at_close:
            return []
        self._inferred = True
        verdict, confidence, reasons = infer_mutual_auth(self._cipher, server.flight,
                                                         client.flight)
        if self.dtls:
            verdict, confidence = "unknown", 0.0
            reasons = ("DTLS 1.3: not inferred", *reasons)
        elif verdict == "likely":  # a certificate, most probably: its answer is awaited
            self._answer = Tls13Answer(self._cipher)
            self.attempt(self.protocol)
        return [TlsEncryptedHandshake(
            ts=ts, flow=flow, protocol=self.protocol, version=version_name(self._version or 0),
            mutual_auth=verdict, confidence=confidence, reasons=reasons)]

    def close(self, flow: FlowId, ts: float) -> Sequence[Observation]:
        """The connection ended: a TLS 1.3 handshake still owes its inference, a client
        certificate its answer (held, or what the records seen say)."""
        found = self._conclude(flow, ts, at_close=True)
        if self._answer is not None and self.pending:
            found += self._give(flow, ts, self._verdict or self._answer.closing())
        return found

