"""DNS responses (RFC 1035 4.1): which names an address stands for.

Only responses with address answers are emitted: they name the hosts devices talk to (a
vendor's remote-service host, shown in alerts and matched against the catalog). Over UDP a
datagram is one message; over TCP each message has a 2-byte length. Names are read with
compression pointers followed backwards only, so a loop cannot hang the parser: a pointer that
does not point back (at itself or ahead, as every loop needs one to) is the weird
`dns_pointer_loop`, also in the question the probe reads.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from collections.abc import Sequence
from typing import ClassVar

from ..flowid import Direction, FlowId
from ..records import DnsAnswer, Observation, Proto
from .base import Extractor, ParseError

HEADER = 12
TYPE_A, TYPE_CNAME, TYPE_AAAA = 1, 5, 28
TYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA", 33: "SRV", 65: "HTTPS"}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
MAX_NAME = 255
MAX_RECORDS = 64
"""Answers read per message; more is not an answer a device asked for."""
MAX_TCP_MESSAGE = 16 * 1024


class _PointerLoop(ParseError):
    """A compression pointer that does not point back: the message is DNS, crafted to loop."""


class DnsExtractor(Extractor):
    """The responses of one DNS conversation (UDP, or TCP with length prefixes)."""

    name = "dns"
    transports: ClassVar[frozenset[str]] = frozenset({"udp", "tcp"})
    ports: ClassVar[frozenset[int]] = frozenset({53})
    budget = 256 * 1024

    @staticmethod
    def probe(first: bytes) -> bool:
        """A standard query or response with one well-formed question (what resolvers send);
        over TCP the same after the 2-byte length. A question that loops is taken: the
        parser counts it (`dns_pointer_loop`) rather than the flow going unnamed."""
        for msg in (first, first[2:]):
            try:
                if _looks_like_dns(msg):
                    return True
            except _PointerLoop:
                return True
            except (ParseError, IndexError, struct.error):
                continue
        return False

    def parse(
        self, flow: FlowId, direction: Direction, ts: float, buf: bytes
    ) -> tuple[Sequence[Observation], int]:
        if flow.transport == "udp":
            return self._message(flow, ts, buf), len(buf)
        if len(buf) < 2:
            return [], 0
        n = struct.unpack_from("!H", buf)[0]
        if not HEADER <= n <= MAX_TCP_MESSAGE:
            raise ParseError("dns_bad_tcp_length")
        if len(buf) < 2 + n:
            return [], 0
        return self._message(flow, ts, buf[2 : 2 + n]), 2 + n

    def _message(self, flow: FlowId, ts: float, msg: bytes) -> list[Observation]:
        if len(msg) < HEADER:
            raise ParseError("dns_truncated_header")
        _id, flags, qd, an = struct.unpack_from("!HHHH", msg)
        if not flags & 0x8000 or qd != 1:
            return []  # queries, and the rare multi-question message
        try:
            qname, pos = _name(msg, HEADER)
            qtype = struct.unpack_from("!H", msg, pos)[0]
            pos += 4
            addresses, cnames, ttls = [], [], []
            for _ in range(min(an, MAX_RECORDS)):
                _owner, pos = _name(msg, pos)
                rtype, _rclass, ttl, rdlen = struct.unpack_from("!HHIH", msg, pos)
                pos += 10
                rdata = msg[pos : pos + rdlen]
                if len(rdata) != rdlen:
                    raise ParseError("dns_truncated_record")
                if rtype == TYPE_A and rdlen == 4:
                    addresses.append(socket.inet_ntoa(rdata))
                elif rtype == TYPE_AAAA and rdlen == 16:
                    addresses.append(str(ipaddress.IPv6Address(rdata)))
                elif rtype == TYPE_CNAME:
                    cnames.append(_name(msg, pos)[0])
                else:
                    pos += rdlen
                    continue
                ttls.append(ttl)
                pos += rdlen
        except (IndexError, struct.error):
            raise ParseError("dns_truncated_record") from None
        if not addresses:
            return []
        return [DnsAnswer(ts=ts, flow=flow, protocol=Proto.DNS, query=qname, query_type=TYPES.get(qtype, str(qtype)),
                          rcode=RCODES.get(flags & 0xF, str(flags & 0xF)), addresses=tuple(addresses),
                          cnames=tuple(cnames), ttl=min(ttls))]


def _looks_like_dns(msg: bytes) -> bool:
    if len(msg) < HEADER + 5:
        return False
    flags, qd = struct.unpack_from("!HH", msg, 2)
    if qd != 1 or (flags >> 11) & 0xF != 0 or flags & 0x0040:
        return False  # opcode QUERY, the reserved Z bit clear
    _qname, pos = _name(msg, HEADER)
    qclass = struct.unpack_from("!H", msg, pos + 2)[0]
    return qclass in (1, 255)


def _name(msg: bytes, pos: int) -> tuple[str, int]:
    """The name at `pos` (lower case, no trailing dot) and the offset after it."""
    labels: list[str] = []
    end = None
    size = 0
    while True:
        n = msg[pos]
        if n & 0xC0 == 0xC0:
            target = ((n & 0x3F) << 8) | msg[pos + 1]
            if target >= pos:
                raise _PointerLoop("dns_pointer_loop")
            if end is None:
                end = pos + 2
            pos = target
            continue
        if n & 0xC0:
            raise ParseError("dns_bad_label")
        if n == 0:
            break
        label = msg[pos + 1 : pos + 1 + n]
        if len(label) != n:
            raise ParseError("dns_truncated_name")
        size += n + 1
        if size > MAX_NAME:
            raise ParseError("dns_name_too_long")
        labels.append(label.decode("ascii", "replace").lower())
        pos += 1 + n
    return ".".join(labels), (end if end is not None else pos + 1)
