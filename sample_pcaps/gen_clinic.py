#!/usr/bin/env python3
"""Write the clinic scenario: `sample_pcaps/clinic/` (captures, inventory, approved windows, site
file, expected alerts).

    python sample_pcaps/gen_clinic.py [--out DIR]

One morning at Lakeside Clinic, a dialysis and imaging day clinic with its own small IT room,
written for issue 16 (roles, gateways, scope, messy inventories) from scratch: a different site
from the hospital's. Its network (172.20.0.0/16 behind one Juniper switch-router) has

* an SNMP poller with per-device communities, a second poller polling some of the same agents,
  one community truly shared by the three dialysis machines that answer it, and the factory
  communities tried on devices that never answer them, except a label printer that does;
* two vendor gateways on site: Siemens Healthineers' SRS router (declared by the inventory's
  `role` column) and GE HealthCare's InSite agent (declared nowhere: recognised by its fan-out
  and its own tunnel to GE), relaying sessions into devices that approve their vendor and into
  devices that approve another one, once with GE's InSite account on a Siemens MR;
* an IT jump host (named in the site file) administering the servers, and once a clinical one;
* strangers on the floor presenting each kind of identity (a client certificate, a password, a
  TeamViewer session, an AnyDesk session, a DICOM AE title), and internet servers far away;
* a CMMS export with the messy rows of real ones: a UTF-8 byte-order mark, Windows-1252 lines, a
  retired printer whose static IP a new printer took, a decommissioned dialysis machine whose
  MAC (its network board) went into an active one, and a workstation row with a blank status.

`expected-alerts.json` lists the alerts the audit must raise and the near misses it must not,
each with why; they follow from the plan below, never from trustwatch's output. Deterministic:
same bytes on every run (fixed keys, dates, randoms and timestamps).
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from craft import remote
from craft.addressing import relayed_ack
from craft.ber import der_str
from craft.capture import Writer, output_dir, pcap_writer, write_expected
from craft.certs import Cert, make_cert, name
from craft.cleartext import ftp_login
from craft.clinical import dicom_association
from craft.fixed import epoch_ns, utc
from craft.flows import Timeline, datagram
from craft.keys import RSA_PACS, RSA_SERVER_CA, ec_key, rsa_key
from craft.link import Host, host
from craft.snmp import GET_REQUEST, NULL, SYS_NAME, snmp_community_message, snmp_get, snmp_pdu, snmp_trap
from craft.tls_connection import tls12_connection
from craft.tls_profiles import ch_anydesk, ch_openssl_device, sh12

T0 = epoch_ns(utc(2025, 6, 17, 8, 0, 0))
"""Tuesday 17 June 2025, 08:00 UTC; each conversation a minute after the one before."""
ORG = "Lakeside Clinic"
ROUTER = "e4:f2:7c:20:00:01"
"""The clinic's Juniper switch-router: whatever is routed shows its MAC."""


@dataclass(frozen=True)
class Device:
    """One device of the clinic: its inventory row (or none) and its place on the wire."""

    asset_id: str | None
    """None: not in the inventory (or only in a row that cannot be used)."""
    mac: str
    ip: str
    hostname: str
    manufacturer: str
    model: str
    department: str
    function: str
    status: str = "active"
    status_date: str = ""
    remote_access: str = ""
    usernames: str = ""
    ae_titles: str = ""
    role: str = ""
    inventory_mac: str | None = None
    """None: the inventory lists `mac`; "" none (a device known by its static IP)."""
    encoding: str = "utf-8"
    """How the CMMS wrote this device's line."""

    def host(self, routed: bool = False) -> Host:
        return host(self.hostname, ROUTER if routed else self.mac, self.ip, ttl=63 if routed else 64)

    def row(self) -> list[str]:
        mac = self.mac if self.inventory_mac is None else self.inventory_mac
        return [self.asset_id or "", mac, self.ip, self.hostname, self.manufacturer, self.model, self.department,
                self.function, self.status, self.status_date, self.usernames, self.ae_titles, self.remote_access,
                self.role]


COLUMNS = ["asset_id", "mac", "ip", "hostname", "manufacturer", "model", "department", "clinical_function", "status",
           "status_date", "usernames", "ae_titles", "remote_access", "role"]
"""The clinic's CMMS export: fewer columns than the hospital's, and a `role` column."""

# --------------------------------------------------------------------------------------
# the devices (real vendor OUIs, private addresses)
# --------------------------------------------------------------------------------------

IT = {
    "nms1": Device("NMS-01", "00:50:56:20:90:05", "172.20.90.5", "nms01", "Paessler", "PRTG Network Monitor", "IT",
                   "network management"),
    "nms2": Device("NMS-02", "00:50:56:20:90:06", "172.20.90.6", "nms02", "SolarWinds", "Network Performance Monitor",
                   "IT", "network management"),
    "jump": Device("JUMP-01", "d0:43:1e:20:90:20", "172.20.90.20", "jump01", "Dell", "PowerEdge R660", "IT",
                   "IT administration"),
    "ad": Device("SRV-AD", "00:50:56:20:90:10", "172.20.90.10", "dc01", "Microsoft", "Windows Server 2022", "IT",
                 "domain controller"),
    "file": Device("SRV-FILE", "00:50:56:20:90:30", "172.20.90.30", "files01", "Microsoft", "Windows Server 2022",
                   "IT", "file server"),
    "backup": Device("SRV-BKP", "00:50:56:20:90:40", "172.20.90.40", "backup01", "Veeam", "Backup & Replication",
                     "IT", "backup"),
    "int": Device("INT-01", "00:50:56:20:90:50", "172.20.90.50", "rhapsody01", "Rhapsody", "Integration Engine",
                  "IT", "interface engine"),
    "pacs": Device("PACS-01", "00:50:56:20:90:60", "172.20.90.60", "pacs01", "Sectra", "PACS", "Radiology",
                   "image archive", ae_titles="LAKE_PACS", remote_access="Sectra"),
}
"""The IT room (172.20.90.0/24), routed from the floor and imaging segments."""
GATEWAYS = {
    "srs": Device("GW-SRS", "00:0e:8c:20:70:10", "172.20.70.10", "srs-router", "Siemens Healthineers", "SRS router",
                  "Radiology", "remote service", remote_access="Siemens Healthineers", usernames="srsadmin",
                  role="vendor gateway"),
    "insite": Device("GW-INSITE", "44:4b:5d:20:70:20", "172.20.70.20", "insite-agent", "GE HealthCare",
                     "InSite RSvP agent", "Radiology", "vendor service", remote_access="GE HealthCare"),
}
"""Vendors' remote-service gateways (172.20.70.0/24): the SRS router is declared one, the InSite agent is not."""
IMAGING = {
    "ct1": Device("CT-01", "44:4b:5d:20:30:11", "172.20.30.11", "ct01", "GE HealthCare", "Revolution Maxima",
                  "Radiology", "imaging", remote_access="GE HealthCare", ae_titles="LAKE_CT01"),
    "ct2": Device("CT-02", "44:4b:5d:20:30:12", "172.20.30.12", "ct02", "GE HealthCare", "Optima CT660", "Radiology",
                  "imaging", remote_access="GE HealthCare"),
    "xr": Device("XR-01", "44:4b:5d:20:30:13", "172.20.30.13", "xr01", "GE HealthCare", "Definium 656", "Radiology",
                 "imaging", remote_access="GE HealthCare"),
    "mr1": Device("MR-01", "00:0e:8c:20:30:21", "172.20.30.21", "mr01", "Siemens Healthineers", "MAGNETOM Altea",
                  "Radiology", "imaging", remote_access="Siemens Healthineers"),
    "mr2": Device("MR-02", "00:0e:8c:20:30:22", "172.20.30.22", "mr02", "Siemens Healthineers", "MAGNETOM Sola",
                  "Radiology", "imaging", remote_access="Siemens Healthineers"),
}
DIALYSIS = {n: Device(f"DIA-0{n}", f"b0:4c:05:20:20:{10 + n:02x}", f"172.20.20.{10 + n}", f"dia-0{n}",
                      "Fresenius Medical Care", "5008S CorDiax", "Dialysis", "dialysis") for n in (1, 2, 3)}
DIALYSIS[2] = Device("DIA-02", "b0:4c:05:20:20:0c", "172.20.20.12", "dia-02", "Fresenius Medical Care",
                     "5008S CorDiax \u2013 HDF", "Dialysis", "dialysis", encoding="cp1252")
"""DIA-02's line came from a Windows workstation: its model's en dash is the Windows-1252 byte 0x96."""
PUMPS = {n: Device(f"INF-0{n}", f"00:12:21:20:20:{20 + n:02x}", f"172.20.20.{20 + n}", f"inf-0{n}", "B. Braun",
                   "Space Infusomat", "Dialysis", "infusion") for n in (1, 2, 3, 4)}
PRINTER = Device("PRN-01", "90:75:de:20:20:40", "172.20.20.40", "prn-label01", "Zebra", "ZT411", "Dialysis",
                 "printing")
"""The label printer still has its factory SNMP community, and answers it."""
NEW_PRINTER = Device("PRN-02", "90:75:de:20:20:41", "172.20.20.41", "prn-label02", "Zebra", "ZD421", "Dialysis",
                     "printing", inventory_mac="")
"""Listed by its static IP only: the address the retired PRN-OLD's row also lists."""
OLD_PRINTER = Device("PRN-OLD", "90:75:de:11:22:33", "172.20.20.41", "prn-label02", "Zebra", "GK420d", "Dialysis",
                     "printing", status="retired", status_date="2022-11-30")
OLD_DIALYSIS = Device("DIA-OLD", DIALYSIS[3].mac, "172.20.20.99", "dia-old", "Fresenius Medical Care", "4008S",
                      "Dialysis", "dialysis", status="decommissioned", status_date="2023-02-01")
"""Its network board went into DIA-03: one MAC on a decommissioned and an active row."""
VENTILATOR = Device("VENT-01", "00:a0:37:20:20:50", "172.20.20.50", "vent-01", "Dr\u00e4ger", "Evita V600",
                    "Dialysis", "ventilation", encoding="cp1252")
"""Not on the wire this morning; its line's "Dräger" is the Windows-1252 byte 0xE4."""
BLANK_ROW = Device("WS-09", "d0:43:1e:20:20:90", "172.20.20.90", "ws-09", "Dell", "OptiPlex 7020", "Dialysis",
                   "clinical workstation", status="")
"""A row with a blank status: unusable, skipped with a warning; the workstation is then unknown."""

STRANGERS = {
    "pi": Device(None, "dc:a6:32:20:20:77", "172.20.20.77", "octopi", "Raspberry Pi", "-", "-", "-"),
    "laptop": Device(None, "48:c3:5a:20:20:78", "172.20.20.78", "svc-laptop", "Lenovo", "-", "-", "-"),
    "tablet": Device(None, "64:1b:2f:20:30:79", "172.20.30.79", "galaxy-tab", "Samsung", "-", "-", "-"),
    "cart": Device(None, "00:a0:37:20:30:80", "172.20.30.80", "us-cart9", "Mindray", "-", "-", "-"),
}
"""Not in the inventory; each presents one kind of identity (WS-09, unusable, presents a password)."""
FAR = {
    "srs": host("srs.siemens-healthineers.com", ROUTER, "192.0.2.30", 50),
    "insite": host("insite.gehealthcare.com", ROUTER, "192.0.2.31", 50),
    "teamviewer": host("router7.teamviewer.com", ROUTER, "203.0.113.59", 51),
    "anydesk": host("relay-7c1d.net.anydesk.com", ROUTER, "203.0.113.80", 51),
}
"""Internet servers: far ends, never unknown devices."""

# --------------------------------------------------------------------------------------
# certificates and secrets
# --------------------------------------------------------------------------------------

CLINIC_CA = make_cert(name("Lakeside Clinic Issuing CA", ORG), rsa_key(RSA_SERVER_CA), issuer=None, serial=0x7001,
                      not_before=utc(2022, 1, 10), not_after=utc(2032, 1, 10), ca=True, path_len=0)


def clinic_leaf(cn: str, seed: int, *, server: bool) -> Cert:
    """A two-year certificate from the clinic's CA."""
    return make_cert(name(cn, ORG, "IT" if server else "Clinical Engineering"), ec_key(seed), issuer=CLINIC_CA,
                     serial=seed & 0xFFFFFF, not_before=utc(2025, 1, 6), not_after=utc(2027, 1, 6), dns=(cn,),
                     eku=("server",) if server else ("client",))


INT_CERT = clinic_leaf("rhapsody01.lakeside.example.org", 0x1A4E_0001, server=True)
DIA_CERT = clinic_leaf("dia-01.lakeside.example.org", 0x1A4E_0002, server=False)
PI_CERT = make_cert(name("octopi.local", c=None), ec_key(0x1A4E_0003), issuer=None, serial=0x51,
                    not_before=utc(2025, 3, 2), not_after=utc(2026, 3, 2), eku=("client",))
"""The stranger's own self-signed certificate: one year."""
VENDOR_CLOUD = make_cert(name("cloud.vendor-service.example", "Vendor Service"), ec_key(0x1A4E_0004), issuer=None,
                         serial=0x52, not_before=utc(2025, 1, 1), not_after=utc(2026, 1, 1), eku=("server",),
                         dns=("srs.siemens-healthineers.com", "insite.gehealthcare.com"))
ANYDESK_RELAY = make_cert(name("AnyNet Relay", c=None), ec_key(0x1A4E_0005), issuer=None, serial=0x53,
                          not_before=utc(2024, 1, 1), not_after=utc(2074, 1, 1), eku=("server",))
ANYDESK_CLIENT = make_cert(name("AnyDesk Client", c=None), ec_key(0x1A4E_0006), issuer=None, serial=0x54,
                           not_before=utc(2025, 2, 11), not_after=utc(2075, 2, 11), eku=("client",))
"""What every AnyDesk install makes for itself: self-signed, fifty years (long-lived)."""

COMMUNITIES = {f"INF-0{n}": f"bbraun-inf0{n}-ro" for n in (1, 2, 3, 4)} | {"PRN-02": "zebra-prn02-ro"}
"""Per-device read communities: each agent its own."""
DIALYSIS_COMMUNITY = "dialysis-RO"
"""One read community configured on every dialysis machine: truly shared by the agents that answer it."""
FACTORY = ("public", "private")
"""The factory read and write communities (rules/credentials.yaml lists both)."""
EXPORT_PASSWORD = "Export!2025"
"""WS-09's password to the file server's FTP export."""

# --------------------------------------------------------------------------------------
# conversations
# --------------------------------------------------------------------------------------


class Segment(Timeline):
    """One capture being written: a conversation each minute of the morning."""

    def __init__(self, name: str) -> None:
        super().__init__(name, T0, 60_000_000_000, 50210)

    def tls(self, client: Host, server: Host, sni: str | None, server_chain: tuple[Cert, ...],
            client_chain: tuple[Cert, ...] | None, port: int = 443) -> None:
        """A TLS 1.2 connection; `client_chain` None: the server asks for no certificate."""
        f = self.flow(client, server, port)
        tls12_connection(f, ch=ch_openssl_device(sni, f.flow_id), sh=sh12(f.flow_id, 0xC02F, ecdhe=True),
                         server_chain=server_chain, ca_names=[CLINIC_CA.subject] if client_chain else None,
                         client_chain=client_chain, kx="ecdhe", app=(("c", 600), ("s", 2400)))

    def poll(self, poller: Device, agent: Device, community: str, answered: bool = True) -> None:
        """An SNMPv2c GetRequest for sysName; the agent answers it when the community is its own."""
        at, port = self.at(), self.next_port()
        if answered:
            snmp_get(self.cap, poller.host(routed=True), port, agent.host(), at, 1, community, self.step * 89,
                     [(SYS_NAME, der_str(agent.hostname))])
        else:
            request = snmp_community_message(1, community, snmp_pdu(GET_REQUEST, self.step * 89, [(SYS_NAME, NULL)]))
            datagram(self.cap, poller.host(routed=True), port, agent.host(), 161, request, at)

    def rdp(self, client: Device, server: Device, user: str) -> None:
        f = self.flow(client.host(), server.host(), 3389)
        remote.rdp_session(f, cookie_line=f"mstshash={user}", requested=remote.PROTOCOL_SSL | remote.PROTOCOL_HYBRID,
                           selected=remote.PROTOCOL_HYBRID,
                           server_cert=remote.rdp_self_signed(f"{server.hostname}.lakeside.example.org",
                                                              rsa_key(RSA_PACS), 0x6D00 + self.step))

    def ssh(self, client: Device, server: Device) -> None:
        f = self.flow(client.host(), server.host(), 22)
        remote.ssh_session(f, client_banner="SSH-2.0-OpenSSH_9.6", server_banner="SSH-2.0-OpenSSH_8.7",
                           client=remote.OPENSSH_9_CLIENT, server=remote.RHEL9_SSHD, host_key="ecdsa-sha2-nistp256")

    def vnc(self, client: Device, server: Device) -> None:
        f = self.flow(client.host(), server.host(), 5900)
        remote.vnc_session(f, server_version="003.008", client_version="003.008", offered=(remote.RFB_VNC_AUTH,),
                           chosen=remote.RFB_VNC_AUTH, desktop=f"{server.model} service")


@dataclass
class Plan:
    """Who was asked for what, as the conversations are written: the expected alerts follow."""

    polls: list[tuple[Device, Device, str, bool]] = field(default_factory=list)
    """(poller, agent, community, answered)."""
    traps: list[tuple[Device, str]] = field(default_factory=list)


PLAN = Plan()


def monitoring_morning(seg: Segment) -> None:
    """The dialysis floor's SPAN (172.20.20.0/24): the pollers in the IT room ask the floor's
    agents, each with its own community; the dialysis machines all answer one community; the
    factory communities are tried and never answered, except by the label printer."""
    nms1, nms2 = IT["nms1"], IT["nms2"]

    def poll(poller: Device, agent: Device, community: str, answered: bool = True) -> None:
        seg.poll(poller, agent, community, answered)
        PLAN.polls.append((poller, agent, community, answered))

    for pump in PUMPS.values():
        poll(nms1, pump, COMMUNITIES[pump.asset_id or ""])
    poll(nms2, PUMPS[1], COMMUNITIES["INF-01"])  # the second poller, the same agent and community
    poll(nms1, NEW_PRINTER, COMMUNITIES["PRN-02"])
    for machine in DIALYSIS.values():
        poll(nms1, machine, DIALYSIS_COMMUNITY)
    poll(nms2, DIALYSIS[1], DIALYSIS_COMMUNITY)
    snmp_trap(seg.cap, DIALYSIS[2].host(), 40162, nms1.host(routed=True), seg.at(), DIALYSIS_COMMUNITY,
              seg.step * 89, 8_640_000, "1.3.6.1.6.3.1.1.5.3", [(SYS_NAME, der_str(DIALYSIS[2].hostname))])
    PLAN.traps.append((DIALYSIS[2], DIALYSIS_COMMUNITY))
    # The poller's template still carries the factory communities: nobody answers them but the printer.
    for pump in PUMPS.values():
        poll(nms1, pump, FACTORY[0], answered=False)
    poll(nms1, DIALYSIS[1], FACTORY[1], answered=False)
    poll(nms1, PRINTER, FACTORY[0])


def imaging_morning(seg: Segment) -> None:
    """The imaging SPAN (172.20.30.0/24 and the gateways' 172.20.70.0/24): the gateways' own
    tunnels to their vendors, and the sessions they relay."""
    srs, insite = GATEWAYS["srs"], GATEWAYS["insite"]
    for gateway, far in ((srs, FAR["srs"]), (insite, FAR["insite"])):
        seg.tls(gateway.host(), far, far.label, (VENDOR_CLOUD,), None)
    # Siemens' SRS router: the Siemens MR (approved), the GE CT with its own service account
    # (another vendor's device), the GE X-ray over VNC (another vendor's device).
    seg.rdp(srs, IMAGING["mr1"], "srsadmin")
    seg.rdp(srs, IMAGING["ct1"], "srsadmin")
    seg.vnc(srs, IMAGING["xr"])
    # GE's InSite agent: three GE devices (approved), and the Siemens MR with GE's InSite account.
    seg.rdp(insite, IMAGING["ct1"], "insite")
    seg.ssh(insite, IMAGING["ct2"])
    seg.vnc(insite, IMAGING["xr"])
    seg.rdp(insite, IMAGING["mr2"], "insite")


def it_morning(seg: Segment) -> None:
    """The IT room's SPAN (172.20.90.0/24): the jump host administers the servers (and once the
    PACS), a server backs itself up over SSH."""
    jump = IT["jump"]
    seg.rdp(jump, IT["ad"], "itadmin")
    seg.ssh(jump, IT["file"])
    seg.ssh(jump, IT["backup"])
    seg.ssh(IT["file"], IT["backup"])
    seg.ssh(jump, IT["pacs"])


def floor_morning(seg: Segment) -> None:
    """The floor and imaging access ports: the devices' own traffic, and the strangers'."""
    dhcp, relay = host("dhcp01", ROUTER, "172.20.90.2", 63), host("edge-sw", ROUTER, "172.20.20.1")
    pi, laptop, tablet, cart = (STRANGERS[k] for k in ("pi", "laptop", "tablet", "cart"))
    integration, pacs, files = (IT[k].host(routed=True) for k in ("int", "pacs", "file"))
    # Known devices doing their job: silent.
    seg.tls(DIALYSIS[1].host(), integration, IT["int"].hostname, (INT_CERT, CLINIC_CA), (DIA_CERT, CLINIC_CA))
    f = seg.connect(IMAGING["ct1"].host(), pacs, 104)
    dicom_association(f, "LAKE_CT01", "LAKE_PACS")
    f.close()
    # A Raspberry Pi leases an address, then presents its own certificate to the integration engine.
    datagram(seg.cap, dhcp, 67, relay, 67, relayed_ack(pi.host(), pi.hostname, 86400, dhcp.ip, relay.ip,
                                                       "lakeside.example.org"), seg.at())
    seg.tls(pi.host(), integration, IT["int"].hostname, (INT_CERT, CLINIC_CA), (PI_CERT,))
    # WS-09 (its inventory row is unusable) exports to the file server's FTP with a password.
    f = seg.connect(BLANK_ROW.host(), files, 21)
    ftp_login(f, "220 files01 Microsoft FTP Service", "export", EXPORT_PASSWORD)
    f.close()
    # A service laptop runs TeamViewer, a tablet AnyDesk (mutual TLS with AnyDesk's own certificate).
    f = seg.flow(laptop.host(), FAR["teamviewer"], 5938)
    remote.teamviewer_session(f)
    f = seg.flow(tablet.host(), FAR["anydesk"], 443)
    tls12_connection(f, ch=ch_anydesk(f.flow_id), sh=sh12(f.flow_id, 0xC02C, ems=False, ecdhe=True),
                     server_chain=(ANYDESK_RELAY,), ca_names=[], client_chain=(ANYDESK_CLIENT,), kx="ecdhe",
                     app=(("c", 180), ("s", 420), ("c", 1350), ("s", 5600)))
    # An ultrasound cart nobody registered stores to the PACS under its own AE title.
    f = seg.connect(cart.host(), pacs, 104)
    dicom_association(f, "USCART9", "LAKE_PACS")
    f.close()


CAPTURES: list[tuple[str, Callable[[Segment], None], Writer]] = [
    ("clinic-monitoring.pcap", monitoring_morning, pcap_writer(1)),
    ("clinic-imaging.pcap", imaging_morning, pcap_writer(1)),
    ("clinic-it.pcap", it_morning, pcap_writer(1)),
    ("clinic-floor.pcap", floor_morning, pcap_writer(1)),
]

WINDOWS = """\
# Approved vendor remote-access windows (trustwatch audit --remote-access-windows).
windows:
  - vendor: Siemens Healthineers
    group: Radiology
    start: 2025-06-17T07:30:00Z
    end: 2025-06-17T12:00:00Z
    approver: A. Novak (Biomedical Engineering)
    ticket: LKS-4471
  - vendor: GE HealthCare
    group: Radiology
    start: 2025-06-17T07:30:00Z
    end: 2025-06-17T12:00:00Z
    approver: A. Novak (Biomedical Engineering)
    ticket: LKS-4472
"""
SITE = """\
# Lakeside Clinic (trustwatch audit --site): the monitored networks, and a host whose role the
# inventory does not say.
networks: [172.20.0.0/16]
roles:
  - {host: JUMP-01, role: jump-host}
"""


def inventory_rows() -> list[Device]:
    """Every row of the CMMS export, in its order (the gone and the blank ones included)."""
    return [*IT.values(), *GATEWAYS.values(), *IMAGING.values(), *DIALYSIS.values(), OLD_DIALYSIS, *PUMPS.values(),
            PRINTER, OLD_PRINTER, NEW_PRINTER, VENTILATOR, BLANK_ROW]


def inventory_bytes() -> bytes:
    """The export as the CMMS wrote it: a UTF-8 byte-order mark, UTF-8 lines, and the lines a
    Windows workstation edited in Windows-1252."""
    lines = [(",".join(COLUMNS), "utf-8")] + [(",".join(d.row()), d.encoding) for d in inventory_rows()]
    return codecs.BOM_UTF8 + b"".join(f"{text}\n".encode(encoding) for text, encoding in lines)


def fp(secret: str) -> str:
    return "secret:{fingerprint:" + secret + "}"


def key(d: Device) -> str:
    """The device key the audit must give it: its asset, else its own MAC."""
    return f"asset:{d.asset_id}" if d.asset_id and d is not BLANK_ROW else f"mac:{d.mac.replace(':', '-').upper()}"


def expected() -> dict[str, Any]:
    """What the audit must report, and what it must not, each with why: from `PLAN` and the lists above."""
    speakers = dict.fromkeys([p for p, _a, _c, _ok in PLAN.polls] + [a for _p, a, _c, ok in PLAN.polls if ok]
                             + [a for a, _c in PLAN.traps])
    unanswered = [(p, a, c) for p, a, c, ok in PLAN.polls if not ok]
    ge_relay = "relayed by GE's InSite agent (recognised by its fan-out and its own tunnel to GE)"
    strangers = STRANGERS
    alerts = [
        ("shared-credential", fp(DIALYSIS_COMMUNITY),
         "DIA-01, DIA-02 and DIA-03 answer one community (DIA-02 also traps with it); NMS-01 and NMS-02 only ask"),
        ("default-credential", fp("public"), "PRN-01 answers NMS-01's request with the factory community"),
        ("default-credential-attempt", "source:asset:NMS-01",
         f"NMS-01 tries the factory communities {len(unanswered)} times on "
         f"{', '.join(dict.fromkeys(a.asset_id or '' for _p, a, _c in unanswered))}: never answered"),
        *[("cleartext-credential", f"snmp:{key(d)}", "SNMP community in clear") for d in speakers],
        ("cleartext-credential", f"ftp:{key(BLANK_ROW)}", "WS-09's FTP password in clear"),
        ("unknown-device", f"device:{key(strangers['pi'])}", "a Raspberry Pi presents its own client certificate"),
        ("unknown-device", f"device:{key(BLANK_ROW)}",
         "WS-09 logs in over FTP; its inventory row has a blank status, so it is unusable and the device unknown"),
        ("unknown-device", f"device:{key(strangers['laptop'])}", "a service laptop's TeamViewer session"),
        ("unknown-device", f"device:{key(strangers['tablet'])}", "a tablet's AnyDesk session (and certificate)"),
        ("unknown-device", f"device:{key(strangers['cart'])}", "an unregistered cart's DICOM AE title USCART9"),
        ("remote-access-unapproved", f"remote-access:{key(strangers['laptop'])}:teamviewer",
         "TeamViewer on a device the inventory does not know"),
        ("remote-access-unapproved", f"remote-access:{key(strangers['tablet'])}:anydesk",
         "AnyDesk on a device the inventory does not know"),
        ("long-lived-certificate", f"client-certificate:{ANYDESK_CLIENT.sha256}",
         "AnyDesk's self-signed client certificate is valid for fifty years"),
        ("remote-access-unapproved", "remote-access:asset:CT-01:siemens healthineers",
         "Siemens' SRS router -> the GE CT as srsadmin, the gateway's own account: critical"),
        ("remote-access-unapproved", "remote-access:asset:XR-01:siemens healthineers",
         "Siemens' SRS router -> the GE X-ray over VNC: the X-ray approves GE only"),
        ("remote-access-unapproved", "remote-access:asset:MR-02:ge healthcare",
         f"GE's InSite account on the Siemens MR, {ge_relay}: critical"),
        ("remote-access-unapproved", "remote-access:asset:PACS-01:ssh",
         "the jump host onto the PACS: a clinical device, so not internal administration; it approves Sectra only"),
    ]
    near_misses = [
        *[("shared-credential", fp(c), f"{a.asset_id}'s own community: its pollers only verify it")
          for c, a in {c: a for _p, a, c, ok in PLAN.polls if ok and c in COMMUNITIES.values()}.items()],
        ("default-credential", fp("private"), "the factory write community was tried on DIA-01, never answered"),
        ("default-credential-attempt", "source:asset:NMS-02", "NMS-02 asks with the agents' own communities only"),
        ("retired-device-authenticates", "asset:PRN-OLD",
         "its static IP now belongs to PRN-02: the row in service owns the address"),
        ("retired-device-authenticates", "asset:DIA-OLD",
         "its MAC is DIA-03's now: the row in service owns the address"),
        ("unknown-device", f"device:mac:{NEW_PRINTER.mac.replace(':', '-').upper()}",
         "PRN-02 resolves by its static IP, which the retired PRN-OLD's row also lists"),
        ("unknown-device", f"device:{key(DIALYSIS[3])}", "DIA-03 is known by the MAC DIA-OLD's row also lists"),
        *[("unknown-device", f"device:ip:{h.ip}", f"{h.label} is on the internet: a far end")
          for h in FAR.values()],
        ("remote-access-unapproved", "remote-access:asset:MR-01:siemens healthineers",
         "Siemens' gateway onto the Siemens MR inside the Siemens window"),
        *[("remote-access-unapproved", f"remote-access:asset:{d}:ge healthcare",
           f"GE's InSite agent onto a GE device inside the GE window ({ge_relay})")
          for d in ("CT-01", "CT-02", "XR-01")],
        ("remote-access-unapproved", "remote-access:asset:GW-SRS:siemens healthineers",
         "the SRS router's own tunnel to Siemens: approved"),
        ("remote-access-unapproved", "remote-access:asset:GW-INSITE:ge healthcare",
         "the InSite agent's own tunnel to GE: approved"),
        ("remote-access-unapproved", "remote-access:asset:SRV-AD:rdp", "the jump host onto a server: internal"),
        ("remote-access-unapproved", "remote-access:asset:SRV-FILE:ssh", "the jump host onto a server: internal"),
        ("remote-access-unapproved", "remote-access:asset:SRV-BKP:ssh",
         "the jump host and the file server onto the backup server: internal"),
        ("long-lived-certificate", f"client-certificate:{PI_CERT.sha256}", "the Raspberry Pi's certificate: one year"),
    ]
    return {
        "description": "The audit of sample_pcaps/clinic against inventory.csv, remote-access-windows.yaml and "
                       "site.yaml: every alert (rule, subject) it must raise, and near misses it must not. "
                       "{fingerprint:S} stands for the keyed fingerprint of secret S under the audit's site key.",
        "secrets": [*COMMUNITIES.values(), DIALYSIS_COMMUNITY, *FACTORY, EXPORT_PASSWORD],
        "skipped_rows": [f"{BLANK_ROW.asset_id}: status: missing status"],
        "alerts": [{"rule": r, "subject": s, "why": w} for r, s, w in alerts],
        "near_misses": [{"rule": r, "subject": s, "why": w} for r, s, w in near_misses],
    }


def main() -> None:
    """Write the captures, the inventory, the approved windows, the site file and the expected alerts."""
    out = output_dir((__doc__ or "").split("\n\n")[0], "clinic")
    for capture, conversations, writer in CAPTURES:
        seg = Segment(capture.split(".")[0])
        conversations(seg)
        writer(os.path.join(out, capture), seg.cap.packets)
    with open(os.path.join(out, "inventory.csv"), "wb") as fh:
        fh.write(inventory_bytes())
    for file, text in (("remote-access-windows.yaml", WINDOWS), ("site.yaml", SITE)):
        with open(os.path.join(out, file), "w") as fh:
            fh.write(text)
    write_expected(os.path.join(out, "expected-alerts.json"), expected())


if __name__ == "__main__":
    main()
