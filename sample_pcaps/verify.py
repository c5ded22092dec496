#!/usr/bin/env python3
"""Check every sample capture against tshark and record tshark's view in its expected file.

    python sample_pcaps/verify.py [--write] [CAPTURE ...]

For each `<name>.expected.json` (the facts generate.py planted) this runs the independent
tshark reference tools (/work/shared/real_pcaps/tools: reference.py, which includes
tls_certs.py) plus one tshark pass over the TLS handshake and record fields, and checks:
SNIs; client and server chains (SHA-1, SHA-256, chain order, sender side) and the frame
tshark dissects each Certificate in; ClientHello/ServerHello/CertificateRequest frames;
JA3/JA3S; the TLS 1.3 client flight record sizes; that "must_produce_nothing" flows have
no handshake; and tshark's expert infos (no Error-level entries, no Malformed).
--write stores tshark's JA3/JA3S and expert summary under "tshark" in the expected file
(generate.py keeps that section when it rewrites the file). Exit status 1 on disagreement.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import subprocess
import sys
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.environ.get("TRUSTWATCH_REF_TOOLS", "/work/shared/real_pcaps/tools")
sys.path.insert(0, TOOLS)
import reference  # noqa: E402

# extra tshark arguments per capture (none needed so far: every capture dissects as is)
EXTRA: dict[str, list[str]] = {}


def capture_of(exp_path: str, doc: dict[str, Any]) -> str:
    """The capture file an expected file describes."""
    return os.path.join(os.path.dirname(exp_path), doc["capture"])


def tshark_fields(pcap: str, extra: list[str], filt: str, fields: list[str]) -> list[dict[str, list[str]]]:
    """One tshark -T fields pass; each row a dict of field -> list of occurrences."""
    cmd = [
        "tshark",
        "-n",
        "-r",
        pcap,
        *extra,
        "-o",
        "tls.desegment_ssl_records:TRUE",
        "-Y",
        filt,
        "-T",
        "fields",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=|",
        "-E",
        "separator=\t",
    ]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        vals = (line.split("\t") + [""] * len(fields))[: len(fields)]
        rows.append({f: [x for x in v.split("|") if x] for f, v in zip(fields, vals, strict=True)})
    return rows


def expert(pcap: str, extra: list[str]) -> dict[str, list[str]]:
    """tshark's expert info summaries by severity."""
    out = subprocess.run(
        ["tshark", "-n", "-r", pcap, *extra, "-q", "-z", "expert"], capture_output=True, text=True, check=True
    ).stdout
    res: dict[str, list[str]] = {}
    sev = None
    for line in out.splitlines():
        m = re.match(r"^(Errors|Warns|Notes|Chats|Comments) \(\d+\)", line)
        if m:
            sev = m.group(1).lower()
            continue
        m = re.match(r"^\s+(\d+)\s+(\S+)\s+(\S+)\s+(.*)$", line)
        if sev and m and m.group(1) != "Frequency":
            res.setdefault(sev, []).append(f"{m.group(1)}x {m.group(3)}: {m.group(4).strip()}")
    return res


def ip_of(ep: str) -> str:
    """ "ip:port" or "[ip]:port" -> ip."""
    return ep.rsplit(":", 1)[0].strip("[]")


def check(exp_path: str) -> tuple[list[str], dict[str, Any]]:
    """Compare one capture; returns (problems, tshark section)."""
    with open(exp_path) as fh:
        doc = json.load(fh)
    pcap = capture_of(exp_path, doc)
    extra = EXTRA.get(doc["capture"], [])
    ref = reference.main(pcap, extra)
    problems: list[str] = []
    conns = doc["tls_connections"]

    def norm(ep: str) -> str:
        return ep.replace("[", "").replace("]", "")

    # SNI
    planted_sni = sorted({c["sni"] for c in conns if c["sni"]})
    if sorted(ref.get("sni", [])) != planted_sni:
        problems.append(f"SNI: tshark {ref.get('sni')} planted {planted_sni}")
    # certificates
    n_planted = 0
    for c in conns:
        for side, key in (("client", "client_chain"), ("server", "server_chain")):
            chain = c[key]
            n_planted += len(chain)
            src, dst = (c["client"], c["server"]) if side == "client" else (c["server"], c["client"])
            got = [x for x in ref.get(f"{side}_certs", []) if x["src"] == norm(src) and x["dst"] == norm(dst)]
            got.sort(key=lambda x: x["chain_pos"])
            if [(g["sha1"], g["sha256"]) for g in got] != [(x["sha1"], x["sha256"]) for x in chain]:
                problems.append(
                    f"{side} chain of {c['client']}->{c['server']}: tshark "
                    f"{[g['sha1'][:12] for g in got]} planted {[x['sha1'][:12] for x in chain]}"
                )
            elif chain:
                want = c["frames"][f"{side}_certificate"]
                if {g["frame"] for g in got} != {want}:
                    problems.append(
                        f"{side} Certificate of {c['client']}: tshark frame "
                        f"{sorted({g['frame'] for g in got})}, planted completion frame {want}"
                    )
    n_found = len(ref.get("client_certs", [])) + len(ref.get("server_certs", []))
    if n_found != n_planted:
        problems.append(f"certificates: tshark found {n_found}, planted {n_planted}")
    # handshake message frames, JA3/JA3S
    rows = tshark_fields(
        pcap,
        extra,
        "tls.handshake.type",
        ["frame.number", "tls.handshake.type", "tls.handshake.ja3", "tls.handshake.ja3s"],
    )
    types_at = {int(r["frame.number"][0]): set(r["tls.handshake.type"]) for r in rows}
    for c in conns:
        for key, t in (("client_hello", "1"), ("server_hello", "2"), ("certificate_request", "13")):
            fr = c["frames"].get(key)
            if fr is not None and t not in types_at.get(fr, set()):
                problems.append(
                    f"{key} of {c['client']}: planted frame {fr}, tshark has types "
                    f"{sorted(types_at.get(fr, set()))} there"
                )
    n_cr = sum("13" in t for t in types_at.values())
    if n_cr != sum(bool(c["certificate_request"]) for c in conns):
        problems.append(
            f"CertificateRequest: tshark sees {n_cr}, planted "
            f"{sum(bool(c['certificate_request']) for c in conns)}"
        )
    ja3 = [{"client": j["src"], "server": j["dst"], "ja3": j["ja3"]} for j in ref.get("ja3", [])]
    ja3s = [{"server": j["src"], "client": j["dst"], "ja3s": j["ja3s"]} for j in ref.get("ja3s", [])]
    for c in conns:
        mine = [
            j["ja3"] for j in ja3 if j["client"] == ip_of(c["client"]) and j["server"] == ip_of(c["server"])
        ]
        if c["ja3"] not in mine:
            problems.append(f"JA3 of {c['client']}: tshark {mine} planted {c['ja3']}")
        mine = [
            j["ja3s"] for j in ja3s if j["server"] == ip_of(c["server"]) and j["client"] == ip_of(c["client"])
        ]
        if c["ja3s"] not in mine:
            problems.append(f"JA3S of {c['server']}: tshark {mine} planted {c['ja3s']}")
    # TLS 1.3 client flight shape
    for c in conns:
        t13 = c.get("tls13")
        if not t13:
            continue
        rec = tshark_fields(
            pcap,
            extra,
            f"tls && tcp.srcport=={c['client'].rsplit(':', 1)[1]}",
            ["tls.record.content_type", "tls.record.opaque_type", "tls.record.length"],
        )
        # TLS 1.3 encrypted records carry opaque_type, not content_type; within one frame the
        # clear records (CCS) come first in our captures
        seq = [
            (int(t), int(n))
            for r in rec
            for t, n in zip(
                r["tls.record.content_type"] + r["tls.record.opaque_type"],
                r["tls.record.length"],
                strict=False,
            )
        ]
        after = [n for i, (t, n) in enumerate(seq) if t == 23 and any(tt == 20 for tt, _ in seq[:i])]
        want = t13["client_flight_record_lengths"]
        if after[: len(want)] != want:
            problems.append(
                f"TLS 1.3 client flight of {c['client']}: tshark {after[: len(want)]} planted {want}"
            )
    # flows that must produce nothing
    for f in doc.get("must_produce_nothing", []):
        port = f["client"].rsplit(":", 1)[1]
        hs = tshark_fields(pcap, extra, f"tls.handshake && tcp.port=={port}", ["frame.number"])
        if hs:
            problems.append(
                f"{f['client']}: tshark sees a handshake in frames {[r['frame.number'] for r in hs]}"
            )
    ex = expert(pcap, extra)
    bad = ex.get("errors", []) + [w for w in ex.get("warns", []) if "alformed" in w]
    if bad:
        problems.append(f"expert errors: {bad}")
    ver = subprocess.run(["tshark", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    section = {
        "note": "Written by sample_pcaps/verify.py from tshark's own dissection, not planted.",
        "version": ver,
        "reference_cmd": f"python {TOOLS}/reference.py sample_pcaps/{doc['capture']} "
        f"{' '.join(extra)}".strip(),
        "extra_args": extra,
        "ja3_tshark": ja3,
        "ja3s_tshark": ja3s,
        "certificates_found": n_found,
        "expert": ex,
        "agrees_with_planted": not problems,
    }
    return problems, section


def main() -> None:
    """Check the given captures (default: all)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true", help="store tshark's view in the expected files")
    ap.add_argument("captures", nargs="*")
    args = ap.parse_args()
    paths = sorted(glob.glob(os.path.join(HERE, "*.expected.json")))
    if args.captures:
        names = {os.path.basename(c).split(".pcap")[0] for c in args.captures}
        paths = [p for p in paths if os.path.basename(p).split(".expected")[0] in names]
    failed = False
    for p in paths:
        problems, section = check(p)
        name = os.path.basename(p).split(".expected")[0]
        print(
            f"{'OK  ' if not problems else 'FAIL'} {name}: {section['certificates_found']} certs, "
            f"{len(section['ja3_tshark'])} JA3, warnings {section['expert'].get('warns', [])}"
        )
        for pr in problems:
            print(f"     - {pr}")
        failed |= bool(problems)
        if args.write:
            with open(p) as fh:
                doc = json.load(fh)
            doc["tshark"] = section
            with open(p, "w") as fh:
                json.dump(doc, fh, indent=1)
                fh.write("\n")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
