"""How Windows clients prove a password without sending it: NTLM (MS-NLMP), wrapped in SPNEGO
(RFC 4178) for HTTP and SMB2 (MS-SMB2) session setups, and the Kerberos 5 AS exchange
(RFC 4120) over UDP and TCP. Proofs and encrypted parts are random-looking bytes: nothing on
the wire tells the difference without the password.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from .ber import der, der_int, der_oid, der_str
from .fixed import epoch_ns, fixed_bytes, utc, utc_text
from .flows import TcpFlow


def filetime(ns: int) -> bytes:
    """A Windows FILETIME (100 ns units since 1601), little-endian, as NTLM and SMB carry it."""
    return struct.pack("<Q", ns // 100 + 116444736000000000)


# --------------------------------------------------------------------------------------
# NTLM (MS-NLMP 2.2.1) and SPNEGO (RFC 4178): shared by HTTP and SMB
# --------------------------------------------------------------------------------------

NTLM_VERSION = bytes([10, 0]) + struct.pack("<H", 19041) + b"\x00\x00\x00\x0f"
"""Windows 10 build 19041, NTLMSSP revision 15."""
NTLM_NEGOTIATE_FLAGS = 0xE2088297
"""What Windows 10 offers: 56/128-bit, key exchange, version, extended session security,
always sign, NTLM, seal, sign, request target, OEM and Unicode."""
NTLM_CHALLENGE_FLAGS = 0xE28A8215
AV_EOL, AV_NB_COMPUTER, AV_NB_DOMAIN, AV_DNS_COMPUTER, AV_DNS_DOMAIN, AV_DNS_TREE = 0, 1, 2, 3, 4, 5
AV_FLAGS, AV_TIMESTAMP, AV_TARGET_NAME, AV_CHANNEL_BINDINGS = 6, 7, 9, 10


def utf16(text: str) -> bytes:
    """UTF-16LE, as NTLM and SMB write names."""
    return text.encode("utf-16-le")


def av_pairs(pairs: Sequence[tuple[int, bytes]]) -> bytes:
    """An AV_PAIR list (MS-NLMP 2.2.2.1), MsvAvEOL appended."""
    return b"".join(struct.pack("<HH", k, len(v)) + v for k, v in [*pairs, (AV_EOL, b"")])


def ntlm_messages(label: str, *, user: str, domain: str, workstation: str, server_name: str, dns_domain: str,
                  spn: str, at_ns: int) -> tuple[bytes, bytes, bytes]:
    """NEGOTIATE, CHALLENGE and AUTHENTICATE (NTLMv2) of one logon, as Windows 10 sends them.

    The NTProofStr is random-looking bytes: computing it needs MD4, which hashlib no longer
    has; nothing on the wire tells the difference without the password."""
    negotiate = b"NTLMSSP\x00" + struct.pack("<II", 1, NTLM_NEGOTIATE_FLAGS) + bytes(16) + NTLM_VERSION
    nb_domain = domain.upper()
    target_info = [(AV_NB_DOMAIN, utf16(nb_domain)), (AV_NB_COMPUTER, utf16(server_name.upper())),
                   (AV_DNS_DOMAIN, utf16(dns_domain)), (AV_DNS_COMPUTER, utf16(f"{server_name}.{dns_domain}")),
                   (AV_DNS_TREE, utf16(dns_domain)), (AV_TIMESTAMP, filetime(at_ns))]
    name, info = utf16(nb_domain), av_pairs(target_info)
    challenge = (b"NTLMSSP\x00" + struct.pack("<IHHII", 2, len(name), len(name), 56, NTLM_CHALLENGE_FLAGS)
                 + fixed_bytes(label + "/server-challenge", 8) + bytes(8)
                 + struct.pack("<HHI", len(info), len(info), 56 + len(name)) + NTLM_VERSION + name + info)
    client_info = av_pairs([*target_info, (AV_FLAGS, struct.pack("<I", 2)), (AV_CHANNEL_BINDINGS, bytes(16)),
                            (AV_TARGET_NAME, utf16(spn))])
    blob = (b"\x01\x01" + bytes(6) + filetime(at_ns) + fixed_bytes(label + "/client-challenge", 8) + bytes(4)
            + client_info + bytes(4))
    nt_response = fixed_bytes(label + "/ntproofstr", 16) + blob
    payload = [utf16(domain), utf16(user), utf16(workstation), bytes(24), nt_response,
               fixed_bytes(label + "/session-key", 16)]
    fields = b""
    for order in (3, 4, 0, 1, 2, 5):  # LM, NT, domain, user, workstation, session key; payload in Windows' order
        offset = 88 + sum(len(p) for p in payload[:order])  # after the header, its version and MIC
        fields += struct.pack("<HHI", len(payload[order]), len(payload[order]), offset)
    authenticate = (b"NTLMSSP\x00" + struct.pack("<I", 3) + fields + struct.pack("<I", NTLM_NEGOTIATE_FLAGS)
                    + NTLM_VERSION + fixed_bytes(label + "/mic", 16) + b"".join(payload))
    return negotiate, challenge, authenticate


def ntlm_signature(label: str, sequence: int) -> bytes:
    """An NTLMSSP_MESSAGE_SIGNATURE (MS-NLMP 2.2.2.9.1), as SPNEGO's mechListMIC carries it:
    version 1, the checksum (random-looking: no session key behind it), the sequence number."""
    return struct.pack("<I", 1) + fixed_bytes(label, 8) + struct.pack("<I", sequence)


SPNEGO = der_oid("1.3.6.1.5.5.2")
NTLMSSP = der_oid("1.3.6.1.4.1.311.2.2.10")
KERBEROS_MS, KERBEROS_V5 = der_oid("1.2.840.48018.1.2.2"), der_oid("1.2.840.113554.1.2.2")


def spnego_init(mechanisms: Sequence[bytes], token: bytes | None = None, hint: str | None = None) -> bytes:
    """A GSS-API InitialContextToken holding a NegTokenInit: the client's first token (with
    its mechanism token), or the server's advertisement in an SMB2 NEGOTIATE response (with
    the RFC 4178 "please ignore" hint)."""
    fields = der(0xA0, der(0x30, *mechanisms))
    if token is not None:
        fields += der(0xA2, der(0x04, token))
    if hint is not None:
        fields += der(0xA3, der(0x30, der(0xA0, der_str(hint, 0x1B))))
    return der(0x60, SPNEGO, der(0xA0, der(0x30, fields)))


def spnego_response(state: int | None, token: bytes | None = None, mech: bytes | None = None,
                    mic: bytes | None = None) -> bytes:
    """A NegTokenResp: negState (0 accept-completed, 1 accept-incomplete), supportedMech,
    responseToken, mechListMIC."""
    fields = der(0xA0, der(0x0A, bytes([state]))) if state is not None else b""
    if mech is not None:
        fields += der(0xA1, mech)
    if token is not None:
        fields += der(0xA2, der(0x04, token))
    if mic is not None:
        fields += der(0xA3, der(0x04, mic))
    return der(0xA1, der(0x30, fields))


# --------------------------------------------------------------------------------------
# SMB2 (MS-SMB2) session setup with NTLMSSP in SPNEGO
# --------------------------------------------------------------------------------------

SMB2_NEGOTIATE, SMB2_SESSION_SETUP, SMB2_TREE_CONNECT = 0, 1, 3
STATUS_MORE_PROCESSING_REQUIRED = 0xC0000016


def smb2(command: int, message_id: int, body: bytes, *, status: int = 0, reply: bool = False, session_id: int = 0,
         tree_id: int = 0) -> bytes:
    """One SMB2 message behind its 4-byte direct-TCP header (MS-SMB2 2.1, 2.2.1.2)."""
    header = struct.pack("<4sHHIHHIIQIIQ16s", b"\xfeSMB", 64, 1, status, command, 1 if reply else 31,
                         1 if reply else 0, 0, message_id, 0xFEFF, tree_id, session_id, bytes(16))
    return struct.pack(">I", 64 + len(body)) + header + body


def smb_session_setup(flow: TcpFlow, label: str, share: str, messages: tuple[bytes, bytes, bytes],
                      at_ns: int) -> int:
    """A Windows client mapping a share: NEGOTIATE (SMB 2.0.2 to 3.0.2), two SESSION_SETUPs
    carrying NTLMSSP in SPNEGO (the server's CHALLENGE in between, STATUS_MORE_PROCESSING_REQUIRED),
    then TREE_CONNECT; returns the offset past the request with the AUTHENTICATE."""
    negotiate, challenge, authenticate = messages
    dialects = (0x0202, 0x0210, 0x0300, 0x0302)
    flow.send("c", smb2(SMB2_NEGOTIATE, 0, struct.pack("<HHHHI16sQ", 36, len(dialects), 1, 0, 0x7F,
                                                        fixed_bytes(label + "/client-guid", 16), 0)
                        + struct.pack(f"<{len(dialects)}H", *dialects)))
    hints = spnego_init([KERBEROS_MS, KERBEROS_V5, NTLMSSP], hint="not_defined_in_RFC4178@please_ignore")
    flow.send("s", smb2(SMB2_NEGOTIATE, 0, struct.pack("<HHHH16sIIIIQQHHI", 65, 1, 0x0302, 0,
                                                        fixed_bytes(label + "/server-guid", 16), 0x2F, 8388608,
                                                        8388608, 8388608, struct.unpack("<Q", filetime(at_ns))[0], 0,
                                                        128, len(hints), 0) + hints, reply=True))

    def setup_request(message_id: int, blob: bytes, session: int) -> bytes:
        return smb2(SMB2_SESSION_SETUP, message_id, struct.pack("<HBBIIHHQ", 25, 0, 1, 1, 0, 88, len(blob), 0) + blob,
                    session_id=session)

    def setup_reply(message_id: int, blob: bytes, status: int, session: int) -> bytes:
        return smb2(SMB2_SESSION_SETUP, message_id, struct.pack("<HHHH", 9, 0, 72, len(blob)) + blob, status=status,
                    reply=True, session_id=session)

    session = int.from_bytes(fixed_bytes(label + "/session", 8), "little") | 1
    flow.send("c", setup_request(1, spnego_init([NTLMSSP], negotiate), 0))
    flow.send("s", setup_reply(1, spnego_response(1, challenge, NTLMSSP), STATUS_MORE_PROCESSING_REQUIRED, session))
    start = flow.sent["c"]
    flow.send("c", request := setup_request(2, spnego_response(None, authenticate,
                                                              mic=ntlm_signature(label + "/client-mic", 0)), session))
    flow.send("s", setup_reply(2, spnego_response(0, mic=ntlm_signature(label + "/server-mic", 0)), 0, session))
    path = utf16(share)
    flow.send("c", smb2(SMB2_TREE_CONNECT, 3, struct.pack("<HHHH", 9, 0, 72, len(path)) + path, session_id=session))
    flow.send("s", smb2(SMB2_TREE_CONNECT, 3, struct.pack("<HBBIII", 16, 1, 0, 0, 0, 0x001F01FF), reply=True,
                        session_id=session, tree_id=5))
    return start + len(request)


# --------------------------------------------------------------------------------------
# Kerberos 5 (RFC 4120 5.4.1, 5.9.1, 7.2)
# --------------------------------------------------------------------------------------

NT_PRINCIPAL, NT_SRV_INST = 1, 2
AES256, AES128, RC4, RC4_EXP, RC4_OLD = 18, 17, 23, 24, -135
"""Encryption types (RFC 3962, RFC 4757; -135 is RC4-HMAC-OLD-EXP): what Windows 10 offers."""
PA_ENC_TIMESTAMP, PA_PK_AS_REP_OLD, PA_PK_AS_REQ, PA_ETYPE_INFO2, PA_PAC_REQUEST = 2, 15, 16, 19, 128
KDC_ERR_PREAUTH_REQUIRED, KRB_ERR_RESPONSE_TOO_BIG = 25, 52
TILL_NS = epoch_ns(utc(2050, 3, 6, 8))
"""The end and renew-till time every AS-REQ asks for: fixed, far in the future."""


def krb_time(ns: int) -> bytes:
    """A KerberosTime (GeneralizedTime, whole seconds, UTC)."""
    return der(0x18, utc_text(ns, "%Y%m%d%H%M%SZ").encode())


def principal(name_type: int, *parts: str) -> bytes:
    """A PrincipalName: name-type and the name-string components."""
    return der(0x30, der(0xA0, der_int(name_type)), der(0xA1, der(0x30, *(der_str(p, 0x1B) for p in parts))))


def encrypted(etype: int, cipher: bytes, kvno: int | None = None) -> bytes:
    """EncryptedData: etype, [kvno], the cipher text (random-looking: no key behind it)."""
    return der(0x30, der(0xA0, der_int(etype)), *([der(0xA1, der_int(kvno))] if kvno is not None else []),
               der(0xA2, der(0x04, cipher)))


def pa_data(pa_type: int, value: bytes) -> bytes:
    """One PA-DATA."""
    return der(0x30, der(0xA1, der_int(pa_type)), der(0xA2, der(0x04, value)))


def ticket(label: str, realm: str, *service: str) -> bytes:
    """A Ticket (APPLICATION 1) for `service` in `realm`; its enc-part is opaque."""
    return der(0x61, der(0x30, der(0xA0, der_int(5)), der(0xA1, der_str(realm, 0x1B)),
                         der(0xA2, principal(NT_SRV_INST, *service)),
                         der(0xA3, encrypted(AES256, fixed_bytes(label + "/ticket", 1024), 2))))


def as_req(label: str, user: str, realm: str, workstation: str, nonce: int, preauth: bool) -> bytes:
    """A Windows logon's AS-REQ for a TGT: PA-ENC-TIMESTAMP (AES-256, once the KDC asked for it)
    and PA-PAC-REQUEST, forwardable/renewable/canonicalize, the client's NetBIOS address."""
    padata = [pa_data(PA_PAC_REQUEST, der(0x30, der(0xA0, der(0x01, b"\xff"))))]
    if preauth:
        padata.insert(0, pa_data(PA_ENC_TIMESTAMP, encrypted(AES256, fixed_bytes(label + "/enc-timestamp", 56))))
    netbios_address = der(0x30, der(0xA0, der_int(20)), der(0xA1, der(0x04, workstation.ljust(16).encode())))
    body = der(0x30, der(0xA0, der(0x03, b"\x00\x40\x81\x00\x10")), der(0xA1, principal(NT_PRINCIPAL, user)),
               der(0xA2, der_str(realm, 0x1B)), der(0xA3, principal(NT_SRV_INST, "krbtgt", realm)),
               der(0xA5, krb_time(TILL_NS)), der(0xA6, krb_time(TILL_NS)), der(0xA7, der_int(nonce)),
               der(0xA8, der(0x30, *(der_int(e) for e in (AES256, AES128, RC4, RC4_EXP, RC4_OLD)))),
               der(0xA9, der(0x30, netbios_address)))
    return der(0x6A, der(0x30, der(0xA1, der_int(5)), der(0xA2, der_int(10)), der(0xA3, der(0x30, *padata)),
                         der(0xA4, body)))


def krb_error(code: int, realm: str, at_ns: int, e_data: bytes = b"") -> bytes:
    """A KRB-ERROR from the KDC (RFC 4120 5.9.1); Windows KDCs leave the client's name out."""
    fields = [der(0xA0, der_int(5)), der(0xA1, der_int(30)), der(0xA4, krb_time(at_ns)), der(0xA5, der_int(21794)),
              der(0xA6, der_int(code)), der(0xA9, der_str(realm, 0x1B)),
              der(0xAA, principal(NT_SRV_INST, "krbtgt", realm))]
    if e_data:
        fields.append(der(0xAC, der(0x04, e_data)))
    return der(0x7E, der(0x30, *fields))


def preauth_required(realm: str, user: str, at_ns: int) -> bytes:
    """KDC_ERR_PREAUTH_REQUIRED with the methods the KDC accepts and the AES salt."""
    etype_info = der(0x30, der(0x30, der(0xA0, der_int(AES256)), der(0xA1, der_str(realm + user, 0x1B))))
    methods = der(0x30, pa_data(PA_ETYPE_INFO2, etype_info), pa_data(PA_ENC_TIMESTAMP, b""),
                  pa_data(PA_PK_AS_REQ, b""), pa_data(PA_PK_AS_REP_OLD, b""))
    return krb_error(KDC_ERR_PREAUTH_REQUIRED, realm, at_ns, methods)


def as_rep(label: str, user: str, realm: str) -> bytes:
    """The AS-REP with the TGT; its enc-part is opaque."""
    etype_info = der(0x30, der(0x30, der(0xA0, der_int(AES256)), der(0xA1, der_str(realm + user, 0x1B))))
    return der(0x6B, der(0x30, der(0xA0, der_int(5)), der(0xA1, der_int(11)),
                         der(0xA2, der(0x30, pa_data(PA_ETYPE_INFO2, etype_info))), der(0xA3, der_str(realm, 0x1B)),
                         der(0xA4, principal(NT_PRINCIPAL, user)), der(0xA5, ticket(label, realm, "krbtgt", realm)),
                         der(0xA6, encrypted(AES256, fixed_bytes(label + "/as-rep", 290), 3))))


def kerberos_tcp(flow: TcpFlow, request: bytes, reply: bytes) -> int:
    """A KDC exchange over TCP: each message behind its 4-byte length (RFC 4120 7.2.2)."""
    start = flow.sent["c"]
    flow.send("c", struct.pack(">I", len(request)) + request)
    flow.send("s", struct.pack(">I", len(reply)) + reply)
    return start + 4 + len(request)


