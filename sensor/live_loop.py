"""Sensing a live interface until SIGTERM or SIGINT: the one read loop of `trustwatch sense
--interface` and `trustwatch monitor`.

Every batch the ring (`sensor.live`) hands over goes to `Sensor.feed`; its observations go to
the caller, counted by `SensorMetrics` on the way, and the sensor's counters to the metrics. A
caller with more to do between batches (the monitor's analytics) passes a hook. A stop signal
is acted upon within `READ_TIMEOUT`: the open flows are concluded and the loop returns.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from types import FrameType

from .live import LiveCapture, LiveError
from .metrics import SensorMetrics, sensor_snapshot
from .records import Observation
from .sense import Sensor

READ_TIMEOUT = 0.5
"""Longest wait for packets: how soon a signal (or the caller's hook) is acted upon."""


class StopSignal:
    """Set by SIGTERM or SIGINT once `install`ed; the loop reads it between batches."""

    def __init__(self) -> None:
        self.raised = False

    def install(self) -> None:
        """Catch SIGTERM and SIGINT from now on (before the caller says it is running)."""
        signal.signal(signal.SIGTERM, self._raise)
        signal.signal(signal.SIGINT, self._raise)

    def _raise(self, _sig: int, _frame: FrameType | None) -> None:
        self.raised = True


def open_interface(interface: str, bpf: str | None, metrics: SensorMetrics, address: str,
                   port: int) -> LiveCapture:
    """The capture of `interface` and, unless `port` is 0, `metrics` served on `address:port`;
    `LiveError` says why either could not be opened."""
    capture = LiveCapture(interface, bpf)
    if port:
        try:
            metrics.serve(address, port)
        except OSError as e:
            capture.close()
            raise LiveError(f"metrics endpoint {address}:{port}: {e}") from None
    return capture


def sense_live(sensor: Sensor, capture: LiveCapture, metrics: SensorMetrics, stop: StopSignal,
               take: Callable[[Iterator[Observation]], object],
               between: Callable[[], None] | None = None) -> None:
    """Feed `capture` to `sensor` until `stop` is raised, then conclude every open flow. The
    observations of each batch go to `take`; `between` runs after each batch."""
    while not stop.raised:
        batch = capture.read(READ_TIMEOUT)
        observations = sensor.feed(capture.source, batch.runs, capture.frames - batch.frames + 1,
                                   batch.last_ts if batch.last_ts is not None else time.time())
        take(metrics.observe(observations))
        metrics.update(sensor_snapshot(sensor, capture))
        if between is not None:
            between()
    take(metrics.observe(sensor.finish(capture.last_ts or time.time())))
    metrics.update(sensor_snapshot(sensor, capture))
