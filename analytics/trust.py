"""The site's certificate trust material: what a server must refuse (`expired-credential-accepted`).

Revoked client certificates, by serial per issuer (listed in the rules, or read from CRL files,
DER or PEM, with `cryptography`) or by SHA-256 fingerprint; and, when the site gives one, the
CAs trusted to issue client certificates. Issuers are RFC 4514 names as the sensor writes them
(cryptography's `rfc4514_string`: `CN=Medical Device Issuing CA 1,OU=...,O=...`), compared with
the spaces after commas ignored; serials are hex, compared without `0x`, colons, case or leading
zeros (the sensor writes `1A2B`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509

from ..sensor.records import X509Cert


def issuer_key(name: str) -> str:
    """An issuer name as compared: RFC 4514 with no space after the separating commas."""
    return ",".join(part.strip() for part in name.split(","))


def serial_key(text: str) -> str:
    """A serial as compared: upper-case hex without `0x`, colons, spaces or leading zeros."""
    digits = text.strip().lower().removeprefix("0x").replace(":", "").replace(" ", "")
    int(digits, 16)  # ValueError: not hex
    return digits.upper().lstrip("0") or "0"


def read_crl(path: Path) -> tuple[str, frozenset[str]]:
    """The issuer and the revoked serials of a CRL file (PEM or DER); ValueError naming the file."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ValueError(f"cannot read the CRL {path}: {e.strerror or e}") from None
    try:
        crl = (x509.load_pem_x509_crl(data) if data.lstrip().startswith(b"-----BEGIN")
               else x509.load_der_x509_crl(data))
    except ValueError as e:
        raise ValueError(f"{path} is not a CRL (DER or PEM): {e}") from None
    return issuer_key(crl.issuer.rfc4514_string()), frozenset(format(r.serial_number, "X") for r in crl)


@dataclass(frozen=True, slots=True)
class TrustList:
    """Revoked certificates and trusted issuers; empty, it finds nothing."""

    revoked_serials: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Issuer -> serial -> where it is listed (`rules`, or the CRL file's name)."""
    revoked_sha256: frozenset[str] = frozenset()
    trusted_issuers: frozenset[str] = frozenset()
    """Empty: the site gives no trust list, so no issuer is outside it."""

    @classmethod
    def of(cls, serials: Mapping[str, Iterable[str]], sha256: Iterable[str], crl_files: Iterable[Path],
           trusted_issuers: Iterable[str]) -> TrustList:
        """The trust material of the rules' lists and CRL files; ValueError naming what is wrong."""
        revoked: dict[str, dict[str, str]] = {}
        for issuer, listed in serials.items():
            for serial in listed:
                try:
                    revoked.setdefault(issuer_key(issuer), {})[serial_key(serial)] = "rules"
                except ValueError:
                    raise ValueError(f"serial {serial!r} of {issuer!r} is not hexadecimal") from None
        for path in crl_files:
            issuer, crl_serials = read_crl(path)
            for serial in crl_serials:
                revoked.setdefault(issuer, {}).setdefault(serial, path.name)
        fingerprints = frozenset(f.lower().replace(":", "") for f in sha256)
        if any(len(f) != 64 or any(c not in "0123456789abcdef" for c in f) for f in fingerprints):
            raise ValueError("revoked_sha256: each entry is a SHA-256 fingerprint (64 hex digits)")
        return cls(revoked, fingerprints, frozenset(issuer_key(i) for i in trusted_issuers))

    def revoked(self, cert: X509Cert) -> str | None:
        """`serial 1A2B revoked by <issuer> (crl.pem)` or `fingerprint listed as revoked`; None."""
        if cert.sha256.lower() in self.revoked_sha256:
            return "its fingerprint is listed as revoked"
        listed = self.revoked_serials.get(issuer_key(cert.issuer), {})
        if cert.serial and (where := listed.get(serial_key(cert.serial))):
            return f"serial {serial_key(cert.serial)} revoked by {cert.issuer} ({where})"
        return None

    def untrusted(self, chain: Iterable[X509Cert]) -> str | None:
        """`issued by <issuer>, outside the site's trust list` when no certificate of the presented
        chain names a trusted issuer; None when trusted or no trust list is given."""
        certs = list(chain)
        if not self.trusted_issuers or not certs or not certs[0].parsed:
            return None
        if any(issuer_key(c.issuer) in self.trusted_issuers for c in certs if c.parsed):
            return None
        return f"issued by {certs[0].issuer}, outside the site's trust list"
