#!/usr/bin/env python3
"""Write every sample capture and its `<capture>.expected.json` (the planted facts).

    python sample_pcaps/generate.py [--out DIR]

Deterministic: the same bytes on every run (fixed keys, dates, randoms, timestamps; see
craft/). The expected files are computed from the generator's own inputs, never from
trustwatch. `verify.py` then checks them against tshark and records tshark's JA3/JA3S
under "tshark" (kept by this script when it rewrites an expected file).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from craft.capture import (
    RADIOLOGY_SPAN,
    SPAN_SHB,
    Capture,
    Interface,
    Writer,
    output_dir,
    pcap_writer,
    pcapng_writer,
    write_expected,
)
from craft.certs import Cert, make_cert, name, resign_sha1_rsa
from craft.fixed import epoch_ns, utc
from craft.flows import Segment, TcpFlow, endpoint
from craft.hospital_pki import (
    CENTRAL_STATION,
    DEVICE_CA,
    EHR_WEB,
    INFUSION_SRV,
    LIS_SRV,
    MEDNET_SRV,
    MONITORING_GW,
    NURSECALL_SRV,
    PACS_ARCHIVE,
    PACS_SRV,
    RADIOLOGY_CA,
    ROOT,
    SERVER_CA,
    ca_names,
    device_leaf,
)
from craft.keys import RSA_LEGACY_1024, RSA_PUMP_GATEWAY, ec_key, rsa_key
from craft.link import CookedLink, Host, Link, NullLink, RawLink, host, routed_host
from craft.tls import appdata12
from craft.tls_connection import Conn, tls12_connection, tls13_connection
from craft.tls_profiles import ch_chrome, ch_java_tls13, ch_mbedtls_device, ch_openssl_device, padded, sh12, sh13

# --------------------------------------------------------------------------------------
# the devices' certificates (fixed keys, fixed dates)
# --------------------------------------------------------------------------------------

PUMP_GW = device_leaf("pump-gw-icu3.clin.example.org", rsa_key(RSA_PUMP_GATEWAY), 0x4B0001, "Infusion Systems",
                      serial_number="BBR-SPC-0049217")
CT_SCANNER = device_leaf("ct02-modality.radiology.example.org", ec_key(0x0C7_0002), 0x4B0002, "Radiology",
                         issuer=RADIOLOGY_CA, serial_number="GEHC-CT-5521983")
PHILIPS_MON = device_leaf("mx800-bed12.icu.example.org", ec_key(0x0900_0012), 0x4B0003, "Patient Monitoring",
                          serial_number="PHI-MX800-DE71544")
MINDRAY_FLEET = device_leaf("mindray-bedside-fleet.icu.example.org", ec_key(0x00F1_EE7), 0x4B0004,
                            "Patient Monitoring")  # ONE cert installed on every monitor of the fleet
DRAEGER_VENT = device_leaf("v500-vent07.icu.example.org", ec_key(0xD4A6_0007), 0x4B0005, "Respiratory",
                           serial_number="DRG-V500-ASFK-0107")
NK_MONITOR = device_leaf("bsm6000-bed03.icu.example.org", ec_key(0x0A09_0003), 0x4B000A, "Patient Monitoring")
NURSECALL_BED = device_leaf("bed-ward4-r12.clin.example.org", ec_key(0x0B3D_0412), 0x4B0006, "Beds")
ICU_PUMP = device_leaf("plum360-0217.clin.example.org", rsa_key(RSA_PUMP_GATEWAY), 0x4B0007, "Infusion Systems",
                       serial_number="ICU-PLUM-15830217")
LAB_ANALYZER = device_leaf("atellica-ch-01.lab.example.org", ec_key(0x0A7E_0001), 0x4B0008, "Laboratory",
                           serial_number="SHS-ATL-CH-000931")
READING_WS = device_leaf("rad-reading-ws04.radiology.example.org", ec_key(0x0EAD_0004), 0x4B0009, "Radiology",
                         issuer=RADIOLOGY_CA)
# a legacy device: self-signed, RSA-1024, SHA-1, expired at the end of 2024
LEGACY_LAB = resign_sha1_rsa(make_cert(name("LABSYS-ANALYZER-7", "Legacy Lab Systems", c=None),
                                       rsa_key(RSA_LEGACY_1024), issuer=None, serial=0x01,
                                       not_before=utc(2014, 12, 31), not_after=utc(2024, 12, 31)))
# client certificates the server answers (issue 17): two expired at packet time (2025-03-11),
# one whose signature does not verify against the CA it names (signed by another key)
DOCK_EXPIRED = device_leaf("spacestation-0412.clin.example.org", ec_key(0xD0C4_0412), 0x4B000B, "Infusion Systems",
                           serial_number="BBR-SST-0412", not_before=utc(2022, 9, 30), not_after=utc(2024, 9, 30))
VENT_EXPIRED = device_leaf("v300-vent11.icu.example.org", ec_key(0xD4A6_0011), 0x4B000C, "Respiratory",
                           serial_number="DRG-V300-ARCE-0111", not_before=utc(2021, 12, 31),
                           not_after=utc(2024, 12, 31))
ROGUE_DEVICE_CA = Cert(DEVICE_CA.cert, ec_key(0xBAD_CA))
"""The device CA's name with a key that is not its own: what it signs does not verify."""
MONITOR_FORGED = device_leaf("mx450-bed07.icu.example.org", ec_key(0x0900_0007), 0x4B000D, "Patient Monitoring",
                             issuer=ROGUE_DEVICE_CA, serial_number="PHI-MX450-DE60219")
LOCAL_PROXY = make_cert(name("localhost", "HL7 TLS proxy", c=None), ec_key(0x10CA_1001), issuer=None, serial=0x5E1F,
                        not_before=utc(2025, 1, 2), not_after=utc(2035, 1, 2), dns=("localhost",),
                        ips=("127.0.0.1",), eku=("server",))

# --------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------

PCAP_ETHERNET = {"type": "pcap", "endian": "little", "resolution": "us", "linktype": 1}
"""The `format` of a little-endian, µs, Ethernet pcap."""
T0 = epoch_ns(utc(2025, 3, 11, 7, 30, 0))


def write(out: str, fname: str, cap: Capture, writer: Writer, description: str, fmt: dict[str, Any],
          conns: list[Conn], non_tls_flows: list[dict[str, Any]] | None = None,
          notes: list[str] | None = None) -> None:
    """Write the capture and its expected.json (keeping a previous "tshark" section)."""
    writer(os.path.join(out, fname), cap.packets)
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
    write_expected(exp_path, doc)


# --------------------------------------------------------------------------------------
# the captures
# --------------------------------------------------------------------------------------


def tls12_mutual_auth(out: str) -> None:
    """Infusion-pump gateway, TLS 1.2 mutual auth to the infusion management server."""
    cap = Capture()
    gw = host("pump-gw", "00:12:21:4a:7c:19", "10.20.31.15")  # B. Braun Melsungen
    srv = routed_host("infusion-mgmt", "10.10.4.20")
    f = TcpFlow.labelled(cap, Link(), gw, 50412, srv, 443, "pump-gw-1", T0)
    conn = tls12_connection(f, ch=ch_openssl_device("infusion-mgmt.clin.example.org", "pump-gw-1"),
                            sh=sh12("pump-gw-1", 0x009C), server_chain=(INFUSION_SRV, SERVER_CA), ca_names=ca_names(),
                            client_chain=(PUMP_GW, DEVICE_CA), kx="rsa", coalesce=False,
                            app=(("c", 612), ("s", 188), ("c", 2400), ("s", 96)))
    write(out, "tls12-mutual-auth.pcap", cap, pcap_writer(1), __doc_first(tls12_mutual_auth), PCAP_ETHERNET, [conn])


def tls_dicom_2762(out: str) -> None:
    """CT modality, DICOM over TLS (port 2762) with an EC client certificate; pcapng."""
    cap = Capture()
    ct = host("ct02", "44:4b:5d:02:31:a7", "10.30.8.41")  # GE Healthcare
    pacs = routed_host("pacs01", "10.10.6.10")
    f = TcpFlow.labelled(cap, Link(), ct, 49822, pacs, 2762, "ct02-pacs", T0 + 3_600_000_000_000)
    app = [("c", 402), ("s", 218)] + [("c", 16384)] * 4 + [("s", 74), ("c", 10), ("s", 10)]
    conn = tls12_connection(f, ch=ch_openssl_device("pacs01.radiology.example.org", "ct02-pacs"),
                            sh=sh12("ct02-pacs", 0xC02F, ecdhe=True), server_chain=(PACS_SRV, SERVER_CA),
                            ca_names=ca_names(), client_chain=(CT_SCANNER, RADIOLOGY_CA), kx="ecdhe", app=app)
    fr = conn.resolve(cap)["frames"]
    cap.packets[fr["client_certificate"] - 1].comment = "planted: client certificate of ct02 (EC P-256)"
    write(out, "tls-dicom-2762.pcapng", cap, pcapng_writer([RADIOLOGY_SPAN], SPAN_SHB), __doc_first(tls_dicom_2762),
          {"type": "pcapng", "interfaces": [{"linktype": 1, "tsresol": 6}]}, [conn])


def tls13_mutual_and_not(out: str) -> None:
    """Two TLS 1.3 handshakes: a patient monitor with client auth, a browser without."""
    cap = Capture()
    mon = host("mx800", "00:09:5c:3e:12:0c", "10.20.12.77")  # Philips Medical Systems
    gw = routed_host("monitoring-gw", "10.10.5.30")
    f1 = TcpFlow.labelled(cap, Link(), mon, 41022, gw, 443, "mx800-gw", T0 + 7_200_000_000_000)
    ch1 = ch_java_tls13("monitoring-gw.clin.example.org", "mx800-gw")
    c1 = tls13_connection(f1, ch=ch1, sh=sh13("mx800-gw", ch1, 0x1302), server_chain=(MONITORING_GW, SERVER_CA),
                          client_chain=(PHILIPS_MON,), hash_len=48)
    ws = host("ws-nurse-4", "00:06:5b:71:0a:44", "10.40.2.118", ttl=128)  # Dell
    ehr = routed_host("ehr", "10.10.5.31", ttl=127)
    f2 = TcpFlow.labelled(cap, Link(), ws, 53544, ehr, 443, "ws-ehr", f1.now_ns + 250_000_000)
    ch2 = ch_chrome("ehr.clin.example.org", "ws-ehr")
    c2 = tls13_connection(f2, ch=ch2, sh=sh13("ws-ehr", ch2, 0x1301), server_chain=(EHR_WEB, SERVER_CA),
                          client_chain=None, hash_len=32)
    write(out, "tls13-mutual-and-not.pcap", cap, pcap_writer(1), __doc_first(tls13_mutual_and_not), PCAP_ETHERNET,
          [c1, c2], notes=[
              "TLS 1.3: certificates and CertificateRequest are encrypted; tls13.* gives the planted shape.",
              "mx800-gw: client flight = CCS + Certificate + CertificateVerify + Finished (mutual-auth shaped);"
              " ws-ehr: CCS + one 53-byte Finished record.",
          ])


def tls_chain_spanning(out: str) -> None:
    """Server chain spanning 4 TLS records and 15 TCP segments (MSS 300), with one
    retransmitted, one out-of-order and one overlapping segment."""
    cap = Capture()
    ws = host("carestream-ws", "00:1d:4a:10:88:3c", "10.30.9.12")  # Carestream Health
    vna = routed_host("vna", "10.10.6.30")
    f = TcpFlow.labelled(cap, Link(), ws, 60233, vna, 443, "ws-vna", T0 + 10_800_000_000_000, mss=300)
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

    conn = tls12_connection(f, ch=ch_openssl_device("vna-archive.radiology.example.org", "ws-vna"),
                            sh=sh12("ws-vna", 0xC030, ecdhe=True), server_chain=(PACS_ARCHIVE, SERVER_CA, ROOT),
                            ca_names=ca_names(), client_chain=(READING_WS, RADIOLOGY_CA), kx="ecdhe",
                            max_fragment=1000, coalesce=True, hooks={"server_flight": server_flight})
    write(out, "tls-chain-spanning.pcap", cap, pcap_writer(1), __doc_first(tls_chain_spanning), PCAP_ETHERNET,
          [conn], notes=notes)


def tls_midstream(out: str) -> None:
    """Capture starting mid-connection: a TLS 1.2 mutual-auth connection whose SYN was not
    captured (frame 1 is the ClientHello), then a bulk download joined inside a record."""
    cap = Capture()
    # flow 1 (first in the file): missing SYN/SYN-ACK/ACK: the first packet is the ClientHello
    mon = host("nk-monitor", "00:a0:9a:2c:61:05", "10.20.14.23")  # Nihon Kohden
    cs = routed_host("central-station", "10.10.5.40")
    f = TcpFlow.labelled(cap, Link(), mon, 38811, cs, 443, "nk-central", T0 + 14_400_000_000_000)
    conn = tls12_connection(f, ch=ch_mbedtls_device("central-station.icu.example.org", "nk-central"),
                            sh=sh12("nk-central", 0xC02B, ecdhe=True, sid=False),
                            server_chain=(CENTRAL_STATION, SERVER_CA), ca_names=ca_names(),
                            client_chain=(NK_MONITOR, DEVICE_CA), kx="ecdhe", syn=False)
    # flow 2: bulk TLS application data joined 5 000 bytes into the stream
    ws = host("rad-ws-2", "00:1d:4a:10:88:3d", "10.30.9.13")
    pacs = routed_host("pacs01", "10.10.6.10")
    b = TcpFlow.labelled(cap, Link(), ws, 51007, pacs, 443, "bulk", f.now_ns + 80_000_000)
    stream = b"".join(appdata12(f"bulk/{i}", 16384 - 24) for i in range(3))
    join = 5003
    assert stream[join] not in (20, 21, 22, 23)
    b.sent["c"] = b.rcv_next["c"] = 517 + 126 + 45 + 612  # sent before the capture started
    b.sent["s"] = b.rcv_next["s"] = join
    b.send_segments("s", [Segment(join + i, stream[join + i : join + i + 1448]) for i in range(0, 28 * 1448, 1448)])
    not_tls = {"client": endpoint(b, "c"), "server": endpoint(b, "s"),
               "why": f"joined {join} bytes into the server stream, inside a TLS record"}
    write(out, "tls-midstream.pcap", cap, pcap_writer(1), __doc_first(tls_midstream), PCAP_ETHERNET, [conn],
          non_tls_flows=[not_tls])


def vlan_qinq_sll2(out: str) -> None:
    """pcapng, 3 interfaces: Ethernet (802.1Q and QinQ; one SPB), SLL2 in ns, raw IPv4 in
    2^-20 s units; one TLS 1.2 handshake each, two monitors sharing ONE client certificate."""
    cap = Capture()
    cs = routed_host("central-station", "10.10.5.40")
    m1 = host("mindray-b12", "00:0f:14:51:a0:0c", "10.20.120.31")  # Mindray
    m2 = host("mindray-b13", "00:0f:14:51:a0:0d", "10.20.120.32")

    def fleet_monitor(flow: TcpFlow, syn: bool) -> Conn:
        return tls12_connection(flow, ch=ch_mbedtls_device("central-station.icu.example.org", flow.flow_id),
                                sh=sh12(flow.flow_id, 0xC02B, ecdhe=True), server_chain=(CENTRAL_STATION, SERVER_CA),
                                ca_names=ca_names(), client_chain=(MINDRAY_FLEET, DEVICE_CA), kx="ecdhe", syn=syn)

    f = TcpFlow.labelled(cap, Link([(0x8100, 120)]), m1, 40101, cs, 443, "mindray-b12", T0 + 18_000_000_000_000)
    f.handshake(spb_ack=True)  # the ACK is written as a Simple Packet Block
    conns = [fleet_monitor(f, syn=False)]
    f = TcpFlow.labelled(cap, Link([(0x88A8, 3001), (0x8100, 120)]), m2, 40877, cs, 443, "mindray-b13",
                         f.now_ns + 40_000_000)
    conns.append(fleet_monitor(f, syn=True))
    vent = host("v500", "00:30:e6:07:11:b2", "10.20.130.12")  # Draeger Medical Systems
    gw = routed_host("resp-gw", "10.10.8.6")
    f = TcpFlow.labelled(cap, CookedLink(version=2, ifindex=4), vent, 33120, gw, 8443, "v500-gw",
                         f.now_ns + 25_000_000, iface=1, ts_jitter_ns=417)
    conns.append(tls12_connection(f, ch=ch_openssl_device("resp-gw.clin.example.org", "v500-gw"),
                                  sh=sh12("v500-gw", 0xC02F, ecdhe=True), server_chain=(MEDNET_SRV, SERVER_CA),
                                  ca_names=ca_names(), client_chain=(DRAEGER_VENT, DEVICE_CA), kx="ecdhe"))
    va = host("welch-vitals", "00:1a:fa:3c:00:5e", "10.20.140.5")  # Welch Allyn
    ehr = routed_host("ehr", "10.10.5.31")
    f = TcpFlow.labelled(cap, RawLink(228), va, 49200, ehr, 443, "vitals-ehr", f.now_ns + 31_000_000, iface=2)
    conns.append(tls12_connection(f, ch=ch_openssl_device("ehr.clin.example.org", "vitals-ehr"),
                                  sh=sh12("vitals-ehr", 0xC02F, ecdhe=True), server_chain=(EHR_WEB, SERVER_CA),
                                  ca_names=None, client_chain=None, kx="ecdhe"))
    ifaces = [
        Interface(1, None, "eth1", "SPAN trunk: 802.1Q and QinQ (802.1ad)"),
        Interface(276, 9, "any", "Linux cooked v2, nanoseconds"),
        Interface(228, 0x94, "tun0", "raw IPv4, 2^-20 s resolution"),
    ]
    spb = [n for n, p in enumerate(cap.packets, 1) if p.spb]
    fmt = {"type": "pcapng",
           "interfaces": [{"linktype": 1, "tsresol": None, "vlans": "802.1Q 120; QinQ 3001/120"},
                          {"linktype": 276, "tsresol": 9}, {"linktype": 228, "tsresol": "0x94"}],
           "simple_packet_blocks": spb}
    write(out, "vlan-qinq-sll2.pcapng", cap, pcapng_writer(ifaces, SPAN_SHB), __doc_first(vlan_qinq_sll2), fmt, conns,
          notes=["mindray-b12 and mindray-b13 present the SAME client certificate (shared fleet identity).",
                 f"frames {spb} are Simple Packet Blocks (no timestamp, interface 0)."])


def ipv6_fragments(out: str) -> None:
    """TLS over IPv6 with hop-by-hop and destination-options headers; a ClientHello in
    four IPv4 fragments sent out of order."""
    cap = Capture()
    bed = host("bed-ward4", "00:14:b8:20:04:12", "fd00:10:20:40::31")  # Hill-Rom
    nc = routed_host("nursecall", "fd00:10:10:4::25")
    f = TcpFlow.labelled(cap, Link(), bed, 46001, nc, 443, "bed-nursecall", T0 + 21_600_000_000_000, ipv6=True,
                         c_ext=("hbh", "dst"), mss=1440)
    c1 = tls12_connection(f, ch=ch_openssl_device("nursecall.clin.example.org", "bed-nursecall"),
                          sh=sh12("bed-nursecall", 0xC02B, ecdhe=True), server_chain=(NURSECALL_SRV, SERVER_CA),
                          ca_names=ca_names(), client_chain=(NURSECALL_BED, DEVICE_CA), kx="ecdhe")
    pump = host("plum360", "00:03:b1:0f:02:17", "10.20.33.41")  # ICU Medical
    mednet = routed_host("mednet", "10.10.4.21")
    f = TcpFlow.labelled(cap, Link(), pump, 39017, mednet, 443, "plum-mednet", f.now_ns + 500_000_000)
    frag_order = (2, 0, 3, 1)

    def fragmented(flow: TcpFlow, d: str, data: bytes) -> None:
        flow.send_fragmented(d, data, 208, frag_order)

    c2 = tls12_connection(f, ch=padded(ch_openssl_device("mednet.clin.example.org", "plum-mednet"), 720),
                          sh=sh12("plum-mednet", 0x009C), server_chain=(MEDNET_SRV, SERVER_CA), ca_names=ca_names(),
                          client_chain=(ICU_PUMP, DEVICE_CA), kx="rsa", hooks={"client_hello": fragmented})
    write(out, "ipv6-fragments.pcap", cap, pcap_writer(1), __doc_first(ipv6_fragments), PCAP_ETHERNET, [c1, c2],
          notes=["bed-nursecall: client packets carry IPv6 Hop-by-Hop (Router Alert) and "
                 "Destination Options headers.",
                 "plum-mednet: the ClientHello segment is cut into 4 IPv4 fragments (208-byte payloads) "
                 f"sent in order {list(frag_order)}; the last one sent completes it."])


def bigendian_ns(out: str) -> None:
    """Big-endian pcap with nanosecond timestamps (magic a1b23c4d), raw IP link type (101)."""
    cap = Capture()
    lab = host("atellica", "00:18:65:0a:31:09", "10.50.3.9")  # Siemens Healthcare Diagnostics
    lis = routed_host("lis", "10.10.7.40")
    f = TcpFlow.labelled(cap, RawLink(101), lab, 40500, lis, 6443, "atellica-lis", T0 + 25_200_000_000_000,
                         ts_jitter_ns=123)
    conn = tls12_connection(f, ch=ch_openssl_device("lis.lab.example.org", "atellica-lis"),
                            sh=sh12("atellica-lis", 0xC02B, ecdhe=True), server_chain=(LIS_SRV, SERVER_CA),
                            ca_names=ca_names(), client_chain=(LAB_ANALYZER, DEVICE_CA), kx="ecdhe")
    fmt = {"type": "pcap", "endian": "big", "resolution": "ns", "linktype": 101, "first_ts_ns": cap.packets[0].ts_ns}
    write(out, "bigendian-ns.pcap", cap, pcap_writer(101, endian=">", nanos=True), __doc_first(bigendian_ns), fmt,
          [conn])


def sll_loopback(out: str) -> None:
    """gzip-compressed pcap, Linux cooked (SLL, DLT 113) on loopback: a legacy analyzer's
    self-signed, expired, RSA-1024/SHA-1 client certificate to a local TLS proxy."""
    cap = Capture()
    lo_c = host("lo-client", "00:00:00:00:00:00", "127.0.0.1")
    lo_s = host("lo-server", "00:00:00:00:00:00", "127.0.0.1")
    f = TcpFlow.labelled(cap, CookedLink(hatype=772), lo_c, 45870, lo_s, 8443, "legacy-proxy", T0 + 28_800_000_000_000,
                         rtt_us=40, mss=65483)
    conn = tls12_connection(f, ch=ch_openssl_device(None, "legacy-proxy"), sh=sh12("legacy-proxy", 0xC02B, ecdhe=True),
                            server_chain=(LOCAL_PROXY,), ca_names=[LEGACY_LAB.subject], client_chain=(LEGACY_LAB,),
                            kx="ecdhe")
    fmt = {"type": "pcap", "compression": "gzip", "endian": "little", "resolution": "us", "linktype": 113}
    write(out, "sll-loopback.pcap.gz", cap, pcap_writer(113, gz=True), __doc_first(sll_loopback), fmt, [conn],
          notes=["No SNI in this ClientHello.",
                 "Client certificate: self-signed, RSA 1024, sha1WithRSAEncryption, expired 2024-12-31."])


def bsd_loopback(out: str) -> None:
    """BSD loopback (DLT_NULL) on a macOS reading workstation: DICOM-TLS over IPv4 to a
    local node on 11112 with a client certificate, and TLS 1.2 over IPv6 ::1 without one."""
    cap = Capture()
    v4 = host("lo4", "00:00:00:00:00:00", "127.0.0.1")
    v6c = host("lo6", "00:00:00:00:00:00", "::1")
    link = NullLink(af_inet6=30)
    f = TcpFlow.labelled(cap, link, v4, 52110, v4, 11112, "ws-localnode", T0 + 32_400_000_000_000, rtt_us=30,
                         mss=16344)
    c1 = tls12_connection(f, ch=ch_openssl_device("localhost", "ws-localnode"),
                          sh=sh12("ws-localnode", 0xC02B, ecdhe=True), server_chain=(LOCAL_PROXY,),
                          ca_names=ca_names(), client_chain=(READING_WS, RADIOLOGY_CA), kx="ecdhe")
    f = TcpFlow.labelled(cap, link, v6c, 52111, v6c, 8443, "ws-local6", f.now_ns + 2_000_000, rtt_us=30, ipv6=True,
                         mss=16324)
    c2 = tls12_connection(f, ch=ch_openssl_device("localhost", "ws-local6"), sh=sh12("ws-local6", 0xC02B, ecdhe=True),
                          server_chain=(LOCAL_PROXY,), ca_names=None, client_chain=None, kx="ecdhe")
    fmt = {"type": "pcap", "endian": "little", "resolution": "us", "linktype": 0, "af_inet6": 30}
    write(out, "bsd-loopback.pcap", cap, pcap_writer(0), __doc_first(bsd_loopback), fmt, [c1, c2])


ALERTS = {42: "bad_certificate", 45: "certificate_expired"}
"""The alerts the refusing servers send (RFC 5246 7.2)."""


def answered_client_cert(client: Host, server: Host, ports: tuple[int, int], flow_id: str, start_ns: int,
                         server_chain: tuple[Cert, ...], client_chain: tuple[Cert, ...],
                         alert: int | None) -> tuple[Capture, Conn]:
    """One TLS 1.2 mutual-auth connection and the server's answer to the client certificate:
    the fatal alert `alert` in clear, or (None) its Finished and application data both ways;
    planted under "server_answer", with the frames of the answer."""
    cap = Capture()
    f = TcpFlow.labelled(cap, Link(), client, ports[0], server, ports[1], flow_id, start_ns)
    sni = server_chain[0].facts()["sans"][0].removeprefix("DNS:")
    conn = tls12_connection(f, ch=ch_openssl_device(sni, flow_id), sh=sh12(flow_id, 0xC02B, ecdhe=True),
                            server_chain=server_chain, ca_names=ca_names(), client_chain=client_chain, kx="ecdhe",
                            app=(), close=alert is not None, alert=alert)
    if alert is not None:
        conn.facts["server_answer"] = {
            "outcome": "failure", "alert": {"level": "fatal", "description": alert, "name": ALERTS[alert]},
            "why": "the server's fatal alert in clear instead of its ChangeCipherSpec and Finished"}
        return cap, conn
    conn.marks["server_finished"] = ("s", f.sent["s"])
    for i, (d, n) in enumerate((("c", 412), ("s", 1380), ("c", 96), ("s", 64))):
        rec = appdata12(f"{flow_id}/app{i}", n)
        start = f.send(d, rec)
        conn.marks.setdefault(f"{'client' if d == 'c' else 'server'}_data", (d, start + len(rec)))
    f.close()
    conn.facts["server_answer"] = {"outcome": "success", "alert": None,
                                   "why": "the server's Finished, then application data both ways"}
    return cap, conn


def tls12_expired_cert_accepted(out: str) -> None:
    """An infusion-pump docking station presents its device certificate, expired since
    2024-09-30, and the infusion management server accepts it (fails open): its Finished,
    then application data both ways."""
    dock = host("spacestation-0412", "00:12:21:5c:04:12", "10.20.31.42")  # B. Braun Melsungen
    cap, conn = answered_client_cert(dock, routed_host("infusion-mgmt", "10.10.4.20"), (51320, 443), "dock-infusion",
                                     T0 + 36_000_000_000_000, (INFUSION_SRV, SERVER_CA), (DOCK_EXPIRED, DEVICE_CA),
                                     None)
    write(out, "tls12-expired-cert-accepted.pcap", cap, pcap_writer(1), __doc_first(tls12_expired_cert_accepted),
          PCAP_ETHERNET, [conn], notes=["The client certificate expired 2024-09-30T00:00:00Z, five months before "
                                        "the packets: accepted (the server fails open)."])


def tls12_expired_cert_refused(out: str) -> None:
    """A ventilator presents its device certificate, expired since 2024-12-31, and the
    respiratory gateway refuses it with a fatal certificate_expired alert (fails closed)."""
    vent = host("v300-vent11", "00:30:e6:07:11:c4", "10.20.130.21")  # Draeger Medical Systems
    cap, conn = answered_client_cert(vent, routed_host("resp-gw", "10.10.8.6"), (33418, 8443), "vent-resp-gw",
                                     T0 + 36_060_000_000_000, (MEDNET_SRV, SERVER_CA), (VENT_EXPIRED, DEVICE_CA), 45)
    write(out, "tls12-expired-cert-refused.pcap", cap, pcap_writer(1), __doc_first(tls12_expired_cert_refused),
          PCAP_ETHERNET, [conn], notes=["The client certificate expired 2024-12-31T00:00:00Z: refused with "
                                        "certificate_expired (45), the server fails closed."])


def tls12_bad_cert_refused(out: str) -> None:
    """A patient monitor presents a certificate that names the device CA as its issuer but
    was signed with another key; the monitoring gateway refuses it with a fatal
    bad_certificate alert."""
    mon = host("mx450-bed07", "00:09:5c:3e:07:45", "10.20.12.47")  # Philips Medical Systems
    cap, conn = answered_client_cert(mon, routed_host("monitoring-gw", "10.10.5.30"), (41877, 443), "mx450-gw",
                                     T0 + 36_120_000_000_000, (MONITORING_GW, SERVER_CA), (MONITOR_FORGED, DEVICE_CA),
                                     42)
    write(out, "tls12-bad-cert-refused.pcap", cap, pcap_writer(1), __doc_first(tls12_bad_cert_refused),
          PCAP_ETHERNET, [conn], notes=["The client certificate is valid in time, but its signature does not verify "
                                        "with the device CA's key: refused with bad_certificate (42)."])


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
    tls12_expired_cert_accepted,
    tls12_expired_cert_refused,
    tls12_bad_cert_refused,
)


def main() -> None:
    """Write every capture."""
    out = output_dir(__doc__ or "")
    for fn in CAPTURES:
        fn(out)


if __name__ == "__main__":
    main()
