"""The embedded reference dataset: read, validate and put into canonical form.

Files (``data/reference/``), every row with a ``source``:

``countries.csv``        iso3, name, bloc
``input_types.csv``      input_id, name, stage, unit, world_capacity, year, description
``recipes.csv``          product, input, coefficient    (the AND structure)
``shares.csv``           input_id, iso3, share_pct, year (the OR structure)
``compute_capacity.csv`` iso3, h100e, year              (capacity of ``datacenter_compute``)

Canonical tables (:class:`ReferenceData`) carry shares as fractions in [0, 1] and a
capacity per (input, country) = share × world capacity, each row with its provenance.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pycountry

from chokepoint.errors import InputError
from chokepoint.inputs.tables import FILE, LINE, Column, fail_at, read_csv_text, typed
from graph.dag import find_cycle

__all__ = [
    "BLOCS",
    "STAGES",
    "COMPUTE_INPUT",
    "SHARE_SUM_TOLERANCE_PCT",
    "REFERENCE_FILES",
    "ReferenceData",
    "load_reference",
    "read_reference_files",
    "stage_reference",
    "iso3_problem",
]

BLOCS = ("USA", "EU", "ALLIED", "CHINA", "RUSSIA_ALIGNED", "NON_ALIGNED")
STAGES = ("raw_material", "refined_material", "material", "component", "equipment",
          "design", "fabrication", "packaging", "chip", "compute")
#: The input type whose country capacities come from ``compute_capacity.csv``.
COMPUTE_INPUT = "datacenter_compute"
#: Shares of one input may exceed 100 % by this much (rounding in the sources).
SHARE_SUM_TOLERANCE_PCT = 0.5

#: The files of a reference dataset, by table name.
REFERENCE_FILES = ("countries", "input_types", "recipes", "shares", "compute_capacity")

_KNOWN_ISO3 = {c.alpha_3 for c in pycountry.countries}


def iso3_problem(value: str) -> str | None:
    """Why ``value`` is not an ISO 3166-1 alpha-3 code, or None if it is one."""
    if value not in _KNOWN_ISO3:
        return f"'{value}' is not an ISO 3166-1 alpha-3 country code"
    return None


COUNTRY_COLUMNS = [
    Column("iso3", extra_check=iso3_problem),
    Column("name"),
    Column("bloc", choices=BLOCS),
    Column("source"),
]
INPUT_COLUMNS = [
    Column("input_id", "id"),
    Column("name"),
    Column("stage", choices=STAGES),
    Column("unit"),
    Column("world_capacity", "float", minimum=0, exclusive_minimum=True),
    Column("year", "int", minimum=1990, maximum=2100),
    Column("description", required=False, nullable=True),
    Column("source"),
]
RECIPE_COLUMNS = [
    Column("product", "id"),
    Column("input", "id"),
    Column("coefficient", "float", minimum=0, exclusive_minimum=True),
    Column("source"),
]
SHARE_COLUMNS = [
    Column("input_id", "id"),
    Column("iso3"),
    Column("share_pct", "float", minimum=0, maximum=100),
    Column("year", "int", minimum=1990, maximum=2100),
    Column("source"),
]
COMPUTE_COLUMNS = [
    Column("iso3"),
    Column("h100e", "float", minimum=0),
    Column("year", "int", minimum=1990, maximum=2100),
    Column("source"),
]


@dataclass(frozen=True)
class ReferenceData:
    """Validated, canonical reference tables (Polars)."""

    countries: pl.DataFrame      # iso3, name, bloc, source
    input_types: pl.DataFrame    # input_id, name, stage, unit, world_capacity, year, description, source
    recipes: pl.DataFrame        # product, input, coefficient, source
    capacities: pl.DataFrame     # input_id, iso3, share, capacity, year, source, origin

    def country_index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.countries["iso3"])}

    def input_index(self) -> dict[str, int]:
        return {k: i for i, k in enumerate(self.input_types["input_id"])}


def _check_unique(path: Path, frame: pl.DataFrame, keys: list[str]) -> None:
    dup = ~frame.select(pl.struct(keys).is_first_distinct()).to_series()
    fail_at(path, frame, dup, keys[-1], lambda r: "duplicate of an earlier row for " + ", ".join(f"{k}={r[k]}" for k in keys))


def _check_known(path: Path, frame: pl.DataFrame, column: str, known, what: str, hint: str) -> None:
    fail_at(path, frame, ~frame[column].is_in(list(known)), column, lambda r: f"unknown {what} '{r[column]}'", hint=hint)


def _check_iso3(path: Path, frame: pl.DataFrame, countries: pl.DataFrame, countries_path: Path) -> None:
    def message(row):
        code = row["iso3"]
        if problem := iso3_problem(code):
            return f"unknown ISO3 code: {problem}"
        return f"unknown ISO3 code '{code}': valid ISO 3166 but not listed in {countries_path.name}"
    fail_at(path, frame, ~frame["iso3"].is_in(countries["iso3"].to_list()), "iso3", message,
            hint=f"add the country to {countries_path.name} or fix the code")


def read_reference_files(directory: Path) -> dict[str, pl.DataFrame]:
    """Each reference file as read: text cells plus ``_line`` and ``_file``."""
    directory = Path(directory)
    return {name: read_csv_text(directory / f"{name}.csv") for name in REFERENCE_FILES}


def load_reference(directory: Path) -> ReferenceData:
    """Read and validate the reference dataset in ``directory``.

    Raises
    ------
    InputError
        See :func:`stage_reference`.
    """
    return stage_reference(read_reference_files(directory))


def stage_reference(raw: dict[str, pl.DataFrame]) -> ReferenceData:
    """Validate raw reference tables (from :func:`read_reference_files`) into canonical form.

    Raises
    ------
    InputError
        Naming file, line and field of the first problem found: missing columns, bad
        values, unknown ISO3 codes or input ids, duplicates, shares of one input
        summing to more than 100 % (+0.5 pt), cyclic recipes.
    """
    paths = {name: Path(raw[name][FILE][0]) for name in REFERENCE_FILES}
    countries = typed(raw["countries"], COUNTRY_COLUMNS)
    _check_unique(paths["countries"], countries, ["iso3"])
    inputs = typed(raw["input_types"], INPUT_COLUMNS)
    _check_unique(paths["input_types"], inputs, ["input_id"])
    input_ids = inputs["input_id"].to_list()
    if COMPUTE_INPUT not in input_ids:
        raise InputError(paths["input_types"], f"input type '{COMPUTE_INPUT}' is required (actors' sinks consume it)",
                         field="input_id")

    recipes = typed(raw["recipes"], RECIPE_COLUMNS)
    hint = f"input ids are defined in {paths['input_types'].name}"
    _check_known(paths["recipes"], recipes, "product", input_ids, "input type", hint)
    _check_known(paths["recipes"], recipes, "input", input_ids, "input type", hint)
    _check_unique(paths["recipes"], recipes, ["product", "input"])
    _check_acyclic(paths["recipes"], recipes, input_ids)

    shares = typed(raw["shares"], SHARE_COLUMNS)
    _check_known(paths["shares"], shares, "input_id", input_ids, "input type", hint)
    _check_iso3(paths["shares"], shares, countries, paths["countries"])
    fail_at(paths["shares"], shares, shares["input_id"] == COMPUTE_INPUT, "input_id",
            lambda r: f"'{COMPUTE_INPUT}' capacities come from {paths['compute_capacity'].name}, not from shares")
    _check_unique(paths["shares"], shares, ["input_id", "iso3"])
    _check_share_sums(paths["shares"], shares)

    compute = typed(raw["compute_capacity"], COMPUTE_COLUMNS)
    _check_iso3(paths["compute_capacity"], compute, countries, paths["countries"])
    _check_unique(paths["compute_capacity"], compute, ["iso3"])
    total_compute = compute["h100e"].sum()
    if not total_compute > 0:
        raise InputError(paths["compute_capacity"], "total compute capacity is zero", field="h100e")

    world = inputs.select("input_id", "world_capacity")
    share_rows = shares.select(
        "input_id", "iso3", (pl.col("share_pct") / 100.0).alias("share"), "year", "source",
        pl.format("{}:{}", pl.lit(paths["shares"].name), pl.col(LINE)).alias("origin"),
    )
    compute_rows = compute.select(
        pl.lit(COMPUTE_INPUT).alias("input_id"), "iso3", (pl.col("h100e") / total_compute).alias("share"),
        "year", "source",
        pl.format("{}:{}", pl.lit(paths["compute_capacity"].name), pl.col(LINE)).alias("origin"),
    )
    capacities = (
        pl.concat([share_rows, compute_rows])
        .join(world, on="input_id", how="left")
        .with_columns((pl.col("share") * pl.col("world_capacity")).alias("capacity"))
        .filter(pl.col("capacity") > 0)
        .select("input_id", "iso3", "share", "capacity", "year", "source", "origin")
        .sort("input_id", "iso3")
    )
    return ReferenceData(
        countries=countries.select(c.name for c in COUNTRY_COLUMNS),
        input_types=inputs.select(c.name for c in INPUT_COLUMNS),
        recipes=recipes.select(c.name for c in RECIPE_COLUMNS),
        capacities=capacities,
    )


def _check_share_sums(path: Path, shares: pl.DataFrame) -> None:
    totals = shares.group_by("input_id").agg(pl.col("share_pct").sum().alias("total"), pl.col(LINE).max())
    over = totals.filter(pl.col("total") > 100.0 + SHARE_SUM_TOLERANCE_PCT).sort(LINE)
    if over.height:
        row = over.row(0, named=True)
        raise InputError(path, f"shares of '{row['input_id']}' sum to {row['total']:.2f} % (> 100 %)",
                         row=row[LINE], field="share_pct", hint="shares of one input are percent of world capacity")


def _check_acyclic(path: Path, recipes: pl.DataFrame, input_ids: list[str]) -> None:
    index = {k: i for i, k in enumerate(input_ids)}
    # Recipe edges point from the input to the product that consumes it.
    src = np.array([index[k] for k in recipes["input"]], dtype=np.int64)
    dst = np.array([index[k] for k in recipes["product"]], dtype=np.int64)
    cycle = find_cycle(len(input_ids), src, dst)
    if cycle:
        names = [input_ids[i] for i in cycle]
        pairs = set(zip(names[1:], names[:-1]))  # (product, input)
        lines = recipes.filter(pl.struct("product", "input").map_elements(
            lambda s: (s["product"], s["input"]) in pairs, return_dtype=pl.Boolean))[LINE]
        raise InputError(path, "recipes are cyclic: " + " -> ".join(names), row=int(lines.max()),
                         field="input", hint="a product cannot (indirectly) need itself")
