"""Feeding an extractor in unit tests the way the dispatcher does."""

from __future__ import annotations

from trustwatch.sensor.flowid import Direction, FlowId
from trustwatch.sensor.protocols.base import Extractor
from trustwatch.sensor.records import CredentialSeen, Observation


def observations(ext: Extractor, flow: FlowId, chunks: list[tuple[Direction, bytes]]) -> list[Observation]:
    """What `ext` finds in `chunks`: bytes are kept per direction and parsed until the extractor
    wants more or is finished (as `sensor.dispatch` does)."""
    bufs: dict[Direction, bytes] = {Direction.ORIG: b"", Direction.RESP: b""}
    out: list[Observation] = []
    for direction, chunk in chunks:
        bufs[direction] += chunk
        while bufs[direction] and not ext.finished:
            found, used = ext.parse(flow, direction, 1.0, bufs[direction])
            assert 0 <= used <= len(bufs[direction])
            out += found
            if not used:
                break
            bufs[direction] = bufs[direction][used:]
    return out


def credentials(ext: Extractor, flow: FlowId, chunks: list[tuple[Direction, bytes]]) -> list[CredentialSeen]:
    """The credentials `ext` finds in `chunks` (`observations`)."""
    return [o for o in observations(ext, flow, chunks) if isinstance(o, CredentialSeen)]
