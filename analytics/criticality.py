"""Clinical criticality: how much harm a device's compromise can do, for ranking findings.

A device's criticality is its inventory `criticality` cell when the CMMS has one, else what
the rules' `clinical_functions:` mapping (rules/clinical.yaml) says of its `clinical_function`
(compared case-insensitively, with spaces, hyphens and underscores alike), else unknown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any


class Criticality(StrEnum):
    """Clinical criticality, most critical first."""

    LIFE_CRITICAL = "life-critical"
    """Sustains or monitors life: ventilators, infusion pumps, patient monitors..."""
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """3 (life-critical) .. 0 (low); unknown criticality ranks -1 (`rank_of`)."""
        return len(Criticality) - 1 - list(Criticality).index(self)


def parse_criticality(text: str) -> Criticality | None:
    """The criticality of `text` in any case, with spaces or underscores for `-`; None if unknown."""
    try:
        return Criticality(_words(text).replace(" ", "-"))
    except ValueError:
        return None


def rank_of(criticality: Criticality | None) -> int:
    """`Criticality.rank`, -1 for unknown: unknown ranks after low."""
    return criticality.rank if criticality is not None else -1


def _words(text: str) -> str:
    return re.sub(r"[\s_\-]+", " ", text.strip().casefold())


ClinicalFunctions = Mapping[str, Criticality]
"""Clinical function (normalised words) -> criticality."""


def read_clinical_functions(doc: Any) -> ClinicalFunctions:
    """The `clinical_functions:` mapping of a rules file: `{criticality: [function, ...]}`.

    Raises ValueError naming what is wrong (rules.py adds the file)."""
    if not isinstance(doc, dict):
        raise ValueError("clinical_functions must map a criticality to a list of clinical functions")
    out: dict[str, Criticality] = {}
    for level, functions in doc.items():
        criticality = parse_criticality(str(level))
        if criticality is None:
            raise ValueError(f"unknown criticality {level!r} (expected {', '.join(c.value for c in Criticality)})")
        if not isinstance(functions, list) or not all(isinstance(f, str) for f in functions):
            raise ValueError(f"{level}: expected a list of clinical functions")
        for function in functions:
            key = _words(function)
            if key in out and out[key] is not criticality:
                raise ValueError(f"clinical function {function!r} is both {out[key]} and {criticality}")
            out[key] = criticality
    return out


def function_criticality(functions: ClinicalFunctions, clinical_function: str) -> Criticality | None:
    """What the mapping says of `clinical_function`; None when it does not list it."""
    return functions.get(_words(clinical_function)) if clinical_function else None
