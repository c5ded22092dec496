"""IMAP (RFC 3501, RFC 9051; SASL-IR from RFC 4959, LITERAL+ from RFC 7888): who logs in, with what.

Client commands are tagged lines (`a1 LOGIN user pass`). LOGIN carries the user and the
password in clear, each an atom, a quoted string (`\\"` and `\\\\` escaped) or a literal (`{n}`
or `{n+}` at the end of a line, then n bytes, then the rest of the command); the password is
fingerprinted at once. AUTHENTICATE runs a SASL exchange (`sensor.protocols.sasl`: PLAIN and
LOGIN fingerprinted, CRAM-MD5 a hash, other mechanisms only named), its initial response on
the command line or after the server's `+` continuation. STARTTLS answered `<tag> OK` hands the
connection to TLS. Inspection ends after a tagged OK to a login, at a PREAUTH greeting (the
client is logged in already) or at the budget: mailbox content is never read, and the
literals of other commands and of the server are skipped unread.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from ..flowid import Direction, FlowId
from ..records import CredentialSeen, Observation, Proto, SecretKind
from ..secrets import EPHEMERAL, SecretHasher
from .base import Extractor, ParseError, read_line, secret_fields
from .sasl import SaslExchange

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
            self._response(line)
            return [], used
        if self._sasl.active and not self._words:
            login = self._sasl.respond(line)
            return ([login.seen(ts, flow, Proto.IMAP, direction)] if login else []), used
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
        if tag == self._starttls_tag:
            self._starttls_tag = None
        if verb == b"STARTTLS":
            self._starttls_tag = tag
        elif verb == b"LOGIN" and len(words) == MAX_WORDS:
            self._login_tag = tag
            fp = self.secrets.fingerprint(SecretKind.PASSWORD, words[3])
            return [CredentialSeen(ts=ts, flow=flow, protocol=Proto.IMAP, presenter=direction,
                                   username=words[2].decode("utf-8", "replace"),
                                   **secret_fields(SecretKind.PASSWORD, fp), mechanism="LOGIN")]
        elif verb == b"AUTHENTICATE" and len(words) >= 3:
            self._login_tag = tag
            login = self._sasl.start(words[2], words[3] if len(words) > 3 else None, others=True)
            return [login.seen(ts, flow, Proto.IMAP, direction)] if login else []
        return []

    def _response(self, line: bytes) -> None:
        tag, _, rest = line.partition(b" ")
        status = rest.split(b" ", 1)[0].upper()
        if tag == b"*":
            self.done = self.done or status == b"PREAUTH"
        elif tag == self._starttls_tag:
            self.upgraded = status == b"OK"
        elif tag == self._login_tag:
            self._sasl.end()
            self.done = status == b"OK"


def _words(text: bytes) -> list[bytes]:
    """The atoms and quoted strings of a command line, quoted strings unescaped."""
    return [_ESCAPE.sub(rb"\1", m[1]) if m[1] is not None else m[2] for m in _WORD.finditer(text)]


def _is_login(words: list[bytes]) -> bool:
    return len(words) >= 2 and words[1].upper() == b"LOGIN"
