"""Small cases for the Monte Carlo sweep tests: a one-defector scenario on the reference
data with declared distributions, and a small published warehouse holding its staged tables."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb

from chokepoint.inputs.firm_reference import (build_compute_sourcing, build_producers, build_qualifications,
                                              parse_compute_sourcing, parse_firm_capacity, parse_qualifications,
                                              parse_short_run)
from chokepoint.inputs.reference import load_reference
from chokepoint.inputs.tables import read_csv_text
from chokepoint.inputs.scenario import load_scenario
from chokepoint.warehouse.store import discard_build, open_build, publish_build
from tests.conftest import REFERENCE

__all__ = ["SCENARIO_TEXT", "write_scenario", "staged", "staged_horizons", "publish_staged"]

#: One defector (RUS), a small catalogue, distributions on its parameters and the settings.
SCENARIO_TEXT = """
name = "sweep-small"
[settings]
budget = 1.0
cloud_access_fraction = 0.10
solver = "HIGHS"
time_limit_s = 30.0
[leakage.transit]
MYS = 0.01
[actors.USA]
signatory = true
detection_probability = 0.5
value_of_capability = 1000.0
first_mover_gain = 150.0
benefit_of_compliance = 100.0
[actors.DEU]
signatory = true
detection_probability = 0.8
value_of_capability = 100.0
first_mover_gain = 10.0
benefit_of_compliance = 20.0
[actors.RUS]
members = ["RUS", "BLR"]
signatory = false
candidate_defector = true
detection_probability = 0.8
value_of_capability = 60.0
first_mover_gain = 30.0
benefit_of_compliance = 5.0
[[controls]]
id = "usa-cloud-rus"
kind = "compute_exclusion"
jurisdiction = "USA"
destination = "RUS"
cost = 0.3
[[controls]]
id = "deu-cloud-rus"
kind = "compute_exclusion"
jurisdiction = "DEU"
destination = "RUS"
cost = 0.3
[[controls]]
id = "usa-secondary-mys-accelerators-rus"
kind = "secondary_control"
jurisdiction = "USA"
transit = "MYS"
input = "ai_accelerators"
destination = "RUS"
cost = 0.5
[uncertainty.actors.RUS]
detection_probability = { dist = "triangular", low = 0.4, mode = 0.8, high = 0.95 }
first_mover_gain = { dist = "lognormal", median = 30.0, sigma = 0.4, low = 10.0, high = 60.0 }
[uncertainty.settings]
cloud_access_fraction = { dist = "uniform", low = 0.05, high = 0.2 }
[uncertainty.transit]
MYS = { dist = "uniform", low = 0.0, high = 0.03 }
"""


def write_scenario(folder: Path, name: str = "sweep-small", text: str = SCENARIO_TEXT) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(text)
    return path


def staged() -> dict:
    ref = load_reference(REFERENCE)
    return {"countries": ref.countries, "input_types": ref.input_types, "recipes": ref.recipes,
            "capacities": ref.capacities}


def staged_horizons() -> dict:
    """:func:`staged` plus the reference data's firm-level and short-run tables, built as the
    staging assets build them on reference data (no facilities, no Epoch rows)."""
    tables = staged()
    input_ids, iso3s = tables["input_types"]["input_id"], tables["countries"]["iso3"]
    firm_capacity = parse_firm_capacity(read_csv_text(REFERENCE / "firm_capacity.csv"), input_ids, iso3s,
                                        tables["capacities"].select("input_id", "iso3").rows())
    producers, _ = build_producers(tables["capacities"], firm_capacity, None)
    return {**tables, "producers": producers,
            "short_run_rules": parse_short_run(read_csv_text(REFERENCE / "short_run.csv"), input_ids),
            "qualifications": build_qualifications(parse_qualifications(
                read_csv_text(REFERENCE / "qualifications.csv"), input_ids)),
            "compute_sourcing": build_compute_sourcing(parse_compute_sourcing(
                read_csv_text(REFERENCE / "compute_sourcing.csv"), iso3s))}


def publish_staged(published: Path, scenario_path: Path) -> dict:
    """Publish a warehouse holding the reference data as staged tables, firm-level and
    short-run tables included (:func:`staged_horizons`), and the scenario as
    ``staging.src_scenario`` (what a run on the reference data stages)."""
    load_scenario(scenario_path)
    build = open_build(published, f"test-sweep-{abs(hash(str(published))) % 10_000}", fresh=True)
    try:
        with duckdb.connect(str(build)) as con:
            con.execute("CREATE SCHEMA IF NOT EXISTS staging")
            for name, frame in staged_horizons().items():
                con.register("_frame", frame.to_arrow())
                con.execute(f"CREATE TABLE staging.{name} AS SELECT * FROM _frame")
                con.unregister("_frame")
            raw = scenario_path.read_bytes()
            con.execute("CREATE TABLE staging.src_scenario (scenario VARCHAR, path VARCHAR, sha256 VARCHAR, "
                        "text VARCHAR)")
            con.execute("INSERT INTO staging.src_scenario VALUES (?, ?, ?, ?)",
                        [scenario_path.stem, str(scenario_path), hashlib.sha256(raw).hexdigest(), raw.decode()])
        return publish_build(build, published, run_id="test-staged")
    finally:
        discard_build(build)
