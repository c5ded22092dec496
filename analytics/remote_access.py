"""The remote-access ledger: every session, its device, who relayed it, and whether it was approved.

The peer of every session is resolved against the inventory and the site's roles
(`analytics.roles`). A session an on-site vendor gateway relays (Siemens SRS, Philips RSN, GE
InSite: declared, or recognised by its fan-out) counts as that vendor's. A session between IT
hosts (admin RDP/SSH/VNC from a jump host or another server onto a server, both of criticality
low) is internal administration: in the ledger, approved, never a vendor finding. Any other
session is approved when its device is in the inventory and active, the device's
`remote_access` column names the session's vendor or product (or protocol: "RDP"; a session a
vendor gateway relays needs its vendor named), no user name of another vendor's service staff
is in it, and, when the site keeps a windows file, an approved window covers it: same vendor,
that device (by asset id) or its group (inventory department), session start and end inside
the window. Approved sessions raise nothing but stay in the ledger with the window's approver
and ticket.

Live sensing reports a session when it is recognised (`RemoteAccessSessionStart`) and again when
it ends: the ledger keeps one line per session, the end's, else the start's (still open).

Windows file (YAML):

    windows:
      - vendor: Philips
        device: MON-0101          # or  group: Radiology
        start: 2026-11-02T08:00:00Z
        end: 2026-11-02T12:00:00Z
        approver: J. Okafor (Clinical Engineering)
        ticket: CHG-10442
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..sensor.records import Proto, RemoteAccessSession, RemoteAccessSessionStart
from ..sensor.yamlfile import YamlError, load_yaml
from .correlate import Resolution, Sighting
from .ecs import connection, iso, stable_id
from .hostroles import HostRole
from .identities import IdentityKind
from .roles import Assigned, SiteRoles

REMOTE_PROTOCOLS = frozenset({Proto.RDP, Proto.VNC, Proto.SSH})
"""Protocols an inventory may approve by name ("RDP"), whoever the vendor."""
_WINDOW_KEYS = {"vendor", "device", "group", "start", "end", "approver", "ticket"}


class ApprovalWindowsError(ValueError):
    """The windows file is unusable: every problem, each naming the file, entry and field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class ApprovalWindow:
    """One approved maintenance window for a vendor."""

    vendor: str
    device: str | None
    """Asset id; None when the window is for a group."""
    group: str | None
    """Inventory department."""
    start: float
    end: float
    approver: str
    ticket: str
    source: str
    """file:entry, for the ledger."""

    def covers(self, session: RemoteAccessSession, asset_id: str, department: str, vendor: str = "") -> bool:
        """Whether this window approves `session` on that device (`vendor`: whose it counts as,
        when a gateway relayed it)."""
        if self.vendor.casefold() not in session_names(session) | {vendor.casefold()}:
            return False
        if self.device is not None and self.device != asset_id:
            return False
        if self.group is not None and self.group.casefold() != department.casefold():
            return False
        return self.start <= session.start and session.end <= self.end


@dataclass(frozen=True, slots=True)
class Relay:
    """The host a session came from, and the role it plays on the site."""

    device: Resolution
    role: Assigned

    def describe(self) -> str:
        """`GW-SRS-01 (Siemens Healthineers gateway)`."""
        label = self.device.asset.label if self.device.asset else self.device.ip
        return f"{label} ({self.role.describe()})"


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One session as the analyst reads it."""

    session: RemoteAccessSession
    sighting: Sighting
    """The device end, resolved."""
    approved: bool
    reason: str
    """Why it is (not) approved, e.g. "window CHG-10442 approved by J. Okafor"."""
    vendor: str = ""
    """Whose session it counts as: the session's vendor, else the vendor of the gateway that relayed
    it; empty when only the protocol is known."""
    relay: Relay | None = None
    """The host an inbound session came from, when it is a poller, jump host or vendor gateway."""
    internal: bool = False
    """Administration between IT hosts: recorded, never a vendor finding."""
    foreign_account: str = ""
    """The vendor whose service staff the session's user name belongs to, when the device approves
    another (or none)."""

    @property
    def open(self) -> bool:
        """Live: the session was recognised and has not ended yet."""
        return isinstance(self.session, RemoteAccessSessionStart)


def load_windows(path: str | Path) -> list[ApprovalWindow]:
    """The windows of a YAML file; `ApprovalWindowsError` lists every bad entry."""
    path = Path(path)
    try:
        doc = load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, YamlError) as e:
        raise ApprovalWindowsError([f"{path}: {e}"]) from None
    items = doc.get("windows") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise ApprovalWindowsError([f"{path}: expected a mapping with a `windows:` list"])
    problems: list[str] = []
    windows = []
    for i, item in enumerate(items, 1):
        window = _window(f"{path}:entry {i}", item, problems)
        if window is not None:
            windows.append(window)
    if problems:
        raise ApprovalWindowsError(problems)
    return windows


def _window(where: str, item: Any, problems: list[str]) -> ApprovalWindow | None:
    if not isinstance(item, dict):
        problems.append(f"{where}: each window is a mapping")
        return None
    before = len(problems)
    for key in sorted(set(item) - _WINDOW_KEYS):
        problems.append(f"{where}: {key}: unknown field (expected {', '.join(sorted(_WINDOW_KEYS))})")
    for key in ("vendor", "approver", "ticket"):
        if not str(item.get(key) or "").strip():
            problems.append(f"{where}: {key}: required")
    if (item.get("device") is None) == (item.get("group") is None):
        problems.append(f"{where}: device/group: give exactly one")
    times = [_time(item.get(key), f"{where}: {key}", problems) for key in ("start", "end")]
    if times[0] is not None and times[1] is not None and times[1] <= times[0]:
        problems.append(f"{where}: end: not after start")
    if len(problems) > before or times[0] is None or times[1] is None:
        return None
    return ApprovalWindow(
        vendor=str(item["vendor"]), device=None if item.get("device") is None else str(item["device"]),
        group=None if item.get("group") is None else str(item["group"]), start=times[0], end=times[1],
        approver=str(item["approver"]), ticket=str(item["ticket"]), source=where,
    )


def _time(value: Any, where: str, problems: list[str]) -> float | None:
    """An ISO time (YAML may have parsed it already); naive times are UTC."""
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            problems.append(f"{where}: not an ISO date-time: {value!r}")
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def session_names(session: RemoteAccessSession) -> set[str]:
    """What an inventory cell or a window may call a session by, casefolded: its vendor, its
    product, and its protocol when that is RDP, VNC or SSH."""
    names = {session.vendor.casefold(), session.product.casefold()} - {""}
    if session.protocol in REMOTE_PROTOCOLS:
        names.add(session.protocol.value)
    return names


def ledger(sightings: Iterable[Sighting], windows: Sequence[ApprovalWindow] | None,
           roles: SiteRoles | None = None) -> list[LedgerEntry]:
    """Every remote-access session of a run, in time order, with its verdict: one entry per
    connection (its end, else its start while it is open).

    `windows` None: the site keeps no windows file, the inventory alone decides."""
    roles = roles or SiteRoles()
    sessions: dict[str, Sighting] = {}
    for s in sightings:
        obs = s.presentation.obs
        if s.presentation.identity.kind is IdentityKind.REMOTE_ACCESS and isinstance(obs, RemoteAccessSession):
            held = sessions.get(obs.flow.uid)
            if held is None or isinstance(held.presentation.obs, RemoteAccessSessionStart):
                sessions[obs.flow.uid] = s
    entries = [_verdict(s, windows, roles) for s in sessions.values()]
    entries.sort(key=lambda e: (e.session.start, e.session.flow.uid))
    return entries


def _verdict(s: Sighting, windows: Sequence[ApprovalWindow] | None, roles: SiteRoles) -> LedgerEntry:
    session = s.presentation.obs
    assert isinstance(session, RemoteAccessSession)
    peer = s.peer if session.direction == "inbound" else None
    role = roles.of(peer.device_key) if peer else None
    relay = Relay(peer, role) if peer and role else None
    gateway = role.vendor if role and role.role is HostRole.VENDOR_GATEWAY and not session.vendor else ""
    vendor = session.vendor or gateway
    account = roles.account_vendor(session.user)

    def entry(approved: bool, reason: str, *, internal: bool = False, foreign: str = "") -> LedgerEntry:
        return LedgerEntry(session, s, approved, reason, vendor, relay, internal, foreign)

    asset = s.asset
    if asset is None:
        return entry(False, "device not in the inventory")
    if asset.status.gone:
        return entry(False, f"device is {asset.status.value}")
    approves = {v.casefold() for v in asset.remote_access}
    listed = ", ".join(asset.remote_access) or "none"
    if not vendor and not account and roles.it_host(peer) and roles.it_host(s):
        source = relay.describe() if relay else peer.asset.label if peer and peer.asset else ""
        return entry(True, f"internal administration from {source}, both IT hosts", internal=True)
    if account and account.casefold() not in approves:
        return entry(False, f"user {session.user!r} is a service account of {account}; the inventory approves "
                            f"{listed} for this device", foreign=account)
    if gateway and gateway.casefold() not in approves:
        return entry(False, f"relayed by the {role.describe() if role else ''}; the inventory approves {listed} "
                            f"for this device, not {gateway}")
    if not gateway and not approves & session_names(session):
        return entry(False, f"inventory approves {listed} for this device, not {vendor or session.product}")
    if windows is None:
        return entry(True, "approved by the inventory")
    for w in windows:
        if w.covers(session, asset.asset_id, asset.department, vendor):
            return entry(True, f"window {w.ticket} approved by {w.approver}")
    return entry(False, f"outside every approved window for {vendor or session.product}")


def tool_name(session: RemoteAccessSession) -> str:
    """"TeamViewer", "GE HealthCare InSite / OnWatch remote service", "RDP": vendor and product, once."""
    if not session.vendor or session.product.startswith(session.vendor):
        return session.product
    return f"{session.vendor} {session.product}"


def ledger_record(entry: LedgerEntry) -> dict[str, Any]:
    """One ledger line as an ECS document (`--ledger`): `event.action: remote-access-session`,
    `event.id` (stable per session), start, end and duration (ns), `source` (the client) and
    `destination` (the server) with the bytes each sent, `network.direction` (inbound: reaching in;
    outbound: a device calling out), `network.community_id`, `user.name`, `related`; the tool and
    the verdict (`trustwatch.remote_access`), the device end and the far end with what it is
    (`trustwatch.device`, `trustwatch.remote`), the gateway or jump host that relayed it
    (`trustwatch.relay`)."""
    s, where = entry.session, entry.sighting
    device_end, far = (s.flow.resp, s.flow.orig) if s.direction == "inbound" else (s.flow.orig, s.flow.resp)
    flow = connection(s.flow)
    destination = {**flow["destination"], "bytes": s.bytes_resp}
    if s.remote_name and far is s.flow.resp:
        destination["domain"] = s.remote_name
    doc: dict[str, Any] = {
        "@timestamp": iso(s.start),
        "event": {"kind": "event", "id": stable_id("remote-access-session", s.flow.uid, repr(s.start)),
                  "category": ["network", "session"], "type": ["connection"], "action": s.action,
                  "start": iso(s.start), "end": iso(s.end), "duration": round(s.duration * 1e9),
                  "dataset": "trustwatch.remote_access"},
        "source": {**flow["source"], "bytes": s.bytes_orig},
        "destination": destination,
        "network": {"protocol": str(s.protocol), **flow["network"], "direction": s.direction},
    }
    if s.user:
        doc["user"] = {"name": s.user}
    hosts = [h for h in (where.asset.asset_id if where.asset else None, where.asset.hostname if where.asset else None,
                         s.remote_name) if h]
    doc["related"] = {"ip": list(dict.fromkeys((s.flow.orig.ip, s.flow.resp.ip))), "hosts": hosts,
                      "user": [s.user] if s.user else []}
    relay = entry.relay
    doc["trustwatch"] = {
        "remote_access": {
            "vendor": entry.vendor, "product": s.product, "tool": tool_name(s), "matched_by": s.matched_by,
            "client_software": s.client_software, "server_software": s.server_software,
            "hassh": s.hassh, "hassh_server": s.hassh_server, "security": list(s.security),
            "approved": entry.approved, "reason": entry.reason, "internal": entry.internal,
            "foreign_account": entry.foreign_account or None, "open": entry.open,
        },
        "device": {"key": where.device_key, "asset_id": where.asset.asset_id if where.asset else None,
                   "label": where.asset.label if where.asset else f"unknown {device_end.ip}",
                   "ip": device_end.ip, "mac": where.mac, "match": str(where.method)},
        "remote": {"ip": far.ip, "port": far.port, "name": s.remote_name,
                   "key": where.peer.device_key if where.peer else None,
                   "asset_id": where.peer.asset.asset_id if where.peer and where.peer.asset else None},
        "relay": {"role": str(relay.role.role), "vendor": relay.role.vendor or None, "basis": relay.role.basis}
        if relay else None,
        "evidence": {"capture": s.evidence.capture, "frames": list(s.evidence.frames)},
    }
    return doc
