"""Read a raw source CSV as published: every cell as text, every record accounted for.

Unlike :func:`chokepoint.inputs.tables.read_csv_text` (the strict reader for the project's own
reference tables), this reader accepts what public datasets contain: a byte-order mark,
quoted fields spanning lines (Epoch AI's notes), trailing empty columns (USGS), blank
rows. Problems that concern one record do not stop the read: the record is kept with a
``_problem`` text (and its raw text in ``_raw``) so that staging can quarantine it with
the reason. Problems that make the whole file unreadable (missing, empty, wrong
delimiter, duplicated or missing column names, bad bytes in the header) raise
:class:`~chokepoint.errors.InputError` naming file, line and field.

Columns added to every table read:

``_dataset``  dataset name (``eto``, ``epoch``, ``usgs``, ``supply_map``)
``_file``     the file's path relative to the data root (as in ``MANIFEST.csv``)
``_line``     the line the record starts on (header = line 1)
``_record``   the CSV record number (first data record = 1); differs from the line
              number when quoted fields span lines
``_problem``  why the record cannot be used as is (null when fine)
``_raw``      the record's raw text when ``_problem`` is set
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Sequence

import polars as pl

from chokepoint.errors import InputError

__all__ = ["read_raw_csv", "raw_frame_schema", "PROVENANCE_COLUMNS", "BLANK_ROW"]

PROVENANCE_COLUMNS = ("_dataset", "_file", "_line", "_record", "_problem", "_raw")
#: ``_problem`` of a record whose cells are all empty.
BLANK_ROW = "blank row (no values)"

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_BAD_BYTE = re.compile("[\udc80-\udcff]")
_DELIMITERS = {";": "semicolon", "\t": "tab", "|": "pipe"}


def raw_frame_schema(columns: Sequence[str] = ()) -> dict[str, pl.DataType]:
    """Schema of an (empty) raw table with ``columns`` plus the provenance columns."""
    schema: dict[str, pl.DataType] = {c: pl.String for c in columns}
    schema.update({"_dataset": pl.String, "_file": pl.String, "_line": pl.Int64, "_record": pl.Int64,
                   "_problem": pl.String, "_raw": pl.String})
    return schema


def read_raw_csv(path: Path, *, dataset: str, name: str, required: Sequence[str] = ()) -> pl.DataFrame:
    """Read ``path`` (shown as ``name`` in provenance and errors) into a text frame.

    Parameters
    ----------
    path : Path
        The file to read.
    dataset : str
        Dataset name stored in ``_dataset``.
    name : str
        The file's path relative to the data root, stored in ``_file``.
    required : sequence of str
        Columns the header must contain.

    Returns
    -------
    polars.DataFrame
        One row per CSV record after the header (blank records included, flagged in
        ``_problem``), cells as text, plus the provenance columns.

    Raises
    ------
    InputError
        When the file as a whole cannot be read (see the module docstring).

    Notes
    -----
    One pass over the text; O(B) for B bytes.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(name, "file not found", hint=f"looked for {path}")
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.strip():
        raise InputError(name, "file is empty", hint="a header row and data rows are needed")
    text = data.decode("utf-8", errors="surrogateescape")
    lines = _LINE.findall(text)
    reader = csv.reader(lines)
    records: list[tuple[int, int, list[str]]] = []  # (first line, last line, cells)
    consumed = 0
    for cells in reader:
        records.append((consumed + 1, reader.line_num, cells))
        consumed = reader.line_num
    if not records:
        raise InputError(name, "file is empty")
    header_start, header_end, header_cells = records[0]
    header = _check_header(name, header_cells, "".join(lines[header_start - 1:header_end]), required)
    width = len(header)

    columns: list[list[str | None]] = [[] for _ in range(width)]
    line_col, record_col, problem_col, raw_col = [], [], [], []
    for number, (first, last, cells) in enumerate(records[1:], start=1):
        raw_text = "".join(lines[first - 1:last])
        problem = _record_problem(cells, raw_text, header_cells, width, is_last=number == len(records) - 1)
        if problem is None and len(cells) > width:
            cells = cells[:width]  # extra trailing fields are all empty (checked above)
        usable = problem is None or problem == BLANK_ROW
        for j in range(width):
            columns[j].append((cells[j] if j < len(cells) else "") if usable else None)
        line_col.append(first)
        record_col.append(number)
        problem_col.append(problem)
        raw_col.append(_printable(raw_text.rstrip("\r\n")) if problem not in (None, BLANK_ROW) else None)

    frame = pl.DataFrame({name_: values for name_, values in zip(header, columns)},
                         schema={h: pl.String for h in header})
    frame = frame.with_columns(
        pl.lit(dataset).alias("_dataset"), pl.lit(name).alias("_file"),
        pl.Series("_line", line_col, dtype=pl.Int64), pl.Series("_record", record_col, dtype=pl.Int64),
        pl.Series("_problem", problem_col, dtype=pl.String), pl.Series("_raw", raw_col, dtype=pl.String))
    # Unnamed columns with no value anywhere (USGS pads rows with empty cells) carry nothing.
    empty_unnamed = [h for h in header if h.startswith("_unnamed_")
                     and frame[h].fill_null("").str.strip_chars().eq("").all()]
    return frame.drop(empty_unnamed)


def _check_header(name: str, cells: list[str], raw: str, required: Sequence[str]) -> list[str]:
    if _BAD_BYTE.search(raw):
        raise InputError(name, f"header is not UTF-8 (byte {_first_bad_byte(raw):#04x})", row=1,
                         hint="save the file as UTF-8")
    header = [c.strip() for c in cells]
    if len(header) == 1:
        for delimiter, label in _DELIMITERS.items():
            if delimiter in header[0]:
                raise InputError(name, f"the header is one column '{header[0][:60]}': {label}-separated, "
                                       "not comma-separated?", row=1, hint="the source files are comma-separated")
    named = [h for h in header if h]
    duplicated = sorted({h for h in named if named.count(h) > 1})
    if duplicated:
        raise InputError(name, "column name appears twice in the header", row=1, field=duplicated[0])
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(name, "required column missing", row=1, field=missing[0],
                         hint="header must contain: " + ", ".join(required))
    return [h if h else f"_unnamed_{j + 1}" for j, h in enumerate(header)]


def _record_problem(cells: list[str], raw: str, header_cells: list[str], width: int, *, is_last: bool) -> str | None:
    if _BAD_BYTE.search(raw):
        return f"not UTF-8 (byte {_first_bad_byte(raw):#04x})"
    if raw.count('"') % 2 == 1 and is_last:
        return "quoted field not closed before the end of the file (file truncated?)"
    if not any(c.strip() for c in cells):
        return BLANK_ROW
    if [c.strip() for c in cells] == [c.strip() for c in header_cells]:
        return "repeated header row"
    if len(cells) < width:
        return f"row has {len(cells)} fields, the header has {width}" + (" (file truncated?)" if is_last else "")
    if len(cells) > width and any(c.strip() for c in cells[width:]):
        return f"row has {len(cells)} fields, the header has {width}"
    return None


def _first_bad_byte(text: str) -> int:
    match = _BAD_BYTE.search(text)
    return ord(match.group()) - 0xDC00 if match else 0


def _printable(text: str) -> str:
    """Raw record text with undecodable bytes shown as U+FFFD."""
    return text.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")
