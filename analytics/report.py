"""The audit report (`trustwatch report`, `audit --report DIR`): from the state alone, one audit
or the audits of a time range, as one self-contained HTML file (no script, no remote font or
stylesheet: it opens from a file:// URL on an offline hospital network; a Content-Security-Policy
forbids any load), the same in Markdown, and each table as CSV.

Sections: an overview (devices seen, inventoried, unknown, retired but active; findings by rule
and severity; the trend over the segment's past audits as charts: `analytics.charts`), the
diff against the previous audit, the findings ranked as the summary ranks them (its lines, in
its order) with devices, evidence, the `trustwatch evidence` command and display filter, and
the rule's remediation; a card per device (its inventory row, every identity it presented, to
which service, accepted or not, first/last seen, its open findings, its remote-access sessions);
unknown devices with what the network says; the remote-access ledger against approved windows;
the exceptions in force and expired; the checks that passed.

The tables are pandas frames read from the state (`analytics.auditlog`, `analytics.memory`);
HTML and Markdown are Jinja2 templates (`templates/`), the HTML one autoescaped: every value
from traffic or inventory is untrusted text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from ..sensor.output import output_file
from .alerts import AlertStatus
from .auditlog import inventory_rows, run_facts
from .charts import DIFF_COLOURS, SEVERITY_COLOURS, horizontal_bars, stacked_bars
from .evidence import display_filter
from .rules import Severity
from .state import State

TEMPLATES = Path(__file__).parent / "templates"
GONE = ("retired", "decommissioned")
SEVERITIES = [s.value for s in reversed(Severity)]
"""critical first."""
TREND_AUDITS = 12
"""Past audits the trend charts show."""
CSV_TABLES = ("audits", "findings", "devices", "presented", "unknown_devices", "ledger", "exceptions", "passed")


class ReportError(Exception):
    """Nothing to report on (no audit in the state, or none in the range)."""


@dataclass(frozen=True, slots=True)
class Report:
    """One report: its tables (pandas frames) and what the templates show around them."""

    tables: dict[str, pd.DataFrame]
    context: dict[str, Any]


def select_runs(state: State, audit: int | None = None, since: float | None = None,
                until: float | None = None) -> list[int]:
    """The audits to report on: `audit`, else those whose packets fall in [since, until], else the latest."""
    if audit is not None:
        rows = state.db.execute("SELECT id FROM runs WHERE id=?", (audit,)).fetchall()
        if not rows:
            raise ReportError(f"no audit {audit} in {state.path}")
    elif since is not None or until is not None:
        rows = state.db.execute("SELECT id FROM runs WHERE kind='audit' AND last_ts >= ? AND first_ts <= ? ORDER BY id",
                                (since if since is not None else 0, until if until is not None else 1e13)).fetchall()
        if not rows:
            raise ReportError(f"no audit in {state.path} covers that time range")
    else:
        rows = state.db.execute("SELECT max(id) FROM runs WHERE kind='audit' AND first_ts IS NOT NULL").fetchall()
        if not rows or rows[0][0] is None:
            raise ReportError(f"no audit in {state.path} yet (run `trustwatch audit` first)")
    return [int(r[0]) for r in rows]


def build_report(state: State, run_ids: Sequence[int], state_name: str) -> Report:
    """The report on the runs `run_ids` of `state` (named `state_name` in the commands it shows)."""
    runs = _runs(state)
    chosen = runs[runs["id"].isin(run_ids)]
    latest = chosen.iloc[-1]
    findings = _findings(state, run_ids, state_name)
    devices = run_facts(state, run_ids, "device")
    cards, presented = _devices(devices, inventory_rows(state, latest["inventory"]))
    ledger = pd.DataFrame([_ledger_row(d) for d in run_facts(state, run_ids, "ledger")],
                          columns=["start", "duration_s", "device", "device_key", "direction", "remote", "tool", "user",
                                   "bytes_out", "bytes_back", "approved", "reason", "event_id"])
    exceptions = pd.DataFrame(run_facts(state, [int(latest["id"])], "exception"),
                              columns=["rule", "subject", "approver", "reason", "expires", "state", "source",
                                       "suppressed"])
    passed = pd.DataFrame(run_facts(state, run_ids, "passed"),
                          columns=["check", "title", "subject", "message", "devices", "evidence"])
    unknown = cards[cards["unknown"]] if len(cards) else cards
    open_findings = findings[findings["status"] != AlertStatus.RESOLVED.value] if len(findings) else findings
    trend = _trend(state, runs, latest)
    summary = json.loads(latest["summary"] or "{}")
    seen = cards[cards["asset_id"].notna()] if len(cards) else cards
    overview = {
        "devices_seen": len(cards[cards["in_scope"]]) if len(cards) else 0,
        "inventoried": int(summary.get("inventoried", 0)),
        "known_seen": len(seen),
        "unknown": len(unknown),
        "far_ends": len(cards[~cards["in_scope"] & cards["asset_id"].isna()]) if len(cards) else 0,
        "retired_active": len(seen[seen["status"].isin(GONE)]) if len(seen) else 0,
        "findings": len(findings),
        "by_severity": {s: int((findings["severity"] == s).sum()) if len(findings) else 0 for s in SEVERITIES},
        "open": len(open_findings),
    }
    by_rule = (findings.pivot_table(index="rule", columns="severity", values="id", aggfunc="count", fill_value=0)
               .reindex(columns=[s for s in SEVERITIES if s in set(findings["severity"])])
               if len(findings) else pd.DataFrame())
    by_rule_rows: list[dict[str, Any]] = [
        {"rule": str(rule), **{str(s): int(row[s]) for s in by_rule.columns}, "total": int(row.sum())}
        for rule, row in by_rule.iterrows()]
    by_rule_rows.sort(key=lambda r: ([-r[s] for s in by_rule.columns], r["rule"]))
    tables = {"audits": chosen.drop(columns=["summary", "inventory"]), "findings": findings,
              "devices": cards.drop(columns=["presented", "inventory", "profile", "findings", "sessions"],
                                    errors="ignore"),
              "presented": presented, "unknown_devices": _unknown_table(unknown), "ledger": ledger,
              "exceptions": exceptions, "passed": passed}
    context = {
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "version": version("trustwatch"),
        "audits": chosen.to_dict("records"), "latest": latest.to_dict(), "summary": summary,
        "span": _span(chosen), "overview": overview, "by_rule": by_rule_rows, "severities": SEVERITIES,
        "severity_columns": list(by_rule.columns),
        "diff": summary.get("diff"), "lines": _lines(findings), "findings": findings.to_dict("records"),
        "cards": cards[~cards["unknown"] & cards["asset_id"].notna()].to_dict("records") if len(cards) else [],
        "unknown": unknown.to_dict("records") if len(unknown) else [],
        "far_ends": cards[~cards["in_scope"] & cards["asset_id"].isna()].to_dict("records") if len(cards) else [],
        "not_seen": _not_seen(inventory_rows(state, latest["inventory"]), cards),
        "ledger": ledger.to_dict("records"), "unapproved": int((~ledger["approved"].astype(bool)).sum()),
        "exceptions_in_force": exceptions[exceptions["state"] == "in force"].to_dict("records"),
        "exceptions_expired": exceptions[exceptions["state"] == "expired"].to_dict("records"),
        "passed": _passed_groups(passed), "charts": trend, "state_name": state_name,
    }
    _attach(context, findings, ledger)
    return Report(tables, context)


def write_report(report: Report, directory: str | Path) -> list[Path]:
    """report.html, report.md and one CSV per table into `directory` (made if missing), each whole
    or not at all; the paths written."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                             autoescape=jinja2.select_autoescape(["html.j2"], default=False),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(md=markdown_text, when=_when, short=_short, duration=_duration)
    written = []
    for name in ("report.html", "report.md"):
        with output_file(str(out / name)) as f:
            f.write(env.get_template(f"{name}.j2").render(**report.context))
        written.append(out / name)
    for table in CSV_TABLES:
        with output_file(str(out / f"{table.replace('_', '-')}.csv")) as f:
            report.tables[table].to_csv(f, index=False)
        written.append(out / f"{table.replace('_', '-')}.csv")
    return written


def markdown_text(value: Any) -> str:
    """A table cell's text for Markdown: one line, pipes and HTML's special characters escaped."""
    text = "" if value is None else str(value)
    for a, b in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|"), ("\n", " "), ("\r", " ")):
        text = text.replace(a, b)
    return text


def _runs(state: State) -> pd.DataFrame:
    frame = pd.read_sql_query("SELECT id, kind, started, source, segment, first_ts, last_ts, observations, findings,"
                              " complete, inventory, summary FROM runs ORDER BY id", state.db)
    return frame[frame["kind"] == "audit"].reset_index(drop=True)


def _findings(state: State, run_ids: Sequence[int], state_name: str) -> pd.DataFrame:
    """One row per alert the runs found (not suppressed), its latest document among them, ranked
    as that run's summary ranked it; the alert's status now."""
    marks = ",".join("?" * len(run_ids))
    rows = state.db.execute(
        f"""SELECT ar.alert_id, ar.run_id, ar.doc, ar.line, ar.position, a.status, a.first_seen, a.last_seen, a.count,
                   a.created FROM alert_runs ar JOIN alerts a ON a.id = ar.alert_id
            WHERE ar.run_id IN ({marks}) AND ar.suppressed_by IS NULL ORDER BY ar.run_id""", tuple(run_ids)).fetchall()
    latest: dict[str, dict[str, Any]] = {}
    for aid, run_id, text, line, position, status, first, last, count, _created in rows:
        doc = json.loads(text)
        tw = doc["trustwatch"]
        latest[aid] = {
            "id": aid, "run_id": run_id, "line": line if line is not None else 10**6,
            "position": position if position is not None else 0, "rule": doc["rule"]["id"],
            "rule_name": doc["rule"]["name"], "severity": tw["severity"], "status": status,
            "message": doc["message"], "first_seen": _iso_ts(doc["event"]["start"]),
            "last_seen": _iso_ts(doc["event"]["end"]), "count": tw["count"], "alert_first_seen": first,
            "alert_last_seen": last, "alert_count": count, "cause": "", "devices": tw["devices"],
            "device_labels": "; ".join(d["label"] for d in tw["devices"]),
            "evidence": tw["evidence"], "filters": [f"{e['capture']}: {display_filter(e['frames'])}"
                                                    for e in tw["evidence"] if e["frames"]],
            "evidence_command": f"trustwatch evidence {aid} --state {state_name} -o {aid}.pcap",
            "remediation": tw.get("remediation", ""), "reference": doc["rule"].get("reference", ""),
            "community_id": doc.get("network", {}).get("community_id", ""),
        }
    frame = pd.DataFrame(list(latest.values()), columns=[
        "id", "run_id", "line", "position", "rule", "rule_name", "severity", "status", "message", "first_seen",
        "last_seen", "count", "alert_first_seen", "alert_last_seen", "alert_count", "cause", "devices",
        "device_labels", "evidence", "filters", "evidence_command", "remediation", "reference", "community_id"])
    return frame.sort_values(["run_id", "line", "position"], ascending=[False, True, True]).reset_index(drop=True)


def _lines(findings: pd.DataFrame) -> list[dict[str, Any]]:
    """The findings grouped as the summary's lines (one rule, one cause), in its order."""
    lines = []
    for (_run, _line), group in findings.groupby(["run_id", "line"], sort=False):
        items = group.to_dict("records")
        lines.append({"first": items[0], "findings": items, "rule": items[0]["rule"]})
    return lines


def _devices(facts: list[dict[str, Any]], inventory: list[Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Device cards (one per device key, merged over the runs) and every presentation."""
    rows = {r["asset_id"]: r for r in inventory}
    presented = pd.DataFrame([{"device_key": d["key"], "device": d["label"], "run_id": d["run_id"], **p}
                              for d in facts for p in d["presented"]],
                             columns=["device_key", "device", "run_id", "kind", "value", "label", "detail", "protocol",
                                      "side", "peer_ip", "peer_port", "peer", "answer", "reason", "first_seen",
                                      "last_seen", "count"])
    if len(presented):
        keys = ["device_key", "device", "kind", "value", "label", "detail", "protocol", "side", "peer_ip", "peer_port",
                "answer"]
        presented = (presented.fillna({"peer": "", "reason": ""})
                     .groupby(keys, as_index=False, sort=False)
                     .agg(peer=("peer", "first"), reason=("reason", "last"), first_seen=("first_seen", "min"),
                          last_seen=("last_seen", "max"), count=("count", "sum")))
    cards: dict[str, dict[str, Any]] = {}
    for d in facts:
        c = cards.setdefault(d["key"], {**d, "ips": [], "first_seen": d["first_seen"], "last_seen": d["last_seen"]})
        c["ips"] = list(dict.fromkeys([*c["ips"], *d["ips"]]))
        c["first_seen"], c["last_seen"] = min(c["first_seen"], d["first_seen"]), max(c["last_seen"], d["last_seen"])
        c["in_scope"] = c["in_scope"] or d["in_scope"]
        c["profile"] = d["profile"] or c["profile"]
    out = []
    for key, c in cards.items():
        mine = presented[presented["device_key"] == key] if len(presented) else presented
        out.append({"key": key, "asset_id": c["asset_id"], "label": c["label"], "status": c["status"],
                    "mac": c["mac"] or "", "ips": ", ".join(c["ips"]), "in_scope": bool(c["in_scope"]),
                    "unknown": c["asset_id"] is None and bool(c["in_scope"]), "match": c["match"],
                    "first_seen": c["first_seen"], "last_seen": c["last_seen"],
                    "identities": len(mine), "profile": c["profile"], "presented": mine.to_dict("records"),
                    "inventory": rows.get(c["asset_id"]) if c["asset_id"] else None})
    frame = pd.DataFrame(out, columns=["key", "asset_id", "label", "status", "mac", "ips", "in_scope", "unknown",
                                       "match", "first_seen", "last_seen", "identities", "profile", "presented",
                                       "inventory"])
    return frame, presented


def _unknown_table(unknown: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for c in unknown.to_dict("records"):
        p = c["profile"] or {}
        rows.append({"device": c["label"], "mac": c["mac"], "ips": c["ips"], "mac_manufacturer": p.get("manufacturer"),
                     "dhcp_hostname": p.get("hostname"), "dhcp_vendor_class": p.get("vendor_class"),
                     "dhcp_parameter_list": ",".join(map(str, p.get("parameter_list") or [])),
                     "first_seen": _when(p.get("first_seen") or c["first_seen"]),
                     "last_seen": _when(p.get("last_seen") or c["last_seen"]), "identities": c["identities"]})
    return pd.DataFrame(rows, columns=["device", "mac", "ips", "mac_manufacturer", "dhcp_hostname",
                                       "dhcp_vendor_class", "dhcp_parameter_list", "first_seen", "last_seen",
                                       "identities"])


def _ledger_row(doc: dict[str, Any]) -> dict[str, Any]:
    tw = doc["trustwatch"]
    ra = tw["remote_access"]
    return {"start": doc["event"]["start"], "duration_s": doc["event"]["duration"] / 1e9,
            "device": tw["device"]["label"], "device_key": tw["device"]["key"],
            "direction": doc["network"]["direction"],
            "remote": tw["remote"]["name"] or tw["remote"]["ip"], "tool": ra["tool"],
            "user": doc.get("user", {}).get("name", ""), "bytes_out": doc["source"]["bytes"],
            "bytes_back": doc["destination"]["bytes"], "approved": ra["approved"], "reason": ra["reason"],
            "event_id": doc["event"]["id"]}


def _attach(context: dict[str, Any], findings: pd.DataFrame, ledger: pd.DataFrame) -> None:
    """Each device card's open findings and remote-access sessions."""
    for card in context["cards"] + context["unknown"]:
        card["findings"] = [f for f in context["findings"] if f["status"] != AlertStatus.RESOLVED.value
                            and any(d.get("key") == card["key"] for d in f["devices"])]
        card["sessions"] = [s for s in context["ledger"] if s["device_key"] == card["key"]]


def _not_seen(inventory: list[Any], cards: pd.DataFrame) -> list[Any]:
    seen = set(cards["asset_id"].dropna()) if len(cards) else set()
    return [r for r in inventory if r["asset_id"] not in seen]


def _passed_groups(passed: pd.DataFrame) -> list[dict[str, Any]]:
    return [{"check": check, "title": group["title"].iloc[0], "items": group.to_dict("records")}
            for check, group in passed.groupby("check", sort=True)] if len(passed) else []


def _trend(state: State, runs: pd.DataFrame, latest: pd.Series) -> dict[str, str]:
    """Charts of the segment's audits up to the latest chosen: findings by severity, the diff, by rule."""
    past = runs[(runs["segment"] == latest["segment"]) & (runs["id"] <= latest["id"])].tail(TREND_AUDITS)
    if past.empty:
        return {}
    marks = ",".join("?" * len(past))
    counts = pd.read_sql_query(
        f"""SELECT ar.run_id, a.severity_rank FROM alert_runs ar JOIN alerts a ON a.id = ar.alert_id
            WHERE ar.run_id IN ({marks}) AND ar.suppressed_by IS NULL""", state.db, params=[int(i) for i in past["id"]])
    counts["severity"] = counts["severity_rank"].map(lambda r: list(Severity)[r].value)
    table = counts.pivot_table(index="run_id", columns="severity", values="severity_rank", aggfunc="count",
                               fill_value=0).reindex(index=past["id"], fill_value=0)
    labels = [f"#{i}\n{datetime.fromtimestamp(t, UTC):%m-%d}" if t == t else f"#{i}"  # NaN: nothing read
              for i, t in zip(past["id"], past["first_ts"], strict=True)]
    present = [s for s in SEVERITIES if s in table.columns]
    charts = {"severity": stacked_bars(labels, {s: [int(v) for v in table[s]] for s in present}, SEVERITY_COLOURS,
                                       "Findings per audit, by severity")}
    diffs = [json.loads(s or "{}").get("diff") or {} for s in past["summary"]]
    charts["diff"] = stacked_bars(labels, {"new": [d.get("new", 0) for d in diffs],
                                           "still open": [d.get("still_open", 0) for d in diffs],
                                           "resolved": [d.get("resolved", 0) for d in diffs]},
                                  DIFF_COLOURS, "Against the previous audit", stacked=False)
    rules = json.loads(latest["summary"] or "{}").get("rules", {})
    ranked = sorted(((r, n) for r, n in rules.items() if n), key=lambda kv: -kv[1])
    if ranked:
        charts["rules"] = horizontal_bars([r for r, _n in ranked], [n for _r, n in ranked], ["#4575b4"] * len(ranked),
                                          "Findings by rule, this audit")
    return charts


def _span(runs: pd.DataFrame) -> str:
    first, last = runs["first_ts"].min(), runs["last_ts"].max()
    return f"{_when(first)} to {_when(last)}" if first == first and last == last else "no packets"


def _iso_ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _when(ts: Any) -> str:
    """Packet time as `2025-03-11 07:05 UTC` (ISO strings pass through, shortened)."""
    if ts is None or ts != ts:
        return ""
    if isinstance(ts, str):
        return ts.replace("T", " ")[:16] + " UTC"
    return datetime.fromtimestamp(float(ts), UTC).strftime("%Y-%m-%d %H:%M UTC")


def _short(value: Any, n: int = 16) -> str:
    text = str(value)
    return text if len(text) <= n else text[:n] + "…"


def _duration(seconds: Any) -> str:
    s = float(seconds)
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.0f} min"
