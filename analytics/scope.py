"""The site's networks: a device on them that the inventory does not know is an unknown device;
anything else (an internet server, a vendor's cloud, the far end of a VPN) is a far end, never
"unknown".

The networks are, in this order of precedence:

1. given by the user (`SiteScope.parse`: `--site-networks 10.20.0.0/16,10.30.0.0/16`);
2. the `networks:` list of a site file (`load_site_file`, YAML, which may also name the roles
   of hosts: `roles:`, see `analytics.hostroles`);
3. by default, derived from the inventory (`SiteScope.of_inventory`): each private block (RFC 1918
   10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16; RFC 4193 ULA fc00::/7) that holds at least one of
   the inventory's static addresses, plus the link-local blocks (169.254.0.0/16, fe80::/10),
   which never leave the segment the sensor taps. When no inventory address is in a private
   block (a DHCP-only inventory), every private block is the site. A site that uses public
   addresses inside must name its networks.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..sensor.yamlfile import YamlError, load_yaml
from .hostroles import DeclaredRole, read_declared_roles
from .inventory import Inventory

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

PRIVATE_BLOCKS: tuple[Network, ...] = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"))
"""RFC 1918 and RFC 4193 (unique local) blocks."""
LINK_LOCAL: tuple[Network, ...] = tuple(ipaddress.ip_network(n) for n in ("169.254.0.0/16", "fe80::/10"))
SITE_FILE_KEYS = ("networks", "roles")


class SiteError(ValueError):
    """Site networks that cannot be used; the message names the file or option and the entry."""


@dataclass(frozen=True, slots=True)
class SiteScope:
    """The monitored site networks."""

    networks: tuple[Network, ...]
    origin: str
    """Where they came from, for messages: `--site-networks`, a file, or the inventory default."""

    def contains(self, ip: str) -> bool:
        """Whether `ip` is on a site network (an unparsable address is not)."""
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(addr in net for net in self.networks)

    def describe(self) -> str:
        """`10.0.0.0/8, 169.254.0.0/16, fe80::/10 (default: ...)` for the summary."""
        return f"{', '.join(str(n) for n in self.networks)} ({self.origin})"

    @classmethod
    def parse(cls, texts: Iterable[str], origin: str) -> SiteScope:
        """Networks written as CIDR (`10.20.0.0/16`) or single addresses; `SiteError` naming the bad one."""
        networks = []
        for text in texts:
            try:
                networks.append(ipaddress.ip_network(text.strip(), strict=False))
            except ValueError:
                raise SiteError(f"{origin}: not a network (CIDR, e.g. 10.20.0.0/16): {text.strip()!r}") from None
        if not networks:
            raise SiteError(f"{origin}: no networks given")
        return cls(tuple(networks), origin)

    @classmethod
    def of_inventory(cls, inventory: Inventory) -> SiteScope:
        """The default: the private blocks holding the inventory's static addresses, and link-local."""
        addresses = [ipaddress.ip_address(ip) for a in inventory.assets for ip in a.ips]
        used = tuple(b for b in PRIVATE_BLOCKS if any(addr in b for addr in addresses))
        if used:
            return cls(used + LINK_LOCAL, "default: the private blocks of the inventory's addresses, and link-local")
        return cls(PRIVATE_BLOCKS + LINK_LOCAL, "default: every private block (no inventory address is in one)")


EVERYWHERE = SiteScope((ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")), "every address")
"""No far ends: what a detection run without a site sees."""


@dataclass(frozen=True, slots=True)
class SiteFile:
    """What a site file (`--site FILE.yaml`) says: the site networks and the roles of hosts."""

    scope: SiteScope | None
    """Its `networks:`; None when it names none (the inventory's default then)."""
    roles: tuple[DeclaredRole, ...] = ()
    """Its `roles:` (`analytics.hostroles`): pollers, jump hosts and vendor gateways by name."""


def load_site_file(path: str | Path) -> SiteFile:
    """The `networks:` and `roles:` of a site file (YAML); `SiteError` naming the file and the problem."""
    try:
        doc = load_yaml(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, YamlError) as e:
        raise SiteError(f"{path}: cannot read the site file: {e}") from None
    if not isinstance(doc, dict) or not doc:
        raise SiteError(f"{path}: a site file is a mapping with `networks:` and/or `roles:`")
    for key in doc:
        if key not in SITE_FILE_KEYS:
            raise SiteError(f"{path}: unknown key {key!r} (expected {', '.join(SITE_FILE_KEYS)})")
    scope = None
    if "networks" in doc:
        networks = doc["networks"]
        if not isinstance(networks, list) or not all(isinstance(n, str) for n in networks):
            raise SiteError(f"{path}: networks: expected a list of networks (CIDR, e.g. 10.20.0.0/16)")
        scope = SiteScope.parse(networks, f"{path}: networks")
    try:
        roles = read_declared_roles(doc["roles"], f"{path}: roles") if "roles" in doc else ()
    except ValueError as e:
        raise SiteError(str(e)) from None
    return SiteFile(scope, roles)
