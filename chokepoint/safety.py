"""Guards for untrusted names and paths: SQL identifiers and files dropped into a folder.

Values in SQL always travel as bound parameters (``?``). Identifiers (schema, table and
column names) cannot be bound, so every identifier that is put into SQL text goes
through :func:`quote_identifier` (any name, quoted and escaped, for names read from the
database catalogue) or :func:`sql_identifier` (a strict whitelist, for names that come
from configuration or users). ``tests/chokepoint/test_safety.py`` checks that no ``execute`` in
the code base formats anything else into SQL text.

:func:`safe_path_within` is for code that takes file names from outside, such as a
sensor watching an inbox folder: it rejects symbolic links anywhere on the path and
anything that resolves outside the folder.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from chokepoint.errors import UnsafeNameError, UnsafePathError

__all__ = ["UnsafeNameError", "UnsafePathError", "sql_identifier", "quote_identifier", "qualified_name",
           "safe_path_within"]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def sql_identifier(name: str) -> str:
    """``name`` double-quoted for SQL, if it is a plain identifier.

    Plain means: a letter or ``_``, then letters, digits or ``_``, at most 63 characters
    (the limit PostgreSQL and DuckDB tools share). Anything else, such as
    ``x'); DROP TABLE t; --``, raises :class:`UnsafeNameError`.
    """
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise UnsafeNameError(f"{name!r} is not a valid SQL identifier (letters, digits and _ only, ≤ 63)")
    return f'"{name}"'


def quote_identifier(name: str) -> str:
    """Any non-empty name as a quoted SQL identifier (embedded ``"`` doubled).

    For names read back from the database catalogue, which may hold any character.
    """
    if not isinstance(name, str) or not name or "\x00" in name:
        raise UnsafeNameError(f"{name!r} cannot be an SQL identifier")
    return '"' + name.replace('"', '""') + '"'


def qualified_name(schema: str, table: str) -> str:
    """``"schema"."table"`` with both parts quoted by :func:`quote_identifier`."""
    return f"{quote_identifier(schema)}.{quote_identifier(table)}"


def safe_path_within(root: Path, candidate: Path | str, *, must_exist: bool = True) -> Path:
    """The absolute path of ``candidate`` if it is a regular file inside ``root``.

    ``candidate`` may be relative to ``root`` or absolute. Rejected, with
    :class:`UnsafePathError`: a symbolic link at the candidate or at any folder between
    ``root`` and it; a path that leaves ``root`` (``..``, an absolute path elsewhere);
    something that is not a regular file (device, fifo, folder); ``root`` itself not a
    real folder. The check uses ``lstat`` on each component, so a link is refused even
    when it points back inside ``root``.

    Parameters
    ----------
    root : Path
        The folder files must stay in (e.g. the inbox). It may itself be reached
        through links (it is resolved once); what lies under it may not.
    candidate : Path or str
    must_exist : bool
        When False, a missing final file is allowed (the folders above it are checked).
    """
    root_resolved = Path(os.path.realpath(root))
    try:
        if not stat.S_ISDIR(os.stat(root_resolved).st_mode):
            raise UnsafePathError(f"{root}: not a folder")
    except FileNotFoundError:
        raise UnsafePathError(f"{root}: folder not found") from None
    candidate = Path(candidate)
    if "\x00" in str(candidate):
        raise UnsafePathError(f"{candidate!r}: NUL byte in path")
    if not candidate.is_absolute():
        candidate = Path(root) / candidate
    # Compare lexically first (no link is followed): the path must sit under root.
    lexical = Path(os.path.normpath(candidate))
    for base in {Path(os.path.normpath(Path(root).absolute())), root_resolved}:
        try:
            relative = lexical.relative_to(base)
            break
        except ValueError:
            continue
    else:
        raise UnsafePathError(f"{candidate}: outside {root}")
    if not relative.parts or relative.parts[0] == "..":
        raise UnsafePathError(f"{candidate}: outside {root}")
    current = root_resolved
    for index, part in enumerate(relative.parts):
        current = current / part
        last = index == len(relative.parts) - 1
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            if last and not must_exist:
                return current
            raise UnsafePathError(f"{candidate}: not found") from None
        if stat.S_ISLNK(mode):
            raise UnsafePathError(f"{candidate}: symbolic link at {current} (links are refused)")
        if last:
            if not stat.S_ISREG(mode):
                raise UnsafePathError(f"{candidate}: not a regular file")
        elif not stat.S_ISDIR(mode):
            raise UnsafePathError(f"{candidate}: {current} is not a folder")
    return current
