"""SNMP as a network management station and its agents speak it: v1 and v2c with the
community in clear (RFC 1157, RFC 3416), traps, and v3 with the User-based Security Model
(RFC 3412, RFC 3414; HMAC-SHA-96 computed for real from the user's password). Each exchange
writes UDP datagrams into a capture and returns their frame numbers.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from .ber import der, der_int, der_oid, der_str
from .capture import Capture
from .flows import datagram, udp_exchange
from .link import Host

GET_REQUEST, GET_RESPONSE, SNMPV2_TRAP, REPORT = 0xA0, 0xA2, 0xA7, 0xA8
NULL, TIMETICKS = der(0x05), 0x43
SYS_DESCR, SYS_UPTIME, SYS_NAME = "1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.1.5.0"
SNMP_TRAP_OID = "1.3.6.1.6.3.1.1.4.1.0"


def snmp_pdu(tag: int, request_id: int, varbinds: Sequence[tuple[str, bytes]]) -> bytes:
    """A PDU: request-id, error-status 0, error-index 0, the variable bindings."""
    binds = b"".join(der(0x30, der_oid(oid), value) for oid, value in varbinds)
    return der(tag, der_int(request_id), der_int(0), der_int(0), der(0x30, binds))


def _asking(answers: Sequence[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """The variable bindings of the request those answers answer: the same OIDs, NULL values."""
    return [(oid, NULL) for oid, _ in answers]


def snmp_community_message(version: int, community: str, pdu: bytes) -> bytes:
    """An SNMPv1 (version 0) or v2c (1) message: the community in clear."""
    return der(0x30, der_int(version), der_str(community), pdu)


def snmp_get(cap: Capture, manager: Host, mport: int, agent: Host, at_ns: int, version: int, community: str,
             request_id: int, answers: Sequence[tuple[str, bytes]]) -> tuple[int, int]:
    """A manager's GetRequest and the agent's Response, both with the community; returns the frames."""
    request = snmp_community_message(version, community, snmp_pdu(GET_REQUEST, request_id, _asking(answers)))
    response = snmp_community_message(version, community, snmp_pdu(GET_RESPONSE, request_id, answers))
    return udp_exchange(cap, manager, mport, agent, 161, at_ns, request, response, reply_after_ns=1_800_000)


def snmp_trap(cap: Capture, agent: Host, aport: int, manager: Host, at_ns: int, community: str,
              request_id: int, uptime: int, trap_oid: str, varbinds: Sequence[tuple[str, bytes]]) -> int:
    """An SNMPv2-Trap (RFC 3416 4.2.6): sysUpTime.0 and snmpTrapOID.0 first; returns its frame."""
    binds = [(SYS_UPTIME, der_int(uptime, TIMETICKS)), (SNMP_TRAP_OID, der_oid(trap_oid)), *varbinds]
    message = snmp_community_message(1, community, snmp_pdu(SNMPV2_TRAP, request_id, binds))
    return datagram(cap, agent, aport, manager, 162, message, at_ns)


def usm_key(password: str, engine_id: bytes) -> bytes:
    """The SHA-1 authentication key of a USM user, localised to an engine (RFC 3414 A.2.2)."""
    stretched = (password.encode() * (1048576 // len(password) + 1))[:1048576]
    ku = hashlib.sha1(stretched).digest()
    return hashlib.sha1(ku + engine_id + ku).digest()


def snmp_v3_message(message_id: int, flags: int, engine_id: bytes, boots: int, engine_time: int, user: str,
                    pdu: bytes, auth_key: bytes | None = None) -> bytes:
    """An SNMPv3 message with the User-based Security Model (RFC 3412 6, RFC 3414 2.4); with
    `auth_key` authenticated by HMAC-SHA-96 over the whole message."""
    def build(auth_params: bytes) -> bytes:
        usm = der(0x30, der(0x04, engine_id), der_int(boots), der_int(engine_time), der_str(user),
                  der(0x04, auth_params), der(0x04))
        header = der(0x30, der_int(message_id), der_int(65507), der(0x04, bytes([flags])), der_int(3))
        scoped = der(0x30, der(0x04, engine_id), der(0x04), pdu)
        return der(0x30, der_int(3), header, der(0x04, usm), scoped)

    if auth_key is None:
        return build(b"")
    return build(hmac.new(auth_key, build(bytes(12)), hashlib.sha1).digest()[:12])


def snmp_v3_get(cap: Capture, manager: Host, mport: int, agent: Host, at_ns: int, user: str,
                auth_password: str, engine_id: bytes, request_id: int,
                answers: Sequence[tuple[str, bytes]]) -> tuple[int, int]:
    """Engine discovery (an empty user, reportable; the agent reports its engine id, boots and
    time), then an authenticated GetRequest and its Response, both naming the USM user;
    returns the frames of the last two."""
    boots, uptime = 12, 360512
    discovery = snmp_v3_message(request_id, 0x04, b"", 0, 0, "", snmp_pdu(GET_REQUEST, request_id, []))
    report = snmp_pdu(REPORT, request_id, [("1.3.6.1.6.3.15.1.1.4.0", der_int(1, 0x41))])  # usmStatsUnknownEngineIDs
    udp_exchange(cap, manager, mport, agent, 161, at_ns, discovery,
                 snmp_v3_message(request_id, 0x00, engine_id, boots, uptime, "", report), reply_after_ns=1_200_000)
    key = usm_key(auth_password, engine_id)
    get = snmp_pdu(GET_REQUEST, request_id + 1, _asking(answers))
    response = snmp_pdu(GET_RESPONSE, request_id + 1, answers)
    return udp_exchange(cap, manager, mport, agent, 161, at_ns + 3_000_000,
                        snmp_v3_message(request_id + 1, 0x05, engine_id, boots, uptime, user, get, key),
                        snmp_v3_message(request_id + 1, 0x01, engine_id, boots, uptime, user, response, key))
