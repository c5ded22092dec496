"""Realistic records for the analytics tests: endpoints, flows, real X.509 certificates
(made with `cryptography`, decoded by the sensor's own decoder), keyed secret fingerprints, and
the other side's answers to authentication attempts."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from trustwatch.sensor.flowid import Direction, Endpoint, FlowId
from trustwatch.sensor.protocols.tls_certificates import decode_certificate
from trustwatch.sensor.records import (
    AuthenticationOutcome,
    CredentialSeen,
    Evidence,
    Observation,
    Outcome,
    Proto,
    SecretKind,
    TlsClientCertificate,
    TlsServerCertificate,
    TokenClaims,
    X509Cert,
)
from trustwatch.sensor.secrets import SecretHasher

T0 = datetime(2024, 3, 4, 8, 0, tzinfo=UTC).timestamp()
"""Monday 4 March 2024, 08:00 UTC: the scenario's first packet."""
_uids = itertools.count(1)
_frames = itertools.count(1)


def proto(name: str) -> Proto:
    """A protocol value by name."""
    return Proto(name)


def ep(ip: str, mac: str | None = None, port: int = 0) -> Endpoint:
    """An endpoint; MACs in the sensor's ECS notation."""
    return Endpoint(ip, port, mac)


def flow(orig: Endpoint, resp: Endpoint, vlan: tuple[int, ...] = (20,)) -> FlowId:
    """A TCP connection with a fresh uid."""
    return FlowId(uid=f"C{next(_uids):06d}", transport="tcp", orig=orig, resp=resp, vlan=vlan)


def evidence() -> Evidence:
    """A fresh frame in the scenario capture."""
    return Evidence("ward3.pcapng", (next(_frames),))


@cache
def cert(cn: str, not_before: str = "2023-01-01", not_after: str = "2026-01-01",
         key: str = "ec256", sig: str = "sha256") -> X509Cert:
    """A self-made certificate for `cn`, decoded as the sensor decodes certificates."""
    private: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    if key.startswith("rsa"):
        private = rsa.generate_private_key(public_exponent=65537, key_size=int(key[3:]))
    else:
        private = ec.generate_private_key(ec.SECP256R1() if key == "ec256" else ec.SECP192R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "St. Example Hospital"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "St. Example Device CA")])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer)
               .public_key(private.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(datetime.fromisoformat(not_before).replace(tzinfo=UTC))
               .not_valid_after(datetime.fromisoformat(not_after).replace(tzinfo=UTC)))
    der = builder.sign(private, hashes.SHA256()).public_bytes(Encoding.DER)
    decoded, _weirds = decode_certificate(der)
    if sig == "sha1":
        # The OpenSSL under cryptography refuses to sign with SHA-1 any more; the devices that
        # still do exist, so the decoded fields are set as the sensor reports such a certificate.
        name = "sha1WithRSAEncryption" if key.startswith("rsa") else "ecdsa-with-SHA1"
        decoded = replace(decoded, signature_hash="sha1", signature_algorithm=name)
    return decoded


def client_cert(ts: float, client: Endpoint, server: Endpoint, leaf: X509Cert) -> TlsClientCertificate:
    """A client Certificate message (TLS 1.2) with a one-certificate chain."""
    return TlsClientCertificate(ts=ts, flow=flow(client, server), protocol=Proto.TLS,
                                evidence=evidence(), chain=(leaf,))


def server_cert(ts: float, client: Endpoint, server: Endpoint, leaf: X509Cert) -> TlsServerCertificate:
    """A server Certificate message."""
    return TlsServerCertificate(ts=ts, flow=flow(client, server), protocol=Proto.TLS,
                                evidence=evidence(), chain=(leaf,))


HASHER = SecretHasher(b"test-site-key-of-16+-bytes")


def fingerprint(secret: str, kind: SecretKind = SecretKind.PASSWORD) -> str:
    """The keyed fingerprint the sensor makes of a secret."""
    return HASHER.fingerprint(kind, secret).value


def credential(ts: float, client: Endpoint, server: Endpoint, user: str | None, secret: str | None,
               kind: SecretKind = SecretKind.PASSWORD, protocol: str = "ftp",
               presenter: Direction = Direction.ORIG, mechanism: str = "USER/PASS",
               token: TokenClaims | None = None) -> CredentialSeen:
    """A credential seen in clear (`token`: the claims of a JWT secret)."""
    return CredentialSeen(
        ts=ts, flow=flow(client, server), protocol=proto(protocol), evidence=evidence(),
        presenter=presenter, username=user, secret_kind=kind,
        secret_fp=fingerprint(secret, kind) if secret is not None else None,
        secret_hint=HASHER.fingerprint(kind, secret).hint if secret is not None else None,
        mechanism=mechanism, token=token)


def answered(obs: CredentialSeen | TlsClientCertificate, outcome: Outcome, code: str | None = None,
             reason: str | None = None, basis: str | None = None, after: float = 0.2) -> list[Observation]:
    """`obs` as attempt 1 of its connection, and the other side's answer `after` seconds later."""
    attempt = replace(obs, attempt=1)
    return [attempt, AuthenticationOutcome(ts=obs.ts + after, flow=obs.flow, protocol=obs.protocol,
                                           evidence=evidence(), attempt=1, outcome=outcome, reason_code=code,
                                           reason=reason, basis=basis)]


def login(ts: float, client: Endpoint, server: Endpoint, user: str | None, secret: str | None, ok: bool | None,
          kind: SecretKind = SecretKind.PASSWORD, protocol: str = "ftp") -> list[Observation]:
    """A login and its answer: accepted (230), refused (530), or None: no answer seen (unknown)."""
    cred = credential(ts, client, server, user, secret, kind, protocol)
    if ok is None:
        return answered(cred, Outcome.UNKNOWN, basis="no answer captured")
    return answered(cred, Outcome.SUCCESS, "230", "Login successful.") if ok else answered(
        cred, Outcome.FAILURE, "530", "Login incorrect.")


def tls_answered(ts: float, client: Endpoint, server: Endpoint, leaf: X509Cert, ok: bool,
                 alert: str = "certificate_expired") -> list[Observation]:
    """A client certificate and the server's answer: application data both ways, or its `alert`."""
    obs = client_cert(ts, client, server, leaf)
    if ok:
        return answered(obs, Outcome.SUCCESS, basis="application data both ways after the client's Finished")
    return answered(obs, Outcome.FAILURE, alert, alert.replace("_", " "), after=0.01)
