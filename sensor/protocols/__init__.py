"""Protocol extractors. Adding a protocol = one module here plus one line in EXTRACTORS."""

from __future__ import annotations

from .base import Extractor
from .dcerpc import DceRpcExtractor
from .dhcp import DhcpExtractor
from .dicom import DicomExtractor
from .dns import DnsExtractor
from .ftp import FtpExtractor
from .hl7 import Hl7Extractor
from .http import HttpExtractor
from .imap import ImapExtractor
from .kerberos import KerberosExtractor
from .ldap import LdapExtractor
from .mqtt import MqttExtractor
from .pop3 import Pop3Extractor
from .quic import QuicExtractor
from .rdp import RdpExtractor
from .redis import RedisExtractor
from .sip import SipExtractor
from .smb import SmbExtractor
from .smtp import SmtpExtractor
from .snmp import SnmpExtractor
from .ssh import SshExtractor
from .telnet import TelnetExtractor
from .tls import DtlsExtractor, TlsExtractor
from .vendor_tool import VendorToolExtractor
from .vnc import VncExtractor

EXTRACTORS: tuple[type[Extractor], ...] = (
    TlsExtractor, DtlsExtractor, QuicExtractor, FtpExtractor, DicomExtractor, Hl7Extractor, SnmpExtractor,
    HttpExtractor, LdapExtractor, MqttExtractor, RedisExtractor, SmtpExtractor, Pop3Extractor,
    SmbExtractor, DceRpcExtractor, KerberosExtractor, SipExtractor,
    RdpExtractor, SshExtractor, VncExtractor, DhcpExtractor, DnsExtractor,
    ImapExtractor, TelnetExtractor, VendorToolExtractor,
)
"""Every extractor the dispatcher may attach, probed in this order on equal port evidence."""
