"""The ``chokepoint`` command line.

Subcommands live in :mod:`chokepoint.commands` (one module each). Errors are one line
on stderr with a non-zero exit status; no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import importlib
import sys

__all__ = ["main", "build_parser", "COMMAND_MODULES"]

#: Modules under chokepoint.commands that register subcommands.
COMMAND_MODULES = ["pipeline", "fetch", "critical_nodes", "interdict", "warehouse"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chokepoint", description="Supply-chain chokepoint analytics for AI governance.")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"chokepoint.commands.{name}").register(commands)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from chokepoint.commands import CommandError
    from chokepoint.errors import ChokepointError
    from optimization.errors import SolverError

    try:
        return args.handler(args)
    except (CommandError, ChokepointError, SolverError) as exc:
        print(f"chokepoint {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"chokepoint {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
