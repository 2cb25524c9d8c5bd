"""Typed errors that name what the analyst has to fix."""

from __future__ import annotations

from pathlib import Path

__all__ = ["ChokepointError", "InputError"]


class ChokepointError(Exception):
    """Base class of every error the command line reports in one line."""


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
