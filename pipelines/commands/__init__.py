"""Subcommands of the ``chokepoint`` console script, one module each.

Arguments are declared in :mod:`pipelines.cli`; each ``cmd_*`` module holds handlers
that take the parsed arguments and return the exit status (:data:`pipelines.cli.HANDLERS`).
"""

from __future__ import annotations

from chokepoint.errors import ChokepointError

__all__ = ["CommandError"]


class CommandError(ChokepointError):
    """An error to print as one line on stderr and exit with status 1."""
