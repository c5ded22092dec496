"""The sensor's memory caps, Suricata-style: every structure that holds bytes or per-flow state
has one, each cap counts when it bites, and none is a secret knob.

Defaults suit one clinical segment on a small machine (the whole sensor stays within a few
hundred MB on any traffic); a site changes them in the `sensor:` section of its rules
(`rules/sensor.yaml`, read by `sensor.siterules`) or with the command line's `--memcap NAME=SIZE`.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from .yamlfile import RulesFileError

MB = 1 << 20


@dataclass(frozen=True, slots=True, kw_only=True)
class SensorLimits:
    """What the sensor may hold at once; past each cap it drops and counts (`FlowStats`,
    weirds), it never grows."""

    max_flows: int = 65536
    """Flows in the table; beyond it the least recently active tenth is evicted
    (`flows_evicted`)."""
    reassembly_memcap: int = 64 * MB
    """Out-of-order TCP bytes waiting for a hole to fill, all flows together; past it the
    direction is skipped to its next bytes as a gap (`reassembly_memcap`)."""
    reassembly_direction: int = 256 * 1024
    """Out-of-order bytes waiting in one direction before its hole is declared a gap."""
    reassembly_segments: int = 64
    """Out-of-order segments waiting in one direction before its hole is declared a gap."""
    parser_memcap: int = 64 * MB
    """Bytes held by the protocol parsers of all flows (stream buffers and handshake messages
    being reassembled); past it a direction that needs more is dropped (`parser_memcap`)."""
    defrag_memcap: int = 4 * MB
    """Bytes of IP fragments waiting for their datagram, all datagrams together; past it
    the oldest datagram is dropped (`ip_frag_memory_full`)."""
    defrag_datagrams: int = 1024
    """Datagrams being reassembled at once (`ip_frag_table_full`)."""
    defrag_fragments: int = 1024
    """Fragments of one datagram (a 64 KB datagram in 64-byte pieces); past it the
    datagram is dropped (`ip_frag_too_many`)."""


DEFAULT_LIMITS = SensorLimits()
FIELDS = {f.name: f for f in dataclasses.fields(SensorLimits)}
_SIZE = re.compile(r"^\s*(\d+)\s*([kKmMgG]?)[bB]?\s*$")


class LimitsError(RulesFileError):
    """A cap that is not a known name with a positive size; the message says which and where."""


def parse_size(text: Any) -> int:
    """`65536`, `256k`, `64M`, `1G` (powers of 1024) as an int; LimitsError otherwise."""
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        match = _SIZE.match(str(text))
        if match is None:
            raise LimitsError(f"{text!r} is not a size (a number, optionally with k, M or G)")
        value = int(match.group(1)) << {"": 0, "k": 10, "m": 20, "g": 30}[match.group(2).lower()]
    if value <= 0:
        raise LimitsError(f"{text!r}: a cap must be positive")
    return value


def with_overrides(base: SensorLimits, overrides: dict[str, Any], where: str) -> SensorLimits:
    """`base` with the named caps replaced; an unknown name or a bad size raises LimitsError
    naming `where` (a file's `sensor:` section, or the command line)."""
    changes = {}
    for name, value in overrides.items():
        if name not in FIELDS:
            raise LimitsError(f"{where}: unknown cap {name!r} (known: {', '.join(FIELDS)})")
        try:
            changes[name] = parse_size(value)
        except LimitsError as e:
            raise LimitsError(f"{where}: {name}: {e}") from None
    return dataclasses.replace(base, **changes)


DEFRAG_CAPS = {"ip_frag_memory_full": "defrag_memcap", "ip_frag_table_full": "defrag_datagrams",
               "ip_frag_too_many": "defrag_fragments"}
"""Weirds that are a defragmentation cap biting -> the cap."""


def memcap_drops(flows: dict[str, int], weirds: dict[str, int]) -> dict[str, int]:
    """What each memory cap dropped, by its `sensor.limits` name (zeros included)."""
    drops = {"max_flows": flows.get("evicted", 0), "parser_memcap": flows.get("over_memory", 0),
             "reassembly_memcap": flows.get("reassembly_memcap", 0)}
    for weird, cap in DEFRAG_CAPS.items():
        drops[cap] = drops.get(cap, 0) + weirds.get(weird, 0)
    return drops
