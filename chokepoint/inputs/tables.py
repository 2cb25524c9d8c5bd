"""Typed CSV reading with errors that name file, line and field.

Files are read as text first so that a bad value is reported where it stands instead
of turning into a null or a wrong type further down.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import polars as pl

from chokepoint.errors import InputError

__all__ = ["Column", "read_csv_text", "typed", "read_csv_table", "LINE", "FILE", "fail_at"]

#: Column added to every table read: the 1-based line of the row in its file.
LINE = "_line"
#: Column added to every table read: the file it came from.
FILE = "_file"

_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Column:
    """One expected column.

    ``kind`` is ``str``, ``float``, ``int`` or ``id`` (lower-case identifier).
    ``minimum``/``maximum`` bound numbers (inclusive); ``choices`` restricts strings.
    """

    name: str
    kind: str = "str"
    required: bool = True
    nullable: bool = False
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    choices: Sequence[str] | None = None
    extra_check: Callable[[str], str | None] | None = field(default=None, compare=False)


def fail_at(path: Path, frame: pl.DataFrame, mask: pl.Series, column: str, message: Callable[[dict], str], hint=None):
    """Raise an InputError for the first row where ``mask`` is true."""
    bad = frame.filter(mask)
    if bad.height:
        row = bad.row(0, named=True)
        raise InputError(path, message(row), row=row[LINE], field=column, hint=hint)


def read_csv_table(path: Path, columns: Sequence[Column]) -> pl.DataFrame:
    """Read ``path`` as UTF-8 CSV with a header and check it against ``columns``.

    Returns a frame with the declared columns typed, extra columns kept as text,
    ``_line`` (file line of each row) and ``_file``. Raises :class:`InputError` on the
    first problem.
    """
    return typed(read_csv_text(path), columns)


def read_csv_text(path: Path) -> pl.DataFrame:
    """Read ``path`` as UTF-8 CSV, every cell as text, with ``_line`` and ``_file``.

    Checks only what makes a table: encoding, header, delimiter, rectangular rows.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found")
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(path, f"not UTF-8 (byte {raw[exc.start]:#04x})", row=line, hint="save the file as UTF-8") from None
    if not text.strip():
        raise InputError(path, "file is empty", hint="a header row and at least one data row are needed")
    if text.count('"') % 2:  # every quote is paired in a well-formed file, even escaped ones ("")
        raise InputError(path, "a quoted field is never closed (truncated file?)", row=text.count("\n", 0, text.rindex('"')) + 1)
    if '"' in text and any("\n" in cell for cell in _quoted_cells(text)):
        raise InputError(path, "quoted field spans lines; reference tables must be one row per line")
    try:
        header = [c.strip() for c in next(csv.reader(io.StringIO(text)))]
        # Polars pads short rows with nulls; a row of the wrong width is a file error.
        line, count = _first_ragged_line(text, len(header))
    except csv.Error as exc:  # NUL bytes, a bare carriage return inside a field, ...
        raise InputError(path, f"malformed CSV: {exc}", hint="save the file as plain UTF-8 CSV") from None
    if len(header) == 1 and any(d in header[0] for d in ";\t|"):
        raise InputError(path, f"one column '{header[0]}': wrong delimiter?", row=1, hint="use commas")
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if duplicated:
        raise InputError(path, "column appears twice in the header", row=1, field=duplicated[0])
    if line is not None:
        raise InputError(path, f"row has {count} fields, the header has {len(header)}", row=line)
    try:
        frame = pl.read_csv(text.encode(), infer_schema=False, truncate_ragged_lines=False)
    except pl.exceptions.ComputeError as exc:
        raise InputError(path, f"malformed CSV: {str(exc).splitlines()[0]}") from None
    frame = frame.rename(dict(zip(frame.columns, header)))
    if frame.height == 0:
        raise InputError(path, "no data rows")
    return frame.with_columns(pl.int_range(2, frame.height + 2, dtype=pl.Int64).alias(LINE),
                              pl.lit(str(path)).alias(FILE))


def typed(frame: pl.DataFrame, columns: Sequence[Column]) -> pl.DataFrame:
    """Check a text frame from :func:`read_csv_text` against ``columns`` and type it."""
    path = Path(frame[FILE][0])
    header = frame.columns
    for col in columns:
        if col.required and col.name not in header:
            raise InputError(path, "required column missing", row=1, field=col.name,
                             hint=f"header must contain: {', '.join(c.name for c in columns if c.required)}")
    for col in columns:
        if col.name not in header:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(col.name))
            continue
        frame = frame.with_columns(pl.col(col.name).str.strip_chars())
        frame = _check_column(path, frame, col)
    return frame


def _first_ragged_line(text: str, width: int) -> tuple[int | None, int]:
    """Line number and field count of the first row whose width differs from the header."""
    reader = csv.reader(io.StringIO(text))
    next(reader)
    for row in reader:
        if row and len(row) != width:
            return reader.line_num, len(row)
    return None, width


def _quoted_cells(text: str):
    return re.findall(r'"((?:[^"]|"")*)"', text)


def _check_column(path: Path, frame: pl.DataFrame, col: Column) -> pl.DataFrame:
    values = frame[col.name]
    empty = values.is_null() | (values == "")
    if not col.nullable:
        fail_at(path, frame, empty, col.name, lambda r: "value is empty")
    frame = frame.with_columns(pl.when(empty).then(None).otherwise(pl.col(col.name)).alias(col.name))
    if col.kind in ("float", "int"):
        dtype = pl.Float64 if col.kind == "float" else pl.Int64
        parsed = frame[col.name].cast(dtype, strict=False)
        bad = parsed.is_null() & frame[col.name].is_not_null()
        fail_at(path, frame, bad, col.name, lambda r: f"'{r[col.name]}' is not a{'n integer' if col.kind == 'int' else ' number'}")
        frame = frame.with_columns(parsed.alias(col.name))
        number = frame[col.name]
        if col.kind == "float":
            fail_at(path, frame, number.is_nan() | number.is_infinite(), col.name, lambda r: f"{r[col.name]} is not a finite number")
        if col.minimum is not None:
            below = (number <= col.minimum) if col.exclusive_minimum else (number < col.minimum)
            fail_at(path, frame, below.fill_null(False), col.name,
                    lambda r: f"{r[col.name]} is below the allowed minimum {'(exclusive) ' if col.exclusive_minimum else ''}{col.minimum:g}")
        if col.maximum is not None:
            fail_at(path, frame, (number > col.maximum).fill_null(False), col.name,
                    lambda r: f"{r[col.name]} is above the allowed maximum {col.maximum:g}")
    elif col.kind == "id":
        bad = ~frame[col.name].str.contains(_IDENTIFIER.pattern).fill_null(True)
        fail_at(path, frame, bad, col.name, lambda r: f"'{r[col.name]}' is not an identifier (lower-case letters, digits, _)")
    if col.choices is not None:
        bad = ~frame[col.name].is_in(list(col.choices)).fill_null(True)
        fail_at(path, frame, bad, col.name, lambda r: f"'{r[col.name]}' is not one of {', '.join(col.choices)}")
    if col.extra_check is not None:
        for line, value in zip(frame[LINE], frame[col.name]):
            if value is not None and (problem := col.extra_check(value)):
                raise InputError(path, problem, row=line, field=col.name)
    return frame
