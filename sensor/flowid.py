"""Who talks to whom: the connection identity every Observation carries.

Zeek's words: the *orig*inator is the connection's client (the SYN sender, or the best guess
when the capture starts mid-stream), the *resp*onder its server.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Direction(IntEnum):
    """Which side sent a byte: the connection's client (ORIG) or its server (RESP)."""

    ORIG = 0
    RESP = 1

    @property
    def other(self) -> Direction:
        """The opposite side."""
        return Direction(1 - self.value)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One side of a connection, as seen on the wire."""

    ip: str
    port: int
    mac: str | None = None
    """Source MAC of this side's first frame; None on link types without MACs."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowId:
    """A connection: written flat as uid, transport, source (orig) and destination (resp)."""

    uid: str
    """Stable id of the connection within a run, like Zeek's conn uid."""
    transport: str
    """"tcp" or "udp"."""
    orig: Endpoint
    resp: Endpoint
    vlan: tuple[int, ...] = ()
    """802.1Q tags of the first frame, outermost first."""
