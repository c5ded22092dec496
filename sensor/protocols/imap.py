"""IMAP (RFC 3501, RFC 9051; SASL-IR from RFC 4959, LITERAL+ from RFC 7888): who logs in, with what.

Client commands are tagged lines (`a1 LOGIN user pass`). LOGIN carries the user and the
password in clear, each an atom, a quoted string (`\\"` and `\\\\` escaped) or a literal (`{n}`
or `{n+}` at the end of a line, then n bytes, then the rest of the command); the password is
fingerprinted at once. AUTHENTICATE runs a SASL exchange (`sensor.protocols.sasl`: PLAIN and
LOGIN fingerprinted, CRAM-MD5 a hash, other mechanisms only named), its initial response on
the command line or after the server's `+` continuation. The server's tagged response answers
the login of that tag: OK accepted, NO refused (RFC 5530 codes kept: AUTHENTICATIONFAILED,
EXPIRED...; [UNAVAILABLE], a temporary failure, says nothing of the password: unknown), BAD
(a malformed or cancelled command) unknown. STARTTLS answered `<tag> OK` hands the connection
to TLS. Inspection ends after a tagged OK to a login, at a PREAUTH greeting (the client is
logged in already) or at the budget: mailbox content is never read, and the literals of other
commands and of the server are skipped unread.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from ..flowid import Direction, FlowId
from ..records import CredentialSeen, Observation, Outcome, Proto, SecretKind
from ..secrets import EPHEMERAL, SecretHasher
from .base import Extractor, ParseError, read_line, secret_fields, server_words
from .sasl import SaslExchange, SaslLogin

MAX_LINE = 8 * 1024
"""Longest line: SASL responses (a GSSAPI or XOAUTH2 token in base64) run to a few KB."""
MAX_LITERAL = 1024
"""Longest LOGIN argument sent as a literal (a user name or a password)."""
MAX_WORDS = 4
"""Words of a LOGIN command: tag, verb, user, password."""

_WORD = re.compile(rb'"((?:[^"\\]|\\.)*)"|(\S+)')
"""A quoted string (group 1, escapes kept) or an atom (group 2)."""
_ESCAPE = re.compile(rb"\\(.)")
_LITERAL = re.compile(rb"\{(\d{1,10})\+?\}$")
"""A literal announced at the end of a line (synchronising or LITERAL+)."""
_RESPONSE_CODE = re.compile(rb"\[([A-Z-]+)")
"""The response code opening a response's text (RFC 9051 7.1), e.g. `[AUTHENTICATIONFAILED]`."""
MAX_LOGINS = 16
"""Logins awaiting their tagged response; past it the oldest is left unanswered (unknown)."""


class ImapExtractor(Extractor):
    """One IMAP connection, up to its login."""

    name = "imap"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp"})
    ports: ClassVar[frozenset[int]] = frozenset({143})
    budget = 32 * 1024

    def __init__(self, secrets: SecretHasher = EPHEMERAL) -> None:
        super().__init__(secrets)
        self._sasl = SaslExchange(secrets, "imap")
        self._words: list[bytes] = []
        """The client's command read so far, while it waits for a literal: tag, verb, arguments."""
        self._literal = [0, 0]
        """Per direction, bytes of an announced literal still to come."""
        self._login_tag: bytes | None = None
        """Tag of the last LOGIN or AUTHENTICATE."""
        self._attempts: dict[bytes, int] = {}
        """Tag of each login whose credential was seen -> its attempt, awaiting the tagged response."""
        self._starttls_tag: bytes | None = None

    @staticmethod
    def probe(first: bytes) -> bool:
        """The server's greeting, untagged OK or PREAUTH."""
        return first.startswith((b"* OK ", b"* PREAUTH "))

    def parse(
        self, flow: FlowId, direction: Direction, ts: float, buf: bytes
    ) -> tuple[Sequence[Observation], int]:
        if self._literal[direction]:
            return [], self._literal_bytes(direction, buf)
        read = read_line(buf, MAX_LINE, "imap")
        if read is None:
            return [], 0
        line, used = read
        literal = _LITERAL.search(line)
        self._literal[direction] = int(literal[1]) if literal else 0
        if direction == Direction.RESP:
            return self._response(flow, ts, line), used
        if self._sasl.active and not self._words:
            return self._presented(flow, direction, ts, self._sasl.respond(line)), used
        words = self._words + _words(line[:literal.start()] if literal else line)
        if literal:
            self._words = words if _is_login(words) else words[:2]
            if len(self._words) >= MAX_WORDS:
                raise ParseError("imap_login_too_long")
            if not self._literal[direction] and _is_login(words):
                self._words.append(b"")  # {0}: an empty argument
            return [], used
        self._words = []
        return self._command(flow, direction, ts, words), used

    def _literal_bytes(self, direction: Direction, buf: bytes) -> int:
        """Bytes of a literal used: a LOGIN argument whole, anything else skipped as it comes."""
        size = self._literal[direction]
        if direction == Direction.RESP or not _is_login(self._words):
            used = min(size, len(buf))
            self._literal[direction] -= used
            return used
        if size > MAX_LITERAL:
            raise ParseError("imap_literal_too_long")
        if len(buf) < size:
            return 0
        self._words.append(buf[:size])
        self._literal[direction] = 0
        return size

    def _command(self, flow: FlowId, direction: Direction, ts: float, words: list[bytes]) -> list[Observation]:
        if len(words) < 2:
            return []
        tag, verb = words[0], words[1].upper()
        if tag == self._login_tag:  # the tag is reused: its answer is not the login's
            self._login_tag = None
        self._attempts.pop(tag, None)
        if tag == self._starttls_tag:
            self._starttls_tag = None
        if verb == b"STARTTLS":
            self._starttls_tag = tag
        elif verb == b"LOGIN" and len(words) == MAX_WORDS:
            self._login_tag = tag
            fp = self.secrets.fingerprint(SecretKind.PASSWORD, words[3])
            return [CredentialSeen(ts=ts, flow=flow, protocol=Proto.IMAP, presenter=direction,
                                   username=words[2].decode("utf-8", "replace"),
                                   **secret_fields(SecretKind.PASSWORD, fp), mechanism="LOGIN",
                                   attempt=self._number(tag))]
        elif verb == b"AUTHENTICATE" and len(words) >= 3:
            self._login_tag = tag
            return self._presented(flow, direction, ts,
                                   self._sasl.start(words[2], words[3] if len(words) > 3 else None, others=True))
        return []

    def _presented(self, flow: FlowId, direction: Direction, ts: float, login: SaslLogin | None) -> list[Observation]:
        """An AUTHENTICATE exchange's credential, once it shows one."""
        if login is None:
            return []
        return [login.seen(ts, flow, Proto.IMAP, direction, attempt=self._number(self._login_tag))]

    def _number(self, tag: bytes | None) -> int:
        """A login's attempt, answered by the response tagged `tag`."""
        attempt = self.attempt(Proto.IMAP)
        if tag is not None:
            if len(self._attempts) >= MAX_LOGINS:
                del self._attempts[next(iter(self._attempts))]
            self._attempts[tag] = attempt
        return attempt

    def _response(self, flow: FlowId, ts: float, line: bytes) -> list[Observation]:
        tag, _, rest = line.partition(b" ")
        word, _, text = rest.partition(b" ")
        status = word.upper()
        if tag == b"*":
            self.done = self.done or status == b"PREAUTH"
            return []
        if tag == self._starttls_tag:
            self.upgraded = status == b"OK"
        elif tag == self._login_tag:
            self._sasl.end()
            self.done = status == b"OK"
        attempt = self._attempts.pop(tag, None)
        if attempt is None:
            return []
        code, reason = status.decode("ascii", "replace"), server_words(text)
        if status == b"OK":
            return self.answer(flow, ts, Outcome.SUCCESS, code, reason, attempt=attempt)
        response_code = _RESPONSE_CODE.match(text)
        if status == b"NO" and not (response_code and response_code[1] == b"UNAVAILABLE"):
            return self.answer(flow, ts, Outcome.FAILURE, code, reason, attempt=attempt)
        basis = "temporary failure ([UNAVAILABLE])" if status == b"NO" else "refused as malformed, or cancelled"
        return self.answer(flow, ts, Outcome.UNKNOWN, code or None, reason, attempt=attempt, basis=basis)


def _words(text: bytes) -> list[bytes]:
    """The atoms and quoted strings of a command line, quoted strings unescaped."""
    return [_ESCAPE.sub(rb"\1", m[1]) if m[1] is not None else m[2] for m in _WORD.finditer(text)]


def _is_login(words: list[bytes]) -> bool:
    return len(words) >= 2 and words[1].upper() == b"LOGIN"
