"""`trustwatch sense` end to end: directories, bad files, truncation, exit status."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SAMPLES, needs_real_pcaps
from trustwatch.analytics.cli import main
from trustwatch.sensor.records import TlsClientCertificate
from trustwatch.sensor.sense import Sensor

SAMPLE_CAPTURES = sorted(p for p in SAMPLES.glob("*") if ".pcap" in p.name)


def sense(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[dict], str]:
    code = main(["sense", *args])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def test_samples_exist() -> None:
    assert len(SAMPLE_CAPTURES) >= 5, f"sample captures missing in {SAMPLES}"


def test_directory_with_a_bad_file_still_reads_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = SAMPLE_CAPTURES[0]
    shutil.copy(good, tmp_path / good.name)
    (tmp_path / "broken.pcap").write_bytes(b"this is not a capture at all")
    (tmp_path / "notes.txt").write_text("ignored: not named like a capture")
    code, docs, err = sense(["--read", str(tmp_path)], capsys)
    assert code == 2
    bad_lines = [line for line in err.splitlines() if "broken.pcap" in line]
    assert len(bad_lines) == 1 and "not a capture file" in bad_lines[0]
    assert "notes.txt" not in err
    alone_code, alone, _ = sense(["--read", str(tmp_path / good.name)], capsys)
    assert alone_code == 0 and docs and len(docs) == len(alone)


def test_truncated_last_record_warns_once_and_keeps_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = next(p for p in SAMPLE_CAPTURES if p.suffix == ".pcap")
    _, whole, _ = sense(["--read", str(source)], capsys)
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(source.read_bytes()[:-3])
    code, docs, err = sense(["--read", str(cut)], capsys)
    assert code == 0
    assert err.count("truncated last record") == 1
    assert len(docs) >= len(whole) - 2


def test_output_file_and_evidence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "obs.jsonl"
    code, stdout_docs, _ = sense(["--read", str(SAMPLES), "-o", str(out)], capsys)
    assert code == 0 and stdout_docs == []
    docs = [json.loads(line) for line in out.read_text().splitlines()]
    assert docs
    for doc in docs:
        assert doc["trustwatch"]["evidence"]["frames"], doc
        assert Path(doc["trustwatch"]["evidence"]["capture"]).exists()


def test_console_script_runs(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "trustwatch"
    proc = subprocess.run([str(exe), "sense", "--read", str(tmp_path / "missing.pcap")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert "missing.pcap" in proc.stderr


@needs_real_pcaps
def test_every_real_capture_is_read_without_crashing(
    real_pcaps: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, docs, err = sense(["--read", str(real_pcaps)], capsys)
    assert code == 0, err
    assert "extractor_bug" not in err
    assert len(docs) > 500


@pytest.mark.parametrize("keep_fin", [True, False])
def test_a_new_connection_on_reused_ports_is_a_new_flow(tmp_path: Path, keep_fin: bool) -> None:
    """A client reconnecting from the same port (its first connection done, closed or not):
    the second handshake is read too, its flow is a new one."""
    from scapy.layers.inet import TCP
    from scapy.utils import rdpcap, wrpcap

    first = [p for p in rdpcap(str(SAMPLES / "tls12-mutual-auth.pcap")) if keep_fin or not p[TCP].flags & 0x05]
    second = []
    for p in first:
        q = p.copy()
        q.time = p.time + 2
        second.append(q)
    path = tmp_path / "reused.pcap"
    wrpcap(str(path), first + second)
    certs = [o for o in Sensor().read(str(path)) if isinstance(o, TlsClientCertificate)]
    assert len(certs) == 2
    assert certs[0].flow.uid != certs[1].flow.uid
    assert certs[1].evidence.frames[0] > len(first)


def test_sense_starts_without_the_analytics(tmp_path: Path) -> None:
    """`sense` loads the sensor and the shared options only (start-up time counts in every
    run); the other commands are still there for everything else."""
    script = (
        "import sys\n"
        "from trustwatch.analytics.cli import main\n"
        f"code = main(['sense', '--read', {str(SAMPLE_CAPTURES[0])!r}, '-q', '-o', {str(tmp_path / 'o.jsonl')!r}])\n"
        "print(code, sorted(m for m in sys.modules\n"
        "                   if m.startswith(('trustwatch.analytics.', 'numpy', 'prometheus'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.split(" ", 1) == ["0", "['trustwatch.analytics.cli', 'trustwatch.analytics.cli.options', "
                                      "'trustwatch.analytics.cli.sense']\n"]
    assert (tmp_path / "o.jsonl").stat().st_size > 0
    usage = subprocess.run([sys.executable, "-m", "trustwatch.analytics.cli", "--help"], capture_output=True, text=True,
                           check=True).stdout
    assert all(command in usage for command in ("audit", "analyze", "remote-access", "alerts", "inventory", "monitor"))


@pytest.mark.parametrize("packed", [False, True])
def test_standard_input_plain_or_gzip(tmp_path: Path, packed: bool) -> None:
    """`--read -` reads a capture from a pipe, gzip-compressed too (a pipe cannot seek back
    after its first bytes told what it is)."""
    source = SAMPLES / "tls12-mutual-auth.pcap"
    data = gzip.compress(source.read_bytes()) if packed else source.read_bytes()
    exe = Path(sys.executable).parent / "trustwatch"
    piped = subprocess.run([str(exe), "sense", "--read", "-", "-q", "--key-file", str(tmp_path / "k")],
                           input=data, capture_output=True, check=True).stdout.decode()
    direct = subprocess.run([str(exe), "sense", "--read", str(source), "-q", "--key-file", str(tmp_path / "k")],
                            capture_output=True, check=True).stdout.decode()
    assert piped and piped.replace('"capture":"-"', f'"capture":"{source}"') == direct


def test_a_fifo_in_a_walked_directory_is_skipped_not_waited_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(SAMPLE_CAPTURES[0], tmp_path / SAMPLE_CAPTURES[0].name)
    os.mkfifo(tmp_path / "zz-live.pcap")
    code, docs, err = sense(["--read", str(tmp_path)], capsys)
    assert code == 0 and docs
    assert "zz-live.pcap: not a regular file; skipped" in err
