"""Parameter pieces several detections share."""

from __future__ import annotations

from dataclasses import dataclass

from ..inventory import Asset, Status, parse_status

GONE = ("retired", "decommissioned")
"""Statuses of devices that should no longer be on the network."""


def check_statuses(statuses: tuple[str, ...]) -> frozenset[Status]:
    """The statuses named, or ValueError naming the unknown one (rules.py reports it)."""
    out = set()
    for text in statuses:
        status = parse_status(text)
        if status is None:
            raise ValueError(f"unknown status {text!r} (expected {', '.join(s.value for s in Status)})")
        out.add(status)
    return frozenset(out)


def status_phrase(asset: Asset) -> str:
    """`retired since 2023-05-02` or `decommissioned`."""
    when = f" since {asset.status_date.isoformat()}" if asset.status_date else ""
    return f"{asset.status.value.replace('_', ' ')}{when}"


@dataclass(frozen=True, slots=True)
class GoneParams:
    """Rule parameters of detections about gone devices: which statuses count as gone."""

    statuses: tuple[str, ...] = GONE

    def __post_init__(self) -> None:
        check_statuses(self.statuses)
