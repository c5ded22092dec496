"""Remote access as it crosses a hospital's network: RDP (MS-RDPBCGR X.224 negotiation, then
TLS and CredSSP), VNC/RFB (RFC 6143), SSH (RFC 4253: version lines and KEXINITs in clear, so
HASSH), TeamViewer and Citrix ICA/CGP (their first bytes, then encrypted framing).

Each session takes a new `TcpFlow` (not yet opened), writes the whole connection and returns
the wire values it planted.
"""

from __future__ import annotations

import hashlib
import ipaddress
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from .capture import Facts
from .certs import Cert, PrivateKey, make_cert, name
from .fixed import fixed_bytes, utc
from .flows import TcpFlow
from .tls_connection import tls12_connection
from .tls_profiles import ch_schannel, sh12

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


def rdp_self_signed(cn: str, key: PrivateKey, serial: int) -> Cert:
    """The certificate Windows makes for RDP: self-signed, CN = the host's FQDN, six months."""
    return make_cert(name(cn, c=None), key, issuer=None, serial=serial,
                       not_before=utc(2025, 1, 20, 3, 12, 44), not_after=utc(2025, 7, 22, 3, 12, 44),
                       eku=("server",))


CREDSSP_HYBRID_EX = (("c", 57), ("s", 268), ("c", 566), ("s", 75), ("c", 350), ("s", 4), ("c", 421), ("s", 110),
                     ("s", 3800), ("c", 96), ("s", 12400))
"""Encrypted after the handshake: CredSSP (NTLM negotiate, challenge, authenticate, pubKeyAuth,
credentials), the Early User Authorization Result, MCS Connect Initial/Response, screen updates."""


def rdp_session(flow: TcpFlow, *, cookie_line: str, requested: int, selected: int | None = None,
                failure: int | None = None, server_cert: Cert | None = None) -> Facts:
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
        conn = tls12_connection(flow, ch=ch_schannel(flow.flow_id), sh=sh12(flow.flow_id, 0xC030, ecdhe=True),
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


def vnc_session(flow: TcpFlow, *, server_version: str, client_version: str, offered: Sequence[int],
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
        flow.send("s", fixed_bytes(label + "/vnc-challenge", 16))
        flow.send("c", fixed_bytes(label + "/vnc-response", 16))
    if chosen == RFB_VNC_AUTH or client_version == "003.008":
        flow.send("s", struct.pack("!I", 0))  # SecurityResult OK (3.3 and 3.7 send none after "None")
    flow.send("c", b"\x01")  # ClientInit: shared
    flow.send("s", rfb_server_init(1920, 1080, desktop))
    encodings = (16, 5, 1, 0, -223, -239)  # ZRLE, Hextile, CopyRect, Raw, DesktopSize, Cursor
    flow.send("c", struct.pack(f"!BxH{len(encodings)}i", 2, len(encodings), *encodings)
               + struct.pack("!BBHHHH", 3, 0, 0, 0, 1920, 1080))
    width, height = 64, 16
    flow.send("s", struct.pack("!BxHHHHHi", 0, 1, 0, 0, width, height, 0)
               + fixed_bytes(label + "/vnc-pixels", width * height * 4))
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
    return struct.pack("!IB", 1 + len(payload) + pad, pad) + payload + fixed_bytes(label + "/pad", pad)


def ssh_string(b: bytes) -> bytes:
    """string (RFC 4251 5): uint32 length + bytes."""
    return struct.pack("!I", len(b)) + b


def kexinit(algorithms: KexAlgorithms, label: str) -> bytes:
    """SSH_MSG_KEXINIT (20): random cookie, the ten name-lists, first_kex_packet_follows 0,
    reserved 0, in a binary packet."""
    lists = b"".join(ssh_string(x.encode()) for x in algorithms.name_lists())
    return ssh_packet(bytes([20]) + fixed_bytes(label + "/cookie", 16) + lists + b"\x00" + bytes(4),
                      label + "/kexinit")


def ssh_session(flow: TcpFlow, *, client_banner: str, server_banner: str, client: KexAlgorithms,
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
    flow.send("c", ssh_packet(bytes([30]) + ssh_string(fixed_bytes(label + "/q-c", 32)), label + "/ecdh-init"))
    if host_key == "ssh-ed25519":
        blob = ssh_string(b"ssh-ed25519") + ssh_string(fixed_bytes(label + "/host-key", 32))
        sig = ssh_string(b"ssh-ed25519") + ssh_string(fixed_bytes(label + "/sig", 64))
    else:
        blob = ssh_string(b"ecdsa-sha2-nistp256") + ssh_string(b"nistp256") \
            + ssh_string(b"\x04" + fixed_bytes(label + "/host-key", 64))
        sig = ssh_string(b"ecdsa-sha2-nistp256") + ssh_string(
            ssh_string(b"\x00" + fixed_bytes(label + "/sig-r", 32)) + ssh_string(fixed_bytes(label + "/sig-s", 32)))
    reply = bytes([31]) + ssh_string(blob) + ssh_string(fixed_bytes(label + "/q-s", 32)) + ssh_string(sig)
    flow.send("s", ssh_packet(reply, label + "/ecdh-reply") + ssh_packet(b"\x15", label + "/s-newkeys"))
    flow.send("c", ssh_packet(b"\x15", label + "/c-newkeys"))
    for i, (d, n) in enumerate((("c", 68), ("s", 68), ("c", 84), ("s", 52), ("c", 628), ("s", 52), ("c", 132),
                                ("s", 1204), ("c", 116), ("s", 356))):
        flow.send(d, fixed_bytes(f"{label}/encrypted{i}", n))
    flow.close()
    return {"client_banner": client_banner, "server_banner": server_banner, "pre_banner_lines": len(pre_banner),
            "hassh_string": client.hassh_string, "hassh": client.hassh,
            "hassh_server_string": server.hassh_string, "hassh_server": server.hassh}


# --------------------------------------------------------------------------------------
# vendor tools: TeamViewer, Citrix ICA and CGP (first bytes as nDPI, libprotoident and
# nmap's probes know them; the rest is the tools' encrypted framing)
# --------------------------------------------------------------------------------------


def teamviewer_session(flow: TcpFlow) -> Facts:
    """TeamViewer to its router on 5938: the client's 0x17 0x24 identification packets, then
    both sides' 0x11 0x30 framed, encrypted data."""
    label = flow.flow_id
    flow.handshake()
    flow.send("c", b"\x17\x24\x0a\x20" + fixed_bytes(label + "/identify", 33))
    flow.send("c", b"\x17\x24\x28\x18" + fixed_bytes(label + "/hello", 62))
    for i, (d, n) in enumerate((("s", 44), ("s", 143), ("c", 1074), ("s", 1085), ("c", 52), ("s", 2696))):
        flow.send(d, b"\x11\x30" + bytes([0x36 if n < 64 else 0x3C, 0]) + fixed_bytes(f"{label}/data{i}", n))
    flow.close()
    return {"first_bytes": "1724"}


ICA_DETECT = b"\x7f\x7fICA\x00"
"""What an ICA server (TCP 1494) sends on connect, and the client echoes."""
CGP_HEADER = b"\x1aCGP/01"
"""The opening of Common Gateway Protocol (session reliability, TCP 2598), both ways."""


def citrix_session(flow: TcpFlow, *, cgp: bool) -> Facts:
    """A Citrix HDX session: ICA (server's detect string first) or CGP (client first)."""
    label = flow.flow_id
    flow.handshake()
    if cgp:
        flow.send("c", CGP_HEADER + fixed_bytes(label + "/cgp-c", 41))
        flow.send("s", CGP_HEADER + fixed_bytes(label + "/cgp-s", 25))
    else:
        flow.send("s", ICA_DETECT)
        flow.send("c", ICA_DETECT)
    for i, (d, n) in enumerate((("c", 201), ("s", 154), ("c", 1310), ("s", 2880), ("c", 96), ("s", 7400))):
        flow.send(d, fixed_bytes(f"{label}/hdx{i}", n))
    flow.close()
    return {"first_bytes": (CGP_HEADER if cgp else ICA_DETECT).hex()}

