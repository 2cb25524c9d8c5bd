"""The staging rules moved out of the asset modules, on small tables: each names what is wrong."""

from __future__ import annotations

import polars as pl
import pytest

from chokepoint.errors import InputError
from chokepoint.inputs import invariants
from chokepoint.inputs.real.manifest import DataLocation, check_dataset_files, data_mode_table
from chokepoint.inputs.real.stage import MAPPING_FILES, empty_mapping_source, empty_mappings
from chokepoint.inputs.scenario_tables import (actors_table, controls_table, read_scenario_source,
                                               scenario_from_source)
from tests.conftest import DEFAULT_SCENARIO

CAPACITIES = pl.DataFrame({"input_id": ["a", "a", "b"], "iso3": ["USA", "CHN", "NLD"],
                           "share": [0.6, 0.402, 1.0], "capacity": [6.0, 4.02, 0.0]})


def test_share_bounds_and_references():
    found = invariants.share_bounds(CAPACITIES)
    assert found == {"passed": True, "largest_total_share_pct": pytest.approx(100.2), "largest_total_input": "a",
                     "shares_outside_0_1": 0}
    over = CAPACITIES.with_columns(pl.when(pl.col("iso3") == "CHN").then(0.5).otherwise(pl.col("share")).alias("share"))
    assert invariants.share_bounds(over)["passed"] is False
    refs = invariants.capacity_references(CAPACITIES, pl.DataFrame({"iso3": ["USA", "CHN"]}),
                                          pl.DataFrame({"input_id": ["a"]}))
    assert refs == {"unknown_countries": 1, "unknown_inputs": 1, "non_positive_capacities": 1}


def test_quarantine_limit_and_lineage_gaps():
    accounting = pl.DataFrame({"file": ["x.csv", "y.csv"], "rows_read": [100, 10], "quarantined": [1, 5],
                               "quarantined_fraction": [0.01, 0.5]})
    quarantine = pl.DataFrame({"file": ["y.csv"] * 6, "reason": ["bad"] * 5 + [""], "blank": [False] * 5 + [True]})
    found = invariants.quarantine_limit(accounting, quarantine, 0.02)
    assert found.over["file"].to_list() == ["y.csv"] and (found.quarantined_rows, found.blank_rows) == (5, 1)
    assert found.reasons.rows() == [("y.csv", "bad", 5)]
    lineage = pl.DataFrame({"input_id": ["a", "a"], "iso3": ["USA", "CHN"], "contribution": [0.6, 0.4],
                            "file": ["reference/shares.csv", "eto/provision.csv"], "line": [2, 9]})
    raw = {"eto_provision": pl.DataFrame({"_file": ["eto/provision.csv"], "_line": [8]})}
    shares, compute = pl.DataFrame({"_line": [2]}), pl.DataFrame({"_line": pl.Series([], dtype=pl.Int64)})
    gaps = invariants.lineage_gaps(CAPACITIES.filter(pl.col("input_id") == "a"), lineage, raw, shares, compute)
    # CHN's share 0.402 is not the 0.4 its lineage adds up to; eto line 9 is not a source row.
    assert gaps == {"capacities_whose_lineage_does_not_sum_to_their_share": 1, "lineage_rows_not_found_in_sources": 1}


def test_a_modified_or_missing_dataset_file_is_named():
    files = pl.DataFrame({"dataset": ["usgs", "usgs"], "path": ["usgs_mcs/a.csv", "usgs_mcs/b.csv"],
                          "status": ["ok", "modified"], "expected_sha256": ["0" * 64] * 2,
                          "actual_sha256": ["0" * 64, "f" * 64], "expected_bytes": [10, 2000],
                          "actual_bytes": [10, 1000]})
    check_dataset_files(files, "eto")
    with pytest.raises(InputError, match="sha256 does not match the manifest .* 2,000 bytes expected, 1,000 found"):
        check_dataset_files(files, "usgs")
    missing = files.with_columns(pl.lit("missing").alias("status"))
    with pytest.raises(InputError, match="a.csv: real-data file missing"):
        check_dataset_files(missing, "usgs")
    location = DataLocation("real", "auto", "cache", None, "why")
    table = data_mode_table(location, files, True)
    assert table.row(0, named=True) == {"mode": "real", "requested": "auto", "source": "cache", "root": None,
                                        "reason": "why", "files": 2, "files_ok": 1, "files_modified": 1,
                                        "verify_checksums": True, "datasets": "usgs"}


def test_empty_mapping_tables_keep_their_columns():
    assert set(empty_mappings().eto_input_map.columns) == {c.name for c in MAPPING_FILES["eto_input_map"]} | {"_line"}
    source = empty_mapping_source("firm_aliases")
    assert source.height == 0 and source.columns[-2:] == ["_line", "_file"]


def test_scenario_source_and_tables(tmp_path):
    source = read_scenario_source(DEFAULT_SCENARIO, "default")
    scenario = scenario_from_source(source)
    actors, controls = actors_table(scenario), controls_table(scenario)
    assert actors.height == len(scenario.actors) and controls.height == len(scenario.controls)
    assert controls.schema["cost"] == pl.Float64 and actors["scenario"].unique().to_list() == [scenario.name]
    with pytest.raises(InputError, match="scenario file not found"):
        read_scenario_source(tmp_path / "none.toml", "none")
    latin = tmp_path / "latin.toml"
    latin.write_bytes("name = 'Zürich'\n".encode("latin-1"))
    with pytest.raises(InputError, match="latin.toml: not UTF-8"):
        read_scenario_source(latin, "latin")
