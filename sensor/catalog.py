"""The vendor remote-access catalog (`rules/remote_access.yaml`), compiled for matching.

Each entry says how a vendor's remote access is recognised: server names (TLS SNI or a DNS
answer for the address), address ranges, server ports, the client's first bytes, or the
names in TLS certificates. The sensor asks the catalog once per connection, when it ends,
so lookups are dictionary or short-list scans. A broken entry is an error that names the
file and the entry: a catalog silently missing a vendor would hide its sessions.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .yamlfile import RULES_DIR, RulesFileError, read_rules_file

CATALOG_PATH = RULES_DIR / "remote_access.yaml"
"""The repository's catalog, the default."""
DIRECTIONS = ("inbound", "outbound")
_KEYS = {"vendor", "product", "direction", "names", "ip_ranges", "ports", "signatures", "certificates", "source"}


class CatalogError(RulesFileError):
    """The catalog file is unusable; the message names the file and the entry."""


@dataclass(frozen=True, slots=True)
class Signature:
    """The client's first bytes: `pattern` at `offset`."""

    transport: str
    offset: int
    pattern: bytes


@dataclass(frozen=True, slots=True)
class VendorEntry:
    """One catalogued remote-access product."""

    vendor: str
    product: str
    direction: str
    names: tuple[str, ...] = ()
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    ports: tuple[tuple[str, int], ...] = ()
    signatures: tuple[Signature, ...] = ()
    certificates: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Match:
    """A catalog entry and what matched it, e.g. "sni x.teamviewer.com ~ *.teamviewer.com"."""

    entry: VendorEntry
    how: str
    name: str | None = None
    """The vendor end's name, when a name matched."""


@dataclass
class Catalog:
    """Lookups over every entry; the first entry that matches wins (file order)."""

    entries: list[VendorEntry] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._exact: dict[str, VendorEntry] = {}
        self._suffix: dict[str, VendorEntry] = {}
        self._ports: dict[tuple[str, int], VendorEntry] = {}
        self._certs: dict[str, VendorEntry] = {}
        for e in self.entries:
            for n in e.names:
                if n.startswith("*."):
                    self._suffix.setdefault(n[1:], e)
                else:
                    self._exact.setdefault(n, e)
            for p in e.ports:
                self._ports.setdefault(p, e)
            for c in e.certificates:
                self._certs.setdefault(c.casefold(), e)
        self.signatures = [(s, e) for e in self.entries for s in e.signatures]
        self._networks = [(n, e) for e in self.entries for n in e.networks]

    def by_name(self, name: str, source: str) -> Match | None:
        """The entry for a server name (`source`: "sni" or "dns"); "*.x.com" matches a.x.com, a.b.x.com."""
        name = name.lower().rstrip(".")
        if (e := self._exact.get(name)) is not None:
            return Match(e, f"{source} {name}", name)
        dot = name.find(".")
        while dot >= 0:
            if (e := self._suffix.get(name[dot:])) is not None:
                return Match(e, f"{source} {name} ~ *{name[dot:]}", name)
            dot = name.find(".", dot + 1)
        return None

    def by_address(self, ip: str) -> Match | None:
        """The entry whose ranges hold `ip`."""
        if not self._networks:
            return None
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return None
        for net, e in self._networks:
            if addr in net:
                return Match(e, f"ip {ip} in {net}")
        return None

    def by_port(self, transport: str, port: int) -> Match | None:
        """The entry whose server port this is."""
        e = self._ports.get((transport, port))
        return Match(e, f"port {transport}/{port}") if e is not None else None

    def by_certificate(self, common_name: str) -> Match | None:
        """The entry whose certificates carry this subject common name."""
        e = self._certs.get(common_name.casefold())
        return Match(e, f"certificate CN={common_name}") if e is not None else None

    def by_signature(self, transport: str | None, first: bytes) -> Match | None:
        """The entry whose signature a side's first bytes carry (`transport` None: either)."""
        for s, e in self.signatures:
            if transport in (None, s.transport) and first[s.offset : s.offset + len(s.pattern)] == s.pattern:
                return Match(e, f"signature {s.pattern.hex()}@{s.offset}")
        return None


def load_catalog(path: str | Path = CATALOG_PATH) -> Catalog:
    """The catalog of `path` (its `remote_access:` list; other keys are the analytics')."""
    path = Path(path)
    doc = read_rules_file(path, CatalogError)
    items = doc.get("remote_access") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise CatalogError(f"{path}: expected a `remote_access:` list")
    return Catalog([_entry(path, i, item) for i, item in enumerate(items, 1)])


def _entry(path: Path, index: int, item: Any) -> VendorEntry:
    where = f"{path}: remote_access entry {index}"
    if not isinstance(item, dict):
        raise CatalogError(f"{where}: each entry is a mapping")
    unknown = set(item) - _KEYS
    if unknown:
        raise CatalogError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    vendor, product = item.get("vendor"), item.get("product")
    if not isinstance(vendor, str) or not vendor or not isinstance(product, str) or not product:
        raise CatalogError(f"{where}: `vendor` and `product` are required strings")
    where = f"{path}: {vendor} {product}"
    if not item.get("source"):
        raise CatalogError(f"{where}: `source` is required (where do the facts come from?)")
    direction = item.get("direction", "outbound")
    if direction not in DIRECTIONS:
        raise CatalogError(f"{where}: direction must be one of {', '.join(DIRECTIONS)}")
    try:
        names = tuple(str(n).lower() for n in _list(item, "names"))
        networks = tuple(ipaddress.ip_network(str(n), strict=False) for n in _list(item, "ip_ranges"))
        ports = tuple(_port(str(p)) for p in _list(item, "ports"))
        signatures = tuple(_signature(s) for s in _list(item, "signatures"))
    except (ValueError, TypeError, KeyError) as e:
        raise CatalogError(f"{where}: {e}") from None
    return VendorEntry(vendor, product, direction, names, networks, ports, signatures,
                       tuple(str(c) for c in _list(item, "certificates")))


def _list(item: dict[str, Any], key: str) -> Iterable[Any]:
    value = item.get(key) or []
    if not isinstance(value, list):
        raise CatalogError(f"`{key}` must be a list")
    return value


def _port(text: str) -> tuple[str, int]:
    transport, _, number = text.partition("/")
    if transport not in ("tcp", "udp") or not number.isdigit() or not 0 < int(number) < 65536:
        raise ValueError(f"port {text!r} is not tcp/N or udp/N")
    return transport, int(number)


def _signature(item: Any) -> Signature:
    if not isinstance(item, dict):
        raise ValueError("a signature is a mapping {transport, offset, hex}")
    pattern = bytes.fromhex(str(item["hex"]))
    if not pattern or item.get("transport") not in ("tcp", "udp"):
        raise ValueError(f"bad signature {item!r}")
    return Signature(str(item["transport"]), int(item.get("offset", 0)), pattern)
