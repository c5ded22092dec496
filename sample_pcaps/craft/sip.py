"""SIP registrations (RFC 3261): a phone's REGISTER, the PBX's Digest challenge and the
answer computed from the password, over UDP or TCP."""

from __future__ import annotations

from collections.abc import Sequence

from .capture import Capture
from .fixed import fixed_bytes
from .flows import TcpFlow, udp_exchange
from .link import Host
from .web import digest_header


def sip_register_messages(label: str, transport: str, phone: Host, pport: int, pbx: Host, user: str, realm: str,
                          password: str, user_agent: str) -> tuple[bytes, bytes, bytes, bytes]:
    """A phone's registration: REGISTER, 401 with a Digest challenge, REGISTER with the
    Authorization (the MD5 response computed from the password), 200 OK."""
    tag, call_id = fixed_bytes(label + "/tag", 4).hex(), fixed_bytes(label + "/call-id", 12).hex()
    nonce = fixed_bytes(label + "/nonce", 16).hex()
    uri = f"sip:{realm}"

    def register(cseq: int, auth: Sequence[str]) -> bytes:
        branch = fixed_bytes(f"{label}/branch{cseq}", 6).hex()
        lines = [f"REGISTER {uri} SIP/2.0", f"Via: SIP/2.0/{transport} {phone.ip}:{pport};branch=z9hG4bK{branch};rport",
                 "Max-Forwards: 70", f"From: <sip:{user}@{realm}>;tag={tag}", f"To: <sip:{user}@{realm}>",
                 f"Call-ID: {call_id}@{phone.ip}", f"CSeq: {cseq} REGISTER",
                 f"Contact: <sip:{user}@{phone.ip}:{pport};transport={transport.lower()}>", *auth, "Expires: 3600",
                 f"User-Agent: {user_agent}", "Content-Length: 0"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def reply(request: bytes, status: str, extra: Sequence[str]) -> bytes:
        head = request.decode().split("\r\n")
        via, from_, to, cid, cseq = head[1], head[3], head[4], head[5], head[6]
        lines = [f"SIP/2.0 {status}", f"{via.replace(';rport', f';received={phone.ip};rport={pport}')}", from_,
                 f"{to};tag=as{fixed_bytes(label + '/to-tag', 4).hex()}", cid, cseq, *extra,
                 "Server: Asterisk PBX 18.20.0", "Content-Length: 0"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    first = register(1, [])
    challenge = reply(first, "401 Unauthorized", [f'WWW-Authenticate: Digest algorithm=MD5, realm="{realm}", '
                                                  f'nonce="{nonce}", qop="auth"'])
    second = register(2, ["Authorization: " + digest_header(label, user, realm, password, "REGISTER", uri, nonce)])
    contact = f"Contact: <sip:{user}@{phone.ip}:{pport};transport={transport.lower()}>;expires=3600"
    done = reply(second, "200 OK", [contact])
    return first, challenge, second, done


def sip_register(flow: TcpFlow, user: str, realm: str, password: str, user_agent: str) -> int:
    """A registration over TCP (RFC 3261 18.3: framed by Content-Length); returns the offset
    past the REGISTER with the Authorization."""
    first, challenge, second, done = sip_register_messages(flow.flow_id, "TCP", flow.hosts["c"], flow.ports["c"],
                                                           flow.hosts["s"], user, realm, password, user_agent)
    flow.send("c", first)
    flow.send("s", challenge)
    end = flow.send("c", second) + len(second)
    flow.send("s", done)
    return end


def sip_register_udp(cap: Capture, phone: Host, pport: int, pbx: Host, at_ns: int, user: str, realm: str,
                     password: str, user_agent: str) -> int:
    """A registration over UDP 5060; returns the frame of the REGISTER with the Authorization."""
    first, challenge, second, done = sip_register_messages(f"sip/{phone.ip}:{pport}", "UDP", phone, pport, pbx, user,
                                                           realm, password, user_agent)
    udp_exchange(cap, phone, pport, pbx, 5060, at_ns, first, challenge)
    return udp_exchange(cap, phone, pport, pbx, 5060, at_ns + 40_000_000, second, done)[0]

