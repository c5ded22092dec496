"""What a site gives the analytics, loaded for a command: inventory, rules, approved exceptions,
remote-access windows, the monitored site networks and the state database (the site key:
`cli.options.site_secrets`, which `trustwatch sense` needs without the analytics).

Every loader keeps its own error type; here each one becomes `CommandError`, worded as the
command line has always worded it, so a command fails one way (exit 2, the reason on stderr).
This is the one module of the command line that calls the loaders.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from ...sensor.secrets import data_home
from ...sensor.yamlfile import RULES_DIR
from ..hostroles import DeclaredRole
from ..inventory import (
    ColumnMap,
    Inventory,
    InventoryError,
    Problem,
    describe_problems,
    load_column_map,
    load_inventory,
    read_inventory,
)
from ..pipeline import load_rules
from ..remote_access import ApprovalWindow, ApprovalWindowsError, load_windows
from ..rules import RuleError, RuleSet
from ..scope import SiteError, SiteFile, SiteScope, load_site_file
from ..state import DEFAULT_BUSY_TIMEOUT, State, StateError
from ..suppressions import Suppression, SuppressionsError, load_suppressions
from .options import CommandError, warn


def default_state_path() -> Path:
    """`state.db` in trustwatch's directory (`sensor.secrets.data_home`), beside the site key."""
    return data_home() / "state.db"


def add_input_options(p: argparse.ArgumentParser) -> None:
    """What every analysis reads: inventory, rules, exceptions, remote-access windows, state."""
    p.add_argument("--inventory", required=True, metavar="FILE", help="asset inventory (.csv, .yaml, .json)")
    p.add_argument("--inventory-map", metavar="MAP", help="column map for other CMMS exports (YAML)")
    p.add_argument("--rules", type=Path, default=RULES_DIR, metavar="DIR",
                   help="rules directory (default: the repository's rules/)")
    p.add_argument("--strict-inventory", action="store_true",
                   help="refuse an inventory with any problem (default: skip bad rows with a warning)")
    p.add_argument("--exceptions", metavar="FILE", help="approved exceptions (YAML)")
    p.add_argument("--remote-access-windows", metavar="FILE",
                   help="approved remote-access windows (YAML); without it the inventory alone approves")
    site = p.add_mutually_exclusive_group()
    site.add_argument("--site-networks", metavar="CIDR,...",
                      help="the monitored site networks: devices off them are far ends, never unknown "
                           "(default: the private blocks of the inventory's addresses)")
    site.add_argument("--site", metavar="FILE",
                      help="site file (YAML): its `networks:` list gives them, its `roles:` names pollers, "
                           "jump hosts and vendor gateways")
    state = p.add_mutually_exclusive_group()
    state.add_argument("--state", type=Path, default=None, metavar="DB",
                       help=f"state database (default: {default_state_path()})")
    state.add_argument("--no-state", action="store_true", help="keep no history (a throw-away run)")
    p.add_argument("--state-timeout", type=float, default=DEFAULT_BUSY_TIMEOUT, metavar="SECONDS",
                   help="how long to wait for another run using the same state database "
                        f"(default: {DEFAULT_BUSY_TIMEOUT:g})")


@dataclass(frozen=True, slots=True)
class Site:
    """The site's files as one analysis uses them (`add_input_options`)."""

    rules: RuleSet
    inventory: Inventory
    exceptions: list[Suppression]
    """Approved exceptions (`--exceptions`); none without the option."""
    windows: list[ApprovalWindow] | None
    """Approved remote-access windows (`--remote-access-windows`); None: the inventory alone approves."""
    scope: SiteScope | None
    """The monitored networks (`--site-networks`, `--site`); None: the inventory's private blocks."""
    roles: tuple[DeclaredRole, ...] = ()
    """Pollers, jump hosts and vendor gateways the site file names (`--site`)."""


def load_site(args: argparse.Namespace) -> Site:
    """Rules, inventory, exceptions and remote-access windows, in that order; CommandError with
    every problem of the first file that cannot be used."""
    try:
        rules = load_rules(args.rules)
    except RuleError as e:
        raise CommandError(f"trustwatch: {e}") from None
    try:
        inventory = load_inventory(args.inventory, _column_map(args.inventory_map), strict=args.strict_inventory)
    except InventoryError as e:
        raise CommandError(*_problems(e.problems),
                           f"trustwatch: the inventory has {len(e.problems)} problem(s); fix them first") from None
    if inventory.problems:  # a lenient load: each problem as `inventory check` words it, then what it did
        sys.stderr.write("".join(f"{p}\n" for p in inventory.problems))
        warn(f"{args.inventory}: {describe_problems(inventory.problems)}; running on its {len(inventory.assets)} "
             "usable devices (--strict-inventory refuses it instead)")
    try:
        exceptions = load_suppressions(args.exceptions, rules.rules) if args.exceptions else []
        windows = load_windows(args.remote_access_windows) if args.remote_access_windows else None
    except (SuppressionsError, ApprovalWindowsError) as e:
        raise CommandError(*e.problems) from None
    return Site(rules, inventory, exceptions, windows, *_site_file(args))


def load_rule_ids(rules_dir: Path) -> list[str]:
    """The rule ids of the rules in `rules_dir`; CommandError when they cannot be loaded."""
    try:
        return list(load_rules(rules_dir).rules)
    except RuleError as e:
        raise CommandError(f"trustwatch: {e}") from None


def _site_file(args: argparse.Namespace) -> tuple[SiteScope | None, tuple[DeclaredRole, ...]]:
    """The site networks (`--site-networks`, or the site file's) and the roles the site file names."""
    try:
        if args.site_networks:
            return SiteScope.parse(args.site_networks.split(","), "--site-networks"), ()
        site = load_site_file(args.site) if args.site else SiteFile(None)
    except SiteError as e:
        raise CommandError(f"trustwatch: {e}") from None
    return site.scope, site.roles


def check_inventory_file(path: str, map_path: str | None) -> tuple[Inventory, list[Problem]]:
    """`inventory check`: the inventory in `path` and every problem of it; CommandError with the
    problems of the column map in `map_path` when that cannot be used."""
    try:
        cmap = _column_map(map_path)
    except InventoryError as e:
        raise CommandError(*_problems(e.problems)) from None
    return read_inventory(path, cmap)


def _column_map(path: str | None) -> ColumnMap | None:
    return load_column_map(path) if path else None


def _problems(problems: list[Problem]) -> list[str]:
    return [str(p) for p in problems]


def state_path(option: Path | None) -> Path:
    """The state database in effect: `--state`, else the default."""
    return option or default_state_path()


def open_state(path: Path, timeout: float = DEFAULT_BUSY_TIMEOUT, exclusive: bool = False) -> State:
    """The state database at `path`, created if missing; CommandError when it cannot be used
    (or another run held it longer than `timeout` seconds)."""
    try:
        return State(path, timeout, exclusive)
    except StateError as e:
        raise CommandError(f"trustwatch: {e}") from None


def analysis_state(args: argparse.Namespace, exclusive: bool = True) -> State | None:
    """The state an analysis records into (`--state` or the default), opened; None with
    `--no-state`. `exclusive`: held from now to the end of the run, so runs on one state take
    turns (a monitor, recording a window at a time, does not hold it)."""
    return None if args.no_state else open_state(state_path(args.state), args.state_timeout, exclusive)
