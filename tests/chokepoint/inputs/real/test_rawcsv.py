"""The raw CSV reader of the real data: records, line numbers, quirks, one-line errors."""

from __future__ import annotations

import polars as pl
import pytest

from chokepoint.errors import InputError
from chokepoint.inputs.real.rawcsv import BLANK_ROW
from tests.support.csv_files import read, write


def test_multiline_quoted_fields_keep_record_and_start_line(tmp_path):
    path = write(tmp_path, "c.csv", 'Name,Note,H\n"A","one\nline two\nline three",1\nB,plain,2\n"C","x ""q"" y",3\n')
    frame = read(path)
    assert frame["Name"].to_list() == ["A", "B", "C"]
    assert frame["_record"].to_list() == [1, 2, 3]
    assert frame["_line"].to_list() == [2, 5, 6]  # B starts on line 5: A spans lines 2-4
    assert frame["Note"][0] == "one\nline two\nline three"
    assert frame["Note"][2] == 'x "q" y'
    assert frame["_problem"].null_count() == 3


def test_bom_crlf_trailing_empty_columns_and_blank_rows(tmp_path):
    path = write(tmp_path, "u.csv", b"\xef\xbb\xbfSource,Country,V,,\r\nMCS,China,1,,\r\n,,,,\r\n")
    frame = read(path)
    assert [c for c in frame.columns if not c.startswith("_")] == ["Source", "Country", "V"]
    assert frame["_problem"].to_list() == [None, BLANK_ROW]


def test_ragged_and_truncated_records_are_flagged_not_dropped(tmp_path):
    path = write(tmp_path, "r.csv", "a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11")
    frame = read(path)
    assert frame.height == 4
    problems = frame["_problem"].to_list()
    assert problems[0] is None
    assert problems[1] == "row has 2 fields, the header has 3"
    assert problems[2] == "row has 4 fields, the header has 3"
    assert problems[3] == "row has 2 fields, the header has 3 (file truncated?)"
    assert frame["_raw"][1] == "4,5"


def test_quoted_field_cut_by_the_end_of_the_file(tmp_path):
    path = write(tmp_path, "q.csv", 'a,b\n1,"complete"\n2,"cut in the mid')
    frame = read(path)
    assert frame["_problem"].to_list() == [None, "quoted field not closed before the end of the file (file truncated?)"]


def test_bad_bytes_flag_the_record_with_line_and_byte(tmp_path):
    path = write(tmp_path, "b.csv", b"a,b\n1,ok\n2,caf\xe9\n3,fine\n")
    frame = read(path)
    assert frame["_problem"].to_list() == [None, "not UTF-8 (byte 0xe9)", None]
    assert frame.filter(pl.col("_problem").is_not_null())["_line"].to_list() == [3]
    assert frame["b"].to_list() == ["ok", None, "fine"]


def test_repeated_header_row_is_flagged(tmp_path):
    path = write(tmp_path, "h.csv", "a,b\na,b\n1,2\n")
    assert read(path)["_problem"].to_list() == ["repeated header row", None]


@pytest.mark.parametrize("content, message", [
    ("", "file is empty"),
    ("a;b;c\n1;2;3\n", "semicolon-separated, not comma-separated"),
    ("a\tb\n1\t2\n", "tab-separated"),
    ("a,b,a\n1,2,3\n", "column name appears twice in the header"),
    (b"a,\xffb\n1,2\n", "header is not UTF-8 (byte 0xff)"),
])
def test_file_level_problems_raise_one_clear_error(tmp_path, content, message):
    path = write(tmp_path, "bad.csv", content)
    with pytest.raises(InputError) as err:
        read(path)
    assert message in str(err.value)
    assert str(err.value).startswith("bad.csv")


def test_missing_required_column_names_the_field(tmp_path):
    path = write(tmp_path, "m.csv", "provider_id,year\nP1,2025\n")
    with pytest.raises(InputError, match=r"m.csv, line 1, field 'share_provided': required column missing"):
        read(path, required=("provider_id", "share_provided", "year"))


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read(tmp_path / "nope.csv")
