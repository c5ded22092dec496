"""SSH connection start (RFC 4253 4.2, 7.1): software banners and HASSH fingerprints.

Both sides send a version line `SSH-2.0-<software> <comments>` (a server may send other
lines before it), then a KEXINIT listing its algorithms in clear. HASSH (Salesforce) is the
MD5 of the client's `kex;ciphers;macs;compression` (client-to-server lists); HASSHServer the
same over the server's server-to-client lists: they tell an OpenSSH from a vendor's embedded
stack even when banners lie. User authentication happens encrypted: no user is seen.

The session is an authentication attempt whose answer is encrypted too (RFC 4252 runs inside
the transport's encryption): its outcome is always unknown, with the basis "encrypted (SSH)",
emitted with the session (the remote-access session record carries the attempt).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from typing import ClassVar

from ..flowid import Direction, FlowId
from ..records import Observation, Outcome, Proto, RemoteAccessSession
from ..secrets import EPHEMERAL, SecretHasher
from ..wire import Reader
from .base import Extractor, ParseError, read_line

MAX_LINE = 255
"""RFC 4253: the version line, CR LF included, is at most 255 bytes."""
MAX_PRE_BANNER_LINES = 1024
"""Lines a server may send before its version line: OpenSSH's client reads as many
(SSH_MAX_PRE_BANNER_LINES); devices print legal notices and login banners there."""
MAX_PACKET = 35000
"""RFC 4253 6.1: implementations must handle 35000-byte packets; a KEXINIT is far smaller."""
MSG_KEXINIT = 20
ENCRYPTED = "encrypted (SSH)"
KEXINIT_LISTS = 10
"""kex, host key, ciphers c2s/s2c, MACs c2s/s2c, compression c2s/s2c, languages c2s/s2c."""


def hassh(lists: list[str], server: bool) -> str:
    """HASSH (client) or HASSHServer: MD5 over kex;ciphers;macs;compression of the sender's
    outgoing direction (the client's c2s lists, the server's s2c lists)."""
    k = 1 if server else 0
    text = ";".join((lists[0], lists[2 + k], lists[4 + k], lists[6 + k]))
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


class SshExtractor(Extractor):
    """One SSH connection, up to both KEXINITs."""

    name = "ssh"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp"})
    ports: ClassVar[frozenset[int]] = frozenset({22})
    budget = 64 * 1024

    def __init__(self, secrets: SecretHasher = EPHEMERAL) -> None:
        super().__init__(secrets)
        self._banner: list[str | None] = [None, None]
        self._hassh: list[str | None] = [None, None]
        self._lines = [0, 0]
        self._first_ts: float | None = None

    @staticmethod
    def probe(first: bytes) -> bool:
        """A version line (servers only may precede it with other lines: those are not probed)."""
        return first.startswith(b"SSH-")

    def parse(
        self, flow: FlowId, direction: Direction, ts: float, buf: bytes
    ) -> tuple[Sequence[Observation], int]:
        d = int(direction)
        if self._first_ts is None:
            self._first_ts = ts
        if self._banner[d] is None:
            read = read_line(buf, MAX_LINE, "ssh")
            if read is None:
                return [], 0
            line, used = read
            if line.startswith(b"SSH-"):
                self._banner[d] = line.decode("utf-8", "replace")
            else:
                self._lines[d] += 1
                if direction == Direction.ORIG or self._lines[d] > MAX_PRE_BANNER_LINES:
                    raise ParseError("ssh_no_version_line")
            return [], used
        if self._hassh[d] is not None:
            return [], len(buf)  # the key exchange and what follows: nothing in clear for us
        if len(buf) < 6:
            return [], 0
        length = struct.unpack_from("!I", buf)[0]
        if not 5 <= length <= MAX_PACKET:
            raise ParseError("ssh_bad_packet_length")
        if len(buf) < 4 + length:
            return [], 0
        if buf[5] != MSG_KEXINIT:
            raise ParseError("ssh_first_packet_not_kexinit")
        self._hassh[d] = hassh(_kexinit_lists(buf[6 + 16 : 4 + length - buf[4]]), server=bool(d))
        if None not in self._hassh:
            return self._session(flow, ts), 4 + length
        return [], 4 + length

    def close(self, flow: FlowId, ts: float) -> Sequence[Observation]:
        if self.done or self._banner == [None, None]:  # done: the session was emitted
            return []
        return self._session(flow, ts)

    def _session(self, flow: FlowId, ts: float) -> list[Observation]:
        """The session, and its outcome: unknown, the answer is encrypted."""
        self.done = True
        assert self._first_ts is not None
        session = RemoteAccessSession(ts=self._first_ts, flow=flow, protocol=Proto.SSH, vendor="", product="SSH",
                                      direction="inbound", matched_by="ssh version exchange",
                                      client_software=self._banner[0], server_software=self._banner[1],
                                      hassh=self._hassh[0], hassh_server=self._hassh[1],
                                      attempt=self.attempt(Proto.SSH))
        return [session, *self.answer(flow, ts, Outcome.UNKNOWN, basis=ENCRYPTED)]


def _kexinit_lists(body: bytes) -> list[str]:
    """The name-lists of a KEXINIT body after its cookie: each a 4-byte length and its names."""
    r = Reader(body, "ssh_kexinit_truncated")
    return [r.vector(4).decode("ascii", "replace") for _ in range(KEXINIT_LISTS)]
