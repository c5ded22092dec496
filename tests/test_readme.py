"""The README's promise: its two commands are the ones that work.

CI (`.ci/run`) must run exactly the README's test command; the main command must name files
that exist in the repository.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from tests.conftest import ROOT
from trustwatch.analytics.pipeline import load_rules
from trustwatch.analytics.suppressions import load_suppressions


def readme_commands() -> list[str]:
    """The command lines of the README's "Two commands" section, in order."""
    section = (ROOT / "README.md").read_text().split("## Two commands", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    return [line for block in blocks for line in block.splitlines() if line and not line.startswith("#")]


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    main, tests = readme_commands()
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    assert ci[-1] == tests
    assert "pytest" in tests and "trustwatch" in main


def test_the_main_command_names_files_that_exist() -> None:
    main, _tests = readme_commands()
    words = shlex.split(main.replace("&&", " "))
    paths = [w for w in words if w.startswith("sample_pcaps")]
    assert paths, "the main command runs on the bundled samples"
    assert all((ROOT / p).exists() for p in paths), paths


def test_the_exceptions_example_loads_with_the_keys_the_code_reads(tmp_path: Path) -> None:
    """The README's exceptions example, as written, is a valid exceptions file."""
    section = (ROOT / "README.md").read_text().split("- **Exceptions**", 1)[1].split("\n- **", 1)[0]
    example = re.findall(r"```yaml\n(.*?)```", section, flags=re.S)[0]
    path = tmp_path / "exceptions.yaml"
    path.write_text("\n".join(line.removeprefix("  ") for line in example.splitlines()))
    rules = load_rules()
    (exception,) = load_suppressions(path, rules.rules)
    assert exception.rule in rules.rules and exception.subject.startswith("client-certificate:")


def test_the_main_command_writes_the_report() -> None:
    main, _tests = readme_commands()
    assert "--report report/" in main and (ROOT / "sample_pcaps" / "report.png").read_bytes().startswith(b"\x89PNG")
