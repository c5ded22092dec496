"""The asset inventory, as a CMMS exports it: CSV, YAML or JSON -> `Asset`.

Canonical columns (issue 3): asset_id, mac, ip, hostname, manufacturer, model, firmware,
department, clinical_function, status, status_date, cert_sha256, usernames, ae_titles,
remote_access; and optionally criticality and role (issue 16: poller, jump-host, vendor-gateway;
a clinical_function naming a role gives it too). A cell may hold several values separated
by `;` (YAML/JSON may use lists). Other exports are read through a `ColumnMap` (their column ->
ours, their status words -> ours). Files are UTF-8 (with or without a byte-order mark) or
Windows-1252, line by line, so that a stray line of one in a file of the other still loads.

Every problem is reported as `file:row:field: message` (rows are CSV line numbers, the header
being line 1, or 1-based entry numbers in YAML/JSON), and has an `Effect`: a bad row is skipped
and the inventory is used without it (its addresses are kept in `Inventory.skipped`, so that
findings about them can say the row was unusable), an unknown column is ignored, and only a
file that cannot be read at all (or has no usable row) is refused. `load_inventory(strict=True)`
refuses on any problem instead. Real exports list a device twice after a swap: an address
(MAC or static IP) on several rows is no conflict while at most one of them is still in service
(not retired or decommissioned); that row owns the address, the others keep their history.
"""

from __future__ import annotations

import codecs
import csv
import functools
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
from .criticality import Criticality, parse_criticality
from .hostroles import HostRole, parse_host_role

COLUMNS = (
    "asset_id", "mac", "ip", "hostname", "manufacturer", "model", "firmware", "department",
    "clinical_function", "status", "status_date", "cert_sha256", "usernames", "ae_titles",
    "remote_access", "criticality", "role",
)
"""The canonical columns, in the order the issues give them."""
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


class Effect(StrEnum):
    """What a problem does to the inventory (unless it is loaded strictly: then any refuses it)."""

    FILE = "file"
    """The inventory cannot be used at all."""
    ROW = "row"
    """The row is skipped; the rest is used."""
    COLUMN = "column"
    """The column is ignored."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an inventory, printed as `file:row:field: message`."""

    file: str
    row: int
    """CSV line number, or 1-based entry number in YAML/JSON; 0 for the whole file."""
    field: str
    """Canonical column name, or "-" when the problem is not about one field."""
    message: str
    effect: Effect = Effect.ROW

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
    criticality: Criticality | None = None
    """The inventory's own criticality; None: the rules' mapping of `clinical_function` decides."""
    role: HostRole | None = None
    """What it does for others (`analytics.hostroles`), when the inventory says so."""
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
class SkippedRow:
    """A row that could not be used, kept so that findings about its addresses can say so."""

    source: str
    """`file:row`."""
    asset_id: str
    macs: tuple[str, ...]
    ips: tuple[str, ...]
    """The addresses of the row that could be read."""
    problems: tuple[Problem, ...]

    def describe(self) -> str:
        """`inventory row inv.csv:7 (INF-9) ... was unusable (mac: invalid MAC address '00:1b')`."""
        who = f" ({self.asset_id})" if self.asset_id else ""
        why = "; ".join(f"{p.field}: {p.message}" for p in self.problems)
        return f"inventory row {self.source}{who} lists this address but was unusable ({why})"


@dataclass(frozen=True, slots=True)
class Inventory:
    """All usable assets, indexed the ways identity resolution looks them up."""

    assets: tuple[Asset, ...] = ()
    by_id: Mapping[str, Asset] = field(default_factory=dict)
    by_mac: Mapping[str, Asset] = field(default_factory=dict)
    """The owner of each MAC: the row still in service when others with it are gone."""
    by_ip: Mapping[str, Asset] = field(default_factory=dict)
    """The owner of each static IP, as for MACs."""
    by_cert: Mapping[str, tuple[Asset, ...]] = field(default_factory=dict)
    by_username: Mapping[str, tuple[Asset, ...]] = field(default_factory=dict)
    """Keyed by `casefold()`ed user name."""
    by_ae_title: Mapping[str, tuple[Asset, ...]] = field(default_factory=dict)
    skipped: tuple[SkippedRow, ...] = ()
    """Rows left out for their problems."""
    problems: tuple[Problem, ...] = ()
    """Every problem of the file (the warnings of a lenient load)."""

    @classmethod
    def of(cls, assets: Iterable[Asset], skipped: Iterable[SkippedRow] = (),
           problems: Iterable[Problem] = ()) -> Inventory:
        """Index `assets` (assumed checked: ids unique, each address on at most one row in service)."""
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
            by_mac=_owners((m, a) for a in assets for m in a.macs),
            by_ip=_owners((i, a) for a in assets for i in a.ips),
            by_cert={k: tuple(v) for k, v in certs.items()},
            by_username={k: tuple(v) for k, v in users.items()},
            by_ae_title={k: tuple(v) for k, v in aes.items()},
            skipped=tuple(skipped),
            problems=tuple(problems),
        )

    def unusable_row(self, addresses: Iterable[str]) -> SkippedRow | None:
        """The first skipped row listing one of `addresses` (MACs in ECS notation, IPs), else None."""
        wanted = set(addresses)
        return next((r for r in self.skipped if wanted.intersection(r.macs + r.ips)), None)


def _owners(pairs: Iterable[tuple[str, Asset]]) -> dict[str, Asset]:
    """Address -> owner: a row in service before a gone one; among gone rows the latest gone."""
    out: dict[str, Asset] = {}
    for address, a in pairs:
        held = out.get(address)
        if held is None or _ownership(a) >= _ownership(held):
            out[address] = a
    return out


def _ownership(a: Asset) -> tuple[bool, date]:
    return not a.status.gone, a.status_date or date.min


# --- normalisation ---------------------------------------------------------------------------

_MAC_SPLIT = re.compile(r"[:\-. ]")


@functools.lru_cache(maxsize=1 << 16)
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
    """The usable assets and every problem found (never raises on bad input)."""
    name = str(path)
    cmap = columns or ColumnMap()
    problems: list[Problem] = []
    rows = list(_rows(name, cmap, problems))
    if not rows and not problems:
        problems.append(Problem(name, 0, "-", "no devices in the inventory", Effect.FILE))
    candidates = [_asset(name, row, rec, undecodable, cmap, problems) for row, rec, undecodable in rows]
    _check_duplicates(name, [a for a in candidates if _row(a) not in _skipped_rows(problems)], problems)
    bad = _skipped_rows(problems)
    assets = [a for a in candidates if _row(a) not in bad]
    skipped = [SkippedRow(a.source, a.asset_id, a.macs, a.ips, tuple(p for p in problems if p.row == _row(a)))
               for a in candidates if _row(a) in bad]
    if rows and not assets and not any(p.effect is Effect.FILE for p in problems):
        problems.append(Problem(name, 0, "-", "no usable devices: every row has a problem", Effect.FILE))
    problems.sort(key=lambda p: p.row)
    return Inventory.of(assets, skipped, problems), problems


def load_inventory(path: str | Path, columns: ColumnMap | None = None, *, strict: bool = False) -> Inventory:
    """The usable inventory, its problems in `Inventory.problems`; `InventoryError` listing every
    problem when the file cannot be used at all, or, with `strict`, when it has any problem."""
    inventory, problems = read_inventory(path, columns)
    if any(strict or p.effect is Effect.FILE for p in problems):
        raise InventoryError(problems)
    return inventory


def check_inventory(path: str | Path, columns: ColumnMap | None = None) -> list[Problem]:
    """Every problem of the inventory as `file:row:field: message` lines (empty: fine)."""
    return read_inventory(path, columns)[1]


def describe_problems(problems: Iterable[Problem]) -> str:
    """What the problems do to a (lenient) load, e.g. `2 rows skipped, 1 column ignored`."""
    rows = len({p.row for p in problems if p.effect is Effect.ROW})
    columns = len({p.field for p in problems if p.effect is Effect.COLUMN})
    parts = [f"{rows} row(s) skipped"] if rows else []
    parts += [f"{columns} column(s) ignored"] if columns else []
    return ", ".join(parts) or "nothing skipped"


def _row(a: Asset) -> int:
    return int(a.source.rsplit(":", 1)[1])


def _skipped_rows(problems: Iterable[Problem]) -> set[int]:
    return {p.row for p in problems if p.effect is Effect.ROW}


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


Row = tuple[int, dict[str, Any], str]
"""(row number, {canonical column: raw value}, the row's undecodable bytes or "")."""
WINDOWS_1252 = "cp1252"


def _decode(data: bytes) -> tuple[str, dict[int, bytes]]:
    """The text of an inventory: each line UTF-8, else Windows-1252; a byte neither decodes
    becomes U+FFFD, and is returned by line number."""
    data = data.removeprefix(codecs.BOM_UTF8)
    lines = []
    undecodable: dict[int, bytes] = {}
    for n, line in enumerate(data.splitlines(keepends=True), 1):
        try:
            lines.append(line.decode("utf-8"))
            continue
        except UnicodeDecodeError:
            pass
        text = line.decode(WINDOWS_1252, errors="replace")
        if "\ufffd" in text:
            undecodable[n] = bytes(b for b in line if bytes([b]).decode(WINDOWS_1252, "replace") == "\ufffd")
        lines.append(text)
    return "".join(lines), undecodable


def _undecodable_note(undecodable: Mapping[int, bytes], lines: range | None = None) -> str:
    """`0x81 on line 7` for the lines of `lines` (all when None)."""
    found = [(n, b) for n, b in sorted(undecodable.items()) if lines is None or n in lines]
    return "; ".join(f"{', '.join(f'{x:#04x}' for x in dict.fromkeys(b))} on line {n}" for n, b in found)


def _rows(name: str, cmap: ColumnMap, problems: list[Problem]) -> Iterator[Row]:
    """The records of the file, in order."""
    suffix = Path(name).suffix.lower()
    if suffix not in (".csv", ".yaml", ".yml", ".json"):
        problems.append(Problem(name, 0, "-", "unknown inventory format (use .csv, .yaml, .json)", Effect.FILE))
        return
    try:
        text, undecodable = _decode(Path(name).read_bytes())
    except OSError as e:
        problems.append(Problem(name, 0, "-", f"cannot read: {e}", Effect.FILE))
        return
    if suffix == ".csv":
        yield from _csv_rows(name, text, undecodable, cmap, problems)
        return
    try:
        doc = json.loads(text) if suffix == ".json" else load_yaml(text)
    except (json.JSONDecodeError, YamlError) as e:
        problems.append(Problem(name, 0, "-", f"cannot parse: {e}", Effect.FILE))
        return
    if isinstance(doc, dict) and set(doc) == {"devices"}:
        doc = doc["devices"]
    if not isinstance(doc, list):
        problems.append(Problem(name, 0, "-", "expected a list of devices (or {devices: [...]})", Effect.FILE))
        return
    note = _undecodable_note(undecodable)
    for n, entry in enumerate(doc, 1):
        if not isinstance(entry, dict):
            problems.append(Problem(name, n, "-", "entry is not a mapping of fields"))
            continue
        rec, unknown = _mapped({str(k): v for k, v in entry.items()}, cmap)
        for key in unknown:
            problems.append(Problem(name, n, key, "unknown column (map it with a column map)", Effect.COLUMN))
        yield n, rec, note


def _csv_rows(
    name: str, text: str, undecodable: Mapping[int, bytes], cmap: ColumnMap, problems: list[Problem]
) -> Iterator[Row]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as e:
        problems.append(Problem(name, 1, "-", f"bad CSV: {e}", Effect.FILE))
        return
    header = [h.strip() for h in header]
    _rec, unknown = _mapped(dict.fromkeys(header, ""), cmap)
    for col in unknown:
        problems.append(Problem(name, 1, col, "unknown column (map it with a column map)", Effect.COLUMN))
    missing = [c for c in REQUIRED if c not in {cmap.columns.get(h, h) for h in header}]
    for col in missing:
        problems.append(Problem(name, 1, col, "required column missing from the header", Effect.FILE))
    line = reader.line_num
    while True:
        start = line + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            problems.append(Problem(name, start, "-", f"bad CSV: {e}", Effect.FILE))
            return
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue  # blank line: not a row
        if len(cells) != len(header):
            problems.append(Problem(name, start, "-",
                                    f"row has {len(cells)} cells, the header has {len(header)}"))
            continue
        rec, _unknown = _mapped(dict(zip(header, cells, strict=True)), cmap)
        yield start, rec, _undecodable_note(undecodable, range(start, line + 1))


def _mapped(rec: dict[str, Any], cmap: ColumnMap) -> tuple[dict[str, Any], list[str]]:
    """The record under canonical column names, and the keys that are none (ignored)."""
    out: dict[str, Any] = {}
    unknown = []
    for key, value in rec.items():
        col = cmap.columns.get(key, key)
        if col is None:
            continue
        if col not in COLUMNS:
            unknown.append(key)
            continue
        out[col] = value
    return out, unknown


def _values(value: Any) -> list[str]:
    """The `;`-separated (or YAML list) values of a cell, stripped, empties dropped."""
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(MULTI_SEP)
    return [s for s in (str(i).strip() for i in items) if s]


def _one(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _asset(
    name: str, row: int, rec: dict[str, Any], undecodable: str, cmap: ColumnMap, problems: list[Problem]
) -> Asset:
    """The asset of one record; whatever keeps it from being used is reported in `problems`
    (then it is only a `SkippedRow`'s addresses)."""
    bad = len(problems)

    def report(col: str, msg: str) -> None:
        problems.append(Problem(name, row, col, msg))

    if undecodable:
        for col, value in rec.items():
            if "\ufffd" in str(value):
                report(col, f"undecodable byte {undecodable} (neither UTF-8 nor Windows-1252)")
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
    criticality = None
    if crit := _one(rec.get("criticality")):
        criticality = parse_criticality(crit)
        if criticality is None:
            report("criticality", f"unknown criticality {crit!r} (expected "
                                  f"{', '.join(c.value for c in Criticality)}, any case)")
    role = parse_host_role(_one(rec.get("role")) or _one(rec.get("clinical_function")))
    if _one(rec.get("role")) and role is None:
        report("role", f"unknown role {_one(rec.get('role'))!r} (expected {', '.join(r.value for r in HostRole)})")
    if not (macs or ips or certs or ae_titles) and len(problems) == bad:
        report("mac", "no way to recognise this device: give a mac, ip, cert_sha256 or ae_titles")
    return Asset(
        asset_id=asset_id, macs=tuple(macs), ips=tuple(ips),
        hostname=_one(rec.get("hostname")), manufacturer=_one(rec.get("manufacturer")),
        model=_one(rec.get("model")), firmware=_one(rec.get("firmware")),
        department=_one(rec.get("department")),
        clinical_function=_one(rec.get("clinical_function")),
        status=status or Status.ACTIVE, status_date=status_date, cert_sha256=tuple(certs),
        usernames=tuple(_values(rec.get("usernames"))), ae_titles=tuple(ae_titles),
        remote_access=tuple(_values(rec.get("remote_access"))), criticality=criticality, role=role,
        source=f"{name}:{row}",
    )


def _check_duplicates(name: str, assets: list[Asset], problems: list[Problem]) -> None:
    """Asset ids name one row; a MAC or static IP is on at most one row in service (rows of
    retired or decommissioned devices keep their history: `Inventory.of` picks the owner)."""
    ids: dict[str, Asset] = {}
    holders: dict[tuple[str, str], Asset] = {}
    for a in assets:
        first = ids.setdefault(a.asset_id, a)
        duplicate_id = first is not a
        if duplicate_id:
            problems.append(Problem(name, _row(a), "asset_id",
                                    f"duplicate asset id {a.asset_id} (also {first.asset_id} at row {_row(first)})"))
        if a.status.gone:
            continue
        for col, value in [("mac", m) for m in a.macs] + [("ip", i) for i in a.ips]:
            holder = holders.get((col, value))
            if holder is None:
                if not duplicate_id:  # a skipped row holds nothing
                    holders[(col, value)] = a
                continue
            what = "MAC" if col == "mac" else "static IP"
            problems.append(Problem(name, _row(a), col,
                                    f"duplicate {what} {value} (also {holder.asset_id} at row {_row(holder)})"))
