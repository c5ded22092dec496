"""DHCP (RFC 2131, options RFC 2132): who holds which address, and what the device says it is.

Every message of a conversation is read (DISCOVER to ACK, RELEASE, INFORM): the MAC-to-IP
binding with its lease time is what lets identity resolution follow a device that changes
address, and hostname (12), vendor class (60), parameter list (55) and client id (61) are
a device-class fingerprint. Each datagram is one message; options are walked bounded.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Sequence
from typing import ClassVar

from ..flowid import Direction, FlowId
from ..records import DhcpLease, Observation, Proto
from ..wire import Reader
from .base import Extractor, ParseError

MAGIC = b"\x63\x82\x53\x63"
FIXED = 236
"""BOOTP header bytes before the magic cookie."""
OPT_PAD, OPT_END = 0, 255
OPT_HOSTNAME, OPT_REQUESTED_IP, OPT_LEASE, OPT_MSG_TYPE, OPT_SERVER_ID = 12, 50, 51, 53, 54
OPT_PARAMS, OPT_VENDOR_CLASS, OPT_CLIENT_ID = 55, 60, 61
MESSAGE_TYPES = {1: "discover", 2: "offer", 3: "request", 4: "decline", 5: "ack", 6: "nak", 7: "release",
                 8: "inform"}
MAX_TEXT = 255
"""An option is at most 255 bytes; longer text cannot come from one."""


class DhcpExtractor(Extractor):
    """Every DHCP message of one UDP conversation."""

    name = "dhcp"
    transports: ClassVar[frozenset[str]] = frozenset({"udp"})
    ports: ClassVar[frozenset[int]] = frozenset({67, 68})
    budget = 1 << 20
    """Leases renew for a device's whole life: read them all (one conversation idles out in
    a minute anyway)."""

    @staticmethod
    def probe(first: bytes) -> bool:
        """BOOTP op 1/2, Ethernet hardware type, and the DHCP magic cookie."""
        return len(first) >= FIXED + 4 and first[0] in (1, 2) and first[1] == 1 and first[FIXED:FIXED + 4] == MAGIC

    def parse(
        self, flow: FlowId, direction: Direction, ts: float, buf: bytes
    ) -> tuple[Sequence[Observation], int]:
        if not self.probe(buf):
            raise ParseError("dhcp_not_bootp")
        hlen = buf[2]
        if not 1 <= hlen <= 16:
            raise ParseError("dhcp_bad_hlen")
        ciaddr, yiaddr = buf[12:16], buf[16:20]
        mac = buf[28 : 28 + hlen].hex("-").upper()
        opts = _options(buf[FIXED + 4 :])
        kind = opts.get(OPT_MSG_TYPE, b"")
        if len(kind) != 1:
            self.weirds.append("dhcp_no_message_type")
            return [], len(buf)
        message_type = MESSAGE_TYPES.get(kind[0], f"type {kind[0]}")
        ip = _ip(yiaddr) or _ip(opts.get(OPT_REQUESTED_IP, b"")) or _ip(ciaddr)
        lease = opts.get(OPT_LEASE)
        server = opts.get(OPT_SERVER_ID)
        client_id = opts.get(OPT_CLIENT_ID)
        return [DhcpLease(
            ts=ts, flow=flow, protocol=Proto.DHCP, message_type=message_type, client_mac=mac, ip=ip,
            lease_seconds=struct.unpack("!I", lease)[0] if lease and len(lease) == 4 else None,
            hostname=_text(opts.get(OPT_HOSTNAME)), vendor_class=_text(opts.get(OPT_VENDOR_CLASS)),
            parameter_list=tuple(opts.get(OPT_PARAMS, b"")),
            client_id=client_id.hex() if client_id else None,
            server_id=_ip(server) if server else None,
        )], len(buf)


def _options(data: bytes) -> dict[int, bytes]:
    """Option code -> value (RFC 3396 long options concatenated); stops at END or at the end
    of the datagram, raises on an option running past it."""
    opts: dict[int, bytes] = {}
    r = Reader(data, "dhcp_option_truncated")
    while r.left:
        code = r.uint(1)
        if code == OPT_END:
            break
        if code != OPT_PAD:
            opts[code] = opts.get(code, b"") + r.vector(1)
    return opts


def _ip(raw: bytes) -> str | None:
    """A non-zero IPv4 address, dotted."""
    return str(ipaddress.IPv4Address(raw)) if len(raw) == 4 and raw != b"\0\0\0\0" else None


def _text(raw: bytes | None) -> str | None:
    """Printable text of an option (NUL padding removed)."""
    if not raw:
        return None
    return raw[:MAX_TEXT].rstrip(b"\0").decode("utf-8", "replace") or None
