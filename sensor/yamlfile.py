"""The one place PyYAML is imported (sensor catalog and analytics files alike): safe loading
only, errors with a line number. PyYAML's libyaml loader when the wheel has it (ten times
faster than the pure-Python one: the sensor's rules are read at every start)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped, unused-ignore]

SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

RULES_DIR = Path(str(files("trustwatch.rules")))
"""The rules installed with the package (`rules/` in the repository): the default of `--rules`
for the sensor and the analytics alike. A directory on disk, as every install of a package with a
compiled module is."""


class RulesFileError(ValueError):
    """A rules file the sensor reads is unusable; the message names the file and the entry."""


class YamlError(ValueError):
    """The text is not valid YAML; the message names the line."""


def load_yaml(text: str) -> Any:
    """Parse `text` with the safe loader (no Python object tags)."""
    try:
        return yaml.load(text, Loader=SAFE_LOADER)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        raise YamlError(f"{where}invalid YAML: {problem}") from None


def read_rules_file(path: Path, error: type[RulesFileError] = RulesFileError) -> Any:
    """The YAML document of a rules file the sensor reads; unreadable or invalid: `error`
    naming the file."""
    try:
        return load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, YamlError) as e:
        raise error(f"{path}: {e}") from None
