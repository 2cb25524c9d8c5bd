"""What every warehouse column means: one definition, in ``docs/warehouse.md``.

The warehouse documentation has one ``### schema.table`` section per table and view, with a
column table ``| `column` | DuckDB type | meaning and unit |``. The same rows are what
Dagit shows as each asset's column schema (:mod:`pipelines.metadata`), so a column's
meaning is written once, in the documentation, and read from there when the Dagster
definitions load. ``tests/pipeline/test_warehouse_docs.py`` keeps the documentation in step with a
freshly built warehouse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from chokepoint.errors import InputError
from chokepoint.settings import PROJECT_ROOT

__all__ = ["DocumentedColumn", "warehouse_doc_path", "parse_column_docs", "documented_columns"]

_HEADING = re.compile(r"^#{1,3} ")
_TABLE_HEADING = re.compile(r"^### ([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)\s*$")
#: ``| `name` | TYPE | meaning |``; the meaning may itself hold ``|`` (``|margin_high − margin_low|``).
_COLUMN_ROW = re.compile(r"^\| `([^`]+)` \|([^|]*)\|(.*)\|\s*$")


@dataclass(frozen=True)
class DocumentedColumn:
    """One row of a column table: name, DuckDB type and meaning (with unit)."""

    name: str
    type: str
    meaning: str


def warehouse_doc_path() -> Path:
    """``docs/warehouse.md`` of the project (resolved from the package, so an editable
    install finds it from any working directory)."""
    return PROJECT_ROOT / "docs" / "warehouse.md"


def parse_column_docs(text: str, source: str | Path = "docs/warehouse.md") -> dict[str, list[DocumentedColumn]]:
    """``schema.table`` → its documented columns, in the documentation's order.

    Parameters
    ----------
    text : str
        Markdown in the layout of ``docs/warehouse.md``.
    source : str or Path
        The file name used in error messages.

    Returns
    -------
    dict
        Every ``### schema.table`` section (also those without a column table).

    Raises
    ------
    InputError
        Naming the file, line and field: a table documented twice, a column documented
        twice in one section, or a column row without a type or a meaning.
    """
    found: dict[str, list[DocumentedColumn]] = {}
    current: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        heading = _TABLE_HEADING.match(line)
        if heading:
            current = f"{heading.group(1)}.{heading.group(2)}"
            if current in found:
                raise InputError(source, f"table {current} documented twice", row=number, field="heading")
            found[current] = []
            continue
        if _HEADING.match(line):
            current = None
            continue
        row = _COLUMN_ROW.match(line) if current else None
        if row is None:
            continue
        name, kind, meaning = row.group(1), row.group(2).strip(), row.group(3).strip()
        if not kind:
            raise InputError(source, f"column {current}.{name} has no type", row=number, field="type")
        if not meaning:
            raise InputError(source, f"column {current}.{name} has no meaning", row=number, field="meaning")
        if any(column.name == name for column in found[current]):
            raise InputError(source, f"column {current}.{name} documented twice", row=number, field="column")
        found[current].append(DocumentedColumn(name, kind, meaning))
    return found


@lru_cache(maxsize=4)
def _read(path: Path, mtime_ns: int) -> dict[str, list[DocumentedColumn]]:
    return parse_column_docs(path.read_text(encoding="utf-8"), path)


def documented_columns(path: Path | None = None) -> dict[str, list[DocumentedColumn]]:
    """The column tables of ``docs/warehouse.md`` (or ``path``), parsed once per file version.

    Returns an empty mapping when the file is absent (an installation without the
    documentation): Dagit then shows column types without meanings.
    """
    path = Path(path) if path else warehouse_doc_path()
    if not path.is_file():
        return {}
    return _read(path, path.stat().st_mtime_ns)
