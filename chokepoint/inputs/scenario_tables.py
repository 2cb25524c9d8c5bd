"""The scenario file as warehouse tables: its source row, and its actors and controls.

The source row (``staging.src_scenario``: name, path, sha256, text) is what every
downstream step parses the scenario from, so all of them see the same bytes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl

from chokepoint.errors import InputError
from chokepoint.inputs.scenario import Scenario, parse_scenario

__all__ = ["read_scenario_source", "scenario_from_source", "actors_table", "controls_table"]

CONTROL_SCHEMA = {"scenario": pl.String, "control_id": pl.String, "kind": pl.String, "jurisdiction": pl.String,
                  "input_id": pl.String, "transit": pl.String, "destination": pl.String, "cost": pl.Float64}


def read_scenario_source(path: Path, name: str) -> pl.DataFrame:
    """The scenario file as one row: ``scenario`` (the name it was selected by), ``path``,
    ``sha256`` of its bytes and ``text``.

    Raises
    ------
    InputError
        If the file does not exist or is not UTF-8.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "scenario file not found", hint="set CHOKEPOINT_SCENARIO to a file in data/scenarios")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(path, "not UTF-8", hint="save the scenario as UTF-8") from None
    return pl.DataFrame({"scenario": [name], "path": [str(path)], "sha256": [hashlib.sha256(raw).hexdigest()],
                         "text": [text]})


def scenario_from_source(source: pl.DataFrame) -> Scenario:
    """The validated scenario from its source row (:func:`read_scenario_source`)."""
    row = source.row(0, named=True)
    return parse_scenario(row["text"], Path(row["path"]))


def actors_table(scenario: Scenario) -> pl.DataFrame:
    """``staging.actors``: one row per actor with members, flags and payoff parameters."""
    return pl.DataFrame([{
        "scenario": scenario.name, "actor": a.id, "name": a.name, "members": list(a.members),
        "signatory": a.signatory, "candidate_defector": a.candidate_defector,
        "detection_probability": a.detection_probability, "value_of_capability": a.value_of_capability,
        "first_mover_gain": a.first_mover_gain, "benefit_of_compliance": a.benefit_of_compliance,
        "firms": list(a.firms),
    } for a in scenario.actors], schema_overrides={"members": pl.List(pl.String), "firms": pl.List(pl.String)})


def controls_table(scenario: Scenario) -> pl.DataFrame:
    """``staging.controls``: the scenario's control catalogue, one row per control."""
    return pl.DataFrame([{
        "scenario": scenario.name, "control_id": c.id, "kind": c.kind, "jurisdiction": c.jurisdiction,
        "input_id": c.input, "transit": c.transit, "destination": c.destination, "cost": c.cost,
    } for c in scenario.controls], schema=CONTROL_SCHEMA)
