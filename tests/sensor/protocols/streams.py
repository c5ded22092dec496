"""Feeding an extractor in unit tests the way the dispatcher does."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from trustwatch.sensor.flowid import Direction, FlowId
from trustwatch.sensor.protocols.base import Extractor
from trustwatch.sensor.records import AuthenticationOutcome, CredentialSeen, Observation


def observations(ext: Extractor, flow: FlowId, chunks: list[tuple[Direction, bytes]], close: bool = False
                 ) -> list[Observation]:
    """What `ext` reports for `chunks`: bytes are kept per direction and parsed until the
    extractor wants more or is finished (as `sensor.dispatch` does); `close` then ends the
    connection as the dispatcher does (`close`, then the attempts left unanswered)."""
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
    if close:
        out += [*ext.close(flow, 2.0), *ext.unanswered(flow, 2.0)]
    return out


def credentials(ext: Extractor, flow: FlowId, chunks: list[tuple[Direction, bytes]]) -> list[CredentialSeen]:
    """The credentials `ext` finds in `chunks` (see `observations`)."""
    return [o for o in observations(ext, flow, chunks) if isinstance(o, CredentialSeen)]


def answers(found: Sequence[Observation]) -> list[tuple[int, str, str | None]]:
    """(attempt, outcome, reason code) of each authentication outcome in `found`, in order,
    checking that every attempt a credential names got exactly one."""
    got = [(o.attempt, str(o.outcome), o.reason_code) for o in found if isinstance(o, AuthenticationOutcome)]
    attempts = {o.attempt for o in found if isinstance(o, CredentialSeen)}
    assert sorted(a for a, _o, _c in got) == sorted(attempts), "one answer per attempt"
    return got


def paired(found: Iterable[Observation]) -> list[tuple[CredentialSeen, AuthenticationOutcome]]:
    """Each credential in `found` (e.g. a `Sensor`'s output) with its answer: the outcome of the
    same flow and attempt, which every credential with an attempt must have."""
    found = list(found)
    outcomes = {(o.flow.uid, o.attempt): o for o in found if isinstance(o, AuthenticationOutcome)}
    return [(o, outcomes[o.flow.uid, o.attempt]) for o in found if isinstance(o, CredentialSeen) and o.attempt]
