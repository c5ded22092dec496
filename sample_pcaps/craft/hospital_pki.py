"""St. Example Health's PKI, shared by every sample and the benchmark: the root, the issuing
CAs, the clinical servers' certificates (fixed keys, fixed dates), and how the hospital issues
a server or a device certificate.
"""

from __future__ import annotations

from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from .certs import Cert, PrivateKey, make_cert, name
from .fixed import utc
from .keys import RSA_DEVICE_CA, RSA_HL7_ENGINE, RSA_PACS, RSA_ROOT_CA, RSA_SERVER_CA, ec_key, rsa_key

ORG = "St. Example Health System"
NB_CA, NA_CA = utc(2020, 1, 15), utc(2040, 1, 15)
NB_SUB, NA_SUB = utc(2021, 3, 1), utc(2031, 3, 1)
NB_LEAF, NA_LEAF = utc(2024, 6, 1), utc(2026, 6, 1)

ROOT = make_cert(name("St. Example Health Root CA", ORG), rsa_key(RSA_ROOT_CA), issuer=None, serial=0x1001,
                 not_before=NB_CA, not_after=NA_CA, ca=True, path_len=2)


def issuing_ca(cn: str, ou: str, key: PrivateKey, serial: int) -> Cert:
    """An issuing CA under the root (it signs leaves only)."""
    return make_cert(name(cn, ORG, ou), key, issuer=ROOT, serial=serial, not_before=NB_SUB, not_after=NA_SUB,
                     ca=True, path_len=0)


DEVICE_CA = issuing_ca("Medical Device Issuing CA 1", "Clinical Engineering", rsa_key(RSA_DEVICE_CA), 0x2001)
SERVER_CA = issuing_ca("Clinical Server Issuing CA 1", "IT Security", rsa_key(RSA_SERVER_CA), 0x2002)
RADIOLOGY_CA = issuing_ca("Radiology Device CA EC1", "Radiology", ec_key(0x5EED_0001_CA, ec.SECP384R1()), 0x2003)


def server_leaf(cn: str, key: PrivateKey, serial: int, extra_dns: tuple[str, ...] = ()) -> Cert:
    """A server certificate from the server CA."""
    return make_cert(name(cn, ORG, "Clinical Applications"), key, issuer=SERVER_CA, serial=serial,
                     not_before=NB_LEAF, not_after=NA_LEAF, dns=(cn, *extra_dns), eku=("server",))


def device_leaf(cn: str, key: PrivateKey, serial: int, ou: str, issuer: Cert = DEVICE_CA,
                serial_number: str | None = None, not_before: datetime = NB_LEAF,
                not_after: datetime = NA_LEAF) -> Cert:
    """A device (client) certificate."""
    return make_cert(name(cn, ORG, ou, serial_number=serial_number), key, issuer=issuer, serial=serial,
                     not_before=not_before, not_after=not_after, dns=(cn,), eku=("client",))


def ca_names() -> list[x509.Name]:
    """The CertificateRequest's acceptable issuers: the device CAs and the root."""
    return [DEVICE_CA.subject, RADIOLOGY_CA.subject, ROOT.subject]


INFUSION_SRV = server_leaf("infusion-mgmt.clin.example.org", rsa_key(RSA_HL7_ENGINE), 0x3A0001)
PACS_SRV = server_leaf("pacs01.radiology.example.org", rsa_key(RSA_PACS), 0x3A0002)
MONITORING_GW = server_leaf("monitoring-gw.clin.example.org", rsa_key(RSA_HL7_ENGINE), 0x3A0003)
EHR_WEB = server_leaf("ehr.clin.example.org", rsa_key(RSA_PACS), 0x3A0004, ("ehr", "ehr-web01.clin.example.org"))
PACS_ARCHIVE = server_leaf("vna-archive.radiology.example.org", rsa_key(RSA_PACS), 0x3A0005,
                           tuple(f"vna-node{i:02d}.radiology.example.org" for i in range(1, 25)))
CENTRAL_STATION = server_leaf("central-station.icu.example.org", ec_key(0xCE57_0001), 0x3A0006)
LIS_SRV = server_leaf("lis.lab.example.org", ec_key(0x0115_0001), 0x3A0007)
NURSECALL_SRV = server_leaf("nursecall.clin.example.org", ec_key(0x0C11_0001), 0x3A0008)
MEDNET_SRV = server_leaf("mednet.clin.example.org", rsa_key(RSA_HL7_ENGINE), 0x3A0009)
