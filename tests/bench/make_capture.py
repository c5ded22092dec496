#!/usr/bin/env python3
"""Write a large, deterministic benchmark capture of a hospital segment (pcap, Ethernet, µs).

    python tests/bench/make_capture.py [--size 1G] [--mix hospital|small] [-o FILE]

--mix hospital (default): the bulk is DICOM C-STORE-like transfers (A-ASSOCIATE, then
P-DATA-TF PDUs in 1448-byte segments, ACKs the other way) to PACS on 104/11112, TLS
application-data downloads on 443 and TLS backups on 8400 (each opened by a real TLS
handshake), RTP-like voice and syslog over UDP; ~2 % of the packets carry identity: TLS 1.2
and 1.3 handshakes (client and server certificates) of ~400 devices to ~10 servers, some on
2762, some 802.1Q-tagged, a few fleets sharing one client certificate.
--mix small: average frame <= 300 B: HL7 v2 over MLLP and HTTP polls (request, response,
ACK), DNS, syslog, and the same ~2 % of TLS handshakes.

Packets that carry identity are crafted by sample_pcaps/craft/ (scapy) one by one; bulk
packets come from templates built once by scapy whose seq/ack/TSval/IP-id are patched with
struct in a tight loop, the IP and TCP checksums updated incrementally (RFC 1624). The file
is streamed in 4 MB chunks: memory stays flat whatever the size.

Alongside FILE it writes FILE.json: packets, bytes, and every planted TLS connection (client,
server, SNI, version, JA3, client/server chain SHA-1/SHA-256, CertificateRequest, frames),
so a benchmark can check that every fact was found. Same arguments, same bytes.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import random
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "sample_pcaps"))
from craft import hospital_pki as pki  # noqa: E402
from craft.capture import Capture, pcap_header  # noqa: E402
from craft.certs import Cert, make_cert, name  # noqa: E402
from craft.clinical import (  # noqa: E402
    APPLICATION_CONTEXT,
    ASSOCIATE_AC,
    ASSOCIATE_RQ,
    CT_IMAGE_STORAGE,
    EXPLICIT_VR_LITTLE_ENDIAN,
    ITEM_ABSTRACT_SYNTAX,
    ITEM_CONTEXT_AC,
    ITEM_CONTEXT_RQ,
    ITEM_TRANSFER_SYNTAX,
    RELEASE_RP,
    RELEASE_RQ,
    associate_pdu,
    even_uid,
    item,
    mllp,
    p_data_tf,
    user_information,
)
from craft.fixed import epoch_ns, fixed_bytes, utc  # noqa: E402
from craft.flows import TcpFlow, fold, ipv4_tcp_bytes, tcp_options, word_sum  # noqa: E402
from craft.keys import ec_key  # noqa: E402
from craft.link import Host, Link, ether_prefix, host, routed_host  # noqa: E402
from craft.tls import CT_APPDATA, ClientHello, record  # noqa: E402
from craft.tls_connection import tls12_connection, tls13_connection  # noqa: E402
from craft.tls_profiles import ch_chrome, ch_java_tls13, ch_mbedtls_device, ch_openssl_device, sh12, sh13  # noqa: E402
from craft.web import http_request, http_response  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from scapy.layers.dns import DNS, DNSQR, DNSRR  # noqa: E402
from scapy.layers.inet import IP, TCP, UDP  # noqa: E402
from scapy.packet import Raw  # noqa: E402

MSS = 1448  # 1500 MTU - IP 20 - TCP 20 - timestamps option 12
T0 = epoch_ns(utc(2025, 3, 12, 9, 0, 0))
LINK_BPS = 600e6  # mean offered load used to space the timestamps
REC = struct.Struct("<IIII")
U16, U32, U32X2 = struct.Struct("!H"), struct.Struct("!I"), struct.Struct("!II")
CHUNK = 4 << 20


def parse_size(s: str) -> int:
    """ "1G", "500M", "64K" (binary units) or a plain byte count."""
    s = s.strip().upper().removesuffix("IB").removesuffix("B")
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}.get(s[-1:], 1)
    return int(float(s[:-1] if mult > 1 else s) * mult)


# --------------------------------------------------------------------------------------
# output
# --------------------------------------------------------------------------------------


class Out:
    """A pcap stream (little endian, µs, Ethernet) written in large chunks."""

    def __init__(self, path: str) -> None:
        self.f = open(path, "wb")  # noqa: SIM115
        self.f.write(pcap_header(1))
        self.buf: list[bytes] = []
        self.pending = 0
        self.packets = 0
        self.bytes = 24

    def put(self, ts_ns: int, *parts: bytes) -> int:
        """Append one frame made of `parts`; returns its frame number."""
        n = 0
        for p in parts:
            n += len(p)
        us = ts_ns // 1000
        self.buf.append(REC.pack(us // 1_000_000, us % 1_000_000, n, n))
        self.buf.extend(parts)
        self.packets += 1
        self.bytes += 16 + n
        self.pending += 16 + n
        if self.pending >= CHUNK:
            self.flush()
        return self.packets

    def flush(self) -> None:
        """Write the buffered frames."""
        self.f.write(b"".join(self.buf))
        self.buf.clear()
        self.pending = 0

    def close(self) -> None:
        """Flush and close."""
        self.flush()
        self.f.close()


# --------------------------------------------------------------------------------------
# fast TCP/UDP templates
# --------------------------------------------------------------------------------------


class TcpTpl:
    """Headers (link + IPv4 + TCP with timestamps) of one direction of one flow for one flag
    set, built once by scapy (empty payload); `render` patches the IP total length, seq,
    ack, TSval and IP id and fixes both checksums from precomputed partial sums (the length
    word and the pseudo-header length both grow by the payload length)."""

    __slots__ = ("hdr", "ip_base", "o_id", "o_ipck", "o_len", "o_seq", "o_tcpck", "o_ts", "tcp_base")

    def __init__(
        self, link: Link, src: Host, dst: Host, sport: int, dport: int, flags: str, tsecr: int
    ) -> None:
        tcp = TCP(
            sport=sport,
            dport=dport,
            seq=0,
            ack=0,
            flags=flags,
            window=502,
            chksum=0,
            options=[("NOP", None), ("NOP", None), ("Timestamp", (0, tsecr))],
        )
        l3 = IP(src=src.ip, dst=dst.ip, ttl=src.ttl, id=0, flags="DF", chksum=0) / tcp
        self.hdr = link.frame(src, dst, l3, True)
        ip = len(self.hdr) - 52
        assert self.hdr[ip] == 0x45 and self.hdr[ip + 20 + 12] == 0x80, "IPv4 + 32-byte TCP header expected"
        self.o_len, self.o_id, self.o_ipck = ip + 2, ip + 4, ip + 10
        self.o_seq, self.o_ts, self.o_tcpck = ip + 24, ip + 44, ip + 36
        self.ip_base = word_sum(self.hdr[ip : ip + 20])
        pseudo = self.hdr[ip + 12 : ip + 20] + struct.pack("!BBH", 0, 6, 32)
        self.tcp_base = word_sum(pseudo) + word_sum(self.hdr[ip + 20 :])

    def render(self, seq: int, ack: int, tsval: int, ipid: int, plen: int, payload_sum: int) -> bytes:
        """The header bytes for this packet (the payload is appended by the caller)."""
        b = bytearray(self.hdr)
        U16.pack_into(b, self.o_len, 52 + plen)
        U32X2.pack_into(b, self.o_seq, seq, ack)
        U32.pack_into(b, self.o_ts, tsval)
        U16.pack_into(b, self.o_id, ipid)
        U16.pack_into(b, self.o_ipck, fold(self.ip_base + plen + ipid))
        U16.pack_into(
            b,
            self.o_tcpck,
            fold(
                self.tcp_base
                + plen
                + payload_sum
                + (seq >> 16)
                + (seq & 0xFFFF)
                + (ack >> 16)
                + (ack & 0xFFFF)
                + (tsval >> 16)
                + (tsval & 0xFFFF)
            ),
        )
        return bytes(b)


class UdpTpl:
    """A whole UDP/IPv4 frame (UDP checksum 0, allowed for IPv4) built once by scapy;
    `render` patches the IP id and checksum and optional payload fields."""

    __slots__ = ("frame", "ip_base", "o_id", "o_ipck", "o_pay")

    def __init__(
        self, link: Link, src: Host, sport: int, dst: Host, dport: int, payload: bytes
    ) -> None:
        l3 = (
            IP(src=src.ip, dst=dst.ip, ttl=src.ttl, id=0, chksum=0)
            / UDP(sport=sport, dport=dport, chksum=0)
            / Raw(payload)
        )
        self.frame = link.frame(src, dst, l3, True)
        ip = len(self.frame) - len(payload) - 28
        self.o_id, self.o_ipck, self.o_pay = ip + 4, ip + 10, ip + 28
        self.ip_base = word_sum(self.frame[ip : ip + 20])

    def render(self, ipid: int, patches: tuple[tuple[int, struct.Struct, int], ...] = ()) -> bytes:
        """The frame with IP id/checksum and payload patches (offset in payload, format, value)."""
        b = bytearray(self.frame)
        U16.pack_into(b, self.o_id, ipid)
        U16.pack_into(b, self.o_ipck, fold(self.ip_base + ipid))
        for off, st, v in patches:
            st.pack_into(b, self.o_pay + off, v)
        return bytes(b)


# --------------------------------------------------------------------------------------
# payloads
# --------------------------------------------------------------------------------------


def dicom_associate(calling: str, called: str, rq: bool = True) -> bytes:
    """A GE modality's A-ASSOCIATE-RQ (or the PACS's -AC) for CT Image Storage, explicit VR
    little endian; GE's stack pads its UIDs to even length."""
    syntax = item(ITEM_TRANSFER_SYNTAX, even_uid(EXPLICIT_VR_LITTLE_ENDIAN))
    if rq:
        context = item(ITEM_CONTEXT_RQ, bytes([1, 0, 0, 0]) + item(ITEM_ABSTRACT_SYNTAX, even_uid(CT_IMAGE_STORAGE))
                       + syntax)
    else:
        context = item(ITEM_CONTEXT_AC, bytes([1, 0, 0, 0]) + syntax)
    return associate_pdu(ASSOCIATE_RQ if rq else ASSOCIATE_AC, calling, called, context,
                         user_information(65536, "1.2.840.113619.6.334", "GEHC_CT_17"),
                         even_uid(APPLICATION_CONTEXT))


DICOM_PDU_SEGMENTS = 16  # one P-DATA-TF PDU = 16 full segments


def dicom_pdata_variants() -> list[bytes]:
    """The 16 segment payloads of one P-DATA-TF PDU of exactly 16 * MSS bytes."""
    total = DICOM_PDU_SEGMENTS * MSS
    pdu = p_data_tf(fixed_bytes("dicom-pixel-data", total - 12))
    return [pdu[i : i + MSS] for i in range(0, total, MSS)]


TLS_RECORD_SEGMENTS = 11  # one application_data record = 11 segments


def tls_appdata_variants(label: str) -> list[bytes]:
    """The 11 segment payloads of one TLS 1.2 application_data record of 11 * MSS bytes."""
    total = TLS_RECORD_SEGMENTS * MSS
    rec = record(CT_APPDATA, fixed_bytes(label, total - 5))
    return [rec[i : i + MSS] for i in range(0, total, MSS)]


def hl7_message(i: int, facility: str) -> bytes:
    """An HL7 v2.5 ORU^R01 (vital signs) in MLLP framing; synthetic values only."""
    segs = [
        f"MSH|^~\\&|VITALS_GW|{facility}|EPIC|SEHS|20250312090000||ORU^R01|MSG{i:08d}|P|2.5",
        f"PID|1||MRN{100000 + i % 9000}^^^SEHS||TEST^PATIENT||19700101|U",
        "OBR|1|||8716-3^Vital signs^LN",
        f"OBX|1|NM|8867-4^Heart rate^LN||{60 + i % 40}|/min|||||F",
        f"OBX|2|NM|59408-5^SpO2^LN||{94 + i % 6}|%|||||F",
    ]
    return mllp("\r".join(segs) + "\r")


def hl7_ack(i: int) -> bytes:
    """The HL7 ACK for message i (MLLP)."""
    return mllp(f"MSH|^~\\&|EPIC|SEHS|VITALS_GW|ICU|20250312090000||ACK|ACK{i:08d}|P|2.5\rMSA|AA|MSG{i:08d}\r")


# --------------------------------------------------------------------------------------
# flows
# --------------------------------------------------------------------------------------


@dataclass
class TcpState:
    """seq/ack bookkeeping of one fast-path TCP flow."""

    link: Link
    c: Host
    s: Host
    cport: int
    sport: int
    isn: dict[str, int]
    sent: dict[str, int]
    tsoff: int
    tpl: dict[tuple[str, str], TcpTpl] = field(default_factory=dict)

    def seq(self, d: str) -> int:
        """Next sequence number of direction d."""
        return (self.isn[d] + 1 + self.sent[d]) & 0xFFFFFFFF

    def packet(self, d: str, flags: str, payload: bytes, psum: int, now: int) -> bytes:
        """Header bytes of the next packet in direction d (payload not included)."""
        key = (d, flags)
        t = self.tpl.get(key)
        if t is None:
            src, dst = (self.c, self.s) if d == "c" else (self.s, self.c)
            sp, dp = (self.cport, self.sport) if d == "c" else (self.sport, self.cport)
            t = self.tpl[key] = TcpTpl(self.link, src, dst, sp, dp, flags, self.tsoff ^ 0x5A5A)
        o = "s" if d == "c" else "c"
        host = self.c if d == "c" else self.s
        hdr = t.render(
            self.seq(d),
            self.seq(o),
            (now // 1_000_000 + self.tsoff) & 0xFFFFFFFF,
            host.next_id(),
            len(payload),
            psum,
        )
        self.sent[d] += len(payload)
        return hdr


def slow_tcp(st: TcpState, d: str, flags: str, payload: bytes = b"", syn_opts: bool = False) -> bytes:
    """A rare packet (SYN, FIN, protocol openers), packed by craft's struct fast path
    (byte-identical to scapy's build, see craft.ipv4_tcp_bytes)."""
    src, dst = (st.c, st.s) if d == "c" else (st.s, st.c)
    sp, dp = (st.cport, st.sport) if d == "c" else (st.sport, st.cport)
    o = "s" if d == "c" else "c"
    if "S" in flags:
        seq, ack = st.isn[d], (st.seq(o) if "A" in flags else 0)
        opts: list[tuple[str, Any]] = [("MSS", 1460), ("SAckOK", b""), ("WScale", 7)]
    else:
        seq, ack, opts = st.seq(d), st.seq(o), []
    frame = ether_prefix(src.mac, dst.mac, st.link.vlans) + ipv4_tcp_bytes(
        src, dst, sp, dp, seq, ack, flags, 64240 if "S" in flags else 502, tcp_options(opts), payload
    )
    st.sent[d] += len(payload) + (1 if "F" in flags else 0)
    return frame


# --------------------------------------------------------------------------------------
# the generator
# --------------------------------------------------------------------------------------

SERVERS = [  # (label, ip, port, chain, kx options)
    ("infusion-mgmt", "10.10.4.20", 443, (pki.INFUSION_SRV, pki.SERVER_CA)),
    ("pacs01", "10.10.6.10", 2762, (pki.PACS_SRV, pki.SERVER_CA)),
    ("vna", "10.10.6.30", 2762, (pki.PACS_ARCHIVE, pki.SERVER_CA, pki.ROOT)),
    ("monitoring-gw", "10.10.5.30", 443, (pki.MONITORING_GW, pki.SERVER_CA)),
    ("ehr", "10.10.5.31", 443, (pki.EHR_WEB, pki.SERVER_CA)),
    ("central-station", "10.10.5.40", 443, (pki.CENTRAL_STATION, pki.SERVER_CA)),
    ("lis", "10.10.7.40", 6443, (pki.LIS_SRV, pki.SERVER_CA)),
    ("nursecall", "10.10.4.25", 443, (pki.NURSECALL_SRV, pki.SERVER_CA)),
    ("mednet", "10.10.4.21", 8443, (pki.MEDNET_SRV, pki.SERVER_CA)),
]
VENDORS = [  # OUI, label, OU, ClientHello profile
    ("00:12:21", "bbraun-pump", "Infusion Systems", "openssl"),
    ("00:03:b1", "icu-pump", "Infusion Systems", "mbedtls"),
    ("00:09:5c", "philips-mon", "Patient Monitoring", "java13"),
    ("00:0f:14", "mindray-mon", "Patient Monitoring", "mbedtls"),
    ("00:30:e6", "draeger-vent", "Respiratory", "openssl"),
    ("44:4b:5d", "ge-modality", "Radiology", "openssl"),
    ("00:18:65", "siemens-lab", "Laboratory", "openssl"),
    ("00:1a:fa", "welch-vitals", "Vitals", "mbedtls"),
    ("00:14:b8", "hillrom-bed", "Beds", "openssl"),
    ("00:06:5b", "dell-ws", "Workstations", "chrome"),
]


@dataclass
class Device:
    """A client device of the identity mix."""

    host: Host
    profile: str
    vlan: int | None
    chain: tuple[Cert, ...] | None


class Generator:
    """Builds the whole capture; see the module docstring."""

    def __init__(self, out: Out, mix: str, target: int, seed: int, tls_share: float) -> None:
        self.out, self.mix, self.target, self.tls_share = out, mix, target, tls_share
        self.rng = random.Random(seed)
        self.now = T0
        self.heap: list[tuple[int, int, bytes, int, int]] = []
        self.heap_seq = 0
        self.identity_packets = 0
        self.identity_pending = 0
        self.conns: list[dict[str, Any]] = []
        self.conn_frames: list[list[int]] = []
        self.conn_local: list[dict[str, int]] = []
        self.counts: dict[str, int] = {}
        self.port = 20000
        self.rr_opened = 0
        self.devices = self._devices()
        self.servers = [
            (routed_host(lbl, ip), port, chain, lbl) for lbl, ip, port, chain in SERVERS
        ]

    # --- identity: devices and handshakes -------------------------------------------

    def _devices(self) -> list[Device]:
        rng = random.Random(7)
        fleets: dict[str, Cert] = {}
        devs = []
        for i in range(400):
            oui, label, ou, prof = VENDORS[i % len(VENDORS)]
            mac = f"{oui}:{(i >> 8) & 0xFF:02x}:{i & 0xFF:02x}:{(i * 37) & 0xFF:02x}"
            ip = f"10.{20 + i % 30}.{(i // 30) % 250 + 1}.{10 + i % 200}"
            ttl = 128 if prof == "chrome" else 64
            vlan = 100 + i % 30 if i % 5 == 0 else None
            if prof == "chrome" or i % 11 == 3:
                chain = None  # no client certificate
            elif label == "mindray-mon" and i % 3 == 0:  # a fleet sharing one certificate
                if label not in fleets:
                    fleets[label] = make_cert(name("mindray-fleet-b.icu.example.org", pki.ORG, ou), ec_key(0xF1EE7B),
                                              issuer=pki.DEVICE_CA, serial=0x6F0001, not_before=pki.NB_LEAF,
                                              not_after=pki.NA_LEAF, eku=("client",))
                chain = (fleets[label], pki.DEVICE_CA)
            else:
                cn = f"{label}-{i:04d}.clin.example.org"
                issuer = pki.RADIOLOGY_CA if label == "ge-modality" else pki.DEVICE_CA
                leaf = pki.device_leaf(cn, ec_key(0xDE1CE000 + i), 0x600000 + i, ou, issuer=issuer,
                                   serial_number=f"SN{i:08d}")
                chain = (leaf, issuer)
            devs.append(Device(host(f"dev{i}", mac, ip, ttl), prof, vlan, chain))
        rng.shuffle(devs)
        return devs

    def next_port(self) -> int:
        """A fresh ephemeral port."""
        self.port = 20000 + (self.port - 20000 + 1) % 40000
        return self.port

    def _client_hello(self, dev: Device, sni: str, label: str, tls13: bool) -> ClientHello:
        if tls13:
            return ch_chrome(sni, label) if dev.profile == "chrome" else ch_java_tls13(sni, label)
        if dev.profile == "mbedtls":
            return ch_mbedtls_device(sni, label)
        return ch_openssl_device(sni, label)

    def handshake(
        self,
        dev: Device | None = None,
        server: tuple[Any, ...] | None = None,
        keep_open: bool = False,
        app: tuple[tuple[str, int], ...] = (("c", 300), ("s", 900)),
        kind: str = "identity",
    ) -> TcpFlow:
        """Plant one TLS connection: craft it (scapy) and queue its packets by timestamp."""
        rng = self.rng
        dev = dev or self.devices[rng.randrange(len(self.devices))]
        srv, sport, chain, _ = server or self.servers[rng.randrange(len(self.servers))]
        n = len(self.conns)
        label = f"bench-{n}"
        link = Link([(0x8100, dev.vlan)] if dev.vlan else [])
        cap = Capture()
        isn_c, isn_s = rng.getrandbits(32), rng.getrandbits(32)
        f = TcpFlow(
            cap,
            link,
            dev.host,
            self.next_port(),
            srv,
            sport,
            flow_id=label,
            start_ns=self.now,
            isn_c=isn_c,
            isn_s=isn_s,
            rtt_us=300 + rng.randrange(900),
            fast=True,
        )
        sni = chain[0].facts()["sans"][0][4:]
        tls13 = not keep_open and (dev.profile in ("chrome", "java13")) and rng.random() < 0.7
        ch = self._client_hello(dev, sni, label, tls13)
        if tls13:
            conn = tls13_connection(
                f,
                ch=ch,
                sh=sh13(label, ch, 0x1301 if dev.profile == "chrome" else 0x1302),
                server_chain=chain,
                client_chain=dev.chain,
                hash_len=32 if dev.profile == "chrome" else 48,
                tickets=1,
                app=app,
            )
        else:
            ec_server = not isinstance(chain[0].key, rsa.RSAPrivateKey)
            kx = "ecdhe" if ec_server or rng.random() < 0.6 else "rsa"
            cipher = (0xC02B if ec_server else 0xC02F) if kx == "ecdhe" else 0x009C
            ca = pki.ca_names() if dev.chain is not None else None
            conn = tls12_connection(
                f,
                ch=ch,
                sh=sh12(label, cipher, ecdhe=kx == "ecdhe"),
                server_chain=chain,
                ca_names=ca,
                client_chain=dev.chain,
                kx=kx,
                app=app,
                close=not keep_open,
                coalesce=rng.random() < 0.5,
            )
        facts = conn.resolve(cap)
        keep = {
            k: facts[k]
            for k in ("client", "server", "vlans", "sni", "tls_version", "ja3", "ja3s", "certificate_request")
        }
        keep["kind"] = kind
        for side in ("client_chain", "server_chain"):
            keep[side] = [
                {"subject": c["subject"], "sha1": c["sha1"], "sha256": c["sha256"]} for c in facts[side]
            ]
        if "tls13" in facts:
            keep["tls13_mutual_auth_shaped"] = facts["tls13"]["client_flight_mutual_auth_shaped"]
            keep["tls13_encrypted_client_chain"] = [
                c["sha1"] for c in facts["tls13"]["encrypted_client_chain"]
            ]
        self.conns.append(keep)
        self.conn_local.append(facts["frames"])
        self.conn_frames.append([0] * len(cap.packets))
        for i, p in enumerate(cap.packets):
            self.heap_seq += 1
            heapq.heappush(self.heap, (p.ts_ns, self.heap_seq, p.data, n, i))
        self.identity_pending += len(cap.packets)
        self.counts[f"tls_{kind}"] = self.counts.get(f"tls_{kind}", 0) + 1
        return f

    def drain(self, until: int) -> None:
        """Write queued crafted packets whose time has come."""
        heap, out = self.heap, self.out
        while heap and heap[0][0] <= until:
            ts, _, data, n, i = heapq.heappop(heap)
            self.conn_frames[n][i] = out.put(ts, data)
            self.identity_packets += 1
            self.identity_pending -= 1

    def emit(self, *parts: bytes) -> None:
        """Write one fast-path packet now and advance the clock by its wire time."""
        if self.heap and self.heap[0][0] <= self.now:
            self.drain(self.now)
        n = sum(len(p) for p in parts)
        self.out.put(self.now, *parts)
        self.now += int((n + 24) * 8e9 / LINK_BPS)

    def want_identity(self) -> bool:
        """Keep identity packets at about `tls_share` of all packets."""
        return (self.identity_packets + self.identity_pending) < self.tls_share * (
            self.out.packets + 1
        ) and self.identity_pending < 400

    # --- bulk flows (hospital mix) ----------------------------------------------------

    def new_bulk(self) -> dict[str, Any]:
        """Open a DICOM store, a TLS download or a TLS backup flow."""
        rng = self.rng
        r = rng.random()
        vlan = 30 + rng.randrange(4) if rng.random() < 0.25 else None
        link = Link([(0x8100, vlan)] if vlan else [])
        i = rng.randrange(1000)
        if r < 0.5:
            kind = "dicom"
            oui = ("44:4b:5d", "00:18:65", "00:1d:4a")[i % 3]
            c = host(
                f"mod{i}", f"{oui}:10:{i >> 8:02x}:{i & 0xFF:02x}", f"10.30.{i // 200 + 1}.{i % 200 + 20}"
            )
            s = routed_host(f"pacs{i % 3}", f"10.10.6.{10 + i % 3}")
            st = TcpState(
                link,
                c,
                s,
                self.next_port(),
                (104, 11112)[i % 2],
                {"c": rng.getrandbits(32), "s": rng.getrandbits(32)},
                {"c": 0, "s": 0},
                rng.getrandbits(31),
            )
            self.syn(st)
            self.emit(slow_tcp(st, "c", "PA", dicom_associate(f"CT{i % 40:02d}_SCANNER", "PACS_ARCHIVE")))
            self.emit(
                slow_tcp(st, "s", "PA", dicom_associate(f"CT{i % 40:02d}_SCANNER", "PACS_ARCHIVE", rq=False))
            )
            variants, d = DICOM_VARIANTS, "c"
            self.counts["dicom_associations"] = self.counts.get("dicom_associations", 0) + 1
            left, ready = int(rng.expovariate(1 / 60e6)) + 5_000_000, self.now
        else:
            kind = "tls-download" if r < 0.8 else "tls-backup"
            dev = self.devices[rng.randrange(len(self.devices))]
            if kind == "tls-backup":
                srv = (routed_host("backup", "10.10.9.50"), 8400, (pki.MEDNET_SRV, pki.SERVER_CA), "backup")
            else:
                srv = self.servers[rng.randrange(len(self.servers))]
            f = self.handshake(dev, srv, keep_open=True, app=(("c", 180),), kind=kind)
            st = TcpState(f.link, dev.host, srv[0], f.ports["c"], f.ports["s"], dict(f.isn), dict(f.sent),
                          rng.getrandbits(31))
            variants, d = (TLS_VARIANTS, "s") if kind == "tls-download" else (TLS_VARIANTS_BACKUP, "c")
            left, ready = int(rng.expovariate(1 / 40e6)) + 2_000_000, f.now_ns
        self.counts[kind] = self.counts.get(kind, 0) + 1
        return {"st": st, "kind": kind, "variants": variants, "d": d, "k": 0, "left": left, "ready": ready}

    def syn(self, st: TcpState) -> None:
        """Three-way handshake through the slow path."""
        self.emit(slow_tcp(st, "c", "S"))
        self.emit(slow_tcp(st, "s", "SA"))
        self.emit(slow_tcp(st, "c", "A"))

    def bulk_step(self, fl: dict[str, Any]) -> bool:
        """Two full segments one way, one ACK back; False when the flow has finished."""
        st, d, variants = fl["st"], fl["d"], fl["variants"]
        o = "s" if d == "c" else "c"
        for _ in range(2):
            pay, psum = variants[fl["k"] % len(variants)]
            fl["k"] += 1
            self.emit(st.packet(d, "A", pay, psum, self.now), pay)
        self.emit(st.packet(o, "A", b"", 0, self.now))
        fl["left"] -= 2 * MSS
        if fl["left"] > 0:
            return True
        if fl["kind"] == "dicom":
            # finish the PDU in progress, then A-RELEASE
            while fl["k"] % len(variants):
                pay, psum = variants[fl["k"] % len(variants)]
                fl["k"] += 1
                self.emit(st.packet(d, "A", pay, psum, self.now), pay)
            self.emit(slow_tcp(st, "c", "PA", RELEASE_RQ))
            self.emit(slow_tcp(st, "s", "PA", RELEASE_RP))
        elif fl["k"] % len(variants):
            while fl["k"] % len(variants):  # finish the TLS record in progress
                pay, psum = variants[fl["k"] % len(variants)]
                fl["k"] += 1
                self.emit(st.packet(d, "A", pay, psum, self.now), pay)
        self.emit(slow_tcp(st, "c", "FA"))
        self.emit(slow_tcp(st, "s", "FA"))
        self.emit(slow_tcp(st, "c", "A"))
        return False

    # --- UDP and small request/response ----------------------------------------------

    def udp_templates(self) -> None:
        """RTP-like voice, syslog and DNS templates."""
        link = Link()
        self.rtp = []
        for i in range(6):
            a = host(f"phone{i}", f"00:1a:01:00:00:{i:02x}", f"10.60.1.{20 + i}")
            b = routed_host(f"station{i}", f"10.60.2.{20 + i}")
            hdr = struct.pack("!BBHII", 0x80, 0, 0, 0, 0x1000 + i) + fixed_bytes(f"rtp{i}", 160)
            self.rtp.append([UdpTpl(link, a, 16384 + 2 * i, b, 20000 + 2 * i, hdr), 0, i])
        self.syslog = []
        for i in range(8):
            a = host(f"syslog-src{i}", f"00:12:21:00:10:{i:02x}", f"10.20.{31 + i}.15")
            srv = routed_host("siem", "10.10.9.5")
            msg = (
                f"<134>1 2025-03-12T09:00:00Z pump-gw-{i} infusiond 1234 ALARM - channel {i} "
                f"occlusion cleared, rate 25.0 mL/h"
            ).encode()
            self.syslog.append(UdpTpl(link, a, 514, srv, 514, msg))
        self.dns = []
        names = [
            "pacs01.radiology.example.org",
            "ehr.clin.example.org",
            "mednet.clin.example.org",
            "central-station.icu.example.org",
            "lis.lab.example.org",
            "time.example.org",
        ]
        dns_srv = routed_host("dns", "10.10.1.53")
        for i, nm in enumerate(names):
            cl = host(f"dnsc{i}", f"00:06:5b:00:53:{i:02x}", f"10.40.3.{10 + i}", 128)
            q = bytes(DNS(id=0, rd=1, qd=DNSQR(qname=nm)))
            r = bytes(
                DNS(
                    id=0,
                    qr=1,
                    rd=1,
                    ra=1,
                    qd=DNSQR(qname=nm),
                    an=DNSRR(rrname=nm, ttl=300, rdata=f"10.10.{i + 4}.{20 + i}"),
                )
            )
            self.dns.append(
                (UdpTpl(link, cl, 53000 + i, dns_srv, 53, q), UdpTpl(link, dns_srv, 53, cl, 53000 + i, r))
            )

    def rtp_packet(self) -> None:
        """One voice packet (seq and timestamp patched)."""
        ent = self.rtp[self.rng.randrange(len(self.rtp))]
        tpl, seq = ent[0], ent[1]
        ent[1] = seq + 1
        self.emit(
            tpl.render(self.rng.getrandbits(16), ((2, U16, seq & 0xFFFF), (4, U32, (seq * 160) & 0xFFFFFFFF)))
        )

    def dns_pair(self) -> None:
        """A query and its response with the same transaction id."""
        q, r = self.dns[self.rng.randrange(len(self.dns))]
        tid = self.rng.getrandbits(16)
        self.emit(q.render(self.rng.getrandbits(16), ((0, U16, tid),)))
        self.emit(r.render(self.rng.getrandbits(16), ((0, U16, tid),)))

    def new_rr(self) -> dict[str, Any]:
        """A persistent HL7/MLLP or HTTP-poll connection (small mix), the next of them."""
        rng, i = self.rng, self.rr_opened
        self.rr_opened += 1
        if i % 2 == 0:
            c = host(
                f"hl7gw{i}", f"00:09:5c:20:{i >> 8:02x}:{i & 0xFF:02x}", f"10.20.{50 + i % 20}.{i % 200 + 10}"
            )
            s = routed_host("hl7-engine", "10.10.3.15")
            port, kind = 2575, "hl7"
            reqs = [hl7_message(i * 10 + k, f"ICU{i % 7}") for k in range(4)]
            resps = [hl7_ack(i * 10 + k) for k in range(4)]
        else:
            c = host(
                f"poll{i}", f"00:1a:fa:30:{i >> 8:02x}:{i & 0xFF:02x}", f"10.21.{i % 50}.{i % 200 + 10}"
            )
            s = routed_host("device-api", "10.10.3.80")
            port, kind = 80, "http"
            headers = [("User-Agent", "WelchAllyn-Connex/2.4"), ("Accept", "application/json")]
            reqs = [http_request("GET", f"/api/v1/devices/{i}/status?seq={k}", "device-api.clin.example.org", headers)
                    for k in range(4)]
            resps = [http_response("200 OK", [("Content-Type", "application/json")],
                                   f'{{"device":{i},"state":"ok","battery":{80 + k}}}'.encode()) for k in range(4)]
        st = TcpState(
            Link([(0x8100, 200 + i % 8)] if i % 6 == 1 else []),
            c,
            s,
            self.next_port(),
            port,
            {"c": rng.getrandbits(32), "s": rng.getrandbits(32)},
            {"c": 0, "s": 0},
            rng.getrandbits(31),
        )
        self.syn(st)
        self.counts[f"{kind}_connections"] = self.counts.get(f"{kind}_connections", 0) + 1
        return {
            "st": st,
            "req": [(r, word_sum(r)) for r in reqs],
            "resp": [(r, word_sum(r)) for r in resps],
            "k": 0,
            "left": 50 + rng.randrange(200),
        }

    def rr_step(self, fl: dict[str, Any]) -> bool:
        """Request, response, ACK; False when the connection should close."""
        st, k = fl["st"], fl["k"] % 4
        fl["k"] += 1
        req, rsum = fl["req"][k]
        self.emit(st.packet("c", "PA", req, rsum, self.now), req)
        resp, psum = fl["resp"][k]
        self.emit(st.packet("s", "PA", resp, psum, self.now), resp)
        self.emit(st.packet("c", "A", b"", 0, self.now))
        fl["left"] -= 1
        if fl["left"] > 0:
            return True
        self.emit(slow_tcp(st, "c", "FA"))
        self.emit(slow_tcp(st, "s", "FA"))
        self.emit(slow_tcp(st, "c", "A"))
        return False

    def bulk_any(self, flows: list[dict[str, Any]]) -> None:
        """A step of one of the bulk flows whose time has come; a finished flow is replaced."""
        j = self.rng.randrange(len(flows))
        if flows[j]["ready"] <= self.now and not self.bulk_step(flows[j]):
            flows[j] = self.new_bulk()

    def rr_any(self, conns: list[dict[str, Any]]) -> None:
        """A request and response on one of the small-mix connections; a closed one is replaced."""
        j = self.rng.randrange(len(conns))
        if not self.rr_step(conns[j]):
            conns[j] = self.new_rr()

    def syslog_packet(self) -> None:
        """One syslog message."""
        self.emit(self.syslog[self.rng.randrange(len(self.syslog))].render(self.rng.getrandbits(16)))

    # --- main loop -----------------------------------------------------------------------

    def run(self) -> None:
        """Emit packets until the target size is reached, then flush the crafted ones. Each
        step draws what comes next from the mix: (upper bound of the draw, action) in order."""
        self.udp_templates()
        mix: tuple[tuple[float, Callable[[], None]], ...]
        if self.mix == "hospital":
            flows = [self.new_bulk() for _ in range(24)]
            app = (("c", 300), ("s", 900))
            mix = ((0.86, lambda: self.bulk_any(flows)), (0.975, self.rtp_packet), (0.99, self.syslog_packet),
                   (1.0, self.dns_pair))
        else:
            conns = [self.new_rr() for _ in range(64)]
            app = (("c", 120), ("s", 240))
            mix = ((0.70, lambda: self.rr_any(conns)), (0.85, self.dns_pair), (0.95, self.syslog_packet),
                   (1.0, self.rtp_packet))
        while self.out.bytes < self.target:
            if self.want_identity():
                self.handshake(app=app)
            draw = self.rng.random()
            next(action for bound, action in mix if draw < bound)()
        self.drain(1 << 62)


DICOM_VARIANTS = [(p, word_sum(p)) for p in dicom_pdata_variants()]
TLS_VARIANTS = [(p, word_sum(p)) for p in tls_appdata_variants("bench-download")]
TLS_VARIANTS_BACKUP = [(p, word_sum(p)) for p in tls_appdata_variants("bench-backup")]


def main() -> None:
    """Parse arguments, generate, write the sidecar."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="1G", help="target file size: 1G, 5G, 200M ... (binary units)")
    ap.add_argument("--mix", default="hospital", choices=["hospital", "small"])
    ap.add_argument("-o", "--output", help="capture path (default bench-data/bench-MIX-SIZE.pcap)")
    ap.add_argument("--seed", type=int, default=20250312)
    ap.add_argument("--tls-share", type=float, default=0.02, help="share of packets in TLS handshakes")
    args = ap.parse_args()
    path = args.output or os.path.join(ROOT, "bench-data", f"bench-{args.mix}-{args.size}.pcap")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    start = time.perf_counter()
    out = Out(path)
    g = Generator(out, args.mix, parse_size(args.size), args.seed, args.tls_share)
    g.run()
    out.close()
    seconds = time.perf_counter() - start
    for c, local, glob in zip(g.conns, g.conn_local, g.conn_frames, strict=True):
        c["frames"] = {k: glob[v - 1] for k, v in local.items()}
    certs: dict[str, str] = {}
    for c in g.conns:
        for x in c["client_chain"] + c["server_chain"]:
            certs[x["sha1"]] = x["subject"]
    side = {
        "capture": os.path.basename(path),
        "generator": "tests/bench/make_capture.py",
        "args": {"size": args.size, "mix": args.mix, "seed": args.seed, "tls_share": args.tls_share},
        "packets": out.packets,
        "bytes": out.bytes,
        "average_frame_bytes": round((out.bytes - 24) / out.packets - 16, 1),
        "identity_packets": g.identity_packets,
        "flows": dict(sorted(g.counts.items())),
        "tls_connections_planted": len(g.conns),
        "client_certificates_visible": len({x["sha1"] for c in g.conns for x in c["client_chain"][:1]}),
        "certificates_visible": dict(sorted(certs.items())),
        "sni": sorted({c["sni"] for c in g.conns if c["sni"]}),
        "ja3": sorted({c["ja3"] for c in g.conns}),
        "tls_connections": g.conns,
    }
    with open(path + ".json", "w") as fh:
        json.dump(side, fh, indent=1)
        fh.write("\n")
    summary = {
        k: v for k, v in side.items() if k not in ("tls_connections", "certificates_visible", "sni", "ja3")
    }
    summary["distinct_certificates_visible"] = len(certs)
    summary["seconds"] = round(seconds, 1)
    summary["MB_per_s"] = round(out.bytes / seconds / 1e6, 1)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
