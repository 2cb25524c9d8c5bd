"""Subcommands of the ``chokepoint`` console script, one module each.

Each module defines ``register(subparsers)`` that adds its parser(s) with
``set_defaults(handler=...)``; a handler returns the exit status. Add a module to
``COMMAND_MODULES`` in :mod:`chokepoint.cli` to expose it.
"""

from __future__ import annotations

__all__ = ["CommandError"]


class CommandError(Exception):
    """An error to print as one line on stderr and exit with status 1."""
