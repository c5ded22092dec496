"""The report's charts: matplotlib (its SVG backend, no display needed) drawn to inline SVG.

Chosen over Vega-Lite compiled offline (vl-convert): measured on this machine, matplotlib adds
0.7 s of import and 55 ms a chart, 15 KB of SVG each; vl-convert 0.5 s for its first chart and
75 ms after, 14 KB, but an 84 MB wheel with a JavaScript engine inside. Text stays text
(`svg.fonttype: none`, the browser's sans-serif), ids are salted with a constant so that equal
data draws byte-equal SVG, and no date is written into it.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("svg")
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

SEVERITY_COLOURS = {"critical": "#7f0000", "high": "#d7301f", "medium": "#fc8d59", "low": "#fdcc8a"}
DIFF_COLOURS = {"new": "#d7301f", "still open": "#fc8d59", "resolved": "#1a9850"}
_STYLE: dict[Any, Any] = {"svg.fonttype": "none", "svg.hashsalt": "trustwatch", "font.family": "sans-serif",
                          "font.size": 9, "axes.spines.top": False, "axes.spines.right": False}


def stacked_bars(labels: Sequence[str], series: Mapping[str, Sequence[int]], colours: Mapping[str, str],
                 title: str, stacked: bool = True) -> str:
    """Bars per label, one colour per series (stacked, or side by side), as an inline `<svg>`."""
    with matplotlib.rc_context(_STYLE):
        fig = Figure(figsize=(max(4.0, 0.55 * len(labels) + 2.0), 2.6))
        ax = fig.subplots()
        positions = list(range(len(labels)))
        bottom = [0] * len(labels)
        width = 0.7 if stacked else 0.8 / max(1, len(series))
        for i, (name, values) in enumerate(series.items()):
            x = positions if stacked else [p - 0.4 + width * (i + 0.5) for p in positions]
            ax.bar(x, list(values), width, bottom=bottom if stacked else None, label=name,
                   color=colours.get(name, "#888888"))
            if stacked:
                bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        ax.set_xticks(positions, list(labels))
        ax.set_title(title, loc="left", fontsize=10)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        fig.tight_layout()
        return _svg(fig)


def horizontal_bars(labels: Sequence[str], values: Sequence[int], colours: Sequence[str], title: str) -> str:
    """One bar per label, largest first as given, as an inline `<svg>`."""
    with matplotlib.rc_context(_STYLE):
        fig = Figure(figsize=(6.0, 0.28 * len(labels) + 0.9))
        ax = fig.subplots()
        ax.barh(list(range(len(labels)))[::-1], list(values), color=list(colours))
        ax.set_yticks(list(range(len(labels)))[::-1], list(labels))
        ax.set_title(title, loc="left", fontsize=10)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        fig.tight_layout()
        return _svg(fig)


def _svg(fig: Figure) -> str:
    """The figure as an `<svg>` element to put inside HTML (no XML prolog or DOCTYPE)."""
    out = io.StringIO()
    fig.savefig(out, format="svg", metadata={"Date": None})
    text = out.getvalue()
    return text[text.index("<svg"):]
