"""The contract between the dispatcher and a protocol extractor.

An extractor instance lives for one connection and sees each direction's bytes in order
(TCP reassembled) or one datagram at a time (UDP). `parse` has exactly three outcomes:

* `([], 0)`: the input is incomplete, call again with more bytes;
* `(observations, n)`: the first `n` bytes are used up (`n > 0`);
* `ParseError("<proto>_<problem>")`: the input is invalid; the dispatcher counts that
  weird and stops feeding this direction.

Nothing else may escape. Bounds are named constants in each module.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

from ..flowid import Direction, FlowId
from ..records import Observation
from ..secrets import EPHEMERAL, SecretHasher
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

    def __init__(self, secrets: SecretHasher = EPHEMERAL) -> None:
        self.secrets = secrets
        """Fingerprints every secret the parser sees, at once (`sensor.secrets`)."""
        self.upgraded = False
        """Set once the connection switches to TLS (STARTTLS, AUTH TLS, StartTLS): the
        dispatcher concludes this extractor and identifies what follows as a new stream."""
        self.weirds: list[str] = []
        """Non-fatal oddities of the last `parse` (e.g. a certificate kept only by its hashes);
        the dispatcher counts them and clears the list."""

    @staticmethod
    @abstractmethod
    def probe(first: bytes) -> bool:
        """Whether a direction's first bytes (at least 8 unless the stream is shorter)
        look like this protocol. Must be cheap and never raise."""

    @property
    @abstractmethod
    def finished(self) -> bool:
        """True once everything worth knowing was seen; the flow is then done."""

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


def read_line(buf: bytes, max_line: int, proto: str) -> tuple[bytes, int] | None:
    """The first line of a text protocol's stream (CRLF or bare LF stripped) and the bytes it
    takes; None while incomplete; ParseError("<proto>_line_too_long") past `max_line`."""
    end = buf.find(b"\n")
    if end < 0:
        if len(buf) > max_line:
            raise ParseError(f"{proto}_line_too_long")
        return None
    return buf[:end].rstrip(b"\r"), end + 1
