"""Inventory loading: every notation accepted, every problem reported as file:row:field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.analytics import scenario
from trustwatch.analytics.criticality import Criticality
from trustwatch.analytics.inventory import (
    ColumnMap,
    InventoryError,
    Status,
    check_inventory,
    describe_problems,
    load_column_map,
    load_inventory,
    normalise_mac,
    parse_status,
)

HEADER = ("asset_id,mac,ip,hostname,manufacturer,model,firmware,department,clinical_function,"
          "status,status_date,cert_sha256,usernames,ae_titles,remote_access\n")
SHA = "ab" * 32


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("text", [
    "00:1b:4f:00:00:0a", "00-1B-4F-00-00-0A", "001b.4f00.000a", "001B4F00000A", "0:1b:4f:0:0:a",
    " 00:1B:4f:00:00:0a ",
])
def test_mac_any_notation(text: str) -> None:
    assert normalise_mac(text) == "00-1B-4F-00-00-0A"


@pytest.mark.parametrize("text", ["", "00:1b:4f:00:00", "00:1b:4f:00:00:0g", "001b4f00000", "00:1b:4f:000:0:a"])
def test_mac_invalid(text: str) -> None:
    assert normalise_mac(text) is None


@pytest.mark.parametrize(("text", "status"), [
    ("Active", Status.ACTIVE), ("IN_STORAGE", Status.IN_STORAGE), ("In Storage", Status.IN_STORAGE),
    ("in-storage", Status.IN_STORAGE), ("RETIRED", Status.RETIRED), (" decommissioned ", Status.DECOMMISSIONED),
])
def test_status_any_case(text: str, status: Status) -> None:
    assert parse_status(text) is status


def test_scenario_inventory_loads(tmp_path: Path) -> None:
    inv = load_inventory(scenario.write_inventory(tmp_path))
    assert len(inv.assets) == 20
    inf2 = inv.by_id["INF-002"]
    assert inf2.macs == ("00-1B-4F-00-00-02",)  # bare hex
    assert inv.by_mac["00-1B-4F-00-00-01"].asset_id == "INF-001"  # colon, lower case
    assert inf2.cert_sha256 == (scenario.C["INF-002"].sha256, scenario.EXACTLY_5Y.sha256)  # upper-cased
    assert inv.by_id["INF-007"].status is Status.IN_STORAGE
    assert str(inv.by_id["INF-009"].status_date) == "2023-11-30"
    assert inv.by_ip["10.30.0.8"].asset_id == "INF-008"
    assert inv.by_username["vent20svc"][0].asset_id == "VEN-020"
    assert inv.by_ae_title["PACS01"][0].asset_id == "PACS-01"


def test_multi_values_and_dhcp(tmp_path: Path) -> None:
    path = write(tmp_path, "inv.csv", HEADER +
                 f"US-1,00:11:22:33:44:55; 00:11:22:33:44:66,,us-1,GE,Vivid,1,Cardio,echo,active,,"
                 f"{SHA};{'cd' * 32},svc; admin ,ECHO1;ECHO2,GE InSite 08-18h\n")
    a = load_inventory(path).by_id["US-1"]
    assert a.macs == ("00-11-22-33-44-55", "00-11-22-33-44-66")
    assert a.ips == ()
    assert a.usernames == ("svc", "admin")
    assert a.ae_titles == ("ECHO1", "ECHO2")
    assert a.remote_access == ("GE InSite 08-18h",)
    assert a.source == f"{path}:2"


def test_yaml_and_json(tmp_path: Path) -> None:
    entry = {"asset_id": "CT-1", "mac": ["00:11:22:33:44:55"], "ip": "10.1.1.5", "status": "Active",
             "cert_sha256": [SHA], "ae_titles": "CT1"}
    y = write(tmp_path, "inv.yaml", "devices:\n  - asset_id: CT-1\n    mac: [00:11:22:33:44:55]\n"
              f"    ip: 10.1.1.5\n    status: Active\n    cert_sha256: [{SHA}]\n    ae_titles: CT1\n")
    j = write(tmp_path, "inv.json", json.dumps([entry]))
    for path in (y, j):
        a = load_inventory(path).by_id["CT-1"]
        assert (a.macs, a.ips, a.cert_sha256, a.ae_titles) == (
            ("00-11-22-33-44-55",), ("10.1.1.5",), (SHA,), ("CT1",))


def test_column_map_for_another_cmms(tmp_path: Path) -> None:
    path = write(tmp_path, "export.csv",
                 "Asset Tag,MAC Address,Lifecycle,Cost Center,Notes\n"
                 "BIO-77,00.11.22.33.44.55,In Service,4711,spare battery\n")
    mapping = write(tmp_path, "map.yaml", "columns:\n  Asset Tag: asset_id\n  MAC Address: mac\n"
                    "  Lifecycle: status\n  Cost Center: department\n  Notes: null\n"
                    "status:\n  In Service: active\n  Disposed: decommissioned\n")
    cmap = load_column_map(mapping)
    a = load_inventory(path, cmap).by_id["BIO-77"]
    assert (a.macs, a.status, a.department) == (("00-11-22-33-44-55",), Status.ACTIVE, "4711")
    # Without the map, every foreign column is reported (once, at the header), not silently ignored.
    problems = [str(p) for p in check_inventory(path)]
    assert f"{path}:1:asset_id: required column missing from the header" in problems
    assert f"{path}:1:Asset Tag: unknown column (map it with a column map)" in problems


def test_bad_column_map(tmp_path: Path) -> None:
    mapping = write(tmp_path, "map.yaml", "columns:\n  Tag: asset_tag\nstatus:\n  Gone: vanished\nextra: 1\n")
    with pytest.raises(InventoryError) as e:
        load_column_map(mapping)
    assert [str(p) for p in e.value.problems] == [
        f"{mapping}:0:extra: unknown key (expected columns, status)",
        f"{mapping}:0:Tag: maps to unknown column 'asset_tag'",
        f"{mapping}:0:Gone: maps to unknown status 'vanished'",
    ]


BROKEN = HEADER + (
    "INF-1,00:11:22:33:44:01,,,,,,,,active,,,,,\n"                     # 2 fine
    "INF-2,00:11:22:33:44:zz,10.0.0.300,,,,,,,working,31.12.2023,abc,,,\n"  # 3 five problems
    ",00:11:22:33:44:03,,,,,,,,active,,,,,\n"                          # 4 no id
    "INF-1,00:11:22:33:44:04,,,,,,,,active,,,,,\n"                     # 5 duplicate id
    "INF-5,00-11-22-33-44-01,,,,,,,,in storage,,,,,\n"                 # 6 duplicate MAC, other notation
    "INF-6,,,,,,,,,active,,,,,\n"                                      # 7 nothing to recognise it by
    "INF-7,00:11:22:33:44:07,,,,,,,,,,,,,\n"                           # 8 no status
    "INF-8,00:11:22:33:44:08,,,,,,,,active\n"                          # 9 short row
    "\n"                                                               # 10 blank: not a row
    "INF-9,00:11:22:33:44:09,10.0.0.9,,,,,,,active,,,,,\n"             # 11 fine
    "INF-10,00:11:22:33:44:10,10.0.0.9,,,,,,,active,,,,,,\n"           # 12 too many cells
    "INF-11,00:11:22:33:44:11,10.0.0.9,,,,,,,active,,,,,\n"            # 13 duplicate static IP
    "PACS,00:11:22:33:44:12,,,,,,,,active,,,,A-VERY-LONG-AE-TITLE-X,\n"  # 14 AE title > 16
)


def test_broken_csv_every_problem(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.csv", BROKEN)
    got = [str(p) for p in check_inventory(path)]
    f = str(path)
    assert got == [
        f"{f}:3:mac: invalid MAC address '00:11:22:33:44:zz'",
        f"{f}:3:ip: invalid IP address '10.0.0.300'",
        f"{f}:3:status: unknown status 'working' (expected active, in_storage, retired, decommissioned, any case)",
        f"{f}:3:status_date: invalid date '31.12.2023' (expected YYYY-MM-DD)",
        f"{f}:3:cert_sha256: not a SHA-256 fingerprint (64 hex digits): 'abc'",
        f"{f}:4:asset_id: missing asset id",
        f"{f}:5:asset_id: duplicate asset id INF-1 (also INF-1 at row 2)",
        f"{f}:6:mac: duplicate MAC 00-11-22-33-44-01 (also INF-1 at row 2)",
        f"{f}:7:mac: no way to recognise this device: give a mac, ip, cert_sha256 or ae_titles",
        f"{f}:8:status: missing status",
        f"{f}:9:-: row has 10 cells, the header has 15",
        f"{f}:12:-: row has 16 cells, the header has 15",
        f"{f}:13:ip: duplicate static IP 10.0.0.9 (also INF-9 at row 11)",
        f"{f}:14:ae_titles: AE title longer than 16 characters: 'A-VERY-LONG-AE-TITLE-X'",
    ]
    with pytest.raises(InventoryError) as e:
        load_inventory(path, strict=True)
    assert [str(p) for p in e.value.problems] == got
    # Not strict: every bad row is skipped, the rest is the inventory.
    inventory = load_inventory(path)
    assert [a.asset_id for a in inventory.assets] == ["INF-1", "INF-9"]
    assert [str(p) for p in inventory.problems] == got
    assert [r.source.rsplit(":", 1)[1] for r in inventory.skipped] == ["3", "4", "5", "6", "7", "8", "13", "14"]


@pytest.mark.parametrize(("name", "text", "message"), [
    ("inv.txt", "x", ":0:-: unknown inventory format (use .csv, .yaml, .json)"),
    ("inv.csv", "", ":0:-: no devices in the inventory"),
    ("inv.csv", HEADER, ":0:-: no devices in the inventory"),
    ("inv.yaml", "- asset_id: [unclosed\n", ":0:-: cannot parse: line 2: invalid YAML"),
    ("inv.json", "{", ":0:-: cannot parse: Expecting property name"),
    ("inv.yaml", "asset_id: X\n", ":0:-: expected a list of devices (or {devices: [...]})"),
    ("inv.yaml", "- just a string\n", ":1:-: entry is not a mapping of fields"),
    ("inv.yaml", "- {asset_id: X, mac: '00:11:22:33:44:55', status: active, colour: red}\n",
     ":1:colour: unknown column (map it with a column map)"),
])
def test_broken_files(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = write(tmp_path, name, text)
    problems = [str(p) for p in check_inventory(path)]
    assert any(p.startswith(str(path) + message) for p in problems), problems


def test_missing_file(tmp_path: Path) -> None:
    problems = [str(p) for p in check_inventory(tmp_path / "nope.csv")]
    assert len(problems) == 1 and problems[0].startswith(f"{tmp_path / 'nope.csv'}:0:-: cannot read:")


def test_status_words_of_the_map(tmp_path: Path) -> None:
    path = write(tmp_path, "inv.csv", "asset_id,mac,status\nX,00:11:22:33:44:55,Disposed\n")
    inv = load_inventory(path, ColumnMap(status={"disposed": "decommissioned"}))
    assert inv.by_id["X"].status is Status.DECOMMISSIONED


# --- messy CMMS exports (issue 16, point 6): every case as a fixture written here -------------

MESSY_HEADER = "asset_id,mac,ip,manufacturer,model,clinical_function,status,status_date,cert_sha256\n"


def messy(tmp_path: Path, rows: str, name: str = "cmms.csv", encoding: str = "utf-8", bom: bool = False) -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + (MESSY_HEADER + rows).encode(encoding))
    return path


def test_a_retired_row_whose_ip_was_reused_is_no_conflict(tmp_path: Path) -> None:
    path = messy(tmp_path, f"MON-7,,10.20.2.35,Philips,MX800,patient monitoring,retired,2024-11-30,{SHA}\n"
                           "MON-9,,10.20.2.35,Philips,MX850,patient monitoring,active,,\n")
    inventory = load_inventory(path, strict=True)
    assert inventory.problems == ()
    assert inventory.by_ip["10.20.2.35"].asset_id == "MON-9"  # the active row owns the address
    assert inventory.by_cert[SHA][0].asset_id == "MON-7"  # the retired one keeps its history
    assert inventory.by_id["MON-7"].status is Status.RETIRED


def test_a_mac_on_a_decommissioned_and_an_active_row_is_no_conflict(tmp_path: Path) -> None:
    path = messy(tmp_path, "INF-1,00:1b:4f:00:00:01,,BD,Alaris,infusion,active,,\n"
                           "INF-OLD,00-1B-4F-00-00-01,,BD,Alaris,infusion,decommissioned,2023-06-30,\n"
                           "INF-OLDER,001b.4f00.0001,,BD,Alaris,infusion,retired,2021-01-31,\n")
    inventory = load_inventory(path, strict=True)
    assert inventory.by_mac["00-1B-4F-00-00-01"].asset_id == "INF-1"
    assert len(inventory.assets) == 3


def test_among_gone_rows_the_latest_gone_owns_the_address(tmp_path: Path) -> None:
    path = messy(tmp_path, "INF-A,00:1b:4f:00:00:02,,BD,Alaris,infusion,retired,2024-05-01,\n"
                           "INF-B,00:1b:4f:00:00:02,,BD,Alaris,infusion,decommissioned,2022-05-01,\n")
    assert load_inventory(path, strict=True).by_mac["00-1B-4F-00-00-02"].asset_id == "INF-A"


def test_two_rows_in_service_with_one_mac_are_a_conflict(tmp_path: Path) -> None:
    path = messy(tmp_path, "INF-1,00:1b:4f:00:00:01,,BD,Alaris,infusion,active,,\n"
                           "INF-2,00:1b:4f:00:00:01,,BD,Alaris,infusion,in storage,,\n")
    inventory = load_inventory(path)
    assert [str(p) for p in inventory.problems] == [
        f"{path}:3:mac: duplicate MAC 00-1B-4F-00-00-01 (also INF-1 at row 2)"]
    assert [a.asset_id for a in inventory.assets] == ["INF-1"]
    assert inventory.skipped[0].asset_id == "INF-2"
    with pytest.raises(InventoryError):
        load_inventory(path, strict=True)


def test_a_blank_status_skips_the_row_and_the_rest_loads(tmp_path: Path) -> None:
    path = messy(tmp_path, "INF-1,00:1b:4f:00:00:01,10.20.0.51,BD,Alaris,infusion,active,,\n"
                           "INF-2,00:1b:4f:00:00:02,10.20.0.52,BD,Alaris,infusion, ,,\n")
    inventory = load_inventory(path)
    assert [a.asset_id for a in inventory.assets] == ["INF-1"]
    assert [str(p) for p in inventory.problems] == [f"{path}:3:status: missing status"]
    skipped = inventory.skipped[0]
    assert (skipped.source, skipped.macs, skipped.ips) == (f"{path}:3", ("00-1B-4F-00-00-02",), ("10.20.0.52",))
    assert inventory.unusable_row(["00-1B-4F-00-00-02"]) is skipped
    assert inventory.unusable_row(["10.20.0.52"]) is skipped and inventory.unusable_row(["10.20.0.51"]) is None
    assert skipped.describe() == (f"inventory row {path}:3 (INF-2) lists this address but was unusable "
                                  "(status: missing status)")


@pytest.mark.parametrize(("encoding", "bom"), [("utf-8", False), ("utf-8", True), ("cp1252", False)])
def test_utf8_with_or_without_bom_and_windows_1252_load(tmp_path: Path, encoding: str, bom: bool) -> None:
    path = messy(tmp_path, "VEN-1,00:30:e6:00:30:01,,Dräger,Evita V500 \u2013 ICU,ventilation,active,,\n",
                 encoding=encoding, bom=bom)
    asset = load_inventory(path, strict=True).by_id["VEN-1"]  # the BOM is not part of `asset_id`
    assert (asset.manufacturer, asset.model) == ("Dräger", "Evita V500 \u2013 ICU")


def test_a_stray_windows_1252_line_in_a_utf8_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "cmms.csv"
    path.write_bytes(MESSY_HEADER.encode() + "VEN-1,00:30:e6:00:30:01,,Dräger,Evita,ventilation,active,,\n"
                     .encode() + "VEN-2,00:30:e6:00:30:02,,Dräger,Evita,ventilation,active,,\n"
                     .encode("cp1252"))
    inventory = load_inventory(path, strict=True)
    assert {a.manufacturer for a in inventory.assets} == {"Dräger"}


def test_an_undecodable_byte_is_reported_with_its_row(tmp_path: Path) -> None:
    """0x81 is neither UTF-8 (a lone continuation byte) nor Windows-1252 (unassigned)."""
    path = tmp_path / "cmms.csv"
    path.write_bytes(MESSY_HEADER.encode() + b"VEN-1,00:30:e6:00:30:01,,Dr\x81ger,Evita,ventilation,active,,\n"
                     b"VEN-2,00:30:e6:00:30:02,,Draeger,Evita,ventilation,active,,\n")
    inventory = load_inventory(path)
    assert [str(p) for p in inventory.problems] == [
        f"{path}:2:manufacturer: undecodable byte 0x81 on line 2 (neither UTF-8 nor Windows-1252)"]
    assert [a.asset_id for a in inventory.assets] == ["VEN-2"]
    yaml = tmp_path / "cmms.yaml"
    yaml.write_bytes(b"- {asset_id: VEN-1, mac: '00:30:e6:00:30:01', status: active}\n"
                     b"- {asset_id: VEN-2, mac: '00:30:e6:00:30:02', status: active, model: Ev\x8dta}\n")
    assert [str(p) for p in check_inventory(yaml)] == [
        f"{yaml}:2:model: undecodable byte 0x8d on line 2 (neither UTF-8 nor Windows-1252)"]


def test_unknown_columns_are_ignored_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "cmms.csv"
    path.write_text("asset_id,mac,status,Cost Center\nINF-1,00:1b:4f:00:00:01,active,4711\n")
    inventory = load_inventory(path)
    assert [str(p) for p in inventory.problems] == [f"{path}:1:Cost Center: unknown column (map it with a column map)"]
    assert describe_problems(inventory.problems) == "1 column(s) ignored"
    assert [a.asset_id for a in inventory.assets] == ["INF-1"]


@pytest.mark.parametrize(("text", "message"), [
    ("asset_id,mac\nINF-1,00:1b:4f:00:00:01\n", ":1:status: required column missing from the header"),
    (MESSY_HEADER + "INF-1,00:1b,,,,,active,,\n", ":0:-: no usable devices: every row has a problem"),
])
def test_an_unusable_file_is_still_refused(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "cmms.csv", text)
    with pytest.raises(InventoryError) as e:
        load_inventory(path)
    assert any(str(p) == f"{path}{message}" for p in e.value.problems)


def test_criticality_column(tmp_path: Path) -> None:
    path = write(tmp_path, "cmms.csv", "asset_id,mac,status,criticality\n"
                                       "PUMP-1,00:1b:4f:00:00:01,active,Life Critical\n"
                                       "PC-1,3c:ec:ef:00:00:01,active,\n"
                                       "PC-2,3c:ec:ef:00:00:02,active,vital\n")
    inventory = load_inventory(path)
    assert inventory.by_id["PUMP-1"].criticality is Criticality.LIFE_CRITICAL
    assert inventory.by_id["PC-1"].criticality is None
    assert [str(p) for p in inventory.problems] == [
        f"{path}:4:criticality: unknown criticality 'vital' (expected life-critical, high, medium, low, any case)"]
    assert describe_problems(inventory.problems) == "1 row(s) skipped"
