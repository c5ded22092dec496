"""Identity extraction: which endpoint presented which identity, per observation type.

Every observation type the analytics understand maps to zero or more `Presentation`s through
`PRESENTERS`, a registry of one small function per type. A new observation type (DICOM
association, remote-access session...) plugs in with one function and one `register` call;
the detections only ever see presentations. Observation types without a function present
nothing (ClientHello, ServerHello...).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from ..sensor.flowid import Direction, Endpoint
from ..sensor.records import (
    CredentialSeen,
    DicomAssociation,
    Observation,
    RemoteAccessSession,
    RemoteAccessSessionStart,
    SecretKind,
    TlsClientCertificate,
    TlsServerCertificate,
    X509Cert,
)


class IdentityKind(StrEnum):
    """What kind of identity was presented."""

    CLIENT_CERT = "client-certificate"
    SERVER_CERT = "server-certificate"
    SECRET = "secret"
    """A password, token, community, passcode... known only by its keyed fingerprint."""
    USERNAME = "username"
    AE_TITLE = "ae-title"
    """DICOM application entity title."""
    REMOTE_ACCESS = "remote-access"
    """A remote-access tool or vendor reaching the device (value: vendor or product, casefolded)."""


CERT_KINDS = frozenset({IdentityKind.CLIENT_CERT, IdentityKind.SERVER_CERT})


@dataclass(frozen=True, slots=True)
class Identity:
    """One identity, as detections compare them."""

    kind: IdentityKind
    value: str
    """The comparable key: SHA-256 hex, keyed secret fingerprint, casefolded user name, AE title."""
    label: str = ""
    """What a human reads: certificate subject, user name as written."""
    detail: str = ""
    """Secret kind for secrets ("password", "community"...), else empty."""

    @property
    def key(self) -> str:
        """`kind:value`, the identity part of a finding's subject."""
        return f"{self.kind}:{self.value}"

    def describe(self) -> str:
        """A short phrase for messages, e.g. `client certificate CN=pump-17 (sha256 3fa1c2d4…)`."""
        short = self.value[:8] + "…" if len(self.value) > 12 else self.value
        if self.kind in CERT_KINDS:
            noun = "client certificate" if self.kind is IdentityKind.CLIENT_CERT else "server certificate"
            return f"{noun} {self.label or '(no subject)'} (sha256 {short})"
        if self.kind is IdentityKind.SECRET:
            user = f" of user {self.label!r}" if self.label else ""
            return f"{self.detail or 'secret'}{user} (fingerprint {short})"
        if self.kind is IdentityKind.USERNAME:
            return f"user name {self.label or self.value!r}"
        if self.kind is IdentityKind.REMOTE_ACCESS:
            return f"remote access by {self.label}"
        return f"AE title {self.value!r}"


@dataclass(frozen=True, slots=True)
class Presentation:
    """One side of one observation presenting one identity."""

    obs: Observation
    side: Direction
    """ORIG: the flow's client presented it; RESP: its server."""
    identity: Identity
    cert: X509Cert | None = None
    """The certificate itself, for the hygiene rules."""

    @property
    def endpoint(self) -> Endpoint:
        """The presenting endpoint."""
        return self.obs.flow.orig if self.side is Direction.ORIG else self.obs.flow.resp


ObsT = TypeVar("ObsT", bound=Observation)
Presenter = Callable[[Observation], Iterator[Presentation]]
PRESENTERS: dict[type[Observation], Presenter] = {}
"""Observation type -> its presentation function (exact type; subclasses register their own)."""


def register(kind: type[ObsT]) -> Callable[[Callable[[ObsT], Iterator[Presentation]]],
                                          Callable[[ObsT], Iterator[Presentation]]]:
    """Decorator: `fn` gives the presentations of observations of exactly type `kind`."""

    def deco(fn: Callable[[ObsT], Iterator[Presentation]]) -> Callable[[ObsT], Iterator[Presentation]]:
        PRESENTERS[kind] = fn  # type: ignore[assignment]  # looked up by exact type below
        return fn

    return deco


def presentations(obs: Observation) -> Iterator[Presentation]:
    """Every identity `obs` shows, by the function registered for its type."""
    fn = PRESENTERS.get(type(obs))
    if fn is not None:
        yield from fn(obs)


def _cert_identity(kind: IdentityKind, cert: X509Cert) -> Identity:
    return Identity(kind, cert.sha256.lower(), cert.subject or (cert.subject_cn or ""))


@register(TlsClientCertificate)
def _client_cert(obs: TlsClientCertificate) -> Iterator[Presentation]:
    if obs.chain:
        yield Presentation(obs, Direction.ORIG, _cert_identity(IdentityKind.CLIENT_CERT, obs.leaf), obs.leaf)


@register(TlsServerCertificate)
def _server_cert(obs: TlsServerCertificate) -> Iterator[Presentation]:
    if obs.chain:
        yield Presentation(obs, Direction.RESP, _cert_identity(IdentityKind.SERVER_CERT, obs.leaf), obs.leaf)


@register(CredentialSeen)
def _credential(obs: CredentialSeen) -> Iterator[Presentation]:
    """A user name and/or a secret; one name with different secrets gives different secrets."""
    if obs.username:
        yield Presentation(obs, obs.presenter,
                           Identity(IdentityKind.USERNAME, obs.username.casefold(), obs.username))
    if obs.secret_fp and obs.secret_kind != SecretKind.NONE:
        yield Presentation(obs, obs.presenter, Identity(
            IdentityKind.SECRET, obs.secret_fp, obs.username or "", str(obs.secret_kind)))


@register(DicomAssociation)
def _dicom(obs: DicomAssociation) -> Iterator[Presentation]:
    """The requester presents its calling AE title; the acceptor its called one."""
    if obs.pdu == "request" and obs.calling_ae:
        yield Presentation(obs, Direction.ORIG, Identity(IdentityKind.AE_TITLE, obs.calling_ae, obs.calling_ae))
    elif obs.pdu == "accept" and obs.called_ae:
        yield Presentation(obs, Direction.RESP, Identity(IdentityKind.AE_TITLE, obs.called_ae, obs.called_ae))


@register(RemoteAccessSessionStart)
@register(RemoteAccessSession)
def _remote_access(obs: RemoteAccessSession) -> Iterator[Presentation]:
    """The device end shows the session (at its start too, live): the server when a client
    reaches in, else the client."""
    side = Direction.RESP if obs.direction == "inbound" else Direction.ORIG
    who = obs.vendor or obs.product
    label = f"{obs.vendor} {obs.product}".strip()
    yield Presentation(obs, side, Identity(IdentityKind.REMOTE_ACCESS, who.casefold(), label))
