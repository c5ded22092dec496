#!/usr/bin/env python3
"""Write one small capture per credential protocol, and what each planted: `sample_pcaps/credentials/`.

    python sample_pcaps/gen_credentials.py [--out DIR]

Each capture shows how the devices of a hospital network present one protocol's credentials,
the way real implementations put them on the wire (the RFC's message shapes, a server's
challenge before the answer, keep-alive connections, one keystroke per segment...), and
`<capture>.expected.json` lists every credential planted: protocol, endpoints, presenter,
user, secret kind, the raw secret (`password`, `token`, `community`, `passcode` or `secret`:
the leak test searches every output for them), mechanism and notes in trustwatch's
vocabulary, and the frame in which the message carrying it is complete. Challenge responses
(Digest, APOP, CRAM-MD5, SIP, the SNMPv3 HMAC) are computed for real from a planted password,
listed under `password` although it never crosses the wire (kind "hash"; "none" for SNMPv3,
which shows only its user). DICOM associations and HL7 headers are listed beside; the
made-up patient of the HL7 results is listed under `patients`. The facts are the generator's
own inputs, never read back from trustwatch.

The protocols' bytes come from the crafting library (craft/: cleartext, web, windows_auth,
snmp, sip, clinical, tokens), whose conversations the hospital scenario reuses; this script
says who talks to whom and what each conversation planted. Deterministic: same bytes on every
run (fixed randoms, timestamps and ports).
"""

from __future__ import annotations

import os
import struct
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any

from craft.ber import der, der_int, der_str
from craft.capture import output_dir, write_expected, write_pcap
from craft.cleartext import (
    commands,
    ftp_login,
    imap_authenticate_plain,
    imap_login,
    imap_login_literal,
    ldap_bind,
    ldap_search,
    ldap_unbind,
    mqtt_connect,
    mqtt_publish,
    pop3_apop,
    pop3_auth_plain,
    pop3_user_pass,
    redis_auth,
    redis_command,
    smtp_auth,
    smtp_send,
    telnet_login,
)
from craft.clinical import (
    DCMTK_UID,
    DCMTK_VERSION,
    IDENTITY_JWT,
    IDENTITY_KERBEROS,
    IDENTITY_PASSCODE,
    IDENTITY_SAML,
    IDENTITY_USERNAME,
    REASON_CALLING_AE_NOT_RECOGNIZED,
    REJECT_PERMANENT,
    SOURCE_SERVICE_USER,
    dicom_association,
    dicom_reject,
    hl7_exchange,
    identity_response,
    user_identity,
)
from craft.fixed import epoch_ns, fixed_bytes, utc, utc_text
from craft.flows import TcpFlow, Timeline, udp_exchange
from craft.hospital_pki import server_leaf
from craft.keys import RSA_HL7_ENGINE, rsa_key
from craft.link import Host, host, routed_host
from craft.sip import sip_register, sip_register_udp
from craft.snmp import SYS_DESCR, SYS_NAME, SYS_UPTIME, TIMETICKS, snmp_get, snmp_trap, snmp_v3_get
from craft.tokens import jwt, jwt_facts, saml_assertion
from craft.web import http_api_request, http_basic, http_bearer, http_digest, http_ntlm
from craft.windows_auth import (
    AES256,
    KRB_ERR_RESPONSE_TOO_BIG,
    as_rep,
    as_req,
    encrypted,
    kerberos_tcp,
    krb_error,
    ntlm_messages,
    preauth_required,
    smb_session_setup,
    ticket,
)

T0 = epoch_ns(utc(2025, 3, 12, 8, 0, 0))
"""Every capture starts at 08:00 UTC; each conversation ten seconds after the one before."""

# --------------------------------------------------------------------------------------
# what a capture planted
# --------------------------------------------------------------------------------------

SECRET_KEYS = {"password": "password", "token": "token", "api-key": "secret", "community": "community",
               "passcode": "passcode", "hash": "password", "none": "password"}
"""Under which key expected.json holds a kind's raw secret (for kinds "hash" and "none": the
password a challenge response was computed from, which never crosses the wire)."""


def credential(protocol: str, user: str | None, kind: str, mechanism: str, secret: str | bytes | None = None, *,
               domain: str | None = None, host: str | None = None, notes: Sequence[str] = (),
               claims: dict[str, Any] | None = None) -> dict[str, Any]:
    """One planted credential, as expected.json lists it (endpoints and frame added by `Sample`);
    a binary secret is written in hex under `<key>_hex`."""
    fact: dict[str, Any] = {"protocol": protocol, "user": user, "domain": domain, "host": host, "secret_kind": kind}
    if isinstance(secret, bytes):
        fact[SECRET_KEYS[kind] + "_hex"] = secret.hex()
    elif secret is not None:
        fact[SECRET_KEYS[kind]] = secret
    fact |= {"mechanism": mechanism, "notes": list(notes)}
    if claims is not None:
        fact["claims"] = claims
    return fact


class Sample(Timeline):
    """One capture being written: its packets, its clock, and what was planted in it."""

    def __init__(self, name: str) -> None:
        super().__init__(name, T0, 10_000_000_000, 49731)
        self.credentials: list[dict[str, Any]] = []
        self.associations: list[dict[str, Any]] = []
        self.hl7_messages: list[dict[str, Any]] = []
        self.patients: list[str] = []

    def located(self, flow: TcpFlow, d: str, end: int) -> dict[str, Any]:
        """The endpoint facts of a message of `flow` sent by side `d`, complete at its stream offset `end`."""
        frame = self.cap.completion_frame(flow.flow_id, d, end)
        return self.where(flow.hosts["c"], flow.ports["c"], flow.hosts["s"], flow.ports["s"], d, frame)

    def plant(self, flow: TcpFlow, end: int, fact: dict[str, Any]) -> None:
        """A credential the client of `flow` presents, complete at stream offset `end`."""
        self.credentials.append(self.located(flow, "c", end) | fact)

    def plant_udp(self, client: Host, cport: int, srv: Host, sport: int, frame: int, fact: dict[str, Any],
                  presenter: str = "c") -> None:
        """A credential of a UDP flow (`client` sent its first datagram), carried by `frame`."""
        self.credentials.append(self.where(client, cport, srv, sport, presenter, frame) | fact)

    @staticmethod
    def where(client: Host, cport: int, srv: Host, sport: int, presenter: str, frame: int) -> dict[str, Any]:
        """The endpoint facts of a planted record: who talked to whom, which side, which frame."""
        return {"client": f"{client.ip}:{cport}", "server": f"{srv.ip}:{sport}", "client_mac": client.mac,
                "server_mac": srv.mac, "presenter": "client" if presenter == "c" else "server", "frame": frame}


# the captures
# --------------------------------------------------------------------------------------

DOMAIN, REALM, NB_DOMAIN = "st-example.org", "ST-EXAMPLE.ORG", "STEXAMPLE"
BIOMED_LAPTOP = host("biomed-lt-04", "00:14:22:6e:41:04", "10.20.9.40")
WORKSTATION = host("ws-pharm-07", "b8:ca:3a:71:20:07", "10.20.9.17")
NMS = routed_host("nms01", "10.10.9.5")
DC = routed_host("dc01", "10.10.0.10")
MAIL = routed_host("mail", "10.10.3.25")
PACS = routed_host("pacs01", "10.10.6.10")
SIGNING_KEY = b"st-example idp HS256 key 2025"
"""The identity provider's JWT signing key (never on the wire)."""


def http_capture(s: Sample) -> None:
    """HTTP/1.1: Basic on a pump's web UI (keep-alive, a password with ':'), Digest to an IP
    camera, a JWT bearer token, an API key in a header and one in the query string, NTLM to an
    IIS intranet site."""
    pump_ui = host("alaris-pcu-23", "f8:c6:78:2a:10:23", "10.20.1.23")
    f = s.connect(BIOMED_LAPTOP, pump_ui, 80)
    password = "Biomed:2024!"
    end = http_basic(f, pump_ui.ip, "Alaris PC Unit", "biomed", password, ["/", "/status.html", "/config/network.html"])
    s.plant(f, end, credential("http", "biomed", "password", "basic", password))
    f.close()
    camera = host("axis-icu4-bed12", "00:40:8c:4f:2a:10", "10.20.7.15")
    f = s.connect(routed_host("vms01", "10.10.7.12"), camera, 80)
    password = "Xprotect#Cam12"
    end = http_digest(f, camera.ip, "/axis-cgi/mjpg/video.cgi?resolution=1280x720", "AXIS_00408C4F2A10",
                      "vms-recorder", password, "Milestone XProtect/2023 R3")
    s.plant(f, end, credential("http", "vms-recorder", "hash", "digest", password, domain="AXIS_00408C4F2A10"))
    f.close()
    sub = "alaris-pcu-00231"
    claims = {"iss": "https://idp.st-example.org", "sub": sub, "aud": "infusion-mgmt",
              "iat": T0 // 1_000_000_000 - 1800, "exp": T0 // 1_000_000_000 + 1800}
    token = jwt(claims, SIGNING_KEY)
    f = s.connect(host("alaris-pcu-31", "f8:c6:78:2a:10:31", "10.20.1.31"), routed_host("infusion-mgmt", "10.10.4.20"),
                  80)
    end = http_bearer(f, "infusion-mgmt", "/api/v2/pumps/status",
                      token, [b'{"channel":"A","state":"infusing","rate_ml_h":42.0}',
                              b'{"channel":"B","state":"idle","rate_ml_h":0.0}'])
    s.plant(f, end, credential("http", sub, "token", "bearer", token, claims=jwt_facts(claims)))
    f.close()
    key = "wa-7f3c9e21b04d4a8f9c3e5a6b"
    f = s.connect(host("connex-vsm-61", "00:1a:fa:33:20:61", "10.20.2.61"), routed_host("emr-gw", "10.10.4.35"), 80)
    end = http_api_request(f, "POST", "/api/v1/devices/heartbeat", "emr-gw",
                           [("X-API-Key", key), ("Content-Type", "application/json"), ("User-Agent", "Connex/2.43")],
                           b'{"device":"CVSM-61","battery":87,"firmware":"2.43.00"}')
    s.plant(f, end, credential("http", None, "api-key", "header:x-api-key", key))
    f.close()
    key = "q8Zr/Tk+2wVn=Lx4"
    f = s.connect(host("vocera-gw", "00:09:ef:20:08:20", "10.20.8.20"), routed_host("alarm-api", "10.10.4.41"), 8080)
    end = http_api_request(f, "GET", f"/api/v2/alarms?unit=ICU-4&api_key={urllib.parse.quote(key, safe='')}",
                           "alarm-api:8080", [("Accept", "application/json"), ("User-Agent", "Vocera-Engage/6.2")])
    s.plant(f, end, credential("http", None, "api-key", "query:api_key", key))
    f.close()
    f = s.connect(WORKSTATION, routed_host("pharmacy", "10.10.4.50"), 80)
    messages = ntlm_messages(f.flow_id, user="m.okafor", domain=NB_DOMAIN, workstation="WS-PHARM-07",
                             server_name="pharm01", dns_domain=DOMAIN, spn="HTTP/pharmacy.st-example.org",
                             at_ns=f.now_ns)
    end = http_ntlm(f, "pharmacy.st-example.org", "/formulary/", messages)
    s.plant(f, end, credential("http", "m.okafor", "hash", "NTLM", domain=NB_DOMAIN, host="WS-PHARM-07",
                               notes=["NTLMv2"]))
    f.close()


def ftp_capture(s: Sample) -> None:
    """FTP: a monitor's trend export (AUTH TLS refused, then USER/PASS in clear; the password
    has spaces) and an analyzer's anonymous download of QC files."""
    f = s.connect(host("mon-icu-31", "00:09:fb:00:20:31", "10.20.2.31"), routed_host("trend-export", "10.10.5.40"), 21)
    password = "Tr3nd Export 2025"
    end = ftp_login(f, "220 trend-export FTP server (vsFTPd 3.0.5) ready.", "trendexp", password,
                    auth_tls_reply="530 Please login with USER and PASS.")
    s.plant(f, end, credential("ftp", "trendexp", "password", "USER/PASS", password,
                               notes=["AUTH TLS refused by the server"]))
    commands(f, ("SYST", "215 UNIX Type: L8"), ("TYPE I", "200 Switching to Binary mode."), ("QUIT", "221 Goodbye."))
    f.close()
    f = s.connect(host("sysmex-xn-21", "00:06:6b:40:01:21", "10.40.1.21"), routed_host("qc-files", "10.10.5.45"), 21)
    password = "xn1000@st-example.org"
    end = ftp_login(f, "220 (vsFTPd 3.0.5)", "anonymous", password)
    s.plant(f, end, credential("ftp", "anonymous", "password", "USER/PASS", password, notes=["anonymous login"]))
    commands(f, ("CWD /qc/lots", "250 Directory successfully changed."), ("QUIT", "221 Goodbye."))
    f.close()


def telnet_capture(s: Sample) -> None:
    """Telnet: a biomed engineer logs in to the serial terminal server of a legacy analyzer,
    one keystroke per segment, the server echoing the user name but not the password."""
    f = s.connect(BIOMED_LAPTOP, host("digi-ts16-lab", "00:40:9d:3a:01:05", "10.40.1.5"), 23)
    password = "dg!PortServ9"
    end = telnet_login(f, "Digi PortServer TS 16 MEI Version 82000747_U1", "roo\x7f\x7foot", password)  # a typo
    s.plant(f, end, credential("telnet", "root", "password", "login-prompt", password))
    f.close()


def pop3_capture(s: Sample) -> None:
    """POP3: a fax server's USER/PASS, an MFP's APOP digest, an interface engine's AUTH PLAIN."""
    def apop(flow: TcpFlow, user: str, password: str) -> int:
        return pop3_apop(flow, user, password, "<4127.1741766410@mail.st-example.org>")

    for client, login, user, password, kind, mechanism in (
        (host("fax-gw", "3c:2a:f4:51:0e:02", "10.20.9.60"), pop3_user_pass, "fax-inbox", "Fax!nbox-7731",
         "password", "USER/PASS"),
        (host("mfp-rad-2", "00:00:aa:72:11:02", "10.30.8.70"), apop, "scan-rad2", "Xerox-Scan-4411", "hash", "APOP"),
        (routed_host("mirth-01", "10.10.4.60"), pop3_auth_plain, "lab-results", "Mirth&Results#42", "password",
         "PLAIN"),
    ):
        f = s.connect(client, MAIL, 110)
        end = login(f, user, password)
        s.plant(f, end, credential("pop3", user, kind, mechanism, password))
        commands(f, ("QUIT", "+OK Logging out."))
        f.close()


def imap_capture(s: Sample) -> None:
    """IMAP: LOGIN with quoted strings (a password with `"` and `\\`), LOGIN with literals (a
    user name with a space), AUTHENTICATE PLAIN."""
    for client, login, user, password, mechanism, tag in (
        (routed_host("dictation-01", "10.10.4.71"), imap_login, "dictation.svc", 'Rad"Rep0rts\\2025', "LOGIN", "a002"),
        (host("ws-rad-desk", "f8:bc:12:40:30:09", "10.30.8.19"), imap_login_literal, "Radiology Desk",
         "ward 7 & lab", "LOGIN", "A002"),
        (routed_host("pathology-mail", "10.10.4.72"), imap_authenticate_plain, "pathology", "Path0logy-Inbox!", "PLAIN",
         "a2"),
    ):
        f = s.connect(client, MAIL, 143)
        end = login(f, user, password)
        s.plant(f, end, credential("imap", user, "password", mechanism, password))
        commands(f, (f"{tag} LOGOUT", ("* BYE Logging out", f"{tag} OK Logout completed.")))
        f.close()


def smtp_capture(s: Sample) -> None:
    """SMTP submission (587): an MFP's AUTH PLAIN, a central station's AUTH LOGIN, a sterilizer's
    AUTH CRAM-MD5, each sending a short notice."""
    for device, helo, mechanism, user, password, kind in (
        (host("mfp-rad-3", "58:38:79:12:30:03", "10.30.8.71"), "mfp-rad-3.st-example.org", "PLAIN",
         "scan-rad3@st-example.org", "Ricoh!Scan2Mail", "password"),
        (host("mindray-cms-2", "38:0b:26:20:40:02", "10.20.2.90"), "cms-icu2", "LOGIN", "cms-alerts",
         "Alarm$Relay-88", "password"),
        (host("getinge-steri-1", "e4:75:1e:10:50:01", "10.20.5.41"), "steri-cssd-1", "CRAM-MD5", "cssd-reports",
         "Cycle-Rep0rt", "hash"),
    ):
        f = s.connect(device, MAIL, 587)
        end = smtp_auth(f, helo, mechanism, user, password, challenge=f"<{s.step}.1741766400@mail.st-example.org>")
        s.plant(f, end, credential("smtp", user, kind, f"auth {mechanism.lower()}", password))
        smtp_send(f, f"{helo.split('.')[0]}@st-example.org", "biomed@st-example.org", f"{device.label}: daily report")
        f.close()


def snmp_capture(s: Sample) -> None:
    """SNMP: v1 get to a serial server (factory community), v2c get/response to a ventilator,
    a central station's v2c trap, v3 (USM, authNoPriv) get to an infusion rack."""
    polls = ((host("moxa-nport-12", "00:90:e8:61:0c:12", "10.40.1.12"), 0, "public", 4101,
              [(SYS_NAME, der_str("NPort 5110"))]),
             (host("vent-icu-04", "00:30:e6:00:30:44", "10.20.3.44"), 1, "Vent1l-RO-2019", 23117,
              [(SYS_DESCR, der_str("Draeger Evita V500 SW 2.51")), (SYS_UPTIME, der_int(8640000, TIMETICKS))]))
    for agent, version, community, request_id, answers in polls:
        port = s.next_port()
        frames = snmp_get(s.cap, NMS, port, agent, s.at(), version, community, request_id, answers)
        for presenter, frame, pdu in zip("cs", frames, ("get-request", "response"), strict=True):
            mechanism = f"{'v1' if version == 0 else 'v2c'} {pdu}"
            s.plant_udp(NMS, port, agent, 161, frame, credential("snmp", None, "community", mechanism, community),
                        presenter)
    cms = host("mindray-cms-2", "38:0b:26:20:40:02", "10.20.2.90")
    port, community = s.next_port(), "mindray-trap"
    frame = snmp_trap(s.cap, cms, port, NMS, s.at(), community, 881, 17_280_000, "1.3.6.1.4.1.19316.1.2.0.3",
                      [("1.3.6.1.4.1.19316.1.2.1.1.0", der_str("network disconnected: bed 12"))])
    s.plant_udp(cms, port, NMS, 162, frame, credential("snmp", None, "community", "v2c snmpv2-trap", community))
    rack = host("bbraun-space-3", "00:12:21:4a:70:03", "10.20.1.73")
    port, auth_password = s.next_port(), "SpaceStation#Auth1"
    engine = bytes.fromhex("80001f8880") + fixed_bytes("snmp/engine/bbraun-space-3", 8)
    sent, answered = snmp_v3_get(s.cap, NMS, port, rack, s.at(), "nms-monitor", auth_password, engine, 5501,
                                 [(SYS_DESCR, der_str("B. Braun SpaceStation SP 4.1"))])
    for presenter, frame in (("c", sent), ("s", answered)):
        s.plant_udp(NMS, port, rack, 161, frame, credential("snmp", "nms-monitor", "none", "v3 usm", auth_password),
                    presenter)


def ldap_capture(s: Sample) -> None:
    """LDAP: the PACS reads the root DSE after an anonymous bind; a DR system binds with its
    service account's DN and password to look up a technologist."""
    f = s.connect(routed_host("pacs-app", "10.10.6.11"), DC, 389)
    end = ldap_bind(f, 1, "", "")
    s.plant(f, end, credential("ldap", None, "none", "simple-bind", notes=["anonymous bind"]))
    ldap_search(f, 2, "", der_str("objectClass", 0x87), ["namingContexts", "supportedSASLMechanisms"],
                [("", [("namingContexts", ["DC=st-example,DC=org"]),
                       ("supportedSASLMechanisms", ["GSSAPI", "GSS-SPNEGO", "EXTERNAL", "DIGEST-MD5"])])])
    ldap_unbind(f, 3)
    f.close()
    f = s.connect(host("carestream-drx-1", "00:1d:4a:55:66:01", "10.30.8.44"), DC, 389)
    dn, password = "CN=svc-drx,OU=Service Accounts,OU=Radiology,DC=st-example,DC=org", "DRX-bind(2019)"
    end = ldap_bind(f, 1, dn, password)
    s.plant(f, end, credential("ldap", dn, "password", "simple-bind", password))
    technologist = [("displayName", ["R. Tech"]), ("memberOf", ["CN=RT-Staff,DC=st-example,DC=org"])]
    ldap_search(f, 2, "DC=st-example,DC=org", der(0xA3, der_str("sAMAccountName"), der_str("r.tech")),
                ["displayName", "memberOf"], [("CN=R. Tech,OU=Radiology,DC=st-example,DC=org", technologist)])
    ldap_unbind(f, 3)
    f.close()


def mqtt_capture(s: Sample) -> None:
    """MQTT: a pulse-oximetry hub connects with 3.1.1 (with a will), a smart bed with 5.0
    (session expiry and receive maximum properties); each publishes its status."""
    broker = routed_host("mqtt-broker", "10.10.6.30")
    f = s.connect(host("masimo-root-12", "08:09:b6:10:22:12", "10.20.2.112"), broker, 1883)
    password = "R00t-Hub-Pass"
    end = mqtt_connect(f, "root-icu4-bed12", "masimo-root", password,
                       will=("st-example/icu4/bed12/root/status", "offline"))
    s.plant(f, end, credential("mqtt", "masimo-root", "password", "connect 3.1.1", password, host="root-icu4-bed12"))
    mqtt_publish(f, "st-example/icu4/bed12/root/status", b'{"state":"online","battery":92}')
    f.send("c", b"\xe0\x00")  # DISCONNECT
    f.close()
    f = s.connect(host("stryker-bed-07", "00:0d:d1:70:07:07", "10.20.4.107"), broker, 1883)
    password = "ProCuity!Bed07"
    properties = b"\x11" + struct.pack(">I", 3600) + b"\x21" + struct.pack(">H", 20)  # session expiry, receive max
    end = mqtt_connect(f, "procuity-w7-b07", "bed-telemetry", password, version=5, properties=properties,
                       connack_properties=b"\x22" + struct.pack(">H", 10))  # topic alias maximum
    s.plant(f, end, credential("mqtt", "bed-telemetry", "password", "connect 5.0", password, host="procuity-w7-b07"))
    mqtt_publish(f, "st-example/ward7/bed07/status", b'{"brake":true,"bed_exit_alarm":"armed"}', version=5)
    f.send("c", b"\xe0\x00")  # DISCONNECT, reason 0
    f.close()


def redis_capture(s: Sample) -> None:
    """Redis: an interface engine's cache with `requirepass` (AUTH password), and a worklist
    service with an ACL user (AUTH user password)."""
    cache = routed_host("redis-01", "10.10.6.40")
    f = s.connect(routed_host("mirth-01", "10.10.4.60"), cache, 6379)
    password = "c4che-Mirth-2025"
    end = redis_auth(f, password)
    s.plant(f, end, credential("redis", None, "password", "auth", password))
    redis_command(f, ["GET", "adt:last-sequence"], b"$5\r\n88213\r\n")
    f.close()
    f = s.connect(routed_host("worklist-svc", "10.10.6.41"), cache, 6379)
    password = "Wl-ACL-pass-77"
    end = redis_auth(f, password, "worklist")
    s.plant(f, end, credential("redis", "worklist", "password", "auth", password))
    redis_command(f, ["CLIENT", "SETNAME", "worklist-svc"], b"+OK\r\n")
    f.close()


def smb_capture(s: Sample) -> None:
    """SMB2: an ultrasound system maps the export share of a file server with its domain account (NTLMv2)."""
    f = s.connect(host("us-logiq-02", "44:4b:5d:02:31:b2", "10.30.8.52"), routed_host("fs01", "10.10.0.20"), 445)
    messages = ntlm_messages(f.flow_id, user="us-export", domain=NB_DOMAIN, workstation="US-LOGIQ-02",
                             server_name="fs01", dns_domain=DOMAIN, spn="cifs/fs01.st-example.org", at_ns=f.now_ns)
    end = smb_session_setup(f, f.flow_id, r"\\fs01.st-example.org\us-export", messages, f.now_ns)
    s.plant(f, end, credential("smb", "us-export", "hash", "NTLM", domain=NB_DOMAIN, host="US-LOGIQ-02",
                               notes=["NTLMv2"]))
    f.close()


def kerberos_capture(s: Sample) -> None:
    """Kerberos: a workstation logon. AS-REQ over UDP without pre-authentication (the KDC asks
    for it), again with PA-ENC-TIMESTAMP (the answer would not fit a datagram), then over TCP
    (the AS-REP with the TGT)."""
    user, label = "m.okafor", "kerberos/ws-pharm-07"
    service, weak = f"service krbtgt/{REALM}", ["etype rc4-hmac requested", "etype rc4-hmac-exp requested"]
    preauth = ["pre-authenticated (PA-ENC-TIMESTAMP)", service, *weak]
    for n, proved, nonce in ((1, False, 0x1F3A5C71), (2, True, 0x2B6D0E94)):
        port, at = s.next_port(), s.at()
        reply = krb_error(KRB_ERR_RESPONSE_TOO_BIG, REALM, at) if proved else preauth_required(REALM, user, at)
        frame, _ = udp_exchange(s.cap, WORKSTATION, port, DC, 88, at,
                                as_req(f"{label}/{n}", user, REALM, "WS-PHARM-07", nonce, proved), reply)
        s.plant_udp(WORKSTATION, port, DC, 88, frame, credential("kerberos", user, "hash" if proved else "none",
                                                                 "AS-REQ", domain=REALM,
                                                                 notes=preauth if proved else [service, *weak]))
    f = s.connect(WORKSTATION, DC, 88)
    end = kerberos_tcp(f, as_req(f"{label}/3", user, REALM, "WS-PHARM-07", 0x2B6D0E95, True),
                       as_rep(label, user, REALM))
    s.plant(f, end, credential("kerberos", user, "hash", "AS-REQ", domain=REALM, notes=preauth))
    f.close()


def sip_capture(s: Sample) -> None:
    """SIP: a nurse's wireless handset registers over UDP, a nurse-call handset over TCP; each
    answers the PBX's Digest challenge."""
    pbx = routed_host("pbx01", "10.10.8.5")
    handset = host("spectralink-8440", "00:90:7a:14:22:31", "10.20.8.131")
    password = "4711-Sp3ctra!"
    frame = sip_register_udp(s.cap, handset, 5060, pbx, s.at(), "4711", DOMAIN, password,
                             "Spectralink 8440 5.5.0.20581")
    s.plant_udp(handset, 5060, pbx, 5060, frame, credential("sip", "4711", "hash", "digest", password, domain=DOMAIN,
                                                            notes=["REGISTER", "algorithm MD5"]))
    f = s.connect(host("ascom-i63-12", "00:01:3e:40:16:12", "10.20.8.140"), pbx, 5060)
    password = "Ascom#i63-4812"
    end = sip_register(f, "4812", DOMAIN, password, "Ascom i63 5.4.4")
    s.plant(f, end, credential("sip", "4812", "hash", "digest", password, domain=DOMAIN,
                               notes=["REGISTER", "algorithm MD5"]))
    f.close()


IDP_CERT = server_leaf("idp.st-example.org", rsa_key(RSA_HL7_ENGINE), 0x3A0101)
"""The identity provider's signing certificate, carried in its SAML assertions."""


IDENTITY_NAMES = {IDENTITY_USERNAME: "username", IDENTITY_PASSCODE: "username-passcode",
                  IDENTITY_KERBEROS: "kerberos", IDENTITY_SAML: "saml", IDENTITY_JWT: "jwt"}


def dicom_capture(s: Sample) -> None:
    """DICOM: five modalities and gateways associate with the PACS, each with one User Identity
    Negotiation type: user name (1), user name and passcode (2), Kerberos ticket (3, with the
    acceptor's response), SAML assertion (4), JWT (5, rejected: calling AE title not recognised)."""
    called = "PACS_STORE"

    def associate(device: Host, calling: str, kind: int, primary: bytes, fact: dict[str, Any],
                  secondary: bytes = b"", reject: bytes | None = None, response: bytes | None = None) -> None:
        f = s.connect(device, PACS, 104)
        identity = user_identity(kind, primary, secondary, response_requested=response is not None)
        rq_end, answer_end = dicom_association(f, calling, called, identity, reject,
                                               identity_response(response) if response else b"")
        s.plant(f, rq_end, fact)
        s.associations.append(s.located(f, "c", rq_end) | association(
            "request", calling, called, IDENTITY_NAMES[kind]))
        if reject is None:
            s.associations.append(s.located(f, "s", answer_end) | association("accept", calling, called,
                                                                              result="accepted"))
        else:  # the reject PDU names no AE titles and no implementation
            s.associations.append(s.located(f, "s", answer_end) | association(
                "reject", "", "", result="rejected-permanent: calling-AE-title-not-recognized"))
        f.close()

    associate(host("vivid-e95-3", "44:4b:5d:02:95:03", "10.30.8.61"), "VIVID_E95", IDENTITY_USERNAME, b"echo-tech",
              credential("dicom", "echo-tech", "none", "user-identity-username"))
    passcode = "Carestream#2025"
    associate(host("carestream-drx-1", "00:1d:4a:55:66:01", "10.30.8.44"), "DRX_EVO_1", IDENTITY_PASSCODE,
              b"drx-tech", credential("dicom", "drx-tech", "passcode", "user-identity-username-passcode", passcode),
              secondary=passcode.encode())
    kerberos_ticket = ticket("dicom/syngo-rw3", REALM, "dicom", "pacs01.st-example.org")
    ap_rep = der(0x6F, der(0x30, der(0xA0, der_int(5)), der(0xA1, der_int(15)),
                           der(0xA2, encrypted(AES256, fixed_bytes("dicom/syngo-rw3/ap-rep", 40)))))
    associate(host("syngo-rw3", "f8:bc:12:40:30:03", "10.30.8.23"), "SYNGO_RW3", IDENTITY_KERBEROS, kerberos_ticket,
              credential("dicom", None, "token", "user-identity-kerberos", kerberos_ticket), response=ap_rep)
    saml = saml_assertion("ai-triage", "PACS_STORE", T0 - 60 * 1_000_000_000, IDP_CERT)
    associate(routed_host("ai-triage", "10.10.6.50"), "AI_TRIAGE", IDENTITY_SAML, saml.encode(),
              credential("dicom", None, "token", "user-identity-saml", saml) | {"saml_name_id": "ai-triage"})
    iat, sub = T0 // 1_000_000_000 - 600, "telerad-gateway"
    claims = {"iss": "https://idp.st-example.org", "sub": sub, "aud": called, "iat": iat, "exp": iat + 3600}
    token = jwt(claims, SIGNING_KEY)
    associate(routed_host("telerad-gw", "10.10.6.51"), "TELERAD_GW", IDENTITY_JWT, token.encode(),
              credential("dicom", sub, "token", "user-identity-jwt", token, claims=jwt_facts(claims)),
              reject=dicom_reject(REJECT_PERMANENT, SOURCE_SERVICE_USER, REASON_CALLING_AE_NOT_RECOGNIZED))


def association(pdu: str, calling: str, called: str, identity: str | None = None,
                result: str | None = None) -> dict[str, Any]:
    """A planted A-ASSOCIATE PDU's facts (a reject carries no implementation)."""
    uid, version = (None, None) if pdu == "reject" else (DCMTK_UID, DCMTK_VERSION)
    return {"pdu": pdu, "calling_ae": calling, "called_ae": called, "implementation_class_uid": uid,
            "implementation_version": version, "user_identity_type": identity, "result": result}


PATIENT_NAME, PATIENT_ID = "ROWAN^AVERY^J", "MRN55501234"
"""Made up: the leak test checks they never reach an output."""


def hl7_capture(s: Sample) -> None:
    """HL7 v2 over MLLP: a chemistry analyzer sends a result with an MSH-8 security string (and
    a made-up patient's PID), a hematology analyzer a QC result without one; the LIS acknowledges."""
    lis = routed_host("lis", "10.40.0.10")
    s.patients += [PATIENT_NAME, PATIENT_ID]
    for device, app, facility, security, version, body in (
        (host("cobas-pro-1", "00:60:19:77:01:01", "10.40.1.31"), "COBAS_PRO", "CORE_LAB", "LabLink-7Qv2", "2.5.1",
         [f"PID|1||{PATIENT_ID}^^^ST_EXAMPLE^MR||{PATIENT_NAME}||19620714|F",
          "OBR|1|ORD88412|LAB5531|2345-7^Glucose^LN", "OBX|1|NM|2345-7^Glucose^LN||5.4|mmol/L|3.9-5.5|N|||F"]),
        (host("sysmex-xn-21", "00:06:6b:40:01:21", "10.40.1.21"), "XN-1000", "HEMATOLOGY", "", "2.3.1",
         ["OBR|1|QC-20250312-1||QC^XN CHECK L1", "OBX|1|NM|WBC^White blood cells||6.92|10*3/uL|6.50-7.30|N|||F"]),
    ):
        f = s.connect(device, lis, 2575)
        stamp = utc_text(f.now_ns, "%Y%m%d%H%M%S")
        control = f"{app[:3]}{s.step:04d}"
        message_type, ack_type = "ORU^R01^ORU_R01", "ACK^R01^ACK"
        message = "\r".join([f"MSH|^~\\&|{app}|{facility}|LIS|ST_EXAMPLE|{stamp}|{security}|{message_type}|{control}|P|"
                             f"{version}", *body]) + "\r"
        ack = (f"MSH|^~\\&|LIS|ST_EXAMPLE|{app}|{facility}|{stamp}||{ack_type}|A{control}|P|{version}\r"
               f"MSA|AA|{control}\r")
        msh_end, ack_end = hl7_exchange(f, message, ack)
        for d, end, who, to, kind in (("c", msh_end, (app, facility), ("LIS", "ST_EXAMPLE"), message_type),
                                      ("s", ack_end, ("LIS", "ST_EXAMPLE"), (app, facility), ack_type)):
            s.hl7_messages.append(s.located(f, d, end) | {
                "sending_application": who[0], "sending_facility": who[1], "receiving_application": to[0],
                "receiving_facility": to[1], "message_type": kind, "version": version})
        if security:
            s.plant(f, msh_end, credential("hl7", app, "passcode", "msh-8", security, domain=facility))
        f.close()


CAPTURES: tuple[tuple[str, Callable[[Sample], None]], ...] = (
    ("cred-http.pcap", http_capture),
    ("cred-ftp.pcap", ftp_capture),
    ("cred-telnet.pcap", telnet_capture),
    ("cred-pop3.pcap", pop3_capture),
    ("cred-imap.pcap", imap_capture),
    ("cred-smtp.pcap", smtp_capture),
    ("cred-snmp.pcap", snmp_capture),
    ("cred-ldap.pcap", ldap_capture),
    ("cred-mqtt.pcap", mqtt_capture),
    ("cred-redis.pcap", redis_capture),
    ("cred-smb.pcap", smb_capture),
    ("cred-kerberos.pcap", kerberos_capture),
    ("cred-sip.pcap", sip_capture),
    ("cred-dicom.pcap", dicom_capture),
    ("cred-hl7.pcap", hl7_capture),
)


def write(out: str, fname: str, build: Callable[[Sample], None]) -> None:
    """Build one capture; write it and its expected.json."""
    s = Sample(fname.split(".")[0])
    build(s)
    write_pcap(os.path.join(out, fname), s.cap.packets, 1)
    doc: dict[str, Any] = {
        "capture": fname,
        "description": " ".join((build.__doc__ or "").split()),
        "generated_by": "sample_pcaps/gen_credentials.py (facts planted by the generator, not read back)",
        "format": {"type": "pcap", "endian": "little", "resolution": "us", "linktype": 1},
        "frames": len(s.cap.packets),
        "credentials": s.credentials,
    }
    for key, facts in (("dicom_associations", s.associations), ("hl7_messages", s.hl7_messages),
                       ("patients", s.patients)):
        if facts:
            doc[key] = facts
    write_expected(os.path.join(out, fname.split(".")[0] + ".expected.json"), doc)


def main() -> None:
    """Write every credential capture."""
    out = output_dir((__doc__ or "").split("\n\n")[0], "credentials")
    for fname, build in CAPTURES:
        write(out, fname, build)


if __name__ == "__main__":
    main()
