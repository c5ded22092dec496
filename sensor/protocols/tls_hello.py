"""ClientHello and ServerHello (RFC 5246 7.4.1.2-3, RFC 8446 4.1.2-3, RFC 6347 4.2.1) and the
fingerprints of their offers: JA3 (as Wireshark 4.0's `tls.handshake.ja3`), JA3S and JA4
(FoxIO, BSD-3; JA4S/JA4X/... are under the FoxIO licence, not implemented).

Shared by TLS, DTLS and QUIC (whose ClientHello travels in CRYPTO frames). A hello that runs
short of its own fields is invalid: `Incomplete("<tls|dtls>_bad_<client|server>_hello")`.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from ..wire import Reader
from .tls_names import (
    EXT_ALPN,
    EXT_EC_POINT_FORMATS,
    EXT_SERVER_NAME,
    EXT_SIGNATURE_ALGORITHMS,
    EXT_SUPPORTED_GROUPS,
    EXT_SUPPORTED_VERSIONS,
    name_text,
    version_name,
)

FINGERPRINT_CACHE_SIZE = 1024
"""ClientHello offers whose fingerprints are kept (a hospital has a few hundred device makes)."""
GREASE = frozenset(0x0A0A + 0x1010 * i for i in range(16))
"""GREASE values (RFC 8701: 0x0A0A, 0x1A1A ... 0xFAFA) are noise, left out of JA3/JA4: a set,
as a hundred values of each ClientHello are looked up."""
JA4_VERSIONS = {
    0x0002: "s2", 0x0300: "s3", 0x0301: "10", 0x0302: "11", 0x0303: "12", 0x0304: "13",
    0xFEFF: "d1", 0xFEFD: "d2", 0xFEFC: "d3",
}


@dataclass(slots=True)
class Hello:
    """The fields of a ClientHello or ServerHello the fingerprints need."""

    version: int
    random: bytes
    ciphers: list[int]
    extensions: list[int] = field(default_factory=list)
    sni: str | None = None
    alpn: list[bytes] = field(default_factory=list)
    groups: list[int] = field(default_factory=list)
    point_formats: list[int] = field(default_factory=list)
    sig_algs: list[int] = field(default_factory=list)
    supported_versions: list[int] = field(default_factory=list)


def _read_extensions(r: Reader, hello: Hello, server: bool) -> None:
    """Walk the extension block (absent in old hellos); unknown types keep their number."""
    if r.left == 0:
        return
    block = r.sub(2)
    while block.left:
        ext_type = block.uint(2)
        data = block.vector(2)
        hello.extensions.append(ext_type)
        _read_extension(ext_type, Reader(data, r.weird), hello, server)


def _read_extension(ext_type: int, r: Reader, hello: Hello, server: bool) -> None:
    """Decode the few extensions that carry identity or fingerprint input."""
    if ext_type == EXT_SERVER_NAME and not server and r.left:
        names = r.sub(2)
        while names.left:
            kind, name = names.uint(1), names.vector(2)
            if kind == 0 and hello.sni is None:  # host_name
                hello.sni = name_text(name)
    elif ext_type == EXT_ALPN and r.left:
        protocols = r.sub(2)
        while protocols.left:
            hello.alpn.append(protocols.vector(1))
    elif ext_type == EXT_SUPPORTED_GROUPS and not server:
        hello.groups = r.uint16s(r.vector(2))
    elif ext_type == EXT_EC_POINT_FORMATS and not server:
        hello.point_formats = list(r.vector(1))
    elif ext_type == EXT_SIGNATURE_ALGORITHMS and not server:
        hello.sig_algs = r.uint16s(r.vector(2))
    elif ext_type == EXT_SUPPORTED_VERSIONS:
        # ClientHello: a list (RFC 8446 4.2.1); ServerHello/HRR: the one selected version.
        hello.supported_versions = [r.uint(2)] if server else r.uint16s(r.vector(1))


def parse_client_hello(body: bytes, dtls: bool) -> Hello:
    """ClientHello (RFC 5246 7.4.1.2; DTLS adds a cookie, RFC 6347 4.2.1)."""
    r = Reader(body, "dtls_bad_client_hello" if dtls else "tls_bad_client_hello")
    hello = Hello(version=r.uint(2), random=r.take(32), ciphers=[])
    r.vector(1)  # session_id
    if dtls:
        r.vector(1)  # cookie
    hello.ciphers = r.uint16s(r.vector(2))
    r.vector(1)  # compression_methods
    _read_extensions(r, hello, server=False)
    return hello


def parse_server_hello(body: bytes, dtls: bool) -> Hello:
    """ServerHello (RFC 5246 7.4.1.3, RFC 8446 4.1.3)."""
    r = Reader(body, "dtls_bad_server_hello" if dtls else "tls_bad_server_hello")
    hello = Hello(version=r.uint(2), random=r.take(32), ciphers=[])
    r.vector(1)  # session_id
    hello.ciphers = [r.uint(2)]
    r.uint(1)  # compression_method
    _read_extensions(r, hello, server=True)
    return hello


def _dashed(values: Sequence[int]) -> str:
    return "-".join(str(v) for v in values if v not in GREASE)


def ja3_string(hello: Hello) -> str:
    """JA3: version,ciphers,extensions,groups,point formats, in decimal, GREASE removed."""
    return ",".join((str(hello.version), _dashed(hello.ciphers), _dashed(hello.extensions),
                     _dashed(hello.groups), "-".join(str(p) for p in hello.point_formats)))


def ja3s_string(hello: Hello) -> str:
    """JA3S: version,cipher,extensions of a ServerHello (as tshark's tls.handshake.ja3s)."""
    return ",".join((str(hello.version), str(hello.ciphers[0]), _dashed(hello.extensions)))


def md5_hex(text: str) -> str:
    """The MD5 of a JA3 or JA3S string, as JA3 writes it."""
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _sha12(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12] if text else "000000000000"


def _ja4_alpn(alpn: list[bytes]) -> str:
    """First and last character of the first ALPN value, "00" without one. A byte outside
    ASCII becomes "9", as FoxIO's reference implementation does (its test capture
    tls-non-ascii-alpn.pcapng expects "99")."""
    if not alpn or not alpn[0]:
        return "00"
    return "".join(chr(b) if b < 0x80 else "9" for b in (alpn[0][0], alpn[0][-1]))


def ja4(hello: Hello, dtls: bool, *, quic: bool = False) -> str:
    """JA4 (FoxIO, BSD-3): t|d|q, version, d|i, #ciphers, #extensions, ALPN _ cipher hash _
    extension hash. Only JA4 itself: JA4S/JA4X/... are under the FoxIO licence.
    `quic`: the ClientHello came in QUIC CRYPTO frames (prefix "q", over `dtls`)."""
    offered = [v for v in hello.supported_versions if v not in GREASE]
    if not offered:
        best = hello.version
    elif dtls:  # DTLS versions count down (0xfefc is newer than 0xfefd): rank by JA4 code
        best = max(offered, key=lambda v: JA4_VERSIONS.get(v, "00"))
    else:  # the highest value, as FoxIO's reference: a TLS 1.3 draft (0x7fxx) gives "00"
        best = max(offered)
    ciphers = [c for c in hello.ciphers if c not in GREASE]
    extensions = [e for e in hello.extensions if e not in GREASE]
    part_a = "{}{}{}{:02d}{:02d}{}".format(
        "q" if quic else "d" if dtls else "t", JA4_VERSIONS.get(best, "00"),
        "d" if EXT_SERVER_NAME in extensions else "i",
        min(len(ciphers), 99), min(len(extensions), 99), _ja4_alpn(hello.alpn))
    part_b = _sha12(",".join(sorted(f"{c:04x}" for c in ciphers)))
    ext_list = ",".join(sorted(f"{e:04x}" for e in extensions
                               if e not in (EXT_SERVER_NAME, EXT_ALPN)))
    sigs = ",".join(f"{s:04x}" for s in hello.sig_algs if s not in GREASE)
    part_c = _sha12(f"{ext_list}_{sigs}" if sigs else ext_list)
    return f"{part_a}_{part_b}_{part_c}"


def offered_versions(hello: Hello) -> tuple[str, ...]:
    """supported_versions without GREASE, else the legacy version."""
    listed = [v for v in hello.supported_versions if v not in GREASE]
    return tuple(version_name(v) for v in (listed or [hello.version]))


class Fingerprints(NamedTuple):
    """What a ClientHello's offer says about its client."""

    ja3: str
    ja3_hash: str
    ja4: str
    versions: tuple[str, ...]


def fingerprints(hello: Hello, dtls: bool, *, quic: bool = False) -> Fingerprints:
    """JA3 (string and MD5), JA4 and the offered versions of a ClientHello. Cached by what they
    are computed from: a network's devices of one make send the same offer again and again, only
    the random, session id and server name change (computing them costs as much as parsing)."""
    return _fingerprints((hello.version, tuple(hello.ciphers), tuple(hello.extensions),
                          tuple(hello.groups), tuple(hello.point_formats), tuple(hello.sig_algs),
                          tuple(hello.supported_versions), tuple(hello.alpn[:1])), dtls, quic)


@functools.lru_cache(maxsize=FINGERPRINT_CACHE_SIZE)
def _fingerprints(
    offer: tuple[int, tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...],
                 tuple[int, ...], tuple[int, ...], tuple[bytes, ...]],
    dtls: bool, quic: bool,
) -> Fingerprints:
    version, ciphers, extensions, groups, point_formats, sig_algs, versions, alpn = offer
    hello = Hello(version=version, random=b"", ciphers=list(ciphers), extensions=list(extensions),
                  alpn=list(alpn), groups=list(groups), point_formats=list(point_formats),
                  sig_algs=list(sig_algs), supported_versions=list(versions))
    text = ja3_string(hello)
    return Fingerprints(text, md5_hex(text), ja4(hello, dtls, quic=quic), offered_versions(hello))
