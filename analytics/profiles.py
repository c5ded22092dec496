"""What the network says about a device: DHCP host name, vendor class (option 60) and
parameter-request list (option 55, a fingerprint of the DHCP client), the manufacturer its
MAC's OUI is registered to, and when it was first and last seen in the run.

The OUI registry is the IEEE's (MA-L assignments and the older IAB blocks), as the `netaddr`
package ships it inside its wheel: it works offline, and a newer netaddr brings newer
assignments. A locally administered MAC (the 0x02 bit of the first byte: randomised by a phone
or laptop, or made up by a hypervisor) is registered to nobody, and is said to be so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from netaddr import EUI, AddrFormatError, NotRegisteredError

from ..sensor.records import DhcpLease, Observation
from .inventory import normalise_mac


@dataclass(frozen=True, slots=True)
class DeviceProfile:
    """The network's facts about one device."""

    hostname: str | None = None
    """DHCP option 12 (or the server's answer), as the device names itself."""
    vendor_class: str | None = None
    """DHCP option 60, e.g. `MSFT 5.0`, `android-dhcp-13`, `dhcpcd-9.4.1:Linux-6.1.21-v8+:aarch64`."""
    parameter_list: tuple[int, ...] = ()
    """DHCP option 55: which options the client asks for, in its order (an OS fingerprint)."""
    manufacturer: str | None = None
    """The organisation the MAC's OUI is registered to (IEEE); None when unregistered or no MAC."""
    locally_administered: bool = False
    """The MAC is locally administered (randomised or virtual): no manufacturer to find."""
    first_seen: float | None = None
    last_seen: float | None = None
    """Packet times of the device's first and last packets seen in the run."""

    def describe(self) -> str:
        """One sentence for messages, e.g. `DHCP host name 'raspberrypi', ...; seen 07:03 to 07:31 UTC`."""
        dhcp = []
        if self.hostname:
            dhcp.append(f"host name {self.hostname!r}")
        if self.vendor_class:
            dhcp.append(f"vendor class {self.vendor_class!r}")
        if self.parameter_list:
            dhcp.append(f"parameter list {','.join(map(str, self.parameter_list))}")
        parts = [f"DHCP {', '.join(dhcp)}"] if dhcp else []
        if self.manufacturer:
            parts.append(f"MAC registered to {self.manufacturer}")
        elif self.locally_administered:
            parts.append("locally administered MAC (randomised or virtual)")
        if self.first_seen is not None and self.last_seen is not None:
            parts.append(f"seen {_minute(self.first_seen)} to {_minute(self.last_seen)}")
        return "; ".join(parts)


def _minute(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


@cache
def registered_manufacturer(mac: str) -> str | None:
    """The organisation the IEEE registry lists for the OUI (or IAB) of `mac`; None if none."""
    try:
        eui = EUI(mac)
    except (AddrFormatError, TypeError, ValueError):
        return None
    try:
        return str(eui.oui.registration().org)
    except NotRegisteredError:
        pass
    if eui.is_iab():
        try:
            return str(eui.iab.registration().org)
        except NotRegisteredError:
            pass
    return None


def locally_administered(mac: str) -> bool:
    """The U/L bit of the first octet: set on MACs no manufacturer assigned."""
    return bool(int(mac[:2], 16) & 0x02)


@dataclass(frozen=True, slots=True)
class _Dhcp:
    hostname: str | None = None
    vendor_class: str | None = None
    parameter_list: tuple[int, ...] = ()


class NetworkFacts:
    """One run's DHCP facts by client MAC, and packet times by MAC and by IP.

    Router MACs (`correlate.router_macs`) are left out: a router's MAC on a routed packet says
    nothing about the device behind it."""

    def __init__(self, observations: Iterable[Observation] = (), routers: Iterable[str] = ()) -> None:
        skip = set(routers)
        self._dhcp: dict[str, _Dhcp] = {}
        self._span: dict[str, tuple[float, float]] = {}
        """MAC or IP -> first and last packet time."""
        for obs in observations:
            for ep in (obs.flow.orig, obs.flow.resp):
                mac = normalise_mac(ep.mac) if ep.mac else None
                if mac and mac not in skip:
                    self._seen(mac, obs.ts)
                self._seen(ep.ip, obs.ts)
            if isinstance(obs, DhcpLease) and (client := normalise_mac(obs.client_mac)):
                self._seen(client, obs.ts)
                held = self._dhcp.get(client, _Dhcp())
                self._dhcp[client] = _Dhcp(obs.hostname or held.hostname, obs.vendor_class or held.vendor_class,
                                           obs.parameter_list or held.parameter_list)

    def _seen(self, key: str, ts: float) -> None:
        first, last = self._span.get(key, (ts, ts))
        self._span[key] = (min(first, ts), max(last, ts))

    def profile(self, mac: str | None, ips: Sequence[str], seen: Iterable[float] = ()) -> DeviceProfile:
        """The facts about the device with `mac` (else its `ips`), also seen at the times `seen`."""
        times = list(seen)
        for key in [mac] if mac else ips:
            times.extend(self._span.get(key, ()))
        dhcp = self._dhcp.get(mac, _Dhcp()) if mac else _Dhcp()
        return DeviceProfile(
            hostname=dhcp.hostname, vendor_class=dhcp.vendor_class, parameter_list=dhcp.parameter_list,
            manufacturer=registered_manufacturer(mac) if mac else None,
            locally_administered=bool(mac) and locally_administered(mac or ""),
            first_seen=min(times, default=None), last_seen=max(times, default=None),
        )
