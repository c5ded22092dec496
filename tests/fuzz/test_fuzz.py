"""Every fuzz target for a fixed, deterministic budget (`-runs=N -seed=1`, never wall time), each in
a subprocess of its own (atheris.Fuzz ends the process), from seeds built from the captures.

A crash, a hang (`-timeout`) or a blown memory limit fails the test with the input in hex and
libFuzzer's output, the traceback in it. How to run one target longer: tests/fuzz/README.md.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.fuzz import seeds
from tests.fuzz.harness import TARGETS

RUNS = {"capture": 2500, "sensor": 3000, "decode": 25000}
"""Executions per target (extractors: `EXTRACTOR_RUNS`), sized so that all targets together
take about 70 s of one core (28 s of it starting the 28 processes): under two minutes on CI's
two cores, about four with three times as much other work sharing them."""
EXTRACTOR_RUNS = 12000
INPUT_TIMEOUT = 25
"""Seconds one input may take before libFuzzer calls it a hang (a finding)."""
RSS_LIMIT_MB = 2048


@pytest.fixture(scope="session")
def seed_inputs() -> dict[str, list[bytes]]:
    """The seeds of every target, built once for the session."""
    return seeds.build()


FAILURE_MARKS = ("=== Uncaught Python exception", "ALARM: working on the last Unit", "ERROR: libFuzzer")
"""Where libFuzzer's output starts telling what went wrong (before it the fuzzing went fine)."""


def _report(name: str, artifacts: Path, output: str) -> str:
    """The failing inputs in hex, how to replay them, and the traceback (not libFuzzer's own dump
    of the input)."""
    lines = [f"fuzz target {name} failed"]
    for path in sorted(artifacts.iterdir()):
        lines.append(f"{path.name} ({path.stat().st_size} bytes): {path.read_bytes().hex()}")
        lines.append(f"replay: python -m tests.fuzz.run {name} {path}")
    start = min((i for i in map(output.find, FAILURE_MARKS) if i >= 0), default=max(0, len(output) - 5000))
    lines += [line[:500] for line in output[start:].splitlines() if not line.startswith(("0x", "INFO: Instrumenting"))]
    return "\n".join(lines)


@pytest.mark.parametrize("name", list(TARGETS))
def test_target_survives_its_budget(name: str, seed_inputs: dict[str, list[bytes]], tmp_path: Path) -> None:
    runs = RUNS.get(name, EXTRACTOR_RUNS)
    corpus = tmp_path / "corpus"
    assert seeds.write(corpus, seed_inputs.get(name, [])), f"no seeds for {name} in the captures"
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "tests.fuzz.run", name, str(corpus), f"-runs={runs}", "-seed=1",
         f"-timeout={INPUT_TIMEOUT}", f"-rss_limit_mb={RSS_LIMIT_MB}", f"-artifact_prefix={artifacts}/",
         "-print_final_stats=1"],
        cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": "0", "TMPDIR": str(tmp_path)}, capture_output=True,
        text=True, timeout=600, check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0 and not any(artifacts.iterdir()), _report(name, artifacts, output)
    executed = re.search(r"stat::number_of_executed_units: *(\d+)", output)
    assert executed is not None and int(executed[1]) >= runs, output[-5000:]
    done = re.search(r"DONE +cov: (\d+) ft: (\d+) corp: (\d+)", output)
    print(f"{name}: {executed[1]} executions, " + (f"coverage {done[1]}, features {done[2]}, corpus {done[3]}"
                                                   if done else "no coverage line"))  # pytest -rP shows it
