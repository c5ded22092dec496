#!/usr/bin/env python3
"""Write the remote-access and addressing samples: `sample_pcaps/remote-access/`.

    python sample_pcaps/gen_remote.py [--out DIR]

One small capture per protocol (RDP, VNC, SSH, TeamViewer, AnyDesk, Citrix ICA/CGP, vendor
clouds, DHCP, DNS), each with `<capture>.expected.json`: the sessions, leases and DNS answers
planted here, never read back from trustwatch. The bytes are those real implementations send
(MS-RDPBCGR 2.2.1.1-2.2.1.2, RFC 6143, RFC 4253, RFC 2131/2132/3046, RFC 1035), between a
hospital's private addresses and documentation addresses, with real vendor OUIs.

The conversations come from the crafting library (craft/remote.py, craft/addressing.py), each
a function of a `craft.flows.TcpFlow` (TCP) or of hosts and a capture (UDP) plus its
parameters, returning the facts it planted; the hospital scenario plants the same ones. This
script says who talks to whom. Deterministic: the same bytes on every run (fixed randoms, keys
and timestamps).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from craft.addressing import (
    AA,
    DNS_SERVERS,
    NXDOMAIN,
    RA,
    RD,
    TC,
    TYPE_A,
    TYPE_AAAA,
    TYPE_CNAME,
    TYPE_NS,
    TYPE_SOA,
    DhcpClient,
    DhcpWire,
    Rr,
    dhcp_dora,
    dhcp_nak,
    dhcp_release,
    dns_over_tcp,
    dns_over_udp,
)
from craft.capture import Capture, Facts, output_dir, write_expected, write_pcap
from craft.certs import make_cert, name
from craft.fixed import epoch_ns, iso_us, utc
from craft.flows import TcpFlow, endpoint
from craft.hospital_pki import SERVER_CA, server_leaf
from craft.keys import RSA_PACS, RSA_SERVER_CA, ec_key, rsa_key
from craft.link import Host, Link, host, routed_host
from craft.remote import (
    DROPBEAR_2020,
    MSTSC_COOKIE_LEN,
    OPENSSH_9_CLIENT,
    PROTOCOL_HYBRID,
    PROTOCOL_HYBRID_EX,
    PROTOCOL_SSL,
    RFB_VENCRYPT,
    RFB_VNC_AUTH,
    RHEL9_SSHD,
    SSL_NOT_ALLOWED_BY_SERVER,
    citrix_session,
    msts_routing_token,
    rdp_self_signed,
    rdp_session,
    ssh_session,
    teamviewer_session,
    vnc_session,
)
from craft.tls_connection import tls12_connection
from craft.tls_profiles import ch_anydesk, ch_openssl_device, sh12

T0 = epoch_ns(utc(2025, 3, 11, 8, 0, 0))
"""Every capture starts at 08:00 UTC on the scenario's morning."""
MINUTE = 60_000_000_000


# --------------------------------------------------------------------------------------
# the hosts (real vendor OUIs; servers and the internet behind the router)
# --------------------------------------------------------------------------------------

VENDOR_LAPTOP = routed_host("vendor-laptop", "198.51.100.23", ttl=52)
"""A vendor engineer's laptop on the internet, reaching in through the VPN concentrator."""
IT_WS = host("it-ws01", "b0:7b:25:3e:10:14", "10.10.9.20")  # Dell
BIOMED_WS = host("biomed-ws02", "f8:bc:12:5a:02:31", "10.10.9.21")  # Dell
CLINICAL_WS = host("ws-icu-03", "f8:bc:12:5a:07:03", "10.20.9.3")  # Dell
THIN_CLIENT = host("tc-ward4-07", "00:21:5a:c4:17:07", "10.20.9.57")  # Hewlett Packard
PACS = routed_host("pacs01", "10.10.6.10")
RDS_FARM = routed_host("rds-farm", "10.10.6.30")
CITRIX_VDA = routed_host("ctx-vda07", "10.10.7.21", ttl=127)
CENTRAL = host("central-station", "00:09:fb:10:05:30", "10.10.5.30")  # Philips Patient Monitoring
US_CART = host("us-cart-04", "44:4b:5d:02:77:04", "10.30.8.48")  # GE Healthcare
CT_RECON = host("ct-recon01", "44:4b:5d:02:31:a8", "10.30.8.47")  # GE Healthcare
CT_SCANNER = host("ct01", "44:4b:5d:02:31:a7", "10.30.8.41")  # GE Healthcare
ANALYZER = host("hema-analyzer02", "00:18:65:4c:20:02", "10.40.1.22")  # Siemens Healthcare Diagnostics
PUMP_DOCK = host("spacecom-icu2", "00:12:21:4a:80:02", "10.20.1.60")  # B. Braun Melsungen
DNS_SERVER = routed_host("dns01", DNS_SERVERS[0], ttl=127)
DHCP_SERVER_IP = "10.10.0.2"

# --------------------------------------------------------------------------------------
# connections: a TcpFlow that keeps its ledger
# --------------------------------------------------------------------------------------


class MeteredFlow(TcpFlow):
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


def connect(cap: Capture, client: Host, cport: int, server: Host, sport: int, label: str,
            start_ns: int) -> MeteredFlow:
    """A new TCP connection (fixed ISNs from the label) on plain Ethernet."""
    return MeteredFlow.labelled(cap, Link(), client, cport, server, sport, label, start_ns)


# --------------------------------------------------------------------------------------
# the captures
# --------------------------------------------------------------------------------------


@dataclass
class Sample:
    """One capture being written and the facts planted in it."""

    name: str
    description: str
    cap: Capture
    sessions: list[Facts]
    leases: list[Facts]
    dns_answers: list[Facts]
    notes: list[str]

    @classmethod
    def new(cls, name: str, description: str) -> Sample:
        """An empty capture."""
        return cls(name, description, Capture(), [], [], [], [])

    def session(self, flow: MeteredFlow, protocol: str, vendor: str, product: str, direction: str,
                recognised_by: str, remote_name: str | None = None, user: str | None = None,
                client_software: str | None = None, server_software: str | None = None, **planted: Any) -> None:
        """Record a remote-access session once its connection is written (the ledger needs it)."""
        self.sessions.append({
            "client": endpoint(flow, "c"), "server": endpoint(flow, "s"), "protocol": protocol, "vendor": vendor,
            "product": product, "direction": direction, "recognised_by": recognised_by, "remote_name": remote_name,
            "user": user, "client_software": client_software, "server_software": server_software,
            "hassh": planted.pop("hassh", None), "hassh_server": planted.pop("hassh_server", None), **flow.ledger(),
            "planted": planted})

    def write(self, out: str) -> None:
        """The capture (Ethernet pcap, µs) and its expected.json."""
        write_pcap(os.path.join(out, self.name), self.cap.packets, 1)
        doc = {
            "capture": self.name, "description": self.description,
            "generated_by": "sample_pcaps/gen_remote.py (facts planted by the generator, not read back)",
            "frames": len(self.cap.packets), "sessions": self.sessions, "leases": self.leases,
            "dns_answers": self.dns_answers, "notes": self.notes,
        }
        write_expected(os.path.join(out, self.name.split(".")[0] + ".expected.json"), doc)


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
                        server_cert=rdp_self_signed("pacs01.clin.example.org", rsa_key(RSA_PACS), 0x1F3A52C1))
    s.session(f, "rdp", "", "RDP", "inbound", "rdp x.224", user=cookie.removeprefix("mstshash="), typed_user=typed,
              **facts)
    s.notes.append(f"mstsc truncates the user name to {MSTSC_COOKIE_LEN} characters: {typed!r} is sent as "
                   f"{cookie!r}.")
    session_host = routed_host("rdsh02", "10.10.6.31", ttl=127)
    f = connect(s.cap, CLINICAL_WS, 50233, RDS_FARM, 3389, "rdp-token", T0 + MINUTE)
    facts = rdp_session(f, cookie_line=msts_routing_token(session_host.ip, 3389),
                        requested=PROTOCOL_SSL | PROTOCOL_HYBRID | PROTOCOL_HYBRID_EX, selected=PROTOCOL_HYBRID,
                        server_cert=rdp_self_signed("rdsh02.clin.example.org", rsa_key(RSA_SERVER_CA), 0x6D0E0B12))
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
    router = routed_host("router12.teamviewer.com", "203.0.113.112", ttl=50)
    s.dns_answers.append(dns_over_udp(s.cap, CLINICAL_WS, 61002, DNS_SERVER, T0, "router12.teamviewer.com", TYPE_A,
                                      [Rr("router12.teamviewer.com", TYPE_A, 300, router.ip)]))
    f = connect(s.cap, CLINICAL_WS, 50400, router, 5938, "teamviewer", T0 + 40_000_000)
    facts = teamviewer_session(f)
    s.session(f, "remote-tool", "TeamViewer", "TeamViewer", "outbound", "signature",
              remote_name="router12.teamviewer.com", **facts)
    return s


ANYNET_ROOT = make_cert(name("AnyNet Root CA", "philandro Software GmbH", c="DE"), ec_key(0xA11E_7001),
                          issuer=None, serial=0x01, not_before=utc(2018, 1, 1), not_after=utc(2038, 1, 1), ca=True)
ANYNET_RELAY = make_cert(name("AnyNet Relay", "philandro Software GmbH", c="DE"), ec_key(0xA11E_7002),
                           issuer=ANYNET_ROOT, serial=0x5B8A1C4E, not_before=utc(2024, 11, 2),
                           not_after=utc(2026, 11, 2), eku=("server",))
ANYDESK_CLIENT = make_cert(name("AnyDesk Client", c=None), ec_key(0xA11E_7003), issuer=None, serial=0x2A,
                             not_before=utc(2024, 9, 30), not_after=utc(2074, 9, 30), eku=("client",))
"""AnyDesk's relay chain and the self-signed certificate every AnyDesk client presents."""


def remote_anydesk() -> Sample:
    """AnyDesk: a clinical workstation resolves its relay, then opens mutual TLS to it on 443
    without SNI: the relay's AnyNet chain, a CertificateRequest, and the self-signed
    "AnyDesk Client" certificate."""
    s = Sample.new("remote-anydesk.pcap", " ".join((remote_anydesk.__doc__ or "").split()))
    name = "relay-5b8a1c4e.net.anydesk.com"
    relay = routed_host(name, "203.0.113.40", ttl=51)
    s.dns_answers.append(dns_over_udp(s.cap, CLINICAL_WS, 61015, DNS_SERVER, T0, name, TYPE_A,
                                      [Rr(name, TYPE_A, 60, relay.ip)]))
    f = connect(s.cap, CLINICAL_WS, 50410, relay, 443, "anydesk", T0 + 35_000_000)
    conn = tls12_connection(f, ch=ch_anydesk(f.flow_id), sh=sh12(f.flow_id, 0xC02C, ems=False, ecdhe=True),
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
    insite = routed_host("insite2.gehealthcare.com", "198.51.100.80", ttl=49)
    f = connect(s.cap, CT_SCANNER, 44120, insite, 443, "cloud-ge", T0)
    conn = tls12_connection(f, ch=ch_openssl_device(insite.label, f.flow_id),
                              sh=sh12(f.flow_id, 0xC02F, ecdhe=True),
                              server_chain=(server_leaf(insite.label, ec_key(0x6E0C_0001), 0x3A0C01), SERVER_CA),
                              ca_names=None, client_chain=None, kx="ecdhe",
                              app=(("c", 2200), ("s", 640), ("c", 16000), ("s", 380)))
    s.session(f, "tls", "GE HealthCare", "InSite / OnWatch remote service", "outbound", "sni",
              remote_name=insite.label, tls=conn.facts)
    name, alias = "prs-eu.philips.com", "prs-eu.gslb.philips.com"
    prs = routed_host(name, "192.0.2.44", ttl=50)
    s.dns_answers.append(dns_over_udp(s.cap, CENTRAL, 62044, DNS_SERVER, T0 + MINUTE, name, TYPE_A,
                                      [Rr(name, TYPE_CNAME, 3600, alias), Rr(alias, TYPE_A, 120, prs.ip)]))
    f = connect(s.cap, CENTRAL, 49177, prs, 443, "cloud-philips", T0 + MINUTE + 25_000_000)
    conn = tls12_connection(f, ch=ch_openssl_device(None, f.flow_id), sh=sh12(f.flow_id, 0xC02F, ecdhe=True),
                              server_chain=(server_leaf("*.philips.com", ec_key(0x9415_0001), 0x3A0C02),
                                            SERVER_CA),
                              ca_names=None, client_chain=None, kx="ecdhe", app=(("c", 900), ("s", 300)))
    s.session(f, "tls", "Philips", "Philips Remote Services", "outbound", "dns", remote_name=name, tls=conn.facts)
    return s


def addr_dhcp() -> Sample:
    """DHCP: an infusion pump's DISCOVER/OFFER/REQUEST/ACK on the ICU segment (answered by the
    router's relay); a monitor's exchange relayed to the server (giaddr, hops, option 82) on
    the uplink; a moved monitor's INIT-REBOOT REQUEST refused with a NAK; a workstation's
    RELEASE."""
    s = Sample.new("addr-dhcp.pcap", " ".join((addr_dhcp.__doc__ or "").split()))
    server = routed_host("dhcp01", DHCP_SERVER_IP, ttl=127)
    icu_gw = routed_host("icu-gw", "10.20.1.1", ttl=255)
    ward_gw = routed_host("ward3-gw", "10.20.3.1", ttl=255)
    pump = DhcpClient(host("inf-0417", "00:d0:75:04:17:21", "10.20.1.47"), "inf-0417", "udhcp 1.31.1",
                      (1, 3, 6, 12, 15, 28, 42))  # Alaris Medical Systems
    monitor = DhcpClient(host("mon-ward3-12", "00:09:fb:31:12:0c", "10.20.3.112"), "MON-W3-12",
                         "PHILIPS IntelliVue", (1, 3, 6, 15, 42, 43, 44))  # Philips Patient Monitoring
    moved = DhcpClient(host("mon-icu-05", "00:09:fb:20:05:05", "0.0.0.0"), "MON-ICU-05", "PHILIPS IntelliVue",
                       (1, 3, 6, 15, 42, 43, 44))
    ws = DhcpClient(host("ws-icu-09", "b0:7b:25:3e:09:09", "10.20.1.109"), "WS-ICU-09", "MSFT 5.0",
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
    monitor = host("mon-icu-01", "00:09:fb:20:01:01", "10.20.2.31")  # Philips Patient Monitoring
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
    out = output_dir((__doc__ or "").split("\n\n")[0], "remote-access")
    for build in CAPTURES:
        build().write(out)


if __name__ == "__main__":
    main()
