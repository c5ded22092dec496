"""Protocol extractors. Adding a protocol = one module here plus one line in EXTRACTORS."""

from __future__ import annotations

from sensor.protocols.base import Extractor
from sensor.protocols.dicom import DicomExtractor
from sensor.protocols.ftp import FtpExtractor
from sensor.protocols.hl7 import Hl7Extractor
from sensor.protocols.http import HttpExtractor
from sensor.protocols.ldap import LdapExtractor
from sensor.protocols.mqtt import MqttExtractor
from sensor.protocols.pop3 import Pop3Extractor
from sensor.protocols.quic import QuicExtractor
from sensor.protocols.redis import RedisExtractor
from sensor.protocols.smtp import SmtpExtractor
from sensor.protocols.snmp import SnmpExtractor
from sensor.protocols.tls import DtlsExtractor, TlsExtractor

EXTRACTORS: tuple[type[Extractor], ...] = (
    TlsExtractor, DtlsExtractor, QuicExtractor, FtpExtractor, DicomExtractor, Hl7Extractor, SnmpExtractor,
    HttpExtractor, LdapExtractor, MqttExtractor, RedisExtractor, SmtpExtractor, Pop3Extractor,
)
"""Every extractor the dispatcher may attach, probed in this order on equal port evidence."""
