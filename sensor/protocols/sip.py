"""SIP (RFC 3261): who registers or calls with Digest credentials.

A phone, intercom or nurse-call device registering with its PBX answers the 401/407 challenge
with `Authorization:` or `Proxy-Authorization: Digest username=.., realm=.., response=..`
(RFC 3261 22.4, RFC 2617/7616): the user and realm are identities; the response is a challenge
response, nothing to fingerprint (it changes with every nonce), so it is never kept. An empty
response (a first REGISTER announcing its user) is a name without a secret.

The final response with the request's Call-ID and CSeq answers it (8.1.3.3; 1xx are
provisional): 2xx accepted; 403 refused; 401 and 407 refused a digest response, unless their
challenge says the nonce was stale (unknown), and only challenge a request that gave none
(unknown); any other status (404, 486, 5xx...) does not judge the credential (unknown).

UDP carries one message per datagram; TCP frames each by Content-Length (18.3). Headers are
unfolded (7.3.1) and compact names accepted (7.3.3); bodies (SDP) are skipped unread. A
device re-registers every few minutes on the same flow: each sender, user, realm and whether
a response was given is reported once per flow (up to `MAX_SEEN` remembered) unless it was not
accepted (a retry after a refusal is a new attempt), and at most `MAX_MESSAGES` messages are read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from ..flowid import Direction, FlowId
from ..records import CredentialSeen, Observation, Outcome, Proto, SecretKind
from ..secrets import EPHEMERAL, SecretHasher
from .base import Extractor, ParseError
from .http import DIGEST_PARAM, challenge_reason, header_end

VERSION = b"SIP/2.0"
KEEPALIVE = b"\r\n \t\x00"
"""Bytes skipped before a message: CRLF keep-alives (RFC 5626 4.4.1) and the blanks or NULs
some phones send instead."""
_REQUEST_LINE = re.compile(rb"[A-Z]+ (?:sips?|tel):\S*(?: SIP/2\.0)?$")
"""A request line, or its start while the line is incomplete."""
_STATUS_LINE = re.compile(rb"SIP/2\.0 ([1-6]\d\d)(?: (.*))?")
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
MAX_AWAITING = 64
"""Requests with a credential awaiting their final response; past it the oldest is left
unanswered (unknown)."""
SeenKey = tuple[Direction, str | None, str | None, bool]
"""What makes a digest the same on one flow: sender, user, realm, whether a response was given."""
TransactionKey = tuple[str, str]
"""A request and its responses (RFC 3261 17.1.3, without the branch): Call-ID, CSeq."""


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
        self._seen: dict[SeenKey, int] = {}
        """Each digest reported on the flow -> the attempt that presented it."""
        self._awaiting: dict[TransactionKey, tuple[int, SeenKey, bool]] = {}
        """Each request whose credential awaits its final response -> its attempt, its digest,
        and whether the digest gave a response."""

    @property
    def finished(self) -> bool:
        """Once the messages worth reading were read and every credential among them answered."""
        return self.done and not self.pending

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
        """The credentials in one message's start line and headers, or the answer a response
        gives, and its body's length."""
        lines = head.split(b"\n")
        start = lines[0].rstrip(b"\r")
        request = not start.startswith(VERSION + b" ")
        if request and not (_REQUEST_LINE.match(start) and start.endswith(b" " + VERSION)):
            raise ParseError("sip_bad_start_line")
        self.count_message()
        method = start.split(b" ", 1)[0].decode("ascii")
        found: list[Observation] = []
        length = 0
        headers = _headers(lines[1:])
        transaction = _transaction(headers)
        for name, value in headers:
            if name == "content-length":
                if not value.isdigit() or len(value) > MAX_LENGTH_DIGITS:
                    raise ParseError("sip_bad_content_length")
                length = int(value)
            elif request and name in AUTH_HEADERS and not self.done:  # done: only answers are awaited
                found += self._digest(flow, direction, ts, value, method, name, transaction)
        if not request and transaction in self._awaiting:
            found += self._answer(flow, ts, start, headers, transaction)
        return found, length

    def _digest(
        self, flow: FlowId, direction: Direction, ts: float, value: bytes, method: str, header: str,
        transaction: TransactionKey | None,
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
        attempt = self.attempt(Proto.SIP)
        if len(self._seen) < MAX_SEEN:
            self._seen[key] = attempt
        if transaction is not None:
            if len(self._awaiting) >= MAX_AWAITING:
                del self._awaiting[next(iter(self._awaiting))]
            self._awaiting[transaction] = (attempt, key, proved)
        notes = [method, f"algorithm {params.get('algorithm', 'MD5')}"]
        if header == "proxy-authorization":
            notes.append("to a proxy (Proxy-Authorization)")
        if not proved:
            notes.append("no digest response")
        return [CredentialSeen(
            ts=ts, flow=flow, protocol=Proto.SIP, presenter=direction, username=user, domain=realm,
            secret_kind=SecretKind.HASH if proved else SecretKind.NONE, secret_fp=None, secret_hint=None,
            mechanism="digest", notes=tuple(notes), attempt=attempt)]

    def _answer(
        self, flow: FlowId, ts: float, start: bytes, headers: list[tuple[str, bytes]], transaction: TransactionKey,
    ) -> list[Observation]:
        """A response to a request that carried a credential: the answer, if it is final."""
        status = _STATUS_LINE.fullmatch(start)
        if status is None:
            raise ParseError("sip_bad_start_line")
        code = int(status[1])
        if code < 200:
            return []  # provisional (100 Trying, 180 Ringing): the final response follows
        attempt, key, proved = self._awaiting.pop(transaction)
        challenge, stale = (challenge_reason([v for n, v in headers if n in ("www-authenticate", "proxy-authenticate")])
                            if code in (401, 407) else (None, False))
        outcome, basis = Outcome.UNKNOWN, None
        if 200 <= code < 300:
            outcome = Outcome.SUCCESS
        elif code == 403 or (code in (401, 407) and proved and not stale):
            outcome = Outcome.FAILURE
        elif stale:
            basis = "stale nonce: the digest was refused for its nonce, not its password"
        elif code in (401, 407):
            basis = "a challenge: the request gave no digest response"
        else:
            basis = f"status {code} does not judge the credential"
        if outcome != Outcome.SUCCESS and self._seen.get(key) == attempt:
            del self._seen[key]  # a retry of a credential not accepted is a new attempt
        phrase = status[2].decode("utf-8", "replace") if status[2] else None
        reason = "; ".join(filter(None, (phrase, challenge)))
        return self.answer(flow, ts, outcome, str(code), reason, basis=basis, attempt=attempt)


def _transaction(headers: list[tuple[str, bytes]]) -> TransactionKey | None:
    """The Call-ID and CSeq of a message, None if it lacks one (then no response pairs with it)."""
    values = {name: value for name, value in headers if name in ("call-id", "cseq")}
    if "call-id" not in values or "cseq" not in values:
        return None
    return values["call-id"].decode("latin-1"), " ".join(values["cseq"].decode("latin-1").split()).upper()


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
