"""SIP (RFC 3261): who registers or calls with Digest credentials.

A phone, intercom or nurse-call device registering with its PBX answers the 401/407 challenge
with `Authorization:` or `Proxy-Authorization: Digest username=.., realm=.., response=..`
(RFC 3261 22.4, RFC 2617/7616): the user and realm are identities; the response is a challenge
response, nothing to fingerprint (it changes with every nonce), so it is never kept. An empty
response (a first REGISTER announcing its user) is a name without a secret.

UDP carries one message per datagram; TCP frames each by Content-Length (18.3). Headers are
unfolded (7.3.1) and compact names accepted (7.3.3); bodies (SDP) are skipped unread. A
device re-registers every few minutes on the same flow: each sender, user, realm and whether
a response was given is reported once per flow (up to `MAX_SEEN` remembered), and at most
`MAX_MESSAGES` messages are read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from ..flowid import Direction, FlowId
from ..records import CredentialSeen, Observation, Proto, SecretKind
from ..secrets import EPHEMERAL, SecretHasher
from .base import Extractor, ParseError
from .http import DIGEST_PARAM, header_end

VERSION = b"SIP/2.0"
KEEPALIVE = b"\r\n \t\x00"
"""Bytes skipped before a message: CRLF keep-alives (RFC 5626 4.4.1) and the blanks or NULs
some phones send instead."""
_REQUEST_LINE = re.compile(rb"[A-Z]+ (?:sips?|tel):\S*(?: SIP/2\.0)?$")
"""A request line, or its start while the line is incomplete."""
COMPACT = {"i": "call-id", "m": "contact", "e": "content-encoding", "l": "content-length", "c": "content-type",
           "f": "from", "s": "subject", "k": "supported", "t": "to", "v": "via"}
"""Compact header names (RFC 3261 7.3.3)."""
AUTH_HEADERS = frozenset({"authorization", "proxy-authorization"})
MAX_HEADERS = 16 * 1024
MAX_LENGTH_DIGITS = 9
MAX_MESSAGES = 256
"""Messages read per flow: re-registrations repeat the same user."""
MAX_SEEN = 64
"""Distinct reports remembered per flow; past it new ones are reported unremembered."""


class SipExtractor(Extractor):
    """The SIP messages of one flow (UDP or TCP 5060)."""

    name = "sip"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp", "udp"})
    ports: ClassVar[frozenset[int]] = frozenset({5060})
    budget = 256 * 1024
    max_messages = MAX_MESSAGES

    def __init__(self, secrets: SecretHasher = EPHEMERAL) -> None:
        super().__init__(secrets)
        self._body = [0, 0]
        """Per direction: bytes of a TCP message body still to skip."""
        self._seen: set[tuple[Direction, str | None, str | None, bool]] = set()

    @staticmethod
    def probe(first: bytes) -> bool:
        """A status line, or a request line whose Request-URI is a SIP (or tel) URI."""
        line = first.split(b"\n", 1)[0].rstrip(b"\r")
        if line.startswith(VERSION + b" "):
            return True
        return _REQUEST_LINE.match(line) is not None and (b"\n" not in first or line.endswith(b" " + VERSION))

    def parse(
        self, flow: FlowId, direction: Direction, ts: float, buf: bytes
    ) -> tuple[Sequence[Observation], int]:
        udp, d = flow.transport == "udp", direction.value
        if self._body[d]:
            used = min(self._body[d], len(buf))
            self._body[d] -= used
            return [], used
        keepalive = len(buf) - len(buf.lstrip(KEEPALIVE))
        if keepalive:
            return [], keepalive
        end, sep = header_end(buf)
        if end < 0:
            if udp:  # a datagram is the whole message: cut short (snap length) if its empty line is missing
                raise ParseError("sip_truncated")
            if len(buf) > MAX_HEADERS:
                raise ParseError("sip_headers_too_long")
            return [], 0
        found, length = self._message(flow, direction, ts, buf[:end])
        if udp:
            return found, len(buf)
        self._body[d] = length
        return found, end + sep

    def _message(
        self, flow: FlowId, direction: Direction, ts: float, head: bytes
    ) -> tuple[list[Observation], int]:
        """The credentials in one message's start line and headers, and its body's length."""
        lines = head.split(b"\n")
        start = lines[0].rstrip(b"\r")
        request = not start.startswith(VERSION + b" ")
        if request and not (_REQUEST_LINE.match(start) and start.endswith(b" " + VERSION)):
            raise ParseError("sip_bad_start_line")
        self.count_message()
        method = start.split(b" ", 1)[0].decode("ascii")
        found: list[Observation] = []
        length = 0
        for name, value in _headers(lines[1:]):
            if name == "content-length":
                if not value.isdigit() or len(value) > MAX_LENGTH_DIGITS:
                    raise ParseError("sip_bad_content_length")
                length = int(value)
            elif request and name in AUTH_HEADERS:
                found += self._digest(flow, direction, ts, value, method, name)
        return found, length

    def _digest(
        self, flow: FlowId, direction: Direction, ts: float, value: bytes, method: str, header: str
    ) -> list[Observation]:
        scheme, _, rest = value.partition(b" ")
        if scheme.lower() != b"digest":
            return []
        params = {m[1].lower(): _unquote(m[2]) if m[2] is not None else m[3]
                  for m in DIGEST_PARAM.finditer(rest.decode("utf-8", "replace"))}
        user, realm, proved = params.get("username"), params.get("realm"), bool(params.get("response"))
        key = (direction, user, realm, proved)
        if key in self._seen:
            return []
        if len(self._seen) < MAX_SEEN:
            self._seen.add(key)
        notes = [method, f"algorithm {params.get('algorithm', 'MD5')}"]
        if header == "proxy-authorization":
            notes.append("to a proxy (Proxy-Authorization)")
        if not proved:
            notes.append("no digest response")
        return [CredentialSeen(
            ts=ts, flow=flow, protocol=Proto.SIP, presenter=direction, username=user, domain=realm,
            secret_kind=SecretKind.HASH if proved else SecretKind.NONE, secret_fp=None, secret_hint=None,
            mechanism="digest", notes=tuple(notes))]


def _headers(lines: list[bytes]) -> list[tuple[str, bytes]]:
    """(lower-case full name, value) of each header, continuation lines unfolded (RFC 3261 7.3.1)."""
    out: list[tuple[str, bytes]] = []
    for raw in lines:
        line = raw.rstrip(b"\r")
        if line[:1] in (b" ", b"\t") and out:
            previous, folded = out[-1]
            out[-1] = (previous, folded + b" " + line.strip())
            continue
        name, colon, value = line.partition(b":")
        if colon:
            key = name.strip().lower().decode("latin-1")
            out.append((COMPACT.get(key, key), value.strip()))
    return out


def _unquote(quoted: str) -> str:
    """A quoted-string's content with its backslash escapes resolved (RFC 3261 25.1)."""
    return re.sub(r"\\(.)", r"\1", quoted)
