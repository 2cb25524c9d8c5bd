"""docs/warehouse.md against a freshly built warehouse: every table, view and column documented,
nothing documented that is not there, and every example query answers something."""

from __future__ import annotations

import re

import duckdb
import pytest

from chokepoint.settings import PROJECT_ROOT

DOC = PROJECT_ROOT / "docs" / "warehouse.md"
TEXT = DOC.read_text(encoding="utf-8")
HEADING = re.compile(r"^### ([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)\s*$", re.M)
SECTION_END = re.compile(r"^#{1,3} ", re.M)
COLUMN_ROW = re.compile(r"^\| `([^`]+)` \| ([^|]+?) \|", re.M)
SQL_BLOCK = re.compile(r"^```sql\n(.*?)^```", re.M | re.S)
QUESTION = re.compile(r"\*\*[^*]+\?\*\*")


def sections(text: str) -> dict[str, str]:
    """``schema.table`` -> the text of its ``###`` section (up to the next heading)."""
    found = {}
    for match in HEADING.finditer(text):
        end = SECTION_END.search(text, match.end())
        name = f"{match.group(1)}.{match.group(2)}"
        assert name not in found, f"{name} documented twice"
        found[name] = text[match.end():end.start() if end else len(text)]
    return found


def example_queries(text: str) -> list[tuple[str, str]]:
    """(question, SQL) for every ```sql block after '## Example queries'; the question is the
    bold sentence ending in '?' between the previous block and this one."""
    start = text.index("## Example queries")
    queries, previous = [], start
    for match in SQL_BLOCK.finditer(text, start):
        questions = QUESTION.findall(text, previous, match.start())
        queries.append((questions[-1].strip("*") if questions else "", match.group(1)))
        previous = match.end()
    return queries


QUERIES = example_queries(TEXT)


@pytest.fixture(scope="module")
def warehouse(materialized):
    """The reference run's warehouse: its tables are the documented ones (a real-data run adds
    a ``staging.src_*`` table per real file, documented by the manifest)."""
    with duckdb.connect(str(materialized.database), read_only=True) as con:
        yield con


@pytest.fixture(scope="module")
def every_partition(real_run):
    """The warehouse of the shared run of every scenario partition (the examples query
    ``status_quo`` and the other partitions too)."""
    with duckdb.connect(str(real_run.database), read_only=True) as con:
        yield con


@pytest.fixture(scope="module")
def catalogue(warehouse) -> dict[str, list[tuple[str, str]]]:
    """``schema.table`` -> [(column, type)] for every table and view of the warehouse."""
    rows = warehouse.execute(
        "SELECT table_schema || '.' || table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_catalog = current_database() ORDER BY table_schema, table_name, ordinal_position").fetchall()
    tables = {}
    for table, column, kind in rows:
        tables.setdefault(table, []).append((column, kind))
    return tables


def test_parsers_find_sections_and_questions():
    text = ("# t\n### a.b\nx\n| `c` | INTEGER | d |\n## Example queries\n**Why?**\n\n```sql\nSELECT 1;\n```\n"
            "No question here.\n```sql\nSELECT 2;\n```\n")
    assert sections(text) == {"a.b": "\nx\n| `c` | INTEGER | d |\n"}
    assert example_queries(text) == [("Why?", "SELECT 1;\n"), ("", "SELECT 2;\n")]


def test_every_table_and_view_is_documented_and_nothing_else(catalogue):
    documented = set(sections(TEXT))
    assert sorted(set(catalogue) - documented) == [], "tables without a section"
    assert sorted(documented - set(catalogue)) == [], "sections for tables the warehouse does not have"


def test_every_column_is_documented_with_its_type(catalogue):
    problems = []
    for table, text in sections(TEXT).items():
        if table not in catalogue:
            continue
        if "**Grain:**" not in text or "**Written by:**" not in text:
            problems.append(f"{table}: no grain or provenance")
        rows = dict(COLUMN_ROW.findall(text))
        actual = dict(catalogue[table])
        problems += [f"{table}.{c}: not documented" for c in actual if c not in rows]
        problems += [f"{table}.{c}: documented but not in the warehouse" for c in rows if c not in actual]
        problems += [f"{table}.{c}: documented as {rows[c]}, is {kind}" for c, kind in actual.items()
                     if c in rows and rows[c] != kind]
    assert problems == []


def test_there_are_enough_example_questions():
    assert len(QUERIES) >= 10
    assert all(question for question, _ in QUERIES), "every example query is preceded by its question"


@pytest.mark.parametrize("question,sql", QUERIES, ids=[f"q{i + 1}" for i in range(len(QUERIES))])
def test_example_query_answers_its_question(every_partition, question, sql):
    rows = every_partition.execute(sql).fetchall()
    assert len(rows) >= 1, f"no rows for: {question}"
