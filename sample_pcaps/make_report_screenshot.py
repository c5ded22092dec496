"""Regenerate sample_pcaps/report.png, the README's screenshot of the audit report: the README's main
command (the hospital scenario) into a temporary directory, then headless Chromium on the report.

    python sample_pcaps/make_report_screenshot.py    # needs chromium (apt-get install -y chromium)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import open_page  # noqa: E402
from trustwatch.analytics.cli import main  # noqa: E402

HOSPITAL = ROOT / "sample_pcaps" / "hospital"


def run() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        main(["audit", str(HOSPITAL), "--inventory", str(HOSPITAL / "inventory.csv"), "--remote-access-windows",
              str(HOSPITAL / "remote-access-windows.yaml"), "--state", str(out / "state.db"),
              "--key-file", str(out / "site.key"), "--fail-on", "never", "--report", str(out / "report")])
        page = open_page((out / "report" / "report.html").as_uri(), 1280, 1100, full_page=False)
        (ROOT / "sample_pcaps" / "report.png").write_bytes(page.screenshot)
    return 1 if page.console_errors else 0


if __name__ == "__main__":
    sys.exit(run())
