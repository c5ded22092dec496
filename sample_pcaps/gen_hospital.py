#!/usr/bin/env python3
"""Write the hospital scenario: `sample_pcaps/hospital/` (captures, inventory, expected alerts).

    python sample_pcaps/gen_hospital.py [--out DIR]

One morning on the clinical segments of St. Example: 39 inventoried devices (infusion pumps,
patient monitors, ventilators, imaging modalities, lab analyzers, workstations, servers) and
one stranger. Every rule of the analytics fires on purpose, and the near misses beside them
must stay silent; `expected-alerts.json` says which is which and why. The facts are planted
here, never read back from trustwatch. The file servers' logons (`logons.pcap`) carry the
servers' answers: refused in bursts, accepted when they must not be, and refused as they must.

Each conversation is a function of its own that adds its connections to a capture, built on
the crafting library's conversations (craft/: TLS, cleartext logins, DICOM and HL7, SNMP,
remote access, DHCP and DNS), the same ones the credential and remote-access samples plant.
Deterministic: same bytes on every run (fixed keys, dates, randoms and timestamps).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from craft import remote
from craft.addressing import TYPE_A, TYPE_CNAME, Rr, dns_over_udp, relayed_ack
from craft.ber import der_str
from craft.capture import RADIOLOGY_SPAN, SPAN_SHB, Writer, output_dir, pcap_writer, pcapng_writer, write_expected
from craft.certs import Cert, PrivateKey
from craft.cleartext import (
    LOGGED_IN,
    LOGIN_INCORRECT,
    b64,
    ftp_login,
    ftp_logins,
    imap_login,
    ldap_bind,
    mqtt_connect,
    mqtt_publish,
    pop3_user_pass,
    redis_auth,
    smtp_auth,
    smtp_send,
    telnet_login,
)
from craft.clinical import IDENTITY_PASSCODE, dicom_association, hl7_exchange, user_identity
from craft.fixed import epoch_ns, fixed_bytes, utc
from craft.flows import TcpFlow, Timeline, datagram
from craft.hospital_pki import (
    CENTRAL_STATION,
    DEVICE_CA,
    INFUSION_SRV,
    LIS_SRV,
    NA_LEAF,
    NB_LEAF,
    PACS_SRV,
    SERVER_CA,
    ca_names,
    device_leaf,
    server_leaf,
)
from craft.keys import RSA_LEGACY_1024, RSA_PACS, ec_key, rsa_key
from craft.link import ROUTER_MAC, Host, Link, host, routed_host
from craft.sip import sip_register
from craft.snmp import SYS_NAME, snmp_get, snmp_trap
from craft.tls_connection import tls12_connection, tls13_connection
from craft.tls_profiles import ch_java_tls13, ch_openssl_device, sh12, sh13
from craft.tokens import jwt
from craft.web import http_api_request, http_basic, http_call, http_request, http_response, page
from craft.windows_auth import as_rep, as_req, kerberos_tcp, ntlm_messages, smb_session_setup

from trustwatch.analytics.inventory import COLUMNS

T0 = epoch_ns(utc(2025, 3, 11, 7, 0, 0))
"""The morning starts at 07:00 UTC; every conversation is placed at a minute after it."""


@dataclass(frozen=True)
class Device:
    """One device of the scenario: its inventory row (or none) and what it presents."""

    asset_id: str | None
    """None: not in the inventory."""
    mac: str
    """As the inventory writes it (any notation); on the wire it is normalised."""
    ip: str
    """Its address on the wire; `inventory_ip` is what the inventory says."""
    hostname: str
    manufacturer: str
    model: str
    firmware: str
    department: str
    function: str
    status: str = "active"
    status_date: str = ""
    inventory_ip: str | None = None
    """None: the inventory lists `ip` (a static address); "" a DHCP device."""
    registered_cert: str = ""
    """The cert_sha256 cell (set after the certificates are made)."""
    ae_titles: str = ""
    remote_access: str = ""
    """Vendors, products or protocols approved to reach it (the inventory's remote_access cell)."""
    usernames: str = ""
    """Accounts the inventory registers to it."""

    @property
    def wire_mac(self) -> str:
        raw = self.mac.replace(":", "").replace("-", "").replace(".", "").lower()
        return ":".join(raw[i : i + 2] for i in range(0, 12, 2))

    def host(self, ip: str | None = None, routed: bool = False) -> Host:
        """The device on the wire (behind the router it shows the router's MAC)."""
        return host(self.hostname, ROUTER_MAC if routed else self.wire_mac, ip or self.ip, ttl=63 if routed else 64)

    def row(self) -> dict[str, str]:
        return {
            "asset_id": self.asset_id or "", "mac": self.mac,
            "ip": self.ip if self.inventory_ip is None else self.inventory_ip, "hostname": self.hostname,
            "manufacturer": self.manufacturer, "model": self.model, "firmware": self.firmware,
            "department": self.department, "clinical_function": self.function, "status": self.status,
            "status_date": self.status_date, "cert_sha256": self.registered_cert, "usernames": self.usernames,
            "ae_titles": self.ae_titles, "remote_access": self.remote_access,
        }


def dev(asset_id: str | None, mac: str, ip: str, hostname: str, vendor: str, model: str, fw: str, dept: str,
        function: str, **kw: Any) -> Device:
    return Device(asset_id, mac, ip, hostname, vendor, model, fw, dept, function, **kw)


# --------------------------------------------------------------------------------------
# the devices (real vendor OUIs, private addresses)
# --------------------------------------------------------------------------------------

SERVERS = {
    "infusion": dev("SRV-INF-01", "00:50:56:10:04:20", "10.10.4.20", "infusion-mgmt", "BD", "Alaris Systems Manager",
                    "5.1", "IT", "infusion management server"),
    "central": dev("SRV-MON-01", "00:50:56:10:05:30", "10.10.5.30", "central-station", "Philips",
                   "IntelliVue Information Center iX", "C.03", "IT", "central monitoring",
                   remote_access="Philips"),
    "pacs": dev("SRV-PACS-01", "00:50:56:10:06:10", "10.10.6.10", "pacs01", "Sectra", "PACS", "24.2", "Radiology",
                "image archive", ae_titles="PACS_STORE", remote_access="RDP"),
    "lis": dev("SRV-LIS-01", "00:50:56:10:40:10", "10.40.0.10", "lis", "Cerner", "PathNet LIS", "2024.1",
               "Laboratory", "laboratory information system"),
    "nms": dev("SRV-NMS-01", "00:50:56:10:09:05", "10.10.9.5", "nms01", "Paessler", "PRTG Network Monitor",
               "24.4", "IT", "network management"),
    "cloud": dev(None, "00:00:00:00:00:00", "52.31.14.7", "remote.vendor-service.example", "-", "-", "-", "-", "-"),
}
"""Servers sit in the data centre, behind the core router."""


def pump(n: int, **kw: Any) -> Device:
    return dev(f"INF-{n:03d}", f"00:1b:4f:00:10:{n:02x}", f"10.20.1.{20 + n}", f"inf-{n:03d}", "BD",
               "Alaris 8015 PC Unit", "12.1.2", "ICU", "infusion", **kw)


def monitor(n: int, **kw: Any) -> Device:
    return dev(f"MON-{n:03d}", f"00-09-FB-00-20-{n:02X}", f"10.20.2.{30 + n}", f"mon-{n:03d}", "Philips",
               "IntelliVue MX800", "M.00.03", "ICU", "patient monitoring", **kw)


PUMPS = {n: pump(n) for n in range(1, 11)}
PUMPS[7] = pump(7, inventory_ip="")  # a DHCP device: it moves address during the morning
PUMPS[8] = pump(8, status="in_storage", status_date="2025-02-20")
MONITORS = {n: monitor(n) for n in range(1, 7)}
MONITORS[5] = monitor(5, status="Retired", status_date="2024-11-30", usernames="mon005-export")
VENTS = {n: dev(f"VEN-{n:03d}", f"0030e6003{n:03x}", f"10.20.3.{40 + n}", f"vent-{n:03d}", "Draeger", "Evita V500",
                "2.51", "ICU", "ventilation") for n in range(1, 4)}
MODALITIES = {
    "ct": dev("CT-01", "44:4B:5D:02:31:A7", "10.30.8.41", "ct01", "GE HealthCare", "Revolution CT", "24MW21",
              "Radiology", "imaging", ae_titles="CT01", remote_access="GE HealthCare"),
    "mr": dev("MR-01", "00:08:8d:11:22:01", "10.30.8.42", "mr01", "Siemens Healthineers", "MAGNETOM Vida", "XA51",
              "Radiology", "imaging", remote_access="Siemens Healthineers"),
    "us": dev("US-01", "00:1E:8F:33:44:01", "10.30.8.43", "us01", "Philips", "EPIQ Elite", "9.0.5", "Radiology",
              "imaging", ae_titles="US01", remote_access="VNC"),
    "cart2": dev("US-02", "00:1E:8F:33:44:02", "10.30.8.45", "us02", "Philips", "Lumify", "5.0", "Emergency",
                 "point-of-care imaging", ae_titles="US_CART"),
    "cart3": dev("US-03", "00:1E:8F:33:44:03", "10.30.8.46", "us03", "Philips", "Lumify", "5.0", "Emergency",
                 "point-of-care imaging", ae_titles="US_CART"),
    "dx": dev("DX-01", "0019.8f55.6601", "10.30.8.44", "dx01", "Carestream", "DRX-Evolution", "5.7", "Radiology",
              "imaging"),
}
LABS = {n: dev(f"LAB-{n:02d}", f"00:60:35:77:00:{n:02x}", f"10.40.1.{10 + n}", f"lab-{n:02d}", "Roche",
               "cobas pro", "03-01", "Laboratory", "analyzer") for n in range(1, 4)}
WORKSTATIONS = {n: dev(f"WS-{n:02d}", f"3c:ec:ef:10:00:{n:02x}", f"10.20.9.{n}", f"ws-{n:02d}", "Dell",
                       "OptiPlex 7010", "Windows 11", "ICU", "clinical workstation") for n in range(1, 4)}
REMOTE_PUMPS = {n: dev(f"INF-{n:03d}", f"00:1b:4f:00:60:{n:02x}", ip, f"inf-{n:03d}", "BD", "Alaris 8015 PC Unit",
                       "12.1.2", "Satellite clinic", "infusion")
                for n, ip in ((21, "10.60.1.21"), (22, "10.60.2.22"))}
"""Pumps of the satellite clinic: routed, they carry the router's MAC and resolve by static IP."""
OLD_PUMP = dev("INF-099", "00:1b:4f:00:10:99", "10.20.1.199", "inf-099", "BD", "Alaris 8000", "9.1", "ICU",
               "infusion", status="decommissioned", status_date="2024-09-15")
STRANGER = dev(None, "b8:27:eb:5a:11:02", "10.20.1.250", "raspberrypi", "Raspberry Pi Foundation", "Pi 3", "-", "-",
               "-")
ROAMING_PUMP = dev("INF-031", "00:1b:4f:00:60:31", "10.60.4.50", "inf-031", "BD", "Alaris 8015 PC Unit", "12.1.2",
                   "Satellite clinic", "infusion", inventory_ip="")
"""A DHCP pump of the satellite clinic, seen routed: only its DHCP lease ties its address to it."""
TABLET = dev(None, "d0:37:45:aa:10:03", "10.60.4.50", "tablet", "TP-Link", "-", "-", "-", "-")
"""Not inventoried: later gets the address INF-031 left."""
VENDOR_LAPTOP = dev(None, "00:00:00:00:00:00", "198.51.100.23", "vendor-laptop", "-", "-", "-", "-", "-")
"""A vendor engineer's laptop on the internet, reaching in through the VPN concentrator."""
VISITOR_LAPTOP = dev(None, "f0:2f:74:1c:0a:55", "10.20.9.77", "laptop", "ASUSTek", "-", "-", "-", "-")
"""Not in the inventory, but it presents no credential: nothing to say."""

# --------------------------------------------------------------------------------------
# the certificates
# --------------------------------------------------------------------------------------


def leaf(cn: str, seed: int, ou: str, *, not_before: dt.datetime = NB_LEAF, not_after: dt.datetime = NA_LEAF,
         key: PrivateKey | None = None) -> Cert:
    """A device certificate from the device CA (EC P-256 unless a key is given)."""
    return device_leaf(cn, key or ec_key(seed), seed, ou, not_before=not_before, not_after=not_after)


SRV_CERTS = {
    "infusion": INFUSION_SRV, "central": CENTRAL_STATION, "pacs": PACS_SRV, "lis": LIS_SRV,
    "cloud": server_leaf("remote.vendor-service.example", ec_key(0xC10D_0001), 0x3A00C1),
}
OWN = {d.asset_id: leaf(f"{d.hostname}.clin.example.org", 0x7700_0000 + i, d.department)
       for i, d in enumerate([*PUMPS.values(), *MONITORS.values(), *VENTS.values(), *LABS.values(),
                              *REMOTE_PUMPS.values(), OLD_PUMP, MODALITIES["ct"], MODALITIES["us"]])}
"""Unique per-device certificates (the normal, silent case)."""
FLEET = leaf("alaris-fleet.bd.example", 0x7701_F1EE, "Infusion Systems")
"""One certificate the vendor installed on a batch of pumps: a shared credential."""
WEAK_DX = leaf("dx01.clin.example.org", 0x7702_0001, "Radiology", key=rsa_key(RSA_LEGACY_1024))
"""RSA-1024: weak."""
EXPIRED_VENT = leaf("vent-003.clin.example.org", 0x7702_0002, "ICU", not_before=utc(2021, 1, 4),
                    not_after=utc(2024, 1, 4))
LONG_MR = leaf("mr01.clin.example.org", 0x7702_0003, "Radiology", not_before=utc(2023, 9, 1),
               not_after=utc(2038, 9, 1))
"""Fifteen years: long-lived."""
FIVE_YEARS_US = leaf("us01-5y.clin.example.org", 0x7702_0004, "Radiology", not_before=utc(2024, 6, 1),
                     not_after=utc(2029, 6, 1))
"""Exactly five years: the rule says more than five, so nothing."""
STRANGER_CERT = leaf("raspberrypi.local", 0x7702_0005, "Unknown", not_before=utc(2025, 1, 1),
                     not_after=utc(2026, 1, 1))
ROAMING_CERT = leaf("inf-031.clin.example.org", 0x7702_0007, "Satellite clinic")
"""Not registered in the inventory: INF-031 is recognised by its DHCP lease alone."""
TABLET_CERT = leaf("tablet-03.clinic.example", 0x7702_0008, "Unknown")
MON_TLS13 = leaf("mon-006.clin.example.org", 0x7702_0006, "ICU")
VENT_2019 = leaf("vent-002-2019.clin.example.org", 0x7702_0009, "ICU", not_before=utc(2019, 5, 2),
                 not_after=utc(2029, 5, 2))
"""Issued in 2019 and never replaced: in use for almost six years (unrotated, and long-lived)."""

# --------------------------------------------------------------------------------------
# conversations
# --------------------------------------------------------------------------------------


class Segment(Timeline):
    """One capture being written: its packets, a conversation each minute of the morning."""

    def __init__(self, name: str) -> None:
        super().__init__(name, T0, 60_000_000_000, 49152)

    def mtls(self, client: Host, server: str, cert: Cert | None, link: Link | None = None,
             tls13: bool = False) -> None:
        """One TLS connection to a server; `cert` the client certificate (None: no client auth)."""
        s = SERVERS[server]
        f = self.flow(client, s.host(routed=True), {"pacs": 2762, "lis": 6443}.get(server, 443), link)
        label = f.flow_id
        sni = f"{s.hostname}.clin.example.org"
        server_chain, client_chain = (SRV_CERTS[server], SERVER_CA), (cert, DEVICE_CA) if cert is not None else None
        if tls13:
            ch = ch_java_tls13(sni, label)
            tls13_connection(f, ch=ch, sh=sh13(label, ch), server_chain=server_chain, client_chain=client_chain)
            return
        tls12_connection(f, ch=ch_openssl_device(sni, label), sh=sh12(label, 0xC02F, ecdhe=True),
                         server_chain=server_chain, ca_names=ca_names() if cert is not None else None,
                         client_chain=client_chain, kx="ecdhe", app=(("c", 420), ("s", 1200)))

    def ftp_login(self, client: Host, user: str, password: str) -> None:
        """A trend export to the monitoring FTP server: the password crosses in clear."""
        f = self.connect(client, routed_host("trend-export", "10.10.5.40"), 21)
        ftp_login(f, "220 trend-export FTP server (vsFTPd 3.0.5) ready.", user, password)
        f.close()

    def ftp(self, client: Host, server: Host, logins: list[tuple[str, str, str]]) -> None:
        """One FTP connection and its logins, each answered as `logins` says (`ftp_logins`)."""
        f = self.connect(client, server, 21)
        ftp_logins(f, "220 (vsFTPd 3.0.5)", logins)
        f.close()

    def dicom_store(self, client: Host, calling: str, identity: tuple[str, str] | None, link: Link) -> None:
        """A plain DICOM association to the PACS (104): A-ASSOCIATE-RQ/AC, then one C-STORE
        fragment whose dataset names a (made-up) patient, which trustwatch must never read."""
        f = self.connect(client, SERVERS["pacs"].host(routed=True), 104, link)
        passcode = b"" if identity is None else user_identity(IDENTITY_PASSCODE, *(x.encode() for x in identity))
        dicom_association(f, calling, "PACS_STORE", passcode,
                          dataset=f"(0010,0010) {PATIENT_NAME} (0010,0020) {PATIENT_ID}".encode())
        f.close()

    def hl7_results(self, client: Host, sending: str, security: str, link: Link) -> None:
        """An analyzer sends a result (ORU^R01) to the LIS over MLLP; MSH-8 carries the
        interface's security string, PID and OBX the (made-up) patient's data."""
        f = self.connect(client, SERVERS["lis"].host(routed=True), 2575, link)
        minute = self.step
        stamp = f"20250311{7 + minute // 60:02d}{minute % 60:02d}00"
        message = (f"MSH|^~\\&|{sending}|CORE_LAB|LIS|ST_EXAMPLE|{stamp}|{security}|ORU^R01|"
                   f"{sending}{minute}|P|2.5.1\r"
                   f"PID|1||{PATIENT_ID}^^^ST_EXAMPLE||{PATIENT_NAME}||19711104|F\r"
                   f"OBX|1|NM|2345-7^Glucose^LN||6.1|mmol/L|3.9-5.5|H|||F\r")
        ack = f"MSH|^~\\&|LIS|ST_EXAMPLE|{sending}|CORE_LAB|{stamp}||ACK^R01|A{minute}|P|2.5.1\rMSA|AA|{sending}\r"
        hl7_exchange(f, message, ack)
        f.close()

    def snmp_poll(self, nms: Host, device: Host, community: str) -> None:
        """The network management station asks a device for its name (SNMPv2c); the device answers."""
        at, port = self.at(), self.next_port()
        snmp_get(self.cap, nms, port, device, at, 1, community, self.step * 97, [(SYS_NAME, der_str(device.label))])

    def snmp_trap(self, agent: Host, manager: Host, community: str) -> None:
        """An SNMPv2-Trap from a device (a cold start) to the management station."""
        snmp_trap(self.cap, agent, 40162, manager, self.at(), community, self.step * 97, 360_000,
                  "1.3.6.1.6.3.1.1.5.1", [(SYS_NAME, der_str(agent.label))])

    def http_bearer(self, client: Host, token: str) -> None:
        """A pump posts its status to the infusion server's REST API over plain HTTP with a
        bearer token."""
        f = self.connect(client, SERVERS["infusion"].host(routed=True), 80)
        request = http_request("POST", "/api/v2/pumps/status", "infusion-mgmt",
                               [("Authorization", f"Bearer {token}"), ("Content-Type", "application/json")],
                               b'{"state": "infusing", "channel": "A", "rate_ml_h": 42.0}')
        http_call(f, request, b"HTTP/1.1 204 No Content\r\n\r\n")
        f.close()


ISSUED = int(utc(2025, 3, 1).timestamp())
JWT_KEY = fixed_bytes("alaris-systems-manager/hs256", 32)
FOREVER_TOKEN = jwt({"iss": "alaris-systems-manager", "sub": "INF-009", "iat": ISSUED}, JWT_KEY)
"""No exp claim: valid forever (long-lived-token)."""
HOUR_TOKEN = jwt({"iss": "alaris-systems-manager", "sub": "INF-010", "iat": ISSUED, "exp": ISSUED + 3600},
                   JWT_KEY)

PATIENT_NAME, PATIENT_ID = "DOE^JANE^Q", "MRN40817723"
"""Made up, and planted in a dataset: the leak test checks it never reaches an output."""
DX_PASSCODE = "Carestream#2019"
SNMP_COMMUNITY = "h0sp-RO-2016"
"""The read community configured on every device the NMS polls: shared by all of them."""
LIS_SECURITY = "CobasLink2020"
"""One MSH-8 security string configured on every analyzer's interface: shared."""
PACS_PASSCODE = "St0re-2023"
"""The PACS's one DICOM user identity passcode, configured on the CT and the MR alike."""
SHARED_PASSWORD = "Ph1lips!"
"""The monitors' export account: one password on several devices (a shared credential)."""
OWN_PASSWORD = "mon006-Export-2025"


def icu_morning(seg: Segment) -> None:
    """The ICU: pumps to the infusion server, monitors to the central station, ventilators."""
    for n in (1, 2, 3, 9, 10):  # unique certificates: silent
        seg.mtls(PUMPS[n].host(), "infusion", OWN[PUMPS[n].asset_id])
    for n in (4, 5, 6):  # the vendor's fleet certificate on three pumps: shared-credential
        seg.mtls(PUMPS[n].host(), "infusion", FLEET)
    seg.mtls(PUMPS[7].host("10.20.1.27"), "infusion", OWN["INF-007"])  # DHCP device, first lease
    seg.mtls(PUMPS[8].host(), "infusion", OWN["INF-008"])  # in storage yet used: the inventory is stale,
    # but in_storage is not a gone status: no alert (documented near miss)
    for n in (1, 4, 6):
        seg.mtls(MONITORS[n].host(), "central", OWN[MONITORS[n].asset_id])
    # MON-002 presents the certificate of MON-003 (away for repair): identity-mismatch
    seg.mtls(MONITORS[2].host(), "central", OWN["MON-003"])
    seg.mtls(MONITORS[5].host(), "central", OWN["MON-005"])  # retired since November: retired-device
    seg.mtls(MONITORS[6].host(), "central", MON_TLS13, tls13=True)  # TLS 1.3: certificate not visible
    for n in (1, 2):
        seg.mtls(VENTS[n].host(), "central", OWN[VENTS[n].asset_id])
    seg.mtls(VENTS[3].host(), "central", EXPIRED_VENT)  # expired-certificate
    seg.mtls(PUMPS[10].host(), "infusion", OWN["INF-099"])  # the decommissioned pump's certificate
    seg.mtls(STRANGER.host(), "infusion", STRANGER_CERT)  # not in the inventory: unknown-device
    for n in (1, 2, 3):  # clinical workstations: server authentication only
        seg.mtls(WORKSTATIONS[n].host(), "infusion", None)
    seg.mtls(VISITOR_LAPTOP.host(), "infusion", None)  # unknown, but presents nothing
    seg.mtls(PUMPS[7].host("10.20.1.57"), "infusion", OWN["INF-007"])  # DHCP device, second lease
    # The pumps' REST API over plain HTTP: a token that never expires, and a one-hour one.
    seg.http_bearer(PUMPS[9].host(), FOREVER_TOKEN)
    seg.http_bearer(PUMPS[10].host(), HOUR_TOKEN)
    # SNMP: the NMS polls with one read community, and every device answers with it.
    nms = routed_host("nms01", SERVERS["nms"].ip)
    for device in (PUMPS[1], VENTS[1], VENTS[2]):
        seg.snmp_poll(nms, device.host(), SNMP_COMMUNITY)
    # MON-004 was never reconfigured: it traps with the factory community (default-credential).
    seg.snmp_trap(MONITORS[4].host(), nms, "public")
    # Trend exports over FTP: cleartext-credential per device; MON-001 and MON-004 share a
    # password (shared-credential); MON-006 has the same user name with its own password.
    seg.ftp_login(MONITORS[1].host(), "biomed", SHARED_PASSWORD)
    seg.ftp_login(MONITORS[4].host(), "biomed", SHARED_PASSWORD)
    seg.ftp_login(MONITORS[6].host(), "biomed", OWN_PASSWORD)


def radiology_morning(seg: Segment) -> None:
    """Radiology (VLAN 30): modalities store to the PACS over DICOM-TLS (2762)."""
    vlan = Link(vlans=((0x8100, 30),))
    seg.mtls(MODALITIES["ct"].host(), "pacs", OWN["CT-01"], vlan)
    seg.mtls(MODALITIES["mr"].host(), "pacs", LONG_MR, vlan)  # long-lived-certificate
    seg.mtls(MODALITIES["us"].host(), "pacs", FIVE_YEARS_US, vlan)  # exactly 5 years: silent
    seg.mtls(MODALITIES["dx"].host(), "pacs", WEAK_DX, vlan)  # weak-certificate
    for n in (1, 2, 3):
        seg.mtls(LABS[n].host(), "lis", OWN[LABS[n].asset_id], vlan)
    # Plain DICOM to the PACS: AE titles are identities.
    seg.dicom_store(MODALITIES["us"].host(), "US01", None, vlan)  # its own AE title: silent
    seg.dicom_store(MODALITIES["cart2"].host(), "US_CART", None, vlan)  # one vendor default AE title on
    seg.dicom_store(MODALITIES["cart3"].host(), "US_CART", None, vlan)  # two carts: shared-credential
    seg.dicom_store(MODALITIES["mr"].host(), "CT01", None, vlan)  # the CT's AE title: identity-mismatch
    seg.dicom_store(MODALITIES["dx"].host(), "DX01", ("dx-tech", DX_PASSCODE), vlan)  # passcode in clear
    # Results to the LIS over HL7/MLLP: one MSH-8 security string on two analyzers; the third has none.
    seg.hl7_results(LABS[1].host(), "COBAS1", LIS_SECURITY, vlan)
    seg.hl7_results(LABS[2].host(), "COBAS2", LIS_SECURITY, vlan)
    seg.hl7_results(LABS[3].host(), "COBAS3", "", vlan)
    # The PACS's storage account: one passcode on two modalities (shared-credential).
    seg.dicom_store(MODALITIES["ct"].host(), "CT01", ("pacs-store", PACS_PASSCODE), vlan)
    seg.dicom_store(MODALITIES["mr"].host(), "MR01", ("pacs-store", PACS_PASSCODE), vlan)


def uplink_morning(seg: Segment) -> None:
    """The core uplink: the satellite clinic's pumps (routed: the router's MAC on many
    addresses must not merge them), and pumps calling the vendor cloud (its server
    certificate, seen by many clients, is nobody's shared credential)."""
    for d in REMOTE_PUMPS.values():
        seg.mtls(d.host(routed=True), "infusion", OWN[d.asset_id])
    seg.mtls(routed_host("gw-clinic3", "10.60.3.1"), "infusion", None)
    for n in (1, 2, 3):
        seg.mtls(PUMPS[n].host(), "cloud", None)


UPS_DEFAULT = ("apc", "apc")
"""The UPS web card's factory login (rules/credentials.yaml lists it)."""
SERVICE_SECRETS = {
    "lis_api_key": "lis-7f3c9a2e51d04b8c",
    "telnet": "Dr4eger!svc",
    "pop3": "pager-Replies-9",
    "imap": "Dictat10n#Box",
    "smtp": "Alaris-Notify-24",
    "ldap": "PacsBind!2022",
    "mqtt": "vent-telemetry-55",
    "redis": "inf-cache-Redis-8",
    "smb": "Export-Share-2021",
    "kerberos": "Winter2025!",
    "sip": "Ext4411-Voip",
}
"""The passwords of the clinical services' accounts (those of NTLM, Kerberos and SIP never
cross the wire: they prove them)."""


def services_morning(seg: Segment) -> None:
    """The data centre's service VLAN: devices and servers log in to mail, the directory, the
    message broker, a cache, a file share, the KDC and the PBX. Every password that crosses in
    clear is a cleartext-credential; challenge responses (NTLM, Kerberos, SIP digest) are not."""
    sec = SERVICE_SECRETS

    def service(client: Host, name: str, ip: str, port: int) -> TcpFlow:
        return seg.connect(client, routed_host(name, ip), port)

    nms, pacs, inf, central = (SERVERS[k].host() for k in ("nms", "pacs", "infusion", "central"))
    # The NMS checks the ICU UPS's web card with its factory login (default-credential).
    f = service(nms, "ups-icu-1", "10.20.0.5", 80)
    http_basic(f, "ups-icu-1", "APC Management Card", *UPS_DEFAULT, ["/home.htm"])
    f.close()
    # An analyzer posts QC results to the LIS middleware with an API key header.
    f = service(LABS[3].host(), "lis", SERVERS["lis"].ip, 8080)
    http_api_request(f, "POST", "/api/v1/qc", "lis:8080", [("X-API-Key", sec["lis_api_key"]),
                                                             ("Content-Type", "application/json")], b'{"qc":"L1"}')
    f.close()
    # Biomed logs in to a ventilator's serial console server over Telnet.
    f = service(WORKSTATIONS[3].host(), "vent-console", "10.20.3.90", 23)
    telnet_login(f, "Digi PortServer TS 8", "biomed", sec["telnet"])
    f.close()
    # The central station fetches pager replies over POP3 and the PACS its dictation mailbox over IMAP.
    f = service(central, "mail", "10.10.2.25", 110)
    pop3_user_pass(f, "central-pager", sec["pop3"])
    f.close()
    f = service(pacs, "mail", "10.10.2.25", 143)
    imap_login(f, "pacs-dictation", sec["imap"])
    f.close()
    # The infusion server mails its alerts with SMTP AUTH LOGIN and caches in Redis with AUTH.
    f = service(inf, "mail", "10.10.2.25", 587)
    smtp_auth(f, "infusion-mgmt", "LOGIN", "alaris-notify", sec["smtp"])
    smtp_send(f, "alaris-notify@st-example.org", "biomed@st-example.org", "Pump INF-004 battery service due")
    f.close()
    f = service(inf, "cache", "10.10.4.21", 6379)
    redis_auth(f, sec["redis"])
    f.close()
    # The PACS looks radiologists up in the directory with a simple bind in clear.
    f = service(pacs, "dc01", "10.10.1.10", 389)
    ldap_bind(f, 1, "CN=svc-pacs,OU=Service Accounts,DC=st-example,DC=org", sec["ldap"])
    f.close()
    # A ventilator publishes telemetry to the broker with a user and password (MQTT 3.1.1).
    f = service(VENTS[2].host(), "broker", "10.10.4.30", 1883)
    mqtt_connect(f, "vent-002", "vent-telemetry", sec["mqtt"])
    mqtt_publish(f, "icu/vent-002/status", b'{"mode":"SIMV","alarms":0}')
    f.close()
    # Challenge responses (NTLM to the file share, Kerberos logon, SIP digest): user names, no cleartext.
    f = service(MODALITIES["us"].host(), "fs01", "10.10.3.15", 445)
    smb_session_setup(f, f.flow_id, r"\\fs01\us-export", ntlm_messages(
        f.flow_id, user="svc-us-export", domain="STEXAMPLE", workstation="US01", server_name="fs01",
        dns_domain="st-example.org", spn="cifs/fs01.st-example.org", at_ns=T0), T0)
    f.close()
    f = service(WORKSTATIONS[2].host(), "dc01", "10.10.1.10", 88)
    kerberos_tcp(f, as_req(f.flow_id, "jsmith", "ST-EXAMPLE.ORG", "WS-02", 0x5EED01, preauth=True),
                   as_rep(f.flow_id, "jsmith", "ST-EXAMPLE.ORG"))
    f.close()
    f = service(WORKSTATIONS[3].host(), "pbx", "10.10.2.60", 5060)
    sip_register(f, "4411", "pbx.st-example.org", sec["sip"], "MicroSIP/3.21.3")
    f.close()


MON_TYPO = "Ph1lips1"
PI_GUESSES = ["Passw0rd!", "admin1234", "Trend2024", "vsftpd-admin", "Welcome1!", "Hospital#1"]
UPS_GUESSES = ["apc-2024!", "Admin#2024", "ups-admin!", "Schneider1", "Pa55word!"]
SPRAYED = "Spring2025!"
SPRAYED_ACCOUNTS = ["root", "admin", "service", "backup", "ftp"]
UPS_BACKUP = "Bkp-ups-2024"
COBAS_OLD, COBAS_NEW = "CobasArch-2024", "CobasArch-2025"
VENTLOG_OLD = "VentLog-2023"
MON005_EXPORT = "mon005-Exp0rt"
"""The retired MON-005's export account: biomed moved it to MON-002 instead of disabling it."""
LOGON_SECRETS = [MON_TYPO, *PI_GUESSES, *UPS_GUESSES, SPRAYED, UPS_BACKUP, COBAS_OLD, COBAS_NEW, VENTLOG_OLD,
                 MON005_EXPORT]


def logons_morning(seg: Segment) -> None:
    """The file servers' logons and their answers: a stranger guessing, a workstation spraying,
    a device left behind by a rotation, a fleet refused after one, a retired account still let
    in by one server and refused by another; the mistyped password and the poller beside them."""
    trend, archive = routed_host("trend-export", "10.10.5.40"), routed_host("trend-archive", "10.10.5.41")
    lab_archive, vent_logs = routed_host("lab-archive", "10.40.0.20"), routed_host("vent-logs", "10.10.7.5")
    # MON-004 mistypes the export password once, then gets in: one refusal is no burst.
    seg.ftp(MONITORS[4].host(), trend, [("biomed", MON_TYPO, LOGIN_INCORRECT), ("biomed", SHARED_PASSWORD, LOGGED_IN)])
    # The Raspberry Pi guesses the admin password, three tries a connection: guessing.
    for batch in (PI_GUESSES[:3], PI_GUESSES[3:]):
        seg.ftp(STRANGER.host(), trend, [("admin", guess, LOGIN_INCORRECT) for guess in batch])
    # Then the ICU UPS's web card, HTTP Basic on one keep-alive connection: five passwords refused
    # with 401, then APC's factory login accepted: a guess that worked.
    f = seg.connect(STRANGER.host(), routed_host("ups-icu-1", "10.20.0.5"), 80)
    refused = http_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="APC Management Card"'),
                                                 ("Content-Type", "text/html")], page("401 Unauthorized"))
    for user, password in [*((UPS_DEFAULT[0], guess) for guess in UPS_GUESSES), UPS_DEFAULT]:
        answer = (http_response("200 OK", [("Content-Type", "text/html")], page("APC Management Card"))
                  if (user, password) == UPS_DEFAULT else refused)
        http_call(f, http_request("GET", "/home.htm", "ups-icu-1",
                                  [("Authorization", "Basic " + b64(f"{user}:{password}"))]), answer)
    f.close()
    # WS-01 (the TeamViewer workstation) tries one password on five accounts: spraying.
    for batch in (SPRAYED_ACCOUNTS[:3], SPRAYED_ACCOUNTS[3:]):
        seg.ftp(WORKSTATIONS[1].host(), trend, [(user, SPRAYED, LOGIN_INCORRECT) for user in batch])
    # The NMS backs up four UPS cards over FTP; one was never given the account: a poller whose
    # one agent refuses it, silent.
    nms = SERVERS["nms"].host()
    for n in range(1, 5):
        ups = routed_host(f"ups-icu-{n}", f"10.20.0.{5 + n}")
        seg.ftp(nms, ups, [("ups-backup", UPS_BACKUP, LOGIN_INCORRECT if n == 4 else LOGGED_IN)])
    # The lab archive's password is rotated: LAB-02 has the new one, LAB-01 keeps the old one.
    seg.ftp(LABS[1].host(), lab_archive, [("cobas", COBAS_OLD, LOGGED_IN)])
    seg.ftp(LABS[2].host(), lab_archive, [("cobas", COBAS_NEW, LOGGED_IN)])
    for _ in range(3):
        seg.ftp(LABS[1].host(), lab_archive, [("cobas", COBAS_OLD, LOGIN_INCORRECT)])
    # The ventilator log server's password is rotated: the fleet, one password, refused once each.
    seg.ftp(VENTS[1].host(), vent_logs, [("ventlog", VENTLOG_OLD, LOGGED_IN)])
    for vent in VENTS.values():
        seg.ftp(vent.host(), vent_logs, [("ventlog", VENTLOG_OLD, LOGIN_INCORRECT)])
    # MON-005's account, registered to the retired monitor: the export server still lets MON-002
    # in with it; the archive server refuses MON-005 itself (it fails closed).
    seg.ftp(MONITORS[2].host(), trend, [("mon005-export", MON005_EXPORT, LOGGED_IN)])
    seg.ftp(MONITORS[5].host(), archive, [("mon005-export", MON005_EXPORT, LOGIN_INCORRECT)])
    # VEN-002 still presents the certificate it was given in 2019.
    seg.mtls(VENTS[2].host(), "central", VENT_2019)


def vendor_morning(seg: Segment) -> None:
    """The clinic uplink and the internet edge: DHCP leases relayed for the satellite clinic,
    and vendor remote access, approved and not, in and out of its window."""
    dhcp_server, relay = routed_host("dhcp01", "10.10.0.2"), host("clinic4-gw", ROUTER_MAC, "10.60.4.1")

    def lease(device: Device, ip: str) -> None:
        ack = relayed_ack(device.host(ip), device.hostname, 3600, dhcp_server.ip, relay.ip, "clinic4.example.org")
        datagram(seg.cap, dhcp_server, 67, relay, 67, ack, seg.at())

    # INF-031 leases .50, works, moves to .51; the tablet then gets .50 and presents a certificate.
    lease(ROAMING_PUMP, "10.60.4.50")
    seg.mtls(ROAMING_PUMP.host(routed=True), "infusion", ROAMING_CERT)
    lease(ROAMING_PUMP, "10.60.4.51")
    seg.mtls(ROAMING_PUMP.host("10.60.4.51", routed=True), "infusion", ROAMING_CERT)
    lease(TABLET, "10.60.4.50")
    seg.mtls(TABLET.host(routed=True), "infusion", TABLET_CERT)
    # Vendor platforms over TLS, found by SNI: Siemens inside its window, GE outside any.
    for device, sni in ((MODALITIES["mr"], "srs-eu.siemens-healthineers.com"),
                        (MODALITIES["ct"], "insite.gehealthcare.com")):
        f = seg.flow(device.host(), routed_host(sni, "192.0.2.80", ttl=50), 443)
        tls12_connection(f, ch=ch_openssl_device(sni, f.flow_id), sh=sh12(f.flow_id, 0xC02F, ecdhe=True),
                         server_chain=(SRV_CERTS["cloud"], SERVER_CA), ca_names=None, client_chain=None, kx="ecdhe",
                         app=(("c", 4000), *(("s", 16000),) * 4))
    # A clinical workstation runs TeamViewer (TCP 5938): nothing approves it.
    f = seg.flow(WORKSTATIONS[1].host(), routed_host("router5.teamviewer.com", "203.0.113.59", ttl=50), 5938)
    remote.teamviewer_session(f)
    # The PACS vendor's engineer over RDP: the inventory approves RDP, but no window covers it.
    f = seg.flow(VENDOR_LAPTOP.host(routed=True), SERVERS["pacs"].host(routed=True), 3389)
    remote.rdp_session(f, cookie_line="mstshash=sectra-svc", requested=remote.PROTOCOL_SSL | remote.PROTOCOL_HYBRID,
                       selected=remote.PROTOCOL_HYBRID,
                       server_cert=remote.rdp_self_signed("pacs01.clin.example.org", rsa_key(RSA_PACS), 0x1F3A52C2))
    # Someone logs in to a ventilator over SSH: the inventory approves nothing for it.
    f = seg.flow(VENDOR_LAPTOP.host(routed=True), VENTS[1].host(), 22)
    remote.ssh_session(f, client_banner="SSH-2.0-OpenSSH_9.6", server_banner="SSH-2.0-dropbear_2020.81",
                       client=remote.OPENSSH_9_CLIENT, server=remote.DROPBEAR_2020, host_key="ecdsa-sha2-nistp256")
    # The central station's Philips Remote Services agent: no SNI; only the DNS answer it asked
    # for a moment before names the address. The inventory approves Philips; no window covers it.
    dns = routed_host("dns01", "10.10.0.53")
    central = SERVERS["central"].host()
    name, alias = "prs-eu.philips.com", "prs-eu.gslb.philips.com"
    prs = routed_host(name, "192.0.2.44", ttl=50)
    dns_over_udp(seg.cap, central, 62044, dns, seg.at(), name, TYPE_A,
                 [Rr(name, TYPE_CNAME, 3600, alias), Rr(alias, TYPE_A, 120, prs.ip)])
    f = seg.flow(central, prs, 443)
    tls12_connection(f, ch=ch_openssl_device(None, f.flow_id), sh=sh12(f.flow_id, 0xC02F, ecdhe=True),
                       server_chain=(SRV_CERTS["cloud"], SERVER_CA), ca_names=None, client_chain=None, kx="ecdhe",
                       app=(("c", 900), ("s", 300)))
    # Biomed views the ultrasound's screen over VNC (RFB 3.8): the inventory approves VNC for
    # US-01 and a window covers the morning.
    f = seg.flow(WORKSTATIONS[2].host(), MODALITIES["us"].host(), 5900)
    remote.vnc_session(f, server_version="003.008", client_version="003.008", offered=(remote.RFB_VNC_AUTH,),
                       chosen=remote.RFB_VNC_AUTH, desktop="EPIQ Elite service")


WINDOWS = """\
# Approved vendor remote-access windows (trustwatch audit --remote-access-windows).
windows:
  - vendor: Siemens Healthineers
    group: Radiology
    start: 2025-03-11T07:00:00Z
    end: 2025-03-11T09:00:00Z
    approver: R. Alvarez (Clinical Engineering)
    ticket: CHG-20250311-04
  - vendor: GE HealthCare
    device: CT-01
    start: 2025-03-12T08:00:00Z
    end: 2025-03-12T10:00:00Z
    approver: R. Alvarez (Clinical Engineering)
    ticket: CHG-20250312-01
  - vendor: RDP
    device: SRV-LIS-01
    start: 2025-03-11T06:00:00Z
    end: 2025-03-11T12:00:00Z
    approver: M. Chen (IT)
    ticket: CHG-20250311-09
  - vendor: VNC
    device: US-01
    start: 2025-03-11T07:00:00Z
    end: 2025-03-11T08:00:00Z
    approver: R. Alvarez (Clinical Engineering)
    ticket: CHG-20250311-12
"""


CAPTURES: list[tuple[str, Callable[[Segment], None], Writer]] = [
    ("icu.pcap", icu_morning, pcap_writer(1)),
    ("radiology.pcapng", radiology_morning, pcapng_writer([RADIOLOGY_SPAN], SPAN_SHB)),
    ("core-uplink.pcap", uplink_morning, pcap_writer(1)),
    ("vendor-access.pcap", vendor_morning, pcap_writer(1)),
    ("clinical-services.pcap", services_morning, pcap_writer(1)),
    ("logons.pcap", logons_morning, pcap_writer(1)),
]


def inventory() -> list[Device]:
    """Every inventoried device, with the certificates the inventory registers to them."""
    devices = [*SERVERS.values(), *PUMPS.values(), *MONITORS.values(), *VENTS.values(), *MODALITIES.values(),
               *LABS.values(), *WORKSTATIONS.values(), *REMOTE_PUMPS.values(), OLD_PUMP, ROAMING_PUMP]
    registered = {**{k: v.sha256 for k, v in OWN.items()}, "MR-01": LONG_MR.sha256, "DX-01": WEAK_DX.sha256,
                  "US-01": FIVE_YEARS_US.sha256, "VEN-003": EXPIRED_VENT.sha256}
    out = []
    for d in devices:
        if d.asset_id is None:
            continue
        cell = registered.get(d.asset_id, "")
        if d.asset_id == "US-01":  # two certificates registered, one upper-case: both notations work
            cell = f"{OWN['US-01'].sha256};{FIVE_YEARS_US.sha256.upper()}"
        out.append(Device(**{**d.__dict__, "registered_cert": cell}))
    return out


def expected() -> dict[str, Any]:
    """What the audit must report, and what it must not, each with why. An alert that only a sensor
    reporting the outcomes of one protocol can raise says so (`needs_outcomes`) and names the one
    raised until then (`until_then`)."""
    alerts: list[tuple[Any, ...]] = [
        ("shared-credential", f"client-certificate:{FLEET.sha256}", "the vendor fleet certificate on INF-004..006"),
        ("unknown-device", "device:mac:B8-27-EB-5A-11-02", "a Raspberry Pi presents a client certificate"),
        ("retired-device-authenticates", "asset:MON-005", "MON-005 is retired since 2024-11-30"),
        ("credential-outlives-device", f"client-certificate:{OWN['INF-099'].sha256}",
         "the decommissioned INF-099's certificate, presented by INF-010"),
        ("identity-mismatch", f"asset:MON-002|client-certificate:{OWN['MON-003'].sha256}",
         "MON-002 presents the certificate registered to MON-003"),
        ("weak-certificate", f"client-certificate:{WEAK_DX.sha256}", "DX-01: RSA-1024"),
        ("expired-certificate", f"client-certificate:{EXPIRED_VENT.sha256}", "VEN-003: expired 2024-01-04"),
        ("long-lived-certificate", f"client-certificate:{LONG_MR.sha256}", "MR-01: valid 15 years"),
        ("shared-credential", "secret:{fingerprint:" + SHARED_PASSWORD + "}",
         "MON-001 and MON-004 log in to the export server with one password"),
        ("cleartext-credential", "ftp:asset:MON-001", "FTP password in clear"),
        ("cleartext-credential", "ftp:asset:MON-004", "FTP password in clear"),
        ("cleartext-credential", "ftp:asset:MON-006", "FTP password in clear"),
        ("shared-credential", "ae-title:US_CART", "two ultrasound carts call the PACS with one AE title"),
        ("identity-mismatch", "asset:MR-01|ae-title:CT01", "MR-01 calls the PACS as CT01, CT-01's AE title"),
        ("cleartext-credential", "dicom:asset:DX-01", "DICOM user identity passcode in clear"),
        ("shared-credential", "secret:{fingerprint:" + LIS_SECURITY + "}",
         "LAB-01 and LAB-02 send the same HL7 MSH-8 security string"),
        ("cleartext-credential", "hl7:asset:LAB-01", "MSH-8 security in clear"),
        ("cleartext-credential", "hl7:asset:LAB-02", "MSH-8 security in clear"),
        ("shared-credential", "secret:{fingerprint:" + SNMP_COMMUNITY + "}",
         "the three devices the NMS polls answer with one SNMP community: they share it (the NMS only verifies it)"),
        *[("cleartext-credential", f"snmp:asset:{a}", "SNMP community in clear")
          for a in ("SRV-NMS-01", "INF-001", "VEN-001", "VEN-002")],
        ("long-lived-token", "secret:{fingerprint:" + FOREVER_TOKEN + "}", "INF-009's API token has no expiry"),
        ("default-credential-attempt", "source:asset:MON-004",
         "MON-004 traps with the factory SNMP community: a trap asks no answer, so nobody was seen to accept it"),
        ("cleartext-credential", "snmp:asset:MON-004", "SNMP community in clear"),
        ("cleartext-credential", "http:asset:INF-009", "bearer token over plain HTTP"),
        ("cleartext-credential", "http:asset:INF-010", "bearer token over plain HTTP"),
        ("unknown-device", "device:mac:D0-37-45-AA-10-03",
         "the tablet, routed, known by its DHCP lease of the address INF-031 left"),
        ("remote-access-unapproved", "remote-access:asset:CT-01:ge healthcare",
         "GE InSite session on 2025-03-11; the approved window is the next day"),
        ("remote-access-unapproved", "remote-access:asset:WS-01:teamviewer", "TeamViewer on a workstation"),
        ("remote-access-unapproved", "remote-access:asset:SRV-PACS-01:rdp",
         "RDP is approved for the PACS, but no window covers this session"),
        ("remote-access-unapproved", "remote-access:asset:VEN-001:ssh", "SSH into a ventilator"),
        ("remote-access-unapproved", "remote-access:asset:SRV-MON-01:philips",
         "Philips Remote Services, recognised by its DNS answer alone (no SNI): approved vendor, no window"),
        ("shared-credential", "secret:{fingerprint:" + PACS_PASSCODE + "}",
         "CT-01 and MR-01 store to the PACS with one DICOM passcode"),
        ("shared-credential", "ae-title:CT01",
         "now that CT-01 itself stores to the PACS, two devices call as CT01 (MR-01 misconfigured)"),
        ("cleartext-credential", "dicom:asset:CT-01", "DICOM user identity passcode in clear"),
        ("cleartext-credential", "dicom:asset:MR-01", "DICOM user identity passcode in clear"),
        ("default-credential", "secret:{fingerprint:" + UPS_DEFAULT[1] + "}",
         "the NMS logs in to the UPS web card with APC's factory login, and the card answers 200 OK: accepted",
         {"needs_outcomes": "http", "until_then": {
             "rule": "default-credential-attempt", "subject": "source:asset:SRV-NMS-01",
             "why": "while the sensor reports no HTTP outcome, the 200 OK is not read: tried, not seen accepted"}}),
        ("cleartext-credential", "http:asset:SRV-NMS-01", "HTTP Basic password in clear"),
        ("cleartext-credential", "http:asset:LAB-03", "API key over plain HTTP"),
        ("cleartext-credential", "telnet:asset:WS-03", "Telnet password in clear"),
        ("cleartext-credential", "pop3:asset:SRV-MON-01", "POP3 password in clear"),
        ("cleartext-credential", "imap:asset:SRV-PACS-01", "IMAP password in clear"),
        ("cleartext-credential", "smtp:asset:SRV-INF-01", "SMTP AUTH LOGIN password in clear"),
        ("cleartext-credential", "redis:asset:SRV-INF-01", "Redis AUTH password in clear"),
        ("cleartext-credential", "ldap:asset:SRV-PACS-01", "LDAP simple bind password in clear"),
        ("cleartext-credential", "mqtt:asset:VEN-002", "MQTT password in clear"),
        ("failed-authentication-burst", "guessing:mac:B8-27-EB-5A-11-02|account:admin@10.10.5.40",
         "the Raspberry Pi refused six times for admin, six different passwords in two minutes"),
        ("failed-authentication-burst", "guessing:mac:B8-27-EB-5A-11-02|account:apc@10.20.0.5",
         "the Raspberry Pi refused five times by the UPS web card (HTTP 401), then let in with APC's factory login"),
        ("cleartext-credential", "http:mac:B8-27-EB-5A-11-02", "HTTP Basic passwords in clear"),
        ("shared-credential", "secret:{fingerprint:" + UPS_DEFAULT[1] + "}",
         "the NMS and the Raspberry Pi both log in with APC's factory password"),
        ("failed-authentication-burst", "spraying:asset:WS-01", "WS-01 refused for five accounts in two minutes"),
        ("failed-authentication-burst",
         "stale:asset:LAB-01|account:cobas@10.40.0.20|secret:{fingerprint:" + COBAS_OLD + "}",
         "LAB-01 refused three times with the password it was accepted with before LAB-02 got the new one"),
        ("failed-authentication-burst", "many-sources:account:ventlog@10.10.7.5",
         "the three ventilators refused for one account within ten minutes"),
        ("shared-credential", "secret:{fingerprint:" + VENTLOG_OLD + "}", "the ventilators' one log password"),
        ("expired-credential-accepted", "10.10.5.40:21|username:mon005-export",
         "the export server accepts the account of the retired MON-005"),
        ("expired-credential-accepted", f"10.10.5.30:443|client-certificate:{EXPIRED_VENT.sha256}",
         "the central station lets VEN-003's expired certificate in (application data both ways): it fails open"),
        ("expired-credential-accepted", f"10.10.5.30:443|client-certificate:{OWN['MON-005'].sha256}",
         "the central station lets the retired MON-005's certificate in"),
        ("expired-credential-accepted", f"10.10.4.20:443|client-certificate:{OWN['INF-099'].sha256}",
         "the infusion server lets the decommissioned INF-099's certificate in (presented by INF-010)"),
        ("credential-outlives-device", "username:mon005-export", "MON-002 logs in with the retired MON-005's account"),
        ("shared-credential", "secret:{fingerprint:" + MON005_EXPORT + "}",
         "MON-002 and MON-005 present the same export password"),
        ("unrotated-credential", f"client-certificate:{VENT_2019.sha256}", "VEN-002's certificate, issued 2019-05-02"),
        ("long-lived-certificate", f"client-certificate:{VENT_2019.sha256}", "VEN-002's 2019 certificate: ten years"),
        *[("cleartext-credential", f"ftp:{key}", "FTP password in clear")
          for key in ("mac:B8-27-EB-5A-11-02", "asset:WS-01", "asset:SRV-NMS-01", "asset:LAB-01", "asset:LAB-02",
                      "asset:VEN-001", "asset:VEN-002", "asset:VEN-003", "asset:MON-002", "asset:MON-005")],
    ]
    near_misses = [
        ("shared-credential", f"client-certificate:{OWN['INF-007'].sha256}", "INF-007 moves IP (same MAC)"),
        ("shared-credential", f"server-certificate:{SRV_CERTS['cloud'].sha256}",
         "the vendor cloud's server certificate seen by three pumps"),
        ("shared-credential", f"client-certificate:{OWN['INF-021'].sha256}",
         "satellite pumps behind the router's MAC stay two devices"),
        ("shared-credential", f"client-certificate:{OWN['INF-022'].sha256}", "as above"),
        ("long-lived-certificate", f"client-certificate:{FIVE_YEARS_US.sha256}", "exactly five years"),
        ("retired-device-authenticates", "asset:INF-008", "in storage is not retired"),
        ("default-credential", "secret:{fingerprint:public}",
         "MON-004's trap with the factory community asks no answer: not an accepted default"),
        ("unknown-device", "device:mac:F0-2F-74-1C-0A-55",
         "the visitor laptop presents no identity: asked for a client certificate, it sends none"),
        ("unknown-device", "device:ip:10.60.1.21", "INF-021 resolves by its static IP"),
        ("unknown-device", "device:ip:10.60.2.22", "INF-022 resolves by its static IP"),
        ("identity-mismatch", f"asset:INF-010|client-certificate:{OWN['INF-099'].sha256}",
         "a gone device's certificate is credential-outlives-device, not a mismatch"),
        ("shared-credential", "secret:{fingerprint:" + OWN_PASSWORD + "}", "MON-006's own password"),
        ("shared-credential", "username:biomed", "one user name with different secrets is not shared"),
        ("shared-credential", "ae-title:PACS_STORE", "the PACS answers every modality with its own AE title"),
        ("identity-mismatch", "asset:US-01|ae-title:US01", "US-01 uses its registered AE title"),
        ("cleartext-credential", "hl7:asset:LAB-03", "LAB-03 sends no MSH-8"),
        ("long-lived-token", "secret:{fingerprint:" + HOUR_TOKEN + "}", "INF-010's token lives one hour"),
        ("remote-access-unapproved", "remote-access:asset:MR-01:siemens healthineers",
         "Siemens SRS session inside its approved window"),
        ("remote-access-unapproved", "remote-access:asset:US-01:vnc", "VNC to US-01 inside its approved window"),
        ("cleartext-credential", "smb:asset:US-01", "NTLM proves the password without sending it"),
        ("cleartext-credential", "kerberos:asset:WS-02", "Kerberos pre-authentication: no password in clear"),
        ("cleartext-credential", "sip:asset:WS-03", "SIP digest: a challenge response, not the password"),
        ("unknown-device", "device:ip:10.60.4.50", "INF-031 by its first lease, the tablet by its own"),
        ("unknown-device", "device:ip:10.60.4.51", "INF-031 after its move, by its second lease"),
        ("unknown-device", "device:mac:00-1B-4F-00-60-31", "INF-031 is in the inventory (by MAC via DHCP)"),
        ("unknown-device", "device:ip:192.0.2.80",
         "GE's InSite server presents its server certificate from the internet: a far end, off the site "
         "networks (10.0.0.0/8 by default, the private block of the inventory's addresses), never an unknown "
         "device"),
        ("unknown-device", "device:ip:192.0.2.44", "Philips Remote Services' server on the internet: a far end"),
        ("unknown-device", "device:ip:52.31.14.7", "the vendor cloud the pumps call: a far end"),
        ("failed-authentication-burst", "guessing:asset:MON-004|account:biomed@10.10.5.40",
         "one mistyped password, then the right one"),
        ("failed-authentication-burst", "spraying:asset:SRV-NMS-01", "the NMS is refused by one UPS card only"),
        ("failed-authentication-burst", "guessing:asset:SRV-NMS-01|account:ups-backup@10.20.0.9",
         "one refusal of one password"),
        ("failed-authentication-burst",
         "stale:asset:VEN-001|account:ventlog@10.10.7.5|secret:{fingerprint:" + VENTLOG_OLD + "}",
         "VEN-001 refused once after its acceptance: not yet again and again"),
        ("expired-credential-accepted", "10.10.5.41:21|username:mon005-export",
         "the archive server refuses the retired account: it fails closed (a passed check)"),
        ("unrotated-credential", f"client-certificate:{FIVE_YEARS_US.sha256}", "issued 2024-06-01: within five years"),
        ("unrotated-credential", f"client-certificate:{EXPIRED_VENT.sha256}", "expired: expired-certificate's"),
        ("unrotated-credential", "secret:{fingerprint:" + SHARED_PASSWORD + "}",
         "first audit of the site: a password's age is unknown, and not guessed"),
    ]
    return {
        "description": "The audit of sample_pcaps/hospital against inventory.csv: every alert (rule, "
                       "subject) it must raise, and near misses it must not. {fingerprint:S} stands for "
                       "the keyed fingerprint of secret S under the audit's site key.",
        "secrets": [SHARED_PASSWORD, OWN_PASSWORD, DX_PASSCODE, LIS_SECURITY, SNMP_COMMUNITY, FOREVER_TOKEN,
                    HOUR_TOKEN, PACS_PASSCODE, *SERVICE_SECRETS.values(), *LOGON_SECRETS],
        "patients": [PATIENT_NAME, PATIENT_ID],
        "alerts": [{"rule": a[0], "subject": a[1], "why": a[2], **(a[3] if len(a) > 3 else {})} for a in alerts],
        "near_misses": [{"rule": r, "subject": s, "why": w} for r, s, w in near_misses],
    }


def main() -> None:
    """Write the captures, the inventory, the approved windows and the expected alerts."""
    out = output_dir((__doc__ or "").split("\n\n")[0], "hospital")
    for name, conversations, writer in CAPTURES:
        seg = Segment(name.split(".")[0])
        conversations(seg)
        writer(os.path.join(out, name), seg.cap.packets)
    rows = io.StringIO()
    # A CMMS export with the columns of issue 3: no `criticality`, the rules' clinical functions rank.
    table = csv.DictWriter(rows, COLUMNS[:COLUMNS.index("criticality")], lineterminator="\n")
    table.writeheader()
    for d in inventory():
        table.writerow(d.row())
    with open(os.path.join(out, "inventory.csv"), "w") as fh:
        fh.write(rows.getvalue())
    with open(os.path.join(out, "remote-access-windows.yaml"), "w") as fh:
        fh.write(WINDOWS)
    write_expected(os.path.join(out, "expected-alerts.json"), expected())


if __name__ == "__main__":
    main()
