"""Weirds: named oddities in the traffic (Zeek's word), counted, never raised.

Each name is `<proto>_<problem>` (`tls_bad_record_len`, `tcp_content_gap`). The first
occurrence keeps where it was seen (capture and frame) so an analyst can open it.
"""

from __future__ import annotations

from collections import Counter


class Weirds:
    """Counters of weirds, plus the first place each was seen."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.first_seen: dict[str, tuple[str, int]] = {}
        self.capture = ""
        self.frame = 0
        """Where the reader is; set before a frame leaves the fast path."""

    def add(self, name: str, n: int = 1) -> None:
        """Count `name` once (or n times)."""
        self.counts[name] += n
        if name not in self.first_seen:
            self.first_seen[name] = (self.capture, self.frame)

    def summary(self) -> list[str]:
        """One line per weird, most frequent first."""
        lines = []
        for name, count in self.counts.most_common():
            capture, frame = self.first_seen[name]
            lines.append(f"{name}: {count} (first in {capture} frame {frame})")
        return lines
