"""`weak-certificate`: a client certificate signed with a broken hash (SHA-1, MD5) or with a
short key (RSA < 2048, EC < 256, DSA < 2048; all configurable)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ...sensor.records import X509Cert
from ..findings import Finding, device_refs, finding
from ..rules import Rule
from .base import Context, client_cert, group, list_devices

RULE_ID = "weak-certificate"


@dataclass(frozen=True, slots=True)
class Params:
    """What counts as weak."""

    weak_hashes: tuple[str, ...] = ("md5", "sha1")
    min_rsa_bits: int = 2048
    min_ec_bits: int = 256
    min_dsa_bits: int = 2048


def weaknesses(cert: X509Cert, p: Params) -> list[str]:
    """Why `cert` is weak, one phrase per reason (empty: it is not)."""
    out = []
    if cert.signature_hash and cert.signature_hash.lower() in p.weak_hashes:
        out.append(f"{cert.signature_hash.upper()} signature ({cert.signature_algorithm})")
    minimum = {"RSA": p.min_rsa_bits, "EC": p.min_ec_bits, "DSA": p.min_dsa_bits}.get(cert.key_type.upper())
    if minimum and cert.key_bits is not None and cert.key_bits < minimum:
        out.append(f"{cert.key_type} {cert.key_bits}-bit key (minimum {minimum})")
    return out


def detect(ctx: Context, rule: Rule) -> Iterator[Finding]:
    """One finding per weak certificate."""
    p = rule.params_as(Params)
    groups = group(ctx.sightings, lambda s: s.presentation.identity.key
                   if (c := client_cert(s)) and weaknesses(c, p) else None)
    for subject, sightings in groups.items():
        cert = client_cert(sightings[0])
        assert cert is not None
        identity = sightings[0].presentation.identity
        message = (f"The {identity.describe()} is weak: {'; '.join(weaknesses(cert, p))}. "
                   f"Presented by {list_devices(device_refs(sightings))}.")
        yield finding(rule, subject, sightings, message, identity)
