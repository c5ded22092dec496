"""Addressing: DNS (RFC 1035; names compressed as servers do; over UDP and TCP) and DHCP
(RFC 2131, 2132; relayed with RFC 3046 agent information), each exchange returning the facts
it planted.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .capture import Capture, Facts
from .fixed import fixed_int
from .flows import TcpFlow, datagram, udp_exchange
from .link import Host, mac_bytes

DNS_SERVERS = ("10.10.0.53", "10.10.0.54")
"""The hospital's resolvers, which DHCP servers hand out."""
BROADCAST = Host("broadcast", "ff:ff:ff:ff:ff:ff", "255.255.255.255")

# --------------------------------------------------------------------------------------
# DNS (RFC 1035 4.1; name compression 4.1.4; over TCP 4.2.2)
# --------------------------------------------------------------------------------------

TYPE_A, TYPE_NS, TYPE_CNAME, TYPE_SOA, TYPE_AAAA = 1, 2, 5, 6, 28
TYPE_NAMES = {TYPE_A: "A", TYPE_NS: "NS", TYPE_CNAME: "CNAME", TYPE_SOA: "SOA", TYPE_AAAA: "AAAA"}
NOERROR, NXDOMAIN = 0, 3
RCODE_NAMES = {NOERROR: "NOERROR", NXDOMAIN: "NXDOMAIN"}
RD, RA, AA, TC, QR = 0x0100, 0x0080, 0x0400, 0x0200, 0x8000


@dataclass(frozen=True)
class Rr:
    """A resource record: `value` is an address (A, AAAA), a name (CNAME, NS) or, for SOA, the
    tuple (mname, rname, serial, refresh, retry, expire, minimum)."""

    name: str
    rtype: int
    ttl: int
    value: Any


class DnsWriter:
    """One DNS message being written; every name is compressed against the names already in
    it (the longest known suffix becomes a pointer), as servers do."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.known: dict[str, int] = {}

    def name(self, name: str) -> None:
        """A domain name, compressed."""
        labels = name.split(".")
        for i, label in enumerate(labels):
            suffix = ".".join(labels[i:]).lower()
            if suffix in self.known:
                self.buf += struct.pack("!H", 0xC000 | self.known[suffix])
                return
            if len(self.buf) < 0x3FFF:
                self.known[suffix] = len(self.buf)
            self.buf += bytes([len(label)]) + label.encode()
        self.buf += b"\x00"

    def record(self, rr: Rr) -> None:
        """Owner, type, class IN, TTL, RDLENGTH and RDATA (names inside compressed too)."""
        self.name(rr.name)
        self.buf += struct.pack("!HHI", rr.rtype, 1, rr.ttl)
        at = len(self.buf)
        self.buf += b"\x00\x00"
        if rr.rtype in (TYPE_A, TYPE_AAAA):
            self.buf += ipaddress.ip_address(rr.value).packed
        elif rr.rtype in (TYPE_CNAME, TYPE_NS):
            self.name(rr.value)
        else:
            mname, rname, *numbers = rr.value
            self.name(mname)
            self.name(rname)
            self.buf += struct.pack("!5I", *numbers)
        struct.pack_into("!H", self.buf, at, len(self.buf) - at - 2)


def dns_message(qid: int, flags: int, qname: str, qtype: int, answers: Sequence[Rr] = (),
                authority: Sequence[Rr] = (), additional: Sequence[Rr] = ()) -> bytes:
    """A whole DNS message with one question."""
    w = DnsWriter()
    w.buf += struct.pack("!6H", qid, flags, 1, len(answers), len(authority), len(additional))
    w.name(qname)
    w.buf += struct.pack("!HH", qtype, 1)
    for rr in (*answers, *authority, *additional):
        w.record(rr)
    return bytes(w.buf)


def dns_facts(client: Host, server: Host, transport: str, qname: str, qtype: int, rcode: int, flags: int,
              answers: Sequence[Rr]) -> Facts:
    """What a response says, as planted: the question, rcode, the answer section's addresses
    and CNAME chain in order, and its smallest TTL."""
    return {
        "client": client.ip, "server": server.ip, "transport": transport, "query": qname.lower(),
        "query_type": TYPE_NAMES[qtype], "rcode": RCODE_NAMES[rcode], "truncated": bool(flags & TC),
        "addresses": [rr.value for rr in answers if rr.rtype in (TYPE_A, TYPE_AAAA)],
        "cnames": [rr.value.lower() for rr in answers if rr.rtype == TYPE_CNAME],
        "ttl": min((rr.ttl for rr in answers), default=None),
    }


def dns_over_udp(cap: Capture, client: Host, sport: int, server: Host, at_ns: int, qname: str, qtype: int,
                 answers: Sequence[Rr] = (), *, rcode: int = NOERROR, flags: int = RD | RA,
                 authority: Sequence[Rr] = (), additional: Sequence[Rr] = ()) -> Facts:
    """A stub resolver's query and the server's response, 0.6 ms apart."""
    qid = fixed_int(f"{client.label}/{qname}/{qtype}/qid", 2)
    query = dns_message(qid, RD, qname, qtype)
    response = dns_message(qid, QR | flags | rcode, qname, qtype, answers, authority, additional)
    udp_exchange(cap, client, sport, server, 53, at_ns, query, response, reply_after_ns=600_000)
    return dns_facts(client, server, "udp", qname, qtype, rcode, flags, answers)


def dns_over_tcp(flow: TcpFlow, qname: str, qtype: int, answers: Sequence[Rr], *, flags: int = RD | RA) -> Facts:
    """A query and its response on one TCP connection, each with its 2-byte length."""
    qid = fixed_int(f"{flow.flow_id}/qid", 2)
    flow.handshake()
    for d, msg in (("c", dns_message(qid, RD, qname, qtype)),
                   ("s", dns_message(qid, QR | flags, qname, qtype, answers))):
        flow.send(d, struct.pack("!H", len(msg)) + msg)
    flow.close()
    return dns_facts(flow.hosts["c"], flow.hosts["s"], "tcp", qname, qtype, NOERROR, flags, answers)


# --------------------------------------------------------------------------------------
# DHCP (RFC 2131 messages, RFC 2132 options, RFC 3046 relay agent information)
# --------------------------------------------------------------------------------------

DISCOVER, OFFER, REQUEST, ACK, NAK, RELEASE = 1, 2, 3, 5, 6, 7
MESSAGE_NAMES = {DISCOVER: "discover", OFFER: "offer", REQUEST: "request", ACK: "ack", NAK: "nak",
                 RELEASE: "release"}
OPT_SUBNET, OPT_ROUTER, OPT_DNS, OPT_HOSTNAME, OPT_DOMAIN = 1, 3, 6, 12, 15
OPT_REQUESTED_IP, OPT_LEASE, OPT_MSG_TYPE, OPT_SERVER_ID, OPT_PARAMS = 50, 51, 53, 54, 55
OPT_MESSAGE, OPT_MAX_SIZE, OPT_T1, OPT_T2, OPT_VENDOR_CLASS, OPT_CLIENT_ID = 56, 57, 58, 59, 60, 61
OPT_RELAY_AGENT = 82
BOOTP_MIN = 300
"""Clients and servers pad messages to the BOOTP minimum (RFC 1542 2.1)."""


@dataclass(frozen=True)
class DhcpClient:
    """What a device says about itself in every message: hostname (12), vendor class (60),
    parameter request list (55); the client identifier (61) is type 1 + its MAC."""

    host: Host
    hostname: str
    vendor_class: str | None
    params: tuple[int, ...]

    @property
    def chaddr(self) -> bytes:
        """The hardware address field's 6 bytes."""
        return mac_bytes(self.host.mac)

    def identity(self) -> list[tuple[int, bytes]]:
        """Options 61, 12, 60, 55 in the order DHCP clients put them."""
        opts = [(OPT_CLIENT_ID, b"\x01" + self.chaddr), (OPT_HOSTNAME, self.hostname.encode())]
        if self.vendor_class:
            opts.append((OPT_VENDOR_CLASS, self.vendor_class.encode()))
        return [*opts, (OPT_PARAMS, bytes(self.params))]


def ip4(a: str) -> bytes:
    """Dotted IPv4 to 4 bytes."""
    return ipaddress.IPv4Address(a).packed


def dhcp_message(op: int, xid: int, chaddr: bytes, options: Sequence[tuple[int, bytes]], *, ciaddr: str = "0.0.0.0",
                 yiaddr: str = "0.0.0.0", siaddr: str = "0.0.0.0", giaddr: str = "0.0.0.0", hops: int = 0,
                 secs: int = 0, broadcast: bool = False) -> bytes:
    """A BOOTP/DHCP message: fixed header, magic cookie, options (in the given order), END,
    padded to the BOOTP minimum."""
    msg = struct.pack("!BBBBIHH", op, 1, 6, hops, xid, secs, 0x8000 if broadcast else 0) + b"".join(
        ip4(a) for a in (ciaddr, yiaddr, siaddr, giaddr)) + chaddr.ljust(16, b"\0") + bytes(64 + 128)
    msg += b"\x63\x82\x53\x63" + b"".join(bytes([code, len(v)]) + v for code, v in options) + b"\xff"
    return msg.ljust(BOOTP_MIN, b"\0")


def lease_facts(kind: int, client: DhcpClient, options: Sequence[tuple[int, bytes]], *, src: Host, sport: int,
                dst: Host, dport: int, ciaddr: str = "0.0.0.0", yiaddr: str = "0.0.0.0",
                giaddr: str = "0.0.0.0") -> Facts:
    """One message as planted: addressing, the BOOTP addresses, every option (hex), and the
    lease facts: the address concerned (yiaddr, else requested address, else ciaddr)."""
    opts = dict(options)

    def address(code: int) -> str | None:
        return str(ipaddress.IPv4Address(opts[code])) if code in opts else None

    def text(code: int) -> str | None:
        return opts[code].decode() if code in opts else None

    requested = address(OPT_REQUESTED_IP)
    concerned = [a for a in (yiaddr, requested, ciaddr) if a not in (None, "0.0.0.0")]
    lease = opts.get(OPT_LEASE)
    return {
        "src": f"{src.ip}:{sport}", "dst": f"{dst.ip}:{dport}", "message_type": MESSAGE_NAMES[kind],
        "client_mac": client.host.mac, "ciaddr": ciaddr, "yiaddr": yiaddr, "giaddr": giaddr,
        "requested_ip": requested, "ip": concerned[0] if concerned else None,
        "lease_seconds": struct.unpack("!I", lease)[0] if lease else None,
        "hostname": text(OPT_HOSTNAME), "vendor_class": text(OPT_VENDOR_CLASS),
        "parameter_list": list(opts.get(OPT_PARAMS, b"")),
        "client_id": opts[OPT_CLIENT_ID].hex() if OPT_CLIENT_ID in opts else None,
        "server_id": address(OPT_SERVER_ID),
        "options": {str(code): value.hex() for code, value in options},
    }


@dataclass
class DhcpWire:
    """Where DHCP messages of one exchange travel: between a client and its relay (the router's
    interface on the client's segment), or between the relay and the server."""

    cap: Capture
    at_ns: int

    def send(self, src: Host, sport: int, dst: Host, dport: int, msg: bytes, gap_us: int = 0) -> None:
        """One datagram, `gap_us` after the previous one."""
        self.at_ns += gap_us * 1000
        datagram(self.cap, src, sport, dst, dport, msg, self.at_ns)


def server_options(kind: int, server_ip: str, lease_s: int, subnet: str, router: str,
                   domain: str) -> list[tuple[int, bytes]]:
    """What the server puts in an OFFER or ACK (ISC dhcpd order)."""
    return [(OPT_MSG_TYPE, bytes([kind])), (OPT_SERVER_ID, ip4(server_ip)), (OPT_LEASE, struct.pack("!I", lease_s)),
            (OPT_T1, struct.pack("!I", lease_s // 2)), (OPT_T2, struct.pack("!I", lease_s * 7 // 8)),
            (OPT_SUBNET, ip4(subnet)), (OPT_ROUTER, ip4(router)), (OPT_DNS, b"".join(ip4(a) for a in DNS_SERVERS)),
            (OPT_DOMAIN, domain.encode())]


def relayed_ack(client: Host, hostname: str, lease_s: int, server_ip: str, relay_ip: str, domain: str) -> bytes:
    """A DHCPACK (RFC 2131) as the server sends it to a relay agent: `client.ip` leased to
    `client`'s MAC, its hostname (option 12) echoed."""
    options = [*server_options(ACK, server_ip, lease_s, "255.255.255.0", relay_ip, domain),
               (OPT_HOSTNAME, hostname.encode())]
    return dhcp_message(2, fixed_int(f"{hostname}/{client.ip}/xid", 4), mac_bytes(client.mac), options,
                        yiaddr=client.ip, giaddr=relay_ip)


def dhcp_dora(wire: DhcpWire, client: DhcpClient, relay: Host, server: Host, offered: str, lease_s: int,
              *, relayed: bool, agent_info: bytes = b"") -> list[Facts]:
    """DISCOVER, OFFER, REQUEST, ACK through the router's relay agent. Seen on the client's
    segment (`relayed` False): the client broadcasts from 0.0.0.0:68 (broadcast flag set), the
    relay answers from its interface to the broadcast address. Seen between relay and server
    (`relayed` True): the relay forwards to the server's port 67 from its interface address
    (giaddr, hops 1, option 82 appended), and the server answers the relay on port 67."""
    xid = fixed_int(f"{client.hostname}/xid", 4)
    unset = Host(client.host.label, client.host.mac, "0.0.0.0")
    facts = []
    for kind, gap in ((DISCOVER, 0), (OFFER, 1800), (REQUEST, 2100), (ACK, 1700)):
        from_client = kind in (DISCOVER, REQUEST)
        if from_client:
            options = [(OPT_MSG_TYPE, bytes([kind]))]
            if kind == REQUEST:
                options += [(OPT_REQUESTED_IP, ip4(offered)), (OPT_SERVER_ID, ip4(server.ip))]
            options += [(OPT_MAX_SIZE, struct.pack("!H", 576)), *client.identity()]
            if relayed:
                options.append((OPT_RELAY_AGENT, agent_info))
            src, sport, dst, dport = (relay, 67, server, 67) if relayed else (unset, 68, BROADCAST, 67)
            yiaddr, giaddr, hops = "0.0.0.0", relay.ip if relayed else "0.0.0.0", int(relayed)
        else:
            options = server_options(kind, server.ip, lease_s, "255.255.255.0", relay.ip, "clin.example.org")
            if relayed:
                options.append((OPT_RELAY_AGENT, agent_info))  # echoed to the relay, which strips it
            src, sport, dst, dport = (server, 67, relay, 67) if relayed else (relay, 67, BROADCAST, 68)
            yiaddr, giaddr, hops = offered, relay.ip, 0  # a reply keeps the giaddr the relay set
        msg = dhcp_message(1 if from_client else 2, xid, client.chaddr, options, yiaddr=yiaddr, giaddr=giaddr,
                           hops=hops, broadcast=True, secs=0 if kind == DISCOVER else 2)
        wire.send(src, sport, dst, dport, msg, gap)
        facts.append(lease_facts(kind, client, options, src=src, sport=sport, dst=dst, dport=dport, yiaddr=yiaddr,
                                 giaddr=giaddr))
    return facts


def dhcp_nak(wire: DhcpWire, client: DhcpClient, relay: Host, server_ip: str, old_ip: str) -> list[Facts]:
    """INIT-REBOOT after a move to another ward: the client broadcasts a REQUEST for its old
    address (option 50, no server identifier), the server NAKs it through the relay."""
    xid = fixed_int(f"{client.hostname}/reboot-xid", 4)
    unset = Host(client.host.label, client.host.mac, "0.0.0.0")
    request = [(OPT_MSG_TYPE, bytes([REQUEST])), (OPT_REQUESTED_IP, ip4(old_ip)),
               (OPT_MAX_SIZE, struct.pack("!H", 576)), *client.identity()]
    nak = [(OPT_MSG_TYPE, bytes([NAK])), (OPT_SERVER_ID, ip4(server_ip)), (OPT_MESSAGE, b"wrong network")]
    wire.send(unset, 68, BROADCAST, 67, dhcp_message(1, xid, client.chaddr, request, broadcast=True))
    wire.send(relay, 67, BROADCAST, 68, dhcp_message(2, xid, client.chaddr, nak, giaddr=relay.ip, broadcast=True),
              2400)
    return [lease_facts(REQUEST, client, request, src=unset, sport=68, dst=BROADCAST, dport=67),
            lease_facts(NAK, client, nak, src=relay, sport=67, dst=BROADCAST, dport=68, giaddr=relay.ip)]


def dhcp_release(wire: DhcpWire, client: DhcpClient, server: Host) -> Facts:
    """`ipconfig /release`: the client unicasts a RELEASE of its address (ciaddr) to the server."""
    xid = fixed_int(f"{client.hostname}/release-xid", 4)
    options = [(OPT_MSG_TYPE, bytes([RELEASE])), (OPT_SERVER_ID, ip4(server.ip)), client.identity()[0]]
    wire.send(client.host, 68, server, 67, dhcp_message(1, xid, client.chaddr, options, ciaddr=client.host.ip))
    return lease_facts(RELEASE, client, options, src=client.host, sport=68, dst=server, dport=67,
                       ciaddr=client.host.ip)


