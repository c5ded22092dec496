"""The remote-access and addressing samples (sample_pcaps/remote-access/, written by gen_remote.py)
against the facts their generator planted and against tshark; and tshark's `ssh.protocol` over
the real captures.

Planted facts are wire values (RDP protocol bits, RFB security type numbers, DHCP options);
the names trustwatch gives them are spelled out here from the specifications, not taken from
the sensor, so a wrong table in the sensor fails.
"""

from __future__ import annotations

import ast
import hashlib
import json
import subprocess
import xml.etree.ElementTree as ET
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REAL_PCAPS, SAMPLES, needs_real_pcaps
from trustwatch.sensor.flowid import Endpoint
from trustwatch.sensor.records import (
    DhcpLease,
    DnsAnswer,
    Observation,
    RemoteAccessSession,
    TlsClientCertificate,
    TlsServerCertificate,
)
from trustwatch.sensor.sense import Sensor

HERE = SAMPLES / "remote-access"
EXPECTED = sorted(HERE.glob("*.expected.json"))
RDP_PROTOCOLS = {0x1: "TLS", 0x2: "CredSSP", 0x4: "RDSTLS", 0x8: "CredSSP-EarlyUserAuth"}
"""MS-RDPBCGR 2.2.1.1.1 PROTOCOL_SSL, _HYBRID, _RDSTLS, _HYBRID_EX, in trustwatch's words."""
RDP_FAILURES = {2: "SSL_NOT_ALLOWED_BY_SERVER"}
RFB_SECURITY = {1: "None", 2: "VNC Authentication", 19: "VeNCrypt"}
"""RFC 6143 7.1.2 and the IANA RFB security types."""


def test_every_capture_has_its_planted_facts() -> None:
    assert len(EXPECTED) == 9, EXPECTED
    assert all((HERE / json.loads(p.read_text())["capture"]).is_file() for p in EXPECTED)


@cache
def facts(name: str) -> dict[str, Any]:
    """The planted facts of one capture."""
    return dict(json.loads((HERE / f"{name}.expected.json").read_text()))


@cache
def sensed(name: str) -> tuple[Observation, ...]:
    """trustwatch's observations of one capture (read once), checked to be clean."""
    sensor = Sensor()
    observations = tuple(sensor.read(str(HERE / facts(name)["capture"])))
    assert sensor.report.captures[0].frames == facts(name)["frames"]
    assert sensor.report.captures[0].warnings == []
    assert not sensor.weirds.counts, sensor.weirds.counts
    return observations


def names() -> list[str]:
    return [p.name.split(".")[0] for p in EXPECTED]


def endpoint(ep: Endpoint) -> str:
    return f"{ep.ip}:{ep.port}"


def micros(iso: str) -> int:
    return round(datetime.fromisoformat(iso).timestamp() * 1_000_000)


# --------------------------------------------------------------------------------------
# trustwatch against the planted facts
# --------------------------------------------------------------------------------------


def security(planted: dict[str, Any], protocol: str) -> tuple[str, ...]:
    """The security facts a session states, from the planted wire values."""
    p = planted["planted"]
    if protocol == "rdp":
        def bits(value: int) -> list[str]:
            return [name for bit, name in RDP_PROTOCOLS.items() if value & bit] or ["RDP"]

        out = [f"requested {n}" for n in bits(p["requested_protocols"])]
        if p["failure_code"] is not None:
            return (*out, f"refused {RDP_FAILURES[p['failure_code']]}")
        return (*out, *(f"selected {n}" for n in bits(p["selected_protocol"])))
    if protocol == "vnc":
        return (*(f"offered {RFB_SECURITY[t]}" for t in p["security_types"]),
                f"chosen {RFB_SECURITY[p['chosen_security_type']]}")
    return ()


def recognition(planted: dict[str, Any]) -> str:
    """How the catalog or the protocol recognised the session, as matched_by begins."""
    how, p = planted["recognised_by"], planted["planted"]
    if how == "rdp x.224":
        return "rdp x.224 connection request"
    if how == "signature":
        return f"signature {p['first_bytes']}@0"
    if how in ("sni", "dns"):
        return f"{how} {planted['remote_name']}"
    if how == "certificate":
        return f"certificate {p['tls']['client_chain'][0]['subject']}"
    return str(how)


def session_view(s: RemoteAccessSession) -> tuple[Any, ...]:
    return (endpoint(s.flow.orig), endpoint(s.flow.resp), str(s.protocol), s.vendor, s.product, s.direction,
            s.remote_name, s.user, s.client_software, s.server_software, s.hassh, s.hassh_server, s.security,
            round(s.start * 1_000_000), round(s.end * 1_000_000), s.bytes_orig, s.bytes_resp)


def planted_view(p: dict[str, Any]) -> tuple[Any, ...]:
    return (p["client"], p["server"], p["protocol"], p["vendor"], p["product"], p["direction"], p["remote_name"],
            p["user"], p["client_software"], p["server_software"], p["hassh"], p["hassh_server"],
            security(p, p["protocol"]), micros(p["start"]), micros(p["end"]), p["bytes_orig"], p["bytes_resp"])


@pytest.mark.parametrize("name", names())
def test_sessions_are_the_planted_ones(name: str) -> None:
    ours = {(endpoint(o.flow.orig), endpoint(o.flow.resp)): o for o in sensed(name)
            if isinstance(o, RemoteAccessSession)}
    planted = facts(name)["sessions"]
    assert sorted(session_view(o) for o in ours.values()) == sorted(planted_view(p) for p in planted)
    for p in planted:
        session = ours[(p["client"], p["server"])]
        assert session.matched_by.startswith(recognition(p)), (session.matched_by, p["recognised_by"])
        assert session.start <= session.ts <= session.end


@pytest.mark.parametrize("name", [n for n in names() if any("tls" in s["planted"] for s in facts(n)["sessions"])])
def test_certificates_of_the_sessions_are_read(name: str) -> None:
    """RDP's TLS after the X.224 negotiation, AnyDesk's mutual TLS, the vendor clouds: both chains."""
    for p in (s for s in facts(name)["sessions"] if "tls" in s["planted"]):
        tls = p["planted"]["tls"]
        on_flow = [o for o in sensed(name) if (endpoint(o.flow.orig), endpoint(o.flow.resp)) == (p["client"],
                                                                                                 p["server"])]
        for cls, side in ((TlsServerCertificate, "server_chain"), (TlsClientCertificate, "client_chain")):
            chains = [[c.sha1 for c in o.chain] for o in on_flow if type(o) is cls]
            assert chains == ([[c["sha1"] for c in tls[side]]] if tls[side] else []), (p["client"], side)


def lease_view(lease: DhcpLease) -> tuple[Any, ...]:
    return (frozenset((endpoint(lease.flow.orig), endpoint(lease.flow.resp))), lease.message_type, lease.client_mac,
            lease.ip, lease.lease_seconds, lease.hostname, lease.vendor_class, lease.parameter_list,
            lease.client_id, lease.server_id)


def planted_lease(p: dict[str, Any]) -> tuple[Any, ...]:
    return (frozenset((p["src"], p["dst"])), p["message_type"], p["client_mac"].replace(":", "-").upper(), p["ip"],
            p["lease_seconds"], p["hostname"], p["vendor_class"], tuple(p["parameter_list"]), p["client_id"],
            p["server_id"])


def answer_view(a: DnsAnswer) -> tuple[Any, ...]:
    return (a.flow.orig.ip, a.flow.resp.ip, a.flow.transport, a.query, a.query_type, a.rcode, a.addresses, a.cnames,
            a.ttl)


def planted_answer(p: dict[str, Any]) -> tuple[Any, ...]:
    return (p["client"], p["server"], p["transport"], p["query"], p["query_type"], p["rcode"], tuple(p["addresses"]),
            tuple(p["cnames"]), p["ttl"])


@pytest.mark.parametrize("name", names())
def test_leases_and_dns_answers_are_the_planted_ones(name: str) -> None:
    """Every DHCP message is a lease record, in order; every DNS response with addresses is an
    answer (NXDOMAIN and the truncated UDP response carry none: documented, not emitted)."""
    obs = sensed(name)
    assert [lease_view(o) for o in obs if isinstance(o, DhcpLease)] == [planted_lease(p) for p in facts(name)["leases"]]
    assert [answer_view(o) for o in obs if isinstance(o, DnsAnswer)] == [
        planted_answer(p) for p in facts(name)["dns_answers"] if p["addresses"]]


def test_the_samples_plant_what_the_issue_asks_for() -> None:
    """A guard on the generator: each protocol case is really in its capture."""
    rdp = [s["planted"] for s in facts("remote-rdp")["sessions"]]
    assert {p["cookie"].split("=")[0] for p in rdp} == {"mstshash", "msts"}
    assert any(p["failure_code"] for p in rdp) and any(p.get("tls") for p in rdp)
    assert {s["planted"]["client_version"] for s in facts("remote-vnc")["sessions"]} == {"003.003", "003.008"}
    assert any(s["planted"]["pre_banner_lines"] for s in facts("remote-ssh")["sessions"])
    kinds = {s["recognised_by"] for n in names() for s in facts(n)["sessions"]}
    assert {"signature", "sni", "dns", "certificate"} <= kinds
    assert {lease["message_type"] for lease in facts("addr-dhcp")["leases"]} == {
        "discover", "offer", "request", "ack", "nak", "release"}
    assert any(lease["giaddr"] != "0.0.0.0" for lease in facts("addr-dhcp")["leases"])
    answers = facts("addr-dns")["dns_answers"]
    assert {a["query_type"] for a in answers} == {"A", "AAAA"} and {a["transport"] for a in answers} == {"udp", "tcp"}
    assert any(a["cnames"] for a in answers) and any(a["rcode"] == "NXDOMAIN" for a in answers)


# --------------------------------------------------------------------------------------
# tshark against the planted facts and trustwatch
# --------------------------------------------------------------------------------------


def tshark_rows(path: Path, display: str, *fields: str, decode_as: tuple[str, ...] = ()) -> list[dict[str, str]]:
    """One dict per matching frame; repeated fields joined with ","."""
    cmd = ["tshark", "-n", "-r", str(path), *decode_as, "-Y", display, "-T", "fields", "-E", "occurrence=a",
           "-E", "aggregator=,"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [dict(zip(fields, line.split("\t"), strict=True)) for line in out.splitlines()]


def tshark_pdml(path: Path, display: str) -> list[ET.Element]:
    """tshark's full dissection of the matching frames (PDML keeps sections and raw bytes)."""
    cmd = ["tshark", "-n", "-r", str(path), "-Y", display, "-T", "pdml"]
    return ET.fromstring(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout).findall("packet")


def by_frame(name: str, cls: type) -> dict[int, Any]:
    """trustwatch's observations of a kind by the last frame of their evidence."""
    return {o.evidence.frames[-1]: o for o in sensed(name) if isinstance(o, cls)}


def der_sha1(hex_der: str) -> str:
    """SHA-1 of a certificate tshark printed as hex."""
    return hashlib.sha1(bytes.fromhex(hex_der.replace(":", ""))).hexdigest()


def stream_ends(rows: list[dict[str, str]]) -> dict[str, str]:
    """tcp.stream -> "client ip:port" (the sender of its first row)."""
    out: dict[str, str] = {}
    for r in rows:
        out.setdefault(r["tcp.stream"], f"{r['ip.src']}:{r['tcp.srcport']}")
    return out


def test_rdp_as_tshark() -> None:
    """rdp.rt_cookie and the negotiation fields equal the planted ones; trustwatch's user is the
    mstshash cookie (a routing token names no user); with TLS decoded after the negotiation
    (tshark 4.0 does not follow RDP's switch to TLS on 3389 by itself) both read the same
    server certificates."""
    path = HERE / "remote-rdp.pcap"
    rows = tshark_rows(path, "rdp.neg_type", "tcp.stream", "ip.src", "tcp.srcport", "rdp.rt_cookie",
                       "rdp.negReq.requestedProtocols", "rdp.negReq.selectedProtocol", "rdp.negFailure.failureCode")
    clients = stream_ends(rows)
    theirs: dict[str, dict[str, Any]] = {c: {} for c in clients.values()}
    for r in rows:
        t = theirs[clients[r["tcp.stream"]]]
        for field in ("rdp.rt_cookie", "rdp.negReq.requestedProtocols", "rdp.negReq.selectedProtocol",
                      "rdp.negFailure.failureCode"):
            if r[field]:
                t[field] = r[field]
    sessions = {endpoint(o.flow.orig): o for o in sensed("remote-rdp") if isinstance(o, RemoteAccessSession)}
    planted = facts("remote-rdp")["sessions"]
    assert set(theirs) == {p["client"] for p in planted} == set(sessions)
    for p in planted:
        t, q = theirs[p["client"]], p["planted"]
        assert t["rdp.rt_cookie"] == f"Cookie: {q['cookie']}"
        assert int(t["rdp.negReq.requestedProtocols"], 16) == q["requested_protocols"]
        if q["failure_code"] is None:
            assert int(t["rdp.negReq.selectedProtocol"], 16) == q["selected_protocol"]
        else:
            assert int(t["rdp.negFailure.failureCode"], 16) == q["failure_code"]
        cookie = t["rdp.rt_cookie"].removeprefix("Cookie: ")
        assert sessions[p["client"]].user == (cookie.removeprefix("mstshash=") if "mstshash=" in cookie else None)
    certs = tshark_rows(path, "tls.handshake.type == 11", "tls.handshake.certificate",
                        decode_as=("-d", "tcp.port==3389,tls"))
    tshark_sha1 = sorted(der_sha1(c) for r in certs for c in r["tls.handshake.certificate"].split(","))
    ours = sorted(c.sha1 for o in sensed("remote-rdp") if isinstance(o, TlsServerCertificate) for c in o.chain)
    planted_sha1 = sorted(c["sha1"] for p in planted if "tls" in p["planted"]
                          for c in p["planted"]["tls"]["server_chain"])
    assert tshark_sha1 == ours == planted_sha1


def test_vnc_as_tshark() -> None:
    """vnc.server_proto_ver/client_proto_ver, the offered list (vnc.security_type), the client's
    choice (3.7+) or the server's (3.3: vnc.server_security_type) equal the planted values and
    trustwatch's session."""
    rows = tshark_rows(HERE / "remote-vnc.pcap", "vnc", "tcp.stream", "ip.src", "tcp.srcport", "vnc.server_proto_ver",
                       "vnc.client_proto_ver", "vnc.security_type", "vnc.client_security_type",
                       "vnc.server_security_type", "vnc.auth_result")
    seen: dict[str, dict[str, str]] = {}
    for r in rows:
        stream = seen.setdefault(r["tcp.stream"], {})
        stream.update({k: v for k, v in r.items() if v and k not in stream})
    theirs = {}
    for t in seen.values():
        offered = [int(x) for x in (t.get("vnc.security_type") or t["vnc.server_security_type"]).split(",")]
        chosen = int(t.get("vnc.client_security_type") or t["vnc.server_security_type"])
        theirs[(t["vnc.server_proto_ver"], t["vnc.client_proto_ver"])] = (offered, chosen, int(t["vnc.auth_result"]))
    planted = {(p["planted"]["server_version"], p["planted"]["client_version"]):
               (p["planted"]["security_types"], p["planted"]["chosen_security_type"], 0)
               for p in facts("remote-vnc")["sessions"]}
    assert theirs == planted
    ours = {(s.server_software, s.client_software): s.security for s in sensed("remote-vnc")
            if isinstance(s, RemoteAccessSession)}
    assert ours == {(f"RFB {sv}", f"RFB {cv}"): (*(f"offered {RFB_SECURITY[t]}" for t in offered),
                                                 f"chosen {RFB_SECURITY[chosen]}")
                    for (sv, cv), (offered, chosen, _ok) in theirs.items()}


TSHARK_SSH_MISSES = {
    "10.20.1.60:22": "tshark 4.0 takes the server's first bytes for its version line or a binary packet; "
                     "behind a 19-line notice (RFC 4253 4.2 allows such lines) it finds neither the "
                     "server's version line nor its KEXINIT",
}
"""Server ends whose banner and HASSHServer tshark misses and the planted bytes carry."""


def test_ssh_as_tshark() -> None:
    """ssh.protocol, ssh.kex.hassh and ssh.kex.hasshserver per endpoint: tshark, trustwatch and
    the planted values agree, except where tshark misses what the bytes carry (listed, and
    checked to be still missing and planted)."""
    rows = tshark_rows(HERE / "remote-ssh.pcap", "ssh.protocol || ssh.message_code == 20", "ip.src",
                       "tcp.srcport", "ssh.protocol", "ssh.kex.hassh", "ssh.kex.hasshserver")
    theirs = {(f"{r['ip.src']}:{r['tcp.srcport']}", v) for r in rows
              for v in (r["ssh.protocol"], r["ssh.kex.hassh"], r["ssh.kex.hasshserver"]) if v}
    ours = {(endpoint(ep), v) for s in sensed("remote-ssh") if isinstance(s, RemoteAccessSession)
            for ep, values in ((s.flow.orig, (s.client_software, s.hassh)),
                               (s.flow.resp, (s.server_software, s.hassh_server)))
            for v in values if v}
    planted = {(end, p[key]) for p in facts("remote-ssh")["sessions"]
               for end, keys in ((p["client"], ("client_software", "hassh")),
                                 (p["server"], ("server_software", "hassh_server")))
               for key in keys}
    assert ours == planted
    missed = planted - theirs
    assert {end for end, _ in missed} == set(TSHARK_SSH_MISSES)
    assert theirs == planted - missed


DHCP_TYPES = {"1": "discover", "2": "offer", "3": "request", "5": "ack", "6": "nak", "7": "release"}


def test_dhcp_as_tshark() -> None:
    """Per frame: tshark's options (code and raw value, PDML) are the planted ones, and its
    dhcp.option.* / address fields are trustwatch's lease."""
    packets = tshark_pdml(HERE / "addr-dhcp.pcap", "dhcp")
    planted = facts("addr-dhcp")["leases"]
    ours = by_frame("addr-dhcp", DhcpLease)
    assert len(packets) == len(planted) == len(ours)
    for frame, (packet, p) in enumerate(zip(packets, planted, strict=True), 1):
        options = {f.get("show"): f.get("value", "")[4:] for f in packet.iter("field")
                   if f.get("name") == "dhcp.option.type" and f.get("value") != "ff"}
        assert options == p["options"], frame

        lease = ours[frame]
        assert DHCP_TYPES[shown(packet, "dhcp.option.dhcp")[0]] == lease.message_type
        assert shown(packet, "dhcp.hw.mac_addr")[0].replace(":", "-").upper() == lease.client_mac
        assert shown(packet, "dhcp.ip.relay") == [p["giaddr"]]
        assert first(packet, "dhcp.option.hostname") == lease.hostname
        assert first(packet, "dhcp.option.vendor_class_id") == lease.vendor_class
        assert tuple(int(x) for x in shown(packet, "dhcp.option.request_list_item")) == lease.parameter_list
        assert first(packet, "dhcp.option.dhcp_server_id") == lease.server_id
        lease_time = first(packet, "dhcp.option.ip_address_lease_time")
        assert (int(lease_time.split()[0]) if lease_time else None) == lease.lease_seconds
        concerned = [a for name in ("dhcp.ip.your", "dhcp.option.requested_ip_address", "dhcp.ip.client")
                     for a in shown(packet, name) if a != "0.0.0.0"]
        assert (concerned[0] if concerned else None) == lease.ip


def shown(element: ET.Element, name: str) -> list[str]:
    """The values tshark shows for a field, in order, anywhere under `element`."""
    return [f.get("show", "") for f in element.iter("field") if f.get("name") == name]


def first(element: ET.Element, name: str) -> str | None:
    """The first value shown for a field, if any."""
    values = shown(element, name)
    return values[0] if values else None


def test_dns_as_tshark() -> None:
    """Per response: dns.qry.name, dns.flags.rcode and the answer section's dns.a / dns.aaaa /
    dns.cname and TTLs (PDML: the authority and glue records of the compressed response are
    not answers) equal the planted facts and trustwatch's answers."""
    packets = tshark_pdml(HERE / "addr-dns.pcap", "dns.flags.response == 1")
    planted = facts("addr-dns")["dns_answers"]
    ours = by_frame("addr-dns", DnsAnswer)
    assert len(packets) == len(planted)
    rcodes = {"0": "NOERROR", "3": "NXDOMAIN"}
    emitted = []
    for packet, p in zip(packets, planted, strict=True):
        dns = next(proto for proto in packet.iter("proto") if proto.get("name") == "dns")
        qname, rcode = first(dns, "dns.qry.name"), first(dns, "dns.flags.rcode")
        answers = next((f for f in dns if f.get("show") == "Answers"), ET.Element("field"))
        addresses = [v for rr in answers for v in (*shown(rr, "dns.a"), *shown(rr, "dns.aaaa"))]
        ttls = [int(t) for t in shown(answers, "dns.resp.ttl")]
        theirs = (qname, rcodes[str(rcode)], addresses, shown(answers, "dns.cname"), min(ttls, default=None))
        assert theirs == (p["query"], p["rcode"], p["addresses"], p["cnames"], p["ttl"])
        frame = int(shown(packet, "frame.number")[0])
        if frame in ours:
            a = ours[frame]
            emitted.append(frame)
            assert (a.query, a.rcode, list(a.addresses), list(a.cnames), a.ttl) == theirs
    assert sorted(emitted) == sorted(ours)


# --------------------------------------------------------------------------------------
# ssh.protocol on the real captures
# --------------------------------------------------------------------------------------


def real_ssh_captures() -> list[str]:
    """Real captures with SSH: listed with banners in expected.json, or named for SSH."""
    if REAL_PCAPS is None:
        return []
    doc = json.loads((REAL_PCAPS / "expected.json").read_text())
    return sorted(f for f, v in doc.items() if not f.startswith("_") and (v.get("ssh_banners") or "ssh" in f))


def zeek_ssh_banners(name: str) -> set[tuple[str, str]]:
    """(address, banner) pairs of Zeek's own ssh.log baseline for a capture, if it has one."""
    assert REAL_PCAPS is not None
    meta = json.loads((REAL_PCAPS / "expected.json").read_text())[name]["_meta"]
    out = set()
    for log in (meta.get("peer_baseline") or {}).get("zeek", []):
        if "/ssh.log]" not in log["log"]:
            continue
        cols = ast.literal_eval(log["log"].split("cols=", 1)[1])
        for row in log["rows"]:
            r = dict(zip(cols, row.split("\t"), strict=True))
            out |= {(ip, banner) for ip, banner in ((r["id.orig_h"], r["client"]), (r["id.resp_h"], r["server"]))
                    if banner != "-"}  # Zeek's "unset"
    return out


@needs_real_pcaps
@pytest.mark.parametrize("name", real_ssh_captures())
def test_ssh_protocol_as_tshark_on_real_captures(name: str) -> None:
    """Every banner tshark's ssh.protocol shows, trustwatch shows for the same endpoint (tshark
    told to decode SSH on the non-22 ports where trustwatch found it by content). A banner only
    trustwatch shows must be in the capture's Zeek ssh.log baseline, and every banner of that
    baseline trustwatch shows: where tshark and trustwatch differ, Zeek's own log decides
    (server-pre-banner-data.pcap: the server's version line after 35 lines of text, which
    tshark 4.0 does not find)."""
    assert REAL_PCAPS is not None
    path = REAL_PCAPS / name
    sessions = [o for o in Sensor().read(str(path)) if isinstance(o, RemoteAccessSession) and o.protocol == "ssh"]
    ports = sorted({s.flow.resp.port for s in sessions} - {22})
    decode_as = tuple(a for p in ports for a in ("-d", f"tcp.port=={p},ssh"))
    cmd = ["tshark", "-n", "-r", str(path), *decode_as, "-Y", "ssh.protocol", "-T", "fields", "-E", "occurrence=l",
           "-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport", "-e", "ssh.protocol"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    theirs = {(v4 or v6, int(port), banner) for v4, v6, port, banner in (line.split("\t") for line in out.splitlines())}
    ours = {(ep.ip, ep.port, banner) for s in sessions
            for ep, banner in ((s.flow.orig, s.client_software), (s.flow.resp, s.server_software)) if banner}
    assert theirs <= ours, f"only tshark: {sorted(theirs - ours)}"
    zeek = zeek_ssh_banners(name)
    assert {(ip, banner) for ip, _port, banner in ours - theirs} <= zeek, sorted(ours - theirs)
    assert zeek <= {(ip, banner) for ip, _port, banner in ours}, "a banner of Zeek's ssh.log is missing"
