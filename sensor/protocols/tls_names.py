"""The numbers of TLS and DTLS and the names they are written as.

Record content types, handshake message types, alerts and extensions (RFC 5246 6.2.1, 7.2,
7.4; RFC 8446 4, 4.2, 6; RFC 6347 4.1), protocol versions and cipher suites (IANA "TLS
Parameters"); names on the wire are kept readable and bounded (`name_text`). Shared by the
record layers (`sensor.protocols.tls`), the handshake (`tls_handshake`, `tls_hello`), the
server's answer (`tls_answer`) and QUIC.
"""

from __future__ import annotations

MAX_NAME_LEN = 1024
"""SNI / ALPN / DN text kept per value."""

CT_CHANGE_CIPHER_SPEC = 20
CT_ALERT = 21
CT_HANDSHAKE = 22
CT_APPLICATION_DATA = 23
CT_HEARTBEAT = 24
CT_TLS12_CID = 25  # DTLS 1.2 connection id (RFC 9146): encrypted
KNOWN_CONTENT_TYPES = frozenset({20, 21, 22, 23, 24})

ALERT_FATAL = 2
ALERT_LEVELS = {1: "warning", ALERT_FATAL: "fatal"}
ALERT_NAMES = {
    0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 21: "decryption_failed",
    22: "record_overflow", 30: "decompression_failure", 40: "handshake_failure", 41: "no_certificate",
    42: "bad_certificate", 43: "unsupported_certificate", 44: "certificate_revoked",
    45: "certificate_expired", 46: "certificate_unknown", 47: "illegal_parameter", 48: "unknown_ca",
    49: "access_denied", 50: "decode_error", 51: "decrypt_error", 60: "export_restriction",
    70: "protocol_version", 71: "insufficient_security", 80: "internal_error",
    86: "inappropriate_fallback", 90: "user_canceled", 100: "no_renegotiation",
    109: "missing_extension", 110: "unsupported_extension", 111: "certificate_unobtainable",
    112: "unrecognized_name", 113: "bad_certificate_status_response",
    114: "bad_certificate_hash_value", 115: "unknown_psk_identity", 116: "certificate_required",
    120: "no_application_protocol",
}
"""Alert descriptions as the RFCs and IANA name them (RFC 5246 7.2, RFC 8446 6)."""

HS_HELLO_REQUEST = 0
HS_CLIENT_HELLO = 1
HS_SERVER_HELLO = 2
HS_HELLO_VERIFY_REQUEST = 3
HS_CERTIFICATE = 11
HS_CERTIFICATE_REQUEST = 13

EXT_SERVER_NAME = 0x0000
EXT_SUPPORTED_GROUPS = 0x000A
EXT_EC_POINT_FORMATS = 0x000B
EXT_SIGNATURE_ALGORITHMS = 0x000D
EXT_ALPN = 0x0010
EXT_SUPPORTED_VERSIONS = 0x002B

TLS_RECORD_HEADER = 5
DTLS_RECORD_HEADER = 13  # type, version, epoch(2), sequence_number(6), length
TLS_HS_HEADER = 4
DTLS_HS_HEADER = 12  # type, length(3), message_seq(2), fragment_offset(3), fragment_length(3)

TLS13 = 0x0304
DTLS13 = 0xFEFC
DTLS_VERSIONS = frozenset({0xFEFF, 0xFEFD, 0xFEFC, 0x0100})  # 0x0100: OpenSSL's pre-RFC DTLS
TLS13_DRAFTS = range(0x7F0E, 0x7F1D)
"""TLS 1.3 drafts 14..28 (0x7f0e..0x7f1c): still met on old embedded stacks."""

VERSION_NAMES = {
    0x0002: "ssl2", 0x0300: "ssl3", 0x0301: "1.0", 0x0302: "1.1", 0x0303: "1.2", 0x0304: "1.3",
    0xFEFF: "dtls1.0", 0xFEFD: "dtls1.2", 0xFEFC: "dtls1.3", 0x0100: "dtls1.0-openssl",
}

CIPHER_NAMES = {
    0x0004: "TLS_RSA_WITH_RC4_128_MD5",
    0x0005: "TLS_RSA_WITH_RC4_128_SHA",
    0x000A: "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    0x0016: "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
    0x002F: "TLS_RSA_WITH_AES_128_CBC_SHA",
    0x0033: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
    0x0035: "TLS_RSA_WITH_AES_256_CBC_SHA",
    0x0039: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
    0x003C: "TLS_RSA_WITH_AES_128_CBC_SHA256",
    0x003D: "TLS_RSA_WITH_AES_256_CBC_SHA256",
    0x0067: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
    0x006B: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
    0x009C: "TLS_RSA_WITH_AES_128_GCM_SHA256",
    0x009D: "TLS_RSA_WITH_AES_256_GCM_SHA384",
    0x009E: "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    0x009F: "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
    0x00FF: "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
    0x1301: "TLS_AES_128_GCM_SHA256",
    0x1302: "TLS_AES_256_GCM_SHA384",
    0x1303: "TLS_CHACHA20_POLY1305_SHA256",
    0x1304: "TLS_AES_128_CCM_SHA256",
    0x1305: "TLS_AES_128_CCM_8_SHA256",
    0x5600: "TLS_FALLBACK_SCSV",
    0xC007: "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    0xC009: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    0xC00A: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    0xC011: "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    0xC012: "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    0xC013: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    0xC014: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    0xC023: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    0xC024: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
    0xC027: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    0xC028: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
    0xC02B: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    0xC02C: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    0xC02F: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    0xC030: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    0xCCA8: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    0xCCA9: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    0xCCAA: "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
}
"""IANA names of the suites seen in practice; others are written "0xHHHH"."""


def version_name(version: int) -> str:
    """Readable protocol version ("1.2", "dtls1.2"), or "0xHHHH" when unknown."""
    if version in TLS13_DRAFTS:
        return f"1.3-draft{version & 0xFF}"
    return VERSION_NAMES.get(version, f"0x{version:04x}")


def cipher_name(cipher: int) -> str:
    """IANA name of a cipher suite, or "0xHHHH" when it is not in `CIPHER_NAMES`."""
    return CIPHER_NAMES.get(cipher, f"0x{cipher:04x}")


def alert_name(description: int) -> str:
    """An alert's name ("certificate_expired"), or its number when it has none."""
    return ALERT_NAMES.get(description, str(description))


def name_text(raw: bytes) -> str:
    """Names on the wire are bytes; keep them readable and bounded."""
    return raw[:MAX_NAME_LEN].decode("utf-8", "backslashreplace")
