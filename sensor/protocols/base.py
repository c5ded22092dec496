"""The contract between the dispatcher and a protocol extractor.

An extractor instance lives for one connection and sees each direction's bytes in order
(TCP reassembled) or one datagram at a time (UDP). `parse` has exactly three outcomes:

* `([], 0)`: the input is incomplete, call again with more bytes;
* `(observations, n)`: the first `n` bytes are used up (`n > 0`);
* `ParseError("<proto>_<problem>")`: the input is invalid; the dispatcher counts that
  weird and stops feeding this direction.

Nothing else may escape. Bounds are named constants in each module. Binary fields are read
through `sensor.wire.Reader`, whose one signal of running short is `Incomplete`: caught where
a stream's head may still grow (the first outcome), the `ParseError` it is elsewhere.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar, TypedDict

from ..flowid import Direction, FlowId
from ..records import MAX_REASON, AuthenticationOutcome, Observation, Outcome, Proto, SecretKind
from ..secrets import EPHEMERAL, Fingerprint, SecretHasher
from ..siterules import SensorRules
from ..wire import ParseError as ParseError  # part of the contract: extractors import it from here


class Extractor(ABC):
    """One protocol parser for one connection."""

    name: ClassVar[str]
    """Short protocol name; weirds start with it."""
    transports: ClassVar[frozenset[str]]
    """"tcp" and/or "udp"."""
    ports: ClassVar[frozenset[int]]
    """Usual server ports: a tie-breaker when several probes accept, never a requirement."""
    budget: ClassVar[int]
    """Bytes per direction worth inspecting (the handshake); past it the direction is done."""
    max_messages: ClassVar[int | None] = None
    """For extractors that read a connection's messages (requests, commands) one after another
    and count each (`count_message`): after this many, inspection ends, as a poller's later
    messages only repeat themselves. None: no count."""

    def __init__(self, secrets: SecretHasher = EPHEMERAL) -> None:
        self.secrets = secrets
        """Fingerprints every secret the parser sees, at once (`sensor.secrets`)."""
        self.upgraded = False
        """Set once the connection switches to TLS (STARTTLS, AUTH TLS, StartTLS): the
        dispatcher concludes this extractor and identifies what follows as a new stream."""
        self.weirds: list[str] = []
        """Non-fatal oddities of the last `parse` (e.g. a certificate kept only by its hashes);
        the dispatcher counts them and clears the list."""
        self.done = False
        """Set by the parser once everything worth knowing was seen (`finished`)."""
        self.messages = 0
        """Messages counted so far (`count_message`)."""
        self.attempts = 0
        """Authentication attempts numbered so far on this connection (`attempt`)."""
        self.pending: list[tuple[int, Proto]] = []
        """Attempts still waiting for their answer, oldest first."""

    @staticmethod
    @abstractmethod
    def probe(first: bytes) -> bool:
        """Whether a direction's first bytes (at least 8 unless the stream is shorter)
        look like this protocol. Must be cheap and never raise."""

    @property
    def finished(self) -> bool:
        """True once everything worth knowing was seen; the flow is then done. By default once
        the parser set `done` (or `max_messages` were counted); an extractor that judges from
        more state says so by overriding this. Never set: datagram protocols whose every
        message counts (DNS, DHCP) are inspected until the flow ends."""
        return self.done

    @property
    def held(self) -> int:
        """Bytes the extractor keeps between calls (a handshake message being reassembled, a
        DTLS fragment table): the dispatcher counts them against the parsers' memory cap. Most
        keep nothing of their own."""
        return 0

    def count_message(self) -> None:
        """One more message read; at `max_messages` the extractor is done."""
        self.messages += 1
        if self.max_messages is not None and self.messages >= self.max_messages:
            self.done = True

    @abstractmethod
    def parse(
        self, flow: FlowId, direction: Direction, ts: float, buf: bytes
    ) -> tuple[Sequence[Observation], int]:
        """Consume bytes from the start of `buf` (see the module docstring)."""

    @classmethod
    def bound(cls, rules: SensorRules) -> type[Extractor]:
        """This extractor bound to the site's sensor rules; most need none."""
        return cls

    def close(self, flow: FlowId, ts: float) -> Sequence[Observation]:
        """The connection ended (FIN/RST, idle timeout, eviction or end of capture).

        Extractors that infer from a whole exchange emit their conclusion here.
        """
        return ()

    # --- authentication outcomes ---------------------------------------------------------

    def attempt(self, protocol: Proto) -> int:
        """Number a presentation of an identity on this connection (1, 2, ...) and await its
        answer: put the number in the identity observation's `attempt`."""
        self.attempts += 1
        self.pending.append((self.attempts, protocol))
        return self.attempts

    def answer(
        self, flow: FlowId, ts: float, outcome: Outcome, code: str | None = None, reason: str | bytes | None = None,
        *, basis: str | None = None, confidence: float | None = None, attempt: int | None = None,
    ) -> list[Observation]:
        """The other side's answer to the oldest pending attempt (or to `attempt`): its
        `AuthenticationOutcome`; nothing when no attempt waits (an answer to what we did not
        see). `reason` is the server's text, kept printable and short."""
        index = next((i for i, (n, _p) in enumerate(self.pending) if attempt in (None, n)), None)
        if index is None:
            return []
        number, protocol = self.pending.pop(index)
        return [AuthenticationOutcome(
            ts=ts, flow=flow, protocol=protocol, attempt=number, outcome=outcome, reason_code=code,
            reason=reason_text(reason), basis=basis, confidence=confidence,
        )]

    def unanswered(self, flow: FlowId, ts: float, basis: str = "no answer captured") -> list[Observation]:
        """Every attempt still waiting, as `unknown` (the connection ended, or its answer cannot
        be seen): the dispatcher calls this after `close`, so no attempt is left without one."""
        found: list[Observation] = []
        while self.pending:
            found += self.answer(flow, ts, Outcome.UNKNOWN, basis=basis)
        return found


def reason_text(reason: str | bytes | None) -> str | None:
    """A server's words as a record keeps them: decoded, control characters out, at most
    MAX_REASON characters."""
    if reason is None:
        return None
    text = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else reason
    text = "".join(c if c.isprintable() else " " for c in text).strip()
    return text[:MAX_REASON] or None


_QUOTATION = re.compile(rb"(?:^|(?<=\s))['\"`]")
"""A quotation mark opening a word: where a server starts quoting what it was sent."""


def server_words(text: bytes) -> bytes:
    """A reply's text up to the first quotation, for a `reason`: servers that echo a client's
    argument quote it (sendmail's `cannot BASE64 decode '...'`, Redis's `unknown command 'AUTH',
    with args beginning with: '...'`), and that argument may be the secret."""
    return _QUOTATION.split(text, maxsplit=1)[0]


def read_line(buf: bytes, max_line: int, proto: str) -> tuple[bytes, int] | None:
    """The first line of a text protocol's stream (CRLF or bare LF stripped) and the bytes it
    takes; None while incomplete; ParseError("<proto>_line_too_long") past `max_line`."""
    end = buf.find(b"\n")
    if end < 0:
        if len(buf) > max_line:
            raise ParseError(f"{proto}_line_too_long")
        return None
    return buf[:end].rstrip(b"\r"), end + 1


class SecretFields(TypedDict):
    """The secret of a `CredentialSeen`, as the parser's fingerprint gives it."""

    secret_kind: SecretKind
    secret_fp: str | None
    secret_hint: str | None


def secret_fields(kind: SecretKind, fp: Fingerprint | None) -> SecretFields:
    """`CredentialSeen(..., **secret_fields(kind, fp))`: the secret's kind, with the fingerprint
    and its hint when there is one (a hash or a bare user name has none)."""
    return {"secret_kind": kind, "secret_fp": fp.value if fp else None, "secret_hint": fp.hint if fp else None}
