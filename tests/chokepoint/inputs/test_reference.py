"""Every bad-input case of the reference data gives one clear error naming file, line and
field. (Scenario files: tests/chokepoint/inputs/test_scenario.py.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chokepoint.errors import InputError
from chokepoint.inputs.reference import load_reference


def _edit(path: Path, change) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(change(lines)) + "\n", encoding="utf-8")


def _line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def _replace_cell(lines, prefix, column, value):
    header = lines[0].split(",")
    index = header.index(column)
    for i, line in enumerate(lines):
        if line.startswith(prefix):
            cells = line.split(",")
            cells[index] = value
            lines[i] = ",".join(cells)
            return lines
    raise AssertionError(prefix)


def _expect(data: Path, file: str, field: str | None, line: int | None, pattern: str):
    with pytest.raises(InputError) as caught:
        load_reference(data / "reference")
    message = str(caught.value)
    assert message.startswith(file), message
    if line is not None:
        assert f"line {line}" in message, message
    if field is not None:
        assert f"field '{field}'" in message, message
    assert re.search(pattern, message), message
    assert "\n" not in message


def test_missing_column(data_copy):
    path = data_copy / "reference" / "shares.csv"
    _edit(path, lambda lines: [",".join(c for i, c in enumerate(l.split(",")) if i != 2) if n == 0 else l
                               for n, l in enumerate(lines)])
    _expect(data_copy, "shares.csv", None, 2, "row has 5 fields, the header has 4")
    _edit(path, lambda lines: [lines[0]] + [",".join(c for i, c in enumerate(l.split(",")) if i != 2)
                                            for l in lines[1:]])
    _expect(data_copy, "shares.csv", "share_pct", 1, "required column missing")


def test_share_above_100_percent(data_copy):
    path = data_copy / "reference" / "shares.csv"
    _edit(path, lambda lines: _replace_cell(lines, "gallium,CHN", "share_pct", "140"))
    _expect(data_copy, "shares.csv", "share_pct", _line_of(path, "gallium,CHN"), "above the allowed maximum 100")


def test_shares_of_one_input_sum_above_100_percent(data_copy):
    path = data_copy / "reference" / "shares.csv"
    _edit(path, lambda lines: _replace_cell(lines, "gallium,RUS", "share_pct", "5"))
    last_gallium = max(n for n, l in enumerate(path.read_text().splitlines(), 1) if l.startswith("gallium,"))
    _expect(data_copy, "shares.csv", "share_pct", last_gallium, r"'gallium' sum to 103\.\d+ %")


def test_unknown_iso3_code(data_copy):
    path = data_copy / "reference" / "shares.csv"
    _edit(path, lambda lines: _replace_cell(lines, "gallium,RUS", "iso3", "XYZ"))
    _expect(data_copy, "shares.csv", "iso3", _line_of(path, "gallium,XYZ"), "not an ISO 3166-1 alpha-3")


def test_iso3_code_missing_from_countries(data_copy):
    path = data_copy / "reference" / "compute_capacity.csv"
    _edit(path, lambda lines: _replace_cell(lines, "CHN,", "iso3", "NZL"))
    _expect(data_copy, "compute_capacity.csv", "iso3", _line_of(path, "NZL,"), "not listed in countries.csv")


def test_cyclic_recipe(data_copy):
    path = data_copy / "reference" / "recipes.csv"
    _edit(path, lambda lines: lines + ["rare_earth_mining,permanent_magnets,1,test"])
    _expect(data_copy, "recipes.csv", "input", None, "cyclic: .*rare_earth_mining.*permanent_magnets|cyclic: .*permanent_magnets.*rare_earth_mining")


def test_not_a_number(data_copy):
    path = data_copy / "reference" / "input_types.csv"
    _edit(path, lambda lines: _replace_cell(lines, "gallium,", "world_capacity", "lots"))
    _expect(data_copy, "input_types.csv", "world_capacity", _line_of(path, "gallium,"), "'lots' is not a number")


def test_negative_capacity(data_copy):
    path = data_copy / "reference" / "compute_capacity.csv"
    _edit(path, lambda lines: _replace_cell(lines, "DEU,", "h100e", "-5"))
    _expect(data_copy, "compute_capacity.csv", "h100e", _line_of(path, "DEU,"), "below the allowed minimum 0")


def test_zero_world_capacity(data_copy):
    path = data_copy / "reference" / "input_types.csv"
    _edit(path, lambda lines: _replace_cell(lines, "gallium,", "world_capacity", "0"))
    _expect(data_copy, "input_types.csv", "world_capacity", _line_of(path, "gallium,"), r"minimum \(exclusive\) 0")


def test_duplicate_row(data_copy):
    path = data_copy / "reference" / "shares.csv"
    lines = path.read_text().splitlines()
    _edit(path, lambda ls: ls + [lines[1]])
    _expect(data_copy, "shares.csv", "iso3", len(lines) + 1, "duplicate of an earlier row")


def test_unknown_input_in_recipe(data_copy):
    path = data_copy / "reference" / "recipes.csv"
    _edit(path, lambda lines: lines + ["ai_accelerators,unobtainium,1,test"])
    _expect(data_copy, "recipes.csv", "input", _line_of(path, "unobtainium"), "unknown input type 'unobtainium'")


def test_unknown_bloc(data_copy):
    path = data_copy / "reference" / "countries.csv"
    _edit(path, lambda lines: _replace_cell(lines, "FRA,", "bloc", "NATO"))
    _expect(data_copy, "countries.csv", "bloc", _line_of(path, "FRA,"), "'NATO' is not one of")


def test_wrong_delimiter(data_copy):
    path = data_copy / "reference" / "countries.csv"
    path.write_text("iso3;name;bloc;source\nFRA;France;EU;x\n")
    _expect(data_copy, "countries.csv", None, 1, "wrong delimiter")


def test_not_utf8(data_copy):
    path = data_copy / "reference" / "countries.csv"
    path.write_bytes(path.read_bytes().replace(b"France", b"Fr\xe9nce"))
    _expect(data_copy, "countries.csv", None, _line_of_bytes(path, b"Fr\xe9nce"), "not UTF-8")


def _line_of_bytes(path: Path, needle: bytes) -> int:
    data = path.read_bytes()
    return data[: data.index(needle)].count(b"\n") + 1


def test_empty_file(data_copy):
    (data_copy / "reference" / "recipes.csv").write_text("")
    _expect(data_copy, "recipes.csv", None, None, "file is empty")


def test_header_only(data_copy):
    (data_copy / "reference" / "recipes.csv").write_text("product,input,coefficient,source\n")
    _expect(data_copy, "recipes.csv", None, None, "no data rows")


def test_missing_file(data_copy):
    (data_copy / "reference" / "shares.csv").unlink()
    _expect(data_copy, "shares.csv", None, None, "file not found")


def test_ragged_row(data_copy):
    path = data_copy / "reference" / "recipes.csv"
    _edit(path, lambda lines: lines + ["ai_accelerators,dram_hbm"])
    _expect(data_copy, "recipes.csv", None, len(path.read_text().splitlines()), "row has 2 fields, the header has 4")


def test_duplicated_header(data_copy):
    path = data_copy / "reference" / "countries.csv"
    _edit(path, lambda lines: [lines[0] + ",name"] + [l + ",x" for l in lines[1:]])
    _expect(data_copy, "countries.csv", "name", 1, "twice")
