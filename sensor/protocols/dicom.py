"""DICOM upper layer (PS3.8 section 9.3): who associates with whom, and how they prove it.

A-ASSOCIATE-RQ gives the calling and called AE titles (identities: one AE title on several
devices is a shared credential), the implementation class UID and version name, and the User
Identity Negotiation sub-item (PS3.7 D.3.3.7): a user name, a user name and passcode, a
Kerberos ticket, a SAML assertion or a JWT. The passcode and tokens are fingerprinted at once.
A-ASSOCIATE-AC and -RJ give the acceptor's view and the outcome. Then the association carries
datasets (P-DATA) full of patient data: the flow is done before any of it is read.

The request is the connection's authentication attempt (its AE titles and user identity), and
the acceptor's first answer its outcome: A-ASSOCIATE-AC accepted (a User Identity server
response sub-item, 0x59, noted when present: only its presence, it holds a ticket or an
assertion); A-ASSOCIATE-RJ refused, with result, source and reason as PS3.8 9.3.4 names them,
except the presentation layer's transient rejections (temporary congestion, local limit
exceeded: unknown, they say nothing of the identity); A-ABORT before an answer refused when the
acceptor sends it, unknown when the requestor gave up.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from typing import ClassVar

from ..flowid import Direction, FlowId
from ..jwt import token_claims
from ..records import CredentialSeen, DicomAssociation, Observation, Outcome, Proto, SecretKind
from ..wire import Reader
from .base import Extractor, ParseError, secret_fields

PDU_ASSOCIATE_RQ, PDU_ASSOCIATE_AC, PDU_ASSOCIATE_RJ, PDU_ABORT = 0x01, 0x02, 0x03, 0x07
PDU_TYPES = frozenset(range(0x01, 0x08))
MAX_PDU = 1 << 20
"""An association PDU with a SAML assertion stays far below this; a bigger one is corrupt."""
ITEM_USER_INFO = 0x50
SUB_IMPL_CLASS_UID, SUB_IMPL_VERSION, SUB_USER_IDENTITY, SUB_USER_IDENTITY_AC = 0x52, 0x55, 0x58, 0x59
IDENTITY_TYPES = {1: "username", 2: "username-passcode", 3: "kerberos", 4: "saml", 5: "jwt"}
REJECT_RESULTS = {1: "rejected-permanent", 2: "rejected-transient"}
REJECT_REASONS = {
    (1, 1): "no-reason-given", (1, 2): "application-context-name-not-supported",
    (1, 3): "calling-AE-title-not-recognized", (1, 7): "called-AE-title-not-recognized",
    (2, 1): "no-reason-given", (2, 2): "protocol-version-not-supported",
    (3, 1): "temporary-congestion", (3, 2): "local-limit-exceeded",
}
"""(source, reason) -> PS3.8 Table 9-21 name."""
REJECT_SOURCES = {1: "service-user", 2: "service-provider (ACSE)", 3: "service-provider (presentation)"}
TRANSIENT_SOURCE = 3
"""Rejections by the presentation layer: congestion or a local limit, not the identity."""
TRANSIENT = "transient rejection: says nothing of the identity"
ABORT_SOURCES = {0: "service-user", 2: "service-provider"}
ABORT_REASONS = {0: "reason-not-specified", 1: "unrecognized-PDU", 2: "unexpected-PDU", 4: "unrecognized-PDU-parameter",
                 5: "unexpected-PDU-parameter", 6: "invalid-PDU-parameter-value"}
"""PS3.8 Table 9-26: A-ABORT source and (service-provider) reason."""


class DicomExtractor(Extractor):
    """One DICOM association: its A-ASSOCIATE exchange. Done once the association is accepted
    or rejected, or data flows."""

    name = "dicom"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp"})
    ports: ClassVar[frozenset[int]] = frozenset({104, 11112})
    budget = MAX_PDU + 6

    @staticmethod
    def probe(first: bytes) -> bool:
        """An A-ASSOCIATE-RQ or -AC: PDU type, reserved 0, protocol version 1."""
        return len(first) >= 8 and first[0] in (PDU_ASSOCIATE_RQ, PDU_ASSOCIATE_AC) and first[1] == 0 \
            and first[6:8] == b"\x00\x01"

    def parse(
        self, flow: FlowId, direction: Direction, ts: float, buf: bytes
    ) -> tuple[Sequence[Observation], int]:
        if len(buf) < 6:
            return [], 0
        pdu_type, length = buf[0], struct.unpack_from(">I", buf, 2)[0]
        if pdu_type not in PDU_TYPES or length > MAX_PDU:
            raise ParseError("dicom_bad_pdu")
        if len(buf) < 6 + length:
            return [], 0
        body = buf[6 : 6 + length]
        if pdu_type == PDU_ASSOCIATE_RJ:
            return self._reject(flow, ts, body), 6 + length
        if pdu_type in (PDU_ASSOCIATE_RQ, PDU_ASSOCIATE_AC):
            return self._associate(flow, direction, ts, pdu_type, body), 6 + length
        self.done = True  # P-DATA (patient data), release or abort: never read
        if pdu_type == PDU_ABORT and self.pending:
            return self._abort(flow, direction, ts, body), 6 + length
        return [], 6 + length

    def _reject(self, flow: FlowId, ts: float, body: bytes) -> list[Observation]:
        if len(body) < 4:
            raise ParseError("dicom_truncated_pdu")
        result, source, reason = body[1], body[2], body[3]
        text = f"{REJECT_RESULTS.get(result, str(result))}: {REJECT_REASONS.get((source, reason), str(reason))}"
        self.done = True
        code = f"{result}/{source}/{reason}"
        said = f"{text} (source: {REJECT_SOURCES.get(source, str(source))})"
        if source == TRANSIENT_SOURCE:
            outcome = self.answer(flow, ts, Outcome.UNKNOWN, code, said, basis=TRANSIENT)
        else:
            outcome = self.answer(flow, ts, Outcome.FAILURE, code, said)
        return [DicomAssociation(ts=ts, flow=flow, protocol=Proto.DICOM, pdu="reject", calling_ae="", called_ae="",
                                 implementation_class_uid=None, implementation_version=None, result=text), *outcome]

    def _abort(self, flow: FlowId, direction: Direction, ts: float, body: bytes) -> list[Observation]:
        """A-ABORT before the association was answered (PS3.8 9.3.8: reserved, reserved, source,
        reason/diag)."""
        if len(body) < 4:
            raise ParseError("dicom_truncated_pdu")
        source, reason = body[2], body[3]
        code = f"abort/{source}/{reason}"
        said = f"A-ABORT by the {ABORT_SOURCES.get(source, str(source))}: {ABORT_REASONS.get(reason, str(reason))}"
        if direction == Direction.ORIG:
            return self.answer(flow, ts, Outcome.UNKNOWN, code, said, basis="the requestor aborted before an answer")
        return self.answer(flow, ts, Outcome.FAILURE, code, said)

    def _associate(
        self, flow: FlowId, direction: Direction, ts: float, pdu_type: int, body: bytes
    ) -> list[Observation]:
        if len(body) < 68:
            raise ParseError("dicom_truncated_pdu")
        called, calling = _ae(body[4:20]), _ae(body[20:36])
        sub = _user_info(body[68:])
        impl_uid = _text(sub.get(SUB_IMPL_CLASS_UID))
        version = _text(sub.get(SUB_IMPL_VERSION))
        out: list[Observation] = []
        identity_type, attempt = None, None
        if pdu_type == PDU_ASSOCIATE_RQ:
            attempt = self.attempt(Proto.DICOM)
            if SUB_USER_IDENTITY in sub:
                out.append(self._user_identity(flow, direction, ts, sub[SUB_USER_IDENTITY], attempt))
                identity_type = IDENTITY_TYPES.get(sub[SUB_USER_IDENTITY][0], str(sub[SUB_USER_IDENTITY][0]))
        else:
            self.done = True
            confirmed = "; user identity server response present" if SUB_USER_IDENTITY_AC in sub else ""
            out += self.answer(flow, ts, Outcome.SUCCESS, reason=f"A-ASSOCIATE-AC{confirmed}")
        association = DicomAssociation(
            ts=ts, flow=flow, protocol=Proto.DICOM, pdu="request" if pdu_type == PDU_ASSOCIATE_RQ else "accept",
            calling_ae=calling, called_ae=called, implementation_class_uid=impl_uid,
            implementation_version=version, user_identity_type=identity_type,
            result="accepted" if pdu_type == PDU_ASSOCIATE_AC else None, attempt=attempt)
        return [association, *out]

    def _user_identity(
        self, flow: FlowId, direction: Direction, ts: float, item: bytes, attempt: int,
    ) -> CredentialSeen:
        """PS3.7 D.3.3.7.1: type, positive-response-requested, primary field, secondary field."""
        r = Reader(item, "dicom_bad_user_identity")
        kind = r.uint(1)
        r.take(1)  # positive-response-requested
        primary = r.vector(2)
        secondary = r.vector(2) if kind == 2 else b""
        mechanism = f"user-identity-{IDENTITY_TYPES.get(kind, str(kind))}"
        if kind in (1, 2):
            user = primary.decode("utf-8", "replace")
            fp = self.secrets.fingerprint(SecretKind.PASSCODE, secondary) if kind == 2 else None
            return CredentialSeen(
                ts=ts, flow=flow, protocol=Proto.DICOM, presenter=direction, username=user,
                **secret_fields(SecretKind.PASSCODE if fp else SecretKind.NONE, fp), mechanism=mechanism,
                attempt=attempt)
        fp = self.secrets.fingerprint(SecretKind.TOKEN, primary)
        claims = token_claims(primary) if kind == 5 else None
        return CredentialSeen(
            ts=ts, flow=flow, protocol=Proto.DICOM, presenter=direction, username=claims.sub if claims else None,
            **secret_fields(SecretKind.TOKEN, fp), mechanism=mechanism, token=claims, attempt=attempt)


def _ae(raw: bytes) -> str:
    """An AE title: 16 bytes, space padded (leading spaces are not significant either)."""
    return raw.decode("ascii", "replace").strip(" \x00")


def _text(raw: bytes | None) -> str | None:
    return raw.decode("ascii", "replace").rstrip(" \x00") if raw is not None else None


def _user_info(items: bytes) -> dict[int, bytes]:
    """The sub-items of the User Information item, the first of each type (other items are skipped:
    unknown is not invalid)."""
    for item_type, value in _items(items):
        if item_type == ITEM_USER_INFO:
            sub: dict[int, bytes] = {}
            for sub_type, sub_value in _items(value):
                sub.setdefault(sub_type, sub_value)
            return sub
    return {}


def _items(data: bytes) -> Iterator[tuple[int, bytes]]:
    """The (type, value) of each item or sub-item in turn (PS3.8 9.3.2: type, reserved, a 2-byte
    length, the value); fewer than four bytes left end the walk."""
    r = Reader(data, "dicom_bad_item")
    while r.left >= 4:
        item_type = r.uint(1)
        r.take(1)  # reserved
        yield item_type, r.vector(2)
