"""The root of the project's error hierarchy, and the graph layer's own input error.

Every error the project raises on purpose derives from :class:`ChokepointError`, so the
command line (and any caller) can tell "the input or the problem is wrong, say so in one
line" from a bug. It lives in the lowest layer so that ``graph``, ``optimization`` and
``chokepoint`` can all derive from it; :mod:`chokepoint.errors` lists the whole hierarchy.
"""

from __future__ import annotations

__all__ = ["ChokepointError", "GraphInputError"]


class ChokepointError(Exception):
    """Base class of every error the command line reports in one line."""


class GraphInputError(ChokepointError, ValueError):
    """A graph or budget an algorithm cannot take (self-loop, bad pair, K out of range)."""
