"""ASN.1 BER, definite lengths (X.690): what SNMP, LDAP, Kerberos and SPNEGO are made of."""

from __future__ import annotations


def der(tag: int, *parts: bytes) -> bytes:
    """One TLV, definite length (short or long form), around the concatenated parts."""
    body = b"".join(parts)
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + body


def der_int(n: int, tag: int = 0x02) -> bytes:
    """An INTEGER (or an application type built on it), minimal two's complement."""
    return der(tag, n.to_bytes(n.bit_length() // 8 + 1, "big", signed=True))


def der_oid(dotted: str) -> bytes:
    """An OBJECT IDENTIFIER."""
    first, second, *rest = (int(x) for x in dotted.split("."))
    out = bytearray([40 * first + second])
    for arc in rest:
        chunk = [arc & 0x7F]
        while arc > 0x7F:
            arc >>= 7
            chunk.append(0x80 | (arc & 0x7F))
        out += bytes(reversed(chunk))
    return der(0x06, bytes(out))


def der_str(text: str, tag: int = 0x04) -> bytes:
    """An OCTET STRING (or GeneralString 0x1B, ...) of UTF-8 text."""
    return der(tag, text.encode())

