"""What every `trustwatch` command shares: exit statuses, the one error a command fails with,
the site key and the metrics endpoint options. Light to import (no analytics module):
`trustwatch sense` loads only this, `cli.sense` and the sensor, and starts that much sooner."""

from __future__ import annotations

import argparse
import os
import sys

from ...sensor.secrets import KEY_ENV, SecretHasher, SiteKeyError, key_path, load_site_key

EXIT_OK = 0
EXIT_ALERTS = 1
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130
"""Ctrl-C, as a shell reports a command ended by SIGINT (128 + 2)."""
DEFAULT_METRICS_ADDRESS = "127.0.0.1"
DEFAULT_METRICS_PORT = 9750


class CommandError(Exception):
    """Why a command cannot go on: `main` writes the message on stderr and exits 2. Its lines
    are written as they are: `trustwatch: ...`, or the `file:row:field: message` problems of an
    input file (the loaders' own errors, translated by `cli.site`)."""

    def __init__(self, *lines: str) -> None:
        super().__init__("\n".join(lines))


def add_key_option(p: argparse.ArgumentParser) -> None:
    """`--key-file`: the site key that fingerprints secrets (`sensor.secrets`)."""
    p.add_argument("--key-file", metavar="FILE",
                   help=f"site key for secret fingerprints, created on first use "
                        f"(default: ${KEY_ENV}, else {key_path()})")


def site_secrets(key_file: str | None) -> SecretHasher:
    """The site's hasher under the key of `--key-file` (or its default); CommandError when the
    key cannot be used (a key open to its group is used, with a warning)."""
    try:
        return SecretHasher(load_site_key(key_path(key_file), warn))
    except SiteKeyError as e:
        raise CommandError(f"trustwatch: {e}") from None


def add_progress_option(p: argparse.ArgumentParser) -> None:
    """`--progress auto|bar|lines|none`: how a read of captures shows its progress and ETA."""
    p.add_argument("--progress", choices=("auto", "bar", "lines", "none"), default="auto",
                   help="progress of long reads, with an ETA: a bar redrawn in place, a line every 10 s, or none "
                        "(default: auto, the bar on a terminal, else lines)")


def check_inputs(paths: list[str]) -> None:
    """CommandError naming the first input that does not exist, before anything is read or written
    (no empty alerts file, no audit recorded of nothing)."""
    for path in paths:
        if path != "-" and not os.path.exists(path):
            raise CommandError(f"trustwatch: {path}: no such file or directory; nothing read, nothing written")


def add_memcap_option(p: argparse.ArgumentParser) -> None:
    """`--memcap NAME=SIZE`, repeatable: one of the sensor's memory caps for this run, over the
    `sensor:` section of the rules (`rules/sensor.yaml` lists them)."""
    p.add_argument("--memcap", action="append", type=_memcap, default=[], metavar="NAME=SIZE",
                   help="a sensor memory cap for this run, e.g. reassembly_memcap=128M (rules/sensor.yaml "
                        "lists them)")


def memcaps(args: argparse.Namespace) -> dict[str, str]:
    """The `--memcap` options as name -> size."""
    return dict(args.memcap)


def _memcap(text: str) -> tuple[str, str]:
    name, sep, size = text.partition("=")
    if not sep or not name.strip() or not size.strip():
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=SIZE")
    return name.strip(), size.strip()


def warn(message: str) -> None:
    """A problem that does not stop the command, on stderr."""
    sys.stderr.write(f"trustwatch: warning: {message}\n")


def add_metrics_endpoint_options(p: argparse.ArgumentParser) -> None:
    """`--metrics-address` and `--metrics-port` (0: no endpoint)."""
    p.add_argument("--metrics-address", default=DEFAULT_METRICS_ADDRESS, metavar="ADDR",
                   help=f"address of the /metrics endpoint (default: {DEFAULT_METRICS_ADDRESS})")
    p.add_argument("--metrics-port", type=int, default=DEFAULT_METRICS_PORT, metavar="PORT",
                   help=f"port of the /metrics endpoint, 0 for none (default: {DEFAULT_METRICS_PORT})")
