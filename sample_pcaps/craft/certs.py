"""X.509 certificates built and signed deterministically: `name`, `make_cert` -> `Cert` (DER,
fingerprints and the facts an expected file records).

Signatures are deterministic (RSA PKCS#1 v1.5; ECDSA per RFC 6979), so the same inputs give the
same DER on every run.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def name(
    cn: str,
    o: str | None = None,
    ou: str | None = None,
    c: str | None = "US",
    st: str | None = None,
    l: str | None = None,  # noqa: E741  (the X.509 attribute is called L)
    serial_number: str | None = None,
) -> x509.Name:
    """An X.509 name, RDNs in the usual C, ST, L, O, OU, CN order."""
    attrs = []
    for oid, value in (
        (NameOID.COUNTRY_NAME, c),
        (NameOID.STATE_OR_PROVINCE_NAME, st),
        (NameOID.LOCALITY_NAME, l),
        (NameOID.ORGANIZATION_NAME, o),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
        (NameOID.COMMON_NAME, cn),
        (NameOID.SERIAL_NUMBER, serial_number),
    ):
        if value is not None:
            attrs.append(x509.NameAttribute(oid, value))
    return x509.Name(attrs)


@dataclass(frozen=True)
class Cert:
    """A certificate with its key: DER, fingerprints and the facts expected.json records."""

    cert: x509.Certificate
    key: PrivateKey

    @property
    def der(self) -> bytes:
        """DER encoding, as it goes on the wire."""
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def sha1(self) -> str:
        """SHA-1 over the DER, lower-case hex."""
        return hashlib.sha1(self.der).hexdigest()

    @property
    def sha256(self) -> str:
        """SHA-256 over the DER, lower-case hex."""
        return hashlib.sha256(self.der).hexdigest()

    @property
    def subject(self) -> x509.Name:
        """Subject name."""
        return self.cert.subject

    def facts(self) -> dict[str, Any]:
        """What a sensor should report about this certificate (planted values)."""
        pub = self.key.public_key()
        if isinstance(pub, rsa.RSAPublicKey):
            key_type, bits = "RSA", pub.key_size
        else:
            key_type, bits = "EC", pub.curve.key_size
        sans: list[str] = []
        try:
            ext = self.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            sans = [f"DNS:{v}" for v in ext.get_values_for_type(x509.DNSName)]
            sans += [f"IP:{v}" for v in ext.get_values_for_type(x509.IPAddress)]
            sans += [f"URI:{v}" for v in ext.get_values_for_type(x509.UniformResourceIdentifier)]
        except x509.ExtensionNotFound:
            pass
        assert self.cert.signature_hash_algorithm is not None
        return {
            "subject": self.cert.subject.rfc4514_string(),
            "issuer": self.cert.issuer.rfc4514_string(),
            "serial": format(self.cert.serial_number, "X"),
            "not_before": self.cert.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "not_after": self.cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "key_type": key_type,
            "key_bits": bits,
            "signature_hash": self.cert.signature_hash_algorithm.name,
            "sans": sans,
            "self_signed": self.cert.issuer == self.cert.subject,
            "sha1": self.sha1,
            "sha256": self.sha256,
        }


def make_cert(
    subject: x509.Name,
    key: PrivateKey,
    *,
    issuer: Cert | None,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    ca: bool = False,
    path_len: int | None = None,
    dns: Sequence[str] = (),
    ips: Sequence[str] = (),
    uris: Sequence[str] = (),
    eku: Sequence[str] = (),
    sig_hash: hashes.HashAlgorithm | None = None,
) -> Cert:
    """Build and sign one certificate deterministically (issuer None: self-signed).

    eku: any of "server", "client".
    """
    signer_key = issuer.key if issuer else key
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    b = b.add_extension(x509.BasicConstraints(ca=ca, path_length=path_len if ca else None), critical=True)
    # a CA signs certificates and CRLs; a leaf encrypts the key exchange (RSA) or agrees on it (EC)
    is_rsa = isinstance(key, rsa.RSAPrivateKey)
    usage = x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=not ca and is_rsa,
        data_encipherment=False, key_agreement=not ca and not is_rsa, key_cert_sign=ca, crl_sign=ca,
        encipher_only=False, decipher_only=False,
    )
    b = b.add_extension(usage, critical=True)
    usages = {"server": ExtendedKeyUsageOID.SERVER_AUTH, "client": ExtendedKeyUsageOID.CLIENT_AUTH}
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage([usages[u] for u in eku]), critical=False)
    general: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    general += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    general += [x509.UniformResourceIdentifier(u) for u in uris]
    if general:
        b = b.add_extension(x509.SubjectAlternativeName(general), critical=False)
    b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    if issuer:
        b = b.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
        )
    algo = sig_hash or hashes.SHA256()
    if isinstance(signer_key, ec.EllipticCurvePrivateKey):
        cert = b.sign(signer_key, algo, ecdsa_deterministic=True)
    else:
        cert = b.sign(signer_key, algo)  # PKCS#1 v1.5: deterministic
    return Cert(cert, key)


_SHA256_RSA = bytes.fromhex("06092a864886f70d01010b0500")
_SHA1_RSA = bytes.fromhex("06092a864886f70d0101050500")
_SHA1_DIGEST_INFO = bytes.fromhex("3021300906052b0e03021a05000414")


def resign_sha1_rsa(c: Cert) -> Cert:
    """The same certificate signed with sha1WithRSAEncryption (a legacy device).

    OpenSSL 3+/cryptography refuse SHA-1 signatures, so the signature is made by hand:
    swap the AlgorithmIdentifier OIDs (same length), then RSA over the PKCS#1 v1.5 encoded
    SHA-1 digest of the new TBS with the raw private exponent (deterministic).
    """
    key = c.key
    assert isinstance(key, rsa.RSAPrivateKey)
    der = c.der
    assert der.count(_SHA256_RSA) == 2
    der = der.replace(_SHA256_RSA, _SHA1_RSA)
    tbs = c.cert.tbs_certificate_bytes.replace(_SHA256_RSA, _SHA1_RSA)
    k = key.key_size // 8
    t = _SHA1_DIGEST_INFO + hashlib.sha1(tbs).digest()
    em = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    nums = key.private_numbers()
    sig = pow(int.from_bytes(em, "big"), nums.d, nums.public_numbers.n).to_bytes(k, "big")
    assert der.endswith(c.cert.signature)
    der = der[:-k] + sig
    return Cert(x509.load_der_x509_certificate(der), key)


def sign(key: PrivateKey, data: bytes) -> bytes:
    """A deterministic signature (RSA PKCS#1 v1.5 or RFC 6979 ECDSA) with SHA-256."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def ec_point(key: ec.EllipticCurvePrivateKey) -> bytes:
    """Uncompressed public point (for ECDHE key exchange messages)."""
    return key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
