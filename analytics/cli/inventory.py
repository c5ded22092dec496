"""`trustwatch inventory check FILE [--inventory-map MAP]`: every problem of an inventory, one
line each (`file:row:field: message`) on stdout; exit 2 if there is any."""

from __future__ import annotations

import argparse
import sys

from .options import EXIT_ERROR, EXIT_OK, CommandError
from .site import check_inventory_file


def add_inventory_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `inventory check` on the `trustwatch` parser."""
    inventory = subparsers.add_parser("inventory", help="inventory tools")
    inv_sub = inventory.add_subparsers(dest="inventory_command", required=True)
    check = inv_sub.add_parser("check", help="print every problem of an inventory (file:row:field: message)")
    check.add_argument("file", metavar="FILE", help="inventory (.csv, .yaml, .json)")
    check.add_argument("--inventory-map", metavar="MAP", help="column map for other CMMS exports")
    check.set_defaults(func=cmd_inventory_check)


def cmd_inventory_check(args: argparse.Namespace) -> int:
    """`trustwatch inventory check FILE`: every problem, one line each; exit 2 if any."""
    try:
        inventory, problems = check_inventory_file(args.file, args.inventory_map)
    except CommandError as e:  # the column map's problems are what this check reports, on stdout
        sys.stdout.write(f"{e}\n")
        return EXIT_ERROR
    for p in problems:
        sys.stdout.write(f"{p}\n")
    if problems:
        sys.stderr.write(f"trustwatch: {args.file}: {len(problems)} problem(s)\n")
        return EXIT_ERROR
    sys.stdout.write(f"{args.file}: {len(inventory.assets)} devices, no problems\n")
    return EXIT_OK
