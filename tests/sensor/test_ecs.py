"""The ECS encoder: field names as ECS has them, and a lossless way back."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trustwatch.sensor.ecs import FIELD_PATHS, DecodeError, _iso, from_ecs, read_observations, to_ecs, write_jsonl
from trustwatch.sensor.flowid import Direction, Endpoint, FlowId
from trustwatch.sensor.records import (
    AuthenticationOutcome,
    CredentialSeen,
    DhcpLease,
    DicomAssociation,
    DnsAnswer,
    Evidence,
    Hl7Message,
    Observation,
    Outcome,
    Proto,
    RemoteAccessSession,
    RemoteAccessSessionStart,
    SecretKind,
    TlsCertificateRequest,
    TlsClientCertificate,
    TlsClientHello,
    TlsEncryptedHandshake,
    TlsServerCertificate,
    TlsServerHello,
    TokenClaims,
    X509Cert,
)

FLOW = FlowId(
    uid="Cabc",
    transport="tcp",
    orig=Endpoint("10.20.0.5", 50123, "00-09-FB-01-02-03"),
    resp=Endpoint("10.10.0.2", 2762, None),
    vlan=(120, 7),
)
COMMON = {"ts": 1700000000.123456, "flow": FLOW, "evidence": Evidence("a.pcap", (4, 5))}
CERT = X509Cert(
    sha1="aa" * 20, sha256="bb" * 32, subject="CN=pump-17,O=St Brigid", subject_cn="pump-17",
    issuer="CN=Device CA", serial="1F2E", not_before="2024-01-01T00:00:00+00:00",
    not_after="2034-01-01T00:00:00+00:00", key_type="RSA", key_bits=2048,
    signature_algorithm="sha256WithRSAEncryption", signature_hash="sha256",
    sans=("DNS:pump-17.example",), self_signed=False, version=3,
)
EXAMPLES: list[Observation] = [
    TlsClientHello(**COMMON, protocol=Proto.TLS, server_name="pacs.example", alpn=("h2",),
                   versions=("1.2", "1.3"), ja3="771,4865,0-10,29,0", ja3_hash="0" * 32,
                   ja4="t13d0101h2_aaaaaaaaaaaa_bbbbbbbbbbbb"),
    TlsServerHello(**COMMON, protocol=Proto.TLS, version="1.2", cipher="TLS_AES_128_GCM_SHA256",
                   alpn=None, ja3s="771,4865,43", ja3s_hash="1" * 32),
    TlsCertificateRequest(**COMMON, protocol=Proto.TLS, ca_names=("CN=Device CA",)),
    TlsClientCertificate(**COMMON, protocol=Proto.TLS, chain=(CERT, CERT)),
    TlsServerCertificate(**COMMON, protocol=Proto.DTLS, chain=(CERT,)),
    TlsEncryptedHandshake(**COMMON, protocol=Proto.TLS, version="1.3", mutual_auth="likely",
                          confidence=0.8, reasons=("client flight 900 B",)),
    CredentialSeen(**COMMON, protocol=Proto.TLS, presenter=Direction.ORIG, username="svc",
                   secret_kind=SecretKind.PASSWORD, secret_fp="f" * 16, secret_hint="password, 8 bytes",
                   mechanism="basic", domain="EXAMPLE", host="WS01", notes=("AUTH TLS offered",),
                   token=TokenClaims(alg="HS256", iss="idp", sub="pump-7", aud=("api",), exp=None,
                                     iat=1.7e9), attempt=1),
    AuthenticationOutcome(**COMMON, protocol=Proto.LDAP, attempt=1, outcome=Outcome.FAILURE, reason_code="49",
                          reason="invalidCredentials: AcceptSecurityContext error, data 52e"),
    AuthenticationOutcome(**COMMON, protocol=Proto.TLS, attempt=2, outcome=Outcome.SUCCESS,
                          basis="inferred from the encrypted flights", confidence=0.8),
    DicomAssociation(**COMMON, protocol=Proto.DICOM, pdu="request", calling_ae="CT01", called_ae="PACS",
                     implementation_class_uid="1.2.826.0.1.3680043.9.3811.2.0.2",
                     implementation_version="PYNETDICOM_202", user_identity_type="username-passcode"),
    Hl7Message(**COMMON, protocol=Proto.HL7, sending_application="LAB", sending_facility="HOSP",
               receiving_application="LIS", receiving_facility="HOSP", message_type="ORU^R01",
               version="2.5.1"),
    RemoteAccessSession(**COMMON, protocol=Proto.SSH, vendor="Philips", product="Philips Remote Services (SSH)",
                        direction="inbound", matched_by="ssh version exchange; ip 192.0.2.7 in 192.0.2.0/24",
                        remote_name="prs.example", user=None, client_software="SSH-2.0-OpenSSH_9.6",
                        server_software="SSH-2.0-dropbear", hassh="a" * 32, hassh_server="b" * 32,
                        security=("offered None",), start=1.7e9, end=1.7e9 + 60.5, bytes_orig=4000,
                        bytes_resp=90000),
    RemoteAccessSessionStart(**COMMON, protocol=Proto.RDP, vendor="", product="RDP", direction="inbound",
                             matched_by="rdp x.224 request", user="srs-remote", security=("requested TLS",),
                             start=1.7e9, end=1.7e9 + 0.2, bytes_orig=300, bytes_resp=0),
    DhcpLease(**COMMON, protocol=Proto.DHCP, message_type="ack", client_mac="00-09-FB-01-02-03", ip="10.20.0.5",
              lease_seconds=86400, hostname="pump-17", vendor_class="BD", parameter_list=(1, 3, 6),
              client_id="01", server_id="10.20.0.1"),
    DnsAnswer(**COMMON, protocol=Proto.DNS, query="prs.example", query_type="A", rcode="NOERROR",
              addresses=("192.0.2.7",), cnames=("a.prs.example",), ttl=60),
]


def test_every_record_type_is_mapped_and_shown() -> None:
    assert {type(o) for o in EXAMPLES} == set(FIELD_PATHS)


@pytest.mark.parametrize("obs", EXAMPLES, ids=lambda o: o.action)
def test_round_trip(obs: Observation) -> None:
    doc = json.loads(json.dumps(to_ecs(obs)))
    assert from_ecs(doc) == obs


def test_an_outcome_in_ecs_names() -> None:
    doc = to_ecs(next(o for o in EXAMPLES if isinstance(o, AuthenticationOutcome)))
    assert doc["event"]["outcome"] == "failure" and doc["event"]["action"] == "authentication-outcome"
    assert doc["event"]["reason"].startswith("invalidCredentials") and doc["error"] == {"code": "49"}
    assert doc["trustwatch"]["attempt"] == 1


def test_client_certificate_in_ecs_names() -> None:
    doc = to_ecs(EXAMPLES[3])
    assert doc["@timestamp"] == "2023-11-14T22:13:20.123456Z"
    assert doc["event"]["action"] == "tls-client-certificate"
    assert doc["network"] == {"protocol": "tls", "transport": "tcp", "vlan": {"id": "120"},
                              "inner": {"vlan": {"id": "7"}}}
    assert doc["source"] == {"ip": "10.20.0.5", "port": 50123, "mac": "00-09-FB-01-02-03"}
    assert doc["destination"] == {"ip": "10.10.0.2", "port": 2762}
    assert doc["tls"]["client"]["hash"] == {"sha1": "aa" * 20, "sha256": "bb" * 32}
    x509 = doc["tls"]["client"]["x509"]
    assert x509["subject"]["common_name"] == ["pump-17"]
    assert x509["issuer"]["distinguished_name"] == "CN=Device CA"
    assert x509["public_key_size"] == 2048 and x509["version_number"] == "3"
    assert len(doc["trustwatch"]["chain"]) == 2
    assert doc["trustwatch"]["evidence"] == {"capture": "a.pcap", "frames": [4, 5]}
    assert "server" not in doc["tls"]


def test_jsonl_file_round_trip_and_bad_lines(tmp_path: Path) -> None:
    buf = io.StringIO()
    assert write_jsonl(EXAMPLES, buf) == len(EXAMPLES)
    path = tmp_path / "obs.jsonl"
    path.write_text(buf.getvalue() + "not json\n" + '{"event": {"action": "nope"}}\n[1]\n')
    errors: list[str] = []
    assert list(read_observations(str(path), errors)) == EXAMPLES
    first_bad = len(EXAMPLES) + 1
    assert [int(e.split(":")[1]) for e in errors] == [first_bad, first_bad + 1, first_bad + 2]
    assert all(e.startswith(str(path)) for e in errors)
    with pytest.raises(DecodeError, match=f":{first_bad}:"):
        list(read_observations(str(path)))


@given(st.one_of(st.floats(-2**33, 2**34, allow_nan=False),
                 st.integers(0, 2**34).map(lambda us: us / 1e6 + 5e-7),  # halfway between microseconds
                 st.integers(-2**31, 2**34).map(float)))
def test_timestamps_are_written_as_datetime_writes_them(ts: float) -> None:
    assert _iso(ts) == datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
