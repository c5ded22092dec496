"""What every `trustwatch` command shares: exit statuses, the site-key option and the metrics
endpoint options. Light to import (no analytics module): `trustwatch sense` loads only this
and the sensor, and starts that much sooner."""

from __future__ import annotations

import argparse
import sys

from ..sensor.secrets import KEY_ENV, SecretHasher, SiteKeyError, key_path, load_site_key

EXIT_OK = 0
EXIT_ALERTS = 1
EXIT_ERROR = 2
DEFAULT_METRICS_ADDRESS = "127.0.0.1"
DEFAULT_METRICS_PORT = 9750


def add_key_option(p: argparse.ArgumentParser) -> None:
    """`--key-file`: the site key that fingerprints secrets (`sensor.secrets`)."""
    p.add_argument("--key-file", metavar="FILE",
                   help=f"site key for secret fingerprints, created on first use "
                        f"(default: ${KEY_ENV}, else {key_path()})")


def open_secrets(option: str | None) -> SecretHasher | None:
    """The site's hasher, or None after saying on stderr why the key cannot be used."""
    try:
        return SecretHasher(load_site_key(key_path(option)))
    except SiteKeyError as e:
        sys.stderr.write(f"trustwatch: {e}\n")
        return None


def add_metrics_endpoint_options(p: argparse.ArgumentParser) -> None:
    """`--metrics-address` and `--metrics-port` (0: no endpoint)."""
    p.add_argument("--metrics-address", default=DEFAULT_METRICS_ADDRESS, metavar="ADDR",
                   help=f"address of the /metrics endpoint (default: {DEFAULT_METRICS_ADDRESS})")
    p.add_argument("--metrics-port", type=int, default=DEFAULT_METRICS_PORT, metavar="PORT",
                   help=f"port of the /metrics endpoint, 0 for none (default: {DEFAULT_METRICS_PORT})")
