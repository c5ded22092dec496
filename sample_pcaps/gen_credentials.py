#!/usr/bin/env python3
"""Write one small capture per credential protocol, and what each planted: `sample_pcaps/credentials/`.

    python sample_pcaps/gen_credentials.py [--out DIR]

Each capture shows how the devices of a hospital network present one protocol's credentials,
the way real implementations put them on the wire (the RFC's message shapes, a server's
challenge before the answer, keep-alive connections, one keystroke per segment...), and
`<capture>.expected.json` lists every credential planted: protocol, endpoints, presenter,
user, secret kind, the raw secret (`password`, `token`, `community`, `passcode` or `secret`:
the leak test searches every output for them), mechanism and notes in trustwatch's
vocabulary, and the frame in which the message carrying it is complete. Challenge responses
(Digest, APOP, CRAM-MD5, SIP, the SNMPv3 HMAC) are computed for real from a planted password,
listed under `password` although it never crosses the wire (kind "hash"; "none" for SNMPv3,
which shows only its user). DICOM associations and HL7 headers are listed beside; the
made-up patient of the HL7 results is listed under `patients`. The facts are the generator's
own inputs, never read back from trustwatch.

Each conversation is a function of its own that the hospital scenario can reuse: TCP ones
take a connected `craft.TcpFlow` (after its handshake; closing is the caller's) and return
the stream offset just past the message that carries the credential; UDP ones take the
hosts, a capture and a time and return the frame numbers they wrote.
Deterministic: same bytes on every run (fixed randoms, timestamps and ports).
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import struct
import sys
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import craft as C  # noqa: E402
import generate as G  # noqa: E402

T0 = C.epoch_ns(C.utc(2025, 3, 12, 8, 0, 0))
"""Every capture starts at 08:00 UTC; each conversation ten seconds after the one before."""
STEP_NS = 10_000_000_000


def server(label: str, ip: str) -> C.Host:
    """A data-centre server: routed, so the clinical VLAN sees it behind the core router's MAC."""
    return G.host(label, G.ROUTER_MAC, ip, ttl=63)


def b64(data: bytes | str) -> str:
    """Standard base64 of bytes or UTF-8 text."""
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def md5_hex(text: str) -> str:
    """MD5 of UTF-8 text, lower-case hex (Digest and APOP are defined on it)."""
    return hashlib.md5(text.encode()).hexdigest()


def filetime(ns: int) -> bytes:
    """A Windows FILETIME (100 ns units since 1601), little-endian, as NTLM and SMB carry it."""
    return struct.pack("<Q", ns // 100 + 116444736000000000)


# --------------------------------------------------------------------------------------
# what a capture planted
# --------------------------------------------------------------------------------------

SECRET_KEYS = {"password": "password", "token": "token", "api-key": "secret", "community": "community",
               "passcode": "passcode", "hash": "password", "none": "password"}
"""Under which key expected.json holds a kind's raw secret (for kinds "hash" and "none": the
password a challenge response was computed from, which never crosses the wire)."""


def credential(protocol: str, user: str | None, kind: str, mechanism: str, secret: str | bytes | None = None, *,
               domain: str | None = None, host: str | None = None, notes: Sequence[str] = (),
               claims: dict[str, Any] | None = None) -> dict[str, Any]:
    """One planted credential, as expected.json lists it (endpoints and frame added by `Sample`);
    a binary secret is written in hex under `<key>_hex`."""
    fact: dict[str, Any] = {"protocol": protocol, "user": user, "domain": domain, "host": host, "secret_kind": kind}
    if isinstance(secret, bytes):
        fact[SECRET_KEYS[kind] + "_hex"] = secret.hex()
    elif secret is not None:
        fact[SECRET_KEYS[kind]] = secret
    fact |= {"mechanism": mechanism, "notes": list(notes)}
    if claims is not None:
        fact["claims"] = claims
    return fact


class Sample:
    """One capture being written: its packets, its clock, and what was planted in it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.cap = C.Capture()
        self.step = 0
        self.port = 49731
        self.credentials: list[dict[str, Any]] = []
        self.associations: list[dict[str, Any]] = []
        self.hl7_messages: list[dict[str, Any]] = []
        self.patients: list[str] = []

    def at(self) -> int:
        """The time of the next conversation."""
        self.step += 1
        return T0 + self.step * STEP_NS

    def next_port(self) -> int:
        """The next ephemeral client port."""
        self.port += 7
        return self.port

    def connect(self, client: C.Host, srv: C.Host, port: int) -> C.TcpFlow:
        """A new TCP connection (three-way handshake done) at the next conversation's time."""
        start = self.at()
        flow = G._flow(self.cap, C.Link(), client, self.next_port(), srv, port, f"{self.name}/{self.step}", start)
        flow.handshake()
        return flow

    def located(self, flow: C.TcpFlow, d: str, end: int) -> dict[str, Any]:
        """The endpoint facts of a message of `flow` sent by side `d`, complete at its stream offset `end`."""
        frame = self.cap.completion_frame(flow.flow_id, d, end)
        return self.where(flow.hosts["c"], flow.ports["c"], flow.hosts["s"], flow.ports["s"], d, frame)

    def plant(self, flow: C.TcpFlow, end: int, fact: dict[str, Any]) -> None:
        """A credential the client of `flow` presents, complete at stream offset `end`."""
        self.credentials.append(self.located(flow, "c", end) | fact)

    def plant_udp(self, client: C.Host, cport: int, srv: C.Host, sport: int, frame: int, fact: dict[str, Any],
                  presenter: str = "c") -> None:
        """A credential of a UDP flow (`client` sent its first datagram), carried by `frame`."""
        self.credentials.append(self.where(client, cport, srv, sport, presenter, frame) | fact)

    @staticmethod
    def where(client: C.Host, cport: int, srv: C.Host, sport: int, presenter: str, frame: int) -> dict[str, Any]:
        """The endpoint facts of a planted record: who talked to whom, which side, which frame."""
        return {"client": f"{client.ip}:{cport}", "server": f"{srv.ip}:{sport}", "client_mac": client.mac,
                "server_mac": srv.mac, "presenter": "client" if presenter == "c" else "server", "frame": frame}


def datagram(cap: C.Capture, src: C.Host, sport: int, dst: C.Host, dport: int, payload: bytes, at_ns: int) -> int:
    """One UDP datagram on Ethernet; returns its frame number."""
    return cap.add(C.Packet(at_ns, C.udp_frame(C.Link(), src, sport, dst, dport, payload)))


def say(flow: C.TcpFlow, d: str, *lines: str | bytes) -> int:
    """Lines of a text protocol, CRLF-terminated, in one segment from side `d` ("c" or "s");
    returns the stream offset just past them."""
    flow.send(d, b"".join((line.encode() if isinstance(line, str) else line) + b"\r\n" for line in lines))
    return flow.sent[d]


def commands(flow: C.TcpFlow, *pairs: tuple[str, str | Sequence[str]]) -> None:
    """Client command lines, each answered by the server (with one line or several)."""
    for command, reply in pairs:
        say(flow, "c", command)
        say(flow, "s", *([reply] if isinstance(reply, str) else reply))


def utc_text(ns: int, layout: str) -> str:
    """A packet time as text, UTC, whole seconds (`layout` for strftime)."""
    return dt.datetime.fromtimestamp(ns // 1_000_000_000, dt.UTC).strftime(layout)


# --------------------------------------------------------------------------------------
# ASN.1 BER (SNMP, LDAP, Kerberos, SPNEGO)
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# NTLM (MS-NLMP 2.2.1) and SPNEGO (RFC 4178): shared by HTTP and SMB
# --------------------------------------------------------------------------------------

NTLM_VERSION = bytes([10, 0]) + struct.pack("<H", 19041) + b"\x00\x00\x00\x0f"
"""Windows 10 build 19041, NTLMSSP revision 15."""
NTLM_NEGOTIATE_FLAGS = 0xE2088297
"""What Windows 10 offers: 56/128-bit, key exchange, version, extended session security,
always sign, NTLM, seal, sign, request target, OEM and Unicode."""
NTLM_CHALLENGE_FLAGS = 0xE28A8215
AV_EOL, AV_NB_COMPUTER, AV_NB_DOMAIN, AV_DNS_COMPUTER, AV_DNS_DOMAIN, AV_DNS_TREE = 0, 1, 2, 3, 4, 5
AV_FLAGS, AV_TIMESTAMP, AV_TARGET_NAME, AV_CHANNEL_BINDINGS = 6, 7, 9, 10


def utf16(text: str) -> bytes:
    """UTF-16LE, as NTLM and SMB write names."""
    return text.encode("utf-16-le")


def av_pairs(pairs: Sequence[tuple[int, bytes]]) -> bytes:
    """An AV_PAIR list (MS-NLMP 2.2.2.1), MsvAvEOL appended."""
    return b"".join(struct.pack("<HH", k, len(v)) + v for k, v in [*pairs, (AV_EOL, b"")])


def ntlm_messages(label: str, *, user: str, domain: str, workstation: str, server_name: str, dns_domain: str,
                  spn: str, at_ns: int) -> tuple[bytes, bytes, bytes]:
    """NEGOTIATE, CHALLENGE and AUTHENTICATE (NTLMv2) of one logon, as Windows 10 sends them.

    The NTProofStr is random-looking bytes: computing it needs MD4, which hashlib no longer
    has; nothing on the wire tells the difference without the password."""
    negotiate = b"NTLMSSP\x00" + struct.pack("<II", 1, NTLM_NEGOTIATE_FLAGS) + bytes(16) + NTLM_VERSION
    nb_domain = domain.upper()
    target_info = [(AV_NB_DOMAIN, utf16(nb_domain)), (AV_NB_COMPUTER, utf16(server_name.upper())),
                   (AV_DNS_DOMAIN, utf16(dns_domain)), (AV_DNS_COMPUTER, utf16(f"{server_name}.{dns_domain}")),
                   (AV_DNS_TREE, utf16(dns_domain)), (AV_TIMESTAMP, filetime(at_ns))]
    name, info = utf16(nb_domain), av_pairs(target_info)
    challenge = (b"NTLMSSP\x00" + struct.pack("<IHHII", 2, len(name), len(name), 56, NTLM_CHALLENGE_FLAGS)
                 + C.fixed_bytes(label + "/server-challenge", 8) + bytes(8)
                 + struct.pack("<HHI", len(info), len(info), 56 + len(name)) + NTLM_VERSION + name + info)
    client_info = av_pairs([*target_info, (AV_FLAGS, struct.pack("<I", 2)), (AV_CHANNEL_BINDINGS, bytes(16)),
                            (AV_TARGET_NAME, utf16(spn))])
    blob = (b"\x01\x01" + bytes(6) + filetime(at_ns) + C.fixed_bytes(label + "/client-challenge", 8) + bytes(4)
            + client_info + bytes(4))
    nt_response = C.fixed_bytes(label + "/ntproofstr", 16) + blob
    payload = [utf16(domain), utf16(user), utf16(workstation), bytes(24), nt_response,
               C.fixed_bytes(label + "/session-key", 16)]
    fields = b""
    for order in (3, 4, 0, 1, 2, 5):  # LM, NT, domain, user, workstation, session key; payload in Windows' order
        offset = 88 + sum(len(p) for p in payload[:order])  # after the header, its version and MIC
        fields += struct.pack("<HHI", len(payload[order]), len(payload[order]), offset)
    authenticate = (b"NTLMSSP\x00" + struct.pack("<I", 3) + fields + struct.pack("<I", NTLM_NEGOTIATE_FLAGS)
                    + NTLM_VERSION + C.fixed_bytes(label + "/mic", 16) + b"".join(payload))
    return negotiate, challenge, authenticate


def ntlm_signature(label: str, sequence: int) -> bytes:
    """An NTLMSSP_MESSAGE_SIGNATURE (MS-NLMP 2.2.2.9.1), as SPNEGO's mechListMIC carries it:
    version 1, the checksum (random-looking: no session key behind it), the sequence number."""
    return struct.pack("<I", 1) + C.fixed_bytes(label, 8) + struct.pack("<I", sequence)


SPNEGO = der_oid("1.3.6.1.5.5.2")
NTLMSSP = der_oid("1.3.6.1.4.1.311.2.2.10")
KERBEROS_MS, KERBEROS_V5 = der_oid("1.2.840.48018.1.2.2"), der_oid("1.2.840.113554.1.2.2")


def spnego_init(mechanisms: Sequence[bytes], token: bytes | None = None, hint: str | None = None) -> bytes:
    """A GSS-API InitialContextToken holding a NegTokenInit: the client's first token (with
    its mechanism token), or the server's advertisement in an SMB2 NEGOTIATE response (with
    the RFC 4178 "please ignore" hint)."""
    fields = der(0xA0, der(0x30, *mechanisms))
    if token is not None:
        fields += der(0xA2, der(0x04, token))
    if hint is not None:
        fields += der(0xA3, der(0x30, der(0xA0, der_str(hint, 0x1B))))
    return der(0x60, SPNEGO, der(0xA0, der(0x30, fields)))


def spnego_response(state: int | None, token: bytes | None = None, mech: bytes | None = None,
                    mic: bytes | None = None) -> bytes:
    """A NegTokenResp: negState (0 accept-completed, 1 accept-incomplete), supportedMech,
    responseToken, mechListMIC."""
    fields = der(0xA0, der(0x0A, bytes([state]))) if state is not None else b""
    if mech is not None:
        fields += der(0xA1, mech)
    if token is not None:
        fields += der(0xA2, der(0x04, token))
    if mic is not None:
        fields += der(0xA3, der(0x04, mic))
    return der(0xA1, der(0x30, fields))


# --------------------------------------------------------------------------------------
# HTTP/1.1 (RFC 9110 11, RFC 7617 Basic, RFC 7616 Digest, RFC 6750 Bearer, RFC 4559 NTLM)
# --------------------------------------------------------------------------------------

Headers = Sequence[tuple[str, str]]
BROWSER = (("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                          "Chrome/122.0.0.0 Safari/537.36 Edg/122.0.0.0"),
           ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
           ("Accept-Encoding", "gzip, deflate"), ("Accept-Language", "en-US,en;q=0.9"), ("Connection", "keep-alive"))
"""What a clinical workstation's browser sends with every request."""


def http_request(method: str, target: str, host: str, headers: Headers, body: bytes = b"") -> bytes:
    """A request: request line, Host, the headers, Content-Length when there is a body."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", *(f"{k}: {v}" for k, v in headers)]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def http_response(status: str, headers: Headers = (), body: bytes = b"") -> bytes:
    """A keep-alive response: status line, the headers, Content-Length, the body."""
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers), f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def http_call(flow: C.TcpFlow, request: bytes, response: bytes) -> int:
    """One request and its response on a (keep-alive) connection; returns the offset just past
    the request's header block (where its credentials are complete)."""
    start = flow.sent["c"]
    flow.send("c", request)
    flow.send("s", response)
    return start + request.index(b"\r\n\r\n") + 4


def page(title: str) -> bytes:
    """A small HTML page a device's web server answers with."""
    return f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>\n".encode()


def http_basic(flow: C.TcpFlow, host: str, realm: str, user: str, password: str, targets: Sequence[str]) -> int:
    """A browser on a device's web UI over one keep-alive connection: the first GET is refused
    with a Basic challenge (RFC 7617), then every request carries the user and password."""
    http_call(flow, http_request("GET", targets[0], host, BROWSER),
              http_response("401 Unauthorized", [("WWW-Authenticate", f'Basic realm="{realm}"'),
                                                 ("Content-Type", "text/html")], page("401 Unauthorized")))
    auth = ("Authorization", "Basic " + b64(f"{user}:{password}"))
    ends = [http_call(flow, http_request("GET", t, host, [*BROWSER, auth]),
                      http_response("200 OK", [("Content-Type", "text/html")], page(realm))) for t in targets]
    return ends[0]


def digest_response(user: str, realm: str, password: str, method: str, uri: str, nonce: str, nc: str,
                    cnonce: str) -> str:
    """The MD5 request-digest with qop=auth (RFC 7616 3.4.1; RFC 3261 22.4 is the same)."""
    ha1, ha2 = md5_hex(f"{user}:{realm}:{password}"), md5_hex(f"{method}:{uri}")
    return md5_hex(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")


def digest_header(label: str, user: str, realm: str, password: str, method: str, uri: str, nonce: str) -> str:
    """An Authorization (or SIP Authorization) header value answering a Digest challenge."""
    cnonce, nc = C.fixed_bytes(label + "/cnonce", 8).hex(), "00000001"
    response = digest_response(user, realm, password, method, uri, nonce, nc, cnonce)
    return (f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", algorithm=MD5, '
            f'response="{response}", qop=auth, nc={nc}, cnonce="{cnonce}"')


def http_digest(flow: C.TcpFlow, host: str, target: str, realm: str, user: str, password: str,
                user_agent: str) -> int:
    """A client polling an IP camera: refused with a Digest challenge (MD5, qop=auth), it
    answers with the request-digest computed from the password (RFC 7616)."""
    nonce = b64(C.fixed_bytes(flow.flow_id + "/nonce", 24))
    agent = ("User-Agent", user_agent)
    http_call(flow, http_request("GET", target, host, [agent]),
              http_response("401 Unauthorized", [("WWW-Authenticate", f'Digest realm="{realm}", nonce="{nonce}", '
                                                                      'algorithm=MD5, qop="auth"')]))
    header = digest_header(flow.flow_id, user, realm, password, "GET", target, nonce)
    return http_call(flow, http_request("GET", target, host, [agent, ("Authorization", header)]),
                     http_response("200 OK", [("Content-Type", "image/jpeg")], C.fixed_bytes(flow.flow_id, 900)))


def http_bearer(flow: C.TcpFlow, host: str, target: str, token: str, bodies: Sequence[bytes]) -> int:
    """A device posting JSON to a REST API with an OAuth bearer token (RFC 6750), several
    requests on one keep-alive connection."""
    headers = [("Authorization", f"Bearer {token}"), ("Content-Type", "application/json"),
               ("User-Agent", "AlarisPCU/12.1.2"), ("Connection", "keep-alive")]
    ends = [http_call(flow, http_request("POST", target, host, headers, body), http_response("204 No Content"))
            for body in bodies]
    return ends[0]


def http_api_request(flow: C.TcpFlow, method: str, target: str, host: str, headers: Headers,
                     body: bytes = b"") -> int:
    """One API call whose key travels in a header or in the query string of `target`."""
    return http_call(flow, http_request(method, target, host, headers, body),
                     http_response("200 OK", [("Content-Type", "application/json")], b'{"status":"ok"}'))


def http_ntlm(flow: C.TcpFlow, host: str, target: str, messages: tuple[bytes, bytes, bytes]) -> int:
    """A browser on an IIS intranet site with Windows authentication (RFC 4559, MS-NTHT): the
    NTLM handshake takes three requests on one keep-alive connection."""
    negotiate, challenge, authenticate = messages
    http_call(flow, http_request("GET", target, host, BROWSER),
              http_response("401 Unauthorized", [("Server", "Microsoft-IIS/10.0"), ("WWW-Authenticate", "NTLM")]))
    http_call(flow, http_request("GET", target, host, [*BROWSER, ("Authorization", "NTLM " + b64(negotiate))]),
              http_response("401 Unauthorized", [("Server", "Microsoft-IIS/10.0"),
                                                 ("WWW-Authenticate", "NTLM " + b64(challenge))]))
    authorization = ("Authorization", "NTLM " + b64(authenticate))
    return http_call(flow, http_request("GET", target, host, [*BROWSER, authorization]),
                     http_response("200 OK", [("Server", "Microsoft-IIS/10.0"), ("Content-Type", "text/html")],
                                   page("Pharmacy formulary")))


def jwt(claims: dict[str, Any], key: bytes) -> str:
    """A compact JWT (RFC 7519) signed with HS256 under `key`."""
    def part(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    payload = json.dumps(claims, separators=(",", ":")).encode()
    signing_input = part(b'{"alg":"HS256","typ":"JWT"}') + "." + part(payload)
    return signing_input + "." + part(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())


def jwt_facts(claims: dict[str, Any]) -> dict[str, Any]:
    """The claims expected.json lists for a planted JWT (alg, iss, sub, aud as a list, exp, iat)."""
    aud = claims.get("aud")
    return {"alg": "HS256", "iss": claims.get("iss"), "sub": claims.get("sub"),
            "aud": [aud] if isinstance(aud, str) else list(aud or ()), "exp": claims.get("exp"),
            "iat": claims.get("iat")}


# --------------------------------------------------------------------------------------
# FTP (RFC 959, RFC 4217), Telnet (RFC 854), POP3 (RFC 1939), IMAP (RFC 9051), SMTP (RFC 4954)
# --------------------------------------------------------------------------------------


def ftp_login(flow: C.TcpFlow, greeting: str, user: str, password: str, auth_tls_reply: str | None = None) -> int:
    """Greeting, [AUTH TLS and the server's refusal], USER, PASS, logged in."""
    say(flow, "s", greeting)
    if auth_tls_reply is not None:
        say(flow, "c", "AUTH TLS")
        say(flow, "s", auth_tls_reply)
    say(flow, "c", f"USER {user}")
    say(flow, "s", "331 Please specify the password.")
    end = say(flow, "c", f"PASS {password}")
    say(flow, "s", "230 Login successful.")
    return end


IAC, DO, WILL, SB, SE = 0xFF, 0xFD, 0xFB, 0xFA, 0xF0
ECHO, SGA, TTYPE, NAWS = 1, 3, 24, 31


def telnet_login(flow: C.TcpFlow, banner: str, user_keys: str, password: str, prompt: str = "login: ",
                 password_prompt: str = "password: ") -> int:
    """A terminal-server login: option negotiation (the server echoes, go-ahead suppressed,
    terminal type and window size), then the user name typed one key per segment, each echoed
    by the server (`user_keys` may hold DEL, 0x7F, which xterm's Backspace sends and which the
    server echoes as BS SP BS), and the password the same way without echo (RFC 854, 857, 858)."""
    def key(ch: str, echo: bool) -> None:
        flow.tick(140_000 + 45_000 * (ord(ch) % 3))  # a person typing
        flow.send("c", ch.encode(), ack_every=0 if echo else 1)  # without echo a bare ACK answers
        if echo:
            flow.send("s", b"\b \b" if ch == "\x7f" else ch.encode(), ack_every=0)  # the echo acknowledges

    flow.send("s", bytes([IAC, DO, TTYPE, IAC, WILL, ECHO, IAC, WILL, SGA, IAC, DO, NAWS]))
    flow.send("c", bytes([IAC, WILL, TTYPE, IAC, DO, ECHO, IAC, DO, SGA, IAC, WILL, NAWS])
              + bytes([IAC, SB, NAWS, 0, 80, 0, 24, IAC, SE]))  # window 80 x 24
    flow.send("s", bytes([IAC, SB, TTYPE, 1, IAC, SE]))  # terminal type? SEND
    flow.send("c", bytes([IAC, SB, TTYPE, 0]) + b"XTERM" + bytes([IAC, SE]))  # IS XTERM
    flow.send("s", f"\r\n{banner}\r\n\r\n{prompt}".encode())
    for ch in user_keys:
        key(ch, echo=True)
    flow.tick(160_000)
    flow.send("c", b"\r\n", ack_every=0)  # Return: a Telnet end of line
    flow.send("s", f"\r\n{password_prompt}".encode(), ack_every=0)
    for ch in password:
        key(ch, echo=False)
    flow.tick(160_000)
    end = flow.send("c", b"\r\n", ack_every=0) + 2
    flow.send("s", b"\r\n\r\n#> ", ack_every=0)
    for ch in "exit":
        key(ch, echo=True)
    flow.send("c", b"\r\n", ack_every=0)
    return end


POP3_GREETING = "+OK Dovecot ready."


def pop3_user_pass(flow: C.TcpFlow, user: str, password: str) -> int:
    """Greeting, CAPA, USER, PASS (RFC 1939 7, RFC 2449)."""
    say(flow, "s", POP3_GREETING)
    say(flow, "c", "CAPA")
    say(flow, "s", "+OK", "CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "USER",
        "SASL PLAIN", ".")
    say(flow, "c", f"USER {user}")
    say(flow, "s", "+OK")
    end = say(flow, "c", f"PASS {password}")
    say(flow, "s", "+OK Logged in.")
    return end


def pop3_apop(flow: C.TcpFlow, user: str, password: str, timestamp: str) -> int:
    """A greeting with the server's timestamp, and APOP: the user and MD5(timestamp password)
    (RFC 1939 7), a digest the password never crosses in."""
    say(flow, "s", f"+OK POP3 server ready {timestamp}")
    end = say(flow, "c", f"APOP {user} {md5_hex(timestamp + password)}")
    say(flow, "s", "+OK maildrop has 2 messages (4471 octets)")
    return end


def sasl_plain(flow: C.TcpFlow, greeting: str, command: str, user: str, password: str, success: str) -> int:
    """A SASL PLAIN login (RFC 4616: authzid NUL user NUL password, in base64) whose response
    follows the server's empty continuation: POP3's AUTH, IMAP's AUTHENTICATE."""
    say(flow, "s", greeting)
    say(flow, "c", command)
    say(flow, "s", "+ ")
    end = say(flow, "c", b64(f"\0{user}\0{password}"))
    say(flow, "s", success)
    return end


def pop3_auth_plain(flow: C.TcpFlow, user: str, password: str) -> int:
    """AUTH PLAIN (RFC 5034)."""
    return sasl_plain(flow, POP3_GREETING, "AUTH PLAIN", user, password, "+OK Logged in.")


IMAP_GREETING = ("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN] "
                 "Dovecot ready.")
IMAP_CONTINUE = "+ Ready for additional command text"
IMAP_LOGGED_IN = "OK [CAPABILITY IMAP4rev1 SASL-IR ID ENABLE IDLE SORT LITERAL+ MOVE] Logged in"


def imap_quoted(text: str) -> str:
    """An IMAP quoted string: `"` and `\\` escaped with a backslash (RFC 9051 4.3)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def imap_login(flow: C.TcpFlow, user: str, password: str) -> int:
    """LOGIN with the user and password as quoted strings."""
    say(flow, "s", IMAP_GREETING)
    end = say(flow, "c", f"a001 LOGIN {imap_quoted(user)} {imap_quoted(password)}")
    say(flow, "s", "a001 " + IMAP_LOGGED_IN)
    return end


def imap_login_literal(flow: C.TcpFlow, user: str, password: str) -> int:
    """LOGIN with both arguments as synchronising literals, the server inviting each one (as
    in RFC 9051 6.2.3's example, whose user name has a space too)."""
    say(flow, "s", IMAP_GREETING)
    say(flow, "c", f"A001 LOGIN {{{len(user.encode())}}}")
    say(flow, "s", IMAP_CONTINUE)
    say(flow, "c", f"{user} {{{len(password.encode())}}}")
    say(flow, "s", IMAP_CONTINUE)
    end = say(flow, "c", password)
    say(flow, "s", "A001 OK LOGIN completed")
    return end


def imap_authenticate_plain(flow: C.TcpFlow, user: str, password: str) -> int:
    """AUTHENTICATE PLAIN (RFC 9051 6.2.2)."""
    return sasl_plain(flow, IMAP_GREETING, "a1 AUTHENTICATE PLAIN", user, password, "a1 " + IMAP_LOGGED_IN)


SMTP_EHLO_REPLY = ("250-mail.st-example.org", "250-PIPELINING", "250-SIZE 20480000", "250-AUTH PLAIN LOGIN CRAM-MD5",
                   "250-ENHANCEDSTATUSCODES", "250-8BITMIME", "250 SMTPUTF8")


def smtp_auth(flow: C.TcpFlow, helo: str, mechanism: str, user: str, password: str, challenge: str = "") -> int:
    """Submission (587): greeting, EHLO, AUTH PLAIN (initial response), LOGIN (user and
    password after the server's base64 prompts) or CRAM-MD5 (the user and HMAC-MD5 of the
    server's `challenge`), RFC 4954; returns the offset past the line that completes it."""
    say(flow, "s", "220 mail.st-example.org ESMTP Postfix")
    say(flow, "c", f"EHLO {helo}")
    say(flow, "s", *SMTP_EHLO_REPLY)
    if mechanism == "PLAIN":
        end = say(flow, "c", f"AUTH PLAIN {b64(f'{chr(0)}{user}{chr(0)}{password}')}")
    elif mechanism == "LOGIN":
        say(flow, "c", "AUTH LOGIN")
        say(flow, "s", "334 " + b64("Username:"))
        say(flow, "c", b64(user))
        say(flow, "s", "334 " + b64("Password:"))
        end = say(flow, "c", b64(password))
    else:
        say(flow, "c", "AUTH CRAM-MD5")
        say(flow, "s", "334 " + b64(challenge))
        digest = hmac.new(password.encode(), challenge.encode(), hashlib.md5).hexdigest()
        end = say(flow, "c", b64(f"{user} {digest}"))
    say(flow, "s", "235 2.7.0 Authentication successful")
    return end


def smtp_send(flow: C.TcpFlow, sender: str, recipient: str, subject: str) -> None:
    """One short message after the login (no patient data: a device notice)."""
    commands(flow, (f"MAIL FROM:<{sender}>", "250 2.1.0 Ok"), (f"RCPT TO:<{recipient}>", "250 2.1.5 Ok"),
             ("DATA", "354 End data with <CR><LF>.<CR><LF>"))
    say(flow, "c", f"From: <{sender}>", f"To: <{recipient}>", f"Subject: {subject}", "", subject, ".")
    say(flow, "s", "250 2.0.0 Ok: queued as 4Tz3Qm1Xk7z9")
    commands(flow, ("QUIT", "221 2.0.0 Bye"))


# --------------------------------------------------------------------------------------
# SNMP (RFC 1157, RFC 3416, RFC 3412/3414)
# --------------------------------------------------------------------------------------

GET_REQUEST, GET_RESPONSE, SNMPV2_TRAP, REPORT = 0xA0, 0xA2, 0xA7, 0xA8
NULL, TIMETICKS = der(0x05), 0x43
SYS_DESCR, SYS_UPTIME, SYS_NAME = "1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.1.5.0"
SNMP_TRAP_OID = "1.3.6.1.6.3.1.1.4.1.0"


def snmp_pdu(tag: int, request_id: int, varbinds: Sequence[tuple[str, bytes]]) -> bytes:
    """A PDU: request-id, error-status 0, error-index 0, the variable bindings."""
    binds = b"".join(der(0x30, der_oid(oid), value) for oid, value in varbinds)
    return der(tag, der_int(request_id), der_int(0), der_int(0), der(0x30, binds))


def snmp_community_message(version: int, community: str, pdu: bytes) -> bytes:
    """An SNMPv1 (version 0) or v2c (1) message: the community in clear."""
    return der(0x30, der_int(version), der_str(community), pdu)


def snmp_get(cap: C.Capture, manager: C.Host, mport: int, agent: C.Host, at_ns: int, version: int, community: str,
             request_id: int, answers: Sequence[tuple[str, bytes]]) -> tuple[int, int]:
    """A manager's GetRequest and the agent's Response, both with the community; returns the frames."""
    request = snmp_pdu(GET_REQUEST, request_id, [(oid, NULL) for oid, _ in answers])
    sent = datagram(cap, manager, mport, agent, 161, snmp_community_message(version, community, request), at_ns)
    response = snmp_community_message(version, community, snmp_pdu(GET_RESPONSE, request_id, answers))
    return sent, datagram(cap, agent, 161, manager, mport, response, at_ns + 1_800_000)


def snmp_trap(cap: C.Capture, agent: C.Host, aport: int, manager: C.Host, at_ns: int, community: str,
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


def snmp_v3_get(cap: C.Capture, manager: C.Host, mport: int, agent: C.Host, at_ns: int, user: str,
                auth_password: str, engine_id: bytes, request_id: int,
                answers: Sequence[tuple[str, bytes]]) -> tuple[int, int]:
    """Engine discovery (an empty user, reportable; the agent reports its engine id, boots and
    time), then an authenticated GetRequest and its Response, both naming the USM user;
    returns the frames of the last two."""
    boots, uptime = 12, 360512
    discovery = snmp_v3_message(request_id, 0x04, b"", 0, 0, "", snmp_pdu(GET_REQUEST, request_id, []))
    datagram(cap, manager, mport, agent, 161, discovery, at_ns)
    report = snmp_pdu(REPORT, request_id, [("1.3.6.1.6.3.15.1.1.4.0", der_int(1, 0x41))])  # usmStatsUnknownEngineIDs
    datagram(cap, agent, 161, manager, mport, snmp_v3_message(request_id, 0x00, engine_id, boots, uptime, "", report),
             at_ns + 1_200_000)
    key = usm_key(auth_password, engine_id)
    get = snmp_pdu(GET_REQUEST, request_id + 1, [(oid, NULL) for oid, _ in answers])
    sent = datagram(cap, manager, mport, agent, 161,
                    snmp_v3_message(request_id + 1, 0x05, engine_id, boots, uptime, user, get, key), at_ns + 3_000_000)
    response = snmp_v3_message(request_id + 1, 0x01, engine_id, boots, uptime, user,
                               snmp_pdu(GET_RESPONSE, request_id + 1, answers), key)
    return sent, datagram(cap, agent, 161, manager, mport, response, at_ns + 4_500_000)


# --------------------------------------------------------------------------------------
# LDAP (RFC 4511), MQTT (3.1.1 and 5.0), Redis (RESP)
# --------------------------------------------------------------------------------------

LDAP_SUCCESS = der(0x0A, b"\x00") + der(0x04) + der(0x04)
"""An LDAPResult: resultCode success, empty matchedDN and diagnosticMessage."""


def ldap_message(message_id: int, operation: bytes) -> bytes:
    """An LDAPMessage: messageID and the operation."""
    return der(0x30, der_int(message_id), operation)


def ldap_bind(flow: C.TcpFlow, message_id: int, dn: str, password: str) -> int:
    """A simple BindRequest (version 3; empty DN and password: anonymous) and its success."""
    request = ldap_message(message_id, der(0x60, der_int(3), der_str(dn), der_str(password, 0x80)))
    end = flow.send("c", request) + len(request)
    flow.send("s", ldap_message(message_id, der(0x61, LDAP_SUCCESS)))
    return end


def ldap_search(flow: C.TcpFlow, message_id: int, base: str, ldap_filter: bytes, attributes: Sequence[str],
                entries: Sequence[tuple[str, Sequence[tuple[str, Sequence[str]]]]]) -> None:
    """A SearchRequest (whole subtree unless the base is the root DSE), its entries and done."""
    scope = 0 if not base else 2
    request = der(0x63, der_str(base), der(0x0A, bytes([scope])), der(0x0A, b"\x00"), der_int(0), der_int(0),
                  der(0x01, b"\x00"), ldap_filter, der(0x30, *(der_str(a) for a in attributes)))
    flow.send("c", ldap_message(message_id, request))
    answer = b"".join(ldap_message(message_id, der(0x64, der_str(dn), der(0x30, *(
        der(0x30, der_str(name), der(0x31, *(der_str(v) for v in values))) for name, values in attrs))))
        for dn, attrs in entries)
    flow.send("s", answer + ldap_message(message_id, der(0x65, LDAP_SUCCESS)))


def ldap_unbind(flow: C.TcpFlow, message_id: int) -> None:
    """UnbindRequest: the client leaves."""
    flow.send("c", ldap_message(message_id, der(0x42)))


def mqtt_varint(n: int) -> bytes:
    """A variable byte integer (MQTT 5.0 1.5.5, 3.1.1 2.2.3)."""
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def mqtt_string(text: str) -> bytes:
    """A two-byte length, then UTF-8 text (strings and binary data alike)."""
    return struct.pack(">H", len(text.encode())) + text.encode()


def mqtt_packet(first: int, body: bytes) -> bytes:
    """Fixed header (type and flags, remaining length) and the rest."""
    return bytes([first]) + mqtt_varint(len(body)) + body


def mqtt_connect(flow: C.TcpFlow, client_id: str, user: str, password: str, *, version: int = 4,
                 will: tuple[str, str] | None = None, properties: bytes = b"", connack_properties: bytes = b"") -> int:
    """CONNECT (protocol level 4 = 3.1.1 or 5 = 5.0 with its properties; clean session; an
    optional will, QoS 1, retained) and the broker's CONNACK."""
    flags = 0x80 | 0x40 | 0x02 | (0x04 | 0x08 | 0x20 if will else 0)
    v5 = version == 5
    header = mqtt_string("MQTT") + bytes([version, flags]) + struct.pack(">H", 60)
    if v5:
        header += mqtt_varint(len(properties)) + properties
    payload = mqtt_string(client_id)
    if will:
        payload += (mqtt_varint(0) if v5 else b"") + mqtt_string(will[0]) + mqtt_string(will[1])
    payload += mqtt_string(user) + mqtt_string(password)
    start = flow.sent["c"]
    flow.send("c", connect := mqtt_packet(0x10, header + payload))
    connack = b"\x00\x00" + (mqtt_varint(len(connack_properties)) + connack_properties if v5 else b"")
    flow.send("s", mqtt_packet(0x20, connack))
    return start + len(connect)


def mqtt_publish(flow: C.TcpFlow, topic: str, payload: bytes, version: int = 4) -> None:
    """A QoS 0 PUBLISH (device status, no patient data)."""
    flow.send("c", mqtt_packet(0x30, mqtt_string(topic) + (b"\x00" if version == 5 else b"") + payload))


def resp(*args: str) -> bytes:
    """A command as a RESP array of bulk strings, as client libraries send it."""
    return f"*{len(args)}\r\n".encode() + b"".join(f"${len(a.encode())}\r\n{a}\r\n".encode() for a in args)


def redis_command(flow: C.TcpFlow, args: Sequence[str], reply: bytes) -> int:
    """One command and its reply; returns the offset past the command."""
    start = flow.sent["c"]
    flow.send("c", command := resp(*args))
    flow.send("s", reply)
    return start + len(command)


def redis_auth(flow: C.TcpFlow, password: str, user: str | None = None) -> int:
    """AUTH password (requirepass) or AUTH user password (ACL users, Redis 6), answered +OK."""
    return redis_command(flow, ["AUTH", *([user] if user else []), password], b"+OK\r\n")


# --------------------------------------------------------------------------------------
# SMB2 (MS-SMB2) session setup with NTLMSSP in SPNEGO
# --------------------------------------------------------------------------------------

SMB2_NEGOTIATE, SMB2_SESSION_SETUP, SMB2_TREE_CONNECT = 0, 1, 3
STATUS_MORE_PROCESSING_REQUIRED = 0xC0000016


def smb2(command: int, message_id: int, body: bytes, *, status: int = 0, reply: bool = False, session_id: int = 0,
         tree_id: int = 0) -> bytes:
    """One SMB2 message behind its 4-byte direct-TCP header (MS-SMB2 2.1, 2.2.1.2)."""
    header = struct.pack("<4sHHIHHIIQIIQ16s", b"\xfeSMB", 64, 1, status, command, 1 if reply else 31,
                         1 if reply else 0, 0, message_id, 0xFEFF, tree_id, session_id, bytes(16))
    return struct.pack(">I", 64 + len(body)) + header + body


def smb_session_setup(flow: C.TcpFlow, label: str, share: str, messages: tuple[bytes, bytes, bytes],
                      at_ns: int) -> int:
    """A Windows client mapping a share: NEGOTIATE (SMB 2.0.2 to 3.0.2), two SESSION_SETUPs
    carrying NTLMSSP in SPNEGO (the server's CHALLENGE in between, STATUS_MORE_PROCESSING_REQUIRED),
    then TREE_CONNECT; returns the offset past the request with the AUTHENTICATE."""
    negotiate, challenge, authenticate = messages
    dialects = (0x0202, 0x0210, 0x0300, 0x0302)
    flow.send("c", smb2(SMB2_NEGOTIATE, 0, struct.pack("<HHHHI16sQ", 36, len(dialects), 1, 0, 0x7F,
                                                        C.fixed_bytes(label + "/client-guid", 16), 0)
                        + struct.pack(f"<{len(dialects)}H", *dialects)))
    hints = spnego_init([KERBEROS_MS, KERBEROS_V5, NTLMSSP], hint="not_defined_in_RFC4178@please_ignore")
    flow.send("s", smb2(SMB2_NEGOTIATE, 0, struct.pack("<HHHH16sIIIIQQHHI", 65, 1, 0x0302, 0,
                                                        C.fixed_bytes(label + "/server-guid", 16), 0x2F, 8388608,
                                                        8388608, 8388608, struct.unpack("<Q", filetime(at_ns))[0], 0,
                                                        128, len(hints), 0) + hints, reply=True))

    def setup_request(message_id: int, blob: bytes, session: int) -> bytes:
        return smb2(SMB2_SESSION_SETUP, message_id, struct.pack("<HBBIIHHQ", 25, 0, 1, 1, 0, 88, len(blob), 0) + blob,
                    session_id=session)

    def setup_reply(message_id: int, blob: bytes, status: int, session: int) -> bytes:
        return smb2(SMB2_SESSION_SETUP, message_id, struct.pack("<HHHH", 9, 0, 72, len(blob)) + blob, status=status,
                    reply=True, session_id=session)

    session = int.from_bytes(C.fixed_bytes(label + "/session", 8), "little") | 1
    flow.send("c", setup_request(1, spnego_init([NTLMSSP], negotiate), 0))
    flow.send("s", setup_reply(1, spnego_response(1, challenge, NTLMSSP), STATUS_MORE_PROCESSING_REQUIRED, session))
    start = flow.sent["c"]
    flow.send("c", request := setup_request(2, spnego_response(None, authenticate,
                                                              mic=ntlm_signature(label + "/client-mic", 0)), session))
    flow.send("s", setup_reply(2, spnego_response(0, mic=ntlm_signature(label + "/server-mic", 0)), 0, session))
    path = utf16(share)
    flow.send("c", smb2(SMB2_TREE_CONNECT, 3, struct.pack("<HHHH", 9, 0, 72, len(path)) + path, session_id=session))
    flow.send("s", smb2(SMB2_TREE_CONNECT, 3, struct.pack("<HBBIII", 16, 1, 0, 0, 0, 0x001F01FF), reply=True,
                        session_id=session, tree_id=5))
    return start + len(request)


# --------------------------------------------------------------------------------------
# Kerberos 5 (RFC 4120 5.4.1, 5.9.1, 7.2)
# --------------------------------------------------------------------------------------

NT_PRINCIPAL, NT_SRV_INST = 1, 2
AES256, AES128, RC4, RC4_EXP, RC4_OLD = 18, 17, 23, 24, -135
"""Encryption types (RFC 3962, RFC 4757; -135 is RC4-HMAC-OLD-EXP): what Windows 10 offers."""
PA_ENC_TIMESTAMP, PA_PK_AS_REP_OLD, PA_PK_AS_REQ, PA_ETYPE_INFO2, PA_PAC_REQUEST = 2, 15, 16, 19, 128
KDC_ERR_PREAUTH_REQUIRED, KRB_ERR_RESPONSE_TOO_BIG = 25, 52


def krb_time(ns: int) -> bytes:
    """A KerberosTime (GeneralizedTime, whole seconds, UTC)."""
    return der(0x18, utc_text(ns, "%Y%m%d%H%M%SZ").encode())


def principal(name_type: int, *parts: str) -> bytes:
    """A PrincipalName: name-type and the name-string components."""
    return der(0x30, der(0xA0, der_int(name_type)), der(0xA1, der(0x30, *(der_str(p, 0x1B) for p in parts))))


def encrypted(etype: int, cipher: bytes, kvno: int | None = None) -> bytes:
    """EncryptedData: etype, [kvno], the cipher text (random-looking: no key behind it)."""
    return der(0x30, der(0xA0, der_int(etype)), *([der(0xA1, der_int(kvno))] if kvno is not None else []),
               der(0xA2, der(0x04, cipher)))


def pa_data(pa_type: int, value: bytes) -> bytes:
    """One PA-DATA."""
    return der(0x30, der(0xA1, der_int(pa_type)), der(0xA2, der(0x04, value)))


def ticket(label: str, realm: str, *service: str) -> bytes:
    """A Ticket (APPLICATION 1) for `service` in `realm`; its enc-part is opaque."""
    return der(0x61, der(0x30, der(0xA0, der_int(5)), der(0xA1, der_str(realm, 0x1B)),
                         der(0xA2, principal(NT_SRV_INST, *service)),
                         der(0xA3, encrypted(AES256, C.fixed_bytes(label + "/ticket", 1024), 2))))


def as_req(label: str, user: str, realm: str, workstation: str, nonce: int, preauth: bool) -> bytes:
    """A Windows logon's AS-REQ for a TGT: PA-ENC-TIMESTAMP (AES-256, once the KDC asked for it)
    and PA-PAC-REQUEST, forwardable/renewable/canonicalize, the client's NetBIOS address."""
    padata = [pa_data(PA_PAC_REQUEST, der(0x30, der(0xA0, der(0x01, b"\xff"))))]
    if preauth:
        padata.insert(0, pa_data(PA_ENC_TIMESTAMP, encrypted(AES256, C.fixed_bytes(label + "/enc-timestamp", 56))))
    netbios_address = der(0x30, der(0xA0, der_int(20)), der(0xA1, der(0x04, workstation.ljust(16).encode())))
    till = T0 + 25 * 365 * 86400 * 1_000_000_000
    body = der(0x30, der(0xA0, der(0x03, b"\x00\x40\x81\x00\x10")), der(0xA1, principal(NT_PRINCIPAL, user)),
               der(0xA2, der_str(realm, 0x1B)), der(0xA3, principal(NT_SRV_INST, "krbtgt", realm)),
               der(0xA5, krb_time(till)), der(0xA6, krb_time(till)), der(0xA7, der_int(nonce)),
               der(0xA8, der(0x30, *(der_int(e) for e in (AES256, AES128, RC4, RC4_EXP, RC4_OLD)))),
               der(0xA9, der(0x30, netbios_address)))
    return der(0x6A, der(0x30, der(0xA1, der_int(5)), der(0xA2, der_int(10)), der(0xA3, der(0x30, *padata)),
                         der(0xA4, body)))


def krb_error(code: int, realm: str, at_ns: int, e_data: bytes = b"") -> bytes:
    """A KRB-ERROR from the KDC (RFC 4120 5.9.1); Windows KDCs leave the client's name out."""
    fields = [der(0xA0, der_int(5)), der(0xA1, der_int(30)), der(0xA4, krb_time(at_ns)), der(0xA5, der_int(21794)),
              der(0xA6, der_int(code)), der(0xA9, der_str(realm, 0x1B)),
              der(0xAA, principal(NT_SRV_INST, "krbtgt", realm))]
    if e_data:
        fields.append(der(0xAC, der(0x04, e_data)))
    return der(0x7E, der(0x30, *fields))


def preauth_required(realm: str, user: str, at_ns: int) -> bytes:
    """KDC_ERR_PREAUTH_REQUIRED with the methods the KDC accepts and the AES salt."""
    etype_info = der(0x30, der(0x30, der(0xA0, der_int(AES256)), der(0xA1, der_str(realm + user, 0x1B))))
    methods = der(0x30, pa_data(PA_ETYPE_INFO2, etype_info), pa_data(PA_ENC_TIMESTAMP, b""),
                  pa_data(PA_PK_AS_REQ, b""), pa_data(PA_PK_AS_REP_OLD, b""))
    return krb_error(KDC_ERR_PREAUTH_REQUIRED, realm, at_ns, methods)


def as_rep(label: str, user: str, realm: str) -> bytes:
    """The AS-REP with the TGT; its enc-part is opaque."""
    etype_info = der(0x30, der(0x30, der(0xA0, der_int(AES256)), der(0xA1, der_str(realm + user, 0x1B))))
    return der(0x6B, der(0x30, der(0xA0, der_int(5)), der(0xA1, der_int(11)),
                         der(0xA2, der(0x30, pa_data(PA_ETYPE_INFO2, etype_info))), der(0xA3, der_str(realm, 0x1B)),
                         der(0xA4, principal(NT_PRINCIPAL, user)), der(0xA5, ticket(label, realm, "krbtgt", realm)),
                         der(0xA6, encrypted(AES256, C.fixed_bytes(label + "/as-rep", 290), 3))))


def udp_exchange(cap: C.Capture, client: C.Host, cport: int, srv: C.Host, sport: int, at_ns: int, request: bytes,
                 reply: bytes) -> int:
    """A request datagram and its reply 1.5 ms later; returns the request's frame."""
    frame = datagram(cap, client, cport, srv, sport, request, at_ns)
    datagram(cap, srv, sport, client, cport, reply, at_ns + 1_500_000)
    return frame


def kerberos_tcp(flow: C.TcpFlow, request: bytes, reply: bytes) -> int:
    """A KDC exchange over TCP: each message behind its 4-byte length (RFC 4120 7.2.2)."""
    start = flow.sent["c"]
    flow.send("c", struct.pack(">I", len(request)) + request)
    flow.send("s", struct.pack(">I", len(reply)) + reply)
    return start + 4 + len(request)


# --------------------------------------------------------------------------------------
# SIP (RFC 3261 22), DICOM upper layer (PS3.8 9.3, PS3.7 D.3.3.7), HL7 v2 over MLLP
# --------------------------------------------------------------------------------------


def sip_register_messages(label: str, transport: str, phone: C.Host, pport: int, pbx: C.Host, user: str, realm: str,
                          password: str, user_agent: str) -> tuple[bytes, bytes, bytes, bytes]:
    """A phone's registration: REGISTER, 401 with a Digest challenge, REGISTER with the
    Authorization (the MD5 response computed from the password), 200 OK."""
    tag, call_id = C.fixed_bytes(label + "/tag", 4).hex(), C.fixed_bytes(label + "/call-id", 12).hex()
    nonce = C.fixed_bytes(label + "/nonce", 16).hex()
    uri = f"sip:{realm}"

    def register(cseq: int, auth: Sequence[str]) -> bytes:
        branch = C.fixed_bytes(f"{label}/branch{cseq}", 6).hex()
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
                 f"{to};tag=as{C.fixed_bytes(label + '/to-tag', 4).hex()}", cid, cseq, *extra,
                 "Server: Asterisk PBX 18.20.0", "Content-Length: 0"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    first = register(1, [])
    challenge = reply(first, "401 Unauthorized", [f'WWW-Authenticate: Digest algorithm=MD5, realm="{realm}", '
                                                  f'nonce="{nonce}", qop="auth"'])
    second = register(2, ["Authorization: " + digest_header(label, user, realm, password, "REGISTER", uri, nonce)])
    contact = f"Contact: <sip:{user}@{phone.ip}:{pport};transport={transport.lower()}>;expires=3600"
    done = reply(second, "200 OK", [contact])
    return first, challenge, second, done


def sip_register(flow: C.TcpFlow, user: str, realm: str, password: str, user_agent: str) -> int:
    """A registration over TCP (RFC 3261 18.3: framed by Content-Length); returns the offset
    past the REGISTER with the Authorization."""
    first, challenge, second, done = sip_register_messages(flow.flow_id, "TCP", flow.hosts["c"], flow.ports["c"],
                                                           flow.hosts["s"], user, realm, password, user_agent)
    flow.send("c", first)
    flow.send("s", challenge)
    end = flow.send("c", second) + len(second)
    flow.send("s", done)
    return end


def sip_register_udp(cap: C.Capture, phone: C.Host, pport: int, pbx: C.Host, at_ns: int, user: str, realm: str,
                     password: str, user_agent: str) -> int:
    """A registration over UDP 5060; returns the frame of the REGISTER with the Authorization."""
    first, challenge, second, done = sip_register_messages(f"sip/{phone.ip}:{pport}", "UDP", phone, pport, pbx, user,
                                                           realm, password, user_agent)
    udp_exchange(cap, phone, pport, pbx, 5060, at_ns, first, challenge)
    return udp_exchange(cap, phone, pport, pbx, 5060, at_ns + 40_000_000, second, done)


DCMTK_UID, DCMTK_VERSION = "1.2.276.0.7230010.3.0.3.6.8", "OFFIS_DCMTK_368"
"""The implementation class UID and version name `craft.dicom_associate` writes (DCMTK 3.6.8)."""
IDENTITY_USERNAME, IDENTITY_PASSCODE, IDENTITY_KERBEROS, IDENTITY_SAML, IDENTITY_JWT = 1, 2, 3, 4, 5
ITEM_USER_INFO, SUB_USER_IDENTITY, SUB_USER_IDENTITY_AC = 0x50, 0x58, 0x59
REJECT_PERMANENT, SOURCE_SERVICE_USER, REASON_CALLING_AE_NOT_RECOGNIZED = 1, 1, 3


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


def with_user_info(pdu: bytes, sub_item: bytes) -> bytes:
    """An A-ASSOCIATE PDU of `craft.dicom_associate` with `sub_item` added to its User
    Information item (which craft writes last), the item's and the PDU's lengths fixed."""
    at = 6 + 68  # PDU header, then protocol version .. reserved
    while pdu[at] != ITEM_USER_INFO:
        at += 4 + struct.unpack_from(">H", pdu, at + 2)[0]
    assert at + 4 + struct.unpack_from(">H", pdu, at + 2)[0] == len(pdu), "the User Information item comes last"
    user_info = pdu[at + 4 :] + sub_item
    body = pdu[6:at] + struct.pack(">BBH", ITEM_USER_INFO, 0, len(user_info)) + user_info
    return struct.pack(">BBI", pdu[0], 0, len(body)) + body


def dicom_reject(result: int, source: int, reason: int) -> bytes:
    """An A-ASSOCIATE-RJ PDU (PS3.8 9.3.4)."""
    return struct.pack(">BBIBBBB", 0x03, 0, 4, 0, result, source, reason)


def dicom_association(flow: C.TcpFlow, calling: str, called: str, identity: bytes | None,
                      reject: bytes | None = None, server_response: bytes | None = None) -> tuple[int, int]:
    """A-ASSOCIATE-RQ (with a User Identity sub-item if given), then the acceptor's
    A-ASSOCIATE-AC (with its identity response if given) and an A-RELEASE, or the `reject`;
    returns the offsets past the request and past the answer."""
    request = C.dicom_associate(0x01, calling, called, None)
    if identity is not None:
        request = with_user_info(request, identity)
    rq_end = flow.send("c", request) + len(request)
    answer = reject or C.dicom_associate(0x02, calling, called, None)
    if reject is None and server_response is not None:
        answer = with_user_info(answer, server_response)
    answer_end = flow.send("s", answer) + len(answer)
    if reject is None:
        flow.send("c", bytes([0x05, 0, 0, 0, 0, 4, 0, 0, 0, 0]))  # A-RELEASE-RQ
        flow.send("s", bytes([0x06, 0, 0, 0, 0, 4, 0, 0, 0, 0]))  # A-RELEASE-RP
    return rq_end, answer_end


def mllp(message: str) -> bytes:
    """One HL7 message in its MLLP frame (start block 0x0B, end block 0x1C 0x0D)."""
    return b"\x0b" + message.encode() + b"\x1c\r"


def hl7_exchange(flow: C.TcpFlow, message: str, ack: str) -> tuple[int, int]:
    """A message and its acknowledgement over MLLP; returns the offsets past each MSH segment."""
    start = flow.send("c", mllp(message))
    ack_start = flow.send("s", mllp(ack))
    return start + 1 + message.index("\r"), ack_start + 1 + ack.index("\r")


# --------------------------------------------------------------------------------------
# the captures
# --------------------------------------------------------------------------------------

DOMAIN, REALM, NB_DOMAIN = "st-example.org", "ST-EXAMPLE.ORG", "STEXAMPLE"
BIOMED_LAPTOP = G.host("biomed-lt-04", "00:14:22:6e:41:04", "10.20.9.40")
WORKSTATION = G.host("ws-pharm-07", "b8:ca:3a:71:20:07", "10.20.9.17")
NMS = server("nms01", "10.10.9.5")
DC = server("dc01", "10.10.0.10")
MAIL = server("mail", "10.10.3.25")
PACS = server("pacs01", "10.10.6.10")
SIGNING_KEY = b"st-example idp HS256 key 2025"
"""The identity provider's JWT signing key (never on the wire)."""


def http_capture(s: Sample) -> None:
    """HTTP/1.1: Basic on a pump's web UI (keep-alive, a password with ':'), Digest to an IP
    camera, a JWT bearer token, an API key in a header and one in the query string, NTLM to an
    IIS intranet site."""
    pump_ui = G.host("alaris-pcu-23", "f8:c6:78:2a:10:23", "10.20.1.23")
    f = s.connect(BIOMED_LAPTOP, pump_ui, 80)
    password = "Biomed:2024!"
    end = http_basic(f, pump_ui.ip, "Alaris PC Unit", "biomed", password, ["/", "/status.html", "/config/network.html"])
    s.plant(f, end, credential("http", "biomed", "password", "basic", password))
    f.close()
    camera = G.host("axis-icu4-bed12", "00:40:8c:4f:2a:10", "10.20.7.15")
    f = s.connect(server("vms01", "10.10.7.12"), camera, 80)
    password = "Xprotect#Cam12"
    end = http_digest(f, camera.ip, "/axis-cgi/mjpg/video.cgi?resolution=1280x720", "AXIS_00408C4F2A10",
                      "vms-recorder", password, "Milestone XProtect/2023 R3")
    s.plant(f, end, credential("http", "vms-recorder", "hash", "digest", password, domain="AXIS_00408C4F2A10"))
    f.close()
    sub = "alaris-pcu-00231"
    claims = {"iss": "https://idp.st-example.org", "sub": sub, "aud": "infusion-mgmt",
              "iat": T0 // 1_000_000_000 - 1800, "exp": T0 // 1_000_000_000 + 1800}
    token = jwt(claims, SIGNING_KEY)
    f = s.connect(G.host("alaris-pcu-31", "f8:c6:78:2a:10:31", "10.20.1.31"), server("infusion-mgmt", "10.10.4.20"), 80)
    end = http_bearer(f, "infusion-mgmt", "/api/v2/pumps/status",
                      token, [b'{"channel":"A","state":"infusing","rate_ml_h":42.0}',
                              b'{"channel":"B","state":"idle","rate_ml_h":0.0}'])
    s.plant(f, end, credential("http", sub, "token", "bearer", token, claims=jwt_facts(claims)))
    f.close()
    key = "wa-7f3c9e21b04d4a8f9c3e5a6b"
    f = s.connect(G.host("connex-vsm-61", "00:1a:fa:33:20:61", "10.20.2.61"), server("emr-gw", "10.10.4.35"), 80)
    end = http_api_request(f, "POST", "/api/v1/devices/heartbeat", "emr-gw",
                           [("X-API-Key", key), ("Content-Type", "application/json"), ("User-Agent", "Connex/2.43")],
                           b'{"device":"CVSM-61","battery":87,"firmware":"2.43.00"}')
    s.plant(f, end, credential("http", None, "api-key", "header:x-api-key", key))
    f.close()
    key = "q8Zr/Tk+2wVn=Lx4"
    f = s.connect(G.host("vocera-gw", "00:09:ef:20:08:20", "10.20.8.20"), server("alarm-api", "10.10.4.41"), 8080)
    end = http_api_request(f, "GET", f"/api/v2/alarms?unit=ICU-4&api_key={urllib.parse.quote(key, safe='')}",
                           "alarm-api:8080", [("Accept", "application/json"), ("User-Agent", "Vocera-Engage/6.2")])
    s.plant(f, end, credential("http", None, "api-key", "query:api_key", key))
    f.close()
    f = s.connect(WORKSTATION, server("pharmacy", "10.10.4.50"), 80)
    messages = ntlm_messages(f.flow_id, user="m.okafor", domain=NB_DOMAIN, workstation="WS-PHARM-07",
                             server_name="pharm01", dns_domain=DOMAIN, spn="HTTP/pharmacy.st-example.org",
                             at_ns=f.now_ns)
    end = http_ntlm(f, "pharmacy.st-example.org", "/formulary/", messages)
    s.plant(f, end, credential("http", "m.okafor", "hash", "NTLM", domain=NB_DOMAIN, host="WS-PHARM-07",
                               notes=["NTLMv2"]))
    f.close()


def ftp_capture(s: Sample) -> None:
    """FTP: a monitor's trend export (AUTH TLS refused, then USER/PASS in clear; the password
    has spaces) and an analyzer's anonymous download of QC files."""
    f = s.connect(G.host("mon-icu-31", "00:09:fb:00:20:31", "10.20.2.31"), server("trend-export", "10.10.5.40"), 21)
    password = "Tr3nd Export 2025"
    end = ftp_login(f, "220 trend-export FTP server (vsFTPd 3.0.5) ready.", "trendexp", password,
                    auth_tls_reply="530 Please login with USER and PASS.")
    s.plant(f, end, credential("ftp", "trendexp", "password", "USER/PASS", password,
                               notes=["AUTH TLS refused by the server"]))
    commands(f, ("SYST", "215 UNIX Type: L8"), ("TYPE I", "200 Switching to Binary mode."), ("QUIT", "221 Goodbye."))
    f.close()
    f = s.connect(G.host("sysmex-xn-21", "00:06:6b:40:01:21", "10.40.1.21"), server("qc-files", "10.10.5.45"), 21)
    password = "xn1000@st-example.org"
    end = ftp_login(f, "220 (vsFTPd 3.0.5)", "anonymous", password)
    s.plant(f, end, credential("ftp", "anonymous", "password", "USER/PASS", password, notes=["anonymous login"]))
    commands(f, ("CWD /qc/lots", "250 Directory successfully changed."), ("QUIT", "221 Goodbye."))
    f.close()


def telnet_capture(s: Sample) -> None:
    """Telnet: a biomed engineer logs in to the serial terminal server of a legacy analyzer,
    one keystroke per segment, the server echoing the user name but not the password."""
    f = s.connect(BIOMED_LAPTOP, G.host("digi-ts16-lab", "00:40:9d:3a:01:05", "10.40.1.5"), 23)
    password = "dg!PortServ9"
    end = telnet_login(f, "Digi PortServer TS 16 MEI Version 82000747_U1", "roo\x7f\x7foot", password)  # a typo
    s.plant(f, end, credential("telnet", "root", "password", "login-prompt", password))
    f.close()


def pop3_capture(s: Sample) -> None:
    """POP3: a fax server's USER/PASS, an MFP's APOP digest, an interface engine's AUTH PLAIN."""
    def apop(flow: C.TcpFlow, user: str, password: str) -> int:
        return pop3_apop(flow, user, password, "<4127.1741766410@mail.st-example.org>")

    for client, login, user, password, kind, mechanism in (
        (G.host("fax-gw", "3c:2a:f4:51:0e:02", "10.20.9.60"), pop3_user_pass, "fax-inbox", "Fax!nbox-7731",
         "password", "USER/PASS"),
        (G.host("mfp-rad-2", "00:00:aa:72:11:02", "10.30.8.70"), apop, "scan-rad2", "Xerox-Scan-4411", "hash", "APOP"),
        (server("mirth-01", "10.10.4.60"), pop3_auth_plain, "lab-results", "Mirth&Results#42", "password", "PLAIN"),
    ):
        f = s.connect(client, MAIL, 110)
        end = login(f, user, password)
        s.plant(f, end, credential("pop3", user, kind, mechanism, password))
        commands(f, ("QUIT", "+OK Logging out."))
        f.close()


def imap_capture(s: Sample) -> None:
    """IMAP: LOGIN with quoted strings (a password with `"` and `\\`), LOGIN with literals (a
    user name with a space), AUTHENTICATE PLAIN."""
    for client, login, user, password, mechanism, tag in (
        (server("dictation-01", "10.10.4.71"), imap_login, "dictation.svc", 'Rad"Rep0rts\\2025', "LOGIN", "a002"),
        (G.host("ws-rad-desk", "f8:bc:12:40:30:09", "10.30.8.19"), imap_login_literal, "Radiology Desk",
         "ward 7 & lab", "LOGIN", "A002"),
        (server("pathology-mail", "10.10.4.72"), imap_authenticate_plain, "pathology", "Path0logy-Inbox!", "PLAIN",
         "a2"),
    ):
        f = s.connect(client, MAIL, 143)
        end = login(f, user, password)
        s.plant(f, end, credential("imap", user, "password", mechanism, password))
        commands(f, (f"{tag} LOGOUT", ("* BYE Logging out", f"{tag} OK Logout completed.")))
        f.close()


def smtp_capture(s: Sample) -> None:
    """SMTP submission (587): an MFP's AUTH PLAIN, a central station's AUTH LOGIN, a sterilizer's
    AUTH CRAM-MD5, each sending a short notice."""
    for device, helo, mechanism, user, password, kind in (
        (G.host("mfp-rad-3", "58:38:79:12:30:03", "10.30.8.71"), "mfp-rad-3.st-example.org", "PLAIN",
         "scan-rad3@st-example.org", "Ricoh!Scan2Mail", "password"),
        (G.host("mindray-cms-2", "38:0b:26:20:40:02", "10.20.2.90"), "cms-icu2", "LOGIN", "cms-alerts",
         "Alarm$Relay-88", "password"),
        (G.host("getinge-steri-1", "e4:75:1e:10:50:01", "10.20.5.41"), "steri-cssd-1", "CRAM-MD5", "cssd-reports",
         "Cycle-Rep0rt", "hash"),
    ):
        f = s.connect(device, MAIL, 587)
        end = smtp_auth(f, helo, mechanism, user, password, challenge=f"<{s.step}.1741766400@mail.st-example.org>")
        s.plant(f, end, credential("smtp", user, kind, f"auth {mechanism.lower()}", password))
        smtp_send(f, f"{helo.split('.')[0]}@st-example.org", "biomed@st-example.org", f"{device.label}: daily report")
        f.close()


def snmp_capture(s: Sample) -> None:
    """SNMP: v1 get to a serial server (factory community), v2c get/response to a ventilator,
    a central station's v2c trap, v3 (USM, authNoPriv) get to an infusion rack."""
    polls = ((G.host("moxa-nport-12", "00:90:e8:61:0c:12", "10.40.1.12"), 0, "public", 4101,
              [(SYS_NAME, der_str("NPort 5110"))]),
             (G.host("vent-icu-04", "00:30:e6:00:30:44", "10.20.3.44"), 1, "Vent1l-RO-2019", 23117,
              [(SYS_DESCR, der_str("Draeger Evita V500 SW 2.51")), (SYS_UPTIME, der_int(8640000, TIMETICKS))]))
    for agent, version, community, request_id, answers in polls:
        port = s.next_port()
        frames = snmp_get(s.cap, NMS, port, agent, s.at(), version, community, request_id, answers)
        for presenter, frame, pdu in zip("cs", frames, ("get-request", "response"), strict=True):
            mechanism = f"{'v1' if version == 0 else 'v2c'} {pdu}"
            s.plant_udp(NMS, port, agent, 161, frame, credential("snmp", None, "community", mechanism, community),
                        presenter)
    cms = G.host("mindray-cms-2", "38:0b:26:20:40:02", "10.20.2.90")
    port, community = s.next_port(), "mindray-trap"
    frame = snmp_trap(s.cap, cms, port, NMS, s.at(), community, 881, 17_280_000, "1.3.6.1.4.1.19316.1.2.0.3",
                      [("1.3.6.1.4.1.19316.1.2.1.1.0", der_str("network disconnected: bed 12"))])
    s.plant_udp(cms, port, NMS, 162, frame, credential("snmp", None, "community", "v2c snmpv2-trap", community))
    rack = G.host("bbraun-space-3", "00:12:21:4a:70:03", "10.20.1.73")
    port, auth_password = s.next_port(), "SpaceStation#Auth1"
    engine = bytes.fromhex("80001f8880") + C.fixed_bytes("snmp/engine/bbraun-space-3", 8)
    sent, answered = snmp_v3_get(s.cap, NMS, port, rack, s.at(), "nms-monitor", auth_password, engine, 5501,
                                 [(SYS_DESCR, der_str("B. Braun SpaceStation SP 4.1"))])
    for presenter, frame in (("c", sent), ("s", answered)):
        s.plant_udp(NMS, port, rack, 161, frame, credential("snmp", "nms-monitor", "none", "v3 usm", auth_password),
                    presenter)


def ldap_capture(s: Sample) -> None:
    """LDAP: the PACS reads the root DSE after an anonymous bind; a DR system binds with its
    service account's DN and password to look up a technologist."""
    f = s.connect(server("pacs-app", "10.10.6.11"), DC, 389)
    end = ldap_bind(f, 1, "", "")
    s.plant(f, end, credential("ldap", None, "none", "simple-bind", notes=["anonymous bind"]))
    ldap_search(f, 2, "", der_str("objectClass", 0x87), ["namingContexts", "supportedSASLMechanisms"],
                [("", [("namingContexts", ["DC=st-example,DC=org"]),
                       ("supportedSASLMechanisms", ["GSSAPI", "GSS-SPNEGO", "EXTERNAL", "DIGEST-MD5"])])])
    ldap_unbind(f, 3)
    f.close()
    f = s.connect(G.host("carestream-drx-1", "00:1d:4a:55:66:01", "10.30.8.44"), DC, 389)
    dn, password = "CN=svc-drx,OU=Service Accounts,OU=Radiology,DC=st-example,DC=org", "DRX-bind(2019)"
    end = ldap_bind(f, 1, dn, password)
    s.plant(f, end, credential("ldap", dn, "password", "simple-bind", password))
    technologist = [("displayName", ["R. Tech"]), ("memberOf", ["CN=RT-Staff,DC=st-example,DC=org"])]
    ldap_search(f, 2, "DC=st-example,DC=org", der(0xA3, der_str("sAMAccountName"), der_str("r.tech")),
                ["displayName", "memberOf"], [("CN=R. Tech,OU=Radiology,DC=st-example,DC=org", technologist)])
    ldap_unbind(f, 3)
    f.close()


def mqtt_capture(s: Sample) -> None:
    """MQTT: a pulse-oximetry hub connects with 3.1.1 (with a will), a smart bed with 5.0
    (session expiry and receive maximum properties); each publishes its status."""
    broker = server("mqtt-broker", "10.10.6.30")
    f = s.connect(G.host("masimo-root-12", "08:09:b6:10:22:12", "10.20.2.112"), broker, 1883)
    password = "R00t-Hub-Pass"
    end = mqtt_connect(f, "root-icu4-bed12", "masimo-root", password,
                       will=("st-example/icu4/bed12/root/status", "offline"))
    s.plant(f, end, credential("mqtt", "masimo-root", "password", "connect 3.1.1", password, host="root-icu4-bed12"))
    mqtt_publish(f, "st-example/icu4/bed12/root/status", b'{"state":"online","battery":92}')
    f.send("c", b"\xe0\x00")  # DISCONNECT
    f.close()
    f = s.connect(G.host("stryker-bed-07", "00:0d:d1:70:07:07", "10.20.4.107"), broker, 1883)
    password = "ProCuity!Bed07"
    properties = b"\x11" + struct.pack(">I", 3600) + b"\x21" + struct.pack(">H", 20)  # session expiry, receive max
    end = mqtt_connect(f, "procuity-w7-b07", "bed-telemetry", password, version=5, properties=properties,
                       connack_properties=b"\x22" + struct.pack(">H", 10))  # topic alias maximum
    s.plant(f, end, credential("mqtt", "bed-telemetry", "password", "connect 5.0", password, host="procuity-w7-b07"))
    mqtt_publish(f, "st-example/ward7/bed07/status", b'{"brake":true,"bed_exit_alarm":"armed"}', version=5)
    f.send("c", b"\xe0\x00")  # DISCONNECT, reason 0
    f.close()


def redis_capture(s: Sample) -> None:
    """Redis: an interface engine's cache with `requirepass` (AUTH password), and a worklist
    service with an ACL user (AUTH user password)."""
    cache = server("redis-01", "10.10.6.40")
    f = s.connect(server("mirth-01", "10.10.4.60"), cache, 6379)
    password = "c4che-Mirth-2025"
    end = redis_auth(f, password)
    s.plant(f, end, credential("redis", None, "password", "auth", password))
    redis_command(f, ["GET", "adt:last-sequence"], b"$5\r\n88213\r\n")
    f.close()
    f = s.connect(server("worklist-svc", "10.10.6.41"), cache, 6379)
    password = "Wl-ACL-pass-77"
    end = redis_auth(f, password, "worklist")
    s.plant(f, end, credential("redis", "worklist", "password", "auth", password))
    redis_command(f, ["CLIENT", "SETNAME", "worklist-svc"], b"+OK\r\n")
    f.close()


def smb_capture(s: Sample) -> None:
    """SMB2: an ultrasound system maps the export share of a file server with its domain account (NTLMv2)."""
    f = s.connect(G.host("us-logiq-02", "44:4b:5d:02:31:b2", "10.30.8.52"), server("fs01", "10.10.0.20"), 445)
    messages = ntlm_messages(f.flow_id, user="us-export", domain=NB_DOMAIN, workstation="US-LOGIQ-02",
                             server_name="fs01", dns_domain=DOMAIN, spn="cifs/fs01.st-example.org", at_ns=f.now_ns)
    end = smb_session_setup(f, f.flow_id, r"\\fs01.st-example.org\us-export", messages, f.now_ns)
    s.plant(f, end, credential("smb", "us-export", "hash", "NTLM", domain=NB_DOMAIN, host="US-LOGIQ-02",
                               notes=["NTLMv2"]))
    f.close()


def kerberos_capture(s: Sample) -> None:
    """Kerberos: a workstation logon. AS-REQ over UDP without pre-authentication (the KDC asks
    for it), again with PA-ENC-TIMESTAMP (the answer would not fit a datagram), then over TCP
    (the AS-REP with the TGT)."""
    user, label = "m.okafor", "kerberos/ws-pharm-07"
    service, weak = f"service krbtgt/{REALM}", ["etype rc4-hmac requested", "etype rc4-hmac-exp requested"]
    preauth = ["pre-authenticated (PA-ENC-TIMESTAMP)", service, *weak]
    for n, proved, nonce in ((1, False, 0x1F3A5C71), (2, True, 0x2B6D0E94)):
        port, at = s.next_port(), s.at()
        reply = krb_error(KRB_ERR_RESPONSE_TOO_BIG, REALM, at) if proved else preauth_required(REALM, user, at)
        frame = udp_exchange(s.cap, WORKSTATION, port, DC, 88, at,
                             as_req(f"{label}/{n}", user, REALM, "WS-PHARM-07", nonce, proved), reply)
        s.plant_udp(WORKSTATION, port, DC, 88, frame, credential("kerberos", user, "hash" if proved else "none",
                                                                 "AS-REQ", domain=REALM,
                                                                 notes=preauth if proved else [service, *weak]))
    f = s.connect(WORKSTATION, DC, 88)
    end = kerberos_tcp(f, as_req(f"{label}/3", user, REALM, "WS-PHARM-07", 0x2B6D0E95, True),
                       as_rep(label, user, REALM))
    s.plant(f, end, credential("kerberos", user, "hash", "AS-REQ", domain=REALM, notes=preauth))
    f.close()


def sip_capture(s: Sample) -> None:
    """SIP: a nurse's wireless handset registers over UDP, a nurse-call handset over TCP; each
    answers the PBX's Digest challenge."""
    pbx = server("pbx01", "10.10.8.5")
    handset = G.host("spectralink-8440", "00:90:7a:14:22:31", "10.20.8.131")
    password = "4711-Sp3ctra!"
    frame = sip_register_udp(s.cap, handset, 5060, pbx, s.at(), "4711", DOMAIN, password,
                             "Spectralink 8440 5.5.0.20581")
    s.plant_udp(handset, 5060, pbx, 5060, frame, credential("sip", "4711", "hash", "digest", password, domain=DOMAIN,
                                                            notes=["REGISTER", "algorithm MD5"]))
    f = s.connect(G.host("ascom-i63-12", "00:01:3e:40:16:12", "10.20.8.140"), pbx, 5060)
    password = "Ascom#i63-4812"
    end = sip_register(f, "4812", DOMAIN, password, "Ascom i63 5.4.4")
    s.plant(f, end, credential("sip", "4812", "hash", "digest", password, domain=DOMAIN,
                               notes=["REGISTER", "algorithm MD5"]))
    f.close()


IDP_CERT = G.server_leaf("idp.st-example.org", C.rsa_key(C.RSA_HL7_ENGINE), 0x3A0101)
"""The identity provider's signing certificate, carried in its SAML assertions."""


def saml_assertion(name_id: str, audience: str, issued_ns: int) -> str:
    """A signed SAML 2.0 assertion as an identity provider issues it (enveloped XML signature,
    RSA-SHA256, the IdP's certificate in KeyInfo): several KB, so a DICOM request with it spans
    segments. The digest is computed over the assertion; the signature value is random-looking
    (the canonical XML it would cover is not reproduced)."""
    issued = utc_text(issued_ns, "%Y-%m-%dT%H:%M:%SZ")
    until = utc_text(issued_ns + 3600 * 1_000_000_000, "%Y-%m-%dT%H:%M:%SZ")
    assertion_id = "_" + C.fixed_bytes(f"saml/{name_id}/id", 16).hex()
    issuer = "<saml2:Issuer>https://idp.st-example.org</saml2:Issuer>"
    claims = ('<saml2:Subject><saml2:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">'
              f'{name_id}</saml2:NameID><saml2:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"/>'
              f'</saml2:Subject><saml2:Conditions NotBefore="{issued}" NotOnOrAfter="{until}">'
              f"<saml2:AudienceRestriction><saml2:Audience>{audience}</saml2:Audience></saml2:AudienceRestriction>"
              "</saml2:Conditions>")
    digest = b64(hashlib.sha256((issuer + claims).encode()).digest())
    signature = ('<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
                 '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
                 '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
                 f'<ds:Reference URI="#{assertion_id}"><ds:Transforms><ds:Transform '
                 'Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/></ds:Transforms>'
                 '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>'
                 f"<ds:DigestValue>{digest}</ds:DigestValue></ds:Reference></ds:SignedInfo>"
                 f"<ds:SignatureValue>{b64(C.fixed_bytes(assertion_id + '/signature', 256))}</ds:SignatureValue>"
                 f"<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{b64(IDP_CERT.der)}</ds:X509Certificate>"
                 "</ds:X509Data></ds:KeyInfo></ds:Signature>")
    return (f'<saml2:Assertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion" ID="{assertion_id}" '
            f'IssueInstant="{issued}" Version="2.0">{issuer}{signature}{claims}</saml2:Assertion>')


IDENTITY_NAMES = {IDENTITY_USERNAME: "username", IDENTITY_PASSCODE: "username-passcode",
                  IDENTITY_KERBEROS: "kerberos", IDENTITY_SAML: "saml", IDENTITY_JWT: "jwt"}


def dicom_capture(s: Sample) -> None:
    """DICOM: five modalities and gateways associate with the PACS, each with one User Identity
    Negotiation type: user name (1), user name and passcode (2), Kerberos ticket (3, with the
    acceptor's response), SAML assertion (4), JWT (5, rejected: calling AE title not recognised)."""
    called = "PACS_STORE"

    def associate(device: C.Host, calling: str, kind: int, primary: bytes, fact: dict[str, Any],
                  secondary: bytes = b"", reject: bytes | None = None, response: bytes | None = None) -> None:
        f = s.connect(device, PACS, 104)
        identity = user_identity(kind, primary, secondary, response_requested=response is not None)
        rq_end, answer_end = dicom_association(f, calling, called, identity, reject,
                                               identity_response(response) if response else None)
        s.plant(f, rq_end, fact)
        s.associations.append(s.located(f, "c", rq_end) | association(
            "request", calling, called, IDENTITY_NAMES[kind]))
        if reject is None:
            s.associations.append(s.located(f, "s", answer_end) | association("accept", calling, called,
                                                                              result="accepted"))
        else:  # the reject PDU names no AE titles and no implementation
            s.associations.append(s.located(f, "s", answer_end) | association(
                "reject", "", "", result="rejected-permanent: calling-AE-title-not-recognized"))
        f.close()

    associate(G.host("vivid-e95-3", "44:4b:5d:02:95:03", "10.30.8.61"), "VIVID_E95", IDENTITY_USERNAME, b"echo-tech",
              credential("dicom", "echo-tech", "none", "user-identity-username"))
    passcode = "Carestream#2025"
    associate(G.host("carestream-drx-1", "00:1d:4a:55:66:01", "10.30.8.44"), "DRX_EVO_1", IDENTITY_PASSCODE,
              b"drx-tech", credential("dicom", "drx-tech", "passcode", "user-identity-username-passcode", passcode),
              secondary=passcode.encode())
    kerberos_ticket = ticket("dicom/syngo-rw3", REALM, "dicom", "pacs01.st-example.org")
    ap_rep = der(0x6F, der(0x30, der(0xA0, der_int(5)), der(0xA1, der_int(15)),
                           der(0xA2, encrypted(AES256, C.fixed_bytes("dicom/syngo-rw3/ap-rep", 40)))))
    associate(G.host("syngo-rw3", "f8:bc:12:40:30:03", "10.30.8.23"), "SYNGO_RW3", IDENTITY_KERBEROS, kerberos_ticket,
              credential("dicom", None, "token", "user-identity-kerberos", kerberos_ticket), response=ap_rep)
    saml = saml_assertion("ai-triage", "PACS_STORE", T0 - 60 * 1_000_000_000)
    associate(server("ai-triage", "10.10.6.50"), "AI_TRIAGE", IDENTITY_SAML, saml.encode(),
              credential("dicom", None, "token", "user-identity-saml", saml) | {"saml_name_id": "ai-triage"})
    iat, sub = T0 // 1_000_000_000 - 600, "telerad-gateway"
    claims = {"iss": "https://idp.st-example.org", "sub": sub, "aud": called, "iat": iat, "exp": iat + 3600}
    token = jwt(claims, SIGNING_KEY)
    associate(server("telerad-gw", "10.10.6.51"), "TELERAD_GW", IDENTITY_JWT, token.encode(),
              credential("dicom", sub, "token", "user-identity-jwt", token, claims=jwt_facts(claims)),
              reject=dicom_reject(REJECT_PERMANENT, SOURCE_SERVICE_USER, REASON_CALLING_AE_NOT_RECOGNIZED))


def association(pdu: str, calling: str, called: str, identity: str | None = None,
                result: str | None = None) -> dict[str, Any]:
    """A planted A-ASSOCIATE PDU's facts (a reject carries no implementation)."""
    uid, version = (None, None) if pdu == "reject" else (DCMTK_UID, DCMTK_VERSION)
    return {"pdu": pdu, "calling_ae": calling, "called_ae": called, "implementation_class_uid": uid,
            "implementation_version": version, "user_identity_type": identity, "result": result}


PATIENT_NAME, PATIENT_ID = "ROWAN^AVERY^J", "MRN55501234"
"""Made up: the leak test checks they never reach an output."""


def hl7_capture(s: Sample) -> None:
    """HL7 v2 over MLLP: a chemistry analyzer sends a result with an MSH-8 security string (and
    a made-up patient's PID), a hematology analyzer a QC result without one; the LIS acknowledges."""
    lis = server("lis", "10.40.0.10")
    s.patients += [PATIENT_NAME, PATIENT_ID]
    for device, app, facility, security, version, body in (
        (G.host("cobas-pro-1", "00:60:19:77:01:01", "10.40.1.31"), "COBAS_PRO", "CORE_LAB", "LabLink-7Qv2", "2.5.1",
         [f"PID|1||{PATIENT_ID}^^^ST_EXAMPLE^MR||{PATIENT_NAME}||19620714|F",
          "OBR|1|ORD88412|LAB5531|2345-7^Glucose^LN", "OBX|1|NM|2345-7^Glucose^LN||5.4|mmol/L|3.9-5.5|N|||F"]),
        (G.host("sysmex-xn-21", "00:06:6b:40:01:21", "10.40.1.21"), "XN-1000", "HEMATOLOGY", "", "2.3.1",
         ["OBR|1|QC-20250312-1||QC^XN CHECK L1", "OBX|1|NM|WBC^White blood cells||6.92|10*3/uL|6.50-7.30|N|||F"]),
    ):
        f = s.connect(device, lis, 2575)
        stamp = utc_text(f.now_ns, "%Y%m%d%H%M%S")
        control = f"{app[:3]}{s.step:04d}"
        message_type, ack_type = "ORU^R01^ORU_R01", "ACK^R01^ACK"
        message = "\r".join([f"MSH|^~\\&|{app}|{facility}|LIS|ST_EXAMPLE|{stamp}|{security}|{message_type}|{control}|P|"
                             f"{version}", *body]) + "\r"
        ack = (f"MSH|^~\\&|LIS|ST_EXAMPLE|{app}|{facility}|{stamp}||{ack_type}|A{control}|P|{version}\r"
               f"MSA|AA|{control}\r")
        msh_end, ack_end = hl7_exchange(f, message, ack)
        for d, end, who, to, kind in (("c", msh_end, (app, facility), ("LIS", "ST_EXAMPLE"), message_type),
                                      ("s", ack_end, ("LIS", "ST_EXAMPLE"), (app, facility), ack_type)):
            s.hl7_messages.append(s.located(f, d, end) | {
                "sending_application": who[0], "sending_facility": who[1], "receiving_application": to[0],
                "receiving_facility": to[1], "message_type": kind, "version": version})
        if security:
            s.plant(f, msh_end, credential("hl7", app, "passcode", "msh-8", security, domain=facility))
        f.close()


CAPTURES: tuple[tuple[str, Callable[[Sample], None]], ...] = (
    ("cred-http.pcap", http_capture),
    ("cred-ftp.pcap", ftp_capture),
    ("cred-telnet.pcap", telnet_capture),
    ("cred-pop3.pcap", pop3_capture),
    ("cred-imap.pcap", imap_capture),
    ("cred-smtp.pcap", smtp_capture),
    ("cred-snmp.pcap", snmp_capture),
    ("cred-ldap.pcap", ldap_capture),
    ("cred-mqtt.pcap", mqtt_capture),
    ("cred-redis.pcap", redis_capture),
    ("cred-smb.pcap", smb_capture),
    ("cred-kerberos.pcap", kerberos_capture),
    ("cred-sip.pcap", sip_capture),
    ("cred-dicom.pcap", dicom_capture),
    ("cred-hl7.pcap", hl7_capture),
)


def write(out: str, fname: str, build: Callable[[Sample], None]) -> None:
    """Build one capture; write it and its expected.json."""
    s = Sample(fname.split(".")[0])
    build(s)
    C.write_pcap(os.path.join(out, fname), s.cap.packets, 1)
    doc: dict[str, Any] = {
        "capture": fname,
        "description": " ".join((build.__doc__ or "").split()),
        "generated_by": "sample_pcaps/gen_credentials.py (facts planted by the generator, not read back)",
        "format": {"type": "pcap", "endian": "little", "resolution": "us", "linktype": 1},
        "frames": len(s.cap.packets),
        "credentials": s.credentials,
    }
    for key, facts in (("dicom_associations", s.associations), ("hl7_messages", s.hl7_messages),
                       ("patients", s.patients)):
        if facts:
            doc[key] = facts
    with open(os.path.join(out, fname.split(".")[0] + ".expected.json"), "w") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")


def main() -> None:
    """Write every credential capture."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "credentials"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for fname, build in CAPTURES:
        write(args.out, fname, build)


if __name__ == "__main__":
    main()
