"""Typed errors that name what the analyst has to fix: the whole hierarchy in one place.

One root, :class:`ChokepointError` (defined in the lowest layer, :mod:`graph.errors`)::

    ChokepointError
    ├── GraphInputError      a graph or budget an algorithm cannot take (graph)
    ├── SolverError          a solve that did not end in a proven optimum (optimization)
    │   ├── InfeasibleError, UnboundedError, InaccurateError, SolverLimitError
    ├── ModelError           a model built in a form its re-solves cannot rely on (optimization)
    ├── InputError           bad input data: file, row, field (chokepoint.inputs)
    ├── FetchError           a download failed or did not match its checksum
    ├── UnsafeNameError      a name that cannot be an SQL identifier
    ├── UnsafePathError      a link or a path leading outside its folder
    ├── WarehouseError       publishing, rolling back or verifying failed
    └── LedgerError          the ledger does not agree with itself or the warehouse

The command line (``pipelines.cli``) prints any of them as one line and exits with 1.
"""

from __future__ import annotations

from pathlib import Path

from graph.errors import ChokepointError, GraphInputError
from optimization.errors import (InaccurateError, InfeasibleError, ModelError, SolverError, SolverLimitError,
                                 UnboundedError)

__all__ = ["ChokepointError", "GraphInputError", "SolverError", "InfeasibleError", "UnboundedError",
           "InaccurateError", "SolverLimitError", "ModelError", "InputError", "FetchError", "UnsafeNameError",
           "UnsafePathError", "WarehouseError", "LedgerError"]


class FetchError(ChokepointError):
    """A download failed or a file did not match its checksum; the cache is unchanged."""


class UnsafeNameError(ChokepointError, ValueError):
    """A name that cannot be used as an SQL identifier."""


class UnsafePathError(ChokepointError, ValueError):
    """A path that is a symbolic link, or leads outside the folder it must stay in."""


class WarehouseError(ChokepointError):
    """Publishing, rolling back or verifying the warehouse failed; nothing published was changed."""


class LedgerError(ChokepointError):
    """The ledger cannot be read or does not agree with itself or the warehouse."""


class InputError(ChokepointError, ValueError):
    """Bad input data: names the file, the row (or table) and the field.

    Parameters
    ----------
    file : str or Path
        The file the bad value came from.
    message : str
        What is wrong, in the analyst's terms.
    row : int or str, optional
        Line number in the file (1-based, header is line 1) or a table path such as
        ``[actors.CHN]`` for TOML files.
    field : str, optional
        Column or key name.
    hint : str, optional
        How to fix it.
    """

    def __init__(self, file, message, *, row=None, field=None, hint=None):
        self.file = str(file)
        self.row = row
        self.field = field
        self.message = message
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        where = [Path(self.file).name if self.file else "<input>"]
        if self.row is not None:
            where.append(f"line {self.row}" if isinstance(self.row, int) else str(self.row))
        if self.field is not None:
            where.append(f"field '{self.field}'")
        text = ", ".join(where) + f": {self.message}"
        if self.hint:
            text += f" (hint: {self.hint})"
        return text
