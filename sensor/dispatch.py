"""Chooses a protocol extractor for each flow and feeds it; the only place that catches.

Content first, port second: at each segment boundary of a flow not yet identified, every
extractor's `probe` looks at the bytes (extractors whose ports match the flow's server port
are asked first). A flow that starts in clear text and upgrades to TLS (STARTTLS, RDP) is
found the same way, as long as the upgrade happens within `IDENTIFY_BUDGET` bytes; a
cleartext extractor that sees the upgrade itself sets `upgraded`, and what follows is
identified anew.

Once attached, the extractor sees each direction's bytes in order. A `ParseError` is
counted as a weird and stops that direction only; any other exception is a bug in the
extractor, counted as `extractor_bug_<name>`, with the same effect. When the extractor is
finished, both directions are stopped, or the handshake budget is spent, the flow is done.
"""

from __future__ import annotations

from collections.abc import Sequence

from .flowid import Direction, FlowId
from .flows import Flow, FlowTable
from .protocols.base import Extractor, ParseError
from .records import AuthenticationOutcome, Evidence, Observation
from .remote_access_tracker import RemoteAccessTracker
from .secrets import EPHEMERAL, SecretHasher
from .weird import Weirds

PROBE_MIN = 8
"""Bytes a probe wants to see before deciding (fewer only if the stream ends)."""
IDENTIFY_BUDGET = 16 * 1024
"""Bytes of a flow (both directions) searched for a known protocol before giving up."""
MAX_UDP_PROBES = 64
"""Datagrams of a flow probed before giving up (WebRTC sends a few STUN exchanges before
its DTLS handshake on the same 5-tuple)."""

_DIRECTIONS = (Direction.ORIG, Direction.RESP)
"""By index: calling the IntEnum costs a microsecond per parse."""


class Session:
    """Dispatch state of one flow."""

    __slots__ = ("attempt_evidence", "bufs", "extractor", "held", "inspected", "pending", "probe_bufs", "probes",
                 "spans", "stopped")

    def __init__(self) -> None:
        self.extractor: Extractor | None = None
        self.probe_bufs = [b"", b""]
        self.probes = 0
        self.inspected = [0, 0]
        self.bufs = [bytearray(), bytearray()]
        self.spans: list[list[tuple[int, int]]] = [[], []]
        """Per direction: (end offset in buf, frame) of the bytes waiting in buf."""
        self.pending: list[set[int]] = [set(), set()]
        """Frames consumed since the direction's last observation: its evidence."""
        self.stopped = [False, False]
        self.held = 0
        """What the extractor keeps of its own, as last counted in the table's `buffered`."""
        self.attempt_evidence: dict[int, Evidence] = {}
        """The evidence of each authentication attempt: that of an answer never seen."""


class Dispatcher:
    """Attaches extractors to flows and turns their output into evidenced Observations."""

    def __init__(
        self, extractors: Sequence[type[Extractor]], weirds: Weirds, table: FlowTable,
        secrets: SecretHasher = EPHEMERAL, tracker: RemoteAccessTracker | None = None,
    ) -> None:
        self._extractors = tuple(extractors)
        self._ports = frozenset(p for e in self._extractors for p in e.ports)
        self._tracker = tracker
        self._secrets = secrets
        self._weirds = weirds
        self._table = table
        self._probe_order: dict[tuple[str, int], tuple[type[Extractor], ...]] = {}
        """Extractors to probe by (transport, server port): those of the port first."""
        self.capture = ""
        """The capture being read, for evidence."""

    # --- input --------------------------------------------------------------------------

    def stream(
        self, flow: Flow, d: int, ts: float, chunks: list[tuple[bytes, int]],
        out: list[Observation],
    ) -> None:
        """In-order TCP bytes of direction `d`, each chunk with the frame that carried it."""
        sess = _session(flow)
        for data, frame in chunks:
            if flow.done:
                return
            if sess.extractor is None:
                self._identify_stream(flow, sess, d, data, frame, out)
            elif not sess.stopped[d]:
                self._append(sess, d, data, frame)
                self._parse(flow, sess, d, ts, out)

    def datagram(
        self, flow: Flow, d: int, ts: float, data: bytes, frame: int, out: list[Observation]
    ) -> None:
        """One UDP payload of direction `d`."""
        sess = _session(flow)
        if sess.extractor is None:
            ext = self._probe(flow.id, data, "udp")
            sess.probes += 1
            if ext is None:
                if sess.probes >= MAX_UDP_PROBES:
                    self._finish(flow, sess, ts, out)
                return
            sess.extractor = ext
        if sess.stopped[d]:
            return
        self._append(sess, d, data, frame)
        self._parse(flow, sess, d, ts, out)

    def gap(self, flow: Flow, d: int, ts: float, out: list[Observation]) -> None:
        """Direction `d` lost bytes for good: its parser cannot resynchronise."""
        sess = _session(flow)
        if sess.extractor is not None and not sess.stopped[d]:
            self._weirds.add("tcp_content_gap")
            self._stop(flow, sess, d, ts, out)

    def conclude(self, flow: Flow, ts: float, out: list[Observation]) -> None:
        """The flow leaves the table: let its extractor say what it concluded, and emit the
        remote-access session it was."""
        sess = flow.session
        if sess is not None:
            self._finish(flow, sess, ts, out)
        if self._tracker is not None and (session := self._tracker.ended(flow, self.capture)) is not None:
            out.append(session)

    # --- identification -----------------------------------------------------------------

    def _identify_stream(
        self, flow: Flow, sess: Session, d: int, data: bytes, frame: int,
        out: list[Observation],
    ) -> None:
        head = sess.probe_bufs[d] + data
        sess.inspected[d] += len(data)
        if len(head) < PROBE_MIN:
            sess.probe_bufs[d] = head
            return
        sess.probe_bufs[d] = b""
        ext = self._probe(flow.id, head, "tcp")
        if ext is None and len(head) > len(data) >= PROBE_MIN:
            # The short bytes before were a message of their own ("STLS\r\n"): this
            # segment starts the next one.
            head = data
            ext = self._probe(flow.id, head, "tcp")
        if ext is None:
            if sum(sess.inspected) >= IDENTIFY_BUDGET:
                self._finish(flow, sess, flow.last, out)
            return
        sess.extractor = ext
        sess.inspected = [0, 0]
        sess.probe_bufs = [b"", b""]
        self._append(sess, d, head, frame)
        self._parse(flow, sess, d, flow.last, out)

    def _probe(self, fid: FlowId, head: bytes, transport: str) -> Extractor | None:
        port = fid.resp.port
        key = (transport, port if port in self._ports else -1)  # ports no extractor names: one order
        ordered = self._probe_order.get(key)
        if ordered is None:
            ordered = self._probe_order[key] = tuple(sorted(
                (e for e in self._extractors if transport in e.transports),
                key=lambda e: port not in e.ports,
            ))
        for cls in ordered:
            try:
                claimed = cls.probe(head)
            except Exception:  # a probe's bug must not stop the sensor: that extractor declines
                self._weirds.add(f"extractor_bug_{cls.name}_probe")
                continue
            if claimed:
                return cls(self._secrets)
        return None

    # --- parsing ------------------------------------------------------------------------

    def _append(self, sess: Session, d: int, data: bytes, frame: int) -> None:
        buf = sess.bufs[d]
        buf += data
        sess.spans[d].append((len(buf), frame))
        table = self._table
        table.buffered += len(data)
        if table.buffered > table.stats.parser_peak:
            table.stats.parser_peak = table.buffered

    def _parse(self, flow: Flow, sess: Session, d: int, ts: float, out: list[Observation]) -> None:
        ext = sess.extractor
        assert ext is not None
        buf = sess.bufs[d]
        direction = _DIRECTIONS[d]
        while buf and not sess.stopped[d]:
            try:
                found, used = ext.parse(flow.id, direction, ts, bytes(buf))
            except ParseError as e:
                self._weirds.add(str(e))
                self._stop(flow, sess, d, ts, out)
                return
            except Exception:  # a bug in the extractor must not stop the sensor
                self._weirds.add(f"extractor_bug_{ext.name}")
                self._stop(flow, sess, d, ts, out)
                return
            self._drain_weirds(ext)
            held = ext.held
            if held != sess.held:
                self._table.buffered += held - sess.held
                sess.held = held
                if self._table.buffered > self._table.stats.parser_peak:
                    self._table.stats.parser_peak = self._table.buffered
            if self._table.buffered > self._table.limits.parser_memcap and (used <= 0 or held):
                self._table.stats.over_memory += 1  # this direction needs more than there is
                self._stop(flow, sess, d, ts, out)
                return
            if used <= 0:
                if len(buf) > ext.budget:
                    self._weirds.add(f"{ext.name}_message_too_large")
                    self._stop(flow, sess, d, ts, out)
                return
            self._consume(sess, d, min(used, len(buf)))
            if found:
                self._emit(flow, sess, found, sess.pending[d], out)
            if ext.upgraded:
                self._upgrade(flow, sess, ts, out)
                return
            if ext.finished:
                self._finish(flow, sess, ts, out)
                return
            if sess.inspected[d] >= ext.budget:
                self._stop(flow, sess, d, ts, out)

    def _consume(self, sess: Session, d: int, used: int) -> None:
        spans = sess.spans[d]
        pending = sess.pending[d]
        keep = []
        start = 0
        for end, frame in spans:
            if start < used:
                pending.add(frame)
            if end > used:
                keep.append((end - used, frame))
            start = end
        sess.spans[d] = keep
        del sess.bufs[d][:used]
        sess.inspected[d] += used
        self._table.buffered -= used

    def _emit(self, flow: Flow, sess: Session, found: Sequence[Observation], frames: set[int],
              out: list[Observation]) -> None:
        """Evidence the observations with the frames consumed for them (an answer that came with
        no frame of its own, never seen: the frames of its attempt); the tracker holds back
        remote-access sessions until their flow ends (and, live, reports when one starts)."""
        evidence = Evidence(capture=self.capture, frames=tuple(sorted(frames)))
        frames.clear()
        for obs in found:
            attempt = getattr(obs, "attempt", None)
            if attempt is None:
                ev = evidence
            elif isinstance(obs, AuthenticationOutcome):
                ev = evidence if evidence.frames else sess.attempt_evidence.get(attempt, evidence)
            else:
                ev = sess.attempt_evidence[attempt] = evidence
            # The one field that is the dispatcher's to fill (`Observation.evidence`), set in
            # place as a frozen dataclass's own __init__ does, before the observation goes
            # anywhere: `dataclasses.replace` would build every observation twice.
            object.__setattr__(obs, "evidence", ev)
            if self._tracker is None:
                out.append(obs)
            else:
                out.extend(self._tracker.observed(obs, flow))

    def _drain_weirds(self, ext: Extractor) -> None:
        if ext.weirds:
            for name in ext.weirds:
                self._weirds.add(name)
            ext.weirds.clear()

    def _stop(self, flow: Flow, sess: Session, d: int, ts: float, out: list[Observation]) -> None:
        sess.stopped[d] = True
        if flow.streams is not None:
            flow.streams[d].stop(self._table)
        self._table.buffered -= len(sess.bufs[d])
        sess.bufs[d] = bytearray()
        sess.spans[d] = []
        if all(sess.stopped):
            self._finish(flow, sess, ts, out)

    def _finish(self, flow: Flow, sess: Session, ts: float, out: list[Observation]) -> None:
        """The flow is done: conclude, free every buffer, and leave it to the counters."""
        self._close(flow, sess, ts, out)
        self._table.buffered -= len(sess.bufs[0]) + len(sess.bufs[1]) + sess.held
        flow.session = None
        self._table.release_streams(flow)
        flow.done = True

    def _upgrade(self, flow: Flow, sess: Session, ts: float, out: list[Observation]) -> None:
        """The extractor handed the connection over (to TLS): conclude it, then identify the
        bytes it left, and all that follows, as a new stream."""
        self._close(flow, sess, ts, out)
        self._table.buffered -= sess.held
        rest = []
        for d in (0, 1):
            buf, start = sess.bufs[d], 0
            for end, frame in sess.spans[d]:
                rest.append((d, bytes(buf[start:end]), frame))
                start = end
            self._table.buffered -= len(buf)
        flow.session = Session()
        for d, data, frame in rest:
            self.stream(flow, d, ts, [(data, frame)], out)

    def _close(self, flow: Flow, sess: Session, ts: float, out: list[Observation]) -> None:
        ext = sess.extractor
        if ext is not None:
            try:
                found = [*ext.close(flow.id, ts), *ext.unanswered(flow.id, ts)]
            except Exception:
                self._weirds.add(f"extractor_bug_{ext.name}")
                found = []
            self._drain_weirds(ext)
            if found:
                self._emit(flow, sess, found, sess.pending[0] | sess.pending[1], out)


def _session(flow: Flow) -> Session:
    sess = flow.session
    if sess is None:
        sess = flow.session = Session()
    assert isinstance(sess, Session)
    return sess
