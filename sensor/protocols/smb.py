"""SMB session setups (MS-SMB2 2.2.5/2.2.6, MS-SMB 2.2.4.6): the NTLM logon of a file-share client.

Over TCP 445 every SMB message is framed by a 4-byte header (a zero byte and a 24-bit length,
MS-SMB2 2.1); over NetBIOS on 139 by the session service header of RFC 1002 4.3.1, whose
session request/response and keep-alive messages are skipped. Of SMB2/3 (0xFE 'SMB') and
SMB1 (0xFF 'SMB') only SESSION_SETUP is read: a request's security buffer (SMB1: with
extended security, WordCount 12) goes to `sensor.ntlm`, which finds an NTLMSSP AUTHENTICATE
in it raw or inside SPNEGO; Kerberos AP-REQs are not read. Every other message is skipped
unbuffered, file contents included. Inspection ends at the first successful session setup
response (once no other logon waits for its answer) or at the budget.

A session setup request carrying an AUTHENTICATE is an authentication attempt; the response
with the same MessageId (SMB1: MID) answers it with its NT status: STATUS_SUCCESS accepted;
the logon refusals (STATUS_LOGON_FAILURE, STATUS_ACCOUNT_DISABLED, STATUS_PASSWORD_EXPIRED,
STATUS_ACCOUNT_LOCKED_OUT ...) refused; other statuses (no logon servers, clock skew, server
resources) unknown, they say nothing of the credential. STATUS_MORE_PROCESSING_REQUIRED goes
on with the exchange (it answers the NEGOTIATE step, which carries no credential). An SMB1
server not speaking NT statuses answers with a DOS error class and code: unknown, but for
ERRSRV/ERRbadpw.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import ClassVar

from ..flowid import Direction, FlowId
from ..ntlm import find_authenticate
from ..records import Observation, Outcome, Proto
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
SMB1_FLAGS2_NT_STATUS = 0x4000
STATUS_SUCCESS, STATUS_MORE_PROCESSING_REQUIRED = 0, 0xC0000016
NT_STATUS_NAMES = {
    0xC000000D: "STATUS_INVALID_PARAMETER", 0xC0000022: "STATUS_ACCESS_DENIED", 0xC000005E: "STATUS_NO_LOGON_SERVERS",
    0xC0000064: "STATUS_NO_SUCH_USER", 0xC000006A: "STATUS_WRONG_PASSWORD", 0xC000006D: "STATUS_LOGON_FAILURE",
    0xC000006E: "STATUS_ACCOUNT_RESTRICTION", 0xC000006F: "STATUS_INVALID_LOGON_HOURS",
    0xC0000070: "STATUS_INVALID_WORKSTATION", 0xC0000071: "STATUS_PASSWORD_EXPIRED",
    0xC0000072: "STATUS_ACCOUNT_DISABLED", 0xC000009A: "STATUS_INSUFFICIENT_RESOURCES",
    0xC00000BB: "STATUS_NOT_SUPPORTED", 0xC00000DF: "STATUS_NO_SUCH_DOMAIN", 0xC0000133: "STATUS_TIME_DIFFERENCE_AT_DC",
    0xC000015B: "STATUS_LOGON_TYPE_NOT_GRANTED", 0xC000018B: "STATUS_NO_TRUST_SAM_ACCOUNT",
    0xC000018C: "STATUS_TRUSTED_DOMAIN_FAILURE", 0xC000018D: "STATUS_TRUSTED_RELATIONSHIP_FAILURE",
    0xC0000193: "STATUS_ACCOUNT_EXPIRED", 0xC0000198: "STATUS_NOLOGON_INTERDOMAIN_TRUST_ACCOUNT",
    0xC0000199: "STATUS_NOLOGON_WORKSTATION_TRUST_ACCOUNT", 0xC000019A: "STATUS_NOLOGON_SERVER_TRUST_ACCOUNT",
    0xC0000203: "STATUS_USER_SESSION_DELETED", 0xC0000205: "STATUS_INSUFF_SERVER_RESOURCES",
    0xC0000224: "STATUS_PASSWORD_MUST_CHANGE", 0xC0000234: "STATUS_ACCOUNT_LOCKED_OUT",
    0xC000035C: "STATUS_NETWORK_SESSION_EXPIRED",
}
"""MS-ERREF 2.3.1: the NT statuses a session setup answers with (the rest keep their number)."""
LOGON_REFUSALS = frozenset({
    0xC0000022, 0xC0000064, 0xC000006A, 0xC000006D, 0xC000006E, 0xC000006F, 0xC0000070, 0xC0000071, 0xC0000072,
    0xC000015B, 0xC0000193, 0xC0000198, 0xC0000199, 0xC000019A, 0xC0000224, 0xC0000234,
})
"""Statuses that refuse the logon: wrong password or user, account disabled, expired, locked
out or restricted, password expired or to change, a trust account used to log on."""
DOS_BAD_PASSWORD = (0x02, 0x0002)
"""SMB1 DOS error ERRSRV/ERRbadpw (MS-CIFS 2.2.2.4)."""
MAX_AWAITING = 16
"""Session setups waiting for their response; past it the oldest is forgotten."""
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
        self._awaiting: dict[int, int] = {}
        """MessageId (SMB1: MID) of each session setup carrying an AUTHENTICATE -> its attempt."""

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
            return self._response(flow, ts, message), size
        found, weird = find_authenticate(_security_blob(message))
        if weird:
            self.weirds.append(weird)
        if found is None:
            return [], size
        attempt = self.attempt(Proto.SMB)
        if len(self._awaiting) >= MAX_AWAITING:
            del self._awaiting[next(iter(self._awaiting))]
        self._awaiting[_message_id(message)] = attempt
        return [found.credential(ts, flow, Proto.SMB, direction, attempt)], size

    def _response(self, flow: FlowId, ts: float, message: bytes) -> list[Observation]:
        """A session setup response: the answer to the AUTHENTICATE of the same message id."""
        status, nt = _status(message)
        if status == STATUS_MORE_PROCESSING_REQUIRED and nt:
            return []
        attempt = self._awaiting.pop(_message_id(message), None)
        # Logged on, and no other logon waits for its answer: the session follows.
        self.done = status == STATUS_SUCCESS and len(self.pending) == (attempt is not None)
        if attempt is None:
            return []
        if not nt:
            code = f"DOS {status & 0xFF:#04x}/{status >> 16:#06x}"
            if (status & 0xFF, status >> 16) == DOS_BAD_PASSWORD:
                return self.answer(flow, ts, Outcome.FAILURE, code, "ERRSRV/ERRbadpw", attempt=attempt)
            outcome = Outcome.SUCCESS if status == STATUS_SUCCESS else Outcome.UNKNOWN
            return self.answer(flow, ts, outcome, code, attempt=attempt,
                               basis=None if outcome == Outcome.SUCCESS else "SMB1 DOS error")
        name = NT_STATUS_NAMES.get(status, f"0x{status:08x}") if status else "STATUS_SUCCESS"
        if status == STATUS_SUCCESS:
            return self.answer(flow, ts, Outcome.SUCCESS, name, attempt=attempt)
        if status in LOGON_REFUSALS:
            return self.answer(flow, ts, Outcome.FAILURE, name, attempt=attempt)
        return self.answer(flow, ts, Outcome.UNKNOWN, name, attempt=attempt,
                           basis="a status that says nothing of the credential")

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


def _status(message: bytes) -> tuple[int, bool]:
    """The status of a response, and whether it is an NT status (SMB2 always; SMB1 when FLAGS2
    says so, else a DOS error: class in the low byte, code in the high half)."""
    if message[:4] == SMB2:
        return int.from_bytes(message[8:12], "little"), True
    nt = bool(int.from_bytes(message[10:12], "little") & SMB1_FLAGS2_NT_STATUS)
    return int.from_bytes(message[5:9], "little"), nt


def _message_id(message: bytes) -> int:
    """The id pairing a response with its request: SMB2 MessageId, SMB1 MID."""
    if message[:4] == SMB2:
        return int.from_bytes(message[24:32], "little")
    return int.from_bytes(message[30:32], "little")


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
