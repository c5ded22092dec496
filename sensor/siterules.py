"""The sensor's share of `rules/`: the remote-access catalog and the HTTP API-key names.

Loaded once at start-up from the directory `--rules` names, and handed to every extractor
class (`Extractor.bound`), so a site that adds a vendor or an API-key header changes no code.
A broken file raises `RulesFileError` naming the file and the entry, before anything is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .catalog import Catalog, load_catalog
from .protocols.http import ApiKeyNames, load_api_key_names
from .yamlfile import RULES_DIR


@dataclass(frozen=True, slots=True)
class SensorRules:
    """What the extractors and the remote-access tracker are bound to."""

    catalog: Catalog
    api_keys: ApiKeyNames


def load_sensor_rules(rules_dir: Path = RULES_DIR) -> SensorRules:
    """The sensor rules of `rules_dir` (`remote_access.yaml`, `credentials.yaml`)."""
    return SensorRules(load_catalog(rules_dir / "remote_access.yaml"),
                       load_api_key_names(rules_dir / "credentials.yaml"))
