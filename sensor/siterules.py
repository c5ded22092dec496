"""The sensor's share of `rules/`: the remote-access catalog, the HTTP API-key names and the
memory caps (`sensor.yaml`).

Loaded once at start-up from the directory `--rules` names, and handed to every extractor
class (`Extractor.bound`), so a site that adds a vendor or an API-key header changes no code.
A broken file raises `RulesFileError` naming the file and the entry, before anything is read.
Below the extractors: they import what they are bound to from here, never the reverse.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .catalog import Catalog, load_catalog
from .limits import DEFAULT_LIMITS, SensorLimits, with_overrides
from .yamlfile import RULES_DIR, RulesFileError, read_rules_file


@dataclass(frozen=True, slots=True)
class ApiKeyNames:
    """Where requests carry API keys: header names and query parameters, lower case."""

    headers: frozenset[str] = frozenset()
    parameters: frozenset[str] = frozenset()


def load_api_key_names(path: str | Path) -> ApiKeyNames:
    """The `http_api_keys: {headers: [...], query_parameters: [...]}` of `path`."""
    path = Path(path)
    doc = read_rules_file(path)
    section = doc.get("http_api_keys") if isinstance(doc, dict) else None
    if not isinstance(section, dict) or set(section) - {"headers", "query_parameters"}:
        raise RulesFileError(f"{path}: expected `http_api_keys:` with `headers` and `query_parameters` lists")
    return ApiKeyNames(_names(path, section, "headers"), _names(path, section, "query_parameters"))


def _names(path: Path, section: dict[str, Any], key: str) -> frozenset[str]:
    value = section.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise RulesFileError(f"{path}: http_api_keys.{key}: expected a list of names")
    return frozenset(v.strip().lower() for v in value)


def load_limits(path: Path) -> SensorLimits:
    """The `sensor:` caps of `path` over the defaults; a missing file: the defaults."""
    if not path.exists():
        return DEFAULT_LIMITS
    doc = read_rules_file(path)
    section = doc.get("sensor") if isinstance(doc, dict) else None
    if not isinstance(section, dict):
        raise RulesFileError(f"{path}: expected a `sensor:` mapping of caps")
    return with_overrides(DEFAULT_LIMITS, section, f"{path}: sensor")


@dataclass(frozen=True, slots=True)
class SensorRules:
    """What the extractors, the remote-access tracker and the flow table are bound to."""

    catalog: Catalog
    api_keys: ApiKeyNames
    limits: SensorLimits = DEFAULT_LIMITS


def load_sensor_rules(rules_dir: Path = RULES_DIR, memcaps: dict[str, str] | None = None) -> SensorRules:
    """The sensor rules of `rules_dir` (`remote_access.yaml`, `credentials.yaml`, `sensor.yaml`),
    the caps in `memcaps` (`--memcap NAME=SIZE`) over the file's."""
    limits = load_limits(rules_dir / "sensor.yaml")
    if memcaps:
        limits = with_overrides(limits, memcaps, "--memcap")
    return SensorRules(load_catalog(rules_dir / "remote_access.yaml"),
                       load_api_key_names(rules_dir / "credentials.yaml"), limits)
