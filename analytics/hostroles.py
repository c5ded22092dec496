"""The roles a host can play for others: SNMP poller, IT jump host, vendor gateway.

A role is declared in the inventory (a `role` column, or a `clinical_function` that names one)
or in the site file (`roles:`, `analytics.scope`), and otherwise recognised from the traffic
(`analytics.roles`). Below the inventory: it only names the roles and reads their words.

Site file:

    roles:
      - {host: NMS-01, role: poller}                     # asset id, IP address or MAC
      - {host: 10.50.9.40, role: vendor-gateway, vendor: Siemens Healthineers}
      - {host: JUMP-01, role: jump-host}
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class HostRole(StrEnum):
    """What a host does for others."""

    POLLER = "poller"
    """An SNMP manager: it asks agents with their communities; it verifies them, never shares them."""
    JUMP_HOST = "jump-host"
    """IT administration: admins' sessions to servers start here."""
    VENDOR_GATEWAY = "vendor-gateway"
    """A vendor's remote-service gateway on site (Siemens SRS/teamplay, Philips RSN/IntelliBridge,
    GE InSite): the sessions it relays are that vendor's."""


ROLE_WORDS = {
    "poller": HostRole.POLLER, "snmp poller": HostRole.POLLER, "snmp manager": HostRole.POLLER,
    "network management station": HostRole.POLLER, "nms": HostRole.POLLER,
    "jump host": HostRole.JUMP_HOST, "jump server": HostRole.JUMP_HOST, "jumpbox": HostRole.JUMP_HOST,
    "bastion": HostRole.JUMP_HOST, "bastion host": HostRole.JUMP_HOST,
    "vendor gateway": HostRole.VENDOR_GATEWAY, "remote service gateway": HostRole.VENDOR_GATEWAY,
    "remote access gateway": HostRole.VENDOR_GATEWAY,
}
"""The words an inventory may use for each role (any case; spaces, hyphens, underscores alike)."""
SITE_ROLE_KEYS = ("host", "role", "vendor")


def parse_host_role(text: str) -> HostRole | None:
    """The role `text` names (`Jump-Host`, `SNMP manager`, `vendor_gateway`...), else None."""
    return ROLE_WORDS.get(re.sub(r"[\s_\-]+", " ", text.strip().casefold()))


@dataclass(frozen=True, slots=True)
class DeclaredRole:
    """A role the site file gives a host."""

    host: str
    """Asset id, IP address or MAC (ECS notation or any other)."""
    role: HostRole
    vendor: str = ""
    """A gateway's vendor; empty: its inventory row's `remote_access`, else its manufacturer."""


def read_declared_roles(items: Any, where: str) -> tuple[DeclaredRole, ...]:
    """The `roles:` list of a site file; ValueError naming the entry and the field."""
    if not isinstance(items, list):
        raise ValueError(f"{where}: expected a list of {{host, role, vendor}} entries")
    out = []
    for n, item in enumerate(items, 1):
        at = f"{where}: entry {n}"
        if not isinstance(item, dict):
            raise ValueError(f"{at}: expected a mapping with host and role")
        unknown = sorted(set(map(str, item)) - set(SITE_ROLE_KEYS))
        if unknown:
            raise ValueError(f"{at}: unknown key {unknown[0]!r} (expected {', '.join(SITE_ROLE_KEYS)})")
        host, role = str(item.get("host") or "").strip(), parse_host_role(str(item.get("role") or ""))
        if not host:
            raise ValueError(f"{at}: host: required (an asset id, IP address or MAC)")
        if role is None:
            raise ValueError(f"{at}: role: expected {', '.join(r.value for r in HostRole)}, "
                             f"not {item.get('role')!r}")
        out.append(DeclaredRole(host, role, str(item.get("vendor") or "").strip()))
    return tuple(out)
