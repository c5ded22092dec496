"""A veth pair whose sensing end lives in its own network namespace, for live tests and benchmarks.

The playing end stays in the root namespace (tcpreplay sends into it); the sensing end and
everything that listens there (the monitor, Prometheus) run under `ip netns exec`. IPv6 is
off on both ends so the kernel adds no traffic of its own. Needs root (CI runs as root).
"""

from __future__ import annotations

import os
import subprocess
from types import TracebackType

MTU = 9000
"""Above every sample frame (1518 B with a VLAN tag), so tcpreplay never hits EMSGSIZE."""


def _run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, text=True)


class VethNamespace:
    """`with VethNamespace() as ns:` -- ns.play (root side), ns.sense (inside ns.name)."""

    def __init__(self, tag: str = "tw") -> None:
        n = os.getpid() % 100000
        self.name = f"{tag}{n}"
        self.play = f"{tag}p{n}"
        self.sense = f"{tag}s{n}"

    def exec(self, *cmd: str) -> list[str]:
        """`cmd` as run inside the namespace."""
        return ["ip", "netns", "exec", self.name, *cmd]

    def __enter__(self) -> VethNamespace:
        _run("ip", "netns", "add", self.name)
        try:
            _run("ip", "link", "add", self.play, "type", "veth", "peer", "name", self.sense, "netns", self.name)
            _run("sysctl", "-qw", f"net.ipv6.conf.{self.play}.disable_ipv6=1")
            _run(*self.exec("sysctl", "-qw", f"net.ipv6.conf.{self.sense}.disable_ipv6=1"))
            _run("ip", "link", "set", self.play, "mtu", str(MTU), "up")
            _run(*self.exec("ip", "link", "set", self.sense, "mtu", str(MTU), "up"))
            _run(*self.exec("ip", "link", "set", "lo", "up"))
        except subprocess.CalledProcessError:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        subprocess.run(["ip", "link", "del", self.play], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, check=False)
