"""Golden files: each sample capture's whole output, diffed against tests/golden/<name>.jsonl.

Any change to what the sensor emits for the samples shows up here as a diff; when the change
is intended, `pytest --update-golden` rewrites the files (review them before committing:
the facts in them are checked independently by test_samples.py and test_tshark_diff.py).
"""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import SAMPLES
from trustwatch.sensor.ecs import write_jsonl
from trustwatch.sensor.records import Evidence
from trustwatch.sensor.secrets import SecretHasher
from trustwatch.sensor.sense import Sensor, find_captures

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
CAPTURES = [Path(p) for p in find_captures([str(SAMPLES)])]
SECRETS = SecretHasher(b"golden-files-site-key")
"""A fixed site key, so that credential fingerprints are stable across runs."""


def output(path: Path) -> str:
    """The capture's JSON lines, with the capture named relative to sample_pcaps/."""
    observations = [
        replace(o, evidence=Evidence(path.name, o.evidence.frames)) for o in Sensor(secrets=SECRETS).read(str(path))
    ]
    buf = io.StringIO()
    write_jsonl(observations, buf)
    return buf.getvalue()


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_output_matches_golden(path: Path, update_golden: bool) -> None:
    golden = GOLDEN / (path.name.split(".")[0] + ".jsonl")
    got = output(path)
    if update_golden:
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(got)
    assert golden.exists(), f"no golden file {golden}: run pytest --update-golden"
    want = golden.read_text().splitlines()
    assert [json.loads(line) for line in got.splitlines()] == [json.loads(line) for line in want]


def test_no_stale_golden_files() -> None:
    names = {p.name.split(".")[0] for p in CAPTURES}
    assert {g.stem for g in GOLDEN.glob("*.jsonl")} <= names
