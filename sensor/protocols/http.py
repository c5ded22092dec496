"""HTTP/1.x requests (RFC 9112, RFC 9110 section 11): credentials in headers and query strings.

Every request of a keep-alive or pipelined connection is read, up to `MAX_REQUESTS` and the
budget: its request line and headers;
its body (Content-Length or chunked) is skipped unread. Found: Basic (user; the password,
which may itself contain ':', fingerprinted), Bearer (token fingerprinted; a JWT's claims
kept), Digest (user and realm; the response is a challenge response, nothing to
fingerprint), NTLM (user, domain, workstation of the NTLMSSP AUTHENTICATE in an `NTLM` or
`Negotiate` token, `sensor.ntlm`), any other scheme's credentials (fingerprinted whole), API
keys in the headers and query parameters that `rules/credentials.yaml` names (`http_api_keys`;
the class is bound to them at start-up). Proxy-Authorization alike.
The request target is never kept (it may carry patient identifiers).

Responses pair with requests in order (RFC 9112 9.3; interim 1xx ones answer nothing), their
bodies framed as RFC 9112 6.3 says and skipped unread. A request's credentials are one attempt,
its Proxy-Authorization another, answered by its response: for the server's, 2xx and 3xx (and
101) accepted, 401 and 403 refused (the challenge, WWW-Authenticate, as the reason), 407 unknown
(the proxy stopped the request first), anything else unknown; for the proxy's, 407 refused,
2xx and 3xx accepted, anything else unknown. A 401 or 407 whose Digest challenge says
`stale=true` refused a used-up nonce, not the password (RFC 7616 3.3): unknown. A credential
repeated on the connection is reported once, unless it was not accepted: a retry after a
refusal is a new attempt.
"""

from __future__ import annotations

import base64
import binascii
import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import ClassVar

from ..flowid import Direction, FlowId
from ..jwt import token_claims
from ..ntlm import find_authenticate
from ..records import CredentialSeen, Observation, Outcome, Proto, SecretKind
from ..secrets import EPHEMERAL, SecretHasher
from ..siterules import ApiKeyNames, SensorRules
from .base import Extractor, ParseError, secret_fields

METHODS = (b"GET ", b"POST ", b"PUT ", b"HEAD ", b"DELETE ", b"OPTIONS ", b"PATCH ", b"CONNECT ")
MAX_HEADERS = 32 * 1024
MAX_REQUESTS = 32
"""Requests read per connection: a keep-alive poller repeats itself; inspection must end so
that the connection's later packets cost only a counter."""
AUTH_SCHEME = re.compile(r"[a-z][a-z-]{0,19}")
"""A scheme name as the output may show it: letters and hyphens. Any other first word may be
part of a secret, so it is never written out (the credential is then just `authorization`)."""
DIGEST_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))')
"""One name=value parameter of a Digest header (RFC 7616); SIP's digest (RFC 3261) reads it too."""
STATUS_LINE = re.compile(rb"HTTP/\d\.\d (\d{3})(?: (.*))?")
NO_BODY = frozenset({204, 304})
UNTIL_CLOSE = -2
"""`_body` of a response framed by the end of the connection (or followed by a tunnel): what
follows is its body."""
CHUNKED = -1
"""`_body` of a chunked message."""
CHALLENGE_ITEM = re.compile(r'(?:[^,"]|"(?:[^"\\]|\\.)*")+')
"""One comma-separated item of a challenge header: a scheme with its first parameter, or a parameter."""
CHALLENGE_PARAM = re.compile(r"([\w-]+)\s*=\s*(.*)", re.DOTALL)
CHALLENGE_PARAMS = frozenset({"realm", "error", "error_description", "stale"})
"""The challenge parameters a reason keeps (RFC 7616, RFC 6750 3); nonces and tokens are left out."""


SeenKey = tuple[str, str | None, str | None]
"""What makes a credential the same on one connection: mechanism, user, fingerprint or realm."""


@dataclass(frozen=True, slots=True)
class Awaiting:
    """A request waiting for its response."""

    method: bytes
    server: int | None
    """The attempt of its credentials for the server (Authorization, API keys), if it had any."""
    proxy: int | None
    """The attempt of its Proxy-Authorization, if it had one."""


class HttpExtractor(Extractor):
    """One HTTP/1.x connection."""

    name = "http"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp"})
    ports: ClassVar[frozenset[int]] = frozenset({80, 8080, 8000, 8008, 8081})
    budget = 256 * 1024
    max_messages = MAX_REQUESTS
    api_keys: ClassVar[ApiKeyNames] = ApiKeyNames()
    """Unbound: no API-key names; `bound` gives the site's."""

    @classmethod
    def bound(cls, rules: SensorRules) -> type[HttpExtractor]:
        """This extractor looking for API keys where the site's rules say."""
        return type(cls.__name__, (cls,), {"api_keys": rules.api_keys})

    def __init__(self, secrets: SecretHasher = EPHEMERAL) -> None:
        super().__init__(secrets)
        self._body = [0, 0]
        """Per direction: bytes of the current message body still to skip (CHUNKED, UNTIL_CLOSE)."""
        self._seen: dict[SeenKey, int] = {}
        """Each credential reported on the connection -> the attempt that presented it."""
        self._numbered: list[int | None] = [None, None]
        """The request being read: its attempt for the server and for the proxy, once numbered."""
        self._requests: list[Awaiting] = []
        """Requests read and not yet answered, oldest first."""

    @staticmethod
    def probe(first: bytes) -> bool:
        return first.startswith(METHODS) or first.startswith(b"HTTP/1.")

    @property
    def finished(self) -> bool:
        """Once the requests worth reading were read and every credential among them answered."""
        return self.done and not self.pending

    def parse(
        self, flow: FlowId, direction: Direction, ts: float, buf: bytes
    ) -> tuple[Sequence[Observation], int]:
        d = direction.value
        if self._body[d] == UNTIL_CLOSE or (direction == Direction.ORIG and self.done):
            return [], len(buf)
        if self._body[d] > 0:
            used = min(self._body[d], len(buf))
            self._body[d] -= used
            return [], used
        if self._body[d] == CHUNKED:
            return [], self._chunk(buf, d)
        end, sep = header_end(buf)
        if end < 0:
            if len(buf) > MAX_HEADERS:
                raise ParseError("http_headers_too_long")
            return [], 0
        lines = [line.rstrip(b"\r") for line in buf[:end].split(b"\n")]
        headers = [(name.strip().lower().decode("latin-1"), value.strip())
                   for name, _, value in (line.partition(b":") for line in lines[1:])]
        if direction == Direction.RESP:
            return self._response(flow, ts, lines[0], headers), end + sep
        if not lines[0].startswith(METHODS):
            raise ParseError("http_bad_request_line")
        self.count_message()
        self._numbered = [None, None]
        out = self._query(flow, ts, lines[0])
        length = 0
        for key, text in headers:
            if key in ("authorization", "proxy-authorization"):
                out += self._authorization(flow, ts, text, key)
            elif key in self.api_keys.headers and text:
                out += self._credential(flow, ts, None, SecretKind.API_KEY, text, f"header:{key}")
            elif key == "content-length" and text.isdigit():
                length = int(text)
            elif key == "transfer-encoding" and b"chunked" in text.lower():
                length = CHUNKED
        self._body[d] = length
        self._requests.append(Awaiting(lines[0].split(b" ", 1)[0], self._numbered[0], self._numbered[1]))
        return out, end + sep

    def _response(
        self, flow: FlowId, ts: float, status_line: bytes, headers: list[tuple[str, bytes]]
    ) -> list[Observation]:
        """A response's head: its body's framing, and the answer to the oldest request's attempts."""
        status = STATUS_LINE.fullmatch(status_line)
        if status is None:
            raise ParseError("http_bad_status_line")
        code = int(status[1])
        if 100 <= code < 200 and code != 101:
            return []  # interim (100 Continue, 103 Early Hints): the final response follows
        request = self._requests.pop(0) if self._requests else Awaiting(b"", None, None)
        values = {key: text for key, text in headers if key in ("content-length", "transfer-encoding")}
        if code == 101 or (request.method == b"CONNECT" and 200 <= code < 300):
            self._body[1] = UNTIL_CLOSE
            self.done = True  # a tunnel or another protocol follows: no more HTTP
        elif code in NO_BODY or request.method == b"HEAD":
            self._body[1] = 0
        elif b"chunked" in values.get("transfer-encoding", b"").lower():
            self._body[1] = CHUNKED
        elif values.get("content-length", b"").isdigit():
            self._body[1] = int(values["content-length"])
        else:
            self._body[1] = UNTIL_CLOSE
        phrase = status[2] or b""
        found = []
        if request.server is not None:
            found += self._answer(flow, ts, request.server, code, phrase,
                                  [text for key, text in headers if key == "www-authenticate"], proxy=False)
        if request.proxy is not None:
            found += self._answer(flow, ts, request.proxy, code, phrase,
                                  [text for key, text in headers if key == "proxy-authenticate"], proxy=True)
        return found

    def _answer(self, flow: FlowId, ts: float, attempt: int, code: int, phrase: bytes, challenges: list[bytes],
                proxy: bool) -> list[Observation]:
        """The response as the answer to the server's or the proxy's attempt of its request."""
        refusal = 407 if proxy else 401
        reason, stale = challenge_reason(challenges) if code == refusal else (None, False)
        outcome, basis = Outcome.UNKNOWN, None
        if code == 101 or 200 <= code < 400:
            outcome = Outcome.SUCCESS
        elif stale:
            basis = "stale nonce: the digest was refused for its nonce, not its password"
        elif code == refusal or (code == 403 and not proxy):
            outcome = Outcome.FAILURE
        elif code == 407:
            basis = "the proxy refused the request before the server saw it"
        else:
            basis = f"status {code} does not judge the credential"
        if outcome != Outcome.SUCCESS:  # a retry of a credential not accepted is a new attempt
            self._seen = {key: number for key, number in self._seen.items() if number != attempt}
        return self.answer(flow, ts, outcome, str(code), reason or phrase, basis=basis, attempt=attempt)

    def _chunk(self, buf: bytes, d: int) -> int:
        """Skip one chunk of a chunked body (size line, data, CRLF); the last chunk ends it."""
        line_end = buf.find(b"\r\n")
        if line_end < 0:
            if len(buf) > 1024:
                raise ParseError("http_bad_chunk")
            return 0
        try:
            size = int(buf[:line_end].split(b";")[0], 16)
        except ValueError:
            raise ParseError("http_bad_chunk") from None
        if size == 0:  # last chunk, then trailers up to an empty line
            trailer_end = buf.find(b"\r\n\r\n", line_end)
            if buf[line_end : line_end + 4] == b"\r\n\r\n":
                trailer_end = line_end
            if trailer_end < 0:
                return 0
            self._body[d] = 0
            return trailer_end + 4
        total = line_end + 2 + size + 2
        if len(buf) < total:
            return 0  # the dispatcher's budget bounds what a chunk may buffer
        return total

    def _authorization(self, flow: FlowId, ts: float, value: bytes, header: str) -> list[Observation]:
        scheme, _, rest = value.partition(b" ")
        scheme_name = scheme.lower().decode("latin-1")
        rest = rest.strip()
        proxy = "proxy-" if header == "proxy-authorization" else ""
        if scheme_name == "basic":
            try:
                user, _, password = base64.b64decode(rest, validate=True).partition(b":")
            except (binascii.Error, ValueError):
                raise ParseError("http_bad_basic") from None
            return self._credential(flow, ts, user.decode("utf-8", "replace"), SecretKind.PASSWORD, password,
                                    proxy + "basic")
        if scheme_name == "bearer" and rest:
            return self._credential(flow, ts, None, SecretKind.TOKEN, rest, proxy + "bearer")
        if scheme_name == "digest":
            params = {m[1].lower(): m[2] if m[2] is not None else m[3]
                      for m in DIGEST_PARAM.finditer(rest.decode("utf-8", "replace"))}
            return self._credential(flow, ts, params.get("username"), SecretKind.HASH, None, proxy + "digest",
                                    domain=params.get("realm"))
        if scheme_name in ("ntlm", "negotiate"):
            return self._ntlm(flow, ts, rest, proxy=bool(proxy))
        if scheme_name == "bearer" or not value:
            return []
        # Any other scheme (RFC 9110 11.4) still carries a credential: fingerprinted whole. A bare
        # value, or a first word unlike a scheme name, may be the secret itself: not named.
        named = rest and AUTH_SCHEME.fullmatch(scheme_name) is not None
        mechanism = f"{proxy}scheme:{scheme_name}" if named else f"{proxy}authorization"
        return self._credential(flow, ts, None, SecretKind.TOKEN, value, mechanism)

    def _ntlm(self, flow: FlowId, ts: float, token: bytes, proxy: bool) -> list[Observation]:
        """An NTLM AUTHENTICATE, raw (`NTLM`) or in SPNEGO (`Negotiate`, RFC 4559); each user once."""
        try:
            found, weird = find_authenticate(base64.b64decode(token, validate=True))
        except (binascii.Error, ValueError):
            found, weird = None, "http_bad_ntlm"
        if weird:
            self.weirds.append(weird)
        if found is None or ("NTLM", found.user, found.domain) in self._seen:
            return []
        attempt = self._seen[("NTLM", found.user, found.domain)] = self._attempt(proxy)
        return [replace(found.credential(ts, flow, Proto.HTTP, Direction.ORIG), attempt=attempt)]

    def _query(self, flow: FlowId, ts: float, request_line: bytes) -> list[Observation]:
        target = request_line.split(b" ")[1] if request_line.count(b" ") >= 2 else b""
        _, _, query = target.partition(b"?")
        out: list[Observation] = []
        for name, value in urllib.parse.parse_qsl(query.decode("latin-1"), keep_blank_values=False):
            if name.lower() in self.api_keys.parameters:
                kind = SecretKind.TOKEN if "token" in name.lower() else SecretKind.API_KEY
                out += self._credential(flow, ts, None, kind, value.encode("latin-1"), f"query:{name.lower()}")
        return out

    def _credential(
        self, flow: FlowId, ts: float, user: str | None, kind: SecretKind, secret: bytes | None, mechanism: str,
        domain: str | None = None,
    ) -> list[Observation]:
        fp = self.secrets.fingerprint(kind, secret) if secret is not None else None
        claims = token_claims(secret) if kind == SecretKind.TOKEN and secret is not None else None
        key = (mechanism, user, fp.value if fp else domain)
        if key in self._seen:
            return []
        attempt = self._seen[key] = self._attempt(proxy=mechanism.startswith("proxy-"))
        return [CredentialSeen(
            ts=ts, flow=flow, protocol=Proto.HTTP, presenter=Direction.ORIG, username=user or (claims.sub if claims
                                                                                               else None),
            domain=domain, **secret_fields(kind, fp), mechanism=mechanism, token=claims, attempt=attempt)]

    def _attempt(self, proxy: bool) -> int:
        """The attempt of the request being read, for the server or the proxy: numbered at its
        first credential for either."""
        number = self._numbered[proxy]
        if number is None:
            number = self._numbered[proxy] = self.attempt(Proto.HTTP)
        return number


def header_end(buf: bytes) -> tuple[int, int]:
    """Where the header block ends and the length of the empty line ending it; lines may end
    with a bare LF (RFC 9112 section 2.2 lets a recipient accept it)."""
    crlf, lf = buf.find(b"\r\n\r\n"), buf.find(b"\n\n")
    if lf >= 0 and (crlf < 0 or lf < crlf):
        return lf, 2
    return crlf, 4


def challenge_reason(values: Sequence[bytes]) -> tuple[str | None, bool]:
    """The challenges of a refusal (WWW-Authenticate, Proxy-Authenticate: RFC 9110 11.6.1) as its
    reason, each scheme with its realm, error and stale parameters (nonces and tokens left out),
    and whether a Digest challenge says the refused nonce was stale (RFC 7616 3.3)."""
    challenges: list[list[str]] = []
    stale = False
    for value in values:
        for item in CHALLENGE_ITEM.findall(value.decode("latin-1")):
            param = CHALLENGE_PARAM.fullmatch(item.strip())
            if param is None:  # a challenge starts: its scheme, then a parameter or a token
                scheme, _, rest = item.strip().partition(" ")
                challenges.append([scheme])
                param = CHALLENGE_PARAM.fullmatch(rest.strip())
            if param is None or not challenges or param[1].lower() not in CHALLENGE_PARAMS:
                continue
            challenges[-1].append(f"{param[1]}={param[2]}")
            stale = stale or (param[1].lower() == "stale" and param[2].strip('"').lower() == "true")
    text = ", ".join(" ".join((c[0], ", ".join(c[1:]))).strip() for c in challenges)
    return text or None, stale
