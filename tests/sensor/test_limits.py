"""The sensor's memory caps: read from the rules' `sensor:` section, overridden per run, each
counted when it bites and shown by an audit (stderr and metrics)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

from tests.bench import floods
from tests.conftest import ROOT, SAMPLES
from trustwatch.sensor.limits import DEFAULT_LIMITS, LimitsError, SensorLimits, parse_size, with_overrides
from trustwatch.sensor.sense import Sensor
from trustwatch.sensor.siterules import load_sensor_rules
from trustwatch.sensor.yamlfile import RULES_DIR

EXE = str(Path(sys.executable).parent / "trustwatch")


@pytest.mark.parametrize(("text", "value"), [("65536", 65536), ("256k", 256 << 10), ("64M", 64 << 20),
                                             ("1G", 1 << 30), (" 8 kB ", 8 << 10), (5, 5)])
def test_sizes(text: str | int, value: int) -> None:
    assert parse_size(text) == value


@pytest.mark.parametrize("text", ["", "-1", "0", "12 parsecs", "1T", True])
def test_bad_sizes(text: str | bool) -> None:
    with pytest.raises(LimitsError):
        parse_size(text)


def test_the_shipped_rules_state_the_defaults() -> None:
    """rules/sensor.yaml documents every cap with its default value."""
    assert load_sensor_rules(RULES_DIR).limits == DEFAULT_LIMITS
    text = (ROOT / "rules" / "sensor.yaml").read_text()
    assert all(f"  {name}:" in text for name in SensorLimits.__dataclass_fields__)


def test_a_site_file_and_the_command_line_override(tmp_path: Path) -> None:
    for name in ("remote_access.yaml", "credentials.yaml"):
        (tmp_path / name).write_text((RULES_DIR / name).read_text())
    (tmp_path / "sensor.yaml").write_text("sensor:\n  max_flows: 1000\n  parser_memcap: 8M\n")
    limits = load_sensor_rules(tmp_path, {"parser_memcap": "16M"}).limits
    assert (limits.max_flows, limits.parser_memcap) == (1000, 16 << 20)
    assert limits.defrag_memcap == DEFAULT_LIMITS.defrag_memcap
    (tmp_path / "sensor.yaml").write_text("sensor:\n  max_flow: 1000\n")
    with pytest.raises(LimitsError, match=r"sensor\.yaml: sensor: unknown cap 'max_flow'"):
        load_sensor_rules(tmp_path)
    with pytest.raises(LimitsError, match="--memcap: parser_memcap: 'lots'"):
        with_overrides(DEFAULT_LIMITS, {"parser_memcap": "lots"}, "--memcap")


def test_an_audit_shows_what_the_caps_dropped(tmp_path: Path) -> None:
    """Ten connections at once through a flow table of two: the evictions are on stderr and in
    the audit's metrics textfile."""
    syns = [Ether() / IP(src="10.1.1.5", dst="10.1.1.9") / TCP(sport=40000 + i, dport=443, flags="S")
            for i in range(10)]
    capture = tmp_path / "syns.pcap"
    wrpcap(str(capture), syns)
    prom = tmp_path / "audit.prom"
    done = subprocess.run(
        [EXE, "audit", str(capture), "--inventory", str(SAMPLES / "hospital" / "inventory.csv"), "--no-state",
         "--key-file", str(tmp_path / "k"), "--fail-on", "never", "--memcap", "max_flows=2",
         "--metrics-textfile", str(prom)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "memory caps bit (rules/sensor.yaml, --memcap): max_flows dropped 8" in done.stderr
    assert 'trustwatch_memcap_drops_total{cap="max_flows"} 8.0' in prom.read_text()
    assert "trustwatch_packets_total 10.0" in prom.read_text()
    bad = subprocess.run([EXE, "sense", "--read", str(capture), "--memcap", "max_flows"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "expected NAME=SIZE" in bad.stderr


def test_unfinished_certificates_stay_under_the_parser_memcap(tmp_path: Path) -> None:
    """Servers that send 99 KB of a Certificate message but never its last record (the floods
    benchmark's `certificates`): what the TLS parsers hold counts against parser_memcap, which
    drops the directions that need more and counts them, instead of holding 99 KB a flow."""
    capture = tmp_path / "certificates.pcap"
    floods.write(capture, floods.certificate_flood(60))
    capped = Sensor(memcaps={"parser_memcap": "1M"})
    list(capped.read(str(capture)))
    assert capped.table.stats.over_memory > 0
    assert capped.table.stats.parser_peak <= (1 << 20) + 20_000  # the cap, and one record in flight
    assert capped.table.buffered == 0  # every flow gave back what it held
    free = Sensor()
    list(free.read(str(capture)))
    assert free.table.stats.over_memory == 0 and free.table.stats.parser_peak > 60 * 90_000
