"""SNMP (RFC 1157, RFC 3416, RFC 3412/3414): v1/v2c communities and v3 user names.

A community is a shared secret sent in clear with every message: it is fingerprinted at once.
Whoever sends a message with it holds it: the manager that asks, and the agents that answer,
trap or inform with it (so one community across a fleet shows up as one secret on many
devices). Each sender and community is reported once per flow. SNMPv3 shows the USM user
name (its authentication is a keyed digest, nothing to fingerprint).

The first request (get, get-next, get-bulk, set, inform) of a sender's community or user on the
flow is its authentication attempt. The answer is the message of the other side with the same
request-id (v1/v2c) or msgID (v3, whose PDU may be encrypted): the sender's later requests with
the same credential (retries, the next OIDs of a walk) are paired too. A manager polling many
agents talks to each over a flow of its own, so each agent answers for itself.

* A Response is acceptance, unless its error-status is authorizationError (16: the v2c/v3
  access control refused it); an encrypted answer (authPriv) is a Response too: reports are
  never encrypted (noAuthNoPriv; authNoPriv for notInTimeWindows, RFC 3414 3.2 step 7a), and
  only the user's keys make one.
* A Report of a usmStats counter (RFC 3414 5) refuses it: unknownUserNames, wrongDigests,
  unsupportedSecLevels, decryptionErrors. Two are no verdict, but the discovery of a v3
  exchange: unknownEngineIDs (the engine was not known yet) and notInTimeWindows (its clock
  was not; the digest was checked before the time) are followed by a retry, whose answer
  answers the attempt; without one it stays unknown with that report as its code.
* No answer: v1/v2c agents drop a message with a wrong community silently (RFC 1157 4.1,
  RFC 3584 5.2.1), so a request never answered is recorded as unknown with the basis
  "no response" (never taken for a refusal: the datagram may be lost).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from ..ber import Ber
from ..flowid import Direction, FlowId
from ..records import CredentialSeen, Observation, Outcome, Proto, SecretKind
from ..secrets import EPHEMERAL, SecretHasher
from .base import Extractor, ParseError, secret_fields

PDU_NAMES = {
    0xA0: "get-request", 0xA1: "get-next-request", 0xA2: "response", 0xA3: "set-request", 0xA4: "trap",
    0xA5: "get-bulk-request", 0xA6: "inform-request", 0xA7: "snmpv2-trap", 0xA8: "report",
}
REQUESTS = frozenset({0xA0, 0xA1, 0xA3, 0xA5, 0xA6})
"""The confirmed-class PDUs: they are answered (RFC 3411 2.8)."""
RESPONSE, REPORT = 0xA2, 0xA8
PAIRED = REQUESTS | {RESPONSE, REPORT}
"""The PDUs paired by request-id: requests and their answers."""
ENCRYPTED_REQUEST = 0xA0
"""Stands for an encrypted request's PDU: which request it is stays hidden, only that it is one."""
VERSIONS = {0: "v1", 1: "v2c", 3: "v3"}
MAX_MESSAGES = 32
"""Messages of a flow looked at; a poller's later requests repeat the same community."""
ERROR_STATUS = {
    0: "noError", 1: "tooBig", 2: "noSuchName", 3: "badValue", 4: "readOnly", 5: "genErr", 6: "noAccess",
    7: "wrongType", 8: "wrongLength", 9: "wrongEncoding", 10: "wrongValue", 11: "noCreation",
    12: "inconsistentValue", 13: "resourceUnavailable", 14: "commitFailed", 15: "undoFailed",
    16: "authorizationError", 17: "notWritable", 18: "inconsistentName",
}
"""RFC 3416 3: a Response's error-status."""
AUTHORIZATION_ERROR = 16
FLAG_REPORTABLE = 0x04
"""msgFlags (RFC 3412 6.4): a confirmed-class PDU (a request) inside."""
USM_STATS = bytes([0x2B, 6, 1, 6, 3, 15, 1, 1])
"""1.3.6.1.6.3.15.1.1, usmStats (RFC 3414 5), encoded."""
REPORTS = {
    USM_STATS + b"\x01": ("usmStatsUnsupportedSecLevels", "security level not supported for the user", Outcome.FAILURE),
    USM_STATS + b"\x02": ("usmStatsNotInTimeWindows", "engine time not synchronised yet", None),
    USM_STATS + b"\x03": ("usmStatsUnknownUserNames", "unknown user name", Outcome.FAILURE),
    USM_STATS + b"\x04": ("usmStatsUnknownEngineIDs", "engine not discovered yet", None),
    USM_STATS + b"\x05": ("usmStatsWrongDigests", "wrong digest (authentication key)", Outcome.FAILURE),
    USM_STATS + b"\x06": ("usmStatsDecryptionErrors", "decryption failed (privacy key)", Outcome.FAILURE),
    bytes([0x2B, 6, 1, 6, 3, 11, 2, 1, 1]): ("snmpUnknownSecurityModels", "unknown security model", Outcome.UNKNOWN),
    bytes([0x2B, 6, 1, 6, 3, 11, 2, 1, 2]): ("snmpInvalidMsgs", "invalid message", Outcome.UNKNOWN),
    bytes([0x2B, 6, 1, 6, 3, 11, 2, 1, 3]): ("snmpUnknownPDUHandlers", "no application for the PDU", Outcome.UNKNOWN),
    bytes([0x2B, 6, 1, 6, 3, 12, 1, 4]): ("snmpUnavailableContexts", "context unavailable", Outcome.UNKNOWN),
    bytes([0x2B, 6, 1, 6, 3, 12, 1, 5]): ("snmpUnknownContexts", "unknown context", Outcome.UNKNOWN),
}
"""The counter a Report names (its first varbind, instance .0 dropped): its name, what it means,
and what it says of the credential; None: a discovery step, the manager retries."""
NO_RESPONSE = "no response"


class SnmpExtractor(Extractor):
    """The messages of one SNMP flow (UDP 161/162, or TCP with one message per read)."""

    name = "snmp"
    transports: ClassVar[frozenset[str]] = frozenset({"udp"})
    ports: ClassVar[frozenset[int]] = frozenset({161, 162})
    budget = 64 * 1024
    max_messages = MAX_MESSAGES

    def __init__(self, secrets: SecretHasher = EPHEMERAL) -> None:
        super().__init__(secrets)
        self._seen: dict[tuple[Direction, str], int | None] = {}
        """Each sender's credentials (community fingerprint or "user:" name) reported so far,
        with the attempt of the first request that presented it."""
        self._requests: dict[tuple[Direction, int], int] = {}
        """(requester, request-id or msgID) -> the attempt that request stands for."""
        self._discovery: dict[int, str] = {}
        """Attempts answered so far by a discovery report only (its counter's name)."""

    @staticmethod
    def probe(first: bytes) -> bool:
        """A SEQUENCE whose first element is INTEGER version 0, 1 or 3."""
        if len(first) < 5 or first[0] != 0x30:
            return False
        at = 2 + (first[1] & 0x7F if first[1] & 0x80 else 0)
        return first[at : at + 2] == b"\x02\x01" and first[at + 2 : at + 3] in (b"\x00", b"\x01", b"\x03")

    def parse(
        self, flow: FlowId, direction: Direction, ts: float, buf: bytes
    ) -> tuple[Sequence[Observation], int]:
        self.count_message()
        message = Ber(Ber(buf, "snmp").expect(0x30), "snmp")
        version = int.from_bytes(message.expect(0x02), "big")
        if version not in VERSIONS:
            raise ParseError("snmp_bad_version")
        if version == 3:
            return self._v3(flow, direction, ts, message), len(buf)
        fp = self.secrets.fingerprint(SecretKind.COMMUNITY, message.expect(0x04))
        tag, pdu = message.tlv()
        found: list[Observation] = []
        if (direction, fp.value) not in self._seen:
            attempt = self.attempt(Proto.SNMP) if tag in REQUESTS else None
            self._seen[direction, fp.value] = attempt
            found.append(CredentialSeen(
                ts=ts, flow=flow, protocol=Proto.SNMP, presenter=direction, username=None,
                **secret_fields(SecretKind.COMMUNITY, fp),
                mechanism=f"{VERSIONS[version]} {PDU_NAMES.get(tag, hex(tag))}", attempt=attempt))
        if tag in PAIRED:
            request_id, error_status, name = _pdu(Ber(pdu, "snmp"))
            found += self._exchange(flow, direction, ts, fp.value, tag, request_id, error_status, name)
        return found, len(buf)

    def _v3(self, flow: FlowId, direction: Direction, ts: float, message: Ber) -> list[Observation]:
        """msgGlobalData, the USM security parameters, then the scoped PDU: in clear (a SEQUENCE)
        or encrypted (an OCTET STRING)."""
        header = Ber(message.expect(0x30), "snmp")
        msg_id = int.from_bytes(header.expect(0x02), "big")
        header.expect(0x02)  # msgMaxSize
        flags = header.expect(0x04)[:1] or b"\x00"
        usm = Ber(Ber(message.expect(0x04), "snmp").expect(0x30), "snmp")
        usm.expect(0x04)  # msgAuthoritativeEngineID
        usm.expect(0x02)  # engine boots
        usm.expect(0x02)  # engine time
        user = usm.expect(0x04).decode("utf-8", "replace")
        data_tag, data = message.tlv()
        error_status, name = 0, b""
        if data_tag == 0x30:
            scoped = Ber(data, "snmp")
            scoped.expect(0x04)  # contextEngineID
            scoped.expect(0x04)  # contextName
            tag, pdu = scoped.tlv()
            if tag in PAIRED:
                _request_id, error_status, name = _pdu(Ber(pdu, "snmp"))  # paired by msgID
        elif data_tag == 0x04:  # encrypted: the flags tell a request from an answer
            tag = ENCRYPTED_REQUEST if flags[0] & FLAG_REPORTABLE else RESPONSE
        else:
            raise ParseError("snmp_unexpected_tag")
        found: list[Observation] = []
        key = "user:" + user
        if user and (direction, key) not in self._seen:  # discovery has no user yet
            attempt = self.attempt(Proto.SNMP) if tag in REQUESTS else None
            self._seen[direction, key] = attempt
            found.append(CredentialSeen(
                ts=ts, flow=flow, protocol=Proto.SNMP, presenter=direction, username=user,
                secret_kind=SecretKind.NONE, secret_fp=None, secret_hint=None, mechanism="v3 usm", attempt=attempt))
        return found + self._exchange(flow, direction, ts, key, tag, msg_id, error_status, name,
                                      encrypted=data_tag == 0x04)

    def _exchange(
        self, flow: FlowId, direction: Direction, ts: float, key: str, tag: int, request_id: int,
        error_status: int, name: bytes, *, encrypted: bool = False,
    ) -> list[Observation]:
        """A request joins its credential's attempt while that waits for its answer; an answer
        with the id of such a request answers it."""
        if tag in REQUESTS:
            attempt = self._seen.get((direction, key))
            if attempt is not None and any(n == attempt for n, _p in self.pending):
                if len(self._requests) >= MAX_MESSAGES:
                    del self._requests[next(iter(self._requests))]
                self._requests[direction, request_id] = attempt
            return []
        if tag not in (RESPONSE, REPORT):
            return []  # a trap
        requester = Direction.RESP if direction == Direction.ORIG else Direction.ORIG
        attempt = self._requests.pop((requester, request_id), None)
        if attempt is None:
            return []
        if tag == RESPONSE:
            if encrypted:
                return self.answer(flow, ts, Outcome.SUCCESS, attempt=attempt,
                                   basis="encrypted response (authPriv): reports are never encrypted")
            status = ERROR_STATUS.get(error_status, str(error_status))
            outcome = Outcome.FAILURE if error_status == AUTHORIZATION_ERROR else Outcome.SUCCESS
            return self.answer(flow, ts, outcome, status, attempt=attempt)
        counter, meaning, verdict = REPORTS.get(name, ("report", None, Outcome.UNKNOWN))
        if verdict is None:
            self._discovery[attempt] = counter
            return []
        return self.answer(flow, ts, verdict, counter, meaning, attempt=attempt, basis=None
                           if verdict == Outcome.FAILURE else "a report that says nothing of the credential")

    def close(self, flow: FlowId, ts: float) -> Sequence[Observation]:
        """Requests never answered: unknown, "no response" (or the discovery report that was
        their only answer)."""
        found: list[Observation] = []
        for attempt, _protocol in list(self.pending):
            report = self._discovery.get(attempt)
            basis = f"{NO_RESPONSE} after a {report} report (discovery)" if report else NO_RESPONSE
            found += self.answer(flow, ts, Outcome.UNKNOWN, report, basis=basis, attempt=attempt)
        return found


def _pdu(pdu: Ber) -> tuple[int, int, bytes]:
    """A PDU's request-id, error-status and the name of its first varbind (instance .0 dropped;
    empty when it has none): `PDU ::= SEQUENCE { request-id, error-status, error-index,
    variable-bindings }` (RFC 3416 3), the tag's SEQUENCE implicit."""
    request_id = int.from_bytes(pdu.expect(0x02), "big", signed=True)
    error_status = int.from_bytes(pdu.expect(0x02), "big")
    pdu.expect(0x02)  # error-index
    bindings = Ber(pdu.expect(0x30), "snmp")
    if not bindings.left:
        return request_id, error_status, b""
    name = Ber(bindings.expect(0x30), "snmp").expect(0x06)
    return request_id, error_status, name.removesuffix(b"\x00")
