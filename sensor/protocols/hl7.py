"""HL7 v2 over MLLP (HL7 v2.5.1 Appendix C: 0x0B, message, 0x1C 0x0D): the MSH segment only.

MSH names who talks to whom: sending and receiving application and facility (MSH-3..6), the
message type (MSH-9) and version (MSH-12); MSH-8 (security) is a secret and is fingerprinted
at once. Every segment after MSH carries patient data (PID, OBX...): the parser stops at the
end of MSH and skips the rest of the frame unread, up to its end marker, without buffering it.
Each distinct MSH of a connection is reported once, and only the first `MAX_MESSAGES` messages
are read (interfaces repeat the same header all day).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from ..flowid import Direction, FlowId
from ..records import CredentialSeen, Hl7Message, Observation, Proto, SecretKind
from ..secrets import EPHEMERAL, SecretHasher
from .base import Extractor, ParseError, secret_fields

START_BLOCK, END_BLOCK = b"\x0b", b"\x1c\x0d"
MAX_HEADER = 4096
"""The MSH segment (and a batch header before it) must end within this many bytes."""
HEADER_SEGMENTS = (b"FHS", b"BHS")
"""File and batch headers that may come before the first MSH: no patient data in them."""
MAX_MESSAGES = 16
"""Messages read per connection: an interface repeats the same header all day; inspection must
end so that the connection's later packets cost only a counter."""


class Hl7Extractor(Extractor):
    """One MLLP connection: messages one way, acknowledgements the other."""

    name = "hl7"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp"})
    ports: ClassVar[frozenset[int]] = frozenset({2575})
    budget = 256 * 1024
    max_messages = MAX_MESSAGES

    def __init__(self, secrets: SecretHasher = EPHEMERAL) -> None:
        super().__init__(secrets)
        self._skipping = [False, False]
        """Per direction: inside a message's body, looking only for its end marker."""
        self._seen: set[tuple[str, ...]] = set()

    @staticmethod
    def probe(first: bytes) -> bool:
        return first[:1] == START_BLOCK and first[1:4] in (b"MSH", *HEADER_SEGMENTS)

    def parse(
        self, flow: FlowId, direction: Direction, ts: float, buf: bytes
    ) -> tuple[Sequence[Observation], int]:
        if self._skipping[direction]:
            end = buf.find(END_BLOCK)
            if end < 0:  # keep a trailing 0x1C: its 0x0D may be in the next segment
                return [], len(buf) - 1 if buf.endswith(END_BLOCK[:1]) else len(buf)
            self._skipping[direction] = False
            return [], end + 2
        if buf[:1] != START_BLOCK:
            skip = buf.lstrip(b"\r\n\x00")  # stray line ends between frames
            if len(skip) < len(buf):
                return [], len(buf) - len(skip)
            raise ParseError("hl7_no_start_block")
        head = buf[: MAX_HEADER + 1]
        msh = _find_msh(head)
        if msh is None:
            if len(head) > MAX_HEADER or END_BLOCK in head:
                raise ParseError("hl7_no_msh")
            return [], 0
        start, end = msh
        self._skipping[direction] = True
        self.count_message()
        return self._header(flow, direction, ts, head[start:end]), end

    def _header(self, flow: FlowId, direction: Direction, ts: float, msh: bytes) -> list[Observation]:
        """MSH-1 is the field separator itself: split on it, MSH-n is field n - 1."""
        if len(msh) < 8:
            raise ParseError("hl7_bad_msh")
        fields = msh.decode("latin-1").split(msh[3:4].decode("latin-1")) + [""] * 12
        security = fields[7]
        facts = (fields[2], fields[3], fields[4], fields[5], fields[8], fields[11])
        key = (*facts, str(direction), security)
        if key in self._seen:
            return []
        self._seen.add(key)
        out: list[Observation] = [Hl7Message(
            ts=ts, flow=flow, protocol=Proto.HL7, sending_application=facts[0], sending_facility=facts[1],
            receiving_application=facts[2], receiving_facility=facts[3], message_type=facts[4], version=facts[5])]
        if security:
            fp = self.secrets.fingerprint(SecretKind.PASSCODE, security.encode("latin-1"))
            out.append(CredentialSeen(
                ts=ts, flow=flow, protocol=Proto.HL7, presenter=direction, username=facts[0] or None,
                domain=facts[1] or None, **secret_fields(SecretKind.PASSCODE, fp), mechanism="msh-8"))
        return out


def _find_msh(head: bytes) -> tuple[int, int] | None:
    """Start and end of the MSH segment of a frame starting at `head[0]` (0x0B), once it is
    complete; None while it is not. Only FHS/BHS may come before it."""
    pos = 1
    while True:
        end = min((i for i in (head.find(b"\r", pos), head.find(b"\n", pos)) if i >= 0), default=-1)
        tag = head[pos : pos + 3]
        if tag == b"MSH":
            if end < 0:
                block = head.find(END_BLOCK[:1], pos)
                return (pos, block) if block >= 0 else None
            return pos, end
        if end < 0:
            return None
        if tag not in HEADER_SEGMENTS:
            raise ParseError("hl7_no_msh")
        pos = end + 1
