"""Identity extraction: which side presented what, per observation type."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from tests.analytics.builders import T0, cert, client_cert, credential, ep, fingerprint, flow, server_cert
from trustwatch.analytics import identities
from trustwatch.analytics.identities import Identity, IdentityKind, Presentation, presentations, register
from trustwatch.sensor.flowid import Direction
from trustwatch.sensor.records import Observation, Proto, SecretKind, TlsClientHello

PUMP = ep("10.20.0.51", "00-1B-4F-00-00-01", 50000)
PACS = ep("10.20.0.200", "00-1B-4F-00-00-C8", 443)


def test_client_and_server_certificates() -> None:
    leaf = cert("inf-001.ward3")
    [c] = presentations(client_cert(T0, PUMP, PACS, leaf))
    [s] = presentations(server_cert(T0, PUMP, PACS, leaf))
    assert (c.side, c.endpoint, c.identity.kind, c.identity.value) == (
        Direction.ORIG, PUMP, IdentityKind.CLIENT_CERT, leaf.sha256)
    assert (s.side, s.endpoint, s.identity.kind) == (Direction.RESP, PACS, IdentityKind.SERVER_CERT)
    assert c.identity.label == "CN=inf-001.ward3,O=St. Example Hospital"
    assert c.cert is leaf


def test_credential_gives_user_and_secret() -> None:
    obs = credential(T0, PUMP, PACS, "BioMed", "s3cret")
    user, secret = presentations(obs)
    assert user.identity == Identity(IdentityKind.USERNAME, "biomed", "BioMed")
    assert secret.identity == Identity(IdentityKind.SECRET, fingerprint("s3cret"), "BioMed", "password")


def test_credential_presented_by_the_server_side() -> None:
    """SNMP agents answer with the community: the responder holds it."""
    obs = credential(T0, PUMP, PACS, None, "public", SecretKind.COMMUNITY, "snmp", presenter=Direction.RESP)
    [p] = presentations(obs)
    assert p.endpoint == PACS and p.identity.detail == "community"


def test_user_name_alone_is_not_a_secret() -> None:
    obs = credential(T0, PUMP, PACS, "nurse1", None, SecretKind.NONE, "kerberos")
    assert [p.identity.kind for p in presentations(obs)] == [IdentityKind.USERNAME]


def test_hellos_present_nothing() -> None:
    hello = TlsClientHello(ts=T0, flow=flow(PUMP, PACS), protocol=Proto.TLS, server_name="pacs",
                           alpn=(), versions=("1.2",), ja3="", ja3_hash="", ja4="")
    assert list(presentations(hello)) == []


@dataclass(frozen=True, slots=True, kw_only=True)
class _Association(Observation):
    """Stand-in for the DICOM issue's A-ASSOCIATE record."""

    action: ClassVar[str] = "dicom-association"
    calling_ae: str


def test_a_new_observation_type_plugs_in_with_one_function() -> None:
    @register(_Association)
    def _assoc(obs: _Association) -> Iterator[Presentation]:
        yield Presentation(obs, Direction.ORIG, Identity(IdentityKind.AE_TITLE, obs.calling_ae))

    try:
        obs = _Association(ts=T0, flow=flow(PUMP, PACS), protocol=Proto.TLS, calling_ae="US_ECHO1")
        [p] = presentations(obs)
        assert p.identity.describe() == "AE title 'US_ECHO1'"
    finally:
        del identities.PRESENTERS[_Association]
