"""The vendor catalog and the remote-access tracker: names (SNI and DNS), ranges, ports,
signatures and certificates; sessions completed from the flow when it ends."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import SAMPLES, needs_real_pcaps
from trustwatch.analytics.cli import main
from trustwatch.sensor.catalog import CatalogError, load_catalog
from trustwatch.sensor.flowid import Endpoint, FlowId
from trustwatch.sensor.flows import Flow
from trustwatch.sensor.records import (
    DnsAnswer,
    Evidence,
    Proto,
    RemoteAccessSession,
    RemoteAccessSessionStart,
    TlsClientCertificate,
    TlsClientHello,
    X509Cert,
)
from trustwatch.sensor.remote_access_tracker import RemoteAccessTracker
from trustwatch.sensor.sense import Sensor
from trustwatch.sensor.yamlfile import RULES_DIR

CATALOG = """remote_access:
  - {vendor: Acme Medical, product: Acme Link, names: ["*.acme-med.example"], ip_ranges: ["192.0.2.0/24"],
     source: test}
  - {vendor: Tool, product: Tool, names: ["*.tool.example"], ports: ["tcp/7070"], certificates: ["Tool Client"],
     signatures: [{transport: tcp, offset: 0, hex: "abcd"}], source: test}
rules: []
"""


def tracker(tmp_path: Path) -> RemoteAccessTracker:
    (tmp_path / "c.yaml").write_text(CATALOG)
    return RemoteAccessTracker(load_catalog(tmp_path / "c.yaml"))


def make_flow(server: str, port: int) -> Flow:
    fid = FlowId(uid=f"C{server}{port}", transport="tcp", orig=Endpoint("10.30.8.41", 40000),
                 resp=Endpoint(server, port))
    flow = Flow(fid, (b"", b""), 100.0, True, 7)
    flow.last, flow.bytes = 160.0, [1000, 5000]
    return flow


def test_the_repository_catalog_loads_and_names_its_sources() -> None:
    catalog = load_catalog()
    vendors = {e.vendor for e in catalog.entries}
    assert {"TeamViewer", "AnyDesk", "Philips", "GE HealthCare", "Siemens Healthineers", "Citrix"} <= vendors
    match = catalog.by_name("router15.teamviewer.com", "sni")
    assert match is not None and match.how == "sni router15.teamviewer.com ~ *.teamviewer.com"
    assert catalog.by_name("teamviewer.com.evil.example", "sni") is None


def test_catalog_errors_name_the_entry(tmp_path: Path) -> None:
    for text, message in (("remote_access:\n  - {vendor: X, product: Y}\n", "X Y: `source` is required"),
                          ("remote_access:\n  - {vendor: X, product: Y, source: s, ports: [7070]}\n", "tcp/N"),
                          ("remote_access:\n  - {vendor: X, product: Y, source: s, colour: red}\n", "colour"),
                          ("remote_access: 3\n", "list"), ("remote_access: [\n", "invalid YAML")):
        (tmp_path / "c.yaml").write_text(text)
        with pytest.raises(CatalogError, match=message):
            load_catalog(tmp_path / "c.yaml")


def test_a_site_catalog_is_read_from_rules_and_a_broken_one_stops_before_reading(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--rules DIR` gives the sensor the site's catalog; a broken entry is one clear line
    naming file and entry, exit status 2, and nothing half-read."""
    rules = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules)
    catalog = rules / "remote_access.yaml"
    catalog.write_text(catalog.read_text().replace("direction: outbound", "direction: sideways", 1))
    hospital = SAMPLES / "hospital"
    out = tmp_path / "obs.jsonl"
    for argv in (["sense", "--read", str(hospital / "vendor-access.pcap"), "-o", str(out)],
                 ["audit", str(hospital), "--inventory", str(hospital / "inventory.csv"), "--no-state"]):
        assert main([*argv, "--rules", str(rules), "--key-file", str(tmp_path / "site.key")]) == 2
        assert capsys.readouterr().err == (f"trustwatch: {catalog}: TeamViewer TeamViewer: direction must be one "
                                           f"of inbound, outbound\n")
    assert not out.exists()
    catalog.write_text(catalog.read_text().replace("direction: sideways", "direction: outbound").replace(
        "product: TeamViewer\n", "product: TeamViewer (site build)\n", 1))
    assert main(["sense", "--read", str(hospital / "vendor-access.pcap"), "-o", str(out), "--rules", str(rules),
                 "--key-file", str(tmp_path / "site.key"), "--quiet"]) == 0
    products = {json.loads(line)["trustwatch"]["remote_access"]["product"] for line in out.read_text().splitlines()
                if "remote_access" in json.loads(line).get("trustwatch", {})}
    assert "TeamViewer (site build)" in products and "TeamViewer" not in products


def test_dns_answer_then_connection_is_a_session(tmp_path: Path) -> None:
    t = tracker(tmp_path)
    flow = make_flow("198.51.100.9", 443)
    dns = DnsAnswer(ts=90.0, flow=flow.id, protocol=Proto.DNS, query="prs.acme-med.example", query_type="A",
                    rcode="NOERROR", addresses=("198.51.100.9",))
    assert t.observed(dns, flow)
    session = t.ended(flow, "cap.pcap")
    assert session is not None
    assert (session.vendor, session.direction, session.remote_name, session.matched_by) == (
        "Acme Medical", "outbound", "prs.acme-med.example", "dns prs.acme-med.example ~ *.acme-med.example")
    assert (session.start, session.end, session.bytes_orig, session.bytes_resp) == (100.0, 160.0, 1000, 5000)
    assert session.evidence.frames == (7,)


def test_sni_range_and_port_and_held_protocol_sessions(tmp_path: Path) -> None:
    t = tracker(tmp_path)
    flow = make_flow("203.0.113.5", 443)
    hello = TlsClientHello(ts=101.0, flow=flow.id, protocol=Proto.TLS, server_name="x.ACME-med.example", alpn=(),
                           versions=(), ja3="", ja3_hash="", ja4="")
    assert t.observed(hello, flow)
    assert t.ended(flow, "c").matched_by.startswith("sni x.acme-med.example")  # type: ignore[union-attr]
    assert t.ended(make_flow("192.0.2.44", 22), "c").matched_by == "ip 192.0.2.44 in 192.0.2.0/24"  # type: ignore[union-attr]
    assert t.ended(make_flow("203.0.113.5", 7070), "c").product == "Tool"  # type: ignore[union-attr]
    assert t.ended(make_flow("203.0.113.5", 8080), "c") is None
    inbound = make_flow("10.30.8.41", 22)
    inbound.id = FlowId(uid="Cin", transport="tcp", orig=Endpoint("192.0.2.7", 50000), resp=Endpoint("10.30.8.41", 22))
    ssh = RemoteAccessSession(ts=100.5, flow=inbound.id, protocol=Proto.SSH, vendor="", product="SSH",
                              direction="inbound", matched_by="ssh version exchange")
    assert not t.observed(ssh, inbound)  # held until the connection ends
    session = t.ended(inbound, "c")
    assert session is not None and session.vendor == "Acme Medical" and session.product == "Acme Link (SSH)"


def dns_answer(flow: Flow, name: str) -> DnsAnswer:
    return DnsAnswer(ts=90.0, flow=flow.id, protocol=Proto.DNS, query=name, query_type="A", rcode="NOERROR",
                     addresses=(flow.id.resp.ip,))


def test_a_tool_found_by_its_signature_keeps_its_product_and_learns_its_name(tmp_path: Path) -> None:
    """The tool's own catalog entry matching its DNS name again must not make "Tool (Tool)"."""
    t = tracker(tmp_path)
    flow = make_flow("198.51.100.9", 7070)
    assert t.observed(dns_answer(flow, "relay1.tool.example"), flow)
    tool = RemoteAccessSession(ts=100.2, flow=flow.id, protocol=Proto.REMOTE, vendor="Tool", product="Tool",
                               direction="outbound", matched_by="signature abcd@0")
    assert not t.observed(tool, flow)
    session = t.ended(flow, "c")
    assert session is not None
    assert (session.vendor, session.product, session.remote_name, session.matched_by) == (
        "Tool", "Tool", "relay1.tool.example", "signature abcd@0; dns relay1.tool.example ~ *.tool.example")


def test_a_session_found_by_its_certificate_is_named_by_the_dns_answer(tmp_path: Path) -> None:
    """No SNI, a catalogued certificate: the DNS answer seen before still names the far end."""
    t = tracker(tmp_path)
    flow = make_flow("198.51.100.9", 443)
    leaf = X509Cert(sha1="aa" * 20, sha256="bb" * 32, subject="CN=Tool Client", subject_cn="Tool Client",
                    issuer="CN=Tool Client", serial="2A", not_before="2024-01-01T00:00:00+00:00",
                    not_after="2074-01-01T00:00:00+00:00", key_type="EC", key_bits=256,
                    signature_algorithm="ecdsa-with-SHA256", signature_hash="sha256", sans=(), self_signed=True,
                    version=3)
    assert t.observed(dns_answer(flow, "relay1.tool.example"), flow)
    assert t.observed(TlsClientCertificate(ts=100.3, flow=flow.id, protocol=Proto.TLS, chain=(leaf,)), flow)
    session = t.ended(flow, "c")
    assert session is not None
    assert (session.product, session.matched_by, session.remote_name) == (
        "Tool", "certificate CN=Tool Client", "relay1.tool.example")


def test_a_tls_connection_known_by_its_dns_answer_stays_tls(tmp_path: Path) -> None:
    """No SNI: the DNS answer recognises the server, and the session is the TLS handshake's."""
    t = tracker(tmp_path)
    flow = make_flow("198.51.100.9", 443)
    assert t.observed(dns_answer(flow, "prs.acme-med.example"), flow)
    hello = TlsClientHello(ts=100.1, flow=flow.id, protocol=Proto.TLS, server_name=None, alpn=(), versions=("1.2",),
                           ja3="", ja3_hash="", ja4="", evidence=Evidence("cap.pcap", (4,)))
    assert t.observed(hello, flow)
    session = t.ended(flow, "cap.pcap")
    assert session is not None
    assert (session.protocol, session.ts, session.evidence.frames, session.matched_by) == (
        Proto.TLS, 100.1, (4,), "dns prs.acme-med.example ~ *.acme-med.example")


@needs_real_pcaps
def test_teamviewer_and_anydesk_real_captures(real_pcaps: Path) -> None:
    def tools(name: str) -> set[str]:
        return {o.vendor for o in Sensor().read(str(real_pcaps / name)) if isinstance(o, RemoteAccessSession)}

    assert tools("ndpi/tests/cfgs/default/pcap/teamviewer.pcap") == {"TeamViewer"}
    assert tools("ndpi/tests/cfgs/default/pcap/anydesk.pcapng") == {"AnyDesk"}


def test_live_a_session_is_announced_when_recognised_then_reported_at_its_end(tmp_path: Path) -> None:
    """Live sensing: the start goes out with the observation that reveals it, once; the end as before."""
    (tmp_path / "c.yaml").write_text(CATALOG)
    t = RemoteAccessTracker(load_catalog(tmp_path / "c.yaml"), announce=True)
    inbound = make_flow("10.30.8.41", 22)
    inbound.id = FlowId(uid="Cin", transport="tcp", orig=Endpoint("192.0.2.7", 50000), resp=Endpoint("10.30.8.41", 22))
    ssh = RemoteAccessSession(ts=100.5, flow=inbound.id, protocol=Proto.SSH, vendor="", product="SSH",
                              direction="inbound", matched_by="ssh version exchange")
    [start] = t.observed(ssh, inbound)
    assert isinstance(start, RemoteAccessSessionStart) and start.action == "remote-access-session-start"
    assert (start.vendor, start.product, start.start, start.end) == ("Acme Medical", "Acme Link (SSH)", 100.0, 160.0)
    assert t.observed(ssh, inbound) == ()  # announced once
    end = t.ended(inbound, "c")
    assert type(end) is RemoteAccessSession and end.product == start.product
    flow = make_flow("203.0.113.5", 443)
    hello = TlsClientHello(ts=101.0, flow=flow.id, protocol=Proto.TLS, server_name="x.acme-med.example", alpn=(),
                           versions=(), ja3="", ja3_hash="", ja4="")
    out = t.observed(hello, flow)
    assert out[0] is hello and isinstance(out[1], RemoteAccessSessionStart) and out[1].protocol is Proto.TLS
    other = make_flow("198.51.100.9", 443)
    answer = dns_answer(other, "prs.acme-med.example")
    assert t.observed(answer, other) == (answer,)  # known by its DNS answer: at its end only


def test_live_sensing_reports_each_session_twice_a_capture_once() -> None:
    capture = str(SAMPLES / "remote-access" / "remote-rdp.pcap")
    offline = [o for o in Sensor().read(capture) if isinstance(o, RemoteAccessSession)]
    live = [o for o in Sensor(live=True).read(capture) if isinstance(o, RemoteAccessSession)]
    assert offline and not any(isinstance(o, RemoteAccessSessionStart) for o in offline)
    starts = [o for o in live if isinstance(o, RemoteAccessSessionStart)]
    assert [o for o in live if not isinstance(o, RemoteAccessSessionStart)] == offline
    assert sorted(o.flow.uid for o in starts) == sorted(o.flow.uid for o in offline)
    for s in starts:
        assert live.index(s) < next(i for i, o in enumerate(live) if o.flow.uid == s.flow.uid and o is not s)
