"""The credential samples (sample_pcaps/credentials/, written by gen_credentials.py): what each
capture planted, what trustwatch finds in it, and what tshark's dissectors find in it.

1. Each capture against its expected file: every planted credential is found once, with its
   user, domain, host, kind, mechanism, notes, JWT claims and frame, the secret as the keyed
   fingerprint computed here with `hmac` under a fixed key; nothing more; DICOM associations
   and HL7 headers field by field.
2. Differential: per protocol, the credentials tshark's fields show (http.authorization,
   ftp.request.*, snmp.community, ldap.name, mqtt.username, ntlmssp.auth.*, kerberos.CNameString,
   sip.auth.*, dicom.*) against trustwatch's, on the same file.
3. tshark's credentials tap (`-z credentials`, tshark 4.0: FTP, HTTP, IMAP, POP3, SMTP): every
   credential it lists, on the samples and on the real captures, trustwatch finds too (same
   connection, protocol and user). Where the tap goes further or falls short, the comment says
   who is right.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import hmac
import json
import re
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REAL_PCAPS, SAMPLES, needs_real_pcaps
from trustwatch.sensor.flowid import Direction, FlowId
from trustwatch.sensor.records import CredentialSeen, DicomAssociation, Hl7Message, Observation
from trustwatch.sensor.secrets import SecretHasher
from trustwatch.sensor.sense import Sensor

CREDENTIALS = SAMPLES / "credentials"
EXPECTED = sorted(CREDENTIALS.glob("*.expected.json"))
KEY = b"credential-samples-test-key"
SECRET_KEYS = {"password": "password", "token": "token", "api-key": "secret", "community": "community",
               "passcode": "passcode"}
"""Where an expected file holds the raw secret of each fingerprinted kind (gen_credentials.py)."""


def fingerprint(raw: bytes | str) -> str:
    """HMAC-SHA-256 under the test key, as `sensor.secrets` computes it (text hashed as UTF-8)."""
    return hmac.new(KEY, raw.encode() if isinstance(raw, str) else raw, hashlib.sha256).hexdigest()


def planted_secret(cred: dict[str, Any]) -> bytes:
    """The raw secret of a planted credential (a binary one is written as hex under `<key>_hex`)."""
    key = SECRET_KEYS[cred["secret_kind"]]
    return cred[key].encode() if key in cred else bytes.fromhex(cred[key + "_hex"])


@functools.cache
def sensed(path: Path) -> tuple[Observation, ...]:
    """trustwatch's observations of one capture, secrets fingerprinted under the test key."""
    return tuple(Sensor(secrets=SecretHasher(KEY)).read(str(path)))


def credentials(path: Path) -> list[CredentialSeen]:
    return [o for o in sensed(path) if isinstance(o, CredentialSeen)]


def endpoint(flow: FlowId, side: Direction) -> str:
    ep = flow.orig if side == Direction.ORIG else flow.resp
    return f"{ep.ip}:{ep.port}"


def ecs_mac(mac: str) -> str:
    return mac.replace(":", "-").upper()


def sample(name: str) -> Path:
    path = CREDENTIALS / name
    assert path.is_file(), f"{path} missing: run sample_pcaps/gen_credentials.py"
    return path


# --------------------------------------------------------------------------------------
# 1. the planted facts
# --------------------------------------------------------------------------------------


def seen(c: CredentialSeen) -> dict[str, Any]:
    """A found credential in the expected file's terms (secret as fingerprint and hint)."""
    claims = None
    if c.token is not None:
        claims = {"alg": c.token.alg, "iss": c.token.iss, "sub": c.token.sub, "aud": list(c.token.aud),
                 "exp": c.token.exp, "iat": c.token.iat}
    return {"protocol": c.protocol.value, "client": endpoint(c.flow, Direction.ORIG),
            "server": endpoint(c.flow, Direction.RESP), "client_mac": c.flow.orig.mac, "server_mac": c.flow.resp.mac,
            "presenter": "client" if c.presenter == Direction.ORIG else "server", "user": c.username,
            "domain": c.domain, "host": c.host, "secret_kind": c.secret_kind.value, "secret_fp": c.secret_fp,
            "secret_hint": c.secret_hint, "mechanism": c.mechanism, "notes": sorted(c.notes), "claims": claims,
            "frame": c.evidence.frames[-1]}


def planted(c: dict[str, Any]) -> dict[str, Any]:
    """A planted credential as trustwatch must report it."""
    fp = hint = None
    if c["secret_kind"] in SECRET_KEYS:
        raw = planted_secret(c)
        fp, hint = fingerprint(raw), f"{c['secret_kind']}, {len(raw)} bytes"
    claims = c.get("claims")
    if claims is not None:
        claims = {**claims, "exp": float(claims["exp"]), "iat": float(claims["iat"])}
    return {"protocol": c["protocol"], "client": c["client"], "server": c["server"],
            "client_mac": ecs_mac(c["client_mac"]), "server_mac": ecs_mac(c["server_mac"]),
            "presenter": c["presenter"], "user": c["user"], "domain": c["domain"], "host": c["host"],
            "secret_kind": c["secret_kind"], "secret_fp": fp, "secret_hint": hint, "mechanism": c["mechanism"],
            "notes": sorted(c["notes"]), "claims": claims, "frame": c["frame"]}


def in_order(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (r["frame"], json.dumps(r, sort_keys=True)))


@pytest.mark.parametrize("expected", EXPECTED, ids=lambda p: p.name.split(".")[0])
def test_every_planted_credential_is_found_and_nothing_else(expected: Path) -> None:
    facts = json.loads(expected.read_text())
    path = sample(facts["capture"])
    sensor = Sensor(secrets=SecretHasher(KEY))
    found = [o for o in sensor.read(str(path)) if isinstance(o, CredentialSeen)]
    assert sensor.report.captures[0].frames == facts["frames"]
    assert dict(sensor.weirds.counts) == {}, "a well-formed sample raises no weird"
    assert in_order([seen(c) for c in found]) == in_order([planted(c) for c in facts["credentials"]])


@pytest.mark.parametrize("expected", EXPECTED, ids=lambda p: p.name.split(".")[0])
def test_dicom_associations_and_hl7_headers(expected: Path) -> None:
    facts = json.loads(expected.read_text())
    path = sample(facts["capture"])
    associations = [{"client": endpoint(o.flow, Direction.ORIG), "server": endpoint(o.flow, Direction.RESP),
                     "pdu": o.pdu, "calling_ae": o.calling_ae, "called_ae": o.called_ae,
                     "implementation_class_uid": o.implementation_class_uid,
                     "implementation_version": o.implementation_version, "user_identity_type": o.user_identity_type,
                     "result": o.result, "frame": o.evidence.frames[-1]}
                    for o in sensed(path) if isinstance(o, DicomAssociation)]
    want = [{k: v for k, v in a.items() if k not in ("client_mac", "server_mac", "presenter")}
            for a in facts.get("dicom_associations", [])]
    assert in_order(associations) == in_order(want)
    headers = [{"client": endpoint(o.flow, Direction.ORIG), "server": endpoint(o.flow, Direction.RESP),
                "sending_application": o.sending_application, "sending_facility": o.sending_facility,
                "receiving_application": o.receiving_application, "receiving_facility": o.receiving_facility,
                "message_type": o.message_type, "version": o.version, "frame": o.evidence.frames[-1]}
               for o in sensed(path) if isinstance(o, Hl7Message)]
    want = [{k: v for k, v in m.items() if k not in ("client_mac", "server_mac", "presenter")}
            for m in facts.get("hl7_messages", [])]
    assert in_order(headers) == in_order(want)


def test_every_credential_protocol_has_a_sample() -> None:
    protocols = {c["protocol"] for p in EXPECTED for c in json.loads(p.read_text())["credentials"]}
    assert protocols == {"http", "ftp", "telnet", "pop3", "imap", "smtp", "snmp", "ldap", "mqtt", "redis", "smb",
                         "kerberos", "sip", "dicom", "hl7"}
    types = {a["user_identity_type"] for p in EXPECTED for a in json.loads(p.read_text()).get("dicom_associations", [])}
    assert types >= {"username", "username-passcode", "kerberos", "saml", "jwt"}


def test_the_generator_is_deterministic(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(SAMPLES / "gen_credentials.py"), "--out", str(tmp_path)], check=True)
    for written in sorted(tmp_path.iterdir()):
        assert written.read_bytes() == (CREDENTIALS / written.name).read_bytes(), written.name
    assert {p.name for p in tmp_path.iterdir()} == {p.name for p in CREDENTIALS.iterdir()}


# --------------------------------------------------------------------------------------
# 2. differential: tshark's fields against trustwatch, per protocol
# --------------------------------------------------------------------------------------

AGGREGATOR = "\x1f"
"""Between the occurrences of a field in one packet (no planted value contains it)."""


def tshark(path: Path, display_filter: str, fields: list[str]) -> list[dict[str, str]]:
    """One row per packet matching `display_filter`: each field's occurrences joined by AGGREGATOR."""
    cmd = ["tshark", "-n", "-r", str(path), "-Y", display_filter, "-T", "fields", "-E", "occurrence=a",
           "-E", f"aggregator={AGGREGATOR}", "-E", "separator=\t"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [dict(zip(fields, line.split("\t"), strict=True)) for line in out.splitlines()]


def sender(row: dict[str, str]) -> str:
    """The sending endpoint of a tshark row."""
    return f"{row['ip.src']}:{row.get('tcp.srcport') or row.get('udp.srcport')}"


def presenter(c: CredentialSeen) -> str:
    """The endpoint that presented a credential."""
    return endpoint(c.flow, c.presenter)


def test_http_authorization_headers_and_api_keys_as_tshark() -> None:
    path = sample("cred-http.pcap")
    rows = tshark(path, "http.request", ["ip.src", "tcp.srcport", "http.authorization",
                                         "http.request.uri.query.parameter", "http.request.line"])
    theirs: set[tuple[str, str, str | None, str | None]] = set()
    for row in rows:
        scheme, _, rest = row["http.authorization"].partition(" ")
        if scheme == "Basic":
            user, _, password = base64.b64decode(rest).decode().partition(":")
            theirs.add((sender(row), "basic", user, fingerprint(password)))
        elif scheme == "Bearer":
            theirs.add((sender(row), "bearer", None, fingerprint(rest)))
        elif scheme == "Digest":
            params = dict(re.findall(r'(\w+)="?([^",]*)"?', rest))
            theirs.add((sender(row), "digest", params["username"], params["realm"]))
        for parameter in filter(None, row["http.request.uri.query.parameter"].split(AGGREGATOR)):
            name, _, value = parameter.partition("=")
            if name == "api_key":  # tshark shows the parameter as on the wire, percent-encoded
                theirs.add((sender(row), "query:api_key", None, fingerprint(urllib.parse.unquote(value))))
        for line in row["http.request.line"].split(AGGREGATOR):  # each ends in "\\r\\n", escaped by tshark
            name, _, value = line.removesuffix("\\r\\n").partition(": ")
            if name.lower() == "x-api-key":
                theirs.add((sender(row), "header:x-api-key", None, fingerprint(value)))
    ours = {(presenter(c), c.mechanism, None if c.mechanism == "bearer" else c.username,
             c.domain if c.mechanism == "digest" else c.secret_fp)
            for c in credentials(path) if c.mechanism != "NTLM"}
    assert ours == theirs
    assert len(ours) == 5


@pytest.mark.parametrize("name", ["cred-http.pcap", "cred-smb.pcap"])
def test_ntlm_logons_as_tshark(name: str) -> None:
    path = sample(name)
    rows = tshark(path, "ntlmssp.messagetype == 3", ["ip.src", "tcp.srcport", "ntlmssp.auth.username",
                                                     "ntlmssp.auth.domain", "ntlmssp.auth.hostname"])
    theirs = {(sender(r), r["ntlmssp.auth.username"], r["ntlmssp.auth.domain"], r["ntlmssp.auth.hostname"])
              for r in rows}
    ours = {(presenter(c), c.username, c.domain, c.host) for c in credentials(path) if c.mechanism == "NTLM"}
    assert ours == theirs and len(ours) == 1


def test_ftp_logins_as_tshark() -> None:
    path = sample("cred-ftp.pcap")
    theirs, user = set(), ""
    for row in tshark(path, "ftp.request.command", ["ip.src", "tcp.srcport", "ftp.request.command",
                                                    "ftp.request.arg"]):
        if row["ftp.request.command"] == "USER":
            user = row["ftp.request.arg"]
        elif row["ftp.request.command"] == "PASS":
            theirs.add((sender(row), user, fingerprint(row["ftp.request.arg"])))
    assert {(presenter(c), c.username, c.secret_fp) for c in credentials(path)} == theirs
    assert len(theirs) == 2


def test_snmp_communities_and_users_as_tshark() -> None:
    path = sample("cred-snmp.pcap")
    theirs = set()
    for row in tshark(path, "snmp", ["ip.src", "udp.srcport", "snmp.community", "snmp.msgUserName"]):
        if row["snmp.community"]:
            theirs.add((sender(row), fingerprint(row["snmp.community"])))
        if row["snmp.msgUserName"]:  # an engine discovery names no user yet
            theirs.add((sender(row), "user:" + row["snmp.msgUserName"]))
    ours = {(presenter(c), c.secret_fp or f"user:{c.username}") for c in credentials(path)}
    assert ours == theirs and len(ours) == 7


def test_ldap_binds_as_tshark() -> None:
    path = sample("cred-ldap.pcap")
    rows = tshark(path, "ldap.protocolOp == 0", ["ip.src", "tcp.srcport", "ldap.name", "ldap.simple"])
    theirs = {(sender(r), r["ldap.name"] or None, fingerprint(r["ldap.simple"]) if r["ldap.simple"] else None)
              for r in rows}
    assert {(presenter(c), c.username, c.secret_fp) for c in credentials(path)} == theirs and len(theirs) == 2


def test_mqtt_connects_as_tshark() -> None:
    path = sample("cred-mqtt.pcap")
    rows = tshark(path, "mqtt.msgtype == 1", ["ip.src", "tcp.srcport", "mqtt.clientid", "mqtt.username",
                                              "mqtt.passwd"])
    theirs = {(sender(r), r["mqtt.clientid"], r["mqtt.username"], fingerprint(r["mqtt.passwd"])) for r in rows}
    assert {(presenter(c), c.host, c.username, c.secret_fp) for c in credentials(path)} == theirs
    assert len(theirs) == 2


def test_kerberos_client_principals_as_tshark() -> None:
    path = sample("cred-kerberos.pcap")
    rows = tshark(path, "kerberos.msg_type == 10", ["ip.src", "tcp.srcport", "udp.srcport", "kerberos.CNameString",
                                                    "kerberos.realm", "kerberos.padata_type"])
    theirs = [(sender(r), r["kerberos.CNameString"], r["kerberos.realm"],
               "hash" if "2" in r["kerberos.padata_type"].split(AGGREGATOR) else "none") for r in rows]
    ours = [(presenter(c), c.username, c.domain, c.secret_kind.value) for c in credentials(path)]
    assert sorted(ours) == sorted(theirs) and len(ours) == 3


def test_sip_digest_users_as_tshark() -> None:
    path = sample("cred-sip.pcap")
    rows = tshark(path, "sip.Method == \"REGISTER\" && sip.auth.username", ["ip.src", "tcp.srcport", "udp.srcport",
                                                                           "sip.auth.username", "sip.auth.realm"])
    # tshark shows the quoted-strings as they are on the wire, quotes included
    theirs = {(sender(r), r["sip.auth.username"].strip('"'), r["sip.auth.realm"].strip('"')) for r in rows}
    assert {(presenter(c), c.username, c.domain) for c in credentials(path)} == theirs and len(theirs) == 2


REJECT_RESULTS = {"1": "rejected-permanent", "2": "rejected-transient"}
"""PS3.8 Table 9-21, A-ASSOCIATE-RJ result."""


def test_dicom_associations_and_user_identities_as_tshark() -> None:
    path = sample("cred-dicom.pcap")
    pdus = set()
    for row in tshark(path, "dicom.pdu.type <= 3", ["dicom.pdu.type", "dicom.assoc.ae.calling", "dicom.assoc.ae.called",
                                                    "dicom.userinfo.uid", "dicom.userinfo.version",
                                                    "dicom.assoc.reject.result"]):
        pdu = {"0x01": "request", "0x02": "accept", "0x03": "reject"}[row["dicom.pdu.type"]]
        result = REJECT_RESULTS.get(row["dicom.assoc.reject.result"], "accepted" if pdu == "accept" else None)
        pdus.add((pdu, row["dicom.assoc.ae.calling"].strip(), row["dicom.assoc.ae.called"].strip(),
                  row["dicom.userinfo.uid"] or None, row["dicom.userinfo.version"] or None, result))
    ours = {(o.pdu, o.calling_ae, o.called_ae, o.implementation_class_uid, o.implementation_version,
             o.result.split(":")[0] if o.result else None) for o in sensed(path) if isinstance(o, DicomAssociation)}
    assert ours == pdus and len(ours) == 10
    identity = ["ip.src", "tcp.srcport", "dicom.userinfo.user_identify.type",
                "dicom.userinfo.user_identify.primary_field_length"]
    # Type 3 is a binary Kerberos ticket, which tshark prints raw: compared by its length only.
    identities: set[tuple[str, str, str | None, str | int | None]] = {
        (sender(r), "3", None, int(r["dicom.userinfo.user_identify.primary_field_length"]))
        for r in tshark(path, "dicom.userinfo.user_identify.type == 3", identity)}
    for row in tshark(path, "dicom.userinfo.user_identify.type != 3", [*identity,
                                                                       "dicom.userinfo.user_identify.primary_field",
                                                                       "dicom.userinfo.user_identify.secondary_field"]):
        kind, primary = row["dicom.userinfo.user_identify.type"], row["dicom.userinfo.user_identify.primary_field"]
        text = {"2": row["dicom.userinfo.user_identify.secondary_field"], "4": primary, "5": primary}.get(kind)
        identities.add((sender(row), kind, primary if kind in "12" else None, fingerprint(text) if text else None))
    types = {"user-identity-username": "1", "user-identity-username-passcode": "2", "user-identity-kerberos": "3",
             "user-identity-saml": "4", "user-identity-jwt": "5"}
    ours_identities: set[tuple[str, str, str | None, str | int | None]] = set()
    for c in credentials(path):
        kind = types[c.mechanism]
        secret: str | int | None = c.secret_fp
        if kind == "3":  # the hint says "token, N bytes"
            secret = int((c.secret_hint or "").split(", ")[1].split()[0])
        ours_identities.add((presenter(c), kind, c.username if kind in "12" else None, secret))
    assert ours_identities == identities and len(identities) == 5


# --------------------------------------------------------------------------------------
# 3. tshark's credentials tap
# --------------------------------------------------------------------------------------

TAP_PROTOCOLS = {"FTP": "ftp", "HTTP basic auth": "http", "HTTP header auth": "http", "IMAP": "imap", "POP3": "pop3",
                 "SMTP": "smtp"}
"""What tshark 4.0's tap calls the protocols it lists."""
TAP_NO_USER = {"n.a.", "(null)"}
"""The tap's placeholders for a credential it has no user name for: "n.a." for an Authorization
header other than Basic; "(null)" for AUTH LOGIN whose user came as the initial response
(`AUTH LOGIN <base64 user>`, RFC 4954 4), which tshark 4.0 does not read although its own
packet summary shows it (lab/smtp_auth.pcap frame 48: trustwatch reports rosa.m66, the user the
truth file planted)."""
TAP_ROW = re.compile(r"(\d+)\s+(.{16}) (.*?)(?:\s+Username in packet:? \d+)?\s*$")
"""`%-10u %-16s %-16s %s` (ui/cli/tap-credentials.c): packet, protocol, user name (longer ones
push the info along), info."""
TAP_KEYWORDS = re.compile(rb"(?i)\b(?:pass|login|auth|authenticate|apop) |authorization:")
"""The tap's protocols carry their credentials after one of these words, in clear: a capture
without any has nothing for it to list (and needs no tshark run)."""
TAP_OPTIONS = ("-o", "smtp.decryption:TRUE")
"""Without it tshark leaves SMTP AUTH parameters in base64 and lists the encoded text as the user."""


CONNECTION_FIELDS = ["frame.number", "ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst", "tcp.dstport"]


@functools.cache
def tap(path: Path) -> tuple[list[tuple[int, str, str]], dict[int, frozenset[str]]]:
    """(frame, protocol, user) of each credential `tshark -z credentials` lists, and the
    connection (its two endpoints) of every frame, from one tshark run."""
    cmd = ["tshark", "-n", *TAP_OPTIONS, "-r", str(path), "-z", "credentials", "-T", "fields", "-E", "separator=\t"]
    for f in CONNECTION_FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    packets, _, listing = out.partition("=" * 67)
    where = {}
    for line in packets.splitlines():
        r = dict(zip(CONNECTION_FIELDS, line.split("\t"), strict=True))
        where[int(r["frame.number"])] = frozenset({f"{r['ip.src'] or r['ipv6.src']}:{r['tcp.srcport']}",
                                                   f"{r['ip.dst'] or r['ipv6.dst']}:{r['tcp.dstport']}"})
    rows = []
    for line in listing.splitlines():
        m = TAP_ROW.fullmatch(line)
        if m and line[:1].isdigit():
            rows.append((int(m[1]), m[2].strip(), m[3].strip()))
    return rows, where


def tap_user(protocol: str, user: str) -> str:
    """The user as trustwatch reports it: tshark's IMAP user is the LOGIN argument as written,
    a quoted string with its quotes (RFC 9051 4.3: they delimit, they are not part of it)."""
    if protocol == "imap" and len(user) > 1 and user[0] == user[-1] == '"':
        return re.sub(r"\\(.)", r"\1", user[1:-1])
    return user


def missed_by_trustwatch(path: Path) -> set[tuple[str, str]]:
    """(protocol, user) of each credential the tap lists that trustwatch does not report on the
    same connection (a tap row without a user name matches any credential of its protocol there)."""
    rows, where = tap(path)
    ours: dict[frozenset[str], set[tuple[str, str | None]]] = {}
    for c in credentials(path):
        key = frozenset({endpoint(c.flow, Direction.ORIG), endpoint(c.flow, Direction.RESP)})
        ours.setdefault(key, set()).add((c.protocol.value, c.username))
    missed = set()
    for frame, name, user in rows:
        assert name in TAP_PROTOCOLS, f"the tap lists a protocol this test does not know: {name}"
        protocol, found = TAP_PROTOCOLS[name], ours.get(where[frame], set())
        if user in TAP_NO_USER:
            matched = any(p == protocol for p, _ in found)
        else:
            matched = (protocol, tap_user(protocol, user)) in found
        if not matched:
            missed.add((protocol, user))
    return missed


@pytest.mark.parametrize("expected", EXPECTED, ids=lambda p: p.name.split(".")[0])
def test_every_credential_the_tap_lists_in_the_samples_is_found(expected: Path) -> None:
    path = sample(json.loads(expected.read_text())["capture"])
    assert missed_by_trustwatch(path) == set()


def test_the_tap_lists_something_of_each_of_its_protocols_in_the_samples() -> None:
    """The comparison above compares something. What the tap leaves out of the samples is
    trustwatch's alone (tshark 4.0 reads none of it for the tap): HTTP Digest, NTLM and API keys,
    IMAP literals and AUTHENTICATE, POP3 APOP and AUTH, SMTP CRAM-MD5; each is planted, and
    found (test_every_planted_credential_is_found_and_nothing_else)."""
    captures = [sample(json.loads(p.read_text())["capture"]) for p in EXPECTED]
    listed = {TAP_PROTOCOLS[name] for path in captures for _, name, _ in tap(path)[0]}
    assert listed == set(TAP_PROTOCOLS.values())


def real_captures_with_cleartext_logins() -> list[Path]:
    if REAL_PCAPS is None:
        return []
    found = []
    for path in sorted(REAL_PCAPS.rglob("*.pcap*")):
        data = path.read_bytes()
        if TAP_KEYWORDS.search(gzip.decompress(data) if path.suffix == ".gz" else data):
            found.append(path)
    return found


@needs_real_pcaps
@pytest.mark.parametrize("path", real_captures_with_cleartext_logins(),
                         ids=lambda p: str(p.relative_to(REAL_PCAPS)) if REAL_PCAPS else p.name)
def test_every_credential_the_tap_lists_in_the_real_captures_is_found(path: Path) -> None:
    assert REAL_PCAPS is not None
    assert missed_by_trustwatch(path) == set()
