"""Observations: the sensor's one record type (DESIGN.md, "sensor").

Every protocol emits subclasses of `Observation`; `sensor.ecs` turns them into ECS-shaped
JSON lines and back. A record holds identifiers only: secrets arrive already fingerprinted
and patient data never arrives at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from .flowid import Direction, FlowId


class Proto(StrEnum):
    """Application protocol of an observation (ECS `network.protocol`)."""

    TLS = "tls"
    DTLS = "dtls"
    QUIC = "quic"
    HTTP = "http"
    FTP = "ftp"
    TELNET = "telnet"
    POP3 = "pop3"
    IMAP = "imap"
    SMTP = "smtp"
    SNMP = "snmp"
    LDAP = "ldap"
    MQTT = "mqtt"
    SMB = "smb"
    DCERPC = "dcerpc"
    KERBEROS = "kerberos"
    SIP = "sip"
    REDIS = "redis"
    DICOM = "dicom"
    HL7 = "hl7"
    RDP = "rdp"
    VNC = "vnc"
    SSH = "ssh"
    DHCP = "dhcp"
    DNS = "dns"
    REMOTE = "remote-tool"
    """A vendor remote-access tool known by its catalog signature (TeamViewer, Citrix ICA...)."""


@dataclass(frozen=True, slots=True)
class Evidence:
    """Where an analyst finds the fact: the capture and its frames (1-based, as Wireshark)."""

    capture: str
    frames: tuple[int, ...]


NO_EVIDENCE = Evidence(capture="", frames=())


@dataclass(frozen=True, slots=True, kw_only=True)
class Observation:
    """One identity fact seen on one connection; one JSON line each."""

    action: ClassVar[str]
    """ECS `event.action`; one per subclass."""
    ts: float
    """Packet time (epoch seconds), never the wall clock."""
    flow: FlowId
    protocol: Proto
    evidence: Evidence = NO_EVIDENCE
    """Filled in by the dispatcher from the frames the parser consumed."""


CERT_CACHE_SIZE = 4096
"""Certificates whose decoded form (sensor/protocols/tls.py) and JSON form (sensor/ecs.py)
are kept: the same server and CA certificates come back on every connection."""


@dataclass(frozen=True, slots=True, kw_only=True)
class X509Cert:
    """One certificate of a chain, as X.509 has it (ECS `x509.*`)."""

    sha1: str
    sha256: str
    """Lower-case hex over the DER bytes."""
    subject: str
    """RFC 4514 distinguished name."""
    subject_cn: str | None
    issuer: str
    serial: str
    """Upper-case hex, no leading zeros (as Wireshark prints it)."""
    not_before: str
    not_after: str
    """ISO 8601, UTC."""
    key_type: str
    """RSA, EC, DSA, Ed25519, Ed448 or the key's OID."""
    key_bits: int | None
    signature_algorithm: str
    """e.g. sha256WithRSAEncryption, or the OID when unknown."""
    signature_hash: str | None
    """md5, sha1, sha256 ...; None for Ed25519 and unknown algorithms."""
    sans: tuple[str, ...]
    """Subject alternative names, "DNS:x", "IP:x", "email:x", "URI:x"."""
    self_signed: bool
    """Issuer equals subject and the signature verifies with the certificate's own key."""
    version: int
    parsed: bool = True
    """False when the DER could not be decoded: the certificate is still kept by its hashes
    (the identity), the other fields are placeholders ("", None, 0)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsClientHello(Observation):
    """A ClientHello: what the client offers (RFC 8446 4.1.2, RFC 5246 7.4.1.2)."""

    action: ClassVar[str] = "tls-client-hello"
    server_name: str | None
    alpn: tuple[str, ...]
    versions: tuple[str, ...]
    """Offered versions, "1.0" .. "1.3" (supported_versions, else legacy_version)."""
    ja3: str
    """The JA3 string (GREASE removed)."""
    ja3_hash: str
    """MD5 of `ja3`, as tshark's tls.handshake.ja3."""
    ja4: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsServerHello(Observation):
    """A ServerHello: what the server chose."""

    action: ClassVar[str] = "tls-server-hello"
    version: str
    cipher: str
    """IANA name, or "0xHHHH" when unknown."""
    alpn: str | None
    ja3s: str
    ja3s_hash: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsCertificateRequest(Observation):
    """The server asks the client for a certificate: mutual TLS was requested."""

    action: ClassVar[str] = "tls-certificate-request"
    ca_names: tuple[str, ...]
    """Acceptable issuers as RFC 4514 names (empty: any)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsCertificate(Observation):
    """A Certificate message in clear (TLS <= 1.2, DTLS): a whole chain, leaf first."""

    action: ClassVar[str] = "tls-certificate"
    chain: tuple[X509Cert, ...]

    @property
    def leaf(self) -> X509Cert:
        """The sender's own certificate: its identity."""
        return self.chain[0]


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsClientCertificate(TlsCertificate):
    """The client's chain: the device identity."""

    action: ClassVar[str] = "tls-client-certificate"
    attempt: int | None = None
    """Its number among the connection's authentication attempts; the server's answer is the
    `AuthenticationOutcome` of the same flow and attempt."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsServerCertificate(TlsCertificate):
    """The server's chain."""

    action: ClassVar[str] = "tls-server-certificate"


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsEncryptedHandshake(Observation):
    """TLS 1.3: the certificates are encrypted, so the client certificate cannot be seen.

    Mutual authentication is inferred from the shape of the encrypted flights instead.
    """

    action: ClassVar[str] = "tls-encrypted-handshake"
    version: str
    mutual_auth: str
    """"likely", "unlikely" or "unknown"."""
    confidence: float
    """0..1, how sure the inference is."""
    reasons: tuple[str, ...]
    """The measurements behind the inference, e.g. "client flight 1190 B in 3 records"."""



class SecretKind(StrEnum):
    """What kind of secret a credential carried."""

    PASSWORD = "password"
    TOKEN = "token"
    API_KEY = "api-key"
    COMMUNITY = "community"
    PASSCODE = "passcode"
    HASH = "hash"
    """A challenge response (Digest, NTLM): proves a secret without revealing it."""
    NONE = "none"
    """A user name presented without a secret (e.g. Kerberos AS-REQ, RDP cookie)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenClaims:
    """What a bearer token says about itself (a JWT's header and registered claims); the
    signature and any other claim are not kept."""

    alg: str | None
    iss: str | None
    sub: str | None
    aud: tuple[str, ...]
    exp: float | None
    """Expiry, epoch seconds; None: the token never expires."""
    iat: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CredentialSeen(Observation):
    """A credential presented in clear: the user name as is, the secret only as a keyed
    fingerprint (`sensor.secrets`) made inside the parser."""

    action: ClassVar[str] = "credential"
    presenter: Direction
    """Which side presented it (ORIG = the client, the usual case; SNMP traps: RESP...)."""
    username: str | None
    """As presented (LDAP: the bind DN; Kerberos: the client principal without realm)."""
    domain: str | None = None
    """Realm or domain the user belongs to (Digest realm, NTLM domain, Kerberos realm)."""
    host: str | None = None
    """The presenter's own name where the protocol says it (NTLM workstation)."""
    secret_kind: SecretKind
    secret_fp: str | None
    """Keyed fingerprint of the secret; equal secrets give equal fingerprints. None if no secret."""
    secret_hint: str | None
    """Kind and length of the secret (`Fingerprint.hint`), never the secret."""
    mechanism: str
    """How it was presented, e.g. "basic", "USER/PASS", "community", "simple-bind"."""
    token: TokenClaims | None = None
    """A JWT's claims, when the secret is one."""
    notes: tuple[str, ...] = ()
    """Facts around it worth an analyst's eye, e.g. "anonymous bind", "AUTH TLS offered"."""
    attempt: int | None = None
    """Its number among the connection's authentication attempts (1, 2, ...): the server's
    answer is the `AuthenticationOutcome` of the same flow and attempt. None: the protocol
    gets no answer to it (an HL7 MSH-8, a trap)."""


class Outcome(StrEnum):
    """Whether the other side accepted an authentication (ECS `event.outcome`)."""

    SUCCESS = "success"
    FAILURE = "failure"
    UNKNOWN = "unknown"
    """The answer was not seen (not captured, or encrypted): never guessed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthenticationOutcome(Observation):
    """The answer to one authentication attempt of a connection: the identity observation of
    the same flow with the same `attempt` (a `CredentialSeen`, `TlsClientCertificate`,
    `DicomAssociation` request or `RemoteAccessSession`) was accepted, refused, or its answer
    was not seen. Evidence: the frames of the answer."""

    action: ClassVar[str] = "authentication-outcome"
    attempt: int
    outcome: Outcome
    reason_code: str | None = None
    """The server's code as the protocol names it (ECS `error.code`): "530", "49",
    "WRONGPASS", "0x87", "KDC_ERR_PREAUTH_FAILED", "bad_certificate"..."""
    reason: str | None = None
    """The server's words or what the code means (ECS `event.reason`), at most
    `MAX_REASON` characters of printable text."""
    basis: str | None = None
    """How the outcome was read when it is not the server's explicit answer, e.g.
    "application data both ways after the client's Finished", "no answer captured"."""
    confidence: float | None = None
    """0..1 when the outcome is inferred (TLS 1.3 flights); None: read from the wire."""


MAX_REASON = 120


@dataclass(frozen=True, slots=True, kw_only=True)
class DicomAssociation(Observation):
    """A DICOM A-ASSOCIATE PDU (PS3.8 9.3.2-9.3.4): who calls whom. AE titles are identities;
    the User Identity sub-item's secret comes as a separate `CredentialSeen`."""

    action: ClassVar[str] = "dicom-association"
    pdu: str
    """"request", "accept" or "reject"."""
    calling_ae: str
    called_ae: str
    """AE titles, trailing spaces removed (the reject PDU carries none: empty)."""
    implementation_class_uid: str | None
    implementation_version: str | None
    user_identity_type: str | None = None
    """"username", "username-passcode", "kerberos", "saml", "jwt" when the request has one."""
    result: str | None = None
    """Reject: result, source and reason as PS3.8 names them."""
    attempt: int | None = None
    """A request's number among the connection's authentication attempts (its answer: the
    `AuthenticationOutcome` of the same flow and attempt)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Hl7Message(Observation):
    """The MSH segment of an HL7 v2 message over MLLP: routing facts only. Nothing after MSH
    is read, so no patient data enters the tool; MSH-8 (security) comes as a `CredentialSeen`."""

    action: ClassVar[str] = "hl7-message"
    sending_application: str
    sending_facility: str
    receiving_application: str
    receiving_facility: str
    message_type: str
    """MSH-9, e.g. "ORU^R01"."""
    version: str
    """MSH-12, e.g. "2.5.1"."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteAccessSession(Observation):
    """A remote-access session: which tool reached from where to where, for how long.

    Emitted when its connection leaves the flow table, so that `start`, `end` and the byte
    counts are the whole connection's; `ts` is the handshake that revealed it. Live sensing also
    reports it when it is recognised (`RemoteAccessSessionStart`).
    """

    action: ClassVar[str] = "remote-access-session"
    vendor: str
    """Catalog vendor (`rules/remote_access.yaml`), e.g. "TeamViewer", "Philips"; empty when
    only the protocol is known (an RDP session to no catalogued host)."""
    product: str
    """Catalog product, else the protocol: "RDP", "VNC", "SSH"."""
    direction: str
    """"inbound": the client reaches into the server, the device end (RDP, VNC, SSH);
    "outbound": the client, the device end, calls out to a vendor's cloud."""
    matched_by: str
    """What recognised it, e.g. "rdp x.224 request", "sni remote.example.com ~ *.example.com"."""
    remote_name: str | None = None
    """The vendor end's name (SNI or DNS answer) when known."""
    user: str | None = None
    """As the protocol says it in clear (RDP cookie `mstshash=`)."""
    client_software: str | None = None
    """SSH client banner, VNC client version."""
    server_software: str | None = None
    hassh: str | None = None
    hassh_server: str | None = None
    security: tuple[str, ...] = ()
    """RDP requested/selected protocols, VNC security types offered."""
    start: float = 0.0
    end: float = 0.0
    """First and last packet time of the connection."""
    bytes_orig: int = 0
    bytes_resp: int = 0
    """Frame bytes each way (client to server, server to client)."""
    attempt: int | None = None
    """The number of the session's authentication (VNC security, RDP negotiation) when the
    protocol shows it: its answer is the `AuthenticationOutcome` of the same flow."""

    @property
    def duration(self) -> float:
        """Seconds from the first to the last packet."""
        return max(0.0, self.end - self.start)


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteAccessSessionStart(RemoteAccessSession):
    """Live sensing: a remote-access session just recognised while its connection goes on. The
    `RemoteAccessSession` of its end follows when the connection leaves the flow table; until
    then `end` and the byte counts are those of the moment it was recognised."""

    action: ClassVar[str] = "remote-access-session-start"


@dataclass(frozen=True, slots=True, kw_only=True)
class DhcpLease(Observation):
    """One DHCP message (RFC 2131/2132): the MAC-IP binding facts it carries."""

    action: ClassVar[str] = "dhcp-lease"
    message_type: str
    """"discover", "offer", "request", "ack", "nak", "release", "inform", "decline"."""
    client_mac: str
    """chaddr, ECS notation."""
    ip: str | None
    """The address concerned: yiaddr (offer/ack), else requested address (50), else ciaddr."""
    lease_seconds: int | None = None
    """Option 51 (acks and offers)."""
    hostname: str | None = None
    """Option 12."""
    vendor_class: str | None = None
    """Option 60, e.g. "MSFT 5.0", a medical vendor's firmware string."""
    parameter_list: tuple[int, ...] = ()
    """Option 55: a device-class fingerprint."""
    client_id: str | None = None
    """Option 61, hex."""
    server_id: str | None = None
    """Option 54."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DnsAnswer(Observation):
    """A DNS response's address answers: which names an address stands for (RFC 1035)."""

    action: ClassVar[str] = "dns-answer"
    query: str
    """The question name, lower case, no trailing dot."""
    query_type: str
    """"A", "AAAA", ..."""
    rcode: str
    """"NOERROR", "NXDOMAIN", ..."""
    addresses: tuple[str, ...] = ()
    """A and AAAA answers."""
    cnames: tuple[str, ...] = ()
    """The CNAME chain from the question to the addresses."""
    ttl: int | None = None
    """Smallest TTL of the answers."""
