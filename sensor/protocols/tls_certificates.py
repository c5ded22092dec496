"""Certificates in the TLS handshake: the Certificate message's chain (RFC 5246 7.4.2), each
certificate decoded (X.509, RFC 5280 4.1) into an `X509Cert`, and the CA names a
CertificateRequest asks for (RFC 5246 7.4.4) written as RFC 4514 strings.

TLS <= 1.2 and DTLS <= 1.2 only: TLS 1.3 encrypts both messages (`tls13_inference`).
"""

from __future__ import annotations

import functools
import hashlib
import warnings
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.x509.oid import NameOID, ObjectIdentifier

from ..records import CERT_CACHE_SIZE, X509Cert
from ..wire import ParseError, Reader
from .tls_names import MAX_NAME_LEN

MAX_CHAIN = 32
"""Certificates kept per Certificate message; real chains have 1-5."""

SIGNATURE_NAMES = {
    "1.2.840.113549.1.1.4": "md5WithRSAEncryption",
    "1.2.840.113549.1.1.5": "sha1WithRSAEncryption",
    "1.2.840.113549.1.1.10": "rsassaPss",
    "1.2.840.113549.1.1.11": "sha256WithRSAEncryption",
    "1.2.840.113549.1.1.12": "sha384WithRSAEncryption",
    "1.2.840.113549.1.1.13": "sha512WithRSAEncryption",
    "1.2.840.113549.1.1.14": "sha224WithRSAEncryption",
    "1.2.840.10045.4.1": "ecdsa-with-SHA1",
    "1.2.840.10045.4.3.1": "ecdsa-with-SHA224",
    "1.2.840.10045.4.3.2": "ecdsa-with-SHA256",
    "1.2.840.10045.4.3.3": "ecdsa-with-SHA384",
    "1.2.840.10045.4.3.4": "ecdsa-with-SHA512",
    "1.2.840.10040.4.3": "dsa-with-sha1",
    "2.16.840.1.101.3.4.3.2": "dsa-with-sha256",
    "1.3.101.112": "ed25519",
    "1.3.101.113": "ed448",
}
"""OpenSSL's names for certificate signature algorithms; others are written as the OID."""

# DER tags for the string types X.520 names use.
DER_STRINGS = {0x0C: "utf-8", 0x12: "ascii", 0x13: "ascii", 0x14: "latin-1", 0x16: "ascii",
               0x1A: "ascii", 0x1C: "utf-32-be", 0x1E: "utf-16-be"}
DER_SEQUENCE = 0x30
DER_SET = 0x31
DER_OID = 0x06


# --- the Certificate message --------------------------------------------------------------


def parse_certificate_list(body: bytes, dtls: bool) -> list[bytes]:
    """The DER certificates of a TLS <= 1.2 Certificate message (RFC 5246 7.4.2)."""
    r = Reader(body, "dtls_bad_certificate_msg" if dtls else "tls_bad_certificate_msg")
    chain = r.sub(3)
    if r.left:
        raise ParseError(r.weird)
    ders: list[bytes] = []
    while chain.left:
        der = chain.vector(3)
        if len(ders) < MAX_CHAIN:
            ders.append(der)
    return ders


# --- X.509 --------------------------------------------------------------------------------


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _key(cert: x509.Certificate) -> tuple[str, int | None]:
    try:
        key = cert.public_key()
    except Exception:  # unsupported or malformed key: cryptography raises several types
        return cert.public_key_algorithm_oid.dotted_string, None
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.curve.key_size
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456
    return cert.public_key_algorithm_oid.dotted_string, None


def _signature_hash(cert: x509.Certificate) -> str | None:
    try:
        algorithm = cert.signature_hash_algorithm
    except Exception:  # UnsupportedAlgorithm for unknown signature OIDs
        return None
    return None if algorithm is None else algorithm.name


SAN_PREFIXES: tuple[tuple[type[x509.GeneralName], str], ...] = (
    (x509.DNSName, "DNS"), (x509.IPAddress, "IP"), (x509.RFC822Name, "email"),
    (x509.UniformResourceIdentifier, "URI"),
)
"""Subject alternative names whose value is written as it is, after OpenSSL's prefix."""


def _sans(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return ()
    return tuple(text for text in map(_san, ext.value) if text is not None)


def _san(name: x509.GeneralName) -> str | None:
    """One subject alternative name as OpenSSL prints it ("DNS:pacs.example"); None for a
    kind not kept (a registered ID)."""
    if isinstance(name, x509.DirectoryName):
        return f"DirName:{name.value.rfc4514_string()}"
    if isinstance(name, x509.OtherName):
        return f"othername:{name.type_id.dotted_string}"
    for kind, prefix in SAN_PREFIXES:
        if isinstance(name, kind):
            return f"{prefix}:{name.value}"
    return None


def _self_signed(cert: x509.Certificate) -> bool:
    """Subject equals issuer and the certificate's own key verifies its signature.

    Verified by hand rather than with `verify_directly_issued_by`, which refuses SHA-1 and
    MD5 signatures: exactly the legacy device certificates that need judging.
    """
    if cert.subject != cert.issuer:
        return False
    try:
        key = cert.public_key()
        sig, tbs, hash_alg = cert.signature, cert.tbs_certificate_bytes, cert.signature_hash_algorithm
        if isinstance(key, rsa.RSAPublicKey) and hash_alg is not None:
            key.verify(sig, tbs, padding.PKCS1v15(), hash_alg)
        elif isinstance(key, ec.EllipticCurvePublicKey) and hash_alg is not None:
            key.verify(sig, tbs, ec.ECDSA(hash_alg))
        elif isinstance(key, dsa.DSAPublicKey) and hash_alg is not None:
            key.verify(sig, tbs, hash_alg)
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(sig, tbs)
        else:
            return False
    except Exception:  # InvalidSignature, unsupported algorithm or padding (RSA-PSS), bad DER
        return False
    return True


def _common_name(name: x509.Name) -> str | None:
    for attr in name.get_attributes_for_oid(NameOID.COMMON_NAME):
        value = attr.value
        return value if isinstance(value, str) else value.hex()
    return None


@functools.lru_cache(maxsize=CERT_CACHE_SIZE)
def decode_certificate(der: bytes) -> tuple[X509Cert, tuple[str, ...]]:
    """One DER certificate as an `X509Cert` plus the weirds it caused.

    Cached: the same server and CA certificates come back on every connection, and decoding
    (with the self-signature check) is the costliest step of a handshake.

    A certificate cryptography cannot decode is kept by its hashes with placeholder fields
    (`parsed=False`) and the weird "tls_bad_x509": the identity is the hash, never lost.
    """
    sha1 = hashlib.sha1(der, usedforsecurity=False).hexdigest()
    sha256 = hashlib.sha256(der).hexdigest()
    try:
        with warnings.catch_warnings(record=True) as complaints:
            warnings.simplefilter("always")
            cert = x509.load_der_x509_certificate(der)
            serial = format(cert.serial_number, "X")
        subject, issuer = cert.subject.rfc4514_string(), cert.issuer.rfc4514_string()
        subject_cn = _common_name(cert.subject)
        not_before, not_after = _utc(cert.not_valid_before_utc), _utc(cert.not_valid_after_utc)
        version = cert.version.value + 1
        oid = cert.signature_algorithm_oid.dotted_string
    except Exception:  # cryptography raises ValueError and others on odd DER: keep the hash
        return X509Cert(
            sha1=sha1, sha256=sha256, subject="", subject_cn=None, issuer="", serial="",
            not_before="", not_after="", key_type="unknown", key_bits=None,
            signature_algorithm="unknown", signature_hash=None, sans=(), self_signed=False,
            version=0, parsed=False), ("tls_bad_x509",)
    # cryptography warns about RFC 5280 violations it still accepts (e.g. a serial <= 0).
    weirds = ["tls_x509_noncompliant"] if complaints else []
    try:
        sans = _sans(cert)
    except Exception:  # duplicate or malformed extensions
        sans = ()
        weirds.append("tls_bad_x509_extension")
    key_type, key_bits = _key(cert)
    return X509Cert(
        sha1=sha1, sha256=sha256, subject=subject, subject_cn=subject_cn, issuer=issuer,
        serial=serial, not_before=not_before, not_after=not_after, key_type=key_type,
        key_bits=key_bits, signature_algorithm=SIGNATURE_NAMES.get(oid, oid),
        signature_hash=_signature_hash(cert), sans=sans, self_signed=_self_signed(cert),
        version=version,
    ), tuple(weirds)


# --- the CertificateRequest message and its distinguished names ---------------------------


def _der_tlv(r: Reader) -> tuple[int, bytes]:
    """One DER tag-length-value with a single-byte tag (all X.501 names use those)."""
    tag = r.uint(1)
    length = r.uint(1)
    if length & 0x80:
        size = length & 0x7F
        if not 1 <= size <= 3:
            raise ParseError(r.weird)
        length = r.uint(size)
    return tag, r.take(length)


def _der_oid(raw: bytes) -> str:
    if not raw:
        raise ParseError("tls_bad_dn")
    arcs = [min(raw[0] // 40, 2), raw[0] - 40 * min(raw[0] // 40, 2)]
    value = 0
    for byte in raw[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    return ".".join(str(a) for a in arcs)


@functools.lru_cache(maxsize=CERT_CACHE_SIZE)
def dn_to_rfc4514(der: bytes) -> str:
    """A DER Name (RFC 5280 4.1.2.4) as an RFC 4514 string; its hex when undecodable.

    Cached like certificates: servers ask for the same CA names on every connection."""
    try:
        r = Reader(der, "tls_bad_dn")
        tag, body = _der_tlv(r)
        if tag != DER_SEQUENCE or r.left:
            raise ParseError("tls_bad_dn")
        rdns = []
        names = Reader(body, "tls_bad_dn")
        while names.left:
            tag, rdn_body = _der_tlv(names)
            if tag != DER_SET:
                raise ParseError("tls_bad_dn")
            attrs, members = [], Reader(rdn_body, "tls_bad_dn")
            while members.left:
                tag, atv = _der_tlv(members)
                inner = Reader(atv, "tls_bad_dn")
                oid_tag, oid = _der_tlv(inner)
                value_tag, value = _der_tlv(inner)
                if tag != DER_SEQUENCE or oid_tag != DER_OID or value_tag not in DER_STRINGS:
                    raise ParseError("tls_bad_dn")
                text = value.decode(DER_STRINGS[value_tag])
                attrs.append(x509.NameAttribute(ObjectIdentifier(_der_oid(oid)), text))
            rdns.append(x509.RelativeDistinguishedName(attrs))
        return x509.Name(rdns).rfc4514_string()[:MAX_NAME_LEN]
    except (ParseError, ValueError, UnicodeDecodeError):
        return der[: MAX_NAME_LEN // 2].hex()


def parse_certificate_request(body: bytes, version: int | None, dtls: bool) -> tuple[str, ...]:
    """CA names of a CertificateRequest (RFC 5246 7.4.4; TLS 1.2 / DTLS 1.2 add the
    signature algorithms, RFC 4346 7.4.4 has none). Unknown version: try both layouts."""
    weird = "dtls_bad_certificate_request" if dtls else "tls_bad_certificate_request"
    layouts = [True, False] if version is None else [version in (0x0303, 0xFEFD)]
    for with_sig_algs in layouts:
        r = Reader(body, weird)
        try:
            r.vector(1)  # certificate_types
            if with_sig_algs:
                r.vector(2)  # supported_signature_algorithms
            authorities = r.sub(2)
            if r.left:
                raise ParseError(weird)
            names = []
            while authorities.left:
                names.append(dn_to_rfc4514(authorities.vector(2)))
            return tuple(names)
        except ParseError:
            continue
    raise ParseError(weird)

