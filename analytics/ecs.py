"""ECS fields that alerts and the remote-access ledger share: times, the two ends of a
connection and its Community ID.

The Community ID (https://github.com/corelight/community-id-spec, version 1, seed 0, base64) is
computed by the `communityid` package, the specification's reference implementation in Python;
tshark writes the same value (`tshark --enable-protocol communityid -T fields -e communityid`), so
a SIEM can join an alert to the Zeek, Suricata or Wireshark records of the same connection.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import communityid

from ..sensor.flowid import Endpoint, FlowId

_COMMUNITY_ID = communityid.CommunityID(seed=0, use_base64=True)
_MAKE = {"tcp": communityid.FlowTuple.make_tcp, "udp": communityid.FlowTuple.make_udp}


def iso(ts: float) -> str:
    """Epoch seconds as ISO 8601 UTC with a `Z`, as the observations write them."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def stable_id(*parts: str) -> str:
    """16 hex digits naming a thing by what it is (an alert by its dedup key), the same in every run."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


@lru_cache(maxsize=4096)
def community_id(flow: FlowId) -> str | None:
    """The Community ID of `flow` (`1:...`), None when its addresses or ports cannot make one."""
    make = _MAKE.get(flow.transport)
    if make is None:
        return None
    try:
        return str(_COMMUNITY_ID.calc(make(flow.orig.ip, flow.resp.ip, flow.orig.port, flow.resp.port)))
    except (communityid.Error, ValueError):
        return None


def endpoint(ep: Endpoint) -> dict[str, Any]:
    """ECS `source` or `destination`: ip, port and, when the sensor saw it, mac."""
    doc: dict[str, Any] = {"ip": ep.ip, "port": ep.port}
    if ep.mac:
        doc["mac"] = ep.mac
    return doc


def connection(flow: FlowId) -> dict[str, Any]:
    """`source` (the client), `destination` (the server) and `network` (transport, Community ID) of `flow`."""
    network: dict[str, Any] = {"transport": flow.transport}
    if (cid := community_id(flow)) is not None:
        network["community_id"] = cid
    return {"source": endpoint(flow.orig), "destination": endpoint(flow.resp), "network": network}
