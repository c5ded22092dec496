#!/usr/bin/env python3
"""Write every sample capture and its `<capture>.expected.json` (the planted facts).

    python sample_pcaps/generate.py [--out DIR]

Deterministic: the same bytes on every run (fixed keys, dates, randoms, timestamps; see
craft.py). The expected files are computed from the generator's own inputs, never from
trustwatch. `verify.py` then checks them against tshark and records tshark's JA3/JA3S
under "tshark" (kept by this script when it rewrites an expected file).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import craft as C
from craft import ClientHello, Segment, ServerHello, TcpFlow

HERE = os.path.dirname(os.path.abspath(__file__))

# --------------------------------------------------------------------------------------
# the hospital PKI (fixed keys, fixed dates)
# --------------------------------------------------------------------------------------

ORG = "St. Example Health System"
NB_CA, NA_CA = C.utc(2020, 1, 15), C.utc(2040, 1, 15)
NB_SUB, NA_SUB = C.utc(2021, 3, 1), C.utc(2031, 3, 1)
NB_LEAF, NA_LEAF = C.utc(2024, 6, 1), C.utc(2026, 6, 1)

ROOT = C.make_cert(
    C.name("St. Example Health Root CA", ORG),
    C.rsa_key(C.RSA_ROOT_CA),
    issuer=None,
    serial=0x1001,
    not_before=NB_CA,
    not_after=NA_CA,
    ca=True,
    path_len=2,
)
DEVICE_CA = C.make_cert(
    C.name("Medical Device Issuing CA 1", ORG, "Clinical Engineering"),
    C.rsa_key(C.RSA_DEVICE_CA),
    issuer=ROOT,
    serial=0x2001,
    not_before=NB_SUB,
    not_after=NA_SUB,
    ca=True,
    path_len=0,
)
SERVER_CA = C.make_cert(
    C.name("Clinical Server Issuing CA 1", ORG, "IT Security"),
    C.rsa_key(C.RSA_SERVER_CA),
    issuer=ROOT,
    serial=0x2002,
    not_before=NB_SUB,
    not_after=NA_SUB,
    ca=True,
    path_len=0,
)
RADIOLOGY_CA = C.make_cert(
    C.name("Radiology Device CA EC1", ORG, "Radiology"),
    C.ec_key(0x5EED_0001_CA, C.ec.SECP384R1()),
    issuer=ROOT,
    serial=0x2003,
    not_before=NB_SUB,
    not_after=NA_SUB,
    ca=True,
    path_len=0,
)


def server_leaf(cn: str, key: Any, serial: int, extra_dns: tuple[str, ...] = ()) -> C.Cert:
    """A server certificate from the server CA."""
    return C.make_cert(
        C.name(cn, ORG, "Clinical Applications"),
        key,
        issuer=SERVER_CA,
        serial=serial,
        not_before=NB_LEAF,
        not_after=NA_LEAF,
        dns=(cn, *extra_dns),
        eku=("server",),
    )


def device_leaf(
    cn: str, key: Any, serial: int, ou: str, issuer: C.Cert = DEVICE_CA, serial_number: str | None = None
) -> C.Cert:
    """A device (client) certificate."""
    return C.make_cert(
        C.name(cn, ORG, ou, serial_number=serial_number),
        key,
        issuer=issuer,
        serial=serial,
        not_before=NB_LEAF,
        not_after=NA_LEAF,
        dns=(cn,),
        eku=("client",),
    )


INFUSION_SRV = server_leaf("infusion-mgmt.clin.example.org", C.rsa_key(C.RSA_HL7_ENGINE), 0x3A0001)
PACS_SRV = server_leaf("pacs01.radiology.example.org", C.rsa_key(C.RSA_PACS), 0x3A0002)
PUMP_GW = device_leaf(
    "pump-gw-icu3.clin.example.org",
    C.rsa_key(C.RSA_PUMP_GATEWAY),
    0x4B0001,
    "Infusion Systems",
    serial_number="BBR-SPC-0049217",
)
CT_SCANNER = device_leaf(
    "ct02-modality.radiology.example.org",
    C.ec_key(0x0C7_0002),
    0x4B0002,
    "Radiology",
    issuer=RADIOLOGY_CA,
    serial_number="GEHC-CT-5521983",
)

MONITORING_GW = server_leaf("monitoring-gw.clin.example.org", C.rsa_key(C.RSA_HL7_ENGINE), 0x3A0003)
EHR_WEB = server_leaf(
    "ehr.clin.example.org", C.rsa_key(C.RSA_PACS), 0x3A0004, ("ehr", "ehr-web01.clin.example.org")
)
PACS_ARCHIVE = server_leaf(
    "vna-archive.radiology.example.org",
    C.rsa_key(C.RSA_PACS),
    0x3A0005,
    tuple(f"vna-node{i:02d}.radiology.example.org" for i in range(1, 25)),
)
CENTRAL_STATION = server_leaf("central-station.icu.example.org", C.ec_key(0xCE57_0001), 0x3A0006)
LIS_SRV = server_leaf("lis.lab.example.org", C.ec_key(0x0115_0001), 0x3A0007)
NURSECALL_SRV = server_leaf("nursecall.clin.example.org", C.ec_key(0x0C11_0001), 0x3A0008)
MEDNET_SRV = server_leaf("mednet.clin.example.org", C.rsa_key(C.RSA_HL7_ENGINE), 0x3A0009)
PHILIPS_MON = device_leaf(
    "mx800-bed12.icu.example.org",
    C.ec_key(0x0900_0012),
    0x4B0003,
    "Patient Monitoring",
    serial_number="PHI-MX800-DE71544",
)
MINDRAY_FLEET = device_leaf(
    "mindray-bedside-fleet.icu.example.org", C.ec_key(0x00F1_EE7), 0x4B0004, "Patient Monitoring"
)  # ONE cert installed on every monitor of the fleet
DRAEGER_VENT = device_leaf(
    "v500-vent07.icu.example.org",
    C.ec_key(0xD4A6_0007),
    0x4B0005,
    "Respiratory",
    serial_number="DRG-V500-ASFK-0107",
)
NK_MONITOR = device_leaf(
    "bsm6000-bed03.icu.example.org", C.ec_key(0x0A09_0003), 0x4B000A, "Patient Monitoring"
)
NURSECALL_BED = device_leaf("bed-ward4-r12.clin.example.org", C.ec_key(0x0B3D_0412), 0x4B0006, "Beds")
ICU_PUMP = device_leaf(
    "plum360-0217.clin.example.org",
    C.rsa_key(C.RSA_PUMP_GATEWAY),
    0x4B0007,
    "Infusion Systems",
    serial_number="ICU-PLUM-15830217",
)
LAB_ANALYZER = device_leaf(
    "atellica-ch-01.lab.example.org",
    C.ec_key(0x0A7E_0001),
    0x4B0008,
    "Laboratory",
    serial_number="SHS-ATL-CH-000931",
)
READING_WS = device_leaf(
    "rad-reading-ws04.radiology.example.org",
    C.ec_key(0x0EAD_0004),
    0x4B0009,
    "Radiology",
    issuer=RADIOLOGY_CA,
)
# a legacy device: self-signed, RSA-1024, SHA-1, expired at the end of 2024
LEGACY_LAB = C.resign_sha1_rsa(
    C.make_cert(
        C.name("LABSYS-ANALYZER-7", "Legacy Lab Systems", c=None),
        C.rsa_key(C.RSA_LEGACY_1024),
        issuer=None,
        serial=0x01,
        not_before=C.utc(2014, 12, 31),
        not_after=C.utc(2024, 12, 31),
    )
)
LOCAL_PROXY = C.make_cert(
    C.name("localhost", "HL7 TLS proxy", c=None),
    C.ec_key(0x10CA_1001),
    issuer=None,
    serial=0x5E1F,
    not_before=C.utc(2025, 1, 2),
    not_after=C.utc(2035, 1, 2),
    dns=("localhost",),
    ips=("127.0.0.1",),
    eku=("server",),
)

SERVER_CHAIN = (INFUSION_SRV, SERVER_CA)


def ca_names() -> list[C.x509.Name]:
    """The CertificateRequest's acceptable issuers: the device CAs and the root."""
    return [DEVICE_CA.subject, RADIOLOGY_CA.subject, ROOT.subject]


# --------------------------------------------------------------------------------------
# hosts (real medical vendor OUIs; servers behind the core router show the router's MAC)
# --------------------------------------------------------------------------------------

ROUTER_MAC = "00:00:0c:9f:f0:14"  # Cisco (HSRP virtual MAC), the clinical VLAN gateway


def host(label: str, mac: str, ip: str, ttl: int = 64) -> C.Host:
    """A host; its IP-id counter starts at a value derived from its label."""
    return C.Host(label, mac, ip, ttl, int.from_bytes(C.fixed_bytes(label, 2), "big"))


# --------------------------------------------------------------------------------------
# ClientHello profiles (what the devices' TLS stacks typically send)
# --------------------------------------------------------------------------------------


def ch_openssl_device(sni: str | None, label: str) -> ClientHello:
    """Embedded Linux, OpenSSL 1.1.1 limited to TLS 1.2, no GREASE."""
    exts = [C.ext_sni(sni)] if sni else []
    exts += [
        C.ext_point_formats((0, 1, 2)),
        C.ext_groups((C.X25519, C.SECP256R1, C.SECP384R1)),
        C.ext(C.EXT_SESSION_TICKET),
        C.ext(C.EXT_ETM),
        C.ext(C.EXT_EMS),
        C.ext_sig_algs(
            (
                C.ECDSA_SHA256,
                C.ECDSA_SHA384,
                C.RSA_PSS_SHA256,
                C.RSA_PSS_SHA384,
                C.RSA_PKCS1_SHA256,
                C.RSA_PKCS1_SHA384,
                C.RSA_PKCS1_SHA1,
            )
        ),
    ]
    return ClientHello(
        C.fixed_bytes(label + "/c-random", 32),
        (
            0xC02C,
            0xC030,
            0x009F,
            0xC02B,
            0xC02F,
            0x009E,
            0xC024,
            0xC028,
            0x006B,
            0xC023,
            0xC027,
            0x0067,
            0x009D,
            0x009C,
            0x003D,
            0x003C,
            0x0035,
            0x002F,
            0x00FF,
        ),
        tuple(exts),
    )


def ch_mbedtls_device(sni: str, label: str) -> ClientHello:
    """A small RTOS stack (mbed TLS style): short cipher list, ALPN none."""
    return ClientHello(
        C.fixed_bytes(label + "/c-random", 32),
        (0xC02B, 0xC0AE, 0xC023, 0xC02F, 0xC027, 0x009C, 0x003C, 0x00FF),
        (
            C.ext_sni(sni),
            C.ext_sig_algs((C.ECDSA_SHA256, C.RSA_PKCS1_SHA256, C.RSA_PKCS1_SHA1)),
            C.ext_groups((C.SECP256R1, C.SECP384R1)),
            C.ext_point_formats((0,)),
            C.ext(C.EXT_EMS),
        ),
    )


def ch_java_tls13(sni: str, label: str, alpn: tuple[str, ...] = ()) -> ClientHello:
    """A Java 17 client offering TLS 1.3 and 1.2."""
    exts = [
        C.ext_sni(sni),
        C.ext_status_request(),
        C.ext_groups((C.X25519, C.SECP256R1, C.SECP384R1, 0x0019, 0x001E, 0x0100, 0x0101)),
        C.ext_point_formats((0,)),
        C.ext_sig_algs(
            (
                C.ECDSA_SHA256,
                C.ECDSA_SHA384,
                C.RSA_PSS_SHA256,
                C.RSA_PSS_SHA384,
                C.RSA_PKCS1_SHA256,
                C.RSA_PKCS1_SHA384,
            )
        ),
        C.ext(50, C.ext_sig_algs((C.ECDSA_SHA256, C.RSA_PSS_SHA256, C.RSA_PKCS1_SHA256))[1]),
    ]
    if alpn:
        exts.append(C.ext_alpn(alpn))
    exts += [
        C.ext(C.EXT_EMS),
        C.ext_versions((C.TLS13, C.TLS12)),
        C.ext_psk_modes(),
        C.ext_key_share(((C.X25519, C.fixed_bytes(label + "/c-x25519", 32)),)),
    ]
    return ClientHello(
        C.fixed_bytes(label + "/c-random", 32),
        (
            0x1302,
            0x1301,
            0x1303,
            0xC02C,
            0xC02B,
            0xCCA9,
            0xC030,
            0xCCA8,
            0xC02F,
            0x009F,
            0xCCAA,
            0x009E,
            0x00FF,
        ),
        tuple(exts),
        session_id=C.fixed_bytes(label + "/c-sid", 32),
    )


def ch_chrome(sni: str, label: str, pad_to: int = 0) -> ClientHello:
    """A Chromium browser on a clinical workstation: GREASE everywhere, TLS 1.3."""
    g = C.GREASE
    exts = [
        C.ext(g[10]),
        C.ext_sni(sni),
        C.ext(C.EXT_EMS),
        C.ext_reneg(),
        C.ext_groups((g[10], C.X25519, C.SECP256R1, C.SECP384R1)),
        C.ext_point_formats((0,)),
        C.ext(C.EXT_SESSION_TICKET),
        C.ext_alpn(("h2", "http/1.1")),
        C.ext_status_request(),
        C.ext_sig_algs(
            (
                C.ECDSA_SHA256,
                C.RSA_PSS_SHA256,
                C.RSA_PKCS1_SHA256,
                C.ECDSA_SHA384,
                C.RSA_PSS_SHA384,
                C.RSA_PKCS1_SHA384,
                0x0806,
                0x0601,
            )
        ),
        C.ext(C.EXT_SCT),
        C.ext_key_share(((g[10], b"\x00"), (C.X25519, C.fixed_bytes(label + "/c-x25519", 32)))),
        C.ext_psk_modes(),
        C.ext_versions((g[6], C.TLS13, C.TLS12)),
        C.ext(C.EXT_COMPRESS_CERT, b"\x02\x00\x02"),
        C.ext(C.EXT_ALPS, b"\x00\x03\x02h2"),
        C.ext(g[3], b"\x00"),
    ]
    ch = ClientHello(
        C.fixed_bytes(label + "/c-random", 32),
        (
            g[2],
            0x1301,
            0x1302,
            0x1303,
            0xC02B,
            0xC02F,
            0xC02C,
            0xC030,
            0xCCA9,
            0xCCA8,
            0xC013,
            0xC014,
            0x009C,
            0x009D,
            0x002F,
            0x0035,
        ),
        tuple(exts),
        session_id=C.fixed_bytes(label + "/c-sid", 32),
    )
    if pad_to:
        need = pad_to - len(ch.encode()) - 4
        exts.append(C.ext(C.EXT_PADDING, b"\x00" * max(need, 0)))
        ch = ClientHello(ch.random, ch.ciphers, tuple(exts), ch.session_id)
    return ch


def padded(ch: ClientHello, total: int) -> ClientHello:
    """The same ClientHello with a padding extension (RFC 7685) growing it to `total` bytes."""
    need = max(total - len(ch.encode()) - 4, 0)
    return ClientHello(
        ch.random,
        ch.ciphers,
        (*ch.extensions, C.ext(C.EXT_PADDING, b"\x00" * need)),
        ch.session_id,
        ch.version,
    )


def sh12(label: str, cipher: int, ems: bool = True, ecdhe: bool = False, sid: bool = True) -> ServerHello:
    """A TLS 1.2 ServerHello with the usual renegotiation_info/EMS/point-format echoes."""
    exts = [C.ext_reneg()]
    if ems:
        exts.append(C.ext(C.EXT_EMS))
    if ecdhe:
        exts.append(C.ext_point_formats((0,)))
    return ServerHello(
        C.fixed_bytes(label + "/s-random", 32),
        cipher,
        tuple(exts),
        C.fixed_bytes(label + "/s-sid", 32) if sid else b"",
    )


def sh13(label: str, ch: ClientHello, cipher: int = 0x1302) -> ServerHello:
    """A TLS 1.3 ServerHello: legacy 1.2, supported_versions 0x0304, x25519 key_share."""
    return ServerHello(
        C.fixed_bytes(label + "/s-random", 32),
        cipher,
        (
            (C.EXT_SUPPORTED_VERSIONS, C.u16(C.TLS13)),
            (C.EXT_KEY_SHARE, C.u16(C.X25519) + C.vec16(C.fixed_bytes(label + "/s-x25519", 32))),
        ),
        ch.session_id,
    )


# --------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------

Writer = Callable[[str, list[C.Packet]], None]


def write(
    out: str,
    fname: str,
    cap: C.Capture,
    writer: Writer,
    description: str,
    fmt: dict[str, Any],
    conns: list[C.Conn],
    non_tls_flows: list[dict[str, Any]] | None = None,
    notes: list[str] | None = None,
) -> None:
    """Write the capture and its expected.json (keeping a previous "tshark" section)."""
    path = os.path.join(out, fname)
    writer(path, cap.packets)
    exp_path = os.path.join(out, fname.split(".pcap")[0] + ".expected.json")
    old: dict[str, Any] = {}
    if os.path.exists(exp_path):
        with open(exp_path) as fh:
            old = json.load(fh)
    doc: dict[str, Any] = {
        "capture": fname,
        "description": description,
        "generated_by": "sample_pcaps/generate.py (facts planted by the generator, not read back)",
        "format": fmt,
        "frames": len(cap.packets),
        "tls_connections": [c.resolve(cap) for c in conns],
    }
    if non_tls_flows:
        doc["must_produce_nothing"] = non_tls_flows
    if notes:
        doc["notes"] = notes
    if "tshark" in old:
        doc["tshark"] = old["tshark"]
    with open(exp_path, "w") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")


def pcap_writer(linktype: int, **kw: Any) -> Writer:
    """A pcap writer with fixed link type and options."""
    return lambda path, pkts: C.write_pcap(path, pkts, linktype, **kw)


def pcapng_writer(ifaces: list[C.Interface], shb: dict[int, str]) -> Writer:
    """A pcapng writer with fixed interfaces."""
    return lambda path, pkts: C.write_pcapng(path, pkts, ifaces, shb=shb)


SHB = {
    C.SHB_HARDWARE: "SPAN clinical-core-sw1 Gi1/0/48",
    C.SHB_OS: "Linux 6.1",
    C.SHB_USERAPPL: "trustwatch sample_pcaps/generate.py",
}
T0 = C.epoch_ns(C.utc(2025, 3, 11, 7, 30, 0))


def _flow(
    cap: C.Capture,
    link: C.Link,
    c: C.Host,
    cport: int,
    s: C.Host,
    sport: int,
    fid: str,
    start_ns: int,
    **kw: Any,
) -> TcpFlow:
    isn_c = int.from_bytes(C.fixed_bytes(fid + "/isn-c", 4), "big")
    isn_s = int.from_bytes(C.fixed_bytes(fid + "/isn-s", 4), "big")
    return TcpFlow(
        cap, link, c, cport, s, sport, flow_id=fid, start_ns=start_ns, isn_c=isn_c, isn_s=isn_s, **kw
    )


# --------------------------------------------------------------------------------------
# the captures
# --------------------------------------------------------------------------------------


def tls12_mutual_auth(out: str) -> None:
    """Infusion-pump gateway, TLS 1.2 mutual auth to the infusion management server."""
    cap = C.Capture()
    gw = host("pump-gw", "00:12:21:4a:7c:19", "10.20.31.15")  # B. Braun Melsungen
    srv = host("infusion-mgmt", ROUTER_MAC, "10.10.4.20", ttl=63)
    f = _flow(cap, C.Link(), gw, 50412, srv, 443, "pump-gw-1", T0)
    ch = ch_openssl_device("infusion-mgmt.clin.example.org", "pump-gw-1")
    conn = C.tls12_connection(
        f,
        ch=ch,
        sh=sh12("pump-gw-1", 0x009C),
        server_chain=SERVER_CHAIN,
        ca_names=ca_names(),
        client_chain=(PUMP_GW, DEVICE_CA),
        kx="rsa",
        coalesce=False,
        app=(("c", 612), ("s", 188), ("c", 2400), ("s", 96)),
    )
    write(
        out,
        "tls12-mutual-auth.pcap",
        cap,
        pcap_writer(1),
        __doc_first(tls12_mutual_auth),
        {"type": "pcap", "endian": "little", "resolution": "us", "linktype": 1},
        [conn],
    )


def tls_dicom_2762(out: str) -> None:
    """CT modality, DICOM over TLS (port 2762) with an EC client certificate; pcapng."""
    cap = C.Capture()
    ct = host("ct02", "44:4b:5d:02:31:a7", "10.30.8.41")  # GE Healthcare
    pacs = host("pacs01", ROUTER_MAC, "10.10.6.10", ttl=63)
    f = _flow(cap, C.Link(), ct, 49822, pacs, 2762, "ct02-pacs", T0 + 3_600_000_000_000)
    ch = ch_openssl_device("pacs01.radiology.example.org", "ct02-pacs")
    app = [("c", 402), ("s", 218)] + [("c", 16384)] * 4 + [("s", 74), ("c", 10), ("s", 10)]
    conn = C.tls12_connection(
        f,
        ch=ch,
        sh=sh12("ct02-pacs", 0xC02F, ecdhe=True),
        server_chain=(PACS_SRV, SERVER_CA),
        ca_names=ca_names(),
        client_chain=(CT_SCANNER, RADIOLOGY_CA),
        kx="ecdhe",
        app=app,
    )
    fr = conn.resolve(cap)["frames"]
    cap.packets[fr["client_certificate"] - 1].comment = "planted: client certificate of ct02 (EC P-256)"
    ifaces = [C.Interface(1, 6, "eth1", "SPAN radiology VLAN 30")]
    write(
        out,
        "tls-dicom-2762.pcapng",
        cap,
        pcapng_writer(ifaces, SHB),
        __doc_first(tls_dicom_2762),
        {"type": "pcapng", "interfaces": [{"linktype": 1, "tsresol": 6}]},
        [conn],
    )


def tls13_mutual_and_not(out: str) -> None:
    """Two TLS 1.3 handshakes: a patient monitor with client auth, a browser without."""
    cap = C.Capture()
    mon = host("mx800", "00:09:5c:3e:12:0c", "10.20.12.77")  # Philips Medical Systems
    gw = host("monitoring-gw", ROUTER_MAC, "10.10.5.30", ttl=63)
    f1 = _flow(cap, C.Link(), mon, 41022, gw, 443, "mx800-gw", T0 + 7_200_000_000_000)
    ch1 = ch_java_tls13("monitoring-gw.clin.example.org", "mx800-gw")
    c1 = C.tls13_connection(
        f1,
        ch=ch1,
        sh=sh13("mx800-gw", ch1, 0x1302),
        server_chain=(MONITORING_GW, SERVER_CA),
        client_chain=(PHILIPS_MON,),
        hash_len=48,
    )
    ws = host("ws-nurse-4", "00:06:5b:71:0a:44", "10.40.2.118", ttl=128)  # Dell
    ehr = host("ehr", ROUTER_MAC, "10.10.5.31", ttl=127)
    f2 = _flow(cap, C.Link(), ws, 53544, ehr, 443, "ws-ehr", f1.now_ns + 250_000_000)
    ch2 = ch_chrome("ehr.clin.example.org", "ws-ehr")
    c2 = C.tls13_connection(
        f2,
        ch=ch2,
        sh=sh13("ws-ehr", ch2, 0x1301),
        server_chain=(EHR_WEB, SERVER_CA),
        client_chain=None,
        hash_len=32,
    )
    write(
        out,
        "tls13-mutual-and-not.pcap",
        cap,
        pcap_writer(1),
        __doc_first(tls13_mutual_and_not),
        {"type": "pcap", "endian": "little", "resolution": "us", "linktype": 1},
        [c1, c2],
        notes=[
            "TLS 1.3: certificates and CertificateRequest are encrypted; tls13.* gives the planted shape.",
            "mx800-gw: client flight = CCS + Certificate + CertificateVerify + Finished (mutual-auth shaped);"
            " ws-ehr: CCS + one 53-byte Finished record.",
        ],
    )


def tls_chain_spanning(out: str) -> None:
    """Server chain spanning 4 TLS records and 15 TCP segments (MSS 300), with one
    retransmitted, one out-of-order and one overlapping segment."""
    cap = C.Capture()
    ws = host("carestream-ws", "00:1d:4a:10:88:3c", "10.30.9.12")  # Carestream Health
    vna = host("vna", ROUTER_MAC, "10.10.6.30", ttl=63)
    f = _flow(cap, C.Link(), ws, 60233, vna, 443, "ws-vna", T0 + 10_800_000_000_000, mss=300)
    notes: list[str] = []

    def server_flight(flow: TcpFlow, d: str, data: bytes) -> None:
        segs = flow.segments(d, data, 300)
        order: list[Segment] = []
        for i, sg in enumerate(segs):
            if i == 4:
                continue  # 4 is sent after 5: out of order
            order.append(sg)
            if i == 3:
                order.append(segs[2])  # retransmission of 2
                notes.append(f"retransmitted: stream offset {segs[2].off} (segment 2) again after segment 3")
            if i == 5:
                order.append(segs[4])
                notes.append(f"out of order: segment 5 (offset {segs[5].off}) before segment 4")
        # overlap: segment 9 is re-cut to start 100 bytes early (overlapping 8), same bytes
        base = flow.sent[d]
        final: list[Segment] = []
        for sg in order:
            if sg is segs[9]:
                a = sg.off - 100
                sg = Segment(a, data[a - base : sg.off - base + len(sg.data)])
                notes.append(f"overlapping: segment 9 resent from offset {a}, 100 bytes into segment 8")
            final.append(sg)
        flow.send_segments(d, final, ack_every=3)

    ch = ch_openssl_device("vna-archive.radiology.example.org", "ws-vna")
    conn = C.tls12_connection(
        f,
        ch=ch,
        sh=sh12("ws-vna", 0xC030, ecdhe=True),
        server_chain=(PACS_ARCHIVE, SERVER_CA, ROOT),
        ca_names=ca_names(),
        client_chain=(READING_WS, RADIOLOGY_CA),
        kx="ecdhe",
        max_fragment=1000,
        coalesce=True,
        hooks={"server_flight": server_flight},
    )
    write(
        out,
        "tls-chain-spanning.pcap",
        cap,
        pcap_writer(1),
        __doc_first(tls_chain_spanning),
        {"type": "pcap", "endian": "little", "resolution": "us", "linktype": 1},
        [conn],
        notes=notes,
    )


def tls_midstream(out: str) -> None:
    """Capture starting mid-connection: a TLS 1.2 mutual-auth connection whose SYN was not
    captured (frame 1 is the ClientHello), then a bulk download joined inside a record."""
    cap = C.Capture()
    # flow 1 (first in the file): missing SYN/SYN-ACK/ACK: the first packet is the ClientHello
    mon = host("nk-monitor", "00:a0:9a:2c:61:05", "10.20.14.23")  # Nihon Kohden
    cs = host("central-station", ROUTER_MAC, "10.10.5.40", ttl=63)
    f = _flow(cap, C.Link(), mon, 38811, cs, 443, "nk-central", T0 + 14_400_000_000_000)
    ch = ch_mbedtls_device("central-station.icu.example.org", "nk-central")
    conn = C.tls12_connection(
        f,
        ch=ch,
        sh=sh12("nk-central", 0xC02B, ecdhe=True, sid=False),
        server_chain=(CENTRAL_STATION, SERVER_CA),
        ca_names=ca_names(),
        client_chain=(NK_MONITOR, DEVICE_CA),
        kx="ecdhe",
        syn=False,
    )
    # flow 2: bulk TLS application data joined 5 000 bytes into the stream
    ws = host("rad-ws-2", "00:1d:4a:10:88:3d", "10.30.9.13")
    pacs = host("pacs01", ROUTER_MAC, "10.10.6.10", ttl=63)
    b = _flow(cap, C.Link(), ws, 51007, pacs, 443, "bulk", f.now_ns + 80_000_000)
    stream = b"".join(C.appdata12(f"bulk/{i}", 16384 - 24) for i in range(3))
    join = 5003
    assert stream[join] not in (20, 21, 22, 23)
    b.sent["c"] = b.rcv_next["c"] = 517 + 126 + 45 + 612  # sent before the capture started
    b.sent["s"] = b.rcv_next["s"] = join
    b.send_segments(
        "s", [Segment(join + i, stream[join + i : join + i + 1448]) for i in range(0, 28 * 1448, 1448)]
    )
    write(
        out,
        "tls-midstream.pcap",
        cap,
        pcap_writer(1),
        __doc_first(tls_midstream),
        {"type": "pcap", "endian": "little", "resolution": "us", "linktype": 1},
        [conn],
        non_tls_flows=[
            {
                "client": C.endpoint(b, "c"),
                "server": C.endpoint(b, "s"),
                "why": f"joined {join} bytes into the server stream, inside a TLS record",
            }
        ],
    )


def vlan_qinq_sll2(out: str) -> None:
    """pcapng, 3 interfaces: Ethernet (802.1Q and QinQ; one SPB), SLL2 in ns, raw IPv4 in
    2^-20 s units; one TLS 1.2 handshake each, two monitors sharing ONE client certificate."""
    cap = C.Capture()
    cs = host("central-station", ROUTER_MAC, "10.10.5.40", ttl=63)
    m1 = host("mindray-b12", "00:0f:14:51:a0:0c", "10.20.120.31")  # Mindray
    m2 = host("mindray-b13", "00:0f:14:51:a0:0d", "10.20.120.32")
    t = T0 + 18_000_000_000_000
    conns = []
    f = _flow(cap, C.Link([(0x8100, 120)]), m1, 40101, cs, 443, "mindray-b12", t)
    f.handshake = lambda fl=f: C.TcpFlow.handshake(fl, spb_ack=True)  # type: ignore[method-assign]
    conns.append(
        C.tls12_connection(
            f,
            ch=ch_mbedtls_device("central-station.icu.example.org", "mindray-b12"),
            sh=sh12("mindray-b12", 0xC02B, ecdhe=True),
            server_chain=(CENTRAL_STATION, SERVER_CA),
            ca_names=ca_names(),
            client_chain=(MINDRAY_FLEET, DEVICE_CA),
            kx="ecdhe",
        )
    )
    f = _flow(
        cap, C.Link([(0x88A8, 3001), (0x8100, 120)]), m2, 40877, cs, 443, "mindray-b13", f.now_ns + 40_000_000
    )
    conns.append(
        C.tls12_connection(
            f,
            ch=ch_mbedtls_device("central-station.icu.example.org", "mindray-b13"),
            sh=sh12("mindray-b13", 0xC02B, ecdhe=True),
            server_chain=(CENTRAL_STATION, SERVER_CA),
            ca_names=ca_names(),
            client_chain=(MINDRAY_FLEET, DEVICE_CA),
            kx="ecdhe",
        )
    )
    vent = host("v500", "00:30:e6:07:11:b2", "10.20.130.12")  # Draeger Medical Systems
    gw = host("resp-gw", ROUTER_MAC, "10.10.8.6", ttl=63)
    f = _flow(
        cap,
        C.Sll2Link(ifindex=4),
        vent,
        33120,
        gw,
        8443,
        "v500-gw",
        f.now_ns + 25_000_000,
        iface=1,
        ts_jitter_ns=417,
    )
    conns.append(
        C.tls12_connection(
            f,
            ch=ch_openssl_device("resp-gw.clin.example.org", "v500-gw"),
            sh=sh12("v500-gw", 0xC02F, ecdhe=True),
            server_chain=(MEDNET_SRV, SERVER_CA),
            ca_names=ca_names(),
            client_chain=(DRAEGER_VENT, DEVICE_CA),
            kx="ecdhe",
        )
    )
    va = host("welch-vitals", "00:1a:fa:3c:00:5e", "10.20.140.5")  # Welch Allyn
    ehr = host("ehr", ROUTER_MAC, "10.10.5.31", ttl=63)
    f = _flow(cap, C.RawLink(228), va, 49200, ehr, 443, "vitals-ehr", f.now_ns + 31_000_000, iface=2)
    conns.append(
        C.tls12_connection(
            f,
            ch=ch_openssl_device("ehr.clin.example.org", "vitals-ehr"),
            sh=sh12("vitals-ehr", 0xC02F, ecdhe=True),
            server_chain=(EHR_WEB, SERVER_CA),
            ca_names=None,
            client_chain=None,
            kx="ecdhe",
        )
    )
    ifaces = [
        C.Interface(1, None, "eth1", "SPAN trunk: 802.1Q and QinQ (802.1ad)"),
        C.Interface(276, 9, "any", "Linux cooked v2, nanoseconds"),
        C.Interface(228, 0x94, "tun0", "raw IPv4, 2^-20 s resolution"),
    ]
    spb = [n for n, p in enumerate(cap.packets, 1) if p.spb]
    write(
        out,
        "vlan-qinq-sll2.pcapng",
        cap,
        pcapng_writer(ifaces, SHB),
        __doc_first(vlan_qinq_sll2),
        {
            "type": "pcapng",
            "interfaces": [
                {"linktype": 1, "tsresol": None, "vlans": "802.1Q 120; QinQ 3001/120"},
                {"linktype": 276, "tsresol": 9},
                {"linktype": 228, "tsresol": "0x94"},
            ],
            "simple_packet_blocks": spb,
        },
        conns,
        notes=[
            "mindray-b12 and mindray-b13 present the SAME client certificate (shared fleet identity).",
            f"frames {spb} are Simple Packet Blocks (no timestamp, interface 0).",
        ],
    )


def ipv6_fragments(out: str) -> None:
    """TLS over IPv6 with hop-by-hop and destination-options headers; a ClientHello in
    four IPv4 fragments sent out of order."""
    cap = C.Capture()
    bed = host("bed-ward4", "00:14:b8:20:04:12", "fd00:10:20:40::31")  # Hill-Rom
    nc = host("nursecall", ROUTER_MAC, "fd00:10:10:4::25", ttl=63)
    f = _flow(
        cap,
        C.Link(),
        bed,
        46001,
        nc,
        443,
        "bed-nursecall",
        T0 + 21_600_000_000_000,
        ipv6=True,
        c_ext=("hbh", "dst"),
        mss=1440,
    )
    c1 = C.tls12_connection(
        f,
        ch=ch_openssl_device("nursecall.clin.example.org", "bed-nursecall"),
        sh=sh12("bed-nursecall", 0xC02B, ecdhe=True),
        server_chain=(NURSECALL_SRV, SERVER_CA),
        ca_names=ca_names(),
        client_chain=(NURSECALL_BED, DEVICE_CA),
        kx="ecdhe",
    )
    pump = host("plum360", "00:03:b1:0f:02:17", "10.20.33.41")  # ICU Medical
    mednet = host("mednet", ROUTER_MAC, "10.10.4.21", ttl=63)
    f = _flow(cap, C.Link(), pump, 39017, mednet, 443, "plum-mednet", f.now_ns + 500_000_000)
    frag_order = (2, 0, 3, 1)

    def fragmented(flow: TcpFlow, d: str, data: bytes) -> None:
        flow.send_fragmented(d, data, 208, frag_order)

    ch = padded(ch_openssl_device("mednet.clin.example.org", "plum-mednet"), 720)
    c2 = C.tls12_connection(
        f,
        ch=ch,
        sh=sh12("plum-mednet", 0x009C),
        server_chain=(MEDNET_SRV, SERVER_CA),
        ca_names=ca_names(),
        client_chain=(ICU_PUMP, DEVICE_CA),
        kx="rsa",
        hooks={"client_hello": fragmented},
    )
    write(
        out,
        "ipv6-fragments.pcap",
        cap,
        pcap_writer(1),
        __doc_first(ipv6_fragments),
        {"type": "pcap", "endian": "little", "resolution": "us", "linktype": 1},
        [c1, c2],
        notes=[
            "bed-nursecall: client packets carry IPv6 Hop-by-Hop (Router Alert) and "
            "Destination Options headers.",
            "plum-mednet: the ClientHello segment is cut into 4 IPv4 fragments (208-byte payloads) "
            f"sent in order {list(frag_order)}; the last one sent completes it.",
        ],
    )


def bigendian_ns(out: str) -> None:
    """Big-endian pcap with nanosecond timestamps (magic a1b23c4d), raw IP link type (101)."""
    cap = C.Capture()
    lab = host("atellica", "00:18:65:0a:31:09", "10.50.3.9")  # Siemens Healthcare Diagnostics
    lis = host("lis", ROUTER_MAC, "10.10.7.40", ttl=63)
    f = _flow(
        cap, C.RawLink(101), lab, 40500, lis, 6443, "atellica-lis", T0 + 25_200_000_000_000, ts_jitter_ns=123
    )
    conn = C.tls12_connection(
        f,
        ch=ch_openssl_device("lis.lab.example.org", "atellica-lis"),
        sh=sh12("atellica-lis", 0xC02B, ecdhe=True),
        server_chain=(LIS_SRV, SERVER_CA),
        ca_names=ca_names(),
        client_chain=(LAB_ANALYZER, DEVICE_CA),
        kx="ecdhe",
    )
    write(
        out,
        "bigendian-ns.pcap",
        cap,
        pcap_writer(101, endian=">", nanos=True),
        __doc_first(bigendian_ns),
        {
            "type": "pcap",
            "endian": "big",
            "resolution": "ns",
            "linktype": 101,
            "first_ts_ns": cap.packets[0].ts_ns,
        },
        [conn],
    )


def sll_loopback(out: str) -> None:
    """gzip-compressed pcap, Linux cooked (SLL, DLT 113) on loopback: a legacy analyzer's
    self-signed, expired, RSA-1024/SHA-1 client certificate to a local TLS proxy."""
    cap = C.Capture()
    lo_c = host("lo-client", "00:00:00:00:00:00", "127.0.0.1")
    lo_s = host("lo-server", "00:00:00:00:00:00", "127.0.0.1")
    f = _flow(
        cap,
        C.SllLink(hatype=772),
        lo_c,
        45870,
        lo_s,
        8443,
        "legacy-proxy",
        T0 + 28_800_000_000_000,
        rtt_us=40,
        mss=65483,
    )
    conn = C.tls12_connection(
        f,
        ch=ch_openssl_device(None, "legacy-proxy"),
        sh=sh12("legacy-proxy", 0xC02B, ecdhe=True),
        server_chain=(LOCAL_PROXY,),
        ca_names=[LEGACY_LAB.subject],
        client_chain=(LEGACY_LAB,),
        kx="ecdhe",
    )
    write(
        out,
        "sll-loopback.pcap.gz",
        cap,
        pcap_writer(113, gz=True),
        __doc_first(sll_loopback),
        {"type": "pcap", "compression": "gzip", "endian": "little", "resolution": "us", "linktype": 113},
        [conn],
        notes=[
            "No SNI in this ClientHello.",
            "Client certificate: self-signed, RSA 1024, sha1WithRSAEncryption, expired 2024-12-31.",
        ],
    )


def bsd_loopback(out: str) -> None:
    """BSD loopback (DLT_NULL) on a macOS reading workstation: DICOM-TLS over IPv4 to a
    local node on 11112 with a client certificate, and TLS 1.2 over IPv6 ::1 without one."""
    cap = C.Capture()
    v4 = host("lo4", "00:00:00:00:00:00", "127.0.0.1")
    v6c = host("lo6", "00:00:00:00:00:00", "::1")
    link = C.NullLink(af_inet6=30)
    f = _flow(cap, link, v4, 52110, v4, 11112, "ws-localnode", T0 + 32_400_000_000_000, rtt_us=30, mss=16344)
    c1 = C.tls12_connection(
        f,
        ch=ch_openssl_device("localhost", "ws-localnode"),
        sh=sh12("ws-localnode", 0xC02B, ecdhe=True),
        server_chain=(LOCAL_PROXY,),
        ca_names=ca_names(),
        client_chain=(READING_WS, RADIOLOGY_CA),
        kx="ecdhe",
    )
    f = _flow(
        cap, link, v6c, 52111, v6c, 8443, "ws-local6", f.now_ns + 2_000_000, rtt_us=30, ipv6=True, mss=16324
    )
    c2 = C.tls12_connection(
        f,
        ch=ch_openssl_device("localhost", "ws-local6"),
        sh=sh12("ws-local6", 0xC02B, ecdhe=True),
        server_chain=(LOCAL_PROXY,),
        ca_names=None,
        client_chain=None,
        kx="ecdhe",
    )
    write(
        out,
        "bsd-loopback.pcap",
        cap,
        pcap_writer(0),
        __doc_first(bsd_loopback),
        {"type": "pcap", "endian": "little", "resolution": "us", "linktype": 0, "af_inet6": 30},
        [c1, c2],
    )


def __doc_first(fn: Callable[..., Any]) -> str:
    return " ".join((fn.__doc__ or "").split())


CAPTURES = (
    tls12_mutual_auth,
    tls_dicom_2762,
    tls13_mutual_and_not,
    tls_chain_spanning,
    tls_midstream,
    vlan_qinq_sll2,
    ipv6_fragments,
    bigendian_ns,
    sll_loopback,
    bsd_loopback,
)


def main() -> None:
    """Write every capture."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=HERE)
    args = ap.parse_args()
    for fn in CAPTURES:
        fn(args.out)


if __name__ == "__main__":
    main()
