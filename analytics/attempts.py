"""Authentication attempts: the sightings of one presentation folded into one `Attempt`, with
the account it was made for and the other side's answer.

A `CredentialSeen` with a user name and a password is two sightings (two identities) but one
attempt, answered once: attempts are keyed by (connection uid, attempt number), and only
presentations that ask for an answer (an attempt number) are attempts.

An account is what the checking side holds the secret against, at that side's address (the
same user name on two servers is two accounts; the protocols of one server share them, as a
mail server's IMAP and SMTP do): the user name (casefolded); without one, the certificate's
subject, the AE title, the remote-access tool, or the kind of secret (an SNMP agent's community,
a Redis password). The secret is the keyed fingerprint or the certificate's SHA-256; None when
the wire shows only a challenge response (NTLM, Kerberos, SIP digest: it changes every time).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..sensor.flowid import Direction
from ..sensor.records import Outcome
from .correlate import Sighting
from .identities import Identity, IdentityKind

SECRET_KINDS = frozenset({IdentityKind.SECRET, IdentityKind.CLIENT_CERT})
"""Identities whose value is the secret itself (a fingerprint), not a name."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """One authentication attempt and its answer."""

    sighting: Sighting
    """The attempt's first sighting: device, time and evidence (its answer's frames included)."""
    account: str
    """`<name>@<checking side's IP>`, e.g. `biomed@10.10.5.40`."""
    user: str
    """The name as written, for messages (`biomed`, `CN=pump-17`, `community`)."""
    secret: Identity | None
    """The secret (keyed fingerprint) or client certificate (SHA-256) presented; None when only a
    challenge response was seen."""
    outcome: Outcome

    @property
    def key(self) -> str:
        """`<connection uid>#<attempt number>`: tells attempts apart."""
        return f"{self.sighting.presentation.obs.flow.uid}#{getattr(self.sighting.presentation.obs, 'attempt', '')}"

    @property
    def ts(self) -> float:
        """Packet time of the presentation."""
        return self.sighting.ts

    @property
    def device(self) -> str:
        """The presenting device's key."""
        return self.sighting.device_key

    @property
    def server(self) -> str:
        """The checking side's address."""
        return self.account.rpartition("@")[2]

    @property
    def protocol(self) -> str:
        """The protocol of the presentation."""
        return str(self.sighting.presentation.obs.protocol)


def attempts(sightings: Iterable[Sighting]) -> list[Attempt]:
    """One `Attempt` per answered-or-awaited presentation of `sightings`, in packet order."""
    by_attempt: dict[tuple[str, int], list[Sighting]] = {}
    for s in sightings:
        number = getattr(s.presentation.obs, "attempt", None)
        if number is not None and s.outcome is not None:
            by_attempt.setdefault((s.presentation.obs.flow.uid, number), []).append(s)
    out = [_attempt(group) for group in by_attempt.values()]
    return sorted(out, key=lambda a: a.ts)


def _attempt(group: list[Sighting]) -> Attempt:
    first = group[0]
    named = next((s.presentation.identity for s in group if s.presentation.identity.kind is IdentityKind.USERNAME),
                 None)
    secret = next((s.presentation.identity for s in group if s.presentation.identity.kind in SECRET_KINDS), None)
    if named is not None:
        key, user = named.value, named.label
    elif secret is not None and secret.kind is IdentityKind.SECRET:
        key = user = secret.detail or "secret"
    else:
        ident = first.presentation.identity
        key, user = ident.label or ident.value, ident.label or ident.value
    flow = first.presentation.obs.flow
    checker = flow.resp if first.presentation.side is Direction.ORIG else flow.orig
    assert first.outcome is not None
    return Attempt(first, f"{key}@{checker.ip}", user, secret, first.outcome)
