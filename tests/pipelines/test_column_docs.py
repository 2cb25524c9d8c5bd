"""One definition of each warehouse column's meaning (docs/warehouse.md) feeds Dagit's column
schema: in every warehouse asset's definition and in its materialisations."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import dagster as dg
import pytest

from chokepoint.errors import InputError
from chokepoint.settings import PROJECT_ROOT
from chokepoint.warehouse.columns import documented_columns, parse_column_docs, warehouse_doc_path
from pipelines.metadata import COLUMN_SCHEMA, column_schema, warehouse_tables

DOC = PROJECT_ROOT / "docs" / "warehouse.md"


def doc_rows() -> dict[str, list[tuple[str, str, str]]]:
    """(column, type, meaning) per ``schema.table`` section, read independently of the parser under test."""
    tables, current = {}, None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"^### (\w+\.\w+)\s*$", line)
        if heading:
            current = tables.setdefault(heading.group(1), [])
        elif re.match(r"^#{1,3} ", line):
            current = None
        elif current is not None and line.startswith("| `"):
            name, kind, *meaning = line.strip().strip("|").split("|")
            current.append((name.strip().strip("`"), kind.strip(), "|".join(meaning).strip()))
    return tables


@pytest.fixture(scope="module")
def definitions():
    from pipelines.definitions import defs

    return defs


def test_every_warehouse_asset_shows_the_documented_meaning_of_every_column(definitions):
    graph = definitions.resolve_asset_graph()
    tables = warehouse_tables(definitions.assets)
    documented = doc_rows()
    assert len(tables) > 60
    problems = []
    for table in tables:
        schema = graph.get(dg.AssetKey(table.split("."))).metadata.get(COLUMN_SCHEMA)
        schema = getattr(schema, "schema", schema)
        if schema is None:
            problems.append(f"{table}: no column schema")
            continue
        rows = [(c.name, c.type, c.description) for c in schema.columns]
        problems += [f"{table}.{name}: no meaning" for name, _, meaning in rows if not (meaning or "").strip()]
        if rows != documented.get(table):
            problems.append(f"{table}: column schema differs from docs/warehouse.md")
    assert problems == []


def test_assets_outside_the_warehouse_have_no_documented_schema(definitions):
    graph = definitions.resolve_asset_graph()
    tables = set(warehouse_tables(definitions.assets))
    others = [key for key in graph.get_all_asset_keys() if ".".join(key.path) not in tables]
    assert dg.AssetKey(["supply_graph", "supply_network"]) in others
    assert all(COLUMN_SCHEMA not in graph.get(key).metadata for key in others)


def test_a_materialisation_carries_the_stored_types_and_the_documented_meanings(tmp_path):
    from pipelines.definitions import all_assets
    from pipelines.io import WarehouseIOManager
    from pipelines.resources import ChokepointSettings

    key = dg.AssetKey(["staging", "src_reference_countries"])
    result = dg.materialize(all_assets, selection=[key], instance=dg.DagsterInstance.ephemeral(), resources={
        "settings": ChokepointSettings(data_dir=str(PROJECT_ROOT / "data")),
        "io_manager": WarehouseIOManager(database=str(tmp_path / "w.duckdb"), direct=True),
        "object_io_manager": dg.FilesystemIOManager(base_dir=str(tmp_path / "objects"))})
    assert result.success
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == key]
    schema = event.materialization.metadata[COLUMN_SCHEMA].schema
    documented = {name: (kind, meaning) for name, kind, meaning in doc_rows()["staging.src_reference_countries"]}
    assert [c.name for c in schema.columns] == list(documented)
    assert {c.name: (c.type, c.description) for c in schema.columns} == documented
    assert {c.type for c in schema.columns} <= {"VARCHAR", "BIGINT"}  # DuckDB's types, not Polars'


def test_parser_keeps_pipes_inside_a_meaning_and_names_bad_rows():
    parsed = documented_columns()
    swing = {c.name: c for c in parsed["analytics.sensitivity"]}["swing"]
    assert swing.type == "DOUBLE" and swing.meaning == "|margin_high − margin_low|, value units"
    text = "# W\n### a.b\n\n| `x` | DOUBLE | meaning |\n| `y` | BIGINT | |\n"
    with pytest.raises(InputError) as err:
        parse_column_docs(text, "warehouse.md")
    assert (err.value.row, err.value.field) == (5, "meaning") and "a.b.y" in str(err.value)
    with pytest.raises(InputError, match="table a.b documented twice") as err:
        parse_column_docs("### a.b\n### a.b\n")
    assert err.value.row == 2
    with pytest.raises(InputError, match="column a.b.x documented twice"):
        parse_column_docs("### a.b\n| `x` | DOUBLE | m |\n| `x` | DOUBLE | m |\n")
    # A table in another section is not a column table.
    assert parse_column_docs("### a.b\n| `x` | DOUBLE | m |\n## Examples\n| `z` | T | n |\n") == {
        "a.b": [parse_column_docs("### a.b\n| `x` | DOUBLE | m |\n")["a.b"][0]]}


def test_undocumented_table_has_no_schema_and_undocumented_columns_no_meaning():
    assert column_schema("analytics.no_such_table") is None
    schema = column_schema("analytics.capability", [("actor", "VARCHAR"), ("new_column", "DOUBLE")])
    assert [(c.name, c.description) for c in schema.columns] == [
        ("actor", "actor id of the scenario (`staging.actors.actor`)"), ("new_column", None)]


def test_the_documentation_is_found_from_any_working_directory(tmp_path):
    assert warehouse_doc_path() == DOC and DOC.is_file()
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    found = subprocess.run([sys.executable, "-c", "from chokepoint.warehouse.columns import documented_columns; "
                            "print(len(documented_columns()['analytics.capability']))"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == str(len(doc_rows()["analytics.capability"]))
