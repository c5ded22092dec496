"""Who is who on the site: pollers, jump hosts and vendor gateways, whose accounts are whose,
and which devices are clinical.

Declared roles come first (the site file's `roles:`, then the inventory's `role` column or a
clinical function naming a role, `analytics.hostroles`); the others are recognised from the
traffic with the thresholds of `roles:` in rules/*.yaml:

* a poller asks at least `poller_min_agents` SNMP agents with communities (its requests are
  the verifier's side, `analytics.ownership`);
* a relay is an inventoried host that opens admin sessions (RDP, SSH, VNC) to at least
  `relay_min_targets` devices: a vendor gateway when it keeps a session of its own to a vendor's
  remote-service platform (the catalog names the vendor), else an IT jump host.

A gateway's vendor is the site file's, else its inventory manufacturer, else the first vendor its
inventory `remote_access` lets in, else the vendor of its own outbound session.
`vendor_accounts:` in rules/*.yaml says which user names belong to a vendor's service staff (glob
patterns); a gateway's inventory `usernames` are its vendor's too.

A device is an IT host (not clinical) when its criticality (its inventory cell, else
rules/clinical.yaml's mapping of its clinical function) is `low`, or it is a poller or jump host;
any other device, and one the mapping does not know, counts as clinical, so that nothing
clinical passes as internal administration.
"""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..sensor.records import Proto, RemoteAccessSession
from .correlate import Resolution, Sighting
from .criticality import Criticality
from .hostroles import DeclaredRole, HostRole
from .inventory import Asset, Inventory, normalise_mac
from .ownership import Party

ADMIN_PROTOCOLS = frozenset({Proto.RDP, Proto.SSH, Proto.VNC})
"""Sessions an administrator (or a vendor's engineer) opens onto a device."""
IT_ROLES = frozenset({HostRole.POLLER, HostRole.JUMP_HOST})


@dataclass(frozen=True, slots=True)
class RoleSettings:
    """The fan-out thresholds (`roles:` in rules/*.yaml)."""

    poller_min_agents: int = 3
    """A host asking at least this many SNMP agents with communities is a poller."""
    relay_min_targets: int = 3
    """An inventoried host opening admin sessions to at least this many devices relays them."""

    def __post_init__(self) -> None:
        if self.poller_min_agents < 2 or self.relay_min_targets < 2:
            raise ValueError("poller_min_agents and relay_min_targets must be at least 2")


@dataclass(frozen=True, slots=True)
class VendorAccount:
    """User names of one vendor's service staff."""

    vendor: str
    accounts: tuple[str, ...]
    """Glob patterns, case-insensitive (`insite`, `gehc-*`, `*@siemens-healthineers.com`)."""
    source: str


def read_vendor_accounts(doc: Any) -> tuple[VendorAccount, ...]:
    """The `vendor_accounts:` list of a rules file; ValueError naming the bad entry."""
    if not isinstance(doc, list):
        raise ValueError("expected a list of {vendor, accounts, source}")
    out = []
    for n, item in enumerate(doc, 1):
        if not isinstance(item, dict) or set(item) != {"vendor", "accounts", "source"}:
            raise ValueError(f"entry {n}: expected exactly vendor, accounts and source")
        accounts = item["accounts"]
        if not isinstance(accounts, list) or not accounts or not all(isinstance(a, str) and a for a in accounts):
            raise ValueError(f"entry {n}: accounts: expected a list of user names or glob patterns")
        out.append(VendorAccount(str(item["vendor"]), tuple(accounts), str(item["source"])))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Assigned:
    """A host's role, and why it has it."""

    role: HostRole
    vendor: str = ""
    """A gateway's vendor."""
    basis: str = ""
    """`site file`, `inventory` or what the traffic showed (`admin sessions to 4 devices`)."""

    def describe(self) -> str:
        """`Siemens Healthineers gateway`, `jump host`, `poller`."""
        if self.role is HostRole.VENDOR_GATEWAY:
            return f"{self.vendor} gateway" if self.vendor else "vendor gateway"
        return self.role.value.replace("-", " ")


@dataclass(frozen=True, slots=True)
class SiteRoles:
    """The roles of one run's hosts, by device key; vendor accounts; clinical criticality."""

    by_key: Mapping[str, Assigned] = field(default_factory=dict)
    accounts: Sequence[VendorAccount] = ()
    """The rules' vendor accounts, then each gateway's inventory user names as its vendor's."""
    criticality: Mapping[str, Criticality] = field(default_factory=dict)
    """Asset id -> criticality (inventory cell, else the rules' mapping)."""

    def of(self, device_key: str | None) -> Assigned | None:
        """The role of the device with this key, if it has one."""
        return self.by_key.get(device_key) if device_key else None

    def account_vendor(self, user: str | None) -> str | None:
        """The vendor whose service staff use this user name, if a pattern names one."""
        if not user:
            return None
        name = user.casefold()
        return next((a.vendor for a in self.accounts
                     if any(fnmatch.fnmatchcase(name, p.casefold()) for p in a.accounts)), None)

    def it_host(self, device: Resolution | None) -> bool:
        """An inventoried host of IT, not a clinical device: a poller or jump host, or criticality low."""
        if device is None or device.asset is None:
            return False
        assigned = self.of(device.device_key)
        return (assigned is not None and assigned.role in IT_ROLES) or (
            self.criticality.get(device.asset.asset_id) is Criticality.LOW)

    @classmethod
    def recognise(cls, sightings: Sequence[Sighting], inventory: Inventory, declared: Iterable[DeclaredRole] = (),
                  settings: RoleSettings | None = None, accounts: Sequence[VendorAccount] = (),
                  criticality: Mapping[str, Criticality] | None = None) -> SiteRoles:
        """The roles the site file and the inventory declare, then those the traffic shows."""
        calling_out: dict[str, str] = {}
        """Device key -> the vendor of its own first session out to a vendor's platform."""
        for s in sightings:
            obs = s.presentation.obs
            if isinstance(obs, RemoteAccessSession) and obs.direction == "outbound" and obs.vendor:
                calling_out.setdefault(s.device_key, obs.vendor)
        roles = _recognised(sightings, settings or RoleSettings(), calling_out)
        for a in inventory.assets:
            if a.role is not None:
                key = f"asset:{a.asset_id}"
                roles[key] = Assigned(a.role, _vendor(a.role, a, calling_out.get(key, "")), "inventory")
        for d in declared:
            for key, asset in _hosts(d.host, sightings, inventory):
                roles[key] = Assigned(d.role, d.vendor or _vendor(d.role, asset, calling_out.get(key, "")), "site file")
        gateway_staff = tuple(VendorAccount(r.vendor, row.usernames, f"inventory {row.source}")
                              for key, r in roles.items() if r.role is HostRole.VENDOR_GATEWAY and r.vendor
                              if (row := inventory.by_id.get(key.removeprefix("asset:"))) and row.usernames)
        return cls(roles, (*accounts, *gateway_staff), criticality or {})


def _recognised(sightings: Sequence[Sighting], settings: RoleSettings,
                calling_out: Mapping[str, str]) -> dict[str, Assigned]:
    """Pollers and relays by fan-out (a relay calling out to a vendor is that vendor's gateway)."""
    agents: dict[str, set[str]] = defaultdict(set)
    targets: dict[str, set[str]] = defaultdict(set)
    for s in sightings:
        obs = s.presentation.obs
        if obs.protocol is Proto.SNMP and s.party is Party.VERIFIER and not s.place.reply and s.peer:
            agents[s.device_key].add(s.peer.device_key)
        elif (isinstance(obs, RemoteAccessSession) and obs.direction == "inbound" and obs.protocol in ADMIN_PROTOCOLS
              and s.peer is not None and s.peer.asset is not None):
            targets[s.peer.device_key].add(s.device_key)
    roles = {key: Assigned(HostRole.POLLER, "", f"SNMP requests to {len(found)} agents")
             for key, found in agents.items() if len(found) >= settings.poller_min_agents}
    for key, found in targets.items():
        if len(found) >= settings.relay_min_targets:
            vendor = calling_out.get(key, "")
            role = HostRole.VENDOR_GATEWAY if vendor else HostRole.JUMP_HOST
            own = f", and its own session to {vendor}" if vendor else ""
            roles[key] = Assigned(role, vendor, f"admin sessions to {len(found)} devices{own}")
    return roles


def _vendor(role: HostRole, asset: Asset | None, calling_out: str) -> str:
    """A gateway's vendor: its manufacturer, else whom its inventory lets in, else whom it calls."""
    if role is not HostRole.VENDOR_GATEWAY:
        return ""
    return (asset.manufacturer or next(iter(asset.remote_access), "") if asset else "") or calling_out


def _hosts(host: str, sightings: Sequence[Sighting], inventory: Inventory) -> list[tuple[str, Asset | None]]:
    """The device keys a site file's `host` (asset id, IP or MAC) names, with their inventory rows."""
    asset = inventory.by_id.get(host) or inventory.by_ip.get(host) or inventory.by_mac.get(normalise_mac(host) or "")
    if asset is not None:
        return [(f"asset:{asset.asset_id}", asset)]
    mac = normalise_mac(host)
    seen = {r.device_key for s in sightings for r in (s, s.peer)
            if r is not None and (r.ip == host or (mac is not None and r.mac == mac))}
    return [(key, None) for key in sorted(seen)]
