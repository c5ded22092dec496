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
The request target is never kept (it may carry patient identifiers). Responses are skipped.
"""

from __future__ import annotations

import base64
import binascii
import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..flowid import Direction, FlowId
from ..jwt import token_claims
from ..ntlm import find_authenticate
from ..records import CredentialSeen, Observation, Proto, SecretKind
from ..secrets import EPHEMERAL, SecretHasher
from ..yamlfile import RulesFileError, read_rules_file
from .base import Extractor, ParseError

if TYPE_CHECKING:
    from ..siterules import SensorRules

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


@dataclass(frozen=True, slots=True)
class ApiKeyNames:
    """Where requests carry API keys: header names and query parameters, lower case."""

    headers: frozenset[str] = frozenset()
    parameters: frozenset[str] = frozenset()


def load_api_key_names(path: str | Path) -> ApiKeyNames:
    """The `http_api_keys: {headers: [...], query_parameters: [...]}` of `path`."""
    path = Path(path)
    doc = read_rules_file(path)
    section = doc.get("http_api_keys") if isinstance(doc, dict) else None
    if not isinstance(section, dict) or set(section) - {"headers", "query_parameters"}:
        raise RulesFileError(f"{path}: expected `http_api_keys:` with `headers` and `query_parameters` lists")
    return ApiKeyNames(_names(path, section, "headers"), _names(path, section, "query_parameters"))


def _names(path: Path, section: dict[str, Any], key: str) -> frozenset[str]:
    value = section.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise RulesFileError(f"{path}: http_api_keys.{key}: expected a list of names")
    return frozenset(v.strip().lower() for v in value)


class HttpExtractor(Extractor):
    """One HTTP/1.x connection."""

    name = "http"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp"})
    ports: ClassVar[frozenset[int]] = frozenset({80, 8080, 8000, 8008, 8081})
    budget = 256 * 1024
    api_keys: ClassVar[ApiKeyNames] = ApiKeyNames()
    """Unbound: no API-key names; `bound` gives the site's."""

    @classmethod
    def bound(cls, rules: SensorRules) -> type[HttpExtractor]:
        """This extractor looking for API keys where the site's rules say."""
        return type(cls.__name__, (cls,), {"api_keys": rules.api_keys})

    def __init__(self, secrets: SecretHasher = EPHEMERAL) -> None:
        super().__init__(secrets)
        self._requests = 0
        self._body = 0
        """Bytes of the current request body still to skip (-1: chunked)."""
        self._seen: set[tuple[str, str | None, str | None]] = set()

    @staticmethod
    def probe(first: bytes) -> bool:
        return first.startswith(METHODS) or first.startswith(b"HTTP/1.")

    @property
    def finished(self) -> bool:
        return self._requests >= MAX_REQUESTS

    def parse(
        self, flow: FlowId, direction: Direction, ts: float, buf: bytes
    ) -> tuple[Sequence[Observation], int]:
        if direction == Direction.RESP:
            return [], len(buf)  # responses carry no client credential: skipped, up to the budget
        if self._body > 0:
            used = min(self._body, len(buf))
            self._body -= used
            return [], used
        if self._body < 0:
            return [], self._chunk(buf)
        end, sep = header_end(buf)
        if end < 0:
            if len(buf) > MAX_HEADERS:
                raise ParseError("http_headers_too_long")
            return [], 0
        lines = [line.rstrip(b"\r") for line in buf[:end].split(b"\n")]
        if not lines[0].startswith(METHODS):
            raise ParseError("http_bad_request_line")
        self._requests += 1
        headers = [line.partition(b":") for line in lines[1:]]
        out = self._query(flow, ts, lines[0])
        length = 0
        for name, _, value in headers:
            key = name.strip().lower().decode("latin-1")
            text = value.strip()
            if key in ("authorization", "proxy-authorization"):
                out += self._authorization(flow, ts, text, key)
            elif key in self.api_keys.headers and text:
                out += self._credential(flow, ts, None, SecretKind.API_KEY, text, f"header:{key}")
            elif key == "content-length" and text.isdigit():
                length = int(text)
            elif key == "transfer-encoding" and b"chunked" in text.lower():
                length = -1
        self._body = length
        return out, end + sep

    def _chunk(self, buf: bytes) -> int:
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
            self._body = 0
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
            return self._ntlm(flow, ts, rest)
        if scheme_name == "bearer" or not value:
            return []
        # Any other scheme (RFC 9110 11.4) still carries a credential: fingerprinted whole. A bare
        # value, or a first word unlike a scheme name, may be the secret itself: not named.
        named = rest and AUTH_SCHEME.fullmatch(scheme_name) is not None
        mechanism = f"{proxy}scheme:{scheme_name}" if named else f"{proxy}authorization"
        return self._credential(flow, ts, None, SecretKind.TOKEN, value, mechanism)

    def _ntlm(self, flow: FlowId, ts: float, token: bytes) -> list[Observation]:
        """An NTLM AUTHENTICATE, raw (`NTLM`) or in SPNEGO (`Negotiate`, RFC 4559); each user once."""
        try:
            found, weird = find_authenticate(base64.b64decode(token, validate=True))
        except (binascii.Error, ValueError):
            found, weird = None, "http_bad_ntlm"
        if weird:
            self.weirds.append(weird)
        if found is None or ("NTLM", found.user, found.domain) in self._seen:
            return []
        self._seen.add(("NTLM", found.user, found.domain))
        return [found.credential(ts, flow, Proto.HTTP, Direction.ORIG)]

    def _query(self, flow: FlowId, ts: float, request_line: bytes) -> list[Observation]:
        target = request_line.split(b" ")[1] if request_line.count(b" ") >= 2 else b""
        _, _, query = target.partition(b"?")
        out: list[Observation] = []
        # Percent-escapes decoded as latin-1 give the key's own bytes back: `%E2%82%AC` or `%8D`
        # is no text to refuse, and the request's other credentials are still read.
        for name, value in urllib.parse.parse_qsl(query.decode("latin-1"), keep_blank_values=False,
                                                  encoding="latin-1"):
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
        self._seen.add(key)
        return [CredentialSeen(
            ts=ts, flow=flow, protocol=Proto.HTTP, presenter=Direction.ORIG, username=user or (claims.sub if claims
                                                                                               else None),
            domain=domain, secret_kind=kind, secret_fp=fp.value if fp else None, secret_hint=fp.hint if fp else None,
            mechanism=mechanism, token=claims)]


def header_end(buf: bytes) -> tuple[int, int]:
    """Where the header block ends and the length of the empty line ending it; lines may end
    with a bare LF (RFC 9112 section 2.2 lets a recipient accept it)."""
    crlf, lf = buf.find(b"\r\n\r\n"), buf.find(b"\n\n")
    if lf >= 0 and (crlf < 0 or lf < crlf):
        return lf, 2
    return crlf, 4
