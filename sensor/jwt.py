"""What a JSON Web Token (RFC 7519) says about itself: header `alg` and the registered claims.

Tokens are secrets: callers fingerprint the whole token; this module only reads the claims an
analyst needs (issuer, subject, audience, expiry, issue time). The signature is never kept.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from .records import TokenClaims

MAX_TOKEN = 64 * 1024


def _segment(raw: bytes) -> dict[str, Any] | None:
    try:
        doc = json.loads(base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        return None
    return doc if isinstance(doc, dict) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _time(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def token_claims(token: bytes) -> TokenClaims | None:
    """The claims of a compact-serialised JWT (`header.payload.signature`), None if it is not one."""
    parts = token.strip().split(b".")
    if len(token) > MAX_TOKEN or len(parts) != 3:
        return None
    header, payload = _segment(parts[0]), _segment(parts[1])
    if header is None or payload is None:
        return None
    aud = payload.get("aud")
    audience = (aud,) if isinstance(aud, str) else tuple(a for a in aud if isinstance(a, str)) if isinstance(
        aud, list) else ()
    return TokenClaims(alg=_text(header.get("alg")), iss=_text(payload.get("iss")), sub=_text(payload.get("sub")),
                       aud=audience, exp=_time(payload.get("exp")), iat=_time(payload.get("iat")))
