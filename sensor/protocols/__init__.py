"""Protocol extractors. Adding a protocol = one module here plus one line in EXTRACTORS."""

from __future__ import annotations

from sensor.protocols.base import Extractor
from sensor.protocols.dcerpc import DceRpcExtractor
from sensor.protocols.dhcp import DhcpExtractor
from sensor.protocols.dicom import DicomExtractor
from sensor.protocols.dns import DnsExtractor
from sensor.protocols.ftp import FtpExtractor
from sensor.protocols.hl7 import Hl7Extractor
from sensor.protocols.http import HttpExtractor
from sensor.protocols.imap import ImapExtractor
from sensor.protocols.kerberos import KerberosExtractor
from sensor.protocols.ldap import LdapExtractor
from sensor.protocols.mqtt import MqttExtractor
from sensor.protocols.pop3 import Pop3Extractor
from sensor.protocols.quic import QuicExtractor
from sensor.protocols.rdp import RdpExtractor
from sensor.protocols.redis import RedisExtractor
from sensor.protocols.sip import SipExtractor
from sensor.protocols.smb import SmbExtractor
from sensor.protocols.smtp import SmtpExtractor
from sensor.protocols.snmp import SnmpExtractor
from sensor.protocols.ssh import SshExtractor
from sensor.protocols.telnet import TelnetExtractor
from sensor.protocols.tls import DtlsExtractor, TlsExtractor
from sensor.protocols.vendor_tool import VendorToolExtractor
from sensor.protocols.vnc import VncExtractor

EXTRACTORS: tuple[type[Extractor], ...] = (
    TlsExtractor, DtlsExtractor, QuicExtractor, FtpExtractor, DicomExtractor, Hl7Extractor, SnmpExtractor,
    HttpExtractor, LdapExtractor, MqttExtractor, RedisExtractor, SmtpExtractor, Pop3Extractor,
    SmbExtractor, DceRpcExtractor, KerberosExtractor, SipExtractor,
    RdpExtractor, SshExtractor, VncExtractor, DhcpExtractor, DnsExtractor,
    ImapExtractor, TelnetExtractor, VendorToolExtractor,
)
"""Every extractor the dispatcher may attach, probed in this order on equal port evidence."""
