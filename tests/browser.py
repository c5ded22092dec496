"""Headless Chromium driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`: the
browser reads commands on fd 3 and writes answers on fd 4, each a JSON message ending in NUL),
so the report's browser test needs no client library and no download: Debian's `chromium`.

`open_page` loads a file:// URL in a fresh profile and returns what a test checks: a PNG
screenshot of the whole page, the console errors and exceptions, and every request the page
made. Also a script: `python -m tests.browser REPORT.html SHOT.png` (see sample_pcaps/make_report_screenshot.py).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-pipe", "--hide-scrollbars", "--force-device-scale-factor=1"]
TIMEOUT = 60.0


def chromium() -> str | None:
    """The Chromium executable on the PATH, or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class Page:
    """What loading a page showed."""

    screenshot: bytes
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    """URL of every request the page made, its own included."""
    text: str = ""
    """The page's `document.body.innerText`."""
    scripts: int = 0
    """`<script>` elements in the DOM."""


class _Pipe:
    def __init__(self, browser: subprocess.Popen[bytes], to_browser: int, from_browser: int) -> None:
        self.browser = browser
        self.to_browser = to_browser
        self.from_browser = from_browser
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return dict(reply.get("result", {}))
            self.events.append(reply)

    def wait_for(self, method: str) -> dict[str, Any]:
        for i, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(i)
        while True:
            event = self._read()
            if event.get("method") == method:
                return event
            self.events.append(event)

    def _read(self) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        while b"\0" not in self.buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("no answer from chromium")
            chunk = os.read(self.from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError(f"chromium exited ({self.browser.poll()})")
            self.buffer += chunk
        message, _, self.buffer = self.buffer.partition(b"\0")
        return dict(json.loads(message))


def open_page(url: str, width: int = 1280, height: int = 900, full_page: bool = True) -> Page:
    """Load `url` in a fresh headless Chromium and return what it showed."""
    exe = chromium()
    if exe is None:
        raise RuntimeError("chromium is not installed (apt-get install -y chromium)")
    profile = tempfile.mkdtemp(prefix="trustwatch-chromium-")
    commands_r, commands_w = os.pipe()
    answers_r, answers_w = os.pipe()
    os.set_inheritable(commands_r, True)
    os.set_inheritable(answers_w, True)

    def child_fds() -> None:  # the protocol's fixed descriptors: 3 reads commands, 4 writes answers
        high_r, high_w = os.dup(commands_r), os.dup(answers_w)  # out of the way of 3 and 4 first
        os.dup2(high_r, 3, inheritable=True)
        os.dup2(high_w, 4, inheritable=True)

    browser = subprocess.Popen([exe, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
                                "about:blank"], close_fds=False, preexec_fn=child_fds,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(commands_r)
    os.close(answers_w)
    pipe = _Pipe(browser, commands_w, answers_r)
    try:
        target = pipe.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = pipe.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            pipe.send(f"{domain}.enable", session=session)
        pipe.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session=session)
        pipe.send("Page.navigate", {"url": url}, session=session)
        pipe.wait_for("Page.loadEventFired")
        page = Page(b"")
        if full_page:
            size = pipe.send("Page.getLayoutMetrics", session=session)["cssContentSize"]
            pipe.send("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": int(size["height"]), "deviceScaleFactor": 1, "mobile": False},
                      session=session)
        shot = pipe.send("Page.captureScreenshot", {"format": "png"}, session=session)
        page.screenshot = base64.b64decode(shot["data"])
        probe = pipe.send("Runtime.evaluate", {
            "expression": "JSON.stringify([document.body.innerText, document.querySelectorAll('script').length])",
            "returnByValue": True}, session=session)
        page.text, page.scripts = json.loads(probe["result"]["value"])
        for event in pipe.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Network.requestWillBeSent":
                page.requests.append(params["request"]["url"])
            elif method == "Runtime.exceptionThrown":
                page.console_errors.append(str(params["exceptionDetails"].get("text")))
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                page.console_errors.append(" ".join(str(a.get("value")) for a in params.get("args", [])))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                page.console_errors.append(str(params["entry"].get("text")))
        pipe.send("Browser.close")
        return page
    finally:
        os.close(commands_w)
        os.close(answers_r)
        try:
            browser.wait(timeout=10)
        except subprocess.TimeoutExpired:
            browser.kill()
            browser.wait()
        shutil.rmtree(profile, ignore_errors=True)


def main(argv: list[str]) -> int:
    """`python -m tests.browser PAGE.html SHOT.png [WIDTH HEIGHT]`: a screenshot of the top of a page."""
    html, png = Path(argv[0]).resolve(), Path(argv[1])
    width, height = (int(argv[2]), int(argv[3])) if len(argv) > 3 else (1280, 900)
    page = open_page(html.as_uri(), width, height, full_page=False)
    png.write_bytes(page.screenshot)
    return 1 if page.console_errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
