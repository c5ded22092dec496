"""Shared fixtures: where the sample and the real captures are."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_pcaps"
_REAL = Path(os.environ.get("TRUSTWATCH_REAL_PCAPS", ROOT.parent / "shared" / "real_pcaps"))


def real_pcaps_dir() -> Path | None:
    """The public captures of other projects (never copied into this repository).

    CI sets TRUSTWATCH_REQUIRE_REAL_PCAPS=1 and fails when they are missing; on a fresh
    clone without them the tests that need them are skipped with that reason.
    """
    if _REAL.is_dir():
        return _REAL
    if os.environ.get("TRUSTWATCH_REQUIRE_REAL_PCAPS"):
        raise AssertionError(f"real captures not found: {_REAL}")
    return None


REAL_PCAPS = real_pcaps_dir()
needs_real_pcaps = pytest.mark.skipif(
    REAL_PCAPS is None, reason=f"real captures not found at {_REAL}"
)


@pytest.fixture
def real_pcaps() -> Path:
    """Path of the real captures (tests using it are marked `needs_real_pcaps`)."""
    assert REAL_PCAPS is not None
    return REAL_PCAPS


def pytest_addoption(parser: pytest.Parser) -> None:
    """`pytest --update-golden` rewrites tests/golden/*.jsonl from the current output."""
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite the golden observation files instead of comparing")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """Whether golden files are to be rewritten."""
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A directory on a tmpfs of 64 KB, filled up to its last bytes: writes there fail with
    ENOSPC as on a real full disk (the tests run as root, as CI does; mount needs it)."""
    mount = tmp_path / "full"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], check=True)
    try:
        with contextlib.suppress(OSError), open(mount / "filler", "wb", buffering=0) as f:
            while True:
                f.write(b"\0" * 4096)
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)
