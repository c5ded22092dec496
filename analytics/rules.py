"""Rules are data: `rules/*.yaml` -> frozen `Rule` objects, loaded once at startup.

A rules file is a mapping with `rules:` (a list) and optionally `correlation:` (the
routed-segment guard's thresholds), `audit:` (`AuditSettings`: what one run may hold),
`clinical_functions:` (criticality by clinical function, `analytics.criticality`), `roles:` (the
fan-out that makes a poller or a relay) and `vendor_accounts:` (the user names of vendors' service
staff, `analytics.roles`). A rule:

    - id: long-lived-certificate        # a detection module's RULE_ID: the contract
      name: Long-lived client certificate
      severity: low                     # low, medium, high, critical
      description: ...                  # optional
      enabled: true                     # optional
      headline: true                    # optional: the summary always shows its best finding
      category: certificate-hygiene     # ECS rule.category
      reference: https://...            # ECS rule.reference: where the problem is explained
      remediation: >                    # trustwatch.remediation: what to check, who owns it, how to fix
        ...
      params: {max_validity_years: 5}   # optional; the detection's Params fields only

A parameter typed `Path` names a file relative to the rules file (a CRL beside it).

`category`, `reference` and `remediation` are optional for a site's own copy; the repository's
rules give all three for every rule (a test checks it), because every alert carries them.

Anything unknown (key, rule id, parameter, severity, wrong type) raises
`RuleError(path, rule_id, msg)`; so does a detection without a rule, so that a missing file
cannot silently switch a detection off (`enabled: false` does that, visibly).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ..sensor.yamlfile import YamlError, load_yaml
from .correlate import CorrelationSettings
from .criticality import ClinicalFunctions, read_clinical_functions
from .roles import RoleSettings, VendorAccount, read_vendor_accounts

_RULE_KEYS = {"id", "name", "severity", "description", "enabled", "headline", "params", "category", "reference",
              "remediation"}
_FILE_KEYS = {"rules", "correlation", "audit", "clinical_functions", "roles", "vendor_accounts", "remote_access",
              "http_api_keys", "sensor"}
"""`remote_access` is the sensor's vendor catalog (`sensor.catalog`), `http_api_keys` where the
HTTP extractor looks for API keys (`sensor.protocols.http`), `sensor` its memory caps
(`sensor.limits`): the sensor's, kept beside their rules."""


class Severity(StrEnum):
    """Alert severity, with the number ECS `event.severity` carries (Elastic's risk scale)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def number(self) -> int:
        """ECS `event.severity`."""
        return {"low": 21, "medium": 47, "high": 73, "critical": 99}[self.value]

    @property
    def rank(self) -> int:
        """0 (low) .. 3 (critical), for comparisons."""
        return list(Severity).index(self)


class RuleError(Exception):
    """A rules file cannot be used: names the file and the rule."""

    def __init__(self, path: str | Path, rule_id: str, msg: str) -> None:
        super().__init__(f"{path}: rule {rule_id or '?'}: {msg}")
        self.path = str(path)
        self.rule_id = rule_id
        self.msg = msg


P = TypeVar("P")


@dataclass(frozen=True, slots=True)
class Rule:
    """One detection's configuration."""

    id: str
    name: str
    severity: Severity
    description: str = ""
    enabled: bool = True
    params: Any = None
    """An instance of the detection's `Params` dataclass; read it with `params_as`."""
    path: str = ""
    """File the rule came from."""
    headline: bool = False
    """One of the mission's flags: the summary always shows its best finding."""
    category: str = ""
    """ECS `rule.category`, e.g. `credential-hygiene`."""
    reference: str = ""
    """ECS `rule.reference`: a URL explaining the problem."""
    remediation: str = ""
    """One paragraph: what to check, who owns it, how to fix (`trustwatch.remediation`)."""

    def params_as(self, cls: type[P]) -> P:
        """The parameters, typed as the detection declared them."""
        if not isinstance(self.params, cls):
            raise TypeError(f"rule {self.id}: params are {type(self.params).__name__}, not {cls.__name__}")
        return self.params


@dataclass(frozen=True, slots=True)
class AuditSettings:
    """What one run keeps of one rule (`audit:` in rules/*.yaml)."""

    max_findings_per_rule: int = 200
    """Past this many findings of one rule in one run (a flood: 200,000 sources trying one
    community), the rule's findings with the fewest devices are folded into one `flood`
    finding with their count, so alerts, state and memory stay bounded."""


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Every rule by id, plus the correlation and audit settings."""

    rules: Mapping[str, Rule] = field(default_factory=dict)
    correlation: CorrelationSettings = field(default_factory=CorrelationSettings)
    audit: AuditSettings = field(default_factory=AuditSettings)
    clinical_functions: ClinicalFunctions = field(default_factory=dict)
    """Criticality by clinical function, for ranking findings."""
    roles: RoleSettings = field(default_factory=RoleSettings)
    """The fan-out thresholds that make a poller or a relay."""
    vendor_accounts: tuple[VendorAccount, ...] = ()
    """User names of vendors' service staff."""

    def get(self, rule_id: str) -> Rule:
        """The rule `rule_id` (KeyError when not loaded)."""
        return self.rules[rule_id]


class Declares(Protocol):
    """What rules.py needs of a detection: its rule id and its parameter dataclass."""

    @property
    def RULE_ID(self) -> str:
        """The rule id."""
        ...

    @property
    def Params(self) -> type:
        """The parameter dataclass."""
        ...


def read_rules(rules_dir: str | Path, detections: Iterable[Declares]) -> RuleSet:
    """All rules of `rules_dir/*.yaml`, checked against the declarations of `detections`.

    The detections are passed in (`pipeline.load_rules` passes the registered ones), so that
    the detections can use `Rule` without this module knowing any of them.
    """
    declared = {d.RULE_ID: d.Params for d in detections}
    rules_dir = Path(rules_dir)
    files = sorted(rules_dir.glob("*.yaml")) + sorted(rules_dir.glob("*.yml"))
    if not files:
        raise RuleError(rules_dir, "", "no rules files (*.yaml) in this directory")
    rules: dict[str, Rule] = {}
    correlation = CorrelationSettings()
    correlation_from = ""
    audit = AuditSettings()
    clinical: ClinicalFunctions = {}
    sections: dict[str, str] = {}
    """Once-only sections (`roles`, `vendor_accounts`) -> the file that defined them."""
    roles, accounts = RoleSettings(), tuple[VendorAccount, ...]()
    for path in files:
        try:
            doc = load_yaml(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, YamlError) as e:
            raise RuleError(path, "", str(e)) from None
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise RuleError(path, "", "a rules file is a mapping with `rules:`")
        for key in doc:
            if key not in _FILE_KEYS:
                expected = ", ".join(sorted(_FILE_KEYS))
                raise RuleError(path, "", f"unknown top-level key {key!r} (expected {expected})")
        if "correlation" in doc:
            if correlation_from:
                raise RuleError(path, "correlation", f"defined twice (also in {correlation_from})")
            correlation_from = str(path)
            correlation = _dataclass_from(CorrelationSettings, doc["correlation"], path, "correlation")
        if "audit" in doc:
            audit = _dataclass_from(AuditSettings, doc["audit"], path, "audit")
            if audit.max_findings_per_rule < 1:
                raise RuleError(path, "audit", "max_findings_per_rule must be at least 1")
        if "clinical_functions" in doc:
            if clinical:
                raise RuleError(path, "clinical_functions", "defined in two files")
            try:
                clinical = read_clinical_functions(doc["clinical_functions"])
            except ValueError as e:
                raise RuleError(path, "clinical_functions", str(e)) from None
        for key in ("roles", "vendor_accounts"):
            if key in doc and key in sections:
                raise RuleError(path, key, f"defined twice (also in {sections[key]})")
            if key in doc:
                sections[key] = str(path)
        if "roles" in doc:
            roles = _dataclass_from(RoleSettings, doc["roles"], path, "roles")
        if "vendor_accounts" in doc:
            try:
                accounts = read_vendor_accounts(doc["vendor_accounts"])
            except ValueError as e:
                raise RuleError(path, "vendor_accounts", str(e)) from None
        entries = doc.get("rules") or []
        if not isinstance(entries, list):
            raise RuleError(path, "", "`rules` must be a list")
        for entry in entries:
            rule = _rule(path, entry, declared)
            if rule.id in rules:
                raise RuleError(path, rule.id, f"defined twice (also in {rules[rule.id].path})")
            rules[rule.id] = rule
    for rule_id in declared:
        if rule_id not in rules:
            raise RuleError(rules_dir, rule_id, "no rule for this detection (add it, or set enabled: false)")
    return RuleSet(rules, correlation, audit, clinical, roles, accounts)


def _rule(path: Path, entry: Any, declared: Mapping[str, type]) -> Rule:
    if not isinstance(entry, dict):
        raise RuleError(path, "", "each rule is a mapping")
    rule_id = str(entry.get("id") or "")
    if not rule_id:
        raise RuleError(path, "", "rule without `id`")
    for key in entry:
        if key not in _RULE_KEYS:
            raise RuleError(path, rule_id, f"unknown key {key!r} (expected {', '.join(sorted(_RULE_KEYS))})")
    if rule_id not in declared:
        known = ", ".join(sorted(declared))
        raise RuleError(path, rule_id, f"no detection has this rule id (known: {known})")
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise RuleError(path, rule_id, "`name` must be a non-empty string")
    try:
        severity = Severity(str(entry.get("severity", "")).lower())
    except ValueError:
        raise RuleError(path, rule_id, f"severity must be one of {', '.join(s.value for s in Severity)}, "
                                       f"not {entry.get('severity')!r}") from None
    enabled = entry.get("enabled", True)
    if not isinstance(enabled, bool):
        raise RuleError(path, rule_id, "`enabled` must be true or false")
    headline = entry.get("headline", False)
    if not isinstance(headline, bool):
        raise RuleError(path, rule_id, "`headline` must be true or false")
    texts = {}
    for key in ("description", "category", "reference", "remediation"):
        text = entry.get(key, "")
        if not isinstance(text, str):
            raise RuleError(path, rule_id, f"`{key}` must be a string")
        texts[key] = " ".join(text.split())
    params: Any = _dataclass_from(declared[rule_id], entry.get("params") or {}, path, rule_id)
    return Rule(rule_id, name, severity, texts["description"], enabled, params, str(path), headline,
                texts["category"], texts["reference"], texts["remediation"])


C = TypeVar("C")


def _dataclass_from(cls: type[C], values: Any, path: Path, rule_id: str) -> C:
    """An instance of dataclass `cls` from a YAML mapping: known fields, right types."""
    if not isinstance(values, dict):
        raise RuleError(path, rule_id, "parameters must be a mapping")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in names:
            raise RuleError(path, rule_id, f"unknown parameter {key!r} (expected {', '.join(sorted(names))})")
        try:
            kwargs[key] = _typed(hints[key], value, path.parent)
        except (TypeError, ValueError) as e:
            raise RuleError(path, rule_id, f"parameter {key!r}: {e}") from None
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise RuleError(path, rule_id, str(e)) from None


def _typed(hint: Any, value: Any, base: Path) -> Any:
    """`value` as `hint` (int, float, bool, str, Path relative to `base`, tuple[str, ...], Mapping[str, int])."""
    origin = typing.get_origin(hint)
    if hint is bool:
        if not isinstance(value, bool):
            raise TypeError(f"expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise TypeError(f"expected a string, got {value!r}")
        return value
    if hint is Path:
        if not isinstance(value, str):
            raise TypeError(f"expected a file name, got {value!r}")
        return base / value
    if origin is tuple:
        if not isinstance(value, list):
            raise TypeError(f"expected a list, got {value!r}")
        return tuple(_typed(typing.get_args(hint)[0], v, base) for v in value)
    if origin in (dict, Mapping, typing.get_origin(Mapping[str, int])):
        if not isinstance(value, dict):
            raise TypeError(f"expected a mapping, got {value!r}")
        kt, vt = typing.get_args(hint)
        return {_typed(kt, k, base): _typed(vt, v, base) for k, v in value.items()}
    raise TypeError(f"unsupported parameter type {hint!r}")
