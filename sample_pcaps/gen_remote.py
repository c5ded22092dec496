#!/usr/bin/env python3
"""Write the remote-access and addressing samples: `sample_pcaps/remote-access/`.

    python sample_pcaps/gen_remote.py [--out DIR]

One small capture per protocol (RDP, VNC, SSH, TeamViewer, AnyDesk, Citrix ICA/CGP, vendor
clouds, DHCP, DNS), each with `<capture>.expected.json`: the sessions, leases and DNS answers
planted here, never read back from trustwatch. The bytes are those real implementations send
(MS-RDPBCGR 2.2.1.1-2.2.1.2, RFC 6143, RFC 4253, RFC 2131/2132/3046, RFC 1035), between a
hospital's private addresses and documentation addresses, with real vendor OUIs.

Each conversation is a function of a `craft.TcpFlow` (TCP) or of hosts and a capture (UDP)
plus its parameters, returning the facts it planted, so the hospital scenario can plant the
same conversations without copying protocol bytes. Deterministic: the same bytes on every run
(fixed randoms, keys and timestamps).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import ipaddress
import json
import os
import struct
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import craft as C  # noqa: E402
import generate as G  # noqa: E402

T0 = C.epoch_ns(C.utc(2025, 3, 11, 8, 0, 0))
"""Every capture starts at 08:00 UTC on the scenario's morning."""
MINUTE = 60_000_000_000
ROUTER = G.ROUTER_MAC
"""The clinical core router: routed endpoints show its MAC."""
Facts = dict[str, Any]

# --------------------------------------------------------------------------------------
# the hosts (real vendor OUIs; servers and the internet behind the router)
# --------------------------------------------------------------------------------------

VENDOR_LAPTOP = G.host("vendor-laptop", ROUTER, "198.51.100.23", ttl=52)
"""A vendor engineer's laptop on the internet, reaching in through the VPN concentrator."""
IT_WS = G.host("it-ws01", "b0:7b:25:3e:10:14", "10.10.9.20")  # Dell
BIOMED_WS = G.host("biomed-ws02", "f8:bc:12:5a:02:31", "10.10.9.21")  # Dell
CLINICAL_WS = G.host("ws-icu-03", "f8:bc:12:5a:07:03", "10.20.9.3")  # Dell
THIN_CLIENT = G.host("tc-ward4-07", "00:21:5a:c4:17:07", "10.20.9.57")  # Hewlett Packard
PACS = G.host("pacs01", ROUTER, "10.10.6.10", ttl=63)
RDS_FARM = G.host("rds-farm", ROUTER, "10.10.6.30", ttl=63)
CITRIX_VDA = G.host("ctx-vda07", ROUTER, "10.10.7.21", ttl=127)
CENTRAL = G.host("central-station", "00:09:fb:10:05:30", "10.10.5.30")  # Philips Patient Monitoring
US_CART = G.host("us-cart-04", "44:4b:5d:02:77:04", "10.30.8.48")  # GE Healthcare
CT_RECON = G.host("ct-recon01", "44:4b:5d:02:31:a8", "10.30.8.47")  # GE Healthcare
CT_SCANNER = G.host("ct01", "44:4b:5d:02:31:a7", "10.30.8.41")  # GE Healthcare
ANALYZER = G.host("hema-analyzer02", "00:18:65:4c:20:02", "10.40.1.22")  # Siemens Healthcare Diagnostics
PUMP_DOCK = G.host("spacecom-icu2", "00:12:21:4a:80:02", "10.20.1.60")  # B. Braun Melsungen
DNS_SERVER = G.host("dns01", ROUTER, "10.10.0.53", ttl=127)
DHCP_SERVER_IP = "10.10.0.2"
BROADCAST = C.Host("broadcast", "ff:ff:ff:ff:ff:ff", "255.255.255.255")

# --------------------------------------------------------------------------------------
# connections: a TcpFlow that keeps its ledger
# --------------------------------------------------------------------------------------


class MeteredFlow(C.TcpFlow):
    """A TcpFlow that remembers the frames it wrote: the connection's planted start, end and
    frame bytes each way (what a remote-access session reports)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.frames: list[tuple[str, int]] = []

    def emit(self, d: str, *args: Any, **kwargs: Any) -> int:
        """Write one segment and book it."""
        n = super().emit(d, *args, **kwargs)
        self.frames.append((d, n))
        return n

    def ledger(self) -> Facts:
        """First and last packet time (UTC, µs) and frame bytes client->server, server->client."""
        packets = [(d, self.cap.packets[n - 1]) for d, n in self.frames]
        return {
            "start": iso_us(min(p.ts_ns for _, p in packets)),
            "end": iso_us(max(p.ts_ns for _, p in packets)),
            "bytes_orig": sum(len(p.data) for d, p in packets if d == "c"),
            "bytes_resp": sum(len(p.data) for d, p in packets if d == "s"),
        }


def iso_us(ts_ns: int) -> str:
    """A packet time as a pcap stores it (µs), ISO 8601 UTC."""
    sec, us = divmod(ts_ns // 1000, 1_000_000)
    return f"{dt.datetime.fromtimestamp(sec, dt.UTC):%Y-%m-%dT%H:%M:%S}.{us:06d}Z"


def connect(cap: C.Capture, client: C.Host, cport: int, server: C.Host, sport: int, label: str,
            start_ns: int) -> MeteredFlow:
    """A new TCP connection (fixed ISNs from the label) on plain Ethernet."""
    isn = [int.from_bytes(C.fixed_bytes(f"{label}/isn-{d}", 4), "big") for d in "cs"]
    return MeteredFlow(cap, C.Link(), client, cport, server, sport, flow_id=label, start_ns=start_ns,
                       isn_c=isn[0], isn_s=isn[1])


# --------------------------------------------------------------------------------------
# RDP (MS-RDPBCGR 2.2.1.1 X.224 Connection Request, 2.2.1.2 Connection Confirm)
# --------------------------------------------------------------------------------------

PROTOCOL_SSL, PROTOCOL_HYBRID, PROTOCOL_HYBRID_EX = 0x1, 0x2, 0x8
SSL_NOT_ALLOWED_BY_SERVER = 2
NEG_RSP_FLAGS = 0x1F
"""EXTENDED_CLIENT_DATA, DYNVC_GFX, reserved, RESTRICTED_ADMIN, REDIRECTED_AUTHENTICATION: what
current Windows servers set."""
MSTSC_COOKIE_LEN = 9
"""mstsc puts at most 9 characters of the user name into `mstshash=` (real captures show
"Administr", "WDeployAd")."""


def tpkt_x224(code: int, src_ref: int, user_data: bytes) -> bytes:
    """TPKT (RFC 1006) around an X.224 CR/CC TPDU: LI, code, DST-REF, SRC-REF, class 0."""
    tpdu = bytes([6 + len(user_data), code]) + struct.pack("!HHB", 0, src_ref, 0) + user_data
    return struct.pack("!BBH", 3, 0, 4 + len(tpdu)) + tpdu


def msts_routing_token(ip: str, port: int) -> str:
    """The load-balancing routing token for a session host: its IPv4 address as the decimal of a
    little-endian uint32, the port byte-swapped, then the reserved field."""
    addr = int.from_bytes(ipaddress.IPv4Address(ip).packed, "little")
    return f"msts={addr}.{int.from_bytes(struct.pack('<H', port), 'big')}.0000"


def rdp_connection_request(cookie_line: str, requested: int) -> bytes:
    """Client X.224 CR: a `Cookie: ...` line (mstshash= user or msts= routing token) and an
    RDP_NEG_REQ with the requested protocols."""
    neg_req = struct.pack("<BBHI", 1, 0, 8, requested)
    return tpkt_x224(0xE0, 0, f"Cookie: {cookie_line}\r\n".encode() + neg_req)


def rdp_connection_confirm(selected: int | None, failure: int | None) -> bytes:
    """Server X.224 CC with an RDP_NEG_RSP (selected protocol) or RDP_NEG_FAILURE (code)."""
    neg = struct.pack("<BBHI", 2, NEG_RSP_FLAGS, 8, selected) if failure is None \
        else struct.pack("<BBHI", 3, 0, 8, failure)
    return tpkt_x224(0xD0, 0x1234, neg)


def rdp_self_signed(cn: str, key: C.PrivateKey, serial: int) -> C.Cert:
    """The certificate Windows makes for RDP: self-signed, CN = the host's FQDN, six months."""
    return C.make_cert(C.name(cn, c=None), key, issuer=None, serial=serial,
                       not_before=C.utc(2025, 1, 20, 3, 12, 44), not_after=C.utc(2025, 7, 22, 3, 12, 44),
                       eku=("server",))


def ch_schannel(label: str) -> C.ClientHello:
    """Windows Schannel (mstsc) TLS 1.2 ClientHello: no SNI."""
    return C.ClientHello(
        C.fixed_bytes(label + "/c-random", 32),
        (0xC02C, 0xC02B, 0xC030, 0xC02F, 0x009F, 0x009E, 0xC024, 0xC023, 0xC028, 0xC027, 0xC00A, 0xC009,
         0xC014, 0xC013, 0x009D, 0x009C, 0x003D, 0x003C, 0x0035, 0x002F, 0x000A),
        (C.ext_groups((C.X25519, C.SECP256R1, C.SECP384R1)), C.ext_point_formats((0,)),
         C.ext_sig_algs((C.RSA_PSS_SHA256, C.RSA_PSS_SHA384, C.RSA_PKCS1_SHA256, C.RSA_PKCS1_SHA384,
                         C.ECDSA_SHA256, C.ECDSA_SHA384, C.RSA_PKCS1_SHA1)),
         C.ext(C.EXT_SESSION_TICKET), C.ext(C.EXT_EMS), C.ext_reneg()),
        session_id=C.fixed_bytes(label + "/c-sid", 32),
    )


CREDSSP_HYBRID_EX = (("c", 57), ("s", 268), ("c", 566), ("s", 75), ("c", 350), ("s", 4), ("c", 421), ("s", 110),
                     ("s", 3800), ("c", 96), ("s", 12400))
"""Encrypted after the handshake: CredSSP (NTLM negotiate, challenge, authenticate, pubKeyAuth,
credentials), the Early User Authorization Result, MCS Connect Initial/Response, screen updates."""


def rdp_session(flow: C.TcpFlow, *, cookie_line: str, requested: int, selected: int | None = None,
                failure: int | None = None, server_cert: C.Cert | None = None) -> Facts:
    """One RDP connection: X.224 CR/CC, then (TLS or CredSSP selected) the TLS 1.2 handshake with
    the server's self-signed certificate and encrypted CredSSP and session data; a refused
    negotiation ends with the client closing."""
    flow.handshake()
    flow.send("c", rdp_connection_request(cookie_line, requested))
    flow.send("s", rdp_connection_confirm(selected, failure))
    facts: Facts = {"cookie": cookie_line, "requested_protocols": requested, "selected_protocol": selected,
                    "failure_code": failure}
    if selected is not None and selected & (PROTOCOL_SSL | PROTOCOL_HYBRID | PROTOCOL_HYBRID_EX):
        assert server_cert is not None
        conn = C.tls12_connection(flow, ch=ch_schannel(flow.flow_id), sh=G.sh12(flow.flow_id, 0xC030, ecdhe=True),
                                  server_chain=(server_cert,), ca_names=None, client_chain=None, kx="ecdhe",
                                  app=CREDSSP_HYBRID_EX, syn=False)
        facts["tls"] = conn.facts
    else:
        flow.close()
    return facts


# --------------------------------------------------------------------------------------
# VNC / RFB (RFC 6143 7.1-7.3)
# --------------------------------------------------------------------------------------

RFB_VNC_AUTH, RFB_VENCRYPT = 2, 19


def rfb_server_init(width: int, height: int, desktop: str) -> bytes:
    """ServerInit: framebuffer size, 32 bpp true-colour pixel format, desktop name."""
    pixel_format = struct.pack("!BBBBHHHBBB3x", 32, 24, 0, 1, 255, 255, 255, 16, 8, 0)
    return struct.pack("!HH", width, height) + pixel_format + struct.pack("!I", len(desktop)) + desktop.encode()


def vnc_session(flow: C.TcpFlow, *, server_version: str, client_version: str, offered: Sequence[int],
                chosen: int, desktop: str) -> Facts:
    """One RFB connection: version exchange, security handshake (3.7+: the server offers a list
    and the client picks; 3.3: the server decides with a 32-bit type), VNC authentication
    (16-byte challenge, DES response) and SecurityResult, ClientInit/ServerInit, then the
    viewer's encodings, an update request and one raw framebuffer update."""
    label = flow.flow_id
    flow.handshake()
    flow.send("s", f"RFB {server_version}\n".encode())
    flow.send("c", f"RFB {client_version}\n".encode())
    if client_version == "003.003":
        assert list(offered) == [chosen]
        flow.send("s", struct.pack("!I", chosen))
    else:
        flow.send("s", bytes([len(offered), *offered]))
        flow.send("c", bytes([chosen]))
    if chosen == RFB_VNC_AUTH:
        flow.send("s", C.fixed_bytes(label + "/vnc-challenge", 16))
        flow.send("c", C.fixed_bytes(label + "/vnc-response", 16))
    if chosen == RFB_VNC_AUTH or client_version == "003.008":
        flow.send("s", struct.pack("!I", 0))  # SecurityResult OK (3.3 and 3.7 send none after "None")
    flow.send("c", b"\x01")  # ClientInit: shared
    flow.send("s", rfb_server_init(1920, 1080, desktop))
    encodings = (16, 5, 1, 0, -223, -239)  # ZRLE, Hextile, CopyRect, Raw, DesktopSize, Cursor
    flow.send("c", struct.pack(f"!BxH{len(encodings)}i", 2, len(encodings), *encodings)
               + struct.pack("!BBHHHH", 3, 0, 0, 0, 1920, 1080))
    width, height = 64, 16
    flow.send("s", struct.pack("!BxHHHHHi", 0, 1, 0, 0, width, height, 0)
               + C.fixed_bytes(label + "/vnc-pixels", width * height * 4))
    flow.close()
    return {"server_version": server_version, "client_version": client_version, "security_types": list(offered),
            "chosen_security_type": chosen, "desktop_name": desktop}


# --------------------------------------------------------------------------------------
# SSH (RFC 4253 4.2 version exchange, 6 binary packets, 7.1 KEXINIT; HASSH)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KexAlgorithms:
    """The ten name-lists of a KEXINIT, as one implementation sends them."""

    kex: str
    host_key: str
    ciphers: str
    macs: str
    compression: str

    def name_lists(self) -> list[str]:
        """kex, host key, ciphers/MACs/compression both ways, languages both ways (empty)."""
        return [self.kex, self.host_key, self.ciphers, self.ciphers, self.macs, self.macs, self.compression,
                self.compression, "", ""]

    @property
    def hassh_string(self) -> str:
        """kex;ciphers;macs;compression of the sender's outgoing direction (Salesforce HASSH:
        the client's c2s lists, or for HASSHServer the server's s2c lists; equal here)."""
        return ";".join((self.kex, self.ciphers, self.macs, self.compression))

    @property
    def hassh(self) -> str:
        """MD5 of `hassh_string`."""
        return hashlib.md5(self.hassh_string.encode()).hexdigest()


OPENSSH_9_CLIENT = KexAlgorithms(
    kex="sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,"
        "ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,"
        "diffie-hellman-group18-sha512,diffie-hellman-group14-sha256,ext-info-c,kex-strict-c-v00@openssh.com",
    host_key="ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com,"
             "ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521-cert-v01@openssh.com,"
             "sk-ssh-ed25519-cert-v01@openssh.com,sk-ecdsa-sha2-nistp256-cert-v01@openssh.com,"
             "rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256-cert-v01@openssh.com,ssh-ed25519,ecdsa-sha2-nistp256,"
             "ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,sk-ssh-ed25519@openssh.com,sk-ecdsa-sha2-nistp256@openssh.com,"
             "rsa-sha2-512,rsa-sha2-256",
    ciphers="chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,"
            "aes256-gcm@openssh.com",
    macs="umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,"
         "hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com,"
         "hmac-sha2-256,hmac-sha2-512,hmac-sha1",
    compression="none,zlib@openssh.com",
)
"""OpenSSH 9.5/9.6 (ssh, and Win32-OpenSSH): the Terrapin-era defaults."""
RHEL9_SSHD = KexAlgorithms(
    kex="curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,"
        "diffie-hellman-group-exchange-sha256,diffie-hellman-group14-sha256,diffie-hellman-group16-sha512,"
        "diffie-hellman-group18-sha512,kex-strict-s-v00@openssh.com",
    host_key="rsa-sha2-512,rsa-sha2-256,ecdsa-sha2-nistp256,ssh-ed25519",
    ciphers="aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,aes256-ctr,aes128-gcm@openssh.com,aes128-ctr",
    macs="hmac-sha2-256-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-128-etm@openssh.com,"
         "hmac-sha2-512-etm@openssh.com,hmac-sha2-256,hmac-sha1,umac-128@openssh.com,hmac-sha2-512",
    compression="none,zlib@openssh.com",
)
"""OpenSSH 8.7 sshd under RHEL 9's DEFAULT crypto policy."""
DROPBEAR_2020 = KexAlgorithms(
    kex="curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp521,ecdh-sha2-nistp384,ecdh-sha2-nistp256,"
        "diffie-hellman-group14-sha256,diffie-hellman-group14-sha1,kexguess2@matt.ucc.asn.au",
    host_key="ecdsa-sha2-nistp256,ssh-rsa",
    ciphers="aes128-ctr,aes256-ctr",
    macs="hmac-sha1,hmac-sha2-256",
    compression="none",
)
"""Dropbear 2020.81 as embedded Linux builds it (no zlib, CTR ciphers only)."""


def ssh_packet(payload: bytes, label: str, block: int = 8) -> bytes:
    """An unencrypted binary packet: length, padding length, payload, 4+ random padding bytes
    so that the whole is a multiple of the block size."""
    pad = block - (5 + len(payload)) % block
    if pad < 4:
        pad += block
    return struct.pack("!IB", 1 + len(payload) + pad, pad) + payload + C.fixed_bytes(label + "/pad", pad)


def ssh_string(b: bytes) -> bytes:
    """string (RFC 4251 5): uint32 length + bytes."""
    return struct.pack("!I", len(b)) + b


def kexinit(algorithms: KexAlgorithms, label: str) -> bytes:
    """SSH_MSG_KEXINIT (20): random cookie, the ten name-lists, first_kex_packet_follows 0,
    reserved 0, in a binary packet."""
    lists = b"".join(ssh_string(x.encode()) for x in algorithms.name_lists())
    return ssh_packet(bytes([20]) + C.fixed_bytes(label + "/cookie", 16) + lists + b"\x00" + bytes(4),
                      label + "/kexinit")


def ssh_session(flow: C.TcpFlow, *, client_banner: str, server_banner: str, client: KexAlgorithms,
                server: KexAlgorithms, host_key: str, pre_banner: Sequence[str] = ()) -> Facts:
    """One SSH connection up to encrypted traffic: version lines (the server's after any
    `pre_banner` lines; the client, as OpenSSH does, sends its line as soon as it connects),
    both KEXINITs, curve25519 key exchange (ECDH init/reply), NEWKEYS, a few encrypted packets."""
    label = flow.flow_id
    flow.handshake()
    if pre_banner:
        flow.send("c", f"{client_banner}\r\n".encode())
        flow.send("s", "".join(f"{line}\r\n" for line in pre_banner).encode() + f"{server_banner}\r\n".encode())
    else:
        flow.send("s", f"{server_banner}\r\n".encode())
        flow.send("c", f"{client_banner}\r\n".encode())
    flow.send("s", kexinit(server, label + "/s"))
    flow.send("c", kexinit(client, label + "/c"))
    flow.send("c", ssh_packet(bytes([30]) + ssh_string(C.fixed_bytes(label + "/q-c", 32)), label + "/ecdh-init"))
    if host_key == "ssh-ed25519":
        blob = ssh_string(b"ssh-ed25519") + ssh_string(C.fixed_bytes(label + "/host-key", 32))
        sig = ssh_string(b"ssh-ed25519") + ssh_string(C.fixed_bytes(label + "/sig", 64))
    else:
        blob = ssh_string(b"ecdsa-sha2-nistp256") + ssh_string(b"nistp256") \
            + ssh_string(b"\x04" + C.fixed_bytes(label + "/host-key", 64))
        sig = ssh_string(b"ecdsa-sha2-nistp256") + ssh_string(
            ssh_string(b"\x00" + C.fixed_bytes(label + "/sig-r", 32)) + ssh_string(C.fixed_bytes(label + "/sig-s", 32)))
    reply = bytes([31]) + ssh_string(blob) + ssh_string(C.fixed_bytes(label + "/q-s", 32)) + ssh_string(sig)
    flow.send("s", ssh_packet(reply, label + "/ecdh-reply") + ssh_packet(b"\x15", label + "/s-newkeys"))
    flow.send("c", ssh_packet(b"\x15", label + "/c-newkeys"))
    for i, (d, n) in enumerate((("c", 68), ("s", 68), ("c", 84), ("s", 52), ("c", 628), ("s", 52), ("c", 132),
                                ("s", 1204), ("c", 116), ("s", 356))):
        flow.send(d, C.fixed_bytes(f"{label}/encrypted{i}", n))
    flow.close()
    return {"client_banner": client_banner, "server_banner": server_banner, "pre_banner_lines": len(pre_banner),
            "hassh_string": client.hassh_string, "hassh": client.hassh,
            "hassh_server_string": server.hassh_string, "hassh_server": server.hassh}


# --------------------------------------------------------------------------------------
# vendor tools: TeamViewer, Citrix ICA and CGP (first bytes as nDPI, libprotoident and
# nmap's probes know them; the rest is the tools' encrypted framing)
# --------------------------------------------------------------------------------------


def teamviewer_session(flow: C.TcpFlow) -> Facts:
    """TeamViewer to its router on 5938: the client's 0x17 0x24 identification packets, then
    both sides' 0x11 0x30 framed, encrypted data."""
    label = flow.flow_id
    flow.handshake()
    flow.send("c", b"\x17\x24\x0a\x20" + C.fixed_bytes(label + "/identify", 33))
    flow.send("c", b"\x17\x24\x28\x18" + C.fixed_bytes(label + "/hello", 62))
    for i, (d, n) in enumerate((("s", 44), ("s", 143), ("c", 1074), ("s", 1085), ("c", 52), ("s", 2696))):
        flow.send(d, b"\x11\x30" + bytes([0x36 if n < 64 else 0x3C, 0]) + C.fixed_bytes(f"{label}/data{i}", n))
    flow.close()
    return {"first_bytes": "1724"}


ICA_DETECT = b"\x7f\x7fICA\x00"
"""What an ICA server (TCP 1494) sends on connect, and the client echoes."""
CGP_HEADER = b"\x1aCGP/01"
"""The opening of Common Gateway Protocol (session reliability, TCP 2598), both ways."""


def citrix_session(flow: C.TcpFlow, *, cgp: bool) -> Facts:
    """A Citrix HDX session: ICA (server's detect string first) or CGP (client first)."""
    label = flow.flow_id
    flow.handshake()
    if cgp:
        flow.send("c", CGP_HEADER + C.fixed_bytes(label + "/cgp-c", 41))
        flow.send("s", CGP_HEADER + C.fixed_bytes(label + "/cgp-s", 25))
    else:
        flow.send("s", ICA_DETECT)
        flow.send("c", ICA_DETECT)
    for i, (d, n) in enumerate((("c", 201), ("s", 154), ("c", 1310), ("s", 2880), ("c", 96), ("s", 7400))):
        flow.send(d, C.fixed_bytes(f"{label}/hdx{i}", n))
    flow.close()
    return {"first_bytes": (CGP_HEADER if cgp else ICA_DETECT).hex()}


# --------------------------------------------------------------------------------------
# DNS (RFC 1035 4.1; name compression 4.1.4; over TCP 4.2.2)
# --------------------------------------------------------------------------------------

TYPE_A, TYPE_NS, TYPE_CNAME, TYPE_SOA, TYPE_AAAA = 1, 2, 5, 6, 28
TYPE_NAMES = {TYPE_A: "A", TYPE_NS: "NS", TYPE_CNAME: "CNAME", TYPE_SOA: "SOA", TYPE_AAAA: "AAAA"}
NOERROR, NXDOMAIN = 0, 3
RCODE_NAMES = {NOERROR: "NOERROR", NXDOMAIN: "NXDOMAIN"}
RD, RA, AA, TC, QR = 0x0100, 0x0080, 0x0400, 0x0200, 0x8000


@dataclass(frozen=True)
class Rr:
    """A resource record: `value` is an address (A, AAAA), a name (CNAME, NS) or, for SOA, the
    tuple (mname, rname, serial, refresh, retry, expire, minimum)."""

    name: str
    rtype: int
    ttl: int
    value: Any


class DnsWriter:
    """One DNS message being written; every name is compressed against the names already in
    it (the longest known suffix becomes a pointer), as servers do."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.known: dict[str, int] = {}

    def name(self, name: str) -> None:
        """A domain name, compressed."""
        labels = name.split(".")
        for i, label in enumerate(labels):
            suffix = ".".join(labels[i:]).lower()
            if suffix in self.known:
                self.buf += struct.pack("!H", 0xC000 | self.known[suffix])
                return
            if len(self.buf) < 0x3FFF:
                self.known[suffix] = len(self.buf)
            self.buf += bytes([len(label)]) + label.encode()
        self.buf += b"\x00"

    def record(self, rr: Rr) -> None:
        """Owner, type, class IN, TTL, RDLENGTH and RDATA (names inside compressed too)."""
        self.name(rr.name)
        self.buf += struct.pack("!HHI", rr.rtype, 1, rr.ttl)
        at = len(self.buf)
        self.buf += b"\x00\x00"
        if rr.rtype in (TYPE_A, TYPE_AAAA):
            self.buf += ipaddress.ip_address(rr.value).packed
        elif rr.rtype in (TYPE_CNAME, TYPE_NS):
            self.name(rr.value)
        else:
            mname, rname, *numbers = rr.value
            self.name(mname)
            self.name(rname)
            self.buf += struct.pack("!5I", *numbers)
        struct.pack_into("!H", self.buf, at, len(self.buf) - at - 2)


def dns_message(qid: int, flags: int, qname: str, qtype: int, answers: Sequence[Rr] = (),
                authority: Sequence[Rr] = (), additional: Sequence[Rr] = ()) -> bytes:
    """A whole DNS message with one question."""
    w = DnsWriter()
    w.buf += struct.pack("!6H", qid, flags, 1, len(answers), len(authority), len(additional))
    w.name(qname)
    w.buf += struct.pack("!HH", qtype, 1)
    for rr in (*answers, *authority, *additional):
        w.record(rr)
    return bytes(w.buf)


def dns_facts(client: C.Host, server: C.Host, transport: str, qname: str, qtype: int, rcode: int, flags: int,
              answers: Sequence[Rr]) -> Facts:
    """What a response says, as planted: the question, rcode, the answer section's addresses
    and CNAME chain in order, and its smallest TTL."""
    return {
        "client": client.ip, "server": server.ip, "transport": transport, "query": qname.lower(),
        "query_type": TYPE_NAMES[qtype], "rcode": RCODE_NAMES[rcode], "truncated": bool(flags & TC),
        "addresses": [rr.value for rr in answers if rr.rtype in (TYPE_A, TYPE_AAAA)],
        "cnames": [rr.value.lower() for rr in answers if rr.rtype == TYPE_CNAME],
        "ttl": min((rr.ttl for rr in answers), default=None),
    }


def dns_over_udp(cap: C.Capture, client: C.Host, sport: int, server: C.Host, at_ns: int, qname: str, qtype: int,
                 answers: Sequence[Rr] = (), *, rcode: int = NOERROR, flags: int = RD | RA,
                 authority: Sequence[Rr] = (), additional: Sequence[Rr] = ()) -> Facts:
    """A stub resolver's query and the server's response, 0.6 ms apart."""
    qid = int.from_bytes(C.fixed_bytes(f"{client.label}/{qname}/{qtype}/qid", 2), "big")
    query = dns_message(qid, RD, qname, qtype)
    response = dns_message(qid, QR | flags | rcode, qname, qtype, answers, authority, additional)
    cap.add(C.Packet(at_ns, C.udp_frame(C.Link(), client, sport, server, 53, query)))
    cap.add(C.Packet(at_ns + 600_000, C.udp_frame(C.Link(), server, 53, client, sport, response, outgoing=False)))
    return dns_facts(client, server, "udp", qname, qtype, rcode, flags, answers)


def dns_over_tcp(flow: C.TcpFlow, qname: str, qtype: int, answers: Sequence[Rr], *, flags: int = RD | RA) -> Facts:
    """A query and its response on one TCP connection, each with its 2-byte length."""
    qid = int.from_bytes(C.fixed_bytes(f"{flow.flow_id}/qid", 2), "big")
    flow.handshake()
    for d, msg in (("c", dns_message(qid, RD, qname, qtype)),
                   ("s", dns_message(qid, QR | flags, qname, qtype, answers))):
        flow.send(d, struct.pack("!H", len(msg)) + msg)
    flow.close()
    return dns_facts(flow.hosts["c"], flow.hosts["s"], "tcp", qname, qtype, NOERROR, flags, answers)


# --------------------------------------------------------------------------------------
# DHCP (RFC 2131 messages, RFC 2132 options, RFC 3046 relay agent information)
# --------------------------------------------------------------------------------------

DISCOVER, OFFER, REQUEST, ACK, NAK, RELEASE = 1, 2, 3, 5, 6, 7
MESSAGE_NAMES = {DISCOVER: "discover", OFFER: "offer", REQUEST: "request", ACK: "ack", NAK: "nak",
                 RELEASE: "release"}
OPT_SUBNET, OPT_ROUTER, OPT_DNS, OPT_HOSTNAME, OPT_DOMAIN = 1, 3, 6, 12, 15
OPT_REQUESTED_IP, OPT_LEASE, OPT_MSG_TYPE, OPT_SERVER_ID, OPT_PARAMS = 50, 51, 53, 54, 55
OPT_MESSAGE, OPT_MAX_SIZE, OPT_T1, OPT_T2, OPT_VENDOR_CLASS, OPT_CLIENT_ID = 56, 57, 58, 59, 60, 61
OPT_RELAY_AGENT = 82
BOOTP_MIN = 300
"""Clients and servers pad messages to the BOOTP minimum (RFC 1542 2.1)."""


@dataclass(frozen=True)
class DhcpClient:
    """What a device says about itself in every message: hostname (12), vendor class (60),
    parameter request list (55); the client identifier (61) is type 1 + its MAC."""

    host: C.Host
    hostname: str
    vendor_class: str | None
    params: tuple[int, ...]

    @property
    def chaddr(self) -> bytes:
        """The hardware address field's 6 bytes."""
        return bytes.fromhex(self.host.mac.replace(":", ""))

    def identity(self) -> list[tuple[int, bytes]]:
        """Options 61, 12, 60, 55 in the order DHCP clients put them."""
        opts = [(OPT_CLIENT_ID, b"\x01" + self.chaddr), (OPT_HOSTNAME, self.hostname.encode())]
        if self.vendor_class:
            opts.append((OPT_VENDOR_CLASS, self.vendor_class.encode()))
        return [*opts, (OPT_PARAMS, bytes(self.params))]


def ip4(a: str) -> bytes:
    """Dotted IPv4 to 4 bytes."""
    return ipaddress.IPv4Address(a).packed


def dhcp_message(op: int, xid: int, chaddr: bytes, options: Sequence[tuple[int, bytes]], *, ciaddr: str = "0.0.0.0",
                 yiaddr: str = "0.0.0.0", siaddr: str = "0.0.0.0", giaddr: str = "0.0.0.0", hops: int = 0,
                 secs: int = 0, broadcast: bool = False) -> bytes:
    """A BOOTP/DHCP message: fixed header, magic cookie, options (in the given order), END,
    padded to the BOOTP minimum."""
    msg = struct.pack("!BBBBIHH", op, 1, 6, hops, xid, secs, 0x8000 if broadcast else 0) + b"".join(
        ip4(a) for a in (ciaddr, yiaddr, siaddr, giaddr)) + chaddr.ljust(16, b"\0") + bytes(64 + 128)
    msg += b"\x63\x82\x53\x63" + b"".join(bytes([code, len(v)]) + v for code, v in options) + b"\xff"
    return msg.ljust(BOOTP_MIN, b"\0")


def lease_facts(kind: int, client: DhcpClient, options: Sequence[tuple[int, bytes]], *, src: C.Host, sport: int,
                dst: C.Host, dport: int, ciaddr: str = "0.0.0.0", yiaddr: str = "0.0.0.0",
                giaddr: str = "0.0.0.0") -> Facts:
    """One message as planted: addressing, the BOOTP addresses, every option (hex), and the
    lease facts: the address concerned (yiaddr, else requested address, else ciaddr)."""
    opts = dict(options)

    def address(code: int) -> str | None:
        return str(ipaddress.IPv4Address(opts[code])) if code in opts else None

    def text(code: int) -> str | None:
        return opts[code].decode() if code in opts else None

    requested = address(OPT_REQUESTED_IP)
    concerned = [a for a in (yiaddr, requested, ciaddr) if a not in (None, "0.0.0.0")]
    lease = opts.get(OPT_LEASE)
    return {
        "src": f"{src.ip}:{sport}", "dst": f"{dst.ip}:{dport}", "message_type": MESSAGE_NAMES[kind],
        "client_mac": client.host.mac, "ciaddr": ciaddr, "yiaddr": yiaddr, "giaddr": giaddr,
        "requested_ip": requested, "ip": concerned[0] if concerned else None,
        "lease_seconds": struct.unpack("!I", lease)[0] if lease else None,
        "hostname": text(OPT_HOSTNAME), "vendor_class": text(OPT_VENDOR_CLASS),
        "parameter_list": list(opts.get(OPT_PARAMS, b"")),
        "client_id": opts[OPT_CLIENT_ID].hex() if OPT_CLIENT_ID in opts else None,
        "server_id": address(OPT_SERVER_ID),
        "options": {str(code): value.hex() for code, value in options},
    }


@dataclass
class DhcpWire:
    """Where DHCP messages of one exchange travel: between a client and its relay (the router's
    interface on the client's segment), or between the relay and the server."""

    cap: C.Capture
    at_ns: int

    def send(self, src: C.Host, sport: int, dst: C.Host, dport: int, msg: bytes, gap_us: int = 0) -> None:
        """One datagram, `gap_us` after the previous one."""
        self.at_ns += gap_us * 1000
        self.cap.add(C.Packet(self.at_ns, C.udp_frame(C.Link(), src, sport, dst, dport, msg)))


def server_options(kind: int, server_ip: str, lease_s: int, subnet: str, router: str,
                   domain: str) -> list[tuple[int, bytes]]:
    """What the server puts in an OFFER or ACK (ISC dhcpd order)."""
    return [(OPT_MSG_TYPE, bytes([kind])), (OPT_SERVER_ID, ip4(server_ip)), (OPT_LEASE, struct.pack("!I", lease_s)),
            (OPT_T1, struct.pack("!I", lease_s // 2)), (OPT_T2, struct.pack("!I", lease_s * 7 // 8)),
            (OPT_SUBNET, ip4(subnet)), (OPT_ROUTER, ip4(router)), (OPT_DNS, ip4(DNS_SERVER.ip) + ip4("10.10.0.54")),
            (OPT_DOMAIN, domain.encode())]


def dhcp_dora(wire: DhcpWire, client: DhcpClient, relay: C.Host, server: C.Host, offered: str, lease_s: int,
              *, relayed: bool, agent_info: bytes = b"") -> list[Facts]:
    """DISCOVER, OFFER, REQUEST, ACK through the router's relay agent. Seen on the client's
    segment (`relayed` False): the client broadcasts from 0.0.0.0:68 (broadcast flag set), the
    relay answers from its interface to the broadcast address. Seen between relay and server
    (`relayed` True): the relay forwards to the server's port 67 from its interface address
    (giaddr, hops 1, option 82 appended), and the server answers the relay on port 67."""
    xid = int.from_bytes(C.fixed_bytes(f"{client.hostname}/xid", 4), "big")
    unset = C.Host(client.host.label, client.host.mac, "0.0.0.0")
    facts = []
    for kind, gap in ((DISCOVER, 0), (OFFER, 1800), (REQUEST, 2100), (ACK, 1700)):
        from_client = kind in (DISCOVER, REQUEST)
        if from_client:
            options = [(OPT_MSG_TYPE, bytes([kind]))]
            if kind == REQUEST:
                options += [(OPT_REQUESTED_IP, ip4(offered)), (OPT_SERVER_ID, ip4(server.ip))]
            options += [(OPT_MAX_SIZE, struct.pack("!H", 576)), *client.identity()]
            if relayed:
                options.append((OPT_RELAY_AGENT, agent_info))
            src, sport, dst, dport = (relay, 67, server, 67) if relayed else (unset, 68, BROADCAST, 67)
            yiaddr, giaddr, hops = "0.0.0.0", relay.ip if relayed else "0.0.0.0", int(relayed)
        else:
            options = server_options(kind, server.ip, lease_s, "255.255.255.0", relay.ip, "clin.example.org")
            if relayed:
                options.append((OPT_RELAY_AGENT, agent_info))  # echoed to the relay, which strips it
            src, sport, dst, dport = (server, 67, relay, 67) if relayed else (relay, 67, BROADCAST, 68)
            yiaddr, giaddr, hops = offered, relay.ip, 0  # a reply keeps the giaddr the relay set
        msg = dhcp_message(1 if from_client else 2, xid, client.chaddr, options, yiaddr=yiaddr, giaddr=giaddr,
                           hops=hops, broadcast=True, secs=0 if kind == DISCOVER else 2)
        wire.send(src, sport, dst, dport, msg, gap)
        facts.append(lease_facts(kind, client, options, src=src, sport=sport, dst=dst, dport=dport, yiaddr=yiaddr,
                                 giaddr=giaddr))
    return facts


def dhcp_nak(wire: DhcpWire, client: DhcpClient, relay: C.Host, server_ip: str, old_ip: str) -> list[Facts]:
    """INIT-REBOOT after a move to another ward: the client broadcasts a REQUEST for its old
    address (option 50, no server identifier), the server NAKs it through the relay."""
    xid = int.from_bytes(C.fixed_bytes(f"{client.hostname}/reboot-xid", 4), "big")
    unset = C.Host(client.host.label, client.host.mac, "0.0.0.0")
    request = [(OPT_MSG_TYPE, bytes([REQUEST])), (OPT_REQUESTED_IP, ip4(old_ip)),
               (OPT_MAX_SIZE, struct.pack("!H", 576)), *client.identity()]
    nak = [(OPT_MSG_TYPE, bytes([NAK])), (OPT_SERVER_ID, ip4(server_ip)), (OPT_MESSAGE, b"wrong network")]
    wire.send(unset, 68, BROADCAST, 67, dhcp_message(1, xid, client.chaddr, request, broadcast=True))
    wire.send(relay, 67, BROADCAST, 68, dhcp_message(2, xid, client.chaddr, nak, giaddr=relay.ip, broadcast=True),
              2400)
    return [lease_facts(REQUEST, client, request, src=unset, sport=68, dst=BROADCAST, dport=67),
            lease_facts(NAK, client, nak, src=relay, sport=67, dst=BROADCAST, dport=68, giaddr=relay.ip)]


def dhcp_release(wire: DhcpWire, client: DhcpClient, server: C.Host) -> Facts:
    """`ipconfig /release`: the client unicasts a RELEASE of its address (ciaddr) to the server."""
    xid = int.from_bytes(C.fixed_bytes(f"{client.hostname}/release-xid", 4), "big")
    options = [(OPT_MSG_TYPE, bytes([RELEASE])), (OPT_SERVER_ID, ip4(server.ip)), client.identity()[0]]
    wire.send(client.host, 68, server, 67, dhcp_message(1, xid, client.chaddr, options, ciaddr=client.host.ip))
    return lease_facts(RELEASE, client, options, src=client.host, sport=68, dst=server, dport=67,
                       ciaddr=client.host.ip)


# --------------------------------------------------------------------------------------
# the captures
# --------------------------------------------------------------------------------------


@dataclass
class Sample:
    """One capture being written and the facts planted in it."""

    name: str
    description: str
    cap: C.Capture
    sessions: list[Facts]
    leases: list[Facts]
    dns_answers: list[Facts]
    notes: list[str]

    @classmethod
    def new(cls, name: str, description: str) -> Sample:
        """An empty capture."""
        return cls(name, description, C.Capture(), [], [], [], [])

    def session(self, flow: MeteredFlow, protocol: str, vendor: str, product: str, direction: str,
                recognised_by: str, remote_name: str | None = None, user: str | None = None,
                client_software: str | None = None, server_software: str | None = None, **planted: Any) -> None:
        """Record a remote-access session once its connection is written (the ledger needs it)."""
        self.sessions.append({
            "client": C.endpoint(flow, "c"), "server": C.endpoint(flow, "s"), "protocol": protocol, "vendor": vendor,
            "product": product, "direction": direction, "recognised_by": recognised_by, "remote_name": remote_name,
            "user": user, "client_software": client_software, "server_software": server_software,
            "hassh": planted.pop("hassh", None), "hassh_server": planted.pop("hassh_server", None), **flow.ledger(),
            "planted": planted})

    def write(self, out: str) -> None:
        """The capture (Ethernet pcap, µs) and its expected.json."""
        C.write_pcap(os.path.join(out, self.name), self.cap.packets, 1)
        doc = {
            "capture": self.name, "description": self.description,
            "generated_by": "sample_pcaps/gen_remote.py (facts planted by the generator, not read back)",
            "frames": len(self.cap.packets), "sessions": self.sessions, "leases": self.leases,
            "dns_answers": self.dns_answers, "notes": self.notes,
        }
        with open(os.path.join(out, self.name.split(".")[0] + ".expected.json"), "w") as fh:
            json.dump(doc, fh, indent=1)
            fh.write("\n")


def remote_rdp() -> Sample:
    """RDP: a vendor engineer's mstsc (cookie, CredSSP with early user authorization, TLS with
    the server's self-signed certificate), a clinical workstation sent to a session host by a
    routing token, and a legacy console that refuses TLS."""
    s = Sample.new("remote-rdp.pcap", " ".join((remote_rdp.__doc__ or "").split()))
    typed = "sectra-service"
    cookie = f"mstshash={typed[:MSTSC_COOKIE_LEN]}"
    f = connect(s.cap, VENDOR_LAPTOP, 51724, PACS, 3389, "rdp-vendor", T0)
    facts = rdp_session(f, cookie_line=cookie, requested=PROTOCOL_SSL | PROTOCOL_HYBRID | PROTOCOL_HYBRID_EX,
                        selected=PROTOCOL_HYBRID_EX,
                        server_cert=rdp_self_signed("pacs01.clin.example.org", C.rsa_key(C.RSA_PACS), 0x1F3A52C1))
    s.session(f, "rdp", "", "RDP", "inbound", "rdp x.224", user=cookie.removeprefix("mstshash="), typed_user=typed,
              **facts)
    s.notes.append(f"mstsc truncates the user name to {MSTSC_COOKIE_LEN} characters: {typed!r} is sent as "
                   f"{cookie!r}.")
    session_host = G.host("rdsh02", ROUTER, "10.10.6.31", ttl=127)
    f = connect(s.cap, CLINICAL_WS, 50233, RDS_FARM, 3389, "rdp-token", T0 + MINUTE)
    facts = rdp_session(f, cookie_line=msts_routing_token(session_host.ip, 3389),
                        requested=PROTOCOL_SSL | PROTOCOL_HYBRID | PROTOCOL_HYBRID_EX, selected=PROTOCOL_HYBRID,
                        server_cert=rdp_self_signed("rdsh02.clin.example.org", C.rsa_key(C.RSA_SERVER_CA), 0x6D0E0B12))
    s.session(f, "rdp", "", "RDP", "inbound", "rdp x.224", routed_to=f"{session_host.ip}:3389", **facts)
    f = connect(s.cap, BIOMED_WS, 50871, US_CART, 3389, "rdp-refused", T0 + 2 * MINUTE)
    facts = rdp_session(f, cookie_line="mstshash=biomed", requested=PROTOCOL_SSL | PROTOCOL_HYBRID,
                        failure=SSL_NOT_ALLOWED_BY_SERVER)
    s.session(f, "rdp", "", "RDP", "inbound", "rdp x.224", user="biomed", **facts)
    return s


def remote_vnc() -> Sample:
    """VNC: RFB 3.8 to a CT reconstruction workstation (VeNCrypt and VNC authentication offered,
    VNC authentication chosen) and RFB 3.3 to a haematology analyzer's embedded server (the
    server decides: VNC authentication)."""
    s = Sample.new("remote-vnc.pcap", " ".join((remote_vnc.__doc__ or "").split()))
    f = connect(s.cap, BIOMED_WS, 52101, CT_RECON, 5900, "vnc-38", T0)
    facts = vnc_session(f, server_version="003.008", client_version="003.008", offered=(RFB_VENCRYPT, RFB_VNC_AUTH),
                        chosen=RFB_VNC_AUTH, desktop="ct-recon01:0 (service)")
    s.session(f, "vnc", "", "VNC", "inbound", "rfb version exchange", client_software="RFB 003.008",
              server_software="RFB 003.008", **facts)
    f = connect(s.cap, BIOMED_WS, 52140, ANALYZER, 5900, "vnc-33", T0 + MINUTE)
    facts = vnc_session(f, server_version="003.003", client_version="003.003", offered=(RFB_VNC_AUTH,),
                        chosen=RFB_VNC_AUTH, desktop="ADVIA 2120i")
    s.session(f, "vnc", "", "VNC", "inbound", "rfb version exchange", client_software="RFB 003.003",
              server_software="RFB 003.003", **facts)
    return s


LEGAL_NOTICE = (
    "+----------------------------------------------------------------------+",
    "|                            NOTICE                                    |",
    "|                                                                      |",
    "|  This device is part of a medical system of St. Example Health.     |",
    "|  Access is restricted to authorized service personnel only.         |",
    "|  All sessions are logged and may be monitored. Unauthorized access  |",
    "|  or changes may affect patient safety and are prohibited by law.    |",
    "|                                                                      |",
    "|  Service contact: Clinical Engineering, ext. 4410                   |",
    "|  Device: SpaceCom 2 docking station, ICU 2                          |",
    "|                                                                      |",
    "|  By continuing you confirm that a service ticket has been opened    |",
    "|  and that the ward has been informed before any change to the       |",
    "|  infusion configuration. Disconnect now if this is not the case.    |",
    "|                                                                      |",
    "|  Software updates must follow the manufacturer's instructions.      |",
    "|  Do not store patient data on this device.                          |",
    "+----------------------------------------------------------------------+",
    "",
)
"""Nineteen lines a device's SSH server sends before its version line (RFC 4253 4.2 allows
them; OpenSSH's client reads up to 1024)."""


def remote_ssh() -> Sample:
    """SSH: an IT workstation (Win32-OpenSSH 9.5) to the PACS (OpenSSH 8.7, RHEL 9), and a vendor
    laptop (OpenSSH 9.6) to an infusion docking station whose Dropbear sends a 19-line legal
    notice before its version line; both KEXINITs in clear, so HASSH and HASSHServer."""
    s = Sample.new("remote-ssh.pcap", " ".join((remote_ssh.__doc__ or "").split()))
    for minute, (label, client, cport, server, banners, server_kex, host_key, notice) in enumerate((
        ("ssh-pacs", IT_WS, 53022, PACS, ("SSH-2.0-OpenSSH_for_Windows_9.5", "SSH-2.0-OpenSSH_8.7"), RHEL9_SSHD,
         "ssh-ed25519", ()),
        ("ssh-dock", VENDOR_LAPTOP, 40522, PUMP_DOCK,
         ("SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5", "SSH-2.0-dropbear_2020.81"), DROPBEAR_2020,
         "ecdsa-sha2-nistp256", LEGAL_NOTICE),
    )):
        f = connect(s.cap, client, cport, server, 22, label, T0 + minute * MINUTE)
        facts = ssh_session(f, client_banner=banners[0], server_banner=banners[1], client=OPENSSH_9_CLIENT,
                            server=server_kex, host_key=host_key, pre_banner=notice)
        s.session(f, "ssh", "", "SSH", "inbound", "ssh version exchange", client_software=banners[0],
                  server_software=banners[1], **facts)
    return s


def remote_teamviewer() -> Sample:
    """TeamViewer: a clinical workstation resolves its TeamViewer router, then talks to it on TCP
    5938 (0x17 0x24 identification, 0x11 0x30 data)."""
    s = Sample.new("remote-teamviewer.pcap", " ".join((remote_teamviewer.__doc__ or "").split()))
    router = G.host("router12.teamviewer.com", ROUTER, "203.0.113.112", ttl=50)
    s.dns_answers.append(dns_over_udp(s.cap, CLINICAL_WS, 61002, DNS_SERVER, T0, "router12.teamviewer.com", TYPE_A,
                                      [Rr("router12.teamviewer.com", TYPE_A, 300, router.ip)]))
    f = connect(s.cap, CLINICAL_WS, 50400, router, 5938, "teamviewer", T0 + 40_000_000)
    facts = teamviewer_session(f)
    s.session(f, "remote-tool", "TeamViewer", "TeamViewer", "outbound", "signature",
              remote_name="router12.teamviewer.com", **facts)
    return s


ANYNET_ROOT = C.make_cert(C.name("AnyNet Root CA", "philandro Software GmbH", c="DE"), C.ec_key(0xA11E_7001),
                          issuer=None, serial=0x01, not_before=C.utc(2018, 1, 1), not_after=C.utc(2038, 1, 1), ca=True)
ANYNET_RELAY = C.make_cert(C.name("AnyNet Relay", "philandro Software GmbH", c="DE"), C.ec_key(0xA11E_7002),
                           issuer=ANYNET_ROOT, serial=0x5B8A1C4E, not_before=C.utc(2024, 11, 2),
                           not_after=C.utc(2026, 11, 2), eku=("server",))
ANYDESK_CLIENT = C.make_cert(C.name("AnyDesk Client", c=None), C.ec_key(0xA11E_7003), issuer=None, serial=0x2A,
                             not_before=C.utc(2024, 9, 30), not_after=C.utc(2074, 9, 30), eku=("client",))
"""AnyDesk's relay chain and the self-signed certificate every AnyDesk client presents."""


def ch_anydesk(label: str) -> C.ClientHello:
    """AnyDesk's OpenSSL ClientHello: TLS 1.2, no SNI, heartbeat offered."""
    return C.ClientHello(
        C.fixed_bytes(label + "/c-random", 32),
        (0xC030, 0xC02C, 0xC028, 0xC024, 0xC014, 0xC00A, 0x009F, 0x006B, 0x0039, 0xC032, 0xC02E, 0xC02A, 0xC026,
         0xC00F, 0xC005, 0x009D, 0x003D, 0x0035, 0xC02F, 0xC02B, 0xC027, 0xC023, 0xC013, 0xC009, 0x009E, 0x0067,
         0x0033, 0xC031, 0xC02D, 0xC029, 0xC025, 0xC00E, 0xC004, 0x009C, 0x003C, 0x002F, 0x00FF),
        (C.ext_point_formats((0, 1, 2)), C.ext_groups((C.SECP256R1, 0x0019, C.SECP384R1)), C.ext(C.EXT_SESSION_TICKET),
         C.ext_sig_algs((0x0601, 0x0603, 0x0501, 0x0503, C.RSA_PKCS1_SHA256, C.ECDSA_SHA256, C.RSA_PKCS1_SHA1, 0x0203)),
         C.ext(15, b"\x01")),
    )


def remote_anydesk() -> Sample:
    """AnyDesk: a clinical workstation resolves its relay, then opens mutual TLS to it on 443
    without SNI: the relay's AnyNet chain, a CertificateRequest, and the self-signed
    "AnyDesk Client" certificate."""
    s = Sample.new("remote-anydesk.pcap", " ".join((remote_anydesk.__doc__ or "").split()))
    name = "relay-5b8a1c4e.net.anydesk.com"
    relay = G.host(name, ROUTER, "203.0.113.40", ttl=51)
    s.dns_answers.append(dns_over_udp(s.cap, CLINICAL_WS, 61015, DNS_SERVER, T0, name, TYPE_A,
                                      [Rr(name, TYPE_A, 60, relay.ip)]))
    f = connect(s.cap, CLINICAL_WS, 50410, relay, 443, "anydesk", T0 + 35_000_000)
    conn = C.tls12_connection(f, ch=ch_anydesk(f.flow_id), sh=G.sh12(f.flow_id, 0xC02C, ems=False, ecdhe=True),
                              server_chain=(ANYNET_RELAY, ANYNET_ROOT), ca_names=[], client_chain=(ANYDESK_CLIENT,),
                              kx="ecdhe", app=(("c", 180), ("s", 420), ("c", 1350), ("s", 5600), ("c", 96)))
    s.session(f, "tls", "AnyDesk", "AnyDesk", "outbound", "certificate", remote_name=name, tls=conn.facts)
    return s


def remote_citrix() -> Sample:
    """Citrix HDX from a ward thin client to a virtual desktop: ICA on 1494 (the server's
    detect string first) and, with session reliability, CGP on 2598."""
    s = Sample.new("remote-citrix.pcap", " ".join((remote_citrix.__doc__ or "").split()))
    for i, (port, cgp) in enumerate(((1494, False), (2598, True))):
        f = connect(s.cap, THIN_CLIENT, 49801 + i, CITRIX_VDA, port, f"citrix-{port}", T0 + i * MINUTE)
        facts = citrix_session(f, cgp=cgp)
        s.session(f, "remote-tool", "Citrix", "Citrix ICA / CGP", "inbound", "signature", **facts)
    return s


def remote_vendor_cloud() -> Sample:
    """Vendor clouds over TLS: the CT calls GE HealthCare's InSite with SNI; the central station's
    older agent calls Philips Remote Services without SNI, to the address a DNS answer (through
    a CNAME) gave the name a moment before."""
    s = Sample.new("remote-vendor-cloud.pcap", " ".join((remote_vendor_cloud.__doc__ or "").split()))
    insite = G.host("insite2.gehealthcare.com", ROUTER, "198.51.100.80", ttl=49)
    f = connect(s.cap, CT_SCANNER, 44120, insite, 443, "cloud-ge", T0)
    conn = C.tls12_connection(f, ch=G.ch_openssl_device(insite.label, f.flow_id),
                              sh=G.sh12(f.flow_id, 0xC02F, ecdhe=True),
                              server_chain=(G.server_leaf(insite.label, C.ec_key(0x6E0C_0001), 0x3A0C01), G.SERVER_CA),
                              ca_names=None, client_chain=None, kx="ecdhe",
                              app=(("c", 2200), ("s", 640), ("c", 16000), ("s", 380)))
    s.session(f, "tls", "GE HealthCare", "InSite / OnWatch remote service", "outbound", "sni",
              remote_name=insite.label, tls=conn.facts)
    name, alias = "prs-eu.philips.com", "prs-eu.gslb.philips.com"
    prs = G.host(name, ROUTER, "192.0.2.44", ttl=50)
    s.dns_answers.append(dns_over_udp(s.cap, CENTRAL, 62044, DNS_SERVER, T0 + MINUTE, name, TYPE_A,
                                      [Rr(name, TYPE_CNAME, 3600, alias), Rr(alias, TYPE_A, 120, prs.ip)]))
    f = connect(s.cap, CENTRAL, 49177, prs, 443, "cloud-philips", T0 + MINUTE + 25_000_000)
    conn = C.tls12_connection(f, ch=G.ch_openssl_device(None, f.flow_id), sh=G.sh12(f.flow_id, 0xC02F, ecdhe=True),
                              server_chain=(G.server_leaf("*.philips.com", C.ec_key(0x9415_0001), 0x3A0C02),
                                            G.SERVER_CA),
                              ca_names=None, client_chain=None, kx="ecdhe", app=(("c", 900), ("s", 300)))
    s.session(f, "tls", "Philips", "Philips Remote Services", "outbound", "dns", remote_name=name, tls=conn.facts)
    return s


def addr_dhcp() -> Sample:
    """DHCP: an infusion pump's DISCOVER/OFFER/REQUEST/ACK on the ICU segment (answered by the
    router's relay); a monitor's exchange relayed to the server (giaddr, hops, option 82) on
    the uplink; a moved monitor's INIT-REBOOT REQUEST refused with a NAK; a workstation's
    RELEASE."""
    s = Sample.new("addr-dhcp.pcap", " ".join((addr_dhcp.__doc__ or "").split()))
    server = G.host("dhcp01", ROUTER, DHCP_SERVER_IP, ttl=127)
    icu_gw = G.host("icu-gw", ROUTER, "10.20.1.1", ttl=255)
    ward_gw = G.host("ward3-gw", ROUTER, "10.20.3.1", ttl=255)
    pump = DhcpClient(G.host("inf-0417", "00:d0:75:04:17:21", "10.20.1.47"), "inf-0417", "udhcp 1.31.1",
                      (1, 3, 6, 12, 15, 28, 42))  # Alaris Medical Systems
    monitor = DhcpClient(G.host("mon-ward3-12", "00:09:fb:31:12:0c", "10.20.3.112"), "MON-W3-12",
                         "PHILIPS IntelliVue", (1, 3, 6, 15, 42, 43, 44))  # Philips Patient Monitoring
    moved = DhcpClient(G.host("mon-icu-05", "00:09:fb:20:05:05", "0.0.0.0"), "MON-ICU-05", "PHILIPS IntelliVue",
                       (1, 3, 6, 15, 42, 43, 44))
    ws = DhcpClient(G.host("ws-icu-09", "b0:7b:25:3e:09:09", "10.20.1.109"), "WS-ICU-09", "MSFT 5.0",
                    (1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252))  # Dell
    switch_mac = bytes.fromhex("00000c5a3e07")
    agent_info = b"\x01\x06\x00\x04\x00\x03\x01\x0c" + b"\x02\x08\x00\x06" + switch_mac
    """Cisco's default option 82: circuit id (VLAN 3, module 1, port 12), remote id (switch MAC)."""
    s.leases += dhcp_dora(DhcpWire(s.cap, T0), pump, icu_gw, server, pump.host.ip, 86400, relayed=False)
    s.leases += dhcp_dora(DhcpWire(s.cap, T0 + MINUTE), monitor, ward_gw, server, monitor.host.ip, 43200,
                          relayed=True, agent_info=agent_info)
    s.leases += dhcp_nak(DhcpWire(s.cap, T0 + 2 * MINUTE), moved, icu_gw, server.ip, "10.20.3.105")
    s.leases.append(dhcp_release(DhcpWire(s.cap, T0 + 3 * MINUTE), ws, server))
    return s


DOMAIN_CONTROLLERS = [f"10.10.{site}.{n}" for site in (0, 1, 2, 3) for n in range(11, 20)]
"""36 domain controllers: the AD domain's own name resolves to every one (too many for UDP)."""


def addr_dns() -> Sample:
    """DNS: A and AAAA answers, a CNAME chain, an NXDOMAIN (WPAD lookup) with the zone's SOA, a
    response with authority and glue whose names point into each other (compression), and a
    truncated UDP answer retried over TCP."""
    s = Sample.new("addr-dns.pcap", " ".join((addr_dns.__doc__ or "").split()))
    monitor = G.host("mon-icu-01", "00:09:fb:20:01:01", "10.20.2.31")  # Philips Patient Monitoring
    at = iter(range(T0, T0 + 60 * MINUTE, 15_000_000_000))
    auth = RD | RA | AA
    soa = Rr("clin.example.org", TYPE_SOA, 3600,
             ("dns01.clin.example.org", "hostmaster.clin.example.org", 2025031101, 900, 600, 86400, 3600))
    s.dns_answers += [
        dns_over_udp(s.cap, monitor, 50001, DNS_SERVER, next(at), "central-station.icu.example.org", TYPE_A,
                     [Rr("central-station.icu.example.org", TYPE_A, 3600, "10.10.5.30")], flags=auth),
        dns_over_udp(s.cap, CLINICAL_WS, 50002, DNS_SERVER, next(at), "pacs01.radiology.example.org", TYPE_AAAA,
                     [Rr("pacs01.radiology.example.org", TYPE_AAAA, 1200, "fd00:10:10:6::10")], flags=auth),
        dns_over_udp(s.cap, CLINICAL_WS, 50003, DNS_SERVER, next(at), "ehr.example.org", TYPE_A,
                     [Rr("ehr.example.org", TYPE_CNAME, 300, "ehr.prod.example.net"),
                      Rr("ehr.prod.example.net", TYPE_CNAME, 60, "ehr-eu1.lb.example.net"),
                      Rr("ehr-eu1.lb.example.net", TYPE_A, 30, "10.10.7.15"),
                      Rr("ehr-eu1.lb.example.net", TYPE_A, 30, "10.10.7.16")]),
        dns_over_udp(s.cap, CLINICAL_WS, 50004, DNS_SERVER, next(at), "wpad.clin.example.org", TYPE_A,
                     rcode=NXDOMAIN, flags=auth, authority=[soa]),
        dns_over_udp(s.cap, monitor, 50005, DNS_SERVER, next(at), "pacs01.radiology.example.org", TYPE_A,
                     [Rr("pacs01.radiology.example.org", TYPE_A, 1200, "10.10.6.10")], flags=auth,
                     authority=[Rr("radiology.example.org", TYPE_NS, 86400, f"ns{n}.radiology.example.org")
                                for n in (1, 2)],
                     additional=[Rr(f"ns{n}.radiology.example.org", TYPE_A, 86400, f"10.10.0.{52 + n}")
                                 for n in (1, 2)]),
        dns_over_udp(s.cap, CLINICAL_WS, 50006, DNS_SERVER, next(at), "clin.example.org", TYPE_A,
                     flags=RD | RA | AA | TC),
    ]
    f = connect(s.cap, CLINICAL_WS, 50007, DNS_SERVER, 53, "dns-tcp", next(at))
    s.dns_answers.append(dns_over_tcp(f, "clin.example.org", TYPE_A,
                                      [Rr("clin.example.org", TYPE_A, 600, ip) for ip in DOMAIN_CONTROLLERS],
                                      flags=RD | RA | AA))
    s.notes.append("Only responses with address answers become DnsAnswer observations: the NXDOMAIN and the "
                   "truncated UDP response carry none.")
    return s


CAPTURES: tuple[Callable[[], Sample], ...] = (
    remote_rdp, remote_vnc, remote_ssh, remote_teamviewer, remote_anydesk, remote_citrix, remote_vendor_cloud,
    addr_dhcp, addr_dns,
)


def main() -> None:
    """Write every capture and its expected.json."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "remote-access"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for build in CAPTURES:
        build().write(args.out)


if __name__ == "__main__":
    main()
