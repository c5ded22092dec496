"""Each sample capture against the facts its generator planted (sample_pcaps/*.expected.json):
per TLS connection the endpoints, MACs and VLAN tags, the hellos, the certificate request, both
chains field by field, the TLS 1.3 verdict, and the frames that carry each message."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SAMPLES
from trustwatch.sensor.flowid import FlowId
from trustwatch.sensor.protocols.tls_names import cipher_name
from trustwatch.sensor.records import (
    Observation,
    TlsCertificate,
    TlsCertificateRequest,
    TlsClientCertificate,
    TlsClientHello,
    TlsEncryptedHandshake,
    TlsServerCertificate,
    TlsServerHello,
    X509Cert,
)
from trustwatch.sensor.sense import Sensor

EXPECTED = sorted(SAMPLES.glob("*.expected.json"))
ETHERNET = 1
LINK_TYPES_WITH_MACS = {ETHERNET, 113, 276}  # Ethernet, Linux SLL, SLL2


def endpoint(flow: FlowId, side: str) -> str:
    ep = flow.orig if side == "client" else flow.resp
    return f"[{ep.ip}]:{ep.port}" if ":" in ep.ip else f"{ep.ip}:{ep.port}"


def by_connection(observations: list[Observation]) -> dict[tuple[str, str], list[Observation]]:
    conns: dict[tuple[str, str], list[Observation]] = {}
    for obs in observations:
        key = (endpoint(obs.flow, "client"), endpoint(obs.flow, "server"))
        conns.setdefault(key, []).append(obs)
    return conns


def one(observations: list[Observation], cls: type) -> Any:
    found = [o for o in observations if type(o) is cls]
    assert len(found) == 1, f"{cls.__name__}: {len(found)} observations"
    return found[0]


def check_chain(got: X509Cert | None, chain: tuple[X509Cert, ...], want: list[dict[str, Any]]) -> None:
    assert [c.sha1 for c in chain] == [w["sha1"] for w in want]
    for cert, planted in zip(chain, want, strict=True):
        assert cert.sha256 == planted["sha256"]
        assert cert.subject == planted["subject"] and cert.issuer == planted["issuer"]
        assert cert.serial == planted["serial"]
        assert cert.key_type == planted["key_type"] and cert.key_bits == planted["key_bits"]
        assert cert.signature_hash == planted["signature_hash"]
        assert list(cert.sans) == planted["sans"]
        assert cert.self_signed == planted["self_signed"]
        for field in ("not_before", "not_after"):
            assert datetime.fromisoformat(getattr(cert, field)) == datetime.fromisoformat(planted[field])


@pytest.mark.parametrize("expected", EXPECTED, ids=lambda p: p.name.split(".")[0])
def test_sample_facts(expected: Path) -> None:
    facts = json.loads(expected.read_text())
    sensor = Sensor()
    observations = list(sensor.read(str(SAMPLES / facts["capture"])))
    assert sensor.report.captures[0].frames == facts["frames"]
    assert sensor.report.captures[0].warnings == []
    conns = by_connection(observations)
    fmt = facts["format"]
    link_types = [i["linktype"] for i in fmt["interfaces"]] if "interfaces" in fmt else [fmt["linktype"]]
    for bad in facts.get("must_produce_nothing", []):
        assert (bad["client"], bad["server"]) not in conns, bad["why"]
    assert len(conns) == len(facts["tls_connections"])
    for conn in facts["tls_connections"]:
        obs = conns[(conn["client"], conn["server"])]
        frames = conn["frames"]
        hello: TlsClientHello = one(obs, TlsClientHello)
        linktype = link_types[conn["iface"]]
        if linktype in LINK_TYPES_WITH_MACS:
            assert hello.flow.orig.mac == conn["client_mac"].replace(":", "-").upper()
        if linktype == ETHERNET:  # the others carry the sender's address only
            assert hello.flow.resp.mac == conn["server_mac"].replace(":", "-").upper()
        else:
            assert hello.flow.resp.mac in (None, conn["server_mac"].replace(":", "-").upper())
        assert list(hello.flow.vlan) == conn["vlans"]
        assert hello.server_name == conn["sni"]
        assert list(hello.alpn) == conn["alpn_offered"]
        assert list(hello.versions) == conn["versions_offered"]
        assert (hello.ja3, hello.ja3_hash) == (conn["ja3_string"], conn["ja3"])
        assert hello.evidence.frames[-1] == frames["client_hello"]
        server: TlsServerHello = one(obs, TlsServerHello)
        assert server.version == conn["tls_version"]
        assert server.cipher == cipher_name(int(conn["cipher"], 16))
        assert (server.ja3s, server.ja3s_hash) == (conn["ja3s_string"], conn["ja3s"])
        assert frames["server_hello"] in server.evidence.frames
        requests = [o for o in obs if isinstance(o, TlsCertificateRequest)]
        assert bool(requests) == bool(conn["certificate_request"])
        if requests:
            assert list(requests[0].ca_names) == conn["certificate_request_ca_names"]
            assert requests[0].evidence.frames[-1] == frames["certificate_request"]
        for cls, key in ((TlsClientCertificate, "client"), (TlsServerCertificate, "server")):
            certs: list[TlsCertificate] = [o for o in obs if type(o) is cls]
            assert len(certs) == (1 if conn[f"{key}_chain"] else 0)
            if certs:
                check_chain(certs[0].leaf, certs[0].chain, conn[f"{key}_chain"])
                assert certs[0].evidence.frames[-1] == frames[f"{key}_certificate"]
        encrypted = [o for o in obs if isinstance(o, TlsEncryptedHandshake)]
        if "tls13" in conn:
            (verdict,) = encrypted
            shaped = conn["tls13"]["client_flight_mutual_auth_shaped"]
            assert verdict.mutual_auth == ("likely" if shaped else "unlikely")
            assert verdict.confidence >= 0.6
        else:
            assert encrypted == []
