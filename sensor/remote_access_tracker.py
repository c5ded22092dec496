"""Remote-access sessions: recognised during a connection, emitted when it ends.

A session's ledger line needs the whole connection (start, end, bytes each way), so the
`RemoteAccessSession` an extractor emits (RDP, VNC, SSH, a vendor tool's signature) is held
here until the flow leaves the table, then completed from the flow's counters. Live sensing
(`announce`) does not wait to tell: a session is also reported as soon as it is recognised, by
its protocol or by the name or certificate of its server (`RemoteAccessSessionStart`); one the
catalog knows only by a DNS answer, an address range or a port is known at its end only. Connections
no extractor claims become sessions when the catalog knows their server: by TLS SNI or a
certificate name seen on the connection, by a DNS answer seen earlier for the address, by
address range, or by server port. The catalog also gives protocol sessions their vendor
when it knows the vendor end.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import fields, replace

from .catalog import Catalog, Match
from .flowid import Endpoint
from .flows import Flow
from .records import (
    DnsAnswer,
    Evidence,
    Observation,
    Proto,
    RemoteAccessSession,
    RemoteAccessSessionStart,
    TlsCertificate,
    TlsClientHello,
)

MAX_DNS_NAMES = 65536
"""Addresses whose DNS names are remembered (least recently answered forgotten first)."""


class RemoteAccessTracker:
    """Holds each connection's remote-access facts until the connection ends."""

    def __init__(self, catalog: Catalog, announce: bool = False) -> None:
        self.catalog = catalog
        self.announce = announce
        """Live sensing: report each session when it is recognised too, not only when it ends."""
        self._held: dict[str, RemoteAccessSession] = {}
        self._matched: dict[str, tuple[Match, Observation]] = {}
        self._hellos: dict[str, Observation] = {}
        """The ClientHello of each connection the catalog did not know by its SNI: when a DNS
        answer, range or port then recognises it, the session is still TLS, evidenced there."""
        self._announced: set[str] = set()
        """Connections whose start was reported (live), until they end."""
        self._names: OrderedDict[str, tuple[str, ...]] = OrderedDict()
        """Address -> the names a DNS answer gave it (question and CNAME chain)."""

    def observed(self, obs: Observation, flow: Flow) -> tuple[Observation, ...]:
        """Learn from `obs` (of `flow`); what goes out now: `obs` itself, unless it is a session
        (held until its connection ends), and, when announcing, the start of a session it reveals."""
        uid = obs.flow.uid
        out: tuple[Observation, ...] = (obs,)
        if isinstance(obs, RemoteAccessSession):
            self._held.setdefault(uid, obs)
            out = ()
        elif isinstance(obs, TlsClientHello):
            if obs.server_name and (m := self.catalog.by_name(obs.server_name, "sni")) is not None:
                self._matched.setdefault(uid, (m, obs))
            else:
                self._hellos.setdefault(uid, obs)
        elif isinstance(obs, TlsCertificate) and obs.chain and obs.leaf.subject_cn:
            if (m := self.catalog.by_certificate(obs.leaf.subject_cn)) is not None:
                self._matched.setdefault(uid, (m, obs))
        elif isinstance(obs, DnsAnswer):
            for ip in obs.addresses:
                self._names[ip] = (obs.query, *obs.cnames)
                self._names.move_to_end(ip)
            while len(self._names) > MAX_DNS_NAMES:
                self._names.popitem(last=False)
        if self.announce and uid not in self._announced and (uid in self._held or uid in self._matched):
            session = self._recognised(flow, self._held.get(uid), self._matched.get(uid), None, "")
            if session is not None:
                self._announced.add(uid)
                started = self._complete(session, flow)
                out = (*out, RemoteAccessSessionStart(**{f.name: getattr(started, f.name) for f in fields(started)}))
        return out

    def ended(self, flow: Flow, capture: str) -> RemoteAccessSession | None:
        """The session of a connection leaving the table, if it was one."""
        uid = flow.id.uid
        self._announced.discard(uid)
        session = self._recognised(flow, self._held.pop(uid, None), self._matched.pop(uid, None),
                                   self._hellos.pop(uid, None), capture)
        return self._complete(session, flow) if session is not None else None

    def _recognised(self, flow: Flow, held: RemoteAccessSession | None, matched: tuple[Match, Observation] | None,
                    hello: Observation | None, capture: str) -> RemoteAccessSession | None:
        """The session a connection is, from what it showed so far: its protocol's session, the
        catalog entry its server name or certificate matched, else (at its end) its server's
        DNS name, address or port."""
        if held is not None:
            # A protocol session: the vendor end is the client when inbound, else the server.
            far = flow.id.orig if held.direction == "inbound" else flow.id.resp
            match = matched[0] if matched else self._by_endpoint(far, flow.id.transport, ports=False)
            if match is not None:
                # A vendor tool found by its own signature keeps its product; a protocol session
                # to a catalogued end becomes "<product> (RDP)".
                same = (match.entry.vendor, match.entry.product) == (held.vendor, held.product)
                held = replace(held, vendor=match.entry.vendor,
                               product=held.product if same else f"{match.entry.product} ({held.product})",
                               matched_by=f"{held.matched_by}; {match.how}",
                               remote_name=held.remote_name or match.name)
            return replace(held, remote_name=held.remote_name or self._name_of(far))
        if matched is not None:
            match, obs = matched
            ts, protocol, evidence = obs.ts, obs.protocol, obs.evidence
        else:
            found = self._by_endpoint(flow.id.resp, flow.id.transport, ports=True)
            if found is None:
                return None
            if hello is not None:
                match, ts, protocol, evidence = found, hello.ts, hello.protocol, hello.evidence
            else:
                match, ts, protocol, evidence = found, flow.first, Proto.REMOTE, Evidence(capture, (flow.first_frame,))
        e = match.entry
        far = flow.id.orig if e.direction == "inbound" else flow.id.resp
        return RemoteAccessSession(ts=ts, flow=flow.id, protocol=protocol, evidence=evidence, vendor=e.vendor,
                                   product=e.product, direction=e.direction, matched_by=match.how,
                                   remote_name=match.name or self._name_of(far))

    def _name_of(self, ep: Endpoint) -> str | None:
        """The name a DNS answer gave this end's address (the question asked), if one did: a
        session recognised by its certificate or signature still shows which host it reached."""
        names = self._names.get(ep.ip)
        return names[0] if names else None

    def _by_endpoint(self, ep: Endpoint, transport: str, *, ports: bool) -> Match | None:
        for name in self._names.get(ep.ip, ()):
            if (m := self.catalog.by_name(name, "dns")) is not None:
                return m
        if (m := self.catalog.by_address(ep.ip)) is not None:
            return m
        return self.catalog.by_port(transport, ep.port) if ports else None

    @staticmethod
    def _complete(session: RemoteAccessSession, flow: Flow) -> RemoteAccessSession:
        return replace(session, start=flow.first, end=flow.last, bytes_orig=flow.bytes[0], bytes_resp=flow.bytes[1])

