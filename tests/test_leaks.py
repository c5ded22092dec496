"""Secrets stay secret, patient data never enters: the leak test of DESIGN.md.

The audit, the sensor and the alert listing run on every sample capture and every real one;
then every byte they wrote (observations, alerts, the SQLite state, the key directory,
stdout and stderr) is searched for every raw secret and every patient name or id that the
captures are known to carry: as is, base64-encoded and URL-encoded.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REAL_PCAPS, SAMPLES
from trustwatch.analytics.cli import main
from trustwatch.sensor.records import SecretKind

SECRET_FIELDS = {"password", "password_correct", "simple_password", "community", "token", "passcode",
                 "jwt", "secret", "secrets"}
PATIENT_FIELDS = {"patients", "patient_id", "patient_name", "PatientName", "PatientID"}
IDENTIFIER_FIELDS = {"user", "username", "cname", "bind_dn", "client_id", "calling_ae", "called_ae", "realm",
                     "domain", "workstation", "subject", "issuer", "sni"}
"""Fields that are identifiers: kept on purpose. A secret equal to one of them or part of one (a
password that is the start of its own user name) cannot be told apart in the output and is left
out of the search."""
MIN_LEN = 4
"""Shorter values ("pw", "1") would match ordinary text by chance; none of the planted ones are."""
SHORT_WORD = re.compile(r"[A-Za-z0-9]{1,7}")
"""Short plain words ("public", "test") are searched as whole words: "public_key_size" is not a leak."""
INVENTORY = (
    "asset_id,mac,ip,hostname,manufacturer,model,firmware,department,clinical_function,status,"
    "status_date,cert_sha256,usernames,ae_titles,remote_access\n"
    "LEAK-1,00:11:22:33:44:55,10.99.0.1,leak-probe,Example,Probe,1.0,IT,none,active,,,,,\n"
)


def _values(node: Any, wanted: set[str], inside: bool = False) -> Iterator[str]:
    """Every string under a key in `wanted`, however deep."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _values(value, wanted, inside or key in wanted)
    elif isinstance(node, list):
        for value in node:
            yield from _values(value, wanted, inside)
    elif isinstance(node, str) and inside:
        yield node


def known_secrets() -> set[str]:
    """What the sample generators planted and what the real captures' truth files list."""
    docs = [json.loads(p.read_text()) for p in SAMPLES.rglob("*expected*.json")]
    found: set[str] = set()
    if REAL_PCAPS is not None:
        docs += [json.loads((REAL_PCAPS / name).read_text()) for name in ("expected.json", "lab/expected.json")]
        found |= {line.strip() for line in (REAL_PCAPS / "lab" / "secrets.txt").read_text().splitlines()}
    identifiers: set[str] = set()
    for doc in docs:
        found |= set(_values(doc, SECRET_FIELDS | PATIENT_FIELDS))
        identifiers |= set(_values(doc, IDENTIFIER_FIELDS))
    # Words the output itself is made of: a secret "password" cannot be told from the kind
    # "password", nor one that is part of a capture's file name (evidence names the file).
    vocabulary = {k.value for k in SecretKind} | {part for p in capture_paths() for part in re.split(r"[/._-]", p)}
    inside = {s for s in found if any(s in ident for ident in identifiers)}  # "bob.x" in "bob.x@site"
    return {s for s in found - identifiers - vocabulary - inside if len(s) >= MIN_LEN}


def capture_paths() -> list[str]:
    roots = [SAMPLES] + ([REAL_PCAPS] if REAL_PCAPS is not None else [])
    return [str(p.relative_to(root)) for root in roots for p in root.rglob("*.pcap*")]


def patterns(secret: str) -> list[re.Pattern[bytes]]:
    """The secret as is, base64- and URL-encoded; short plain words only as whole words."""
    raw = secret.encode()
    forms = {raw, base64.b64encode(raw).rstrip(b"="), urllib.parse.quote(secret, safe="").encode(),
             urllib.parse.quote_plus(secret).encode()}
    if SHORT_WORD.fullmatch(secret):
        return [re.compile(rb"(?<![A-Za-z0-9_])" + re.escape(f) + rb"(?![A-Za-z0-9_])") for f in forms]
    return [re.compile(re.escape(f)) for f in forms]


def test_no_output_contains_a_secret_or_patient_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    secrets = known_secrets()
    assert len(secrets) > (40 if REAL_PCAPS is not None else 0)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state-home"))
    inventory = tmp_path / "inventory.csv"
    inventory.write_text(INVENTORY)
    inputs = [str(SAMPLES)] + ([str(REAL_PCAPS)] if REAL_PCAPS is not None else [])
    state = tmp_path / "state.db"
    main(["audit", *inputs, "--inventory", str(inventory), "--state", str(state),
          "--alerts", str(tmp_path / "alerts.jsonl"), "--ledger", str(tmp_path / "ledger.jsonl"),
          "--metrics-textfile", str(tmp_path / "trustwatch.prom"), "--top", "1000"])
    main(["sense", "--read", *inputs, "-o", str(tmp_path / "observations.jsonl")])
    main(["alerts", "--state", str(state)])
    main(["alerts", "--state", str(state), "--json"])
    out, err = capsys.readouterr()
    (tmp_path / "stdout.txt").write_text(out)
    (tmp_path / "stderr.txt").write_text(err)
    assert (tmp_path / "observations.jsonl").stat().st_size > 10_000
    assert (tmp_path / "ledger.jsonl").stat().st_size and (tmp_path / "trustwatch.prom").stat().st_size
    searches = {secret: patterns(secret) for secret in sorted(secrets)}
    leaks = []
    for path in sorted(p for p in tmp_path.rglob("*") if p.is_file() and p != inventory):
        data = path.read_bytes()
        leaks += [f"{path.name}: {secret!r}" for secret, forms in searches.items()
                  if any(form.search(data) for form in forms)]
    assert not leaks
