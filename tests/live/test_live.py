"""Live sensing with real parts: a veth pair in a network namespace, tcpreplay, Prometheus, promtool.

The monitor captures on the namespace's end of a veth pair while tcpreplay plays the hospital
captures into the other end; the alerts planted in them must stream out (once each); a real
Prometheus in the same namespace scrapes the monitor and loads the alerting rules, and every
panel query of every dashboard must return data through its HTTP API. Needs root, `ip`,
`tcpreplay`, `prometheus` and `promtool` (CI installs Debian's iproute2, tcpreplay, prometheus).
"""

from __future__ import annotations

import functools
import json
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import wrpcap

from tests.analytics.planted import answered_protocols, planted_alerts
from tests.conftest import ROOT, SAMPLES
from tests.live.netns import VethNamespace
from trustwatch.analytics.cli import main
from trustwatch.sensor.records import SecretKind
from trustwatch.sensor.secrets import SecretHasher

HOSPITAL = SAMPLES / "hospital"
CAPTURES = sorted(p for p in HOSPITAL.iterdir() if p.name.endswith((".pcap", ".pcapng")))
WINDOW_RULES = {"remote-access-unapproved"}
"""Judged against approval windows at packet time, which a replay moves to now: not checked live."""
EXPECTED = json.loads((HOSPITAL / "expected-alerts.json").read_text())
NEAR_MISSES = [a for a in EXPECTED["near_misses"] if a["rule"] not in WINDOW_RULES]
DASHBOARDS = sorted((ROOT / "dashboards" / "grafana").glob("*.json"))
ALERT_RULES = ROOT / "dashboards" / "prometheus" / "trustwatch-alerts.yml"
METRICS_PORT = 9750


@functools.cache
def planted() -> list[dict[str, Any]]:
    """The alerts the monitor must stream (those of the sensor's outcomes: `tests.analytics.planted`)."""
    return [a for a in planted_alerts(EXPECTED, answered_protocols(HOSPITAL)) if a["rule"] not in WINDOW_RULES]


def _free_port() -> int:
    """A loopback port nobody listens on (a packaged Prometheus may already own 9090)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


PROMETHEUS_PORT = _free_port()
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "10m"}
"""What Grafana puts in place of its built-in variables, for queries sent straight to Prometheus."""
DEADLINE = 90.0


def _wait(what: str, check: Any, timeout: float = DEADLINE) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = check()
        if got:
            return got
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _fingerprinted(planted: str, key: Path) -> str:
    hasher = SecretHasher(key.read_bytes())
    return re.sub(r"\{fingerprint:(.*)\}", lambda m: hasher.fingerprint(SecretKind.PASSWORD, m[1]).value, planted)


@dataclass
class LiveRun:
    """What the module's one live run left for the tests to look at."""

    ns: VethNamespace
    tmp: Path
    alerts: list[dict[str, Any]]
    metrics_text: str = ""
    monitor_code: int = -1
    monitor_stderr: str = ""
    panels: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)
    """(dashboard file, panel title, query, Prometheus answer), asked while the monitor ran."""
    rules: dict[str, Any] = field(default_factory=dict)

    def http(self, url: str) -> str:
        """GET `url` from inside the namespace."""
        code = "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())"
        return subprocess.run(self.ns.exec(sys.executable, "-c", code, url), capture_output=True, text=True,
                              check=True, timeout=30).stdout

    def query(self, expr: str) -> dict[str, Any]:
        from urllib.parse import urlencode
        doc: dict[str, Any] = json.loads(self.http(f"http://127.0.0.1:{PROMETHEUS_PORT}/api/v1/query?"
                                                   + urlencode({"query": expr})))
        return doc


def _prometheus_config(tmp: Path) -> Path:
    config = tmp / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"rule_files:\n  - {ALERT_RULES}\n"
        "scrape_configs:\n  - job_name: trustwatch\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{METRICS_PORT}']\n")
    return config


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveRun]:
    tmp = tmp_path_factory.mktemp("live")
    alerts = tmp / "alerts.jsonl"
    with VethNamespace("twt") as ns:
        monitor = subprocess.Popen(
            ns.exec(sys.executable, "-m", "trustwatch.analytics.cli", "monitor", "--interface", ns.sense,
                    "--inventory", str(HOSPITAL / "inventory.csv"), "--state", str(tmp / "state.db"),
                    "--alerts", str(alerts), "--key-file", str(tmp / "site.key"),
                    "--metrics-port", str(METRICS_PORT), "--analyze-every", "1"),
            cwd=ROOT, stderr=subprocess.PIPE, text=True)
        prometheus = subprocess.Popen(
            ns.exec("prometheus", f"--config.file={_prometheus_config(tmp)}",
                    f"--storage.tsdb.path={tmp / 'tsdb'}", f"--web.listen-address=127.0.0.1:{PROMETHEUS_PORT}"),
            stdout=subprocess.DEVNULL, stderr=(tmp / "prometheus.log").open("w"))
        try:
            assert monitor.stderr is not None
            line = monitor.stderr.readline()
            assert "monitoring" in line, line
            run = LiveRun(ns, tmp, [])
            _wait("Prometheus to be ready", lambda: _ready(run))
            for capture in [_hostile_capture(tmp), *CAPTURES]:
                subprocess.run(["tcpreplay", "-q", "-i", ns.play, "--topspeed", str(capture)], check=True,
                               capture_output=True, timeout=60)
            want = {(a["rule"], _fingerprinted(a["subject"], tmp / "site.key")) for a in planted()}

            def alerts_in() -> bool:
                docs = [json.loads(x) for x in alerts.read_text().splitlines()] if alerts.exists() else []
                return want <= {(d["rule"]["id"], d["trustwatch"]["subject"]) for d in docs}

            _wait("the expected alerts", alerts_in)
            # A few scrapes after the traffic and the analysis, so that rate() has two samples.
            _wait("Prometheus to scrape the findings",
                  lambda: run.query("sum(trustwatch_findings) > 0")["data"]["result"])
            time.sleep(3)
            run.metrics_text = run.http(f"http://127.0.0.1:{METRICS_PORT}/metrics")
            run.panels = [(path.name, title, expr, run.query(expr)) for path, title, expr in _panel_queries()]
            run.rules = json.loads(run.http(f"http://127.0.0.1:{PROMETHEUS_PORT}/api/v1/rules"))
            monitor.send_signal(signal.SIGTERM)
            run.monitor_code = monitor.wait(timeout=60)
            run.monitor_stderr = line + monitor.stderr.read()
            run.alerts = [json.loads(x) for x in alerts.read_text().splitlines()]
            yield run
        finally:
            for proc in (monitor, prometheus):
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    proc.wait(timeout=30)


def _hostile_capture(tmp: Path) -> Path:
    """Played first: the eight bytes that once made the LDAP probe raise and ended the live
    sensor (`30 85 00 00 00 00 00 02` to any port); everything after must still be seen."""
    base = Ether(src="02:00:00:00:00:05", dst="02:00:00:00:00:09") / IP(src="10.1.1.5", dst="10.1.1.9")
    path = tmp / "eight-bytes.pcap"
    wrpcap(str(path), [base / TCP(sport=40000, dport=3268, flags="S", seq=100),
                       base / TCP(sport=40000, dport=3268, flags="PA", seq=101, ack=1)
                       / Raw(bytes.fromhex("3085000000000002"))])
    return path


def _ready(run: LiveRun) -> bool:
    try:
        return "Ready" in run.http(f"http://127.0.0.1:{PROMETHEUS_PORT}/-/ready")
    except subprocess.CalledProcessError:
        return False


def test_expected_alerts_stream_out_once(live: LiveRun) -> None:
    got = [(d["rule"]["id"], d["trustwatch"]["subject"]) for d in live.alerts]
    assert len(got) == len(set(got)), "an alert was streamed twice"
    want = {(a["rule"], _fingerprinted(a["subject"], live.tmp / "site.key")) for a in planted()}
    assert want <= set(got), want - set(got)
    for miss in NEAR_MISSES:
        assert (miss["rule"], _fingerprinted(miss["subject"], live.tmp / "site.key")) not in set(got), miss["why"]
    evidence = {e["capture"] for d in live.alerts for e in d["trustwatch"]["evidence"]}
    assert evidence == {f"interface:{live.ns.sense}"}


def test_sigterm_flushes_and_exits_cleanly(live: LiveRun) -> None:
    """Also after the hostile eight bytes played first: the monitor ran on, alerted (above)
    and ends cleanly, its capture ring closed without an error."""
    assert live.monitor_code == 0, live.monitor_stderr
    assert "Traceback" not in live.monitor_stderr and "BufferError" not in live.monitor_stderr
    assert "stopped:" in live.monitor_stderr
    with sqlite3.connect(live.tmp / "state.db") as db:
        runs = db.execute("SELECT observations, findings FROM runs").fetchall()
        assert runs and runs[-1][0] > 0 and runs[-1][1] >= len(planted())
        assert db.execute("SELECT count(*) FROM sightings").fetchone()[0] > 0


def test_kernel_counters_are_exported(live: LiveRun) -> None:
    samples = dict(re.findall(r"^(trustwatch_\w+) (\S+)$", live.metrics_text, re.M))
    played = sum(int(subprocess.run(["capinfos", "-Mc", str(c)], capture_output=True, text=True, check=True)
                     .stdout.split()[-1]) for c in CAPTURES)
    assert float(samples["trustwatch_packets_total"]) >= played
    assert float(samples["trustwatch_kernel_packets_total"]) >= played
    assert float(samples["trustwatch_kernel_drops_total"]) == 0


def test_failed_logons_are_counted_by_protocol(live: LiveRun) -> None:
    """The hospital's logons.pcap holds refused and accepted FTP logins: the sensor counts each
    answer, and the failed-logon panel shows FTP."""
    samples = dict(re.findall(r'^trustwatch_authentications_total\{outcome="(\w+)",protocol="ftp"\} (\S+)$',
                              live.metrics_text, re.M))
    assert float(samples["failure"]) > 0 and float(samples["success"]) > 0, samples
    [panel] = [doc for _name, title, _expr, doc in live.panels if title == "Failed logons by protocol"]
    assert "ftp" in {r["metric"].get("protocol") for r in panel["data"]["result"]}


def test_promtool_checks_the_exported_metrics(live: LiveRun) -> None:
    done = subprocess.run(["promtool", "check", "metrics"], input=live.metrics_text, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def _panel_queries() -> Iterator[tuple[Path, str, str]]:
    """Every panel query of every dashboard, Grafana's built-in variables filled in."""
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel["targets"]:
                expr = target["expr"]
                for var, value in GRAFANA_VARIABLES.items():
                    expr = expr.replace(var, value)
                yield path, panel["title"], expr


def test_dashboards_use_the_datasource_variable() -> None:
    assert [p.name for p in DASHBOARDS] == ["trustwatch-identity-hygiene.json", "trustwatch-overview.json",
                                            "trustwatch-remote-access.json", "trustwatch-sensor-health.json"]
    for path in DASHBOARDS:
        dash = json.loads(path.read_text())
        assert [v["name"] for v in dash["templating"]["list"] if v["type"] == "datasource"] == ["datasource"]
        for panel in dash["panels"]:
            assert panel["datasource"]["uid"] == "${datasource}", (path.name, panel["title"])
            assert all(t["datasource"]["uid"] == "${datasource}" for t in panel["targets"])


def test_every_dashboard_panel_returns_data(live: LiveRun) -> None:
    assert len(live.panels) >= 25
    for name, title, expr, doc in live.panels:
        assert doc["status"] == "success", (name, title, doc)
        assert doc["data"]["result"], f"{name}: {title!r}: no data for {expr}"


def test_prometheus_loads_the_alerting_rules(live: LiveRun) -> None:
    rules = [r for g in live.rules["data"]["groups"] for r in g["rules"]]
    assert len(rules) == 7 and all(r["health"] == "ok" for r in rules), rules


def test_promtool_checks_the_alerting_rules() -> None:
    done = subprocess.run(["promtool", "check", "rules", str(ALERT_RULES)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_audit_writes_a_textfile_promtool_accepts(tmp_path: Path) -> None:
    prom = tmp_path / "trustwatch.prom"
    code = main(["audit", str(HOSPITAL), "--inventory", str(HOSPITAL / "inventory.csv"), "--no-state",
                 "--key-file", str(tmp_path / "site.key"), "--metrics-textfile", str(prom), "--fail-on", "never"])
    assert code == 0
    text = prom.read_text()
    assert not list(tmp_path.glob("trustwatch.prom.*")), "the temporary file was renamed"
    assert re.search(r'^trustwatch_findings\{rule="shared-credential",severity="\w+"\} [1-9]', text, re.M)
    assert re.search(r'^trustwatch_devices\{status="retired"\} [1-9]', text, re.M)
    done = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_sense_interface_filters_in_the_kernel_and_keeps_vlan_tags(tmp_path: Path) -> None:
    """`trustwatch sense --interface --bpf`: only what the filter lets through, VLAN tags put back."""
    out = tmp_path / "observations.jsonl"
    with VethNamespace("twf") as ns:
        sense = subprocess.Popen(
            ns.exec(sys.executable, "-m", "trustwatch.analytics.cli", "sense", "--interface", ns.sense,
                    "--bpf", "tcp port 104",
                    "-o", str(out), "--metrics-port", "0", "--key-file", str(tmp_path / "site.key")),
            cwd=ROOT, stderr=subprocess.PIPE, text=True)
        assert sense.stderr is not None
        assert "sensing" in sense.stderr.readline()
        for capture in CAPTURES:
            subprocess.run(["tcpreplay", "-q", "-i", ns.play, "--topspeed", str(capture)], check=True,
                           capture_output=True, timeout=60)
        time.sleep(1.0)
        sense.send_signal(signal.SIGTERM)
        assert sense.wait(timeout=30) == 0, sense.stderr.read()
    docs = [json.loads(x) for x in out.read_text().splitlines()]
    live = {_key(d) for d in docs}
    golden = [json.loads(x) for x in (ROOT / "tests" / "golden" / "radiology.jsonl").read_text().splitlines()]
    want = {_key(d) for d in golden if 104 in (d["source"]["port"], d["destination"]["port"])}
    assert want and all(k[3] for k in want)
    assert live == want


def _key(doc: dict[str, Any]) -> tuple[str, str, int, str | None]:
    return (doc["event"]["action"], doc["source"]["ip"], doc["destination"]["port"],
            doc["network"].get("vlan", {}).get("id"))


def test_sense_interface_reports_a_remote_access_session_when_it_starts_and_when_it_ends(tmp_path: Path) -> None:
    """Live, every session is reported as soon as it is recognised, and again when it ends."""
    out = tmp_path / "observations.jsonl"
    with VethNamespace("twr") as ns:
        sense = subprocess.Popen(
            ns.exec(sys.executable, "-m", "trustwatch.analytics.cli", "sense", "--interface", ns.sense,
                    "--bpf", "tcp port 3389 or tcp port 22 or tcp port 5900", "-o", str(out), "--metrics-port", "0",
                    "--key-file", str(tmp_path / "site.key")),
            cwd=ROOT, stderr=subprocess.PIPE, text=True)
        assert sense.stderr is not None
        assert "sensing" in sense.stderr.readline()
        subprocess.run(["tcpreplay", "-q", "-i", ns.play, "--topspeed", str(HOSPITAL / "vendor-access.pcap")],
                       check=True, capture_output=True, timeout=60)
        _wait("the session starts", lambda: out.exists() and "remote-access-session-start" in out.read_text())
        sense.send_signal(signal.SIGTERM)
        assert sense.wait(timeout=30) == 0, sense.stderr.read()
    actions = [(d["event"]["action"], d["trustwatch"]["uid"]) for d in map(json.loads, out.read_text().splitlines())
               if d["event"]["action"].startswith("remote-access-session")]
    starts = [uid for action, uid in actions if action == "remote-access-session-start"]
    ends = [uid for action, uid in actions if action == "remote-access-session"]
    assert len(starts) == 3 and sorted(starts) == sorted(ends)  # RDP, SSH, VNC
    assert all(actions.index(("remote-access-session-start", u)) < actions.index(("remote-access-session", u))
               for u in starts)
