"""Output files written whole or not at all.

A run that is stopped (disk full, Ctrl-C, a crash) must not leave a truncated last JSON line
or half an alerts file for a SIEM shipper to pick up: every output goes to a temporary file
beside its target, is synced, and is renamed over the target only once complete. `-` is
standard output. Files are created under the process umask, which `trustwatch --umask` sets
(077 by default: outputs hold fingerprints and device names).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import IO

STDOUT = "-"
"""The path that names standard output."""


@contextlib.contextmanager
def output_file(path: str) -> Iterator[IO[str]]:
    """A text file to write `path` through: renamed into place when the block ends normally,
    removed (the target untouched) when it raises. OSError as the file system gives it."""
    if path == STDOUT:
        yield sys.stdout
        sys.stdout.flush()
        return
    with _replacing(path) as fd, os.fdopen(fd, "w", encoding="utf-8") as out:
        yield out
        out.flush()
        os.fsync(out.fileno())


@contextlib.contextmanager
def output_binary(path: str) -> Iterator[IO[bytes]]:
    """As `output_file`, for bytes (a pcap); no standard output."""
    with _replacing(path) as fd, os.fdopen(fd, "wb") as out:
        yield out
        out.flush()
        os.fsync(out.fileno())


@contextlib.contextmanager
def _replacing(path: str) -> Iterator[int]:
    """A temporary file descriptor beside `path`, renamed over it once the block ends normally."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        yield fd
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    """The process umask (read by setting it back: there is no plain getter)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
