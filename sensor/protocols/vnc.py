"""VNC / RFB connection start (RFC 6143 7.1): versions and security types.

The server opens with `RFB 003.008\n`, the client answers with the version it will speak;
then the server offers security types (3.7+: a count and a list; 3.3: one 32-bit type it
chose) and a 3.7+ client picks one. "None" (1) means no password at all on a device's
screen; the VNC challenge (2) is a DES response, nothing in clear.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from typing import ClassVar

from ..flowid import Direction, FlowId
from ..records import Observation, Proto, RemoteAccessSession
from ..secrets import EPHEMERAL, SecretHasher
from .base import Extractor, ParseError

VERSION = re.compile(rb"RFB \d{3}\.\d{3}\n")
VERSION_LEN = 12
SECURITY_TYPES = {
    0: "Invalid", 1: "None", 2: "VNC Authentication", 5: "RA2", 6: "RA2ne", 16: "Tight", 17: "Ultra",
    18: "TLS", 19: "VeNCrypt", 20: "GTK-VNC SASL", 21: "MD5 hash", 22: "Colin Dean xvp", 30: "Apple ARD",
}
"""RFC 6143 7.1.2 and the IANA RFB security types registry."""


def security_name(code: int) -> str:
    """The registry name of a security type, or its number."""
    return SECURITY_TYPES.get(code, f"type {code}")


class VncExtractor(Extractor):
    """One RFB connection, up to the security type."""

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
            return self._server_security(flow, buf)
        if self._offered and self._chosen is None:
            self._chosen = security_name(buf[0])
            return [self._session(flow)], 1
        return [], len(buf)

    def _server_security(self, flow: FlowId, buf: bytes) -> tuple[Sequence[Observation], int]:
        if self._offered:
            return [], len(buf)
        if self._server == "003.003" or self._client == "003.003":
            if len(buf) < 4:
                return [], 0
            self._offered = (security_name(struct.unpack_from("!I", buf)[0]),)
            self._chosen = self._offered[0]
            return [self._session(flow)], len(buf)
        count = buf[0]
        if len(buf) < 1 + count:
            return [], 0
        self._offered = tuple(security_name(c) for c in buf[1 : 1 + count]) or ("Invalid",)
        return [], 1 + count

    def close(self, flow: FlowId, ts: float) -> Sequence[Observation]:
        return [] if self.done or self._server is None else [self._session(flow)]  # done: emitted

    def _session(self, flow: FlowId) -> RemoteAccessSession:
        self.done = True
        assert self._ts is not None
        security = tuple(f"offered {s}" for s in self._offered)
        if self._chosen:
            security += (f"chosen {self._chosen}",)
        return RemoteAccessSession(ts=self._ts, flow=flow, protocol=Proto.VNC, vendor="", product="VNC",
                                   direction="inbound", matched_by="rfb version exchange",
                                   client_software=self._client and f"RFB {self._client}",
                                   server_software=self._server and f"RFB {self._server}", security=security)
