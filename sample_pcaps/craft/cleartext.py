"""Line-oriented and small binary protocols whose logins a hospital sends in clear or nearly
so (the server's challenge before the answer, one keystroke per segment, keep-alive
connections): FTP (RFC 959, 4217), Telnet (RFC 854), POP3 (RFC 1939), IMAP (RFC 9051), SMTP
submission (RFC 4954), LDAP simple binds (RFC 4511), MQTT (3.1.1, 5.0), Redis (RESP).

Each conversation takes a connected `TcpFlow` (handshake done; closing is the caller's) and
returns the stream offset just past the message that carries the credential.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from collections.abc import Sequence

from .ber import der, der_int, der_str
from .flows import TcpFlow


def b64(data: bytes | str) -> str:
    """Standard base64 of bytes or UTF-8 text."""
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def md5_hex(text: str) -> str:
    """MD5 of UTF-8 text, lower-case hex (Digest and APOP are defined on it)."""
    return hashlib.md5(text.encode()).hexdigest()


def say(flow: TcpFlow, d: str, *lines: str | bytes) -> int:
    """Lines of a text protocol, CRLF-terminated, in one segment from side `d` ("c" or "s");
    returns the stream offset just past them."""
    flow.send(d, b"".join((line.encode() if isinstance(line, str) else line) + b"\r\n" for line in lines))
    return flow.sent[d]


def commands(flow: TcpFlow, *pairs: tuple[str, str | Sequence[str]]) -> None:
    """Client command lines, each answered by the server (with one line or several)."""
    for command, reply in pairs:
        say(flow, "c", command)
        say(flow, "s", *([reply] if isinstance(reply, str) else reply))


# --------------------------------------------------------------------------------------
# FTP (RFC 959, RFC 4217), Telnet (RFC 854), POP3 (RFC 1939), IMAP (RFC 9051), SMTP (RFC 4954)
# --------------------------------------------------------------------------------------


def ftp_login(flow: TcpFlow, greeting: str, user: str, password: str, auth_tls_reply: str | None = None) -> int:
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


LOGGED_IN, LOGIN_INCORRECT = "230 Login successful.", "530 Login incorrect."
"""vsftpd's replies to PASS."""


def ftp_logins(flow: TcpFlow, greeting: str, logins: Sequence[tuple[str, str, str]],
               pause_us: int = 1_500_000) -> list[tuple[int, int]]:
    """Greeting, then USER/PASS for each (user, password, the server's reply to PASS); after a
    refusal the connection stays open for the next try, as vsftpd keeps it up to
    `max_login_fails`, answering each late (`pause_us`, its `delay_failed_login`). Returns, per
    login, the stream offsets just past the PASS line and past the reply."""
    say(flow, "s", greeting)
    ends = []
    for user, password, reply in logins:
        say(flow, "c", f"USER {user}")
        say(flow, "s", "331 Please specify the password.")
        sent = say(flow, "c", f"PASS {password}")
        if not reply.startswith("2"):
            flow.tick(pause_us)
        ends.append((sent, say(flow, "s", reply)))
    return ends


IAC, DO, WILL, SB, SE = 0xFF, 0xFD, 0xFB, 0xFA, 0xF0
ECHO, SGA, TTYPE, NAWS = 1, 3, 24, 31


def telnet_login(flow: TcpFlow, banner: str, user_keys: str, password: str, prompt: str = "login: ",
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


def pop3_user_pass(flow: TcpFlow, user: str, password: str) -> int:
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


def pop3_apop(flow: TcpFlow, user: str, password: str, timestamp: str) -> int:
    """A greeting with the server's timestamp, and APOP: the user and MD5(timestamp password)
    (RFC 1939 7), a digest the password never crosses in."""
    say(flow, "s", f"+OK POP3 server ready {timestamp}")
    end = say(flow, "c", f"APOP {user} {md5_hex(timestamp + password)}")
    say(flow, "s", "+OK maildrop has 2 messages (4471 octets)")
    return end


def sasl_plain(flow: TcpFlow, greeting: str, command: str, user: str, password: str, success: str) -> int:
    """A SASL PLAIN login (RFC 4616: authzid NUL user NUL password, in base64) whose response
    follows the server's empty continuation: POP3's AUTH, IMAP's AUTHENTICATE."""
    say(flow, "s", greeting)
    say(flow, "c", command)
    say(flow, "s", "+ ")
    end = say(flow, "c", b64(f"\0{user}\0{password}"))
    say(flow, "s", success)
    return end


def pop3_auth_plain(flow: TcpFlow, user: str, password: str) -> int:
    """AUTH PLAIN (RFC 5034)."""
    return sasl_plain(flow, POP3_GREETING, "AUTH PLAIN", user, password, "+OK Logged in.")


IMAP_GREETING = ("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN] "
                 "Dovecot ready.")
IMAP_CONTINUE = "+ Ready for additional command text"
IMAP_LOGGED_IN = "OK [CAPABILITY IMAP4rev1 SASL-IR ID ENABLE IDLE SORT LITERAL+ MOVE] Logged in"


def imap_quoted(text: str) -> str:
    """An IMAP quoted string: `"` and `\\` escaped with a backslash (RFC 9051 4.3)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def imap_login(flow: TcpFlow, user: str, password: str) -> int:
    """LOGIN with the user and password as quoted strings."""
    say(flow, "s", IMAP_GREETING)
    end = say(flow, "c", f"a001 LOGIN {imap_quoted(user)} {imap_quoted(password)}")
    say(flow, "s", "a001 " + IMAP_LOGGED_IN)
    return end


def imap_login_literal(flow: TcpFlow, user: str, password: str) -> int:
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


def imap_authenticate_plain(flow: TcpFlow, user: str, password: str) -> int:
    """AUTHENTICATE PLAIN (RFC 9051 6.2.2)."""
    return sasl_plain(flow, IMAP_GREETING, "a1 AUTHENTICATE PLAIN", user, password, "a1 " + IMAP_LOGGED_IN)


SMTP_EHLO_REPLY = ("250-mail.st-example.org", "250-PIPELINING", "250-SIZE 20480000", "250-AUTH PLAIN LOGIN CRAM-MD5",
                   "250-ENHANCEDSTATUSCODES", "250-8BITMIME", "250 SMTPUTF8")


def smtp_auth(flow: TcpFlow, helo: str, mechanism: str, user: str, password: str, challenge: str = "") -> int:
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


def smtp_send(flow: TcpFlow, sender: str, recipient: str, subject: str) -> None:
    """One short message after the login (no patient data: a device notice)."""
    commands(flow, (f"MAIL FROM:<{sender}>", "250 2.1.0 Ok"), (f"RCPT TO:<{recipient}>", "250 2.1.5 Ok"),
             ("DATA", "354 End data with <CR><LF>.<CR><LF>"))
    say(flow, "c", f"From: <{sender}>", f"To: <{recipient}>", f"Subject: {subject}", "", subject, ".")
    say(flow, "s", "250 2.0.0 Ok: queued as 4Tz3Qm1Xk7z9")
    commands(flow, ("QUIT", "221 2.0.0 Bye"))


# --------------------------------------------------------------------------------------
# LDAP (RFC 4511), MQTT (3.1.1 and 5.0), Redis (RESP)
# --------------------------------------------------------------------------------------

LDAP_SUCCESS = der(0x0A, b"\x00") + der(0x04) + der(0x04)
"""An LDAPResult: resultCode success, empty matchedDN and diagnosticMessage."""


def ldap_message(message_id: int, operation: bytes) -> bytes:
    """An LDAPMessage: messageID and the operation."""
    return der(0x30, der_int(message_id), operation)


def ldap_bind(flow: TcpFlow, message_id: int, dn: str, password: str) -> int:
    """A simple BindRequest (version 3; empty DN and password: anonymous) and its success."""
    request = ldap_message(message_id, der(0x60, der_int(3), der_str(dn), der_str(password, 0x80)))
    end = flow.send("c", request) + len(request)
    flow.send("s", ldap_message(message_id, der(0x61, LDAP_SUCCESS)))
    return end


def ldap_search(flow: TcpFlow, message_id: int, base: str, ldap_filter: bytes, attributes: Sequence[str],
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


def ldap_unbind(flow: TcpFlow, message_id: int) -> None:
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


def mqtt_connect(flow: TcpFlow, client_id: str, user: str, password: str, *, version: int = 4,
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


def mqtt_publish(flow: TcpFlow, topic: str, payload: bytes, version: int = 4) -> None:
    """A QoS 0 PUBLISH (device status, no patient data)."""
    flow.send("c", mqtt_packet(0x30, mqtt_string(topic) + (b"\x00" if version == 5 else b"") + payload))


def resp(*args: str) -> bytes:
    """A command as a RESP array of bulk strings, as client libraries send it."""
    return f"*{len(args)}\r\n".encode() + b"".join(f"${len(a.encode())}\r\n{a}\r\n".encode() for a in args)


def redis_command(flow: TcpFlow, args: Sequence[str], reply: bytes) -> int:
    """One command and its reply; returns the offset past the command."""
    start = flow.sent["c"]
    flow.send("c", command := resp(*args))
    flow.send("s", reply)
    return start + len(command)


def redis_auth(flow: TcpFlow, password: str, user: str | None = None) -> int:
    """AUTH password (requirepass) or AUTH user password (ACL users, Redis 6), answered +OK."""
    return redis_command(flow, ["AUTH", *([user] if user else []), password], b"+OK\r\n")


