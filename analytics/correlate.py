"""Identity resolution: which inventory device presented each identity -> `Sighting`.

An endpoint resolves by, in order (DESIGN.md, issue 3):

1. its own MAC;
2. when it has no MAC of its own (routed), the DHCP lease of its IP at that time: the lease
   granted last before it, while it runs (`LEASES`: DHCP ACKs and RELEASEs). An unknown
   device is then keyed by the leased MAC too, so a device that moves address stays one
   device and an address reused by another device does not merge them;
3. its static IP, unless its own MAC says it is other hardware (an inventory device with
   listed MACs that do not include it);
4. a certificate or AE title it presents that the inventory registers to exactly one device,
   again unless its own MAC says it is other hardware (then it stays unknown, and a copied
   certificate shows up as `credential-outlives-device` or `identity-mismatch`).

Routed segments: a MAC seen with many IPs across subnets is a router's. It is never used to
match, and never to tell devices apart: such endpoints are keyed by IP. Every sighting keeps
the method and the value that matched, because the alert shows them, and the other side's
answer to the presentation (`AuthenticationOutcome` of the same flow and attempt), because
an identity that was refused is not one that was let in.
"""

from __future__ import annotations

import ipaddress
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum

from ..sensor.flowid import Endpoint
from ..sensor.records import AuthenticationOutcome, DhcpLease, Observation, Outcome
from .identities import IdentityKind, Presentation, presentations
from .inventory import Asset, Inventory, normalise_mac


class Method(StrEnum):
    """How an endpoint was matched to an inventory device."""

    MAC = "mac"
    DHCP = "dhcp"
    IP = "ip"
    CERTIFICATE = "certificate"
    AE_TITLE = "ae-title"
    NONE = "none"
    """Not in the inventory."""


@dataclass(frozen=True, slots=True)
class CorrelationSettings:
    """The routed-segment guard's thresholds (`correlation:` in rules/*.yaml)."""

    router_min_ips: int = 3
    """A MAC with at least this many IPs ..."""
    router_min_subnets: int = 2
    """... spread over at least this many subnets is a router's."""
    ipv4_prefix: int = 24
    ipv6_prefix: int = 64


@dataclass(frozen=True, slots=True)
class Lease:
    """A DHCP lease: `mac` held `ip` from `ts` until `end` (a release is a lease ending at once)."""

    ip: str
    mac: str
    ts: float
    end: float = math.inf


LEASES: dict[type[Observation], Callable[[Observation], Iterator[Lease]]] = {}
"""Observation type -> the leases it shows."""


def _dhcp_leases(obs: Observation) -> Iterator[Lease]:
    """An ACK grants the address for its lease time; a RELEASE gives it back."""
    assert isinstance(obs, DhcpLease)
    if obs.ip is None:
        return
    if obs.message_type == "ack":
        end = obs.ts + obs.lease_seconds if obs.lease_seconds else math.inf
        yield Lease(obs.ip, obs.client_mac, obs.ts, end)
    elif obs.message_type == "release":
        yield Lease(obs.ip, obs.client_mac, obs.ts, obs.ts)


LEASES[DhcpLease] = _dhcp_leases


@dataclass(frozen=True, slots=True)
class Sighting:
    """One presentation, resolved to a device."""

    presentation: Presentation
    device_key: str
    """Tells devices apart: `asset:<id>`, else `mac:<MAC>`, else `ip:<IP>` (routed or no MAC)."""
    asset: Asset | None
    method: Method
    match_value: str
    """What matched: the MAC, `IP leased to MAC`, the IP, the fingerprint or the AE title."""
    mac: str | None
    """The presenter's own MAC, else the MAC its DHCP lease names (None when neither is known)."""
    ip: str
    answer: AuthenticationOutcome | None = None
    """The other side's answer to this presentation, when the sensor saw one."""

    @property
    def ts(self) -> float:
        """Packet time of the observation."""
        return self.presentation.obs.ts

    @property
    def outcome(self) -> Outcome | None:
        """Accepted, refused or unknown; None when the presentation asks for no answer (a
        server certificate, an HL7 MSH-8, observations of a sensor older than outcomes)."""
        if self.answer is not None:
            return self.answer.outcome
        return Outcome.UNKNOWN if getattr(self.presentation.obs, "attempt", None) is not None else None


def router_macs(observations: Iterable[Observation], settings: CorrelationSettings) -> set[str]:
    """MACs seen with many IPs across subnets: routers, whose MAC says nothing of the device."""
    ips: dict[str, set[str]] = defaultdict(set)
    for obs in observations:
        for ep in (obs.flow.orig, obs.flow.resp):
            mac = normalise_mac(ep.mac) if ep.mac else None
            if mac:
                ips[mac].add(ep.ip)
    routers = set()
    for mac, addrs in ips.items():
        if len(addrs) < settings.router_min_ips:
            continue
        nets = {_subnet(a, settings) for a in addrs}
        if len(nets) >= settings.router_min_subnets:
            routers.add(mac)
    return routers


def _subnet(ip: str, settings: CorrelationSettings) -> str:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    prefix = settings.ipv4_prefix if addr.version == 4 else settings.ipv6_prefix
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))


class Leases:
    """DHCP leases by IP, looked up at packet time."""

    def __init__(self, leases: Iterable[Lease] = ()) -> None:
        self._by_ip: dict[str, list[Lease]] = defaultdict(list)
        for lease in leases:
            self._by_ip[lease.ip].append(lease)
        for lst in self._by_ip.values():
            lst.sort(key=lambda x: x.ts)

    @classmethod
    def of(cls, observations: Iterable[Observation]) -> Leases:
        """The leases shown by every observation type registered in `LEASES`."""
        return cls(lease for o in observations if (fn := LEASES.get(type(o))) for lease in fn(o))

    def at(self, ip: str, ts: float) -> str | None:
        """MAC (ECS notation) holding `ip` at `ts`: the latest lease granted at or before it,
        if it has not run out or been released by then."""
        best = None
        for lease in self._by_ip.get(ip, ()):
            if lease.ts > ts:
                break
            best = lease
        return normalise_mac(best.mac) if best and ts < best.end else None


def correlate(
    observations: Sequence[Observation],
    inventory: Inventory,
    settings: CorrelationSettings | None = None,
) -> list[Sighting]:
    """One sighting per presentation in `observations`, in their order."""
    settings = settings or CorrelationSettings()
    routers = router_macs(observations, settings)
    leases = Leases.of(observations)
    answers: dict[tuple[str, int | None], AuthenticationOutcome] = {
        (o.flow.uid, o.attempt): o for o in observations if isinstance(o, AuthenticationOutcome)}
    resolved: list[tuple[Presentation, str | None, tuple[Asset, Method, str] | None]] = []
    for obs in observations:
        for p in presentations(obs):
            mac = normalise_mac(p.endpoint.mac) if p.endpoint.mac else None
            if mac in routers:
                mac = None
            leased = leases.at(p.endpoint.ip, obs.ts) if mac is None else None
            resolved.append((p, mac or leased, _by_address(p.endpoint, mac, leased, inventory)))
    by_identity = _by_presented_identity(resolved, inventory)
    out = []
    for p, mac, match in resolved:
        loose_key = f"mac:{mac}" if mac else f"ip:{p.endpoint.ip}"
        match = match or by_identity.get(loose_key)
        answer = answers.get((p.obs.flow.uid, getattr(p.obs, "attempt", None)))
        if match is None:
            out.append(Sighting(p, loose_key, None, Method.NONE, "", mac, p.endpoint.ip, answer))
        else:
            asset, method, value = match
            out.append(Sighting(p, f"asset:{asset.asset_id}", asset, method, value, mac, p.endpoint.ip, answer))
    return out


def _by_address(
    ep: Endpoint, mac: str | None, leased: str | None, inventory: Inventory
) -> tuple[Asset, Method, str] | None:
    """Steps 1-3: own MAC, DHCP lease, static IP (unless the MAC says it is other hardware)."""
    if mac and (asset := inventory.by_mac.get(mac)):
        return asset, Method.MAC, mac
    if leased and (asset := inventory.by_mac.get(leased)):
        return asset, Method.DHCP, f"{ep.ip} leased to {leased}"
    asset = inventory.by_ip.get(ep.ip)
    if asset and not _contradicts(mac or leased, asset):
        return asset, Method.IP, ep.ip
    return None


def _by_presented_identity(
    resolved: list[tuple[Presentation, str | None, tuple[Asset, Method, str] | None]],
    inventory: Inventory,
) -> dict[str, tuple[Asset, Method, str]]:
    """Step 4, per unresolved endpoint: the one device owning a certificate or AE title it presented.

    Ambiguous endpoints (identities of several devices) stay unresolved rather than guessed.
    """
    candidates: dict[str, dict[str, tuple[Asset, Method, str]]] = defaultdict(dict)
    for p, mac, match in resolved:
        if match is not None:
            continue
        key = f"mac:{mac}" if mac else f"ip:{p.endpoint.ip}"
        ident = p.identity
        if ident.kind in (IdentityKind.CLIENT_CERT, IdentityKind.SERVER_CERT):
            owners, method = inventory.by_cert.get(ident.value, ()), Method.CERTIFICATE
        elif ident.kind is IdentityKind.AE_TITLE:
            owners, method = inventory.by_ae_title.get(ident.value, ()), Method.AE_TITLE
        else:
            continue
        for a in owners:
            if _contradicts(mac, a):
                continue
            candidates[key].setdefault(a.asset_id, (a, method, ident.value))
    return {k: next(iter(v.values())) for k, v in candidates.items() if len(v) == 1}


def _contradicts(mac: str | None, asset: Asset) -> bool:
    """The endpoint's own MAC is not one the inventory lists for `asset`: other hardware."""
    return bool(mac and asset.macs and mac not in asset.macs)
