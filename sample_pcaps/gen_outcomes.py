#!/usr/bin/env python3
"""Write the authentication-outcome samples: `sample_pcaps/outcomes/` (FTP logons, the servers'
answers, and the alerts they must raise).

    python sample_pcaps/gen_outcomes.py [--out DIR]

Three captures of a hospital's file servers, each a story of refused logons beside the near
misses that must stay silent: a guessing run (that ends in a guess the server accepts), a
password spray, and a stale credential after a rotation (with a ventilator fleet refused for
one account). `<capture>.expected.json` lists every login planted: endpoints, user, password
(the leak test searches every output for it), the server's reply to PASS, its outcome and the
frames of the PASS and of the reply; then the `failed-authentication-burst` alerts the audit
must raise against `inventory.csv` and the near misses it must not (`{fingerprint:S}` stands
for the keyed fingerprint of secret S under the audit's site key). The facts are planted here,
never read back from trustwatch. Deterministic: same bytes on every run.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable
from typing import Any

from craft.capture import output_dir, write_expected, write_pcap
from craft.cleartext import LOGGED_IN, LOGIN_INCORRECT, ftp_logins
from craft.fixed import epoch_ns, utc
from craft.flows import Timeline
from craft.link import Host, host, routed_host

T0 = epoch_ns(utc(2025, 3, 13, 6, 0, 0))
"""Every capture starts at 06:00 UTC; a conversation every two minutes."""
RULE = "failed-authentication-burst"
VSFTPD = "220 (vsFTPd 3.0.5)"

PI = host("raspberrypi", "b8:27:eb:5a:11:02", "10.20.1.250")
"""Not in the inventory: somebody's Raspberry Pi on the ICU network."""
MON_001 = host("mon-001", "00:09:fb:00:20:01", "10.20.2.31")
WS_01 = host("ws-01", "3c:ec:ef:10:00:01", "10.20.9.1")
NMS = host("nms01", "00:50:56:10:09:05", "10.10.9.5")
LAB = {n: host(f"lab-{n:02d}", f"00:60:35:77:00:{n:02x}", f"10.40.1.{10 + n}") for n in (1, 2)}
VENTS = {n: host(f"vent-{n:03d}", f"00:30:e6:00:30:{n:02x}", f"10.20.3.{40 + n}") for n in (1, 2, 3)}
TREND_EXPORT = routed_host("trend-export", "10.10.5.40")
LAB_ARCHIVE = routed_host("lab-archive", "10.40.0.20")
VENT_LOGS = routed_host("vent-logs", "10.10.7.5")
UPS = [host(f"ups-icu-{n}", f"00:c0:b7:20:00:{n:02x}", f"10.20.0.{4 + n}") for n in range(1, 6)]
"""APC network management cards: each keeps its configuration on its own FTP server."""
INVENTORY = [
    ("MON-001", MON_001, "Philips", "IntelliVue MX800", "ICU", "patient monitoring"),
    ("WS-01", WS_01, "Dell", "OptiPlex 7010", "ICU", "clinical workstation"),
    ("SRV-NMS-01", NMS, "Paessler", "PRTG Network Monitor", "IT", "network management"),
    *((f"LAB-{n:02d}", h, "Roche", "cobas pro", "Laboratory", "analyzer") for n, h in LAB.items()),
    *((f"VEN-{n:03d}", h, "Draeger", "Evita V500", "ICU", "ventilation") for n, h in VENTS.items()),
]

PI_GUESSES = ["Passw0rd!", "admin1234", "Trend2024", "vsftpd-admin", "Welcome1!", "Hospital#1"]
PI_RIGHT = "Tr3nd-Adm1n"
MON_TYPO, MON_PASSWORD = "Ph1lips1", "Ph1lips!"
SPRAYED = "Winter2025!"
SPRAYED_ACCOUNTS = ["root", "admin", "biomed", "service", "backup", "ftp"]
UPS_BACKUP = "Bkp-ups-2024"
COBAS_OLD, COBAS_NEW = "CobasArch-2024", "CobasArch-2025"
VENTLOG_OLD = "VentLog-2023"


class Sample(Timeline):
    """One capture being written, and the logins and alerts it planted."""

    def __init__(self, name: str) -> None:
        super().__init__(name, T0, 120_000_000_000, 50211)
        self.logins: list[dict[str, Any]] = []
        self.alerts: list[dict[str, str]] = []
        self.near_misses: list[dict[str, str]] = []

    def ftp(self, client: Host, server: Host, logins: list[tuple[str, str, str]], greeting: str = VSFTPD) -> None:
        """One FTP connection of `client`, its logins and the replies; each one planted."""
        flow = self.connect(client, server, 21)
        for (user, password, reply), (sent, answered) in zip(logins, ftp_logins(flow, greeting, logins), strict=True):
            self.logins.append({
                "client": f"{client.ip}:{flow.ports['c']}", "server": f"{server.ip}:21", "client_mac": client.mac,
                "server_mac": server.mac, "user": user, "password": password, "reply": reply,
                "outcome": "success" if reply.startswith("2") else "failure",
                "pass_frame": self.cap.completion_frame(flow.flow_id, "c", sent),
                "reply_frame": self.cap.completion_frame(flow.flow_id, "s", answered),
            })
        flow.close()

    def expect(self, subject: str, why: str) -> None:
        self.alerts.append({"rule": RULE, "subject": subject, "why": why})

    def silent(self, subject: str, why: str) -> None:
        self.near_misses.append({"rule": RULE, "subject": subject, "why": why})


def key(h: Host) -> str:
    """The device key of an inventoried sample host (by MAC)."""
    asset = next(a for a, hh, *_ in INVENTORY if hh is h)
    return f"asset:{asset}"


def guessing(s: Sample) -> None:
    """A Raspberry Pi guesses the trend-export server's admin password: three tries per
    connection (vsftpd's max_login_fails), refused six times, then a guess the server accepts.
    Beside it, a monitor mistypes its password once and gets in at the second try."""
    s.ftp(MON_001, TREND_EXPORT, [("biomed", MON_TYPO, LOGIN_INCORRECT), ("biomed", MON_PASSWORD, LOGGED_IN)])
    for batch in (PI_GUESSES[:3], PI_GUESSES[3:]):
        s.ftp(PI, TREND_EXPORT, [("admin", guess, LOGIN_INCORRECT) for guess in batch])
    s.ftp(PI, TREND_EXPORT, [("admin", PI_RIGHT, LOGGED_IN)])
    s.expect("guessing:mac:B8-27-EB-5A-11-02|account:admin@10.10.5.40",
             "six different passwords refused within ten minutes, then one accepted (high: the guess worked)")
    s.silent(f"guessing:{key(MON_001)}|account:biomed@10.10.5.40", "one mistyped password, then the right one")


def spray(s: Sample) -> None:
    """A clinical workstation tries one password against six accounts of the trend-export
    server. Beside it, the NMS backs up five UPS cards' configurations over FTP with its one
    account, and one card (never given it) refuses: a poller whose one agent refuses it."""
    for batch in (SPRAYED_ACCOUNTS[:3], SPRAYED_ACCOUNTS[3:]):
        s.ftp(WS_01, TREND_EXPORT, [(user, SPRAYED, LOGIN_INCORRECT) for user in batch])
    for n, ups in enumerate(UPS):
        s.ftp(NMS, ups, [("ups-backup", UPS_BACKUP, LOGIN_INCORRECT if n == 4 else LOGGED_IN)],
              greeting="220 APC FTP server ready.")
    s.expect(f"spraying:{key(WS_01)}", "one source refused for six accounts within ten minutes")
    s.silent(f"spraying:{key(NMS)}", "the NMS is refused by one card only: one account")
    s.silent(f"guessing:{key(NMS)}|account:ups-backup@10.20.0.9", "one refusal, one password")


def stale(s: Sample) -> None:
    """The lab archive's `cobas` password is rotated at 06:04: LAB-02 has the new one, LAB-01
    keeps presenting the old one and is refused four times. The ventilator log server's
    `ventlog` password is rotated too: the three ventilators are refused once each."""
    s.ftp(LAB[1], LAB_ARCHIVE, [("cobas", COBAS_OLD, LOGGED_IN)])
    s.ftp(LAB[2], LAB_ARCHIVE, [("cobas", COBAS_NEW, LOGGED_IN)])
    s.ftp(VENTS[1], VENT_LOGS, [("ventlog", VENTLOG_OLD, LOGGED_IN)])
    for _ in range(4):
        s.ftp(LAB[1], LAB_ARCHIVE, [("cobas", COBAS_OLD, LOGIN_INCORRECT)])
    for vent in VENTS.values():
        s.ftp(vent, VENT_LOGS, [("ventlog", VENTLOG_OLD, LOGIN_INCORRECT)])
    s.expect(f"stale:{key(LAB[1])}|account:cobas@10.40.0.20|secret:{{fingerprint:{COBAS_OLD}}}",
             "LAB-01 refused four times with the password accepted before the rotation")
    s.expect("many-sources:account:ventlog@10.10.7.5", "three ventilators refused for one account within ten minutes")
    s.silent(f"stale:{key(VENTS[1])}|account:ventlog@10.10.7.5|secret:{{fingerprint:{VENTLOG_OLD}}}",
             "VEN-001 refused once after its acceptance: not yet again and again")


CAPTURES: tuple[tuple[str, Callable[[Sample], None]], ...] = (
    ("logon-guessing.pcap", guessing),
    ("logon-spray.pcap", spray),
    ("logon-stale.pcap", stale),
)


def inventory() -> str:
    """The inventory the samples are audited against (the Raspberry Pi is not in it)."""
    rows = io.StringIO()
    table = csv.writer(rows, lineterminator="\n")
    table.writerow(["asset_id", "mac", "ip", "manufacturer", "model", "department", "clinical_function", "status"])
    for asset, h, vendor, model, department, function in INVENTORY:
        table.writerow([asset, h.mac, h.ip, vendor, model, department, function, "active"])
    return rows.getvalue()


def main() -> None:
    """Write the captures, their expected files and the inventory."""
    out = output_dir((__doc__ or "").split("\n\n")[0], "outcomes")
    for fname, build in CAPTURES:
        s = Sample(fname.split(".")[0])
        build(s)
        write_pcap(os.path.join(out, fname), s.cap.packets, 1)
        write_expected(os.path.join(out, fname.split(".")[0] + ".expected.json"), {
            "capture": fname,
            "description": " ".join((build.__doc__ or "").split()),
            "generated_by": "sample_pcaps/gen_outcomes.py (facts planted by the generator, not read back)",
            "frames": len(s.cap.packets),
            "logins": s.logins,
            "alerts": s.alerts,
            "near_misses": s.near_misses,
        })
    with open(os.path.join(out, "inventory.csv"), "w") as fh:
        fh.write(inventory())


if __name__ == "__main__":
    main()
