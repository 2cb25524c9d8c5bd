"""Firm- and facility-level reference data for the short-run horizon, and the tables built from it.

Reference files (``data/reference/``, embedded so a run on reference data has them), every
row with a public ``source`` (``estimate: …`` with the reasoning where no figure is
published, always with a low–high range):

``firm_capacity.csv``     input_id, iso3, firm_id, name, share_of_country, share_low, share_high,
                          year, source — how a country's capacity of an input splits among
                          firms (shares of one (input, country) sum to at most 1; the rest is a
                          ``residual`` producer)
``qualifications.csv``    buyer_firm_id, input_id, supplier_firm_id, basis, evidence, source —
                          which suppliers an accelerator vendor is qualified on within a year
``short_run.csv``         input_id, qualification, utilisation, utilisation_low,
                          utilisation_high, source — one row per input type
``compute_sourcing.csv``  iso3 (or ``WORLD``), input_id, supplier_firm_id, h100e, h100e_low,
                          h100e_high, year, source — accelerator vendors behind each
                          country's compute build-out (the parts real data does not give)

Tables built (pure Polars functions; :mod:`pipelines.assets.firms` wraps them):

- :func:`build_producers` — the finest producer level the data supports, summing to the
  country capacities exactly (``staging.producers``);
- :func:`build_facilities` — atlas campuses with the leading-edge capacity they carry;
- :func:`build_qualifications` — reference rows plus Epoch AI's foundry per accelerator;
- :func:`build_compute_sourcing` — Epoch AI chip counts by owner plus reference rows;
- :func:`firm_roles` — the roles a firm plays, from every table that names it.

A bad reference row raises :class:`~chokepoint.errors.InputError` naming file, line and
field.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from chokepoint.errors import InputError
from chokepoint.inputs.tables import FILE, LINE, Column, fail_at, typed

__all__ = [
    "FIRM_REFERENCE_FILES", "FIRM_CAPACITY_COLUMNS", "QUALIFICATION_COLUMNS", "SHORT_RUN_COLUMNS",
    "COMPUTE_SOURCING_COLUMNS", "QUALIFICATION_BASES", "SHORT_RUN_KINDS", "PRODUCER_BASES", "ROLES",
    "ACCELERATORS", "DESIGN", "LEADING_EDGE", "WORLD", "SHARE_TOLERANCE", "PRODUCER_SCHEMA", "FACILITY_SCHEMA",
    "QUALIFICATIONS_SCHEMA", "SOURCING_SCHEMA", "FIRM_CAPACITY_SCHEMA", "SHORT_RUN_SCHEMA",
    "parse_firm_reference", "parse_firm_capacity", "parse_qualifications", "parse_short_run", "parse_compute_sourcing",
    "reference_firms", "build_producers", "build_facilities", "build_qualifications", "build_compute_sourcing",
    "build_compute_owners", "COMPUTE_OWNER_SCHEMA",
    "firm_roles", "role_of_input",
]

#: The reference files of this module, by table name.
FIRM_REFERENCE_FILES = ("firm_capacity", "qualifications", "short_run", "compute_sourcing")
ACCELERATORS = "ai_accelerators"
DESIGN = "ai_accelerator_design"
LEADING_EDGE = "leading_edge_logic_fab"
#: ``iso3`` of the compute-sourcing rows that stand for every owner not listed by country.
WORLD = "WORLD"
#: Shares of one (input, country) may exceed 1 by this much (floating point only).
SHARE_TOLERANCE = 1e-9
#: Largest process node (nm) that counts as leading-edge logic (``leading_edge_logic_fab``).
LEADING_EDGE_NM = 7.0

QUALIFICATION_BASES = ("design_of_record", "supplier_of_record", "second_source", "stockpile", "qualifying")
SHORT_RUN_KINDS = ("open", "design", "listed", "process", "installed_base")
PRODUCER_BASES = ("country", "firm_share", "residual", "facility_single_campus", "facility_reference")
#: Roles a firm can play (``staging.firms.roles``).
ROLES = ("foundry", "memory", "packager", "equipment", "material", "designer", "eda_ip", "chipmaker", "cloud",
         "compute_owner")

_FIRM_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def _firm_id_problem(value: str) -> str | None:
    if not _FIRM_ID.match(value):
        return f"'{value}' is not a firm id (lower-case letters, digits, '-')"
    return None


FIRM_CAPACITY_COLUMNS = [
    Column("input_id", "id"),
    Column("iso3"),
    Column("firm_id", extra_check=_firm_id_problem),
    Column("name"),
    Column("share_of_country", "float", minimum=0, maximum=1),
    Column("share_low", "float", minimum=0, maximum=1),
    Column("share_high", "float", minimum=0, maximum=1),
    Column("year", "int", minimum=1990, maximum=2100),
    Column("source"),
]
QUALIFICATION_COLUMNS = [
    Column("buyer_firm_id", extra_check=_firm_id_problem),
    Column("input_id", "id"),
    Column("supplier_firm_id", extra_check=_firm_id_problem),
    Column("basis", choices=QUALIFICATION_BASES),
    Column("evidence"),
    Column("source"),
]
SHORT_RUN_COLUMNS = [
    Column("input_id", "id"),
    Column("qualification", choices=SHORT_RUN_KINDS),
    Column("utilisation", "float", nullable=True, minimum=0, maximum=1),
    Column("utilisation_low", "float", nullable=True, minimum=0, maximum=1),
    Column("utilisation_high", "float", nullable=True, minimum=0, maximum=1),
    Column("source"),
    Column("lead_time_months", "float", required=False, nullable=True, minimum=0),
    Column("lead_time_low", "float", required=False, nullable=True, minimum=0),
    Column("lead_time_high", "float", required=False, nullable=True, minimum=0),
    Column("lead_time_source", required=False, nullable=True),
]
COMPUTE_SOURCING_COLUMNS = [
    Column("iso3"),
    Column("input_id", "id", choices=(ACCELERATORS,)),
    Column("supplier_firm_id", extra_check=_firm_id_problem),
    Column("h100e", "float", minimum=0),
    Column("h100e_low", "float", minimum=0),
    Column("h100e_high", "float", minimum=0),
    Column("year", "int", minimum=1990, maximum=2100),
    Column("source"),
]

FIRM_CAPACITY_SCHEMA = {"input_id": pl.String, "iso3": pl.String, "firm_id": pl.String, "name": pl.String,
                        "share_of_country": pl.Float64, "share_low": pl.Float64, "share_high": pl.Float64,
                        "year": pl.Int64, "source": pl.String, "file": pl.String, "line": pl.Int64}
SHORT_RUN_SCHEMA = {"input_id": pl.String, "qualification": pl.String, "utilisation": pl.Float64,
                    "utilisation_low": pl.Float64, "utilisation_high": pl.Float64, "source": pl.String,
                    "lead_time_months": pl.Float64, "lead_time_low": pl.Float64, "lead_time_high": pl.Float64,
                    "lead_time_source": pl.String, "file": pl.String, "line": pl.Int64}
PRODUCER_SCHEMA = {"producer_id": pl.String, "iso3": pl.String, "input_id": pl.String, "firm_id": pl.String,
                   "facility_id": pl.String, "level": pl.String, "capacity": pl.Float64,
                   "share_of_country": pl.Float64, "basis": pl.String, "source": pl.String,
                   "country_capacity": pl.Float64, "file": pl.String, "line": pl.Int64}
FACILITY_SCHEMA = {"facility_id": pl.String, "name": pl.String, "operator_as_written": pl.String,
                   "operator_firm_id": pl.String, "operator_method": pl.String, "operator_note": pl.String,
                   "iso3": pl.String, "status": pl.String, "status_group": pl.String, "operating": pl.Boolean,
                   "as_of": pl.Date, "longitude": pl.Float64, "latitude": pl.Float64,
                   "coordinate_precision": pl.String, "input_id": pl.String, "capacity_share": pl.Float64,
                   "capacity": pl.Float64, "capacity_basis": pl.String, "dataset": pl.String, "file": pl.String,
                   "line": pl.Int64}
QUALIFICATIONS_SCHEMA = {"buyer_firm_id": pl.String, "input_id": pl.String, "supplier_firm_id": pl.String,
                         "basis": pl.String, "evidence": pl.String, "source": pl.String, "origin": pl.String,
                         "dataset": pl.String, "file": pl.String, "line": pl.Int64}
SOURCING_SCHEMA = {"iso3": pl.String, "input_id": pl.String, "supplier_firm_id": pl.String, "h100e": pl.Float64,
                   "h100e_low": pl.Float64, "h100e_high": pl.Float64, "share": pl.Float64, "year": pl.Int64,
                   "source": pl.String, "dataset": pl.String, "file": pl.String, "line": pl.Int64,
                   "rows": pl.Int64}


# --------------------------------------------------------------------------------------------------- readers


def _path(frame: pl.DataFrame) -> Path:
    return Path(frame[FILE][0])


def _provenance(frame: pl.DataFrame) -> list[pl.Expr]:
    return [pl.lit(f"reference/{_path(frame).name}").alias("file"), pl.col(LINE).alias("line")]


def _check_unique(path: Path, frame: pl.DataFrame, keys: list[str]) -> None:
    duplicate = ~frame.select(pl.struct(keys).is_first_distinct()).to_series()
    fail_at(path, frame, duplicate, keys[-1],
            lambda r: "duplicate of an earlier row for " + ", ".join(f"{k}={r[k]}" for k in keys))


def _check_known(path: Path, frame: pl.DataFrame, column: str, known, what: str, hint: str) -> None:
    fail_at(path, frame, ~frame[column].is_in(list(known)), column, lambda r: f"unknown {what} '{r[column]}'",
            hint=hint)


def _check_range(path: Path, frame: pl.DataFrame, low: str, value: str, high: str) -> None:
    fail_at(path, frame, (frame[low] > frame[value]).fill_null(False), low,
            lambda r: f"{low} {r[low]:g} is above {value} {r[value]:g}", hint=f"need {low} ≤ {value} ≤ {high}")
    fail_at(path, frame, (frame[high] < frame[value]).fill_null(False), high,
            lambda r: f"{high} {r[high]:g} is below {value} {r[value]:g}", hint=f"need {low} ≤ {value} ≤ {high}")


def parse_firm_capacity(raw: pl.DataFrame, input_ids, iso3s, capacity_pairs=None) -> pl.DataFrame:
    """Validate ``firm_capacity.csv`` (a text frame from ``read_csv_text``).

    Parameters
    ----------
    raw : polars.DataFrame
        The file as read.
    input_ids, iso3s : iterable of str
        Known input types and countries.
    capacity_pairs : iterable of (str, str), optional
        ``(input_id, iso3)`` pairs that have a capacity; a firm row for any other pair
        is an error (there is nothing to split).

    Returns
    -------
    polars.DataFrame
        :data:`FIRM_CAPACITY_SCHEMA`, ``file`` as ``reference/firm_capacity.csv``.

    Raises
    ------
    InputError
        Naming file, line and field: a missing column, a bad value, an unknown input or
        country, a duplicate (input, country, firm), ``share_low ≤ share_of_country ≤
        share_high`` violated, shares of one (input, country) summing above 1.
    """
    path = _path(raw)
    frame = typed(raw, FIRM_CAPACITY_COLUMNS)
    _check_known(path, frame, "input_id", input_ids, "input type", "input ids are defined in input_types.csv")
    _check_known(path, frame, "iso3", iso3s, "country", "countries are defined in countries.csv")
    _check_unique(path, frame, ["input_id", "iso3", "firm_id"])
    _check_range(path, frame, "share_low", "share_of_country", "share_high")
    if capacity_pairs is not None:
        pairs = {tuple(p) for p in capacity_pairs}
        missing = [(row["input_id"], row["iso3"]) not in pairs for row in frame.iter_rows(named=True)]
        fail_at(path, frame, pl.Series(missing, dtype=pl.Boolean), "iso3",
                lambda r: f"{r['iso3']} has no capacity of '{r['input_id']}' to split among firms",
                hint="add the country's share to shares.csv first, or drop the row")
    totals = frame.with_columns(pl.col("share_of_country").sum().over("input_id", "iso3").alias("_total"),
                                pl.col(LINE).max().over("input_id", "iso3").alias("_last"))
    fail_at(path, totals, (totals["_total"] > 1 + SHARE_TOLERANCE) & (totals[LINE] == totals["_last"]),
            "share_of_country", lambda r: f"shares of '{r['input_id']}' in {r['iso3']} sum to {r['_total']:.4f} (> 1)",
            hint="share_of_country is the firm's fraction of the country's capacity")
    return frame.select(*[c.name for c in FIRM_CAPACITY_COLUMNS], *_provenance(frame)).cast(FIRM_CAPACITY_SCHEMA)


def parse_qualifications(raw: pl.DataFrame, input_ids) -> pl.DataFrame:
    """Validate ``qualifications.csv``; one row per (buyer, input, supplier).

    Raises
    ------
    InputError
        Naming file, line and field of the first problem.
    """
    path = _path(raw)
    frame = typed(raw, QUALIFICATION_COLUMNS)
    _check_known(path, frame, "input_id", input_ids, "input type", "input ids are defined in input_types.csv")
    _check_unique(path, frame, ["buyer_firm_id", "input_id", "supplier_firm_id"])
    fail_at(path, frame, frame["buyer_firm_id"] == frame["supplier_firm_id"], "supplier_firm_id",
            lambda r: f"'{r['buyer_firm_id']}' cannot be qualified on itself")
    return frame.select(*[c.name for c in QUALIFICATION_COLUMNS], pl.lit("reference").alias("origin"),
                        pl.lit("reference").alias("dataset"), *_provenance(frame))


def parse_short_run(raw: pl.DataFrame, input_ids) -> pl.DataFrame:
    """Validate ``short_run.csv``: exactly one row per input type.

    Raises
    ------
    InputError
        Naming file, line and field: an unknown or repeated input, an input type without
        a row (named in the message), a utilisation range that does not contain the
        utilisation, or a range given without the utilisation (or the reverse); the same for
        the qualification lead time (``lead_time_months`` with its low, high and source;
        optional columns: a file without them has no lead times).
    """
    path = _path(raw)
    frame = typed(raw, SHORT_RUN_COLUMNS)
    input_ids = list(input_ids)
    _check_known(path, frame, "input_id", input_ids, "input type", "input ids are defined in input_types.csv")
    _check_unique(path, frame, ["input_id"])
    missing = [k for k in input_ids if k not in set(frame["input_id"].to_list())]
    if missing:
        raise InputError(path, f"no row for input type '{missing[0]}'" + (f" (and {len(missing) - 1} more)"
                                                                          if len(missing) > 1 else ""),
                         field="input_id", hint="short_run.csv needs one row per input type of input_types.csv")
    given = [pl.col(c).is_not_null() for c in ("utilisation", "utilisation_low", "utilisation_high")]
    partial = frame.select((pl.any_horizontal(given) & ~pl.all_horizontal(given)).alias("p"))["p"]
    fail_at(path, frame, partial, "utilisation",
            lambda r: "give utilisation with its low and high, or leave all three empty (no limit)")
    _check_range(path, frame, "utilisation_low", "utilisation", "utilisation_high")
    for column in ("lead_time_months", "lead_time_low", "lead_time_high", "lead_time_source"):
        if column not in frame.columns:   # a file without lead times: no new supplier within any horizon
            frame = frame.with_columns(pl.lit(None, dtype=SHORT_RUN_SCHEMA[column]).alias(column))
    lead = [pl.col(c).is_not_null() for c in ("lead_time_months", "lead_time_low", "lead_time_high",
                                              "lead_time_source")]
    partial = frame.select((pl.any_horizontal(lead) & ~pl.all_horizontal(lead)).alias("p"))["p"]
    fail_at(path, frame, partial, "lead_time_months",
            lambda r: "give lead_time_months with its low, high and source, or leave all four empty")
    _check_range(path, frame, "lead_time_low", "lead_time_months", "lead_time_high")
    return frame.select(*[c.name for c in SHORT_RUN_COLUMNS], *_provenance(frame)).cast(SHORT_RUN_SCHEMA)


def parse_compute_sourcing(raw: pl.DataFrame, iso3s) -> pl.DataFrame:
    """Validate ``compute_sourcing.csv``; ``iso3`` is a known country or ``WORLD``.

    Raises
    ------
    InputError
        Naming file, line and field of the first problem (unknown country, duplicate
        (iso3, supplier, year), ``h100e_low ≤ h100e ≤ h100e_high`` violated).
    """
    path = _path(raw)
    frame = typed(raw, COMPUTE_SOURCING_COLUMNS)
    _check_known(path, frame, "iso3", [*iso3s, WORLD], "country", f"a country of countries.csv or {WORLD}")
    _check_unique(path, frame, ["iso3", "year", "supplier_firm_id"])
    _check_range(path, frame, "h100e_low", "h100e", "h100e_high")
    return frame.select(*[c.name for c in COMPUTE_SOURCING_COLUMNS], *_provenance(frame))


def parse_firm_reference(raw: dict[str, pl.DataFrame], input_types: pl.DataFrame,
                         countries: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Parse the firm-naming reference files present in ``raw`` (``firm_capacity``,
    ``qualifications``, ``compute_sourcing``) against the reference input types and countries.

    Raises
    ------
    InputError
        See the ``parse_*`` function of each file.
    """
    input_ids, iso3s = input_types["input_id"].to_list(), countries["iso3"].to_list()
    parsers = {"firm_capacity": lambda f: parse_firm_capacity(f, input_ids, iso3s),
               "qualifications": lambda f: parse_qualifications(f, input_ids),
               "compute_sourcing": lambda f: parse_compute_sourcing(f, iso3s)}
    return {name: parsers[name](frame) for name, frame in raw.items() if name in parsers}


def reference_firms(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Every firm id the parsed reference tables name, with its name where ``firm_capacity`` gives one.

    Returns ``firm_id``, ``name``, ``file``, ``line`` (first mention), one row per firm id.
    """
    schema = {"firm_id": pl.String, "name": pl.String, "file": pl.String, "line": pl.Int64}
    rows = [tables["firm_capacity"].select("firm_id", "name", "file", "line")] if "firm_capacity" in tables else []
    for table, columns in (("qualifications", ("buyer_firm_id", "supplier_firm_id")),
                           ("compute_sourcing", ("supplier_firm_id",))):
        if table in tables:
            rows += [tables[table].select(pl.col(c).alias("firm_id"), pl.col(c).alias("name"), "file", "line")
                     for c in columns]
    if not rows:
        return pl.DataFrame(schema=schema)
    return pl.concat([r.cast(schema) for r in rows]).unique("firm_id", keep="first", maintain_order=True)


# ---------------------------------------------------------------------------------------------------- builders


def build_facilities(campuses: pl.DataFrame, firm_capacity: pl.DataFrame,
                     capacities: pl.DataFrame) -> pl.DataFrame:
    """Atlas campuses with the leading-edge capacity they carry.

    A campus makes ``leading_edge_logic_fab`` when its operator has a firm share of that
    input in the campus's country (``firm_capacity``). Capacity is attributed to a campus
    only where the data allows it: when it is its operator's *only* operating campus in
    that country, the firm's capacity there is the campus's (``capacity_share`` = 1).
    No per-campus capacity is public, so where a firm runs several operating campuses in a
    country (TSMC in Taiwan, SMIC in China) none carries a share — splitting evenly would
    hand ≤ 7 nm capacity to mature-node campuses — and the firm's producer keeps it.
    Planned, under-construction, pilot and uncertain campuses carry none; ``capacity_basis``
    says why for every campus.
    """
    if campuses.height == 0:
        return pl.DataFrame(schema=FACILITY_SCHEMA)
    firm_le = firm_capacity.filter((pl.col("input_id") == LEADING_EDGE) & (pl.col("share_of_country") > 0))
    country = capacities.filter(pl.col("input_id") == LEADING_EDGE).select("iso3", pl.col("capacity").alias("_cc"))
    firm_le = firm_le.join(country, on="iso3", how="inner").select(
        pl.col("firm_id").alias("operator_firm_id"), "iso3", (pl.col("share_of_country") * pl.col("_cc")).alias("_fc"))
    frame = campuses.join(firm_le, on=["operator_firm_id", "iso3"], how="left")
    has = pl.col("_fc").is_not_null()
    eligible = has & pl.col("operating")
    frame = frame.with_columns(eligible.alias("_eligible")).with_columns(
        pl.col("_eligible").sum().over("operator_firm_id", "iso3").alias("_n"))
    single = pl.col("_eligible") & (pl.col("_n") == 1)
    share = pl.when(single).then(1.0)
    basis = (pl.when(single).then(pl.format(
        "facility_single_campus: {}'s only operating atlas campus in {}, so the firm's leading-edge capacity there "
        "is the campus's", pl.col("operator_firm_id"), pl.col("iso3")))
        .when(pl.col("_eligible")).then(pl.format(
            "firm_level: {} runs {} operating campuses in {} and no per-campus capacity is public; the firm's "
            "producer carries the capacity", pl.col("operator_firm_id"), pl.col("_n"), pl.col("iso3")))
        .when(has).then(pl.format("excluded from current capacity: {}", pl.col("operating_note")))
        .otherwise(pl.format("no leading-edge capacity: firm_capacity gives {} no share of {} in {}",
                             pl.col("operator_firm_id").fill_null("(unresolved operator)"), pl.lit(LEADING_EDGE),
                             pl.col("iso3"))))
    out = frame.with_columns(
        pl.when(has).then(pl.lit(LEADING_EDGE)).alias("input_id"), share.alias("capacity_share"),
        (share * pl.col("_fc")).alias("capacity"), basis.alias("capacity_basis"))
    return out.select(list(FACILITY_SCHEMA)).cast(FACILITY_SCHEMA).sort("facility_id")


def build_producers(capacities: pl.DataFrame, firm_capacity: pl.DataFrame,
                    facilities: pl.DataFrame | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Producer nodes at the finest level the data supports.

    Per (iso3, input_id) of ``capacities``: no firm split → one ``country`` producer;
    else one ``firm`` producer per firm (share × country capacity) and a ``residual``
    producer for what the listed firms leave (the country capacity minus their sum, so
    the producers sum to the country capacity exactly); a firm with operating campuses
    in ``facilities`` is replaced by its ``facility`` producers.

    Returns
    -------
    tuple of polars.DataFrame
        ``(producers, unused)``: :data:`PRODUCER_SCHEMA`, and the ``firm_capacity`` rows
        whose (input, country) has no capacity (nothing to split; reported, not used).

    Notes
    -----
    Linear in the number of rows.
    """
    caps = capacities.select("input_id", "iso3", pl.col("capacity").cast(pl.Float64).alias("country_capacity"),
                             pl.col("source").alias("_country_source"))
    firms = firm_capacity.join(caps.select("input_id", "iso3"), on=["input_id", "iso3"], how="semi")
    unused = firm_capacity.join(caps.select("input_id", "iso3"), on=["input_id", "iso3"], how="anti")
    split = firms.join(caps, on=["input_id", "iso3"]).with_columns(
        (pl.col("share_of_country") * pl.col("country_capacity")).alias("capacity"))
    firm_rows = split.select(
        pl.format("{}:{}:{}", "iso3", "input_id", "firm_id").alias("producer_id"), "iso3", "input_id", "firm_id",
        pl.lit(None, pl.String).alias("facility_id"), pl.lit("firm").alias("level"), "capacity", "share_of_country",
        pl.lit("firm_share").alias("basis"), "source", "country_capacity", "file", "line")
    facility_rows = pl.DataFrame(schema=PRODUCER_SCHEMA)
    if facilities is not None and facilities.height:
        carried = facilities.filter(pl.col("capacity_share").is_not_null())
        parts = carried.drop("capacity").join(
            split.select("iso3", "input_id", pl.col("firm_id").alias("operator_firm_id"),
                         pl.col("share_of_country").alias("_firm_share"), pl.col("capacity").alias("_firm_capacity"),
                         "country_capacity"),
            on=["iso3", "input_id", "operator_firm_id"], how="inner")
        facility_rows = parts.select(
            pl.format("{}:{}:{}:{}", "iso3", "input_id", "operator_firm_id", "facility_id").alias("producer_id"),
            "iso3", "input_id", pl.col("operator_firm_id").alias("firm_id"), "facility_id",
            pl.lit("facility").alias("level"), (pl.col("_firm_capacity") * pl.col("capacity_share")).alias("capacity"),
            (pl.col("_firm_share") * pl.col("capacity_share")).alias("share_of_country"),
            pl.lit("facility_single_campus").alias("basis"),
            pl.format("AI Chip Fab Atlas campus {} ({}); capacity: {}", "facility_id", "name", "capacity_basis")
            .alias("source"), "country_capacity", "file", "line")
        replaced = facility_rows.select("iso3", "input_id", "firm_id").unique()
        firm_rows = firm_rows.join(replaced, on=["iso3", "input_id", "firm_id"], how="anti")
    listed = split.group_by("input_id", "iso3").agg(pl.col("capacity").sum().alias("_listed"),
                                                    pl.col("share_of_country").sum().alias("_shares"))
    country = caps.join(listed, on=["input_id", "iso3"], how="left")
    whole = country.filter(pl.col("_listed").is_null()).select(
        pl.format("{}:{}", "iso3", "input_id").alias("producer_id"), "iso3", "input_id",
        pl.lit(None, pl.String).alias("firm_id"), pl.lit(None, pl.String).alias("facility_id"),
        pl.lit("country").alias("level"), pl.col("country_capacity").alias("capacity"),
        pl.lit(1.0).alias("share_of_country"), pl.lit("country").alias("basis"),
        pl.col("_country_source").alias("source"), "country_capacity", pl.lit(None, pl.String).alias("file"),
        pl.lit(None, pl.Int64).alias("line"))
    rest = country.filter(pl.col("_listed").is_not_null()).with_columns(
        (pl.col("country_capacity") - pl.col("_listed")).alias("_rest"))
    residual = rest.filter(pl.col("_rest") > SHARE_TOLERANCE * pl.col("country_capacity")).select(
        pl.format("{}:{}", "iso3", "input_id").alias("producer_id"), "iso3", "input_id",
        pl.lit(None, pl.String).alias("firm_id"), pl.lit(None, pl.String).alias("facility_id"),
        pl.lit("country").alias("level"), pl.col("_rest").alias("capacity"),
        (pl.col("_rest") / pl.col("country_capacity")).alias("share_of_country"), pl.lit("residual").alias("basis"),
        pl.format("what the firms listed in firm_capacity.csv leave of the country's capacity ({})",
                  "_country_source").alias("source"), "country_capacity", pl.lit(None, pl.String).alias("file"),
        pl.lit(None, pl.Int64).alias("line"))
    producers = pl.concat([firm_rows.cast(PRODUCER_SCHEMA), facility_rows.cast(PRODUCER_SCHEMA),
                           whole.cast(PRODUCER_SCHEMA), residual.cast(PRODUCER_SCHEMA)])
    return producers.sort("input_id", "iso3", "producer_id"), unused


def build_qualifications(reference: pl.DataFrame, accelerators: pl.DataFrame | None = None) -> pl.DataFrame:
    """Reference qualification rows plus, on real data, each designer's leading-edge foundries.

    From Epoch AI's ML hardware (``staging.accelerators``): every (designer, foundry) pair
    of an accelerator on a process of at most 7 nm is a ``design_of_record`` row for
    ``leading_edge_logic_fab`` (evidence: the accelerators, latest first; provenance: the
    latest one's line). A pair the reference also lists keeps the reference row — its
    basis is a curated judgement (Huawei's TSMC dies are a ``stockpile``, not a route for
    new wafers) — with the Epoch evidence appended.
    """
    rows = [reference.cast(QUALIFICATIONS_SCHEMA)]
    if accelerators is not None and accelerators.height:
        chips = (accelerators.filter(pl.col("designer_firm_id").is_not_null() & (pl.col("process_nm") <= LEADING_EDGE_NM))
                 .explode("foundry_firm_ids").filter(pl.col("foundry_firm_ids").is_not_null())
                 .filter(pl.col("foundry_firm_ids") != pl.col("designer_firm_id"))
                 .sort("release_date", descending=True, nulls_last=True))
        derived = chips.group_by("designer_firm_id", "foundry_firm_ids", maintain_order=True).agg(
            pl.format("{} ({} nm, {})", "name", pl.col("process_nm").round(0).cast(pl.Int64),
                      pl.col("year").cast(pl.String).fill_null("n.d.")).str.join("; ").alias("_chips"),
            pl.col("file").first(), pl.col("line").first(), pl.col("dataset").first())
        rows.append(derived.select(
            pl.col("designer_firm_id").alias("buyer_firm_id"), pl.lit(LEADING_EDGE).alias("input_id"),
            pl.col("foundry_firm_ids").alias("supplier_firm_id"), pl.lit("design_of_record").alias("basis"),
            pl.format("accelerators designed for this foundry at <= 7 nm: {}", "_chips").alias("evidence"),
            pl.lit("Epoch AI, 'Data on Machine Learning Hardware' (CC BY 4.0), Foundry and Process size columns")
            .alias("source"), pl.lit("epoch_hardware").alias("origin"), "dataset", "file", "line")
            .cast(QUALIFICATIONS_SCHEMA))
    keys = ["buyer_firm_id", "input_id", "supplier_firm_id"]
    merged = rows[0]
    if len(rows) > 1:
        epoch = rows[1]
        extra = epoch.select(*keys, pl.col("evidence").alias("_epoch"))
        merged = merged.join(extra, on=keys, how="left").with_columns(
            pl.when(pl.col("_epoch").is_not_null())
            .then(pl.format("{}; Epoch AI ML hardware: {}", "evidence", "_epoch")).otherwise(pl.col("evidence"))
            .alias("evidence")).drop("_epoch")
        merged = pl.concat([merged, epoch.join(merged.select(keys), on=keys, how="anti")])
    return merged.select(list(QUALIFICATIONS_SCHEMA)).sort(keys)


def _year_quarters(chip_counts: pl.DataFrame, year: int) -> pl.DataFrame:
    """Calendar-quarter rows of ``year`` with a designer and an H100e figure."""
    return chip_counts.filter((pl.col("series") == "quarter") & (pl.col("calendar") == "calendar")
                              & (pl.col("start_date").dt.year() == year) & (pl.col("end_date").dt.year() == year)
                              & pl.col("designer_firm_id").is_not_null() & pl.col("h100e").is_not_null())


def _vendor_year(chip_counts: pl.DataFrame, year: int) -> pl.DataFrame:
    """Per vendor: H100e bought worldwide and by owner China in ``year`` (four full quarters).

    Worldwide comes from the vendor-total files (``csv_export/``, by chip); China from the
    owner files (``owners_csv_export/``, not by chip where there is one), owner ``China``.
    Returns ``designer_firm_id``, ``scope`` (``total``/``CHN``), ``h100e``, ``p05``,
    ``p95``, ``file``, ``rows``, ``dataset``.
    """
    quarters = _year_quarters(chip_counts, year)
    owners_file = pl.col("file").str.contains("/owners_csv_export/[^/]+$")
    totals = quarters.filter(pl.col("file").str.contains("/csv_export/"))
    china = quarters.filter(owners_file & (pl.col("owner_iso3") == "CHN"))
    china = china.with_columns(pl.col("by_chip").cast(pl.Int64).alias("_rank"))
    best = china.group_by("designer_firm_id").agg(pl.col("_rank").min().alias("_best"))
    china = china.join(best, on="designer_firm_id").filter(pl.col("_rank") == pl.col("_best"))
    parts = []
    for scope, frame in (("total", totals), ("CHN", china)):
        if frame.height == 0:
            continue
        full = frame.group_by("designer_firm_id").agg(pl.col("start_date").n_unique().alias("_q"))
        frame = frame.join(full.filter(pl.col("_q") == 4), on="designer_firm_id", how="semi")
        parts.append(frame.group_by("designer_firm_id").agg(
            pl.lit(scope).alias("scope"), pl.col("h100e").sum(), pl.col("h100e_p05").sum().alias("p05"),
            pl.col("h100e_p95").sum().alias("p95"), pl.col("file").unique().sort().str.join(", ").alias("file"),
            pl.len().cast(pl.Int64).alias("rows"), pl.col("dataset").first()))
    schema = {"designer_firm_id": pl.String, "scope": pl.String, "h100e": pl.Float64, "p05": pl.Float64,
              "p95": pl.Float64, "file": pl.String, "rows": pl.Int64, "dataset": pl.String}
    return pl.concat([p.cast(schema) for p in parts]) if parts else pl.DataFrame(schema=schema)


def build_compute_sourcing(reference: pl.DataFrame, chip_counts: pl.DataFrame | None = None) -> pl.DataFrame:
    """Accelerator vendors behind each country's (``WORLD`` = everyone else's) compute build-out.

    For every year of the reference rows, Epoch AI's chip counts (real data) give each
    covered vendor's H100e bought that calendar year worldwide and by owner China, summed
    over four quarters: China is ``CHN``, the rest ``WORLD`` (world minus China). The
    range sums the quarterly 5th and 95th percentiles (wider than the true range of the
    sum); ``WORLD``'s low is the world's low minus China's high, its high the world's high
    minus China's low. These replace reference rows for the same (iso3, supplier, year).
    Vendors Epoch does not cover (Huawei, Cambricon, …) stay reference rows. ``share`` is
    the vendor's fraction of its (iso3, year) total.
    """
    base = reference.select("iso3", "input_id", "supplier_firm_id", "h100e", "h100e_low", "h100e_high", "year",
                            "source", pl.lit("reference").alias("dataset"), "file", "line",
                            pl.lit(1, pl.Int64).alias("rows"))
    rows = [base]
    if chip_counts is not None and chip_counts.height:
        for year in sorted(set(reference["year"].to_list())):
            vendor = _vendor_year(chip_counts, year)
            total = vendor.filter(pl.col("scope") == "total")
            china = vendor.filter(pl.col("scope") == "CHN").select(
                "designer_firm_id", pl.col("h100e").alias("c"), pl.col("p05").alias("c05"),
                pl.col("p95").alias("c95"), pl.col("file").alias("cfile"), pl.col("rows").alias("crows"))
            both = total.join(china, on="designer_firm_id", how="left").with_columns(
                pl.col("c").fill_null(0.0), pl.col("c05").fill_null(0.0), pl.col("c95").fill_null(0.0),
                pl.col("crows").fill_null(0))
            world = both.select(
                pl.lit(WORLD).alias("iso3"), pl.lit(ACCELERATORS).alias("input_id"),
                pl.col("designer_firm_id").alias("supplier_firm_id"), (pl.col("h100e") - pl.col("c")).alias("h100e"),
                (pl.col("p05") - pl.col("c95")).clip(lower_bound=0.0).alias("h100e_low"),
                (pl.col("p95") - pl.col("c05")).alias("h100e_high"), pl.lit(year, pl.Int64).alias("year"),
                pl.format("Epoch AI, AI chip counts (MIT): H100e bought in the four calendar quarters of {} by every "
                          "owner but China (vendor total minus owner China); range: world 5th/95th minus China "
                          "95th/5th percentiles, each summed over quarters", pl.lit(year)).alias("source"),
                "dataset", pl.concat_str([pl.col("file"), pl.col("cfile")], separator=", ", ignore_nulls=True)
                .alias("file"), pl.lit(None, pl.Int64).alias("line"), (pl.col("rows") + pl.col("crows")).alias("rows"))
            chn = both.filter(pl.col("cfile").is_not_null()).select(
                pl.lit("CHN").alias("iso3"), pl.lit(ACCELERATORS).alias("input_id"),
                pl.col("designer_firm_id").alias("supplier_firm_id"), pl.col("c").alias("h100e"),
                pl.col("c05").alias("h100e_low"), pl.col("c95").alias("h100e_high"), pl.lit(year, pl.Int64).alias("year"),
                pl.format("Epoch AI, AI chip counts (MIT): H100e bought by owner China in the four calendar quarters "
                          "of {}; range from the summed quarterly 5th/95th percentiles", pl.lit(year)).alias("source"),
                "dataset", pl.col("cfile").alias("file"), pl.lit(None, pl.Int64).alias("line"),
                pl.col("crows").alias("rows"))
            rows += [world, chn]
    cast = {k: v for k, v in SOURCING_SCHEMA.items() if k != "share"}
    frame = pl.concat([r.select(list(cast)).cast(cast) for r in rows])
    frame = (frame.with_columns(pl.when(pl.col("dataset") == "reference").then(1).otherwise(0).alias("_rank"))
             .sort("_rank").unique(["iso3", "supplier_firm_id", "year"], keep="first").drop("_rank"))
    total = pl.col("h100e").sum().over("iso3", "year")
    return frame.with_columns(pl.when(total > 0).then(pl.col("h100e") / total).otherwise(0.0).alias("share")).select(
        list(SOURCING_SCHEMA)).sort("year", "iso3", "h100e", descending=[False, False, True])


# ------------------------------------------------------------------------------------------------------- roles

_STAGE_ROLES = {"raw_material": "material", "refined_material": "material", "material": "material",
                "component": "equipment", "equipment": "equipment", "design": "designer", "fabrication": "foundry",
                "packaging": "packager", "chip": "designer", "compute": "cloud"}
_SUPPLY_MAP_ROLES = {"fabless": "designer", "foundry": "foundry", "memory": "memory", "osat-packaging": "packager",
                     "equipment": "equipment", "materials": "material", "substrates": "material", "eda-ip": "eda_ip",
                     "hyperscaler": "cloud", "auto-industrial": "chipmaker"}
_ETO_TYPE_ROLES = {"tool_resource": "equipment", "material_resource": "material", "design_resource": "eda_ip",
                   "ultimate_output": "chipmaker"}
_ETO_STAGE_ROLES = {"Design": "designer", "Fabrication": "foundry", "Assembly, testing, and packaging (ATP)": "packager"}
_EDA_IP = ("eda_software", "core_ip")
_MEMORY = ("dram_hbm",)


def role_of_input(input_id: str | None, stage: str | None) -> str | None:
    """The role of a firm that supplies ``input_id`` (of ``stage``), or None."""
    if input_id in _EDA_IP:
        return "eda_ip"
    if input_id in _MEMORY:
        return "memory"
    return _STAGE_ROLES.get(stage) if stage else None


def firm_roles(input_types: pl.DataFrame, *, firm_capacity: pl.DataFrame | None = None,
               qualifications: pl.DataFrame | None = None, compute_sourcing: pl.DataFrame | None = None,
               provision: pl.DataFrame | None = None, taxonomy: pl.DataFrame | None = None,
               supply_map_nodes: pl.DataFrame | None = None, clusters: pl.DataFrame | None = None,
               chip_counts: pl.DataFrame | None = None, accelerators: pl.DataFrame | None = None,
               campuses: pl.DataFrame | None = None) -> pl.DataFrame:
    """``firm_id`` → sorted list of roles (:data:`ROLES`) from every table that names the firm.

    firm_capacity and qualification suppliers: the role of the input (by its stage);
    qualification buyers and compute-sourcing suppliers: designer; ETO providers: the
    role of the taxonomy input their ETO input maps to, else of the ETO input's type or
    stage; chip supply map: the node type; Epoch AI: accelerator designers and foundries,
    cluster and chip-count owners (``compute_owner``); atlas campus operators: foundry.
    """
    stages = dict(zip(input_types["input_id"].to_list(), input_types["stage"].to_list()))
    pairs: list[tuple[str, str]] = []

    def add(frame, firm_col, role_of):
        if frame is None or frame.height == 0:
            return
        for row in frame.iter_rows(named=True):
            firm_id = row[firm_col]
            role = role_of(row)
            if firm_id and role:
                pairs.append((firm_id, role))

    add(firm_capacity, "firm_id", lambda r: role_of_input(r["input_id"], stages.get(r["input_id"])))
    add(qualifications, "supplier_firm_id", lambda r: role_of_input(r["input_id"], stages.get(r["input_id"])))
    add(qualifications, "buyer_firm_id", lambda r: "designer")
    add(compute_sourcing, "supplier_firm_id", lambda r: "designer")
    if provision is not None and provision.height:
        eto = provision.filter(pl.col("firm_id").is_not_null()).select("firm_id", "eto_input_id").unique()
        if taxonomy is not None and taxonomy.height:
            eto = eto.join(taxonomy.select("eto_input_id", "input_id", "eto_type", "eto_stage"), on="eto_input_id",
                           how="left")
        else:
            eto = eto.with_columns(*[pl.lit(None, pl.String).alias(c) for c in ("input_id", "eto_type", "eto_stage")])
        add(eto, "firm_id", lambda r: (role_of_input(r["input_id"], stages.get(r["input_id"])) if r["input_id"]
                                       else _ETO_TYPE_ROLES.get(r["eto_type"]) or _ETO_STAGE_ROLES.get(r["eto_stage"])))
    add(supply_map_nodes, "firm_id", lambda r: _SUPPLY_MAP_ROLES.get(r["type"]))
    if clusters is not None and clusters.height:
        owners = clusters.select(pl.col("owner_firm_ids").explode().alias("firm_id")).drop_nulls().unique()
        add(owners, "firm_id", lambda r: "compute_owner")
    add(chip_counts, "owner_firm_id", lambda r: "compute_owner")
    add(chip_counts, "designer_firm_id", lambda r: "designer")
    add(accelerators, "designer_firm_id", lambda r: "designer")
    if accelerators is not None and accelerators.height:
        foundries = accelerators.select(pl.col("foundry_firm_ids").explode().alias("firm_id")).drop_nulls().unique()
        add(foundries, "firm_id", lambda r: "foundry")
    add(campuses, "operator_firm_id", lambda r: "foundry")
    schema = {"firm_id": pl.String, "roles": pl.List(pl.String)}
    if not pairs:
        return pl.DataFrame(schema=schema)
    return (pl.DataFrame(pairs, schema=["firm_id", "role"], orient="row").unique()
            .group_by("firm_id").agg(pl.col("role").sort().alias("roles")).sort("firm_id").cast(schema))


#: ``staging.compute_owners``: who owns each country's installed AI compute.
COMPUTE_OWNER_SCHEMA = {"iso3": pl.String, "firm_id": pl.String, "h100e": pl.Float64, "share_of_country": pl.Float64,
                        "clusters": pl.Int64, "country_h100e": pl.Float64, "dataset": pl.String,
                        "lines": pl.List(pl.Int64)}


def build_compute_owners(clusters: pl.DataFrame) -> pl.DataFrame:
    """Who owns each country's installed AI compute, from the clusters that count
    (Epoch AI GPU clusters, ``in_capacity``: operational, not a duplicate or superseded).

    A cluster's H100e are split evenly among its owner firms; ``share_of_country`` is the
    firm's H100e over every counted cluster of the country (owned or not), so a country's
    shares sum to at most 1 and the rest (unresolved or no owner) stays with the country.
    Applying the share to the country's capacity assumes the clusters Epoch lists are
    representative of the country's compute by owner (``docs/design.md#10-firms-and-facilities``).

    Returns
    -------
    polars.DataFrame
        :data:`COMPUTE_OWNER_SCHEMA`, one row per (country, owner firm); empty without clusters.
    """
    if clusters is None or not clusters.height:
        return pl.DataFrame(schema=COMPUTE_OWNER_SCHEMA)
    counted = clusters.filter(pl.col("in_capacity").fill_null(False) & pl.col("iso3").is_not_null()
                              & (pl.col("h100e").fill_null(0) > 0))
    totals = counted.group_by("iso3").agg(pl.col("h100e").sum().alias("country_h100e"))
    owned = (counted.filter(pl.col("owner_firm_ids").list.len().fill_null(0) > 0)
             .with_columns((pl.col("h100e") / pl.col("owner_firm_ids").list.len()).alias("h100e"))
             .explode("owner_firm_ids").rename({"owner_firm_ids": "firm_id"}))
    frame = (owned.group_by("iso3", "firm_id")
             .agg(pl.col("h100e").sum(), pl.len().cast(pl.Int64).alias("clusters"), pl.col("dataset").first(),
                  pl.col("line").sort().alias("lines"))
             .join(totals, on="iso3")
             .with_columns((pl.col("h100e") / pl.col("country_h100e")).alias("share_of_country")))
    return frame.select(list(COMPUTE_OWNER_SCHEMA)).cast(COMPUTE_OWNER_SCHEMA).sort("iso3", "firm_id")
