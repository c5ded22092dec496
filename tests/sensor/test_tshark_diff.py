"""Differential tests: on every capture, trustwatch finds the same TLS identities as tshark.

Compared per capture: certificate SHA-1s with their side (client or server: a certificate
sent by the side that sent the stream's ClientHello is the client's), SNIs, and JA3 hashes.
tshark runs here, on the same file, in one pass with handshake-record reassembly on.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REAL_PCAPS, SAMPLES
from trustwatch.sensor.records import TlsClientCertificate, TlsClientHello, TlsServerCertificate
from trustwatch.sensor.sense import Sensor, find_captures

TSHARK_FIELDS = [
    "frame.number", "tcp.stream", "udp.stream", "ip.src", "ipv6.src", "tcp.srcport",
    "udp.srcport", "tls.handshake.type", "tls.handshake.extensions_server_name",
    "tls.handshake.ja3", "tls.handshake.certificate", "dtls.handshake.type",
    "dtls.handshake.certificate",
]
DISPLAY_FILTER = ("tls.handshake.type == 1 || tls.handshake.type == 2 || tls.handshake.type == 11"
                  " || dtls.handshake.type == 1 || dtls.handshake.type == 11")

Facts = dict[str, set[str]]


def tshark_facts(path: Path, decode_as: tuple[str, ...] = ()) -> Facts:
    """What tshark's dissectors find: {"certs": {"client:<sha1>", ...}, "sni": ..., "ja3": ...}."""
    cmd = ["tshark", "-n", "-r", str(path), *decode_as, "-o", "tls.desegment_ssl_records:TRUE",
           "-o", "tls.desegment_ssl_application_data:TRUE", "-Y", DISPLAY_FILTER,
           "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|", "-E", "separator=\t"]
    for f in TSHARK_FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False).stdout
    facts: Facts = {"certs": set(), "sni": set(), "ja3": set()}
    client_of: dict[str, str] = {}
    for line in out.splitlines():
        row = dict(zip(TSHARK_FIELDS, line.split("\t") + [""] * len(TSHARK_FIELDS), strict=False))
        stream = "t" + row["tcp.stream"] if row["tcp.stream"] else "u" + row["udp.stream"]
        src = (row["ip.src"] or row["ipv6.src"]).split("|")[-1] + ":" + (
            row["tcp.srcport"] or row["udp.srcport"])
        types = (row["tls.handshake.type"] or row["dtls.handshake.type"]).split("|")
        if "1" in types:
            client_of.setdefault(stream, src)
            facts["sni"].update(s for s in row["tls.handshake.extensions_server_name"].split("|") if s)
            facts["ja3"].update(j for j in row["tls.handshake.ja3"].split("|") if j)
        certs = row["tls.handshake.certificate"] or row["dtls.handshake.certificate"]
        side = "client" if client_of.get(stream) == src else "server"
        for cert in filter(None, certs.split("|")):
            der = bytes.fromhex(cert.replace(":", ""))
            facts["certs"].add(f"{side}:{hashlib.sha1(der).hexdigest()}")
    return facts


def trustwatch_facts(path: Path) -> Facts:
    facts: Facts = {"certs": set(), "sni": set(), "ja3": set()}
    for obs in Sensor().read(str(path)):
        if isinstance(obs, TlsClientCertificate | TlsServerCertificate):
            side = "client" if isinstance(obs, TlsClientCertificate) else "server"
            facts["certs"].update(f"{side}:{c.sha1}" for c in obs.chain)
        elif isinstance(obs, TlsClientHello):
            if obs.server_name:
                facts["sni"].add(obs.server_name)
            if obs.protocol != "dtls":  # tshark has no DTLS JA3 field
                facts["ja3"].add(obs.ja3_hash)
    return facts


def captures() -> list[Path]:
    found = [Path(p) for p in find_captures([str(SAMPLES)])]
    if REAL_PCAPS is not None:
        found += [Path(p) for p in find_captures([str(REAL_PCAPS)])]
    return found


def ids(path: Path) -> str:
    for base in (SAMPLES, REAL_PCAPS):
        if base is not None and path.is_relative_to(base):
            return str(path.relative_to(base))
    return path.name


def test_tshark_is_installed() -> None:
    assert shutil.which("tshark"), "tshark is needed: apt-get install -y tshark"


DECODE_AS: dict[str, tuple[str, ...]] = {
    # tshark picks a dissector by port, trustwatch by content: TLS after the RDP X.224
    # negotiation on 3389, and AnyDesk's TLS to its relay on port 80 (nDPI's baseline also
    # has that flow as TLS.AnyDesk with the same relay certificate).
    "ndpi/tests/cfgs/default/pcap/rdp.pcap": ("-d", "tcp.port==3389,tls"),
    "ndpi/tests/cfgs/default/pcap/rdp_over_tls.pcap": ("-d", "tcp.port==3389,tls"),
    "zeek/rdp/rdp-no-cookie-mstshash.pcap": ("-d", "tcp.port==3389,tls"),
    "zeek/rdp/rdp-to-ssl.pcap": ("-d", "tcp.port==3389,tls"),
    "ndpi/tests/cfgs/default/pcap/anydesk.pcapng": ("-d", "tcp.port==80,tls"),
    "remote-access/remote-rdp.pcap": ("-d", "tcp.port==3389,tls"),
    "hospital/vendor-access.pcap": ("-d", "tcp.port==3389,tls"),
    "clinic/clinic-imaging.pcap": ("-d", "tcp.port==3389,tls"),
    "clinic/clinic-it.pcap": ("-d", "tcp.port==3389,tls"),
}
"""tshark told which dissector to use where its port table hides the TLS."""

BEYOND_TSHARK: dict[str, tuple[Facts, str]] = {
    "ndpi/tests/cfgs/default/pcap/google_ssl.pcap": (
        {"certs": {"server:6e83c4213a922bde969ea5f3aab7c23ec6eb9409",
                   "server:bbdce13e9d537a5229915cb123c7aab0a855e798",
                   "server:7359755c6df9a0abc3060bce369564c8ec4542a3"}},
        "the server's flight arrives after a lost segment and its retransmissions (frames 6, 8, "
        "10); tshark gives up on the stream, trustwatch puts it back in order",
    ),
}
"""Facts trustwatch finds and tshark cannot, with the reason."""

KNOWN_GAPS: dict[str, tuple[Facts, str]] = {
    "ndpi/tests/cfgs/default/pcap/rdp2.pcap": (
        {"sni": {"WIN-8QSO0D3OKBI.HARDENING.COM"}, "ja3": {"84869b491ae5b9469d83b4c661763cd9"}},
        "TLS carried inside RDP-UDP2 (MS-RDPEUDP2) datagrams, not decoded yet",
    ),
}
"""Facts tshark finds and trustwatch does not yet, with the reason."""


@pytest.mark.parametrize("path", captures(), ids=ids)
def test_same_identities_as_tshark(path: Path) -> None:
    theirs = tshark_facts(path, DECODE_AS.get(ids(path), ()))
    ours = trustwatch_facts(path)
    beyond = BEYOND_TSHARK.get(ids(path), ({}, ""))[0]
    gaps = KNOWN_GAPS.get(ids(path), ({}, ""))[0]
    for kind in ("certs", "sni", "ja3"):
        want = (theirs[kind] | beyond.get(kind, set())) - gaps.get(kind, set())
        assert ours[kind] == want, (
            f"{kind}: only trustwatch {sorted(ours[kind] - want)}, "
            f"only tshark {sorted(want - ours[kind])}"
        )
        assert gaps.get(kind, set()) <= theirs[kind], "a known gap tshark no longer shows"


@pytest.mark.skipif(REAL_PCAPS is None, reason="real captures not found")
def test_every_listed_client_certificate_is_found() -> None:
    assert REAL_PCAPS is not None
    wanted: dict[Path, set[str]] = {}
    for listing, base in ((REAL_PCAPS / "expected.json", REAL_PCAPS),
                          (REAL_PCAPS / "lab" / "expected.json", REAL_PCAPS / "lab")):
        for rel, facts in json.loads(listing.read_text()).items():
            certs = {c["sha1"] for c in facts.get("client_certs", [])}
            if certs:
                wanted[base / rel] = certs
    assert len(wanted) >= 5
    for path, certs in wanted.items():
        found = {c.split(":")[1] for c in trustwatch_facts(path)["certs"] if c.startswith("client:")}
        assert certs <= found, f"{path}: missing client certificates {sorted(certs - found)}"
