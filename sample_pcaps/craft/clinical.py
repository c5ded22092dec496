"""The clinical protocols: the DICOM upper layer (PS3.8 9.3: associations with User Identity
Negotiation, PS3.7 D.3.3.7; P-DATA; release) and HL7 v2 over MLLP.

Conversations take a connected `TcpFlow` (handshake done; closing is the caller's) and return
the stream offsets just past the messages that carry identities.
"""

from __future__ import annotations

import struct

from .flows import TcpFlow

APPLICATION_CONTEXT = "1.2.840.10008.3.1.1.1"
"""The DICOM application context name."""
CT_IMAGE_STORAGE, EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.1.2.1"
DCMTK_UID, DCMTK_VERSION = "1.2.276.0.7230010.3.0.3.6.8", "OFFIS_DCMTK_368"
"""The implementation class UID and version name of DCMTK 3.6.8 (`dcmtk_associate`)."""
ASSOCIATE_RQ, ASSOCIATE_AC, ASSOCIATE_RJ, P_DATA_TF = 0x01, 0x02, 0x03, 0x04
ITEM_APPLICATION_CONTEXT, ITEM_CONTEXT_RQ, ITEM_CONTEXT_AC = 0x10, 0x20, 0x21
ITEM_ABSTRACT_SYNTAX, ITEM_TRANSFER_SYNTAX, ITEM_USER_INFO = 0x30, 0x40, 0x50
SUB_MAX_LENGTH, SUB_IMPLEMENTATION_UID, SUB_IMPLEMENTATION_VERSION = 0x51, 0x52, 0x55
SUB_USER_IDENTITY, SUB_USER_IDENTITY_AC = 0x58, 0x59
IDENTITY_USERNAME, IDENTITY_PASSCODE, IDENTITY_KERBEROS, IDENTITY_SAML, IDENTITY_JWT = 1, 2, 3, 4, 5
REJECT_PERMANENT, SOURCE_SERVICE_USER, REASON_CALLING_AE_NOT_RECOGNIZED = 1, 1, 3
RELEASE_RQ = bytes([0x05, 0, 0, 0, 0, 4, 0, 0, 0, 0])
RELEASE_RP = bytes([0x06, 0, 0, 0, 0, 4, 0, 0, 0, 0])


def item(kind: int, value: bytes) -> bytes:
    """One item or sub-item (PS3.8 9.3.2): type, reserved, 16-bit length, value."""
    return struct.pack(">BBH", kind, 0, len(value)) + value


def even_uid(uid: str) -> bytes:
    """A UID padded with NUL to an even length, as some stacks write them in association items too."""
    return uid.encode() + b"\x00" * (len(uid) % 2)


def user_information(max_length: int, implementation_uid: str, implementation_version: str,
                     extra: bytes = b"") -> bytes:
    """The User Information item: maximum PDU length, implementation class UID and version
    name, then any `extra` sub-items (a user identity)."""
    return item(ITEM_USER_INFO, item(SUB_MAX_LENGTH, struct.pack(">I", max_length))
                + item(SUB_IMPLEMENTATION_UID, implementation_uid.encode())
                + item(SUB_IMPLEMENTATION_VERSION, implementation_version.encode()) + extra)


def associate_pdu(pdu_type: int, calling: str, called: str, context: bytes, user_info: bytes,
                  application_context: bytes = APPLICATION_CONTEXT.encode()) -> bytes:
    """An A-ASSOCIATE-RQ or -AC (PS3.8 9.3.2, 9.3.3): protocol version 1, the AE titles, the
    application context, one presentation context item and the User Information item."""
    body = (struct.pack(">HH", 1, 0) + called.encode().ljust(16) + calling.encode().ljust(16) + bytes(32)
            + item(ITEM_APPLICATION_CONTEXT, application_context) + context + user_info)
    return struct.pack(">BBI", pdu_type, 0, len(body)) + body


def dcmtk_associate(pdu_type: int, calling: str, called: str, extra_user_info: bytes = b"") -> bytes:
    """The A-ASSOCIATE-RQ or -AC of a DCMTK modality and its peer: one CT Image Storage
    presentation context (explicit VR little endian), DCMTK's user information and any
    `extra_user_info` sub-items (`user_identity`, `identity_response`)."""
    context = (b"\x01\x00\x00\x00" + item(ITEM_ABSTRACT_SYNTAX, CT_IMAGE_STORAGE.encode())
               + item(ITEM_TRANSFER_SYNTAX, EXPLICIT_VR_LITTLE_ENDIAN.encode()))
    return associate_pdu(pdu_type, calling, called,
                         item(ITEM_CONTEXT_RQ if pdu_type == ASSOCIATE_RQ else ITEM_CONTEXT_AC, context),
                         user_information(16384, DCMTK_UID, DCMTK_VERSION, extra_user_info))


def user_identity(kind: int, primary: bytes, secondary: bytes = b"", response_requested: bool = False) -> bytes:
    """A User Identity Negotiation sub-item of an A-ASSOCIATE-RQ (PS3.7 D.3.3.7.1): type,
    positive-response-requested, primary field (user name, Kerberos ticket, SAML assertion or
    JWT) and secondary field (the passcode of type 2, else empty)."""
    value = (struct.pack(">BBH", kind, response_requested, len(primary)) + primary
             + struct.pack(">H", len(secondary)) + secondary)
    return struct.pack(">BBH", SUB_USER_IDENTITY, 0, len(value)) + value


def identity_response(response: bytes) -> bytes:
    """The acceptor's User Identity sub-item of an A-ASSOCIATE-AC (PS3.7 D.3.3.7.2)."""
    value = struct.pack(">H", len(response)) + response
    return struct.pack(">BBH", SUB_USER_IDENTITY_AC, 0, len(value)) + value


def dicom_reject(result: int, source: int, reason: int) -> bytes:
    """An A-ASSOCIATE-RJ PDU (PS3.8 9.3.4)."""
    return struct.pack(">BBIBBBB", ASSOCIATE_RJ, 0, 4, 0, result, source, reason)


def p_data_tf(data: bytes, context_id: int = 1, control: int = 0) -> bytes:
    """A P-DATA-TF PDU (PS3.8 9.3.5) holding one presentation data value: its context and
    message control header (0: a dataset fragment, not the last), then `data`."""
    return struct.pack(">BBI", P_DATA_TF, 0, len(data) + 6) + struct.pack(">IBB", len(data) + 2, context_id,
                                                                          control) + data


def dicom_association(flow: TcpFlow, calling: str, called: str, identity: bytes = b"", reject: bytes | None = None,
                      server_response: bytes = b"", dataset: bytes | None = None) -> tuple[int, int]:
    """A-ASSOCIATE-RQ (with a User Identity sub-item if given), then the acceptor's
    A-ASSOCIATE-AC (with its identity response if given), a P-DATA-TF of `dataset` if given
    and an A-RELEASE, or the `reject`; returns the offsets past the request and past the answer."""
    request = dcmtk_associate(ASSOCIATE_RQ, calling, called, identity)
    rq_end = flow.send("c", request) + len(request)
    answer = reject or dcmtk_associate(ASSOCIATE_AC, calling, called, server_response)
    answer_end = flow.send("s", answer) + len(answer)
    if reject is None:
        if dataset is not None:
            flow.send("c", p_data_tf(dataset))
        flow.send("c", RELEASE_RQ)
        flow.send("s", RELEASE_RP)
    return rq_end, answer_end


def mllp(message: str) -> bytes:
    """One HL7 message in its MLLP frame (start block 0x0B, end block 0x1C 0x0D)."""
    return b"\x0b" + message.encode() + b"\x1c\r"


def hl7_exchange(flow: TcpFlow, message: str, ack: str) -> tuple[int, int]:
    """A message and its acknowledgement over MLLP; returns the offsets past each MSH segment."""
    start = flow.send("c", mllp(message))
    ack_start = flow.send("s", mllp(ack))
    return start + 1 + message.index("\r"), ack_start + 1 + ack.index("\r")
