"""HTTP/1.1 as devices and browsers speak it on a hospital network (RFC 9110), with each way
of presenting a credential: Basic (RFC 7617), Digest (RFC 7616), Bearer (RFC 6750), an API key
in a header or the query string, NTLM (RFC 4559).
"""

from __future__ import annotations

from collections.abc import Sequence

from .cleartext import b64, md5_hex
from .fixed import fixed_bytes
from .flows import TcpFlow

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


def http_call(flow: TcpFlow, request: bytes, response: bytes) -> int:
    """One request and its response on a (keep-alive) connection; returns the offset just past
    the request's header block (where its credentials are complete)."""
    start = flow.sent["c"]
    flow.send("c", request)
    flow.send("s", response)
    return start + request.index(b"\r\n\r\n") + 4


def page(title: str) -> bytes:
    """A small HTML page a device's web server answers with."""
    return f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>\n".encode()


def http_basic(flow: TcpFlow, host: str, realm: str, user: str, password: str, targets: Sequence[str]) -> int:
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
    cnonce, nc = fixed_bytes(label + "/cnonce", 8).hex(), "00000001"
    response = digest_response(user, realm, password, method, uri, nonce, nc, cnonce)
    return (f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", algorithm=MD5, '
            f'response="{response}", qop=auth, nc={nc}, cnonce="{cnonce}"')


def http_digest(flow: TcpFlow, host: str, target: str, realm: str, user: str, password: str,
                user_agent: str) -> int:
    """A client polling an IP camera: refused with a Digest challenge (MD5, qop=auth), it
    answers with the request-digest computed from the password (RFC 7616)."""
    nonce = b64(fixed_bytes(flow.flow_id + "/nonce", 24))
    agent = ("User-Agent", user_agent)
    http_call(flow, http_request("GET", target, host, [agent]),
              http_response("401 Unauthorized", [("WWW-Authenticate", f'Digest realm="{realm}", nonce="{nonce}", '
                                                                      'algorithm=MD5, qop="auth"')]))
    header = digest_header(flow.flow_id, user, realm, password, "GET", target, nonce)
    return http_call(flow, http_request("GET", target, host, [agent, ("Authorization", header)]),
                     http_response("200 OK", [("Content-Type", "image/jpeg")], fixed_bytes(flow.flow_id, 900)))


def http_bearer(flow: TcpFlow, host: str, target: str, token: str, bodies: Sequence[bytes]) -> int:
    """A device posting JSON to a REST API with an OAuth bearer token (RFC 6750), several
    requests on one keep-alive connection."""
    headers = [("Authorization", f"Bearer {token}"), ("Content-Type", "application/json"),
               ("User-Agent", "AlarisPCU/12.1.2"), ("Connection", "keep-alive")]
    ends = [http_call(flow, http_request("POST", target, host, headers, body), http_response("204 No Content"))
            for body in bodies]
    return ends[0]


def http_api_request(flow: TcpFlow, method: str, target: str, host: str, headers: Headers,
                     body: bytes = b"") -> int:
    """One API call whose key travels in a header or in the query string of `target`."""
    return http_call(flow, http_request(method, target, host, headers, body),
                     http_response("200 OK", [("Content-Type", "application/json")], b'{"status":"ok"}'))


def http_ntlm(flow: TcpFlow, host: str, target: str, messages: tuple[bytes, bytes, bytes]) -> int:
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

