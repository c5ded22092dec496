"""Deterministic values: random-looking bytes and numbers from a label, fixed dates, packet
times as text.

Nothing in the library reads the wall clock, os.urandom or random.Random: what looks random
is SHAKE-256 over a label, so a generator run twice writes the same bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib


def fixed_bytes(label: str, n: int) -> bytes:
    """`n` random-looking bytes, always the same for the same label (SHAKE-256)."""
    return hashlib.shake_256(label.encode()).digest(n)


def fixed_int(label: str, n: int) -> int:
    """A random-looking unsigned number of `n` bytes (an ISN, a transaction id...): `fixed_bytes`, big-endian."""
    return int.from_bytes(fixed_bytes(label, n), "big")


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> dt.datetime:
    """A fixed UTC datetime."""
    return dt.datetime(y, mo, d, h, mi, s, tzinfo=dt.UTC)


def epoch_ns(t: dt.datetime) -> int:
    """Datetime -> integer nanoseconds since the epoch (exact for whole seconds)."""
    return int(t.timestamp()) * 1_000_000_000


def utc_text(ns: int, layout: str) -> str:
    """A packet time as text, UTC, whole seconds (`layout` for strftime)."""
    return dt.datetime.fromtimestamp(ns // 1_000_000_000, dt.UTC).strftime(layout)


def iso_us(ts_ns: int) -> str:
    """A packet time as a pcap stores it (µs), ISO 8601 UTC."""
    sec, us = divmod(ts_ns // 1000, 1_000_000)
    return f"{dt.datetime.fromtimestamp(sec, dt.UTC):%Y-%m-%dT%H:%M:%S}.{us:06d}Z"
