"""Client certificates for the hygiene rules, judged at packet time."""

from __future__ import annotations

from datetime import UTC, datetime

from ...sensor.records import X509Cert
from ..correlate import Sighting
from ..identities import IdentityKind


def client_cert(s: Sighting) -> X509Cert | None:
    """The parsed client certificate of `s`, else None (unparsed ones have no fields to judge)."""
    p = s.presentation
    if p.identity.kind is IdentityKind.CLIENT_CERT and p.cert is not None and p.cert.parsed:
        return p.cert
    return None


def when(text: str) -> datetime | None:
    """An ISO 8601 validity bound as aware UTC datetime; None when unreadable."""
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
