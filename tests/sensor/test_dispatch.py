"""The dispatcher: content first, port second; errors stop one direction; evidence."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import ClassVar

from trustwatch.sensor.decode import Packet
from trustwatch.sensor.dispatch import IDENTIFY_BUDGET, MAX_UDP_PROBES, Dispatcher
from trustwatch.sensor.flowid import Direction, FlowId
from trustwatch.sensor.flows import Flow, FlowTable
from trustwatch.sensor.limits import SensorLimits
from trustwatch.sensor.protocols.base import Extractor, ParseError
from trustwatch.sensor.records import Observation, Proto, TlsCertificateRequest
from trustwatch.sensor.secrets import EPHEMERAL, SecretHasher
from trustwatch.sensor.weird import Weirds


class LineExtractor(Extractor):
    """Toy protocol: lines after a "HELLO" opener; "BAD" is invalid, "BOOM" a bug, "END"
    finishes. Each line becomes an observation."""

    name = "line"
    transports = frozenset({"tcp", "udp"})
    ports: ClassVar[frozenset[int]] = frozenset({7000})
    budget = 64

    def __init__(self, secrets: SecretHasher = EPHEMERAL) -> None:
        super().__init__(secrets)
        self.done = False
        self.closed_with: list[str] = []

    @staticmethod
    def probe(first: bytes) -> bool:
        return first.startswith(b"HELLO")

    @property
    def finished(self) -> bool:
        return self.done

    def parse(self, flow: FlowId, direction: Direction, ts: float, buf: bytes
              ) -> tuple[Sequence[Observation], int]:
        end = buf.find(b"\n")
        if end < 0:
            return [], 0
        line = buf[:end].decode()
        if line == "BAD":
            raise ParseError("line_bad")
        if line == "BOOM":
            raise KeyError("bug")
        if line == "ODD":
            self.weirds.append("line_odd")
        self.done = line == "END"
        return [TlsCertificateRequest(ts=ts, flow=flow, protocol=Proto.TLS, ca_names=(line,))], end + 1

    def close(self, flow: FlowId, ts: float) -> Sequence[Observation]:
        return [TlsCertificateRequest(ts=ts, flow=flow, protocol=Proto.TLS, ca_names=("closed",))]


class OtherExtractor(LineExtractor):
    name = "other"
    ports = frozenset({7001})


def setup(dport: int = 7000, extractors: tuple[type[Extractor], ...] = (LineExtractor,)
          ) -> tuple[Dispatcher, Flow, Weirds]:
    weirds = Weirds()
    table = FlowTable(frozenset(), lambda f, now: None)
    pkt = Packet()
    pkt.src, pkt.dst, pkt.proto, pkt.flags = b"\x0a\0\0\x01", b"\x0a\0\0\x02", 6, 0x02
    pkt.ports = struct.pack(">HH", 50000, dport)
    flow, _ = table.create(pkt, 1.0)
    disp = Dispatcher(extractors, weirds, table)
    disp.capture = "cap.pcap"
    return disp, flow, weirds


def names(out: list[Observation]) -> list[str]:
    return [o.ca_names[0] for o in out if isinstance(o, TlsCertificateRequest)]


def test_messages_split_over_segments_carry_their_frames() -> None:
    disp, flow, _ = setup()
    out: list[Observation] = []
    disp.stream(flow, 0, 1.0, [(b"HELLO\nab", 3)], out)
    disp.stream(flow, 0, 1.0, [(b"c", 4), (b"d\nef\n", 5)], out)
    assert names(out) == ["HELLO", "abcd", "ef"]
    assert [o.evidence.frames for o in out] == [(3,), (3, 4, 5), (5,)]
    assert {o.evidence.capture for o in out} == {"cap.pcap"}


def test_unknown_opener_then_upgrade_is_found_at_a_segment_boundary() -> None:
    disp, flow, _ = setup(dport=25)
    out: list[Observation] = []
    disp.stream(flow, 0, 1.0, [(b"EHLO example\r\n", 1), (b"STARTTLS\r\n", 3)], out)
    disp.stream(flow, 1, 1.0, [(b"220 go ahead\r\n", 4)], out)
    disp.stream(flow, 0, 1.0, [(b"HELLO\nx\n", 5)], out)
    assert names(out) == ["HELLO", "x"]


def test_unidentified_flow_is_done_after_the_budget() -> None:
    disp, flow, _ = setup()
    out: list[Observation] = []
    for i in range(IDENTIFY_BUDGET // 1000 + 1):
        disp.stream(flow, i % 2, 1.0, [(b"x" * 1000, i)], out)
    assert flow.done and flow.session is None and out == []


def test_parse_error_stops_one_direction_only() -> None:
    disp, flow, weirds = setup()
    out: list[Observation] = []
    disp.stream(flow, 0, 1.0, [(b"HELLO\nBAD\nlost\n", 1)], out)
    disp.stream(flow, 1, 1.0, [(b"fine\n", 2)], out)
    assert names(out) == ["HELLO", "fine"]
    assert weirds.counts["line_bad"] == 1
    assert not flow.done


def test_a_bug_in_an_extractor_is_counted_not_raised() -> None:
    disp, flow, weirds = setup()
    out: list[Observation] = []
    disp.stream(flow, 0, 1.0, [(b"HELLO\nBOOM\n", 1)], out)
    disp.stream(flow, 1, 1.0, [(b"BOOM\n", 2)], out)
    assert weirds.counts["extractor_bug_line"] == 2
    assert flow.done
    assert names(out) == ["HELLO", "closed"]


class CrashingProbe(LineExtractor):
    """A probe with a bug (as LDAP's once raised IndexError on eight bytes)."""

    name = "crashing"

    @staticmethod
    def probe(first: bytes) -> bool:
        return bool(first[1000])


def test_a_bug_in_a_probe_is_counted_and_the_next_extractor_is_asked() -> None:
    disp, flow, weirds = setup(extractors=(CrashingProbe, LineExtractor))
    out: list[Observation] = []
    disp.stream(flow, 0, 1.0, [(b"HELLO\nab\n", 1)], out)
    disp.datagram(flow, 0, 1.0, b"HELLO", 2, out)
    assert names(out) == ["HELLO", "ab"]
    assert weirds.counts["extractor_bug_crashing_probe"] == 1
    udp_disp, udp_flow, udp_weirds = setup(extractors=(CrashingProbe,))
    udp_disp.datagram(udp_flow, 0, 1.0, b"anything", 1, out)
    assert udp_weirds.counts["extractor_bug_crashing_probe"] == 1


def test_finished_extractor_concludes_and_frees_the_flow() -> None:
    disp, flow, weirds = setup()
    out: list[Observation] = []
    disp.stream(flow, 0, 1.0, [(b"HELLO\nODD\nEND\nmore\n", 9)], out)
    assert names(out) == ["HELLO", "ODD", "END", "closed"]
    assert flow.done and flow.session is None
    assert weirds.counts["line_odd"] == 1


def test_budget_and_oversized_messages_stop_a_direction() -> None:
    disp, flow, weirds = setup()
    out: list[Observation] = []
    disp.stream(flow, 0, 1.0, [(b"HELLO\n" + b"y" * 100, 1)], out)
    assert weirds.counts["line_message_too_large"] == 1
    disp.stream(flow, 1, 1.0, [(b"z\n" * 40, 2)], out)
    assert flow.done  # the other direction ran out of budget
    assert len(names(out)) < 40


def test_port_breaks_ties_between_probes() -> None:
    disp, flow, _ = setup(dport=7001, extractors=(LineExtractor, OtherExtractor))
    out: list[Observation] = []
    disp.stream(flow, 0, 1.0, [(b"HELLO\nxy\n", 1)], out)
    assert flow.session.extractor.name == "other"


def test_udp_gives_up_after_some_datagrams() -> None:
    disp, flow, _ = setup()
    out: list[Observation] = []
    for i in range(MAX_UDP_PROBES - 1):
        disp.datagram(flow, 0, 1.0, b"noise", i, out)
    assert not flow.done
    disp.datagram(flow, 0, 1.0, b"noise", MAX_UDP_PROBES, out)
    assert flow.done


def test_gap_stops_the_direction() -> None:
    disp, flow, weirds = setup()
    out: list[Observation] = []
    disp.stream(flow, 0, 1.0, [(b"HELLO\npart", 1)], out)
    disp.gap(flow, 0, 1.0, out)
    disp.stream(flow, 0, 1.0, [(b"ial\n", 2)], out)
    assert names(out) == ["HELLO"]
    assert weirds.counts["tcp_content_gap"] == 1


class StartTlsExtractor(LineExtractor):
    """Toy cleartext protocol whose "STARTTLS" line hands the connection over."""

    name = "starttls"
    ports = frozenset({7002})

    @staticmethod
    def probe(first: bytes) -> bool:
        return first.startswith(b"GREET")

    def parse(self, flow: FlowId, direction: Direction, ts: float, buf: bytes
              ) -> tuple[Sequence[Observation], int]:
        found, used = super().parse(flow, direction, ts, buf)
        self.upgraded = buf.startswith(b"STARTTLS\n")
        return found, used


def test_an_upgrade_hands_the_rest_of_the_stream_to_the_next_protocol() -> None:
    disp, flow, _ = setup(dport=7002, extractors=(StartTlsExtractor, LineExtractor))
    out: list[Observation] = []
    disp.stream(flow, 0, 1.0, [(b"GREETING\nSTARTTLS\nHELLO\nsecure", 3)], out)
    disp.stream(flow, 0, 1.0, [(b"\n", 4)], out)
    assert names(out) == ["GREETING", "STARTTLS", "closed", "HELLO", "secure"]
    assert [o.evidence.frames for o in out] == [(3,), (3,), (), (3,), (3, 4)]
    assert not flow.done


class HoardingExtractor(LineExtractor):
    """Keeps every line it parses in a buffer of its own (as a handshake being reassembled)."""

    name = "hoard"

    def __init__(self, secrets: SecretHasher = EPHEMERAL) -> None:
        super().__init__(secrets)
        self.kept = bytearray()

    @property
    def held(self) -> int:
        return len(self.kept)

    def parse(self, flow: FlowId, direction: Direction, ts: float, buf: bytes
              ) -> tuple[Sequence[Observation], int]:
        found, used = super().parse(flow, direction, ts, buf)
        self.kept += buf[:used]
        return found, used


def test_what_extractors_keep_counts_against_the_parser_memcap() -> None:
    """Forty connections each keeping what they read: the table's count of held bytes stays
    under the cap plus one line per connection, the cap counts, and finished flows give back
    all they held."""
    weirds = Weirds()
    table = FlowTable(frozenset(), lambda f, now: None, SensorLimits(parser_memcap=1000))
    disp = Dispatcher((HoardingExtractor,), weirds, table)
    flows = []
    out: list[Observation] = []
    for i in range(40):
        pkt = Packet()
        pkt.src, pkt.dst, pkt.proto, pkt.flags = b"\x0a\0\0\x01", b"\x0a\0\0\x02", 6, 0x02
        pkt.ports = struct.pack(">HH", 50000 + i, 7000)
        flow, _ = table.create(pkt, 1.0)
        flows.append(flow)
        for line in (b"HELLO\n", b"x" * 40 + b"\n", b"y" * 40 + b"\n"):
            disp.stream(flow, 0, 1.0, [(line, i)], out)
        assert table.buffered <= 1000 + 41 * 40
    assert table.stats.over_memory > 0
    for flow in flows:
        disp.conclude(flow, 2.0, out)
    assert table.buffered == 0
