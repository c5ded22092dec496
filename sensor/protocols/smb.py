"""SMB session setups (MS-SMB2 2.2.5/2.2.6, MS-SMB 2.2.4.6): the NTLM logon of a file-share client.

Over TCP 445 every SMB message is framed by a 4-byte header (a zero byte and a 24-bit length,
MS-SMB2 2.1); over NetBIOS on 139 by the session service header of RFC 1002 4.3.1, whose
session request/response and keep-alive messages are skipped. Of SMB2/3 (0xFE 'SMB') and
SMB1 (0xFF 'SMB') only SESSION_SETUP is read: a request's security buffer (SMB1: with
extended security, WordCount 12) goes to `sensor.ntlm`, which finds an NTLMSSP AUTHENTICATE
in it raw or inside SPNEGO; Kerberos AP-REQs are not read. Every other message is skipped
unbuffered, file contents included. Inspection ends at the first successful session setup
response or at the budget.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import ClassVar

from ..flowid import Direction, FlowId
from ..ntlm import find_authenticate
from ..records import Observation, Proto
from ..secrets import EPHEMERAL, SecretHasher
from .base import Extractor, ParseError

NBSS_HEADER = 4
SESSION_MESSAGE = 0x00
NBSS_CONTROL = frozenset({0x81, 0x82, 0x83, 0x84, 0x85})
"""Session request, positive/negative response, retarget, keep-alive (RFC 1002 4.3)."""
SMB1, SMB2 = b"\xffSMB", b"\xfeSMB"
SMB1_SESSION_SETUP, SMB2_SESSION_SETUP = 0x73, 0x0001
SMB1_REPLY, SMB2_REPLY = 0x80, 0x00000001
SMB1_HEADER, SMB2_HEADER = 32, 64
SMB1_EXTENDED_SECURITY_WORDS = 12
CLASSIFY = 20
"""Bytes of an SMB header that tell its command, status and direction."""
MAX_SESSION_SETUP = 64 * 1024
"""Size of a session setup message (a SPNEGO token with a Kerberos ticket fits)."""
_SMB1_HEAD = struct.Struct("<4sBIB")
_SMB2_HEAD = struct.Struct("<4s4xIHxxI")


class SmbExtractor(Extractor):
    """One SMB connection, up to its session setup."""

    name = "smb"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp"})
    ports: ClassVar[frozenset[int]] = frozenset({445, 139})
    budget = 128 * 1024

    def __init__(self, secrets: SecretHasher = EPHEMERAL) -> None:
        super().__init__(secrets)
        self._skip = 0
        """Bytes of the current uninteresting message still to pass over."""

    @staticmethod
    def probe(first: bytes) -> bool:
        """A session message whose payload starts with an SMB1 or SMB2 protocol id."""
        return first[:1] == b"\x00" and first[4:8] in (SMB1, SMB2)

    def parse(
        self, flow: FlowId, direction: Direction, ts: float, buf: bytes
    ) -> tuple[Sequence[Observation], int]:
        if self._skip:
            used = min(self._skip, len(buf))
            self._skip -= used
            return [], used
        if len(buf) < NBSS_HEADER:
            return [], 0
        kind, size = buf[0], NBSS_HEADER + int.from_bytes(buf[1:4], "big")
        if kind in NBSS_CONTROL:
            return self._pass(buf, size)
        if kind != SESSION_MESSAGE:
            raise ParseError("smb_bad_netbios_type")
        if len(buf) < min(size, NBSS_HEADER + CLASSIFY):
            return [], 0
        request = _session_setup(buf[NBSS_HEADER : min(size, NBSS_HEADER + CLASSIFY)])
        if request is None:
            return self._pass(buf, size)
        if size > NBSS_HEADER + MAX_SESSION_SETUP:
            raise ParseError("smb_session_setup_too_large")
        if len(buf) < size:
            return [], 0
        message = buf[NBSS_HEADER:size]
        if not request:
            self.done = _status(message) == 0
            return [], size
        found, weird = find_authenticate(_security_blob(message))
        if weird:
            self.weirds.append(weird)
        return [found.credential(ts, flow, Proto.SMB, direction)] if found else [], size

    def _pass(self, buf: bytes, size: int) -> tuple[Sequence[Observation], int]:
        """Skip a message of `size` bytes without buffering it."""
        used = min(size, len(buf))
        self._skip = size - used
        return [], used


def _session_setup(head: bytes) -> bool | None:
    """Whether an SMB message is a SESSION_SETUP request (True) or response (False); None for
    any other message (other commands, SMB3 encrypted or compressed, too short to be SMB)."""
    if head[:4] == SMB2 and len(head) >= CLASSIFY:
        _, _, command, flags = _SMB2_HEAD.unpack_from(head)
        return not flags & SMB2_REPLY if command == SMB2_SESSION_SETUP else None
    if head[:4] == SMB1 and len(head) >= _SMB1_HEAD.size + 1:
        _, command, _, flags = _SMB1_HEAD.unpack_from(head)
        return not flags & SMB1_REPLY if command == SMB1_SESSION_SETUP else None
    return None


def _status(message: bytes) -> int:
    """The NT status of a response (SMB1 DOS errors are non-zero too)."""
    offset = 8 if message[:4] == SMB2 else 5
    return int.from_bytes(message[offset : offset + 4], "little")


def _security_blob(message: bytes) -> bytes:
    """A session setup request's security buffer (MS-SMB2 2.2.5; MS-SMB 2.2.4.6.1)."""
    if message[:4] == SMB2:
        if len(message) < SMB2_HEADER + 16:
            raise ParseError("smb_truncated")
        offset, length = struct.unpack_from("<HH", message, SMB2_HEADER + 12)
    else:
        words = message[SMB1_HEADER : SMB1_HEADER + 1]
        if words != bytes([SMB1_EXTENDED_SECURITY_WORDS]):
            return b""  # a pre-NTLMSSP logon (LM/NT responses in the words): not read
        if len(message) < SMB1_HEADER + 1 + 2 * SMB1_EXTENDED_SECURITY_WORDS + 2:
            raise ParseError("smb_truncated")
        offset = SMB1_HEADER + 1 + 2 * SMB1_EXTENDED_SECURITY_WORDS + 2
        length = int.from_bytes(message[SMB1_HEADER + 15 : SMB1_HEADER + 17], "little")
    if offset + length > len(message):
        raise ParseError("smb_bad_security_buffer")
    return message[offset : offset + length]
