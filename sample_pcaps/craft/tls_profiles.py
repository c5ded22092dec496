"""What the TLS stacks of a hospital's devices send: ClientHello profiles (embedded OpenSSL, a
small RTOS stack, Java, Chromium, Windows Schannel, AnyDesk) and the ServerHellos answering
them. Randoms, session ids and key shares derive from the connection's label.
"""

from __future__ import annotations

from .fixed import fixed_bytes
from .tls import (
    ECDSA_SHA256,
    ECDSA_SHA384,
    EXT_ALPS,
    EXT_COMPRESS_CERT,
    EXT_EMS,
    EXT_ETM,
    EXT_KEY_SHARE,
    EXT_PADDING,
    EXT_SCT,
    EXT_SESSION_TICKET,
    EXT_SUPPORTED_VERSIONS,
    GREASE,
    RSA_PKCS1_SHA1,
    RSA_PKCS1_SHA256,
    RSA_PKCS1_SHA384,
    RSA_PSS_SHA256,
    RSA_PSS_SHA384,
    SECP256R1,
    SECP384R1,
    TLS12,
    TLS13,
    X25519,
    ClientHello,
    ServerHello,
    ext,
    ext_alpn,
    ext_groups,
    ext_key_share,
    ext_point_formats,
    ext_psk_modes,
    ext_reneg,
    ext_sig_algs,
    ext_sni,
    ext_status_request,
    ext_versions,
    u16,
    vec16,
)


def ch_openssl_device(sni: str | None, label: str) -> ClientHello:
    """Embedded Linux, OpenSSL 1.1.1 limited to TLS 1.2, no GREASE."""
    exts = [ext_sni(sni)] if sni else []
    exts += [
        ext_point_formats((0, 1, 2)), ext_groups((X25519, SECP256R1, SECP384R1)), ext(EXT_SESSION_TICKET),
        ext(EXT_ETM), ext(EXT_EMS),
        ext_sig_algs((ECDSA_SHA256, ECDSA_SHA384, RSA_PSS_SHA256, RSA_PSS_SHA384, RSA_PKCS1_SHA256, RSA_PKCS1_SHA384,
                      RSA_PKCS1_SHA1)),
    ]
    ciphers = (0xC02C, 0xC030, 0x009F, 0xC02B, 0xC02F, 0x009E, 0xC024, 0xC028, 0x006B, 0xC023, 0xC027, 0x0067,
               0x009D, 0x009C, 0x003D, 0x003C, 0x0035, 0x002F, 0x00FF)
    return ClientHello(fixed_bytes(label + "/c-random", 32), ciphers, tuple(exts))


def ch_mbedtls_device(sni: str, label: str) -> ClientHello:
    """A small RTOS stack (mbed TLS style): short cipher list, ALPN none."""
    return ClientHello(
        fixed_bytes(label + "/c-random", 32), (0xC02B, 0xC0AE, 0xC023, 0xC02F, 0xC027, 0x009C, 0x003C, 0x00FF),
        (ext_sni(sni), ext_sig_algs((ECDSA_SHA256, RSA_PKCS1_SHA256, RSA_PKCS1_SHA1)),
         ext_groups((SECP256R1, SECP384R1)), ext_point_formats((0,)), ext(EXT_EMS)),
    )


def ch_java_tls13(sni: str, label: str, alpn: tuple[str, ...] = ()) -> ClientHello:
    """A Java 17 client offering TLS 1.3 and 1.2."""
    exts = [
        ext_sni(sni), ext_status_request(), ext_groups((X25519, SECP256R1, SECP384R1, 0x0019, 0x001E, 0x0100, 0x0101)),
        ext_point_formats((0,)),
        ext_sig_algs((ECDSA_SHA256, ECDSA_SHA384, RSA_PSS_SHA256, RSA_PSS_SHA384, RSA_PKCS1_SHA256, RSA_PKCS1_SHA384)),
        ext(50, ext_sig_algs((ECDSA_SHA256, RSA_PSS_SHA256, RSA_PKCS1_SHA256))[1]),  # signature_algorithms_cert
    ]
    if alpn:
        exts.append(ext_alpn(alpn))
    exts += [ext(EXT_EMS), ext_versions((TLS13, TLS12)), ext_psk_modes(),
             ext_key_share(((X25519, fixed_bytes(label + "/c-x25519", 32)),))]
    ciphers = (0x1302, 0x1301, 0x1303, 0xC02C, 0xC02B, 0xCCA9, 0xC030, 0xCCA8, 0xC02F, 0x009F, 0xCCAA, 0x009E, 0x00FF)
    return ClientHello(fixed_bytes(label + "/c-random", 32), ciphers, tuple(exts),
                       session_id=fixed_bytes(label + "/c-sid", 32))


def ch_chrome(sni: str, label: str) -> ClientHello:
    """A Chromium browser on a clinical workstation: GREASE everywhere, TLS 1.3."""
    g = GREASE
    exts = (
        ext(g[10]), ext_sni(sni), ext(EXT_EMS), ext_reneg(), ext_groups((g[10], X25519, SECP256R1, SECP384R1)),
        ext_point_formats((0,)), ext(EXT_SESSION_TICKET), ext_alpn(("h2", "http/1.1")), ext_status_request(),
        ext_sig_algs((ECDSA_SHA256, RSA_PSS_SHA256, RSA_PKCS1_SHA256, ECDSA_SHA384, RSA_PSS_SHA384, RSA_PKCS1_SHA384,
                      0x0806, 0x0601)),
        ext(EXT_SCT), ext_key_share(((g[10], b"\x00"), (X25519, fixed_bytes(label + "/c-x25519", 32)))),
        ext_psk_modes(), ext_versions((g[6], TLS13, TLS12)), ext(EXT_COMPRESS_CERT, b"\x02\x00\x02"),
        ext(EXT_ALPS, b"\x00\x03\x02h2"), ext(g[3], b"\x00"),
    )
    ciphers = (g[2], 0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC013, 0xC014, 0x009C,
               0x009D, 0x002F, 0x0035)
    return ClientHello(fixed_bytes(label + "/c-random", 32), ciphers, exts,
                       session_id=fixed_bytes(label + "/c-sid", 32))


def ch_schannel(label: str) -> ClientHello:
    """Windows Schannel (mstsc) TLS 1.2 ClientHello: no SNI."""
    return ClientHello(
        fixed_bytes(label + "/c-random", 32),
        (0xC02C, 0xC02B, 0xC030, 0xC02F, 0x009F, 0x009E, 0xC024, 0xC023, 0xC028, 0xC027, 0xC00A, 0xC009,
         0xC014, 0xC013, 0x009D, 0x009C, 0x003D, 0x003C, 0x0035, 0x002F, 0x000A),
        (ext_groups((X25519, SECP256R1, SECP384R1)), ext_point_formats((0,)),
         ext_sig_algs((RSA_PSS_SHA256, RSA_PSS_SHA384, RSA_PKCS1_SHA256, RSA_PKCS1_SHA384,
                       ECDSA_SHA256, ECDSA_SHA384, RSA_PKCS1_SHA1)),
         ext(EXT_SESSION_TICKET), ext(EXT_EMS), ext_reneg()),
        session_id=fixed_bytes(label + "/c-sid", 32),
    )


def ch_anydesk(label: str) -> ClientHello:
    """AnyDesk's OpenSSL ClientHello: TLS 1.2, no SNI, heartbeat offered."""
    return ClientHello(
        fixed_bytes(label + "/c-random", 32),
        (0xC030, 0xC02C, 0xC028, 0xC024, 0xC014, 0xC00A, 0x009F, 0x006B, 0x0039, 0xC032, 0xC02E, 0xC02A, 0xC026,
         0xC00F, 0xC005, 0x009D, 0x003D, 0x0035, 0xC02F, 0xC02B, 0xC027, 0xC023, 0xC013, 0xC009, 0x009E, 0x0067,
         0x0033, 0xC031, 0xC02D, 0xC029, 0xC025, 0xC00E, 0xC004, 0x009C, 0x003C, 0x002F, 0x00FF),
        (ext_point_formats((0, 1, 2)), ext_groups((SECP256R1, 0x0019, SECP384R1)), ext(EXT_SESSION_TICKET),
         ext_sig_algs((0x0601, 0x0603, 0x0501, 0x0503, RSA_PKCS1_SHA256, ECDSA_SHA256, RSA_PKCS1_SHA1, 0x0203)),
         ext(15, b"\x01")),
    )


def padded(ch: ClientHello, total: int) -> ClientHello:
    """The same ClientHello with a padding extension (RFC 7685) growing it to `total` bytes."""
    need = max(total - len(ch.encode()) - 4, 0)
    return ClientHello(ch.random, ch.ciphers, (*ch.extensions, ext(EXT_PADDING, b"\x00" * need)), ch.session_id,
                       ch.version)


def sh12(label: str, cipher: int, ems: bool = True, ecdhe: bool = False, sid: bool = True) -> ServerHello:
    """A TLS 1.2 ServerHello with the usual renegotiation_info/EMS/point-format echoes."""
    exts = [ext_reneg()]
    if ems:
        exts.append(ext(EXT_EMS))
    if ecdhe:
        exts.append(ext_point_formats((0,)))
    return ServerHello(fixed_bytes(label + "/s-random", 32), cipher, tuple(exts),
                       fixed_bytes(label + "/s-sid", 32) if sid else b"")


def sh13(label: str, ch: ClientHello, cipher: int = 0x1302) -> ServerHello:
    """A TLS 1.3 ServerHello: legacy 1.2, supported_versions 0x0304, x25519 key_share."""
    key_share = u16(X25519) + vec16(fixed_bytes(label + "/s-x25519", 32))
    return ServerHello(fixed_bytes(label + "/s-random", 32), cipher,
                       ((EXT_SUPPORTED_VERSIONS, u16(TLS13)), (EXT_KEY_SHARE, key_share)), ch.session_id)
