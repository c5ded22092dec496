"""The asset inventory, as a CMMS exports it: CSV, YAML or JSON -> `Asset`.

Canonical columns (issue 3): asset_id, mac, ip, hostname, manufacturer, model, firmware,
department, clinical_function, status, status_date, cert_sha256, usernames, ae_titles,
remote_access. A cell may hold several values separated by `;` (YAML/JSON may use lists).
Other exports are read through a `ColumnMap` (their column -> ours, their status words ->
ours).

A bad inventory is never half-read: `read_inventory` returns every problem it found as
`file:row:field: message`, and `load_inventory` refuses to return assets while any remain.
Rows are CSV line numbers (the header is line 1) or 1-based entry numbers in YAML/JSON.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

from ..sensor.yamlfile import YamlError, load_yaml

COLUMNS = (
    "asset_id", "mac", "ip", "hostname", "manufacturer", "model", "firmware", "department",
    "clinical_function", "status", "status_date", "cert_sha256", "usernames", "ae_titles",
    "remote_access",
)
"""The canonical columns, in the order the issue gives them."""
REQUIRED = ("asset_id", "status")
MULTI_SEP = ";"


class Status(StrEnum):
    """Life-cycle state of an asset."""

    ACTIVE = "active"
    IN_STORAGE = "in_storage"
    RETIRED = "retired"
    DECOMMISSIONED = "decommissioned"

    @property
    def gone(self) -> bool:
        """Retired or decommissioned: the device should no longer be on the network."""
        return self in (Status.RETIRED, Status.DECOMMISSIONED)


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an inventory, printed as `file:row:field: message`."""

    file: str
    row: int
    """CSV line number, or 1-based entry number in YAML/JSON; 0 for the whole file."""
    field: str
    """Canonical column name, or "-" when the problem is not about one field."""
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.row}:{self.field}: {self.message}"


class InventoryError(Exception):
    """The inventory has problems; all of them are in `problems`."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True, slots=True, kw_only=True)
class Asset:
    """One device of the inventory."""

    asset_id: str
    macs: tuple[str, ...] = ()
    """ECS notation (upper-case, hyphens), as the sensor writes MACs."""
    ips: tuple[str, ...] = ()
    """Static addresses; empty for DHCP devices."""
    hostname: str = ""
    manufacturer: str = ""
    model: str = ""
    firmware: str = ""
    department: str = ""
    clinical_function: str = ""
    status: Status = Status.ACTIVE
    status_date: date | None = None
    cert_sha256: tuple[str, ...] = ()
    """Expected certificate fingerprints: lower-case hex, no separators."""
    usernames: tuple[str, ...] = ()
    ae_titles: tuple[str, ...] = ()
    remote_access: tuple[str, ...] = ()
    """Vendors, products or protocols approved to reach this device remotely (`analytics.remote_access`)."""
    source: str = ""
    """`file:row` the asset came from, for messages."""

    @property
    def label(self) -> str:
        """Short human description: id, then model and department when known."""
        what = " ".join(x for x in (self.manufacturer, self.model) if x)
        extra = ", ".join(x for x in (what, self.department) if x)
        return f"{self.asset_id} ({extra})" if extra else self.asset_id


@dataclass(frozen=True, slots=True)
class ColumnMap:
    """How another CMMS export maps onto the canonical columns."""

    columns: Mapping[str, str | None] = field(default_factory=dict)
    """Their column name -> canonical name; None ignores the column."""
    status: Mapping[str, str] = field(default_factory=dict)
    """Their status word (any case) -> canonical status."""


@dataclass(frozen=True, slots=True)
class Inventory:
    """All assets, indexed the ways identity resolution looks them up."""

    assets: tuple[Asset, ...] = ()
    by_id: Mapping[str, Asset] = field(default_factory=dict)
    by_mac: Mapping[str, Asset] = field(default_factory=dict)
    by_ip: Mapping[str, Asset] = field(default_factory=dict)
    by_cert: Mapping[str, tuple[Asset, ...]] = field(default_factory=dict)
    by_username: Mapping[str, tuple[Asset, ...]] = field(default_factory=dict)
    """Keyed by `casefold()`ed user name."""
    by_ae_title: Mapping[str, tuple[Asset, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, assets: Iterable[Asset]) -> Inventory:
        """Index `assets` (assumed checked: MACs, ids and static IPs unique)."""
        assets = tuple(assets)
        certs: dict[str, list[Asset]] = {}
        users: dict[str, list[Asset]] = {}
        aes: dict[str, list[Asset]] = {}
        for a in assets:
            for c in a.cert_sha256:
                certs.setdefault(c, []).append(a)
            for u in a.usernames:
                users.setdefault(u.casefold(), []).append(a)
            for t in a.ae_titles:
                aes.setdefault(t, []).append(a)
        return cls(
            assets=assets,
            by_id={a.asset_id: a for a in assets},
            by_mac={m: a for a in assets for m in a.macs},
            by_ip={i: a for a in assets for i in a.ips},
            by_cert={k: tuple(v) for k, v in certs.items()},
            by_username={k: tuple(v) for k, v in users.items()},
            by_ae_title={k: tuple(v) for k, v in aes.items()},
        )


# --- normalisation ---------------------------------------------------------------------------

_MAC_SPLIT = re.compile(r"[:\-. ]")


def normalise_mac(text: str) -> str | None:
    """ECS notation (`00-1A-2B-3C-4D-5E`) of a MAC in any common notation, or None.

    Accepts `00:1a:2b:3c:4d:5e`, `00-1A-2B-3C-4D-5E`, Cisco `001a.2b3c.4d5e`, bare
    `001A2B3C4D5E` and colon pairs without leading zeros (`0:1a:2b:3c:4d:5e`).
    """
    text = text.strip()
    parts = _MAC_SPLIT.split(text)
    if len(parts) == 6 and all(1 <= len(p) <= 2 for p in parts):
        hexdigits = "".join(p.zfill(2) for p in parts)
    elif len(parts) in (1, 3) and all(len(p) == 12 // len(parts) for p in parts):
        hexdigits = "".join(parts)
    else:
        return None
    if not re.fullmatch(r"[0-9A-Fa-f]{12}", hexdigits):
        return None
    return "-".join(hexdigits[i : i + 2] for i in range(0, 12, 2)).upper()


def normalise_sha256(text: str) -> str | None:
    """Lower-case hex of a SHA-256 fingerprint written with or without `:`, or None."""
    hexdigits = text.strip().replace(":", "").lower()
    return hexdigits if re.fullmatch(r"[0-9a-f]{64}", hexdigits) else None


def parse_status(text: str, words: Mapping[str, str] | None = None) -> Status | None:
    """The status of `text` in any case, with spaces or hyphens for `_`; None if unknown."""
    key = text.strip().casefold()
    if words:
        key = {k.casefold(): v for k, v in words.items()}.get(key, key).casefold()
    key = re.sub(r"[\s\-]+", "_", key)
    try:
        return Status(key)
    except ValueError:
        return None


# --- reading ---------------------------------------------------------------------------------


def read_inventory(
    path: str | Path, columns: ColumnMap | None = None
) -> tuple[Inventory, list[Problem]]:
    """Every asset that could be read and every problem found (never raises on bad input)."""
    name = str(path)
    cmap = columns or ColumnMap()
    problems: list[Problem] = []
    rows = list(_rows(name, cmap, problems))
    if not rows and not problems:
        problems.append(Problem(name, 0, "-", "no devices in the inventory"))
    assets = [a for a in (_asset(name, row, rec, cmap, problems) for row, rec in rows) if a]
    _check_unique(name, assets, problems)
    problems.sort(key=lambda p: p.row)
    return Inventory.of(assets), problems


def load_inventory(path: str | Path, columns: ColumnMap | None = None) -> Inventory:
    """The inventory, or `InventoryError` listing every problem."""
    inventory, problems = read_inventory(path, columns)
    if problems:
        raise InventoryError(problems)
    return inventory


def check_inventory(path: str | Path, columns: ColumnMap | None = None) -> list[Problem]:
    """Every problem of the inventory as `file:row:field: message` lines (empty: fine)."""
    return read_inventory(path, columns)[1]


def load_column_map(path: str | Path) -> ColumnMap:
    """A column map file (YAML or JSON): `columns: {theirs: ours}`, `status: {theirs: ours}`.

    Raises `InventoryError` naming the file and key on anything it cannot use.
    """
    name = str(path)
    try:
        doc = load_yaml(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, YamlError) as e:
        raise InventoryError([Problem(name, 0, "-", f"cannot read column map: {e}")]) from None
    problems: list[Problem] = []
    if not isinstance(doc, dict):
        doc = {}
        problems.append(Problem(name, 0, "-", "column map must be a mapping"))
    for key in doc:
        if key not in ("columns", "status"):
            problems.append(Problem(name, 0, str(key), "unknown key (expected columns, status)"))
    cols = doc.get("columns") or {}
    stat = doc.get("status") or {}
    if not isinstance(cols, dict) or not isinstance(stat, dict):
        problems.append(Problem(name, 0, "-", "columns and status must be mappings"))
        cols, stat = {}, {}
    for theirs, ours in cols.items():
        if ours is not None and ours not in COLUMNS:
            problems.append(Problem(name, 0, str(theirs), f"maps to unknown column {ours!r}"))
    for theirs, ours in stat.items():
        if parse_status(str(ours)) is None:
            problems.append(Problem(name, 0, str(theirs), f"maps to unknown status {ours!r}"))
    if problems:
        raise InventoryError(problems)
    return ColumnMap(
        columns={str(k): (None if v is None else str(v)) for k, v in cols.items()},
        status={str(k): str(v) for k, v in stat.items()},
    )


def _rows(name: str, cmap: ColumnMap, problems: list[Problem]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, {canonical column: raw value}) for each record of the file."""
    suffix = Path(name).suffix.lower()
    if suffix not in (".csv", ".yaml", ".yml", ".json"):
        problems.append(Problem(name, 0, "-", "unknown inventory format (use .csv, .yaml, .json)"))
        return
    try:
        text = Path(name).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        problems.append(Problem(name, 0, "-", f"cannot read: {e}"))
        return
    if suffix == ".csv":
        yield from _csv_rows(name, text, cmap, problems)
        return
    try:
        doc = json.loads(text) if suffix == ".json" else load_yaml(text)
    except (json.JSONDecodeError, YamlError) as e:
        problems.append(Problem(name, 0, "-", f"cannot parse: {e}"))
        return
    if isinstance(doc, dict) and set(doc) == {"devices"}:
        doc = doc["devices"]
    if not isinstance(doc, list):
        problems.append(Problem(name, 0, "-", "expected a list of devices (or {devices: [...]})"))
        return
    for n, entry in enumerate(doc, 1):
        if not isinstance(entry, dict):
            problems.append(Problem(name, n, "-", "entry is not a mapping of fields"))
            continue
        rec = _mapped(name, n, {str(k): v for k, v in entry.items()}, cmap, problems)
        yield n, rec


def _csv_rows(
    name: str, text: str, cmap: ColumnMap, problems: list[Problem]
) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as e:
        problems.append(Problem(name, 1, "-", f"bad CSV: {e}"))
        return
    header = [h.strip() for h in header]
    missing = [c for c in REQUIRED if c not in {cmap.columns.get(h, h) for h in header}]
    for col in missing:
        problems.append(Problem(name, 1, col, "required column missing from the header"))
    line = reader.line_num
    while True:
        start = line + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            problems.append(Problem(name, start, "-", f"bad CSV: {e}"))
            return
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue  # blank line: not a row
        if len(cells) != len(header):
            problems.append(Problem(name, start, "-",
                                    f"row has {len(cells)} cells, the header has {len(header)}"))
            continue
        yield start, _mapped(name, start, dict(zip(header, cells, strict=True)), cmap, problems)


def _mapped(
    name: str, row: int, rec: dict[str, Any], cmap: ColumnMap, problems: list[Problem]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in rec.items():
        col = cmap.columns.get(key, key)
        if col is None:
            continue
        if col not in COLUMNS:
            problems.append(Problem(name, row, key, "unknown column (map it with a column map)"))
            continue
        out[col] = value
    return out


def _values(value: Any) -> list[str]:
    """The `;`-separated (or YAML list) values of a cell, stripped, empties dropped."""
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(MULTI_SEP)
    return [s for s in (str(i).strip() for i in items) if s]


def _one(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _asset(
    name: str, row: int, rec: dict[str, Any], cmap: ColumnMap, problems: list[Problem]
) -> Asset | None:
    """The asset of one record, or None after reporting why it cannot be one."""
    bad = len(problems)

    def report(col: str, msg: str) -> None:
        problems.append(Problem(name, row, col, msg))

    asset_id = _one(rec.get("asset_id"))
    if not asset_id:
        report("asset_id", "missing asset id")
    macs = []
    for m in _values(rec.get("mac")):
        norm = normalise_mac(m)
        if norm is None:
            report("mac", f"invalid MAC address {m!r}")
        elif norm not in macs:
            macs.append(norm)
    ips = []
    for i in _values(rec.get("ip")):
        try:
            ips.append(str(ipaddress.ip_address(i)))
        except ValueError:
            report("ip", f"invalid IP address {i!r}")
    status_text = _one(rec.get("status"))
    status = parse_status(status_text, cmap.status)
    if not status_text:
        report("status", "missing status")
    elif status is None:
        report("status", f"unknown status {status_text!r} (expected "
                         f"{', '.join(s.value for s in Status)}, any case)")
    status_date = None
    if sd := _one(rec.get("status_date")):
        try:
            status_date = date.fromisoformat(sd)
        except ValueError:
            report("status_date", f"invalid date {sd!r} (expected YYYY-MM-DD)")
    certs = []
    for c in _values(rec.get("cert_sha256")):
        norm_c = normalise_sha256(c)
        if norm_c is None:
            report("cert_sha256", f"not a SHA-256 fingerprint (64 hex digits): {c!r}")
        else:
            certs.append(norm_c)
    ae_titles = _values(rec.get("ae_titles"))
    for t in ae_titles:
        if len(t) > 16:
            report("ae_titles", f"AE title longer than 16 characters: {t!r}")
    if not (macs or ips or certs or ae_titles) and len(problems) == bad:
        report("mac", "no way to recognise this device: give a mac, ip, cert_sha256 or ae_titles")
    if len(problems) > bad or status is None:
        return None
    return Asset(
        asset_id=asset_id, macs=tuple(macs), ips=tuple(ips),
        hostname=_one(rec.get("hostname")), manufacturer=_one(rec.get("manufacturer")),
        model=_one(rec.get("model")), firmware=_one(rec.get("firmware")),
        department=_one(rec.get("department")),
        clinical_function=_one(rec.get("clinical_function")),
        status=status, status_date=status_date, cert_sha256=tuple(certs),
        usernames=tuple(_values(rec.get("usernames"))), ae_titles=tuple(ae_titles),
        remote_access=tuple(_values(rec.get("remote_access"))), source=f"{name}:{row}",
    )


def _check_unique(name: str, assets: list[Asset], problems: list[Problem]) -> None:
    """Asset ids, MACs and static IPs each name one device."""
    seen: dict[tuple[str, str], Asset] = {}
    for a in assets:
        row = int(a.source.rsplit(":", 1)[1])
        keys = [("asset_id", a.asset_id)] + [("mac", m) for m in a.macs] + [("ip", i) for i in a.ips]
        for col, value in keys:
            first = seen.setdefault((col, value), a)
            if first is not a:
                what = {"asset_id": "asset id", "mac": "MAC", "ip": "static IP"}[col]
                first_row = first.source.rsplit(":", 1)[1]
                problems.append(Problem(
                    name, row, col, f"duplicate {what} {value} (also {first.asset_id} at row {first_row})"))
