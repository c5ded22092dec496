"""`expired-credential-accepted`: a service that does not fail closed: it let in an identity it
must refuse.

For every presentation the other side answered, the identity must be refused when it is:

* a client certificate expired or not yet valid at packet time;
* a client certificate revoked: its serial listed for its issuer (`revoked_serials`, or a CRL
  file of `crl_files`, DER or PEM, beside the rules file) or its SHA-256 listed (`revoked_sha256`);
* a client certificate no CA of the site's trust list issued (`trusted_issuers`, when given);
* a user name, certificate or AE title the inventory registers only to retired or
  decommissioned devices (`gone_statuses`).

Accepted (the handshake completed and application data flowed; the login succeeded): a finding
per service and identity, subject `<server ip>:<port>|<identity key>`, whose evidence holds the
presentation's frames and the answer's (the first application data). Refused (the server's
alert, a 530): the near miss that proves the service fails closed, a `PassedCheck` with the same
subject. An answer not seen: nothing here (`expired-certificate` still reports the presentation).
Relies on the outcome read from the answer and on the presenter role (the checking side is
the other end).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ...sensor.flowid import Direction
from ...sensor.records import Outcome, TlsClientCertificate
from ..correlate import Sighting
from ..findings import Finding, PassedCheck, device_refs, finding, passed_check
from ..inventory import Inventory, Status
from ..rules import Rule
from ..trust import TrustList
from .base import (
    GONE,
    Context,
    check_statuses,
    client_cert,
    list_devices,
    moment,
    out_of_validity,
    registered_to,
    status_phrase,
)

RULE_ID = "expired-credential-accepted"


@dataclass(frozen=True, slots=True)
class Params:
    """The site's revocation and trust lists, and which device statuses retire a credential."""

    revoked_serials: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Issuer (RFC 4514, as alerts write it) -> revoked serials (hex)."""
    revoked_sha256: tuple[str, ...] = ()
    crl_files: tuple[Path, ...] = ()
    """CRL files (DER or PEM), relative to the rules file."""
    trusted_issuers: tuple[str, ...] = ()
    """The CAs that may issue client certificates; empty: no trust list."""
    gone_statuses: tuple[str, ...] = GONE
    trust: TrustList = field(init=False)
    """The lists above, CRLs read (at startup: a bad file is a rules error)."""

    def __post_init__(self) -> None:
        check_statuses(self.gone_statuses)
        object.__setattr__(self, "trust", TrustList.of(self.revoked_serials, self.revoked_sha256, self.crl_files,
                                                       self.trusted_issuers))


def must_refuse(s: Sighting, trust: TrustList, inventory: Inventory, gone: frozenset[Status]) -> list[str]:
    """Why the identity of `s` must be refused at its packet time; empty when it may pass."""
    why = []
    if (cert := client_cert(s)) is not None:
        if (state := out_of_validity(cert, s.ts)) is not None:
            why.append(f"{state.removeprefix('is ')} at packet time")
        if (revoked := trust.revoked(cert)) is not None:
            why.append(revoked)
        obs = s.presentation.obs
        if isinstance(obs, TlsClientCertificate) and (untrusted := trust.untrusted(obs.chain)) is not None:
            why.append(untrusted)
    owners = registered_to(inventory, s.presentation.identity)
    if owners and all(a.status in gone for a in owners):
        why.append("registered to " + ", ".join(f"{a.label}, {status_phrase(a)}" for a in owners))
    return why


def _service(s: Sighting) -> str:
    flow = s.presentation.obs.flow
    server = flow.resp if s.presentation.side is Direction.ORIG else flow.orig
    return f"{server.ip}:{server.port}"


def _answer(s: Sighting) -> str:
    """` (application data both ways after the client's Finished)`, ` (530 Login incorrect.)`."""
    a = s.answer
    if a is None:
        return ""
    said = " ".join(x for x in (a.reason_code, a.reason) if x) or a.basis or ""
    return f" ({said})" if said else ""


def detect(ctx: Context, rule: Rule) -> Iterator[Finding | PassedCheck]:
    """A finding per service that accepted such an identity; a passed check per service that refused it."""
    p = rule.params_as(Params)
    gone = check_statuses(p.gone_statuses)
    groups: dict[str, tuple[list[Sighting], list[str]]] = {}
    for s in ctx.sightings:
        if s.outcome not in (Outcome.SUCCESS, Outcome.FAILURE):
            continue
        why = must_refuse(s, p.trust, ctx.inventory, gone)
        if why:
            subject = f"{_service(s)}|{s.presentation.identity.key}"
            groups.setdefault(subject, ([], why))[0].append(s)
    for subject, (sightings, why) in groups.items():
        accepted = [s for s in sightings if s.outcome is Outcome.SUCCESS]
        first = (accepted or sightings)[0]
        identity = first.presentation.identity
        verb = "accepted" if accepted else "refused"
        told = (f"{_service(first)} ({str(first.presentation.obs.protocol).upper()}) {verb} the "
                f"{identity.describe()} ({'; '.join(why)}) from {list_devices(device_refs(accepted or sightings))}")
        if accepted:
            message = (f"{told} {len(accepted)} time(s), first at {moment(accepted[0].ts)}{_answer(accepted[0])}: "
                       "it does not fail closed.")
            yield finding(rule, subject, accepted, message, identity)
        else:
            yield passed_check(rule, subject, sightings, f"{told}{_answer(first)}: it fails closed.")
