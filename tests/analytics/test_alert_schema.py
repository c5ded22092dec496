"""Every alert of every sample capture validates against analytics/alert.schema.json, and its
Community ID is the one tshark computes for the same connection (the reference: Wireshark's
`communityid` dissector, `tshark --enable-protocol communityid -e communityid`)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.conftest import ROOT, SAMPLES
from trustwatch.analytics.cli import main
from trustwatch.analytics.pipeline import load_rules

SCHEMA = json.loads((ROOT / "analytics" / "alert.schema.json").read_text())
HOSPITAL = SAMPLES / "hospital"


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, list[dict[str, Any]]]]:
    """The hospital audit as the README runs it, and every sample capture audited against the
    hospital inventory with every address on the site (the most alerts: unknown devices too)."""
    where = tmp_path_factory.mktemp("schema")
    runs = []
    for name, extra in (("hospital", [str(HOSPITAL), "--remote-access-windows",
                                      str(HOSPITAL / "remote-access-windows.yaml")]),
                        ("samples", [str(SAMPLES), "--site-networks", "0.0.0.0/0,::/0"])):
        alerts, ledger = where / f"{name}.jsonl", where / f"{name}-ledger.jsonl"
        main(["audit", *extra, "--inventory", str(HOSPITAL / "inventory.csv"), "--state", str(where / f"{name}.db"),
              "--key-file", str(where / "site.key"), "--alerts", str(alerts), "--ledger", str(ledger),
              "--fail-on", "never"])
        runs.append((alerts, [json.loads(x) for x in alerts.read_text().splitlines()]))
        runs.append((ledger, [json.loads(x) for x in ledger.read_text().splitlines()]))
    return runs


def alerts(audited: list[tuple[Path, list[dict[str, Any]]]]) -> Iterator[dict[str, Any]]:
    for path, docs in audited:
        if "ledger" not in path.name:
            yield from docs


def test_the_schema_is_a_valid_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_every_alert_of_every_sample_capture_validates(audited: list[tuple[Path, list[dict[str, Any]]]]) -> None:
    validator = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    docs = list(alerts(audited))
    assert len(docs) > 100
    assert {d["rule"]["id"] for d in docs} == set(load_rules().rules), "every rule is exercised"
    for doc in docs:
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
        assert not errors, f"{doc['trustwatch']['dedup_key']}: {errors[0].message} at {list(errors[0].path)}"
    assert all("source" in d and "community_id" in d["network"] for d in docs)


def test_every_rule_has_remediation_reference_and_category() -> None:
    for rule in load_rules().rules.values():
        assert rule.category and rule.reference.startswith("https://"), rule.id
        text = rule.remediation
        assert text.startswith("Check ") and "Fix:" in text and "own" in text, rule.id


def tshark_community_ids(captures: list[str], tmp: Path) -> dict[tuple[str, ...], str]:
    """(transport, address, port, address, port) -> Community ID, both directions, as tshark computes them
    (one tshark run over the captures concatenated: tshark starts slowly, and a Community ID depends only
    on the connection's ends)."""
    capture = str(tmp / "all.pcapng")
    subprocess.run(["mergecap", "-a", "-w", capture, *captures], check=True)
    fields = ["ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "tcp.srcport", "udp.srcport", "tcp.dstport", "udp.dstport",
              "communityid"]
    out = subprocess.run(["tshark", "-r", capture, "--enable-protocol", "communityid", "-T", "fields",
                          "-E", "occurrence=l", *(x for f in fields for x in ("-e", f))],
                         capture_output=True, text=True, check=True).stdout
    ids = {}
    for line in out.splitlines():
        ip4s, ip6s, ip4d, ip6d, tsp, usp, tdp, udp, cid = (line.split("\t") + [""] * 9)[:9]
        if not cid:
            continue
        transport = "tcp" if tsp else "udp"
        src, dst, sport, dport = ip4s or ip6s, ip4d or ip6d, tsp or usp, tdp or udp
        ids[(transport, src, sport, dst, dport)] = ids[(transport, dst, dport, src, sport)] = cid
    return ids


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_community_ids_equal_tsharks(audited: list[tuple[Path, list[dict[str, Any]]]], tmp_path: Path) -> None:
    docs = [doc for _path, docs in audited for doc in docs]  # alerts and ledger lines

    def captures(doc: dict[str, Any]) -> list[str]:
        evidence = doc["trustwatch"]["evidence"]  # a list for alerts, one capture for the ledger
        return [e["capture"] for e in (evidence if isinstance(evidence, list) else [evidence])]

    reference = tshark_community_ids(sorted({c for doc in docs for c in captures(doc)}), tmp_path)
    for doc in docs:
        key = (doc["network"]["transport"], doc["source"]["ip"], str(doc["source"]["port"]),
               doc["destination"]["ip"], str(doc["destination"]["port"]))
        assert reference.get(key) == doc["network"]["community_id"], (doc["event"]["id"], key)
    assert len(docs) > 100
