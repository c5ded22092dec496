"""Vendor remote-access tools recognised by their first bytes (the catalog's `signatures`).

TeamViewer's own protocol on 5938 and Citrix ICA/CGP have no cleartext identity worth
parsing; the session itself is the fact. The class is bound to a catalog at start-up
(`bound`), so a signature added to `rules/remote_access.yaml` needs no code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from ..catalog import Catalog
from ..flowid import Direction, FlowId
from ..records import Observation, Proto, RemoteAccessSession
from ..siterules import SensorRules
from .base import Extractor


class VendorToolExtractor(Extractor):
    """One connection whose first bytes carry a catalogued tool's signature."""

    name = "vendor_tool"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp", "udp"})
    ports: ClassVar[frozenset[int]] = frozenset()
    budget = 64 * 1024
    catalog: ClassVar[Catalog] = Catalog()

    @classmethod
    def bound(cls, rules: SensorRules) -> type[VendorToolExtractor]:
        """This extractor matching the catalog's signatures, its ports as tie-breakers."""
        catalog = rules.catalog
        ports = frozenset(p for e in catalog.entries if e.signatures for _t, p in e.ports)
        return type(cls.__name__, (cls,), {
            "catalog": catalog, "ports": ports,
            "probe": staticmethod(lambda first: catalog.by_signature(None, first) is not None),
        })

    @staticmethod
    def probe(first: bytes) -> bool:
        """Unbound: no catalog, no signature."""
        return False

    def parse(
        self, flow: FlowId, direction: Direction, ts: float, buf: bytes
    ) -> tuple[Sequence[Observation], int]:
        self.done = True
        match = self.catalog.by_signature(flow.transport, buf)
        if match is None:
            return [], len(buf)
        e = match.entry
        return [RemoteAccessSession(ts=ts, flow=flow, protocol=Proto.REMOTE, vendor=e.vendor, product=e.product,
                                    direction=e.direction, matched_by=match.how)], len(buf)
