"""Progress of long reads: an ETA; off a terminal, a line every N seconds (`--progress`)."""

from __future__ import annotations

import io

from trustwatch.sensor.sense import progress_display


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_lines_every_n_seconds_with_an_eta() -> None:
    out, clock = io.StringIO(), Clock()
    show = progress_display("lines", 1000, out, every=10.0, clock=clock)
    assert show is not None
    for second in range(1, 26):
        clock.now = float(second)
        show("big.pcap", second * 100, second * 20, 1000)  # 20 bytes a second: 1000 in 50 s
    lines = out.getvalue().splitlines()
    assert len(lines) == 2  # at 10 s and 20 s
    assert lines[0].startswith("trustwatch: progress: big.pcap") and "20.0%" in lines[0]
    assert lines[0].endswith("ETA 0:00:40") and lines[1].endswith("ETA 0:00:30")
    show("big.pcap", 5000, 1000, 1000)  # the end always gets its line
    assert out.getvalue().splitlines()[-1].endswith("ETA 0:00:00")


def test_auto_is_lines_off_a_terminal_and_none_is_silent() -> None:
    out, clock = io.StringIO(), Clock()
    show = progress_display("auto", 100, out, every=5.0, clock=clock)
    assert show is not None
    clock.now = 6.0
    show("a.pcap", 10, 50, 100)
    assert out.getvalue().startswith("trustwatch: progress: ")
    assert progress_display("none", 100, out) is None
    bar = io.StringIO()
    show = progress_display("bar", 100, bar, clock=clock)
    assert show is not None
    show("a.pcap", 10, 100, 100)
    assert bar.getvalue().startswith("\r") and bar.getvalue().endswith("\n")
