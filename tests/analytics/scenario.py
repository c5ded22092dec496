"""A synthetic ward: every rule fires on purpose, and the near misses stay silent.

Ward 3 (VLAN 20, 10.20.0.0/24) with infusion pumps, monitors and a PACS; a second ward and a
vendor cloud reached through the core router (one MAC, many subnets). `EXPECTED` is the exact
set of (rule id, subject) the analytics must produce: precision and recall are measured on it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tests.analytics.builders import (
    T0,
    cert,
    client_cert,
    credential,
    ep,
    fingerprint,
    flow,
    login,
    server_cert,
    tls_answered,
)
from trustwatch.sensor.flowid import Endpoint
from trustwatch.sensor.records import (
    AuthenticationOutcome,
    Observation,
    Outcome,
    Proto,
    RemoteAccessSession,
    SecretKind,
    TokenClaims,
    X509Cert,
)

ROUTER = "00-00-5E-00-01-14"
"""The core router: every routed endpoint carries its MAC."""


def mac(n: int) -> str:
    """MAC of scenario device number n (a Becton-Dickinson-like OUI)."""
    return f"00-1B-4F-00-00-{n:02X}"


# Certificates: unique per device unless named otherwise.
C = {name: cert(cn) for name, cn in [
    ("INF-001", "inf-001.ward3"), ("INF-002", "inf-002.ward3"), ("INF-006", "inf-006.ward3"),
    ("INF-007", "inf-007.ward3"), ("INF-008", "inf-008.ward5"), ("INF-009", "inf-009.ward3"),
    ("INF-011", "inf-011.ward5"), ("VEN-020", "ven-020.icu"), ("UNKNOWN", "raspberrypi"),
]}
FLEET = cert("alaris-fleet")
"""One certificate the vendor put on every pump of a batch."""
ROUTED_FLEET = cert("cgm-gateway")
EXACTLY_5Y = cert("inf-002-5y", not_before="2021-03-01", not_after="2026-03-01")
WEAK = cert("inf-012.ward3", key="rsa1024", sig="sha1")
EXPIRED = cert("inf-013.ward3", not_before="2021-01-01", not_after="2024-01-01")
LONG = cert("inf-014.ward3", not_before="2020-01-01", not_after="2030-01-01")
OLD = cert("inf-014-2018.ward3", not_before="2018-01-01", not_after="2028-01-01")
"""Issued six years ago and still in use: past the five-year policy (unrotated), and long-lived."""
SERVER_WEAK = cert("pacs.ward3", key="rsa1024", sig="sha1")
"""A weak server certificate: hygiene rules judge client certificates only."""
CLOUD = cert("remote.vendor.example")

INVENTORY = f"""\
asset_id,mac,ip,hostname,manufacturer,model,firmware,department,clinical_function,status,status_date,cert_sha256,usernames,ae_titles,remote_access
INF-001,{mac(1).lower().replace('-', ':')},,inf-001,BD,Alaris 8015,12.1,Ward 3,infusion,Active,,{C['INF-001'].sha256},,,
INF-002,{mac(2).replace('-', '')},,inf-002,BD,Alaris 8015,12.1,Ward 3,infusion,active,,{C['INF-002'].sha256};{EXACTLY_5Y.sha256.upper()},,,
INF-003,{mac(3)},,inf-003,BD,Alaris 8015,12.1,Ward 3,infusion,active,,,,,
INF-004,{mac(4)},,inf-004,BD,Alaris 8015,12.1,Ward 3,infusion,active,,,,,
INF-005,{mac(5)},,inf-005,BD,Alaris 8015,12.1,Ward 3,infusion,active,,,,,
INF-006,{mac(6)},,inf-006,BD,Alaris 8015,12.1,Ward 3,infusion,active,,{C['INF-006'].sha256},,,
INF-007,{mac(7)},,inf-007,BD,Alaris 8015,12.1,Ward 3,infusion,In Storage,2024-01-10,{C['INF-007'].sha256},,,
INF-008,,10.30.0.8,inf-008,BD,Alaris 8015,12.1,Ward 5,infusion,active,,{C['INF-008'].sha256},,,
INF-009,{mac(9)},,inf-009,BD,Alaris 8015,11.0,Ward 3,infusion,RETIRED,2023-11-30,{C['INF-009'].sha256},,,
INF-011,,10.30.0.9,inf-011,BD,Alaris 8015,12.1,Ward 5,infusion,active,,{C['INF-011'].sha256},,,
INF-012,{mac(12)},,inf-012,BD,Alaris 8000,9.3,Ward 3,infusion,active,,{WEAK.sha256},,,
INF-013,{mac(13)},,inf-013,BD,Alaris 8015,12.1,Ward 3,infusion,active,,{EXPIRED.sha256},,,
INF-014,{mac(14)},,inf-014,BD,Alaris 8015,12.1,Ward 3,infusion,active,,{LONG.sha256},,,
MON-010,{mac(0x10)},10.20.0.10,mon-010,Philips,IntelliVue MX450,M.00,Ward 3,monitoring,active,,,biomed,,
MON-011,{mac(0x11)},10.20.0.11,mon-011,Philips,IntelliVue MX450,M.00,Ward 3,monitoring,active,,,biomed,,
MON-012,{mac(0x12)},10.20.0.12,mon-012,Philips,IntelliVue MX450,M.00,Ward 3,monitoring,active,,,biomed,,
VEN-020,{mac(0x20)},,ven-020,Draeger,Evita V500,2.51,ICU,ventilation,decommissioned,2023-06-30,{C['VEN-020'].sha256},vent20svc,,
PACS-01,{mac(0xC8)},10.20.0.200,pacs-01,Sectra,PACS,24.1,Radiology,imaging,active,,,,PACS01,
FTP-01,{mac(0xC9)},10.20.0.201,ftp-01,Philips,IntelliVue Information Center,N.01,Ward 3,data export,active,,,,,
RTR-1,{ROUTER},10.20.0.1,core-1,Cisco,C9300,17.9,IT,network,active,,,,,
"""  # noqa: E501  (a CMMS export: one device per line)

EXPECTED = {
    ("shared-credential", f"client-certificate:{FLEET.sha256}"),
    ("shared-credential", f"secret:{fingerprint('Ph1lips!')}"),
    ("shared-credential", f"client-certificate:{ROUTED_FLEET.sha256}"),
    ("unknown-device", "device:mac:02-AA-BB-CC-DD-EE"),
    ("unknown-device", "device:ip:10.40.0.5"),
    ("unknown-device", "device:ip:10.40.0.6"),
    ("retired-device-authenticates", "asset:INF-009"),
    ("credential-outlives-device", f"client-certificate:{C['VEN-020'].sha256}"),
    ("credential-outlives-device", "username:vent20svc"),
    ("identity-mismatch", f"asset:INF-006|client-certificate:{C['INF-007'].sha256}"),
    ("weak-certificate", f"client-certificate:{WEAK.sha256}"),
    ("expired-certificate", f"client-certificate:{EXPIRED.sha256}"),
    ("long-lived-certificate", f"client-certificate:{LONG.sha256}"),
    ("cleartext-credential", "ftp:asset:MON-010"),
    ("cleartext-credential", "ftp:asset:MON-011"),
    ("cleartext-credential", "ftp:asset:MON-012"),
    ("long-lived-token", f"secret:{fingerprint('eyJ.no-exp.sig', SecretKind.TOKEN)}"),
    ("cleartext-credential", "http:asset:MON-010"),
    ("default-credential", f"secret:{fingerprint('1111')}"),
    ("default-credential-attempt", "source:asset:MON-012"),
    ("cleartext-credential", "snmp:asset:MON-012"),
    ("remote-access-unapproved", "remote-access:asset:MON-010:anydesk"),
    ("failed-authentication-burst", "guessing:asset:MON-012|account:admin@10.20.0.201"),
    ("expired-credential-accepted", f"10.20.0.200:443|client-certificate:{EXPIRED.sha256}"),
    ("long-lived-certificate", f"client-certificate:{OLD.sha256}"),
    ("unrotated-credential", f"client-certificate:{OLD.sha256}"),
}
RULE_IDS = sorted({r for r, _ in EXPECTED})


def observations() -> list[Observation]:
    """The ward's identity facts over one morning, in packet order."""
    pacs = ep("10.20.0.200", mac(0xC8), 443)
    ftp = ep("10.20.0.201", mac(0xC9), 21)
    cloud = ep("52.10.1.7", ROUTER, 443)

    def pump(n: int, ip: str, port: int = 50000) -> Endpoint:
        return ep(ip, mac(n), port)

    out: list[Observation] = []
    t = T0

    def add(o: Observation) -> None:
        out.append(o)

    def tick() -> float:
        nonlocal t
        t += 37.0
        return t

    def tls(client: Endpoint, leaf: X509Cert) -> None:
        """A mutual TLS handshake with the PACS: its server certificate, then the client's."""
        add(server_cert(tick(), client, pacs, SERVER_WEAK))
        add(client_cert(tick(), client, pacs, leaf))

    # Near miss: INF-001 moves IP by DHCP, same MAC, same unique certificate.
    tls(pump(1, "10.20.0.51"), C["INF-001"])
    tls(pump(1, "10.20.0.77"), C["INF-001"])
    # Near misses: unique per-device certificate; a certificate valid exactly 5 years.
    tls(pump(2, "10.20.0.52"), C["INF-002"])
    tls(pump(2, "10.20.0.52"), EXACTLY_5Y)
    # Near miss: Digest is a challenge response, not a secret in clear.
    add(credential(tick(), pump(2, "10.20.0.52"), ep("10.20.0.200", mac(0xC8), 80),
                   "inf002", "digest-response-1", SecretKind.HASH, "http", mechanism="digest"))
    # shared-credential: the vendor fleet certificate on two pumps.
    tls(pump(3, "10.20.0.53"), FLEET)
    tls(pump(4, "10.20.0.54"), FLEET)
    # credential-outlives-device: the decommissioned ventilator's certificate on INF-005.
    tls(pump(5, "10.20.0.55"), C["VEN-020"])
    # identity-mismatch: INF-006 presents INF-007's certificate (INF-007 is in storage).
    tls(pump(6, "10.20.0.56"), C["INF-007"])
    # retired-device-authenticates: the retired INF-009 with its own certificate.
    tls(pump(9, "10.20.0.59"), C["INF-009"])
    tls(pump(9, "10.20.0.59"), C["INF-009"])
    # Hygiene.
    tls(pump(12, "10.20.0.62"), WEAK)
    tls(pump(13, "10.20.0.63"), EXPIRED)
    tls(pump(14, "10.20.0.64"), LONG)
    # unknown-device: a Raspberry Pi with its own certificate.
    tls(ep("10.20.0.99", "02-AA-BB-CC-DD-EE", 40001), C["UNKNOWN"])
    # Routed (ward 5, 10.30/24; lab 10.40/24): all carry the router's MAC. INF-008 and INF-011
    # resolve by static IP; two unknown gateways share a certificate and must stay two devices.
    tls(ep("10.30.0.8", ROUTER, 50008), C["INF-008"])
    tls(ep("10.30.0.9", ROUTER, 50009), C["INF-011"])
    tls(ep("10.40.0.5", ROUTER, 50105), ROUTED_FLEET)
    tls(ep("10.40.0.6", ROUTER, 50106), ROUTED_FLEET)
    # Near miss: the vendor cloud's server certificate seen by many clients, unknown and routed.
    for n, ip in [(1, "10.20.0.77"), (2, "10.20.0.52"), (3, "10.20.0.53")]:
        add(server_cert(tick(), pump(n, ip), cloud, CLOUD))
    # Monitors export over FTP: MON-010 and MON-011 share a password, MON-012 has the same user
    # with its own password (near miss); MON-011 also logs in with the ventilator's account.
    add(credential(tick(), ep("10.20.0.10", mac(0x10), 41000), ftp, "biomed", "Ph1lips!"))
    add(credential(tick(), ep("10.20.0.10", mac(0x10), 41001), ftp, "biomed", "Ph1lips!"))
    add(credential(tick(), ep("10.20.0.11", mac(0x11), 41002), ftp, "biomed", "Ph1lips!"))
    add(credential(tick(), ep("10.20.0.12", mac(0x12), 41003), ftp, "biomed", "mon012-own"))
    add(credential(tick(), ep("10.20.0.11", mac(0x11), 41004), ftp, "vent20svc", "Vent2018"))
    # MON-010 calls the PACS API with a bearer token that never expires (long-lived-token); a
    # one-hour token beside it is fine (near miss).
    api = ep("10.20.0.200", mac(0xC8), 80)
    for secret, exp in (("eyJ.no-exp.sig", None), ("eyJ.one-hour.sig", t + 3600)):
        add(credential(tick(), ep("10.20.0.10", mac(0x10), 41010), api, None, secret, SecretKind.TOKEN, "http",
                       mechanism="bearer", token=TokenClaims(alg="HS256", iss="pacs-idp", sub="mon-010", aud=(),
                                                             exp=exp, iat=t)))
    # MON-012 traps with the factory SNMP community: a trap gets no answer, so nobody was seen to
    # accept it (default-credential-attempt).
    add(credential(tick(), ep("10.20.0.12", mac(0x12), 40162), ep("10.20.0.250", None, 162), None, "public",
                   SecretKind.COMMUNITY, "snmp", mechanism="v2c snmpv2-trap"))
    # MON-010 calls out to AnyDesk: its inventory line approves no remote access.
    start = tick()
    add(RemoteAccessSession(ts=start, flow=flow(ep("10.20.0.10", mac(0x10), 41020), cloud), protocol=Proto.TLS,
                            vendor="AnyDesk", product="AnyDesk", direction="outbound",
                            matched_by="certificate CN=AnyDesk Client", start=start, end=start + 900))
    # Answers (issue 17): MON-012 guesses the FTP server's admin password (failed-authentication-burst);
    # the PACS lets INF-013's expired certificate in (expired-credential-accepted); INF-014 still
    # uses a certificate issued in 2018 (unrotated-credential, long-lived-certificate).
    for n in range(5):
        for o in login(tick(), ep("10.20.0.12", mac(0x12), 41100 + n), ftp, "admin", f"admin{n}", ok=False):
            add(o)
    for o in tls_answered(tick(), pump(13, "10.20.0.63"), pacs, EXPIRED, ok=True):
        add(o)
    add(client_cert(tick(), pump(14, "10.20.0.64"), pacs, OLD))
    # MON-010 logs in to the FTP server with a printer's factory login, and is let in: the FTP
    # server accepts a published default (default-credential).
    factory_login = replace(credential(tick(), ep("10.20.0.10", mac(0x10), 41005), ftp, "admin", "1111"), attempt=1)
    add(factory_login)
    add(AuthenticationOutcome(ts=tick(), flow=factory_login.flow, protocol=Proto.FTP, attempt=1,
                              outcome=Outcome.SUCCESS, reason_code="230"))
    return out


def write_inventory(directory: Path) -> Path:
    """The scenario inventory as a CSV file in `directory`."""
    path = directory / "inventory.csv"
    path.write_text(INVENTORY, encoding="utf-8")
    return path
