"""Whole TLS connections over a `TcpFlow` (TCP handshake, both flights, application data, FIN),
with the facts an expected file records about them and the stream marks that resolve to the
frames completing each handshake message.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from .capture import Capture
from .certs import Cert
from .fixed import fixed_int
from .flows import TcpFlow, endpoint
from .keys import ec_key
from .tls import (
    SECP256R1,
    TLS10,
    TLS12,
    ClientHello,
    ServerHello,
    alert12,
    appdata12,
    appdata13,
    ccs,
    certificate12,
    certificate13,
    certificate_request12,
    certificate_request13,
    certificate_verify12,
    client_key_exchange_ecdhe,
    client_key_exchange_rsa,
    encrypted_finished12,
    flight,
    server_hello_done,
    server_key_exchange_ecdhe,
)

SendHook = Callable[[TcpFlow, str, bytes], None]
"""Sends one flight's bytes in a direction of a flow (to cut, reorder or fragment them)."""


def _default_send(flow: TcpFlow, d: str, data: bytes) -> None:
    flow.send(d, data)


@dataclass
class Conn:
    """One planted TLS connection: facts for expected.json plus stream marks to resolve to
    frame numbers once the whole capture is built."""

    flow: TcpFlow
    facts: dict[str, Any]
    marks: dict[str, tuple[str, int]] = field(default_factory=dict)

    def mark(self, key: str, d: str, start: int, ends: dict[str, int], msg: str) -> None:
        """Remember where message `msg` ends in direction d (flight starting at `start`)."""
        self.marks[key] = (d, start + ends[msg])

    def resolve(self, cap: Capture) -> dict[str, Any]:
        """Facts with the frames that complete each marked message (1-based)."""
        frames = {k: cap.completion_frame(self.flow.flow_id, d, e) for k, (d, e) in self.marks.items()}
        return {**self.facts, "frames": dict(sorted(frames.items()))}


def _base_facts(flow: TcpFlow, ch: ClientHello, sh: ServerHello) -> dict[str, Any]:
    return {
        "client": endpoint(flow, "c"),
        "server": endpoint(flow, "s"),
        "client_mac": flow.hosts["c"].mac,
        "server_mac": flow.hosts["s"].mac,
        "vlans": [vid for _, vid in flow.link.vlans],
        "iface": flow.iface,
        "sni": ch.sni,
        "alpn_offered": ch.alpn,
        "versions_offered": ch.versions,
        "tls_version": sh.chosen_version,
        "cipher": f"0x{sh.cipher:04X}",
        "ja3_string": ch.ja3_string,
        "ja3": ch.ja3,
        "ja3s_string": sh.ja3s_string,
        "ja3s": sh.ja3s,
    }


def tls12_connection(
    flow: TcpFlow,
    *,
    ch: ClientHello,
    sh: ServerHello,
    server_chain: Sequence[Cert],
    ca_names: Sequence[x509.Name] | None,
    client_chain: Sequence[Cert] | None,
    kx: str = "rsa",
    coalesce: bool = True,
    max_fragment: int = 16384,
    app: Sequence[tuple[str, int]] = (("c", 300), ("s", 900)),
    syn: bool = True,
    close: bool = True,
    hooks: dict[str, SendHook] | None = None,
    label: str = "",
    alert: int | None = None,
) -> Conn:
    """A full TLS 1.2 connection: TCP handshake, ClientHello, server flight (Certificate,
    optional ServerKeyExchange and CertificateRequest), client flight (Certificate,
    ClientKeyExchange, CertificateVerify, CCS, Finished), server CCS/Finished, some
    application data, FIN.

    ca_names None: no CertificateRequest. client_chain None: no client Certificate (only
    valid without a CertificateRequest); [] an empty Certificate message.
    hooks: optional senders for "client_hello", "server_flight", "client_flight".
    alert: the server refuses the client's flight with this fatal alert in clear (e.g. 45
    certificate_expired) instead of its CCS/Finished; no application data follows.
    """
    hooks = hooks or {}
    label = label or flow.flow_id
    conn = Conn(flow, _base_facts(flow, ch, sh))
    if syn:
        flow.handshake()
    # ClientHello
    data, ends = flight([("ch", ch.encode(), "hs1")], TLS10 if ch.version <= TLS12 else TLS12)
    start = flow.sent["c"]
    hooks.get("client_hello", _default_send)(flow, "c", data)
    conn.mark("client_hello", "c", start, ends, "ch")
    transcript = ch.encode()
    # server flight
    kind = "hs" if coalesce else "hs1"
    items = [("sh", sh.encode(), kind), ("cert", certificate12(server_chain), kind)]
    srv_key = server_chain[0].key
    if kx == "ecdhe":
        eph = ec_key(fixed_int(label + "/s-eph", 16))
        items.append(("ske", server_key_exchange_ecdhe(eph, SECP256R1, srv_key, ch.random, sh.random), kind))
    if ca_names is not None:
        items.append(("cr", certificate_request12(ca_names), kind))
    items.append(("shd", server_hello_done(), kind))
    data, ends = flight(items, TLS12, max_fragment)
    transcript += b"".join(i[1] for i in items)
    start = flow.sent["s"]
    hooks.get("server_flight", _default_send)(flow, "s", data)
    conn.mark("server_hello", "s", start, ends, "sh")
    conn.mark("server_certificate", "s", start, ends, "cert")
    if ca_names is not None:
        conn.mark("certificate_request", "s", start, ends, "cr")
    # client flight
    items = []
    if client_chain is not None:
        items.append(("cert", certificate12(client_chain), kind))
    if kx == "ecdhe":
        eph = ec_key(fixed_int(label + "/c-eph", 16))
        items.append(("cke", client_key_exchange_ecdhe(eph), kind))
    else:
        pub = srv_key.public_key()
        size = pub.key_size // 8 if isinstance(pub, rsa.RSAPublicKey) else 256
        items.append(("cke", client_key_exchange_rsa(label + "/pms", size), kind))
    transcript += b"".join(i[1] for i in items)
    if client_chain:
        items.append(("cv", certificate_verify12(client_chain[0].key, transcript), kind))
    items += [("ccs", ccs(), "raw"), ("fin", encrypted_finished12(label + "/c-fin"), "raw")]
    data, ends = flight(items, TLS12, max_fragment)
    start = flow.sent["c"]
    hooks.get("client_flight", _default_send)(flow, "c", data)
    if client_chain is not None:
        conn.mark("client_certificate", "c", start, ends, "cert")
    if alert is not None:
        data, ends = flight([("alert", alert12(alert), "raw")], TLS12)
        start = flow.sent["s"]
        flow.send("s", data)
        conn.mark("server_alert", "s", start, ends, "alert")
    else:
        flow.send("s", ccs() + encrypted_finished12(label + "/s-fin"))
        for i, (d, n) in enumerate(app):
            flow.send(d, appdata12(f"{label}/app{i}", n))
    if close:
        flow.close()
    conn.facts.update(
        {
            "certificate_request": ca_names is not None,
            "certificate_request_ca_names": [n.rfc4514_string() for n in ca_names or ()],
            "client_chain": [c.facts() for c in client_chain or ()],
            "server_chain": [c.facts() for c in server_chain],
        }
    )
    return conn


def tls13_connection(
    flow: TcpFlow,
    *,
    ch: ClientHello,
    sh: ServerHello,
    server_chain: Sequence[Cert],
    client_chain: Sequence[Cert] | None,
    hash_len: int = 32,
    app: Sequence[tuple[str, int]] = (("c", 420), ("s", 1800)),
    tickets: int = 2,
    label: str = "",
) -> Conn:
    """A TLS 1.3 connection. Everything after ServerHello is encrypted: the server's
    EncryptedExtensions, [CertificateRequest], Certificate, CertificateVerify and Finished
    each in an application_data record of the real size; the client's flight is CCS +
    [Certificate + CertificateVerify] + Finished. client_chain None: no client auth."""
    label = label or flow.flow_id
    conn = Conn(flow, _base_facts(flow, ch, sh))
    flow.handshake()
    data, ends = flight([("ch", ch.encode(), "hs1")], TLS10)
    start = flow.sent["c"]
    flow.send("c", data)
    conn.mark("client_hello", "c", start, ends, "ch")
    srv_sig = 4 + 2 + 2 + 256  # RSA-PSS 2048
    ee = 4 + 2 + (11 if ch.alpn else 0)
    recs = [("sh", sh.encode(), "hs1"), ("ccs", ccs(), "raw"), ("ee", appdata13(label + "/ee", ee), "raw")]
    if client_chain is not None:
        recs.append(("cr", appdata13(label + "/cr", len(certificate_request13())), "raw"))
    recs += [
        ("cert", appdata13(label + "/scert", len(certificate13(server_chain))), "raw"),
        ("cv", appdata13(label + "/scv", srv_sig), "raw"),
        ("fin", appdata13(label + "/sfin", 4 + hash_len), "raw"),
    ]
    data, ends = flight(recs, TLS12)
    start = flow.sent["s"]
    flow.send("s", data)
    conn.mark("server_hello", "s", start, ends, "sh")
    recs = [("ccs", ccs(), "raw")]
    if client_chain is not None:
        key = client_chain[0].key
        cv = 4 + 2 + 2 + (72 if isinstance(key, ec.EllipticCurvePrivateKey) else key.key_size // 8)
        recs += [
            ("cert", appdata13(label + "/ccert", len(certificate13(client_chain))), "raw"),
            ("cv", appdata13(label + "/ccv", cv), "raw"),
        ]
    recs.append(("fin", appdata13(label + "/cfin", 4 + hash_len), "raw"))
    data, ends = flight(recs, TLS12)
    flow.send("c", data)
    encrypted = data[6:]  # after the 6-byte CCS record
    for i in range(tickets):
        flow.send("s", appdata13(f"{label}/nst{i}", 4 + 4 + 4 + 1 + 8 + 2 + 192 + 2))
    for i, (d, n) in enumerate(app):
        flow.send(d, appdata13(f"{label}/app{i}", n))
    flow.close()
    n_rec = 0
    i = 0
    while i < len(encrypted):
        n_rec += 1
        i += 5 + struct.unpack_from("!H", encrypted, i + 3)[0]
    conn.facts.update(
        {
            "certificate_request": None,
            "client_chain": [],
            "server_chain": [],
            "tls13": {
                "client_flight_mutual_auth_shaped": client_chain is not None,
                "client_flight_bytes": len(encrypted),
                "client_flight_records": n_rec,
                "client_flight_record_lengths": [len(r[1]) - 5 for r in recs[1:]],
                "encrypted_client_chain": [
                    {"subject": c.facts()["subject"], "sha1": c.sha1} for c in client_chain or ()
                ],
                "encrypted_server_chain": [
                    {"subject": c.facts()["subject"], "sha1": c.sha1} for c in server_chain
                ],
            },
        }
    )
    return conn

