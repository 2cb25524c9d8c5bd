"""Supply networks as Parquet files: exact round trip, files from other tools, bad input
named by table, row and column."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from graph.failure import producible
from graph.parquet import FILES, network_from_arrow, network_to_arrow, read_network_parquet, write_network_parquet
from tests.graph.test_synthetic import synthetic


def test_parquet_round_trip_is_exact(reference, scenario, tmp_path):
    network = synthetic(reference, scenario, nodes=1_500, seed=4)
    paths = write_network_parquet(network, tmp_path / "net")
    assert {p.name for p in paths.values()} == set(FILES.values())
    back = read_network_parquet(tmp_path / "net")
    for name in network.__dataclass_fields__:
        a, b = getattr(network, name), getattr(back, name)
        assert (np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b), name
    nodes = pl.read_parquet(paths["nodes"])
    assert nodes.filter(pl.col("kind").cast(pl.String) == "sink")["capacity"].null_count() == len(scenario.actors)


def _tables(reference, scenario):
    return network_to_arrow(synthetic(reference, scenario, nodes=1_000, seed=5))


@pytest.mark.parametrize("table, column, value, message", [
    ("edges", "dst", 10**9, r"edges, row 1, column 'dst': node 1000000000 not in nodes"),
    ("nodes", "capacity", -1.0, r"nodes, row 1, column 'capacity': must be a non-negative number"),
    ("requirements", "coefficient", 0.0, r"requirements, row 1, column 'coefficient': must be a positive number"),
    ("nodes", "iso3", "XXX", r"nodes, row 1, column 'iso3': unknown value 'XXX'"),
    ("edges", "kind", "teleport", r"edges, row 1, column 'kind': unknown value 'teleport'"),
])
def test_bad_parquet_input_names_table_row_and_column(reference, scenario, table, column, value, message):
    tables = _tables(reference, scenario)
    target = tables[table]
    original = target.column(column)
    plain = original.cast(pa.string()) if pa.types.is_dictionary(original.type) else original
    values = plain.to_pylist()
    values[0] = value
    tables[table] = target.set_column(target.column_names.index(column), column,
                                      pa.array(values, type=plain.type))
    with pytest.raises(ValueError, match=message):
        network_from_arrow(tables["nodes"], tables["edges"], tables["requirements"])


def test_missing_column_and_missing_file(reference, scenario, tmp_path):
    tables = _tables(reference, scenario)
    with pytest.raises(ValueError, match=r"edges, column 'src': missing column"):
        network_from_arrow(tables["nodes"], tables["edges"].drop(["src"]), tables["requirements"])
    write_network_parquet(synthetic(reference, scenario, nodes=1_000), tmp_path)
    (tmp_path / FILES["requirements"]).unlink()
    with pytest.raises(ValueError, match=r"requirements.parquet: missing"):
        read_network_parquet(tmp_path)
    (tmp_path / FILES["requirements"]).write_text("not parquet")
    with pytest.raises(ValueError, match=r"requirements.parquet: not a readable Parquet file"):
        read_network_parquet(tmp_path)


def test_parquet_from_another_tool_without_vocabulary_metadata(reference, scenario, tmp_path):
    """Plain string columns and no schema metadata: vocabularies are the sorted values."""
    tables = _tables(reference, scenario)
    for name in FILES:
        table = tables[name].replace_schema_metadata(None)
        table = pa.table({c: (table.column(c).cast(pa.string()) if pa.types.is_dictionary(table.column(c).type)
                              else table.column(c)) for c in table.column_names})
        pq.write_table(table, tmp_path / FILES[name])
    back = read_network_parquet(tmp_path)
    assert back.num_nodes == 1_000 and list(back.inputs) == sorted(back.inputs)
    assert (producible(back) == producible(network_from_arrow(*_tables(reference, scenario).values()))).all()
