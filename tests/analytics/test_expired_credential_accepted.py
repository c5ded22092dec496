"""`expired-credential-accepted` on crafted presentations and their answers: expired, not yet
valid, revoked (by serial in the rules, by fingerprint, from CRL files in PEM and DER) and
untrusted client certificates, and retired credentials; accepted is a finding, refused (the
server's alert, a 530) a passed check, an answer not seen nothing.

The TLS answers are crafted here as the TLS outcome work of the sensor will emit them
(application data both ways after the client's Finished, or the server's alert); the sample
captures with TLS outcomes come with that work."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from tests.analytics.builders import HASHER, T0, cert, client_cert, ep, login, tls_answered
from trustwatch.analytics.correlate import correlate
from trustwatch.analytics.detections import expired_credential_accepted as rule_module
from trustwatch.analytics.detections.base import Context
from trustwatch.analytics.findings import Finding, PassedCheck
from trustwatch.analytics.inventory import Inventory, load_inventory
from trustwatch.analytics.pipeline import load_rules, render_summary, run_audit
from trustwatch.analytics.rules import RuleError, RuleSet, Severity
from trustwatch.sensor.records import Observation, Outcome, X509Cert
from trustwatch.sensor.yamlfile import RULES_DIR

RULES = load_rules()
PUMP = ep("10.20.0.64", "00-1B-4F-00-00-0E", 50000)
OTHER = ep("10.20.0.65", "00-1B-4F-00-00-0F", 50001)
SERVER = ep("10.20.0.200", "00-1B-4F-00-00-C8", 443)
FTP = ep("10.10.5.40", "00-00-0C-9F-F0-14", 21)
DEVICE_CA = "CN=St. Example Device CA"
EXPIRED = cert("inf-013.ward3", not_before="2021-01-01", not_after="2024-01-01")
FUTURE = cert("inf-016.ward3", not_before="2025-01-01", not_after="2027-01-01")
VALID = cert("inf-017.ward3")


def verdicts(observations: Sequence[Observation], rules: RuleSet = RULES,
             inventory: Inventory | None = None) -> list[Finding | PassedCheck]:
    inv = inventory or Inventory()
    return list(rule_module.detect(Context(correlate(observations, inv), inv), rules.get(rule_module.RULE_ID)))


def rules_with(tmp_path: Path, params: str) -> RuleSet:
    """The default rules, with `params` (YAML lines) for expired-credential-accepted."""
    rules_dir = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules_dir, dirs_exist_ok=True)
    path = rules_dir / "authentication.yaml"
    text = path.read_text()
    start = text.index("      revoked_serials: {}")
    end = text.index("      gone_statuses: [retired, decommissioned]")
    path.write_text(text[:start] + params + text[end:])
    return load_rules(rules_dir)


def test_an_expired_certificate_accepted_is_a_finding() -> None:
    obs = tls_answered(T0, PUMP, SERVER, EXPIRED, ok=True)
    [f] = verdicts(obs)
    assert isinstance(f, Finding)
    assert f.subject == f"10.20.0.200:443|client-certificate:{EXPIRED.sha256}"
    assert (f.severity, f.outcome, f.count) == (Severity.HIGH, Outcome.SUCCESS, 1)
    assert f.message.startswith("10.20.0.200:443 (TLS) accepted the client certificate CN=inf-013.ward3")
    assert "(expired on 2024-01-01 at packet time) from unknown 10.20.0.64" in f.message
    assert f.message.endswith("(application data both ways after the client's Finished): it does not fail closed.")
    assert f.evidence[0].frames == tuple(sorted(n for o in obs for n in o.evidence.frames)), \
        "the certificate's frames and the first application data's"


def test_an_expired_certificate_refused_is_a_passed_check() -> None:
    [c] = verdicts(tls_answered(T0, PUMP, SERVER, EXPIRED, ok=False))
    assert isinstance(c, PassedCheck)
    assert c.near_miss.subject == f"10.20.0.200:443|client-certificate:{EXPIRED.sha256}"
    assert c.near_miss.message.endswith("(certificate_expired certificate expired): it fails closed.")


def test_not_yet_valid_accepted_and_an_unseen_answer_says_nothing() -> None:
    [f] = verdicts(tls_answered(T0, PUMP, SERVER, FUTURE, ok=True))
    assert "(not valid before 2025-01-01T00:00:00Z at packet time)" in f.message
    assert verdicts([client_cert(T0, PUMP, SERVER, EXPIRED)]) == [], "no attempt: no answer to judge"
    assert verdicts(tls_answered(T0, PUMP, SERVER, VALID, ok=True)) == []


def test_revoked_by_serial_and_by_fingerprint(tmp_path: Path) -> None:
    revoked_serial, revoked_sha = cert("revoked-by-serial"), cert("revoked-by-fingerprint")
    serial = "0x" + revoked_serial.serial.lower().zfill(40)  # any notation of the same serial
    rules = rules_with(tmp_path, f"      revoked_serials: {{'{DEVICE_CA}': ['{serial}']}}\n"
                                 f"      revoked_sha256: ['{revoked_sha.sha256.upper()}']\n")
    obs = [*tls_answered(T0, PUMP, SERVER, revoked_serial, ok=True),
           *tls_answered(T0 + 1, OTHER, SERVER, revoked_sha, ok=True),
           *tls_answered(T0 + 2, OTHER, SERVER, VALID, ok=True)]
    found = {f.subject.rpartition(":")[2]: f.message for f in verdicts(obs, rules) if isinstance(f, Finding)}
    assert set(found) == {revoked_serial.sha256, revoked_sha.sha256}
    assert f"serial {revoked_serial.serial} revoked by {DEVICE_CA} (rules)" in found[revoked_serial.sha256]
    assert "its fingerprint is listed as revoked" in found[revoked_sha.sha256]


def _crl(revoked: Sequence[X509Cert]) -> x509.CertificateRevocationList:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime(2024, 3, 1, tzinfo=UTC)
    builder = (x509.CertificateRevocationListBuilder()
               .issuer_name(x509.Name.from_rfc4514_string(DEVICE_CA))
               .last_update(now).next_update(now + timedelta(days=30)))
    for c in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(int(c.serial, 16)).revocation_date(now).build())
    return builder.sign(key, hashes.SHA256())


@pytest.mark.parametrize("encoding", [Encoding.PEM, Encoding.DER], ids=["pem", "der"])
def test_revoked_by_a_crl_file_beside_the_rules(tmp_path: Path, encoding: Encoding) -> None:
    revoked = cert(f"revoked-by-crl-{tmp_path.name}")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "device-ca.crl").write_bytes(_crl([revoked]).public_bytes(encoding))
    rules = rules_with(tmp_path, "      crl_files: [device-ca.crl]\n")
    [f] = verdicts([*tls_answered(T0, PUMP, SERVER, revoked, ok=True),
                    *tls_answered(T0, OTHER, SERVER, VALID, ok=True)], rules)
    assert f"serial {revoked.serial} revoked by {DEVICE_CA} (device-ca.crl)" in f.message
    [c] = verdicts(tls_answered(T0, PUMP, SERVER, revoked, ok=False, alert="certificate_revoked"), rules)
    assert isinstance(c, PassedCheck)
    assert "(certificate_revoked certificate revoked): it fails closed." in c.near_miss.message


def test_a_bad_crl_file_is_a_rules_error(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "device-ca.crl").write_text("-----BEGIN X509 CRL-----\nnot base64\n-----END X509 CRL-----\n")
    with pytest.raises(RuleError, match=r"rule expired-credential-accepted: .*device-ca.crl is not a CRL"):
        rules_with(tmp_path, "      crl_files: [device-ca.crl]\n")
    with pytest.raises(RuleError, match="cannot read the CRL"):
        rules_with(tmp_path, "      crl_files: [missing.crl]\n")
    with pytest.raises(RuleError, match="is not hexadecimal"):
        rules_with(tmp_path, f"      revoked_serials: {{'{DEVICE_CA}': ['XYZ']}}\n")


def test_an_issuer_outside_the_trust_list(tmp_path: Path) -> None:
    obs = tls_answered(T0, PUMP, SERVER, VALID, ok=True)
    assert verdicts(obs) == [], "no trust list given"
    [f] = verdicts(obs, rules_with(tmp_path / "a", "      trusted_issuers: ['CN=St. Example Radiology CA']\n"))
    assert f"(issued by {DEVICE_CA}, outside the site's trust list)" in f.message
    assert verdicts(obs, rules_with(tmp_path / "b", "      trusted_issuers: ['CN=St. Example Device CA']\n")) == []


INVENTORY = """\
asset_id,mac,ip,status,status_date,usernames,department
MON-005,00:09:fb:00:20:05,10.20.2.35,retired,2024-11-30,mon005-export,ICU
MON-002,00:09:fb:00:20:02,10.20.2.32,active,,,ICU
MON-003,00:09:fb:00:20:03,10.20.2.33,active,,shared-export,ICU
MON-004,00:09:fb:00:20:04,10.20.2.34,retired,2024-01-02,shared-export,ICU
"""


def test_a_retired_credential_accepted_and_refused(tmp_path: Path) -> None:
    path = tmp_path / "inventory.csv"
    path.write_text(INVENTORY)
    inv = load_inventory(path)
    mon2 = ep("10.20.2.32", "00-09-FB-00-20-02", 40000)
    other_ftp = ep("10.10.5.41", None, 21)
    obs = [*login(T0, mon2, FTP, "mon005-export", "export-pw", ok=True),
           *login(T0 + 60, mon2, other_ftp, "mon005-export", "export-pw", ok=False),
           *login(T0 + 120, mon2, FTP, "shared-export", "pw", ok=True)]  # also registered to an active device
    found = verdicts(obs, inventory=inv)
    shown = [(type(v).__name__, v.near_miss.subject if isinstance(v, PassedCheck) else v.subject) for v in found]
    assert shown == [
        ("Finding", "10.10.5.40:21|username:mon005-export"), ("PassedCheck", "10.10.5.41:21|username:mon005-export")]
    assert isinstance(found[0], Finding)
    assert "(registered to MON-005 (ICU), retired since 2024-11-30) from MON-002 (ICU)" in found[0].message


def test_the_audit_keeps_passed_checks_and_the_summary_counts_them() -> None:
    obs = [*tls_answered(T0, PUMP, SERVER, EXPIRED, ok=False), *tls_answered(T0 + 5, OTHER, SERVER, EXPIRED, ok=True)]
    result = run_audit(obs[:2], Inventory(), RULES, secrets=HASHER)
    assert [c.rule_id for c in result.passed] == ["expired-credential-accepted"]
    assert "expired-credential-accepted" not in {f.rule_id for f in result.findings}
    text = render_summary(result, RULES)
    assert "Checks passed (a service refused what it must refuse: it fails closed): expired-credential-accepted 1\n" \
        in text
    both = run_audit(obs, Inventory(), RULES, secrets=HASHER)
    assert both.passed == [] and both.summary["expired-credential-accepted"] == 1, "one server: it accepted once"
