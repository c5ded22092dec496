"""Signed identity tokens as identity providers issue them: JWT (RFC 7519, HS256) and SAML 2.0
assertions (enveloped XML signature)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from .certs import Cert
from .cleartext import b64
from .fixed import fixed_bytes, utc_text


def jwt(claims: dict[str, Any], key: bytes) -> str:
    """A compact JWT (RFC 7519) signed with HS256 under `key`."""
    def part(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    payload = json.dumps(claims, separators=(",", ":")).encode()
    signing_input = part(b'{"alg":"HS256","typ":"JWT"}') + "." + part(payload)
    return signing_input + "." + part(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())


def jwt_facts(claims: dict[str, Any]) -> dict[str, Any]:
    """The claims expected.json lists for a planted JWT (alg, iss, sub, aud as a list, exp, iat)."""
    aud = claims.get("aud")
    return {"alg": "HS256", "iss": claims.get("iss"), "sub": claims.get("sub"),
            "aud": [aud] if isinstance(aud, str) else list(aud or ()), "exp": claims.get("exp"),
            "iat": claims.get("iat")}


def saml_assertion(name_id: str, audience: str, issued_ns: int, idp_cert: Cert) -> str:
    """A signed SAML 2.0 assertion as an identity provider issues it (enveloped XML signature,
    RSA-SHA256, the IdP's certificate in KeyInfo): several KB, so a DICOM request with it spans
    segments. The digest is computed over the assertion; the signature value is random-looking
    (the canonical XML it would cover is not reproduced)."""
    issued = utc_text(issued_ns, "%Y-%m-%dT%H:%M:%SZ")
    until = utc_text(issued_ns + 3600 * 1_000_000_000, "%Y-%m-%dT%H:%M:%SZ")
    assertion_id = "_" + fixed_bytes(f"saml/{name_id}/id", 16).hex()
    issuer = "<saml2:Issuer>https://idp.st-example.org</saml2:Issuer>"
    claims = ('<saml2:Subject><saml2:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">'
              f'{name_id}</saml2:NameID><saml2:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"/>'
              f'</saml2:Subject><saml2:Conditions NotBefore="{issued}" NotOnOrAfter="{until}">'
              f"<saml2:AudienceRestriction><saml2:Audience>{audience}</saml2:Audience></saml2:AudienceRestriction>"
              "</saml2:Conditions>")
    digest = b64(hashlib.sha256((issuer + claims).encode()).digest())
    signature = ('<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
                 '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
                 '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
                 f'<ds:Reference URI="#{assertion_id}"><ds:Transforms><ds:Transform '
                 'Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/></ds:Transforms>'
                 '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>'
                 f"<ds:DigestValue>{digest}</ds:DigestValue></ds:Reference></ds:SignedInfo>"
                 f"<ds:SignatureValue>{b64(fixed_bytes(assertion_id + '/signature', 256))}</ds:SignatureValue>"
                 f"<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{b64(idp_cert.der)}</ds:X509Certificate>"
                 "</ds:X509Data></ds:KeyInfo></ds:Signature>")
    return (f'<saml2:Assertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion" ID="{assertion_id}" '
            f'IssueInstant="{issued}" Version="2.0">{issuer}{signature}{claims}</saml2:Assertion>')

