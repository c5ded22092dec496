"""HTTP/1.x: every request of a connection; Basic, Bearer (JWT claims), Digest, API keys in
headers and query strings; bodies skipped; each request's response paired in order as the
outcome of its credentials (the proxy's apart); checked against truth files, tshark
(`http.response.code` of `http.request_in`) and fuzzing."""

from __future__ import annotations

import base64
import contextlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import needs_real_pcaps
from tests.sensor.protocols.streams import answers, observations, paired
from tests.sensor.test_ntlm import NEGOTIATE, authenticate, spnego
from trustwatch.sensor.flowid import Direction, Endpoint, FlowId
from trustwatch.sensor.protocols.base import ParseError
from trustwatch.sensor.protocols.http import HttpExtractor
from trustwatch.sensor.records import AuthenticationOutcome, CredentialSeen, Observation, Outcome, SecretKind
from trustwatch.sensor.secrets import SecretHasher
from trustwatch.sensor.sense import Sensor
from trustwatch.sensor.siterules import load_api_key_names, load_sensor_rules
from trustwatch.sensor.yamlfile import RULES_DIR, RulesFileError

KEY = SecretHasher(b"http-test-site-key")
FLOW = FlowId(uid="Chttp", transport="tcp", orig=Endpoint("10.20.1.21", 50400, None),
              resp=Endpoint("10.10.4.20", 80, None))
JWT = b"eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJpZHAiLCJzdWIiOiJwdW1wLTciLCJleHAiOjE3NDE3NjI4MDB9.c2ln"


def basic(user: bytes, password: bytes) -> bytes:
    return b"Basic " + base64.b64encode(user + b":" + password)


def request(auth: bytes | None = None, target: bytes = b"/api/v1/status", body: bytes = b"",
            extra: bytes = b"") -> bytes:
    head = b"POST " + target + b" HTTP/1.1\r\nHost: infusion-mgmt\r\n" + extra
    if auth:
        head += b"Authorization: " + auth + b"\r\n"
    return head + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body


SITE_HTTP = HttpExtractor.bound(load_sensor_rules())
"""Bound to the repository's `rules/credentials.yaml`, as the sensor binds it."""


def run(stream: bytes, extractor: type[HttpExtractor] = SITE_HTTP) -> list[Observation]:
    ext, out = extractor(KEY), []
    while stream:
        found, used = ext.parse(FLOW, Direction.ORIG, 1.0, stream)
        assert used
        out += found
        stream = stream[used:]
    return out


def test_every_request_of_a_keep_alive_connection() -> None:
    body = b'{"Authorization": "Basic not-a-header", "pump": 7}'
    creds = run(request(basic(b"pump7", b"Alaris:2019"), body=body)
                + request(b"Bearer " + JWT) + request(None, b"/api?apikey=K3Y-123&x=1")
                + request(None, extra=b"X-API-Key: ak-998877\r\n")
                + request(b'Digest username="biomed", realm="Alaris Server", nonce="abc", response="ff"'))
    assert all(isinstance(c, CredentialSeen) for c in creds)
    got = [(c.mechanism, c.username, c.secret_kind, c.secret_fp, c.domain) for c in creds
           if isinstance(c, CredentialSeen)]
    fp = lambda kind, s: KEY.fingerprint(kind, s).value  # noqa: E731
    assert got == [
        ("basic", "pump7", SecretKind.PASSWORD, fp(SecretKind.PASSWORD, "Alaris:2019"), None),
        ("bearer", "pump-7", SecretKind.TOKEN, fp(SecretKind.TOKEN, JWT), None),
        ("query:apikey", None, SecretKind.API_KEY, fp(SecretKind.API_KEY, "K3Y-123"), None),
        ("header:x-api-key", None, SecretKind.API_KEY, fp(SecretKind.API_KEY, "ak-998877"), None),
        ("digest", "biomed", SecretKind.HASH, None, "Alaris Server"),
    ]
    bearer = creds[1]
    assert isinstance(bearer, CredentialSeen) and bearer.token is not None
    assert bearer.token.exp == 1741762800 and bearer.token.iss == "idp"
    assert "Alaris:2019" not in repr(creds) and "/api" not in repr(creds)


def test_other_schemes_are_credentials_fingerprinted_whole() -> None:
    """RFC 9110 11.4: a scheme trustwatch does not know still carries a credential; a bare value
    is the secret itself and names no scheme."""
    creds = run(request(b"Turbo customAuthDataHere") + request(b"c2VjcmV0LXZhbHVl") + request(b"Bearer"))
    assert [(c.mechanism, c.secret_kind, c.secret_fp) for c in creds if isinstance(c, CredentialSeen)] == [
        ("scheme:turbo", SecretKind.TOKEN, KEY.fingerprint(SecretKind.TOKEN, "Turbo customAuthDataHere").value),
        ("authorization", SecretKind.TOKEN, KEY.fingerprint(SecretKind.TOKEN, "c2VjcmV0LXZhbHVl").value)]
    assert "customAuthData" not in repr(creds) and "c2VjcmV0" not in repr(creds)


def test_a_first_word_unlike_a_scheme_name_is_never_written_out() -> None:
    creds = run(request(b"9f8e7d6c5b4a3f2e1d0c x"))
    assert [(c.mechanism, c.secret_fp) for c in creds if isinstance(c, CredentialSeen)] == [
        ("authorization", KEY.fingerprint(SecretKind.TOKEN, "9f8e7d6c5b4a3f2e1d0c x").value)]
    assert "9f8e7d6c" not in repr(creds)


def test_api_key_names_come_from_the_rules(tmp_path: Path) -> None:
    """A site adds its devices' header to rules/ and the sensor finds it; no code changes."""
    pump_header = request(None, extra=b"X-Pump-Key: pk-4242\r\n") + request(None, b"/s?device_secret=ds-77")
    assert run(pump_header) == []
    rules = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules)
    text = (rules / "credentials.yaml").read_text()
    (rules / "credentials.yaml").write_text(text.replace("headers: [x-api-key,", "headers: [X-Pump-Key, x-api-key,")
                                            .replace("query_parameters: [", "query_parameters: [device_secret, "))
    site = HttpExtractor.bound(load_sensor_rules(rules))
    creds = [c for c in run(pump_header, site) if isinstance(c, CredentialSeen)]
    assert [(c.mechanism, c.secret_fp) for c in creds] == [
        ("header:x-pump-key", KEY.fingerprint(SecretKind.API_KEY, "pk-4242").value),
        ("query:device_secret", KEY.fingerprint(SecretKind.API_KEY, "ds-77").value)]
    assert HttpExtractor.api_keys.headers == frozenset()  # binding made a subclass; the class is untouched


@pytest.mark.parametrize(("section", "says"), [
    ("http_api_keys: {headers: x-api-key}", "http_api_keys.headers: expected a list of names"),
    ("http_api_keys: {headers: [x-api-key, 7]}", "http_api_keys.headers: expected a list of names"),
    ("http_api_keys: {header: [x-api-key]}", "expected `http_api_keys:` with `headers` and `query_parameters`"),
    ("rules: []", "expected `http_api_keys:`"),
    ("http_api_keys: [", "line 2: invalid YAML"),
])
def test_broken_api_key_rules_name_the_file_and_field(tmp_path: Path, section: str, says: str) -> None:
    path = tmp_path / "credentials.yaml"
    path.write_text(section + "\n")
    with pytest.raises(RulesFileError, match=r"credentials\.yaml: .*" + re.escape(says)):
        load_api_key_names(path)


def test_chunked_bodies_and_repeats() -> None:
    chunked = (b"PUT /upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\nAuthorization: " + basic(b"a", b"b")
               + b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    assert len(run(chunked + chunked + request(basic(b"a", b"c")))) == 2  # one per distinct credential


def test_ntlm_and_negotiate_logons() -> None:
    negotiate, auth = (b"NTLM " + base64.b64encode(message) for message in (NEGOTIATE, authenticate()))
    creds = run(request(negotiate) + request(auth) + request(auth)
                + request(b"Negotiate " + base64.b64encode(spnego(authenticate(user="biomed")))))
    assert [(c.protocol, c.mechanism, c.username, c.domain, c.host) for c in creds if isinstance(c, CredentialSeen)
            ] == [("http", "NTLM", "nurse7", "WARD3", "PUMP-0042"), ("http", "NTLM", "biomed", "WARD3", "PUMP-0042")]
    ext = HttpExtractor(KEY)
    assert ext.parse(FLOW, Direction.ORIG, 1.0, request(b"NTLM ***"))[0] == []
    assert ext.weirds == ["http_bad_ntlm"]


def test_probe_and_garbage() -> None:
    assert HttpExtractor.probe(b"GET / HTTP/1.1\r\n") and HttpExtractor.probe(b"HTTP/1.1 200 OK\r\n")
    assert not HttpExtractor.probe(b"USER anonymous\r\n")
    with pytest.raises(ParseError, match="http_bad_request_line"):
        run(b"\x16\x03\x01 junk\r\n\r\n")
    with pytest.raises(ParseError, match="http_bad_basic"):
        run(request(b"Basic ***"))


def test_truncation_at_every_byte() -> None:
    data = request(basic(b"u", b"p"), body=b"xyz")
    for cut in range(len(data)):
        _found, used = HttpExtractor(KEY).parse(FLOW, Direction.ORIG, 1.0, data[:cut])
        assert used <= cut


@given(st.binary(max_size=300))
def test_fuzz_raises_nothing_but_parse_errors(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        ext = HttpExtractor(KEY)
        stream = b"GET /" + data
        while stream:
            _found, used = ext.parse(FLOW, Direction.ORIG, 1.0, stream)
            if not used:
                break
            stream = stream[used:]


def truth(real: Path) -> dict[str, set[tuple[str | None, str]]]:
    """(user, secret fingerprint) of each HTTP credential with a secret in the truth files."""
    out: dict[str, set[tuple[str | None, str]]] = {}
    for prefix, name in (("", "expected.json"), ("lab/", "lab/expected.json")):
        for capture, facts in json.loads((real / name).read_text()).items():
            for c in facts.get("credentials", []) if isinstance(facts, dict) else []:
                if c.get("proto") == "http" and (c.get("password") not in (None, "None") or c.get("token")):
                    secret = c.get("password") if c.get("password") not in (None, "None") else c["token"]
                    out.setdefault(prefix + capture, set()).add(
                        (c.get("user"), KEY.fingerprint(SecretKind.PASSWORD, secret).value))
    return out


def sensed(path: Path) -> list[CredentialSeen]:
    return [o for o in Sensor(secrets=KEY).read(str(path)) if isinstance(o, CredentialSeen)]


@needs_real_pcaps
def test_every_http_credential_of_the_real_captures(real_pcaps: Path) -> None:
    expected = truth(real_pcaps)
    assert len(expected) >= 5
    for name, creds in expected.items():
        got = {c.secret_fp for c in sensed(real_pcaps / name)}
        assert {fp for _user, fp in creds} <= got, name


@needs_real_pcaps
def test_same_authorization_headers_as_tshark(real_pcaps: Path) -> None:
    for name in truth(real_pcaps):
        out = subprocess.run(["tshark", "-n", "-r", str(real_pcaps / name), "-Y", "http.authorization", "-T",
                              "fields", "-e", "http.authorization"], capture_output=True, text=True,
                             check=True).stdout
        theirs = set()
        for value in filter(None, out.splitlines()):
            scheme, _, rest = value.partition(" ")
            if scheme.lower() == "basic":
                secret = base64.b64decode(rest.strip()).partition(b":")[2]
                theirs.add(KEY.fingerprint(SecretKind.PASSWORD, secret).value)
            elif scheme.lower() == "bearer":
                theirs.add(KEY.fingerprint(SecretKind.TOKEN, rest.strip()).value)
        ours = {c.secret_fp for c in sensed(real_pcaps / name) if c.mechanism in ("basic", "bearer")}
        assert ours == theirs, name


C, S = Direction.ORIG, Direction.RESP


def response(status: bytes, headers: bytes = b"", body: bytes = b"") -> bytes:
    return b"HTTP/1.1 " + status + b"\r\n" + headers + b"Content-Length: %d\r\n\r\n" % len(body) + body


def outcomes(*chunks: tuple[Direction, bytes]) -> list[tuple[int, str, str | None]]:
    return answers(observations(SITE_HTTP(KEY), FLOW, list(chunks), close=True))


def test_responses_answer_the_requests_of_a_keep_alive_connection_in_order() -> None:
    """A challenge answered with a wrong then a right password, a request without credentials
    between, chunked and HEAD bodies, an interim 100 Continue, and text that looks like a
    status line inside a body."""
    requests = (request(basic(b"pump7", b"wrong")) + request(None) + request(basic(b"pump7", b"right"))
                + b"HEAD /s HTTP/1.1\r\nX-API-Key: ak-1\r\n\r\n" + request(b"Bearer " + JWT))
    responses = (response(b"401 Unauthorized", b'WWW-Authenticate: Basic realm="Alaris"\r\n', b"HTTP/1.1 200 OK")
                 + response(b"200 OK", body=b"{}")
                 + b"HTTP/1.1 100 Continue\r\n\r\n"
                 + b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nHTTP\r\n0\r\n\r\n"
                 + b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
                 + response(b"403 Forbidden"))
    expected = [(1, "failure", "401"), (2, "success", "200"), (3, "success", "200"), (4, "failure", "403")]
    assert outcomes((C, requests), (S, responses)) == expected
    assert outcomes((C, requests), *[(S, responses[i : i + 7]) for i in range(0, len(responses), 7)]) == expected
    found = observations(SITE_HTTP(KEY), FLOW, [(C, requests), (S, responses)])
    refused = next(o for o in found if isinstance(o, AuthenticationOutcome) and o.attempt == 1)
    assert refused.reason == 'Basic realm="Alaris"'


def test_proxy_credentials_are_an_attempt_of_their_own() -> None:
    both = request(basic(b"pump7", b"pw"), extra=b"Proxy-Authorization: " + basic(b"proxyuser", b"ppw") + b"\r\n")
    refused = response(b"407 Proxy Authentication Required", b'Proxy-Authenticate: Basic realm="px"\r\n')
    found = observations(SITE_HTTP(KEY), FLOW, [(C, both), (S, refused)], close=True)
    by_mechanism = {c.mechanism: c.attempt for c in found if isinstance(c, CredentialSeen)}
    assert sorted(answers(found)) == sorted([(by_mechanism["basic"], "unknown", "407"),
                                             (by_mechanism["proxy-basic"], "failure", "407")])
    assert {(a, o) for a, o, _c in outcomes((C, both), (S, response(b"401 Unauthorized")))} == {
        (by_mechanism["basic"], "failure"), (by_mechanism["proxy-basic"], "unknown")}
    assert {o for _a, o, _c in outcomes((C, both), (S, response(b"200 OK")))} == {"success"}


def test_retries_after_a_refusal_are_new_attempts_repeats_after_success_are_not() -> None:
    wrong, right = request(basic(b"pump7", b"wrong")), request(basic(b"pump7", b"right"))
    refused = response(b"401 Unauthorized", b'WWW-Authenticate: Basic realm="x"\r\n')
    assert outcomes((C, wrong), (S, refused), (C, wrong), (S, refused), (C, right), (S, response(b"200 OK")),
                    (C, right), (S, response(b"200 OK"))) == [(1, "failure", "401"), (2, "failure", "401"),
                                                             (3, "success", "200")]


def test_stale_digest_nonce_and_statuses_that_do_not_judge() -> None:
    digest = request(b'Digest username="biomed", realm="r", nonce="n1", response="ff"')
    stale = response(b"401 Unauthorized", b'WWW-Authenticate: Digest realm="r", nonce="n2", stale=true\r\n')
    assert outcomes((C, digest), (S, stale)) == [(1, "unknown", "401")]
    assert outcomes((C, digest), (S, response(b"404 Not Found"))) == [(1, "unknown", "404")]
    assert outcomes((C, digest), (S, response(b"503 Service Unavailable"))) == [(1, "unknown", "503")]
    assert outcomes((C, digest)) == [(1, "unknown", None)], "no response captured"


def test_ntlm_handshake_and_upgrades() -> None:
    negotiate, auth = (b"NTLM " + base64.b64encode(message) for message in (NEGOTIATE, authenticate()))
    challenge = response(b"401 Unauthorized", b"WWW-Authenticate: NTLM TlRMTVNTUAACAAAA\r\n")
    assert outcomes((C, request(negotiate)), (S, challenge), (C, request(auth)), (S, response(b"200 OK"))) == [
        (1, "success", "200")]
    assert outcomes((C, request(negotiate)), (S, challenge), (C, request(auth)), (S, challenge)) == [
        (1, "failure", "401")]
    ext = SITE_HTTP(KEY)
    upgrade = observations(ext, FLOW, [(C, request(b"Bearer " + JWT, extra=b"Upgrade: websocket\r\n")),
                                       (S, b"HTTP/1.1 101 Switching Protocols\r\n\r\n\x81\x05hello")])
    assert answers(upgrade) == [(1, "success", "101")] and ext.finished


def test_reading_ends_once_the_requests_are_read_and_answered() -> None:
    ext = SITE_HTTP(KEY)
    observations(ext, FLOW, [(C, request(None) * 31 + request(basic(b"u", b"p")) + request(basic(b"v", b"q")))])
    assert ext.done and not ext.finished and len(ext.pending) == 1, "the 32nd request's answer is awaited"
    observations(ext, FLOW, [(S, response(b"200 OK") * 32)])
    assert ext.finished


def test_truncated_responses_wait_and_garbage_raises() -> None:
    head = response(b"401 Unauthorized", b'WWW-Authenticate: Basic realm="x"\r\n')
    for cut in range(len(head)):
        ext = SITE_HTTP(KEY)
        observations(ext, FLOW, [(C, request(basic(b"u", b"p")))])
        assert ext.parse(FLOW, S, 1.0, head[:cut]) == ([], 0)
    with pytest.raises(ParseError, match="http_bad_status_line"):
        SITE_HTTP(KEY).parse(FLOW, S, 1.0, b"SSH-2.0-OpenSSH_9.2\r\n\r\n")


@given(st.binary(max_size=300))
def test_fuzz_responses_raise_nothing_but_parse_errors(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        answers(observations(SITE_HTTP(KEY), FLOW, [(C, request(basic(b"u", b"p"))), (S, b"HTTP/1.1 " + data)],
                             close=True))


@needs_real_pcaps
def test_outcomes_of_the_lab_requests_equal_the_truth(real_pcaps: Path) -> None:
    truth = json.loads((real_pcaps / "lab" / "expected.json").read_text())["http_auth.pcap"]["credentials"]
    ours = sorted((c.mechanism.removeprefix("header:"), a.outcome == Outcome.SUCCESS)
                  for c, a in paired(Sensor(secrets=KEY).read(str(real_pcaps / "lab/http_auth.pcap"))))
    assert ours == sorted((c["scheme"], c["auth_ok"]) for c in truth)


@needs_real_pcaps
def test_outcomes_equal_tshark(real_pcaps: Path) -> None:
    """tshark pairs each response with its request (`http.request_in`): the status of the
    response to the request carrying each credential (its evidence's last frame) is ours."""
    names = [*truth(real_pcaps), "zeek/erspan.pcap", "suricata-verify/http-auth-unrecognized/input.pcap"]
    for name in names:
        out = subprocess.run(["tshark", "-n", "-r", str(real_pcaps / name), "-Y", "http.response", "-T", "fields",
                              "-e", "http.request_in", "-e", "http.response.code"],
                             capture_output=True, text=True, check=True).stdout
        theirs = {int(frame): code for frame, code in (line.split("\t") for line in out.splitlines()) if frame}
        ours = paired(Sensor(secrets=KEY).read(str(real_pcaps / name)))
        assert ours, name
        assert {(c.evidence.frames[-1], a.reason_code) for c, a in ours} == {
            (c.evidence.frames[-1], theirs[c.evidence.frames[-1]]) for c, _a in ours}, name
