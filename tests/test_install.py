"""A real install: the sdist and the wheel build, the wheel installs into a fresh virtual
environment, and the README's main audit runs from another directory with nothing of the
checkout on the path but the sample captures it reads (rules and catalogs come from the
installed package)."""

from __future__ import annotations

import shlex
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from tests.conftest import ROOT
from tests.test_readme import readme_commands


def test_the_wheel_installs_and_audits_from_anywhere(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(dist), str(ROOT)],
                   check=True, capture_output=True)
    wheel = next(dist.glob("trustwatch-*.whl"))
    sdist = next(dist.glob("trustwatch-*.tar.gz"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "trustwatch/rules/remote_access.yaml" in names
    assert any(n.startswith("trustwatch/sensor/fastpath.") and n.endswith(".so") for n in names)
    assert not any(n.startswith(("sensor/", "analytics/", "tests/")) for n in names)  # one top-level name
    with tarfile.open(sdist) as tar:
        members = tar.getnames()
    assert any(m.endswith("/sensor/fastpath.c") for m in members)
    assert any(m.endswith("/rules/credentials.yaml") for m in members)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], check=True, capture_output=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    trustwatch = str(venv / "bin" / "trustwatch")
    version = subprocess.run([trustwatch, "--version"], cwd=elsewhere, capture_output=True, text=True, check=True)
    assert version.stdout.strip() == f"trustwatch {wheel.name.split('-')[1]}"

    main, _tests = readme_commands()
    audit = shlex.split(main.split("&&")[-1])
    assert audit[0] == ".venv/bin/trustwatch"
    args = [str(ROOT / a) if a.startswith("sample_pcaps") else a for a in audit[1:]]
    run = subprocess.run([trustwatch, *args, "--key-file", str(tmp_path / "site.key")], cwd=elsewhere,
                         capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert run.returncode == 0, run.stderr
    assert "Top findings" in run.stdout
    alerts = (elsewhere / "alerts.jsonl").read_text().splitlines()
    assert len(alerts) > 10
