"""Feeding an extractor in unit tests the way the dispatcher does."""

from __future__ import annotations

from trustwatch.sensor.flowid import Direction, FlowId
from trustwatch.sensor.protocols.base import Extractor
from trustwatch.sensor.records import CredentialSeen


def credentials(ext: Extractor, flow: FlowId, chunks: list[tuple[Direction, bytes]]) -> list[CredentialSeen]:
    """The credentials `ext` finds in `chunks`: bytes are kept per direction and parsed until the
    extractor wants more or is finished (as `sensor.dispatch` does)."""
    bufs: dict[Direction, bytes] = {Direction.ORIG: b"", Direction.RESP: b""}
    out: list[CredentialSeen] = []
    for direction, chunk in chunks:
        bufs[direction] += chunk
        while bufs[direction] and not ext.finished:
            found, used = ext.parse(flow, direction, 1.0, bufs[direction])
            assert 0 <= used <= len(bufs[direction])
            out += [o for o in found if isinstance(o, CredentialSeen)]
            if not used:
                break
            bufs[direction] = bufs[direction][used:]
    return out
