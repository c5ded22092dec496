"""VNC / RFB connection start (RFC 6143 7.1): versions, security types and the SecurityResult.

The server opens with `RFB 003.008\n`, the client answers with the version it will speak;
then the server offers security types (3.7+: a count and a list; 3.3: one 32-bit type it
chose) and a 3.7+ client picks one. "None" (1) means no password at all on a device's
screen; the VNC challenge (2) is a DES response, nothing in clear.

The chosen security type is the session's authentication attempt, and the server's
SecurityResult (7.1.3) its outcome: 0 OK accepted, anything else refused, with the reason
string RFB 3.8 sends after a failure. The result is found for the types whose exchange has a
known length: VNC Authentication (a 16-byte challenge first) and Apple Remote Desktop (30:
Diffie-Hellman parameters first); for None a 3.8 server still sends it, a 3.3/3.7 one goes
straight to the initialisation (accepted: there is nothing to refuse). Other types (Tight,
VeNCrypt's TLS, RA2...) are not followed: unknown. A server that offers no type (or, in 3.3,
picks type 0) refuses the connection before any authentication: no attempt.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from typing import ClassVar

from ..flowid import Direction, FlowId
from ..records import Observation, Outcome, Proto, RemoteAccessSession
from ..secrets import EPHEMERAL, SecretHasher
from .base import Extractor, ParseError

VERSION = re.compile(rb"RFB \d{3}\.\d{3}\n")
VERSION_LEN = 12
SECURITY_TYPES = {
    0: "Invalid", 1: "None", 2: "VNC Authentication", 5: "RA2", 6: "RA2ne", 16: "Tight", 17: "Ultra",
    18: "TLS", 19: "VeNCrypt", 20: "GTK-VNC SASL", 21: "MD5 hash", 22: "Colin Dean xvp", 30: "Apple ARD",
}
"""RFC 6143 7.1.2 and the IANA RFB security types registry."""
SECURITY_NONE, SECURITY_VNC, SECURITY_ARD = 1, 2, 30
CHALLENGE = 16
"""VNC Authentication's random challenge (7.2.2)."""
ARD_PARAMETERS = -1
"""Stands for the length of Apple Remote Desktop's Diffie-Hellman parameters, known once their
key length is read."""
RESULT_OK = 0
MAX_REASON = 1024
"""Longest failure reason read; a longer length is not a reason string."""
FOLLOWED = "{} exchange not followed"


def security_name(code: int) -> str:
    """The registry name of a security type, or its number."""
    return SECURITY_TYPES.get(code, f"type {code}")


class VncExtractor(Extractor):
    """One RFB connection, up to the SecurityResult."""

    name = "vnc"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp"})
    ports: ClassVar[frozenset[int]] = frozenset({5900, 5901, 5902})
    budget = 4096

    def __init__(self, secrets: SecretHasher = EPHEMERAL) -> None:
        super().__init__(secrets)
        self._server: str | None = None
        self._client: str | None = None
        self._offered: tuple[str, ...] = ()
        self._chosen: str | None = None
        self._ts: float | None = None
        self._before_result: int | None = None
        """Server bytes of the security exchange still to pass before its SecurityResult; None
        while the type's exchange has not started (or is not followed)."""
        self._failed: tuple[float, int] | None = None
        """A failed SecurityResult (its time, its code) whose RFB 3.8 reason string may follow."""

    @staticmethod
    def probe(first: bytes) -> bool:
        """The server's (or the client's) protocol version line."""
        return VERSION.match(first[:VERSION_LEN]) is not None

    def parse(
        self, flow: FlowId, direction: Direction, ts: float, buf: bytes
    ) -> tuple[Sequence[Observation], int]:
        if self._ts is None:
            self._ts = ts
        server = direction == Direction.RESP
        version = self._server if server else self._client
        if version is None:
            if len(buf) < VERSION_LEN:
                return [], 0
            if VERSION.match(buf[:VERSION_LEN]) is None:
                raise ParseError("vnc_bad_version")
            text = buf[4 : VERSION_LEN - 1].decode("ascii")
            if server:
                self._server = text
            else:
                self._client = text
            return [], VERSION_LEN
        if server:
            return self._server_security(flow, ts, buf)
        if self._offered and self._chosen is None:
            return self._choose(flow, ts, buf[0]), 1
        return [], len(buf)

    def _server_security(self, flow: FlowId, ts: float, buf: bytes) -> tuple[Sequence[Observation], int]:
        if self._failed is not None:
            return self._reason(flow, buf)
        if self._before_result is not None:
            return self._result(flow, ts, buf)
        if self._offered:
            return [], len(buf)  # an exchange not followed
        if self._rfb_3_3:
            if len(buf) < 4:
                return [], 0
            code = struct.unpack_from("!I", buf)[0]
            self._offered = (security_name(code),)
            if code == 0:  # the connection failed: a reason string follows, no authentication
                self._chosen, self.done = self._offered[0], True
                return [self._session(flow)], len(buf)
            return self._choose(flow, ts, code), 4
        count = buf[0]
        if len(buf) < 1 + count:
            return [], 0
        self._offered = tuple(security_name(c) for c in buf[1 : 1 + count]) or ("Invalid",)
        return [], 1 + count

    def _choose(self, flow: FlowId, ts: float, code: int) -> list[Observation]:
        """The security type chosen (by the 3.7+ client, or the 3.3 server): the attempt, and
        what comes before its SecurityResult."""
        self._chosen = security_name(code)
        session = self._session(flow, self.attempt(Proto.VNC))
        if code == SECURITY_VNC:
            self._before_result = CHALLENGE
        elif code == SECURITY_NONE and self._rfb_3_8:
            self._before_result = 0
        elif code == SECURITY_NONE:
            self.done = True
            return [session, *self.answer(flow, ts, Outcome.SUCCESS,
                                          basis="security type None: RFB 3.3/3.7 send no SecurityResult")]
        elif code == SECURITY_ARD:
            self._before_result = ARD_PARAMETERS
        else:
            self.done = True
            return [session, *self.answer(flow, ts, Outcome.UNKNOWN, basis=FOLLOWED.format(self._chosen))]
        return [session]

    def _result(self, flow: FlowId, ts: float, buf: bytes) -> tuple[Sequence[Observation], int]:
        """The rest of the security exchange, then the SecurityResult (a 32-bit status)."""
        if self._before_result == ARD_PARAMETERS:  # generator (2), key length (2), prime and public key
            if len(buf) < 4:
                return [], 0
            self._before_result = 4 + 2 * struct.unpack_from("!H", buf, 2)[0]
        skip = self._before_result or 0
        if len(buf) < skip + 4:
            return [], 0
        status = struct.unpack_from("!I", buf, skip)[0]
        self._before_result = None
        if status == RESULT_OK:
            self.done = True
            return self.answer(flow, ts, Outcome.SUCCESS, str(status)), skip + 4
        if not self._rfb_3_8:
            self.done = True
            return self.answer(flow, ts, Outcome.FAILURE, str(status)), skip + 4
        self._failed = (ts, status)
        used = skip + 4
        found, more = self._reason(flow, buf[used:]) if len(buf) > used else ([], 0)
        return found, used + more

    def _reason(self, flow: FlowId, buf: bytes) -> tuple[Sequence[Observation], int]:
        """The reason string after an RFB 3.8 failure (a 32-bit length, then the text); a server
        that sends none (Apple's) leaves the failure to `close`."""
        assert self._failed is not None
        ts, status = self._failed
        if len(buf) < 4:
            return [], 0
        length = struct.unpack_from("!I", buf)[0]
        if length > MAX_REASON:
            self._failed, self.done = None, True
            return self.answer(flow, ts, Outcome.FAILURE, str(status)), len(buf)
        if len(buf) < 4 + length:
            return [], 0
        self._failed, self.done = None, True
        return self.answer(flow, ts, Outcome.FAILURE, str(status), buf[4 : 4 + length]), 4 + length

    @property
    def _rfb_3_3(self) -> bool:
        return self._server == "003.003" or self._client == "003.003"

    @property
    def _rfb_3_8(self) -> bool:
        """Whether the version spoken (the client's) behaves as 3.8: a SecurityResult for None
        and a reason string after a failure (later versions and Apple's 3.889 included)."""
        major, _, minor = (self._client or "").partition(".")
        return (int(major or 0), int(minor or 0)) >= (3, 8)

    def close(self, flow: FlowId, ts: float) -> Sequence[Observation]:
        """A failure whose reason string never came; the session of a connection that ended
        before a security type was chosen."""
        found: list[Observation] = []
        if self._failed is not None:
            failed_ts, status = self._failed
            self._failed = None
            found += self.answer(flow, failed_ts, Outcome.FAILURE, str(status))
        if self._chosen is None and self._server is not None:
            found.insert(0, self._session(flow))
        return found

    def _session(self, flow: FlowId, attempt: int | None = None) -> RemoteAccessSession:
        assert self._ts is not None
        security = tuple(f"offered {s}" for s in self._offered)
        if self._chosen:
            security += (f"chosen {self._chosen}",)
        return RemoteAccessSession(ts=self._ts, flow=flow, protocol=Proto.VNC, vendor="", product="VNC",
                                   direction="inbound", matched_by="rfb version exchange",
                                   client_software=self._client and f"RFB {self._client}",
                                   server_software=self._server and f"RFB {self._server}", security=security,
                                   attempt=attempt)
