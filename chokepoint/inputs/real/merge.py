"""Reference + real data → the canonical tables the supply graph is built from.

Candidates for the share of country c in world capacity of input k in year y come from
the reference data (``shares.csv``, ``compute_capacity.csv``) and from real data:

- ETO country shares of the ETO input that is the *same* as k (``eto_input_map.csv``);
- USGS mine/refinery production shares of the mapped mineral (``usgs_input_map.csv``);
- Epoch AI installed compute by country (``datacenter_compute``).

Rules, per input k:

1. **Year.** The latest year any candidate has wins, unless the scenario pins a year
   (``[settings] year``): then the latest year at or before it, else the earliest after.
   Candidates of other years lose ("superseded").
2. **Real over reference.** Within the chosen year, a real figure beats the reference
   figure for the same (input, country, year); an observed figure beats an imputed one.
3. **Gaps.** A reference figure for a country the real data does not list in that year
   is kept (the real source may not cover it); if real and kept reference shares
   together exceed 100 % (+0.5 pt), the reference fill-ins are scaled down to the
   remainder, and a real distribution above 100 % (ETO rounds small shares up) is
   scaled to 100 %; scaled rows are marked ``rescaled``.
4. **World capacity.** Capacities are share × world capacity of the input
   (``input_types.csv``), except where USGS production wins: then the published USGS
   world total of that year (tonnes) is the world capacity.

Every decision — won or lost, and why — is in ``merge_decisions``; every winning figure
lists the source rows it came from in ``capacity_lineage``.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import pycountry

from chokepoint.inputs.real.epoch import compute_shares
from chokepoint.inputs.real.eto import SHARE_RELATIONS
from chokepoint.inputs.real.manifest import DATASETS
from chokepoint.inputs.real.usgs import mineral_shares
from chokepoint.inputs.reference import COMPUTE_INPUT, SHARE_SUM_TOLERANCE_PCT

__all__ = ["Merged", "merge_data", "EU_MEMBERS", "REAL_DATASETS"]

#: EU member states (2024), for the bloc of countries that appear only in real data.
EU_MEMBERS = frozenset({"AUT", "BEL", "BGR", "HRV", "CYP", "CZE", "DNK", "EST", "FIN", "FRA", "DEU", "GRC", "HUN",
                        "IRL", "ITA", "LVA", "LTU", "LUX", "MLT", "NLD", "POL", "PRT", "ROU", "SVK", "SVN", "ESP",
                        "SWE"})
#: Datasets that can supply shares, in order of preference when two give the same cell.
REAL_DATASETS = ("usgs", "epoch_clusters", "eto")

_TOLERANCE = SHARE_SUM_TOLERANCE_PCT / 100
_CANDIDATE_SCHEMA = {"candidate": pl.Int64, "input_id": pl.String, "iso3": pl.String, "year": pl.Int64,
                     "share": pl.Float64, "dataset": pl.String, "file": pl.String, "line": pl.Int64,
                     "rows": pl.Int64, "imputed": pl.Boolean, "basis": pl.String, "source": pl.String,
                     "origin": pl.String, "world_capacity": pl.Float64}
_LINEAGE_SCHEMA = {"candidate": pl.Int64, "dataset": pl.String, "file": pl.String, "line": pl.Int64,
                   "contribution": pl.Float64}


@dataclass(frozen=True)
class Merged:
    countries: pl.DataFrame
    input_types: pl.DataFrame
    recipes: pl.DataFrame
    capacities: pl.DataFrame
    capacity_lineage: pl.DataFrame
    merge_decisions: pl.DataFrame


def _reference_candidates(capacities: pl.DataFrame) -> pl.DataFrame:
    file_line = pl.col("origin").str.split(":")
    frame = capacities.select(
        "input_id", "iso3", "year", "share", pl.lit("reference").alias("dataset"),
        pl.format("reference/{}", file_line.list.first()).alias("file"),
        file_line.list.last().cast(pl.Int64).alias("line"), pl.lit(1, dtype=pl.Int64).alias("rows"),
        pl.lit(False).alias("imputed"), pl.lit("reference figure").alias("basis"), "source", "origin",
        pl.lit(None, dtype=pl.Float64).alias("world_capacity"))
    return frame


def _eto_candidates(taxonomy: pl.DataFrame, country_shares: pl.DataFrame, provision: pl.DataFrame):
    same = taxonomy.filter(pl.col("relation").is_in(list(SHARE_RELATIONS))).select("eto_input_id", "input_id")
    shares = country_shares.filter(pl.col("iso3").is_not_null()).join(same, on="eto_input_id", how="inner")
    name = DATASETS["eto"][0].split(" (")[0]
    frame = shares.select(
        "input_id", "iso3", "year", "share", pl.lit("eto").alias("dataset"), "file",
        pl.when(pl.col("lines").list.len() == 1).then(pl.col("lines").list.first()).alias("line"),
        pl.col("lines").list.len().cast(pl.Int64).alias("rows"), pl.col("all_imputed").alias("imputed"),
        pl.format("{} ({})", pl.col("basis"), pl.col("eto_input_id")).alias("basis"),
        pl.format("{}, {} {}", pl.lit(name), pl.col("eto_input_id"), pl.col("year")).alias("source"),
        pl.lit(None, dtype=pl.String).alias("origin"), pl.lit(None, dtype=pl.Float64).alias("world_capacity"),
        pl.col("lines"))
    per_line = provision.select("file", "line", pl.col("share").alias("contribution"))
    return frame, per_line


def _usgs_candidates(production: pl.DataFrame, usgs_map: pl.DataFrame):
    shares = mineral_shares(production, usgs_map)
    frame = shares.select(
        "input_id", "iso3", "year", "share", pl.lit("usgs").alias("dataset"), "file", "line",
        pl.lit(1, dtype=pl.Int64).alias("rows"), pl.lit(False).alias("imputed"), "basis",
        pl.format("USGS Mineral Commodity Summaries {}, {} {}", pl.col("edition"), pl.col("mineral"),
                  pl.col("year")).alias("source"),
        pl.lit(None, dtype=pl.String).alias("origin"), pl.col("world_tonnes").alias("world_capacity"))
    return frame


def _epoch_candidates(clusters: pl.DataFrame):
    shares = compute_shares(clusters)
    counted = clusters.filter(pl.col("in_capacity"))
    total = counted["h100e"].sum() if counted.height else 0.0
    frame = shares.join(counted.group_by("iso3").agg(pl.col("file").first(), pl.col("line").sort().alias("lines")),
                        on="iso3").select(
        pl.lit(COMPUTE_INPUT).alias("input_id"), "iso3", "year", "share", pl.lit("epoch_clusters").alias("dataset"),
        "file", pl.when(pl.col("lines").list.len() == 1).then(pl.col("lines").list.first()).alias("line"),
        pl.col("clusters").cast(pl.Int64).alias("rows"), pl.lit(False).alias("imputed"),
        pl.lit("installed H100e of operational clusters (not possible duplicates, not superseded)").alias("basis"),
        pl.format("Epoch AI GPU clusters, {} operational clusters", pl.col("clusters")).alias("source"),
        pl.lit(None, dtype=pl.String).alias("origin"), pl.lit(None, dtype=pl.Float64).alias("world_capacity"),
        pl.col("lines"))
    per_line = counted.select("file", "line", (pl.col("h100e") / total if total else pl.lit(0.0)).alias("contribution"))
    return frame, per_line


def _candidates(reference_capacities, real: dict[str, pl.DataFrame] | None, usgs_map):
    # Each real dataset also gives the share each of its source lines contributes; the
    # reference and USGS figures come from one line each (contribution = the share).
    parts, lineages = [_reference_candidates(reference_capacities)], []
    if real:
        eto, eto_lines = _eto_candidates(real["input_taxonomy"], real["eto_country_shares"], real["provision"])
        epoch, epoch_lines = _epoch_candidates(real["compute_clusters"])
        usgs = _usgs_candidates(real["mineral_production"], usgs_map)
        parts += [eto, epoch, usgs]
        lineages += [("eto", eto_lines), ("epoch_clusters", epoch_lines)]
    frames = []
    for frame in parts:
        if "lines" not in frame.columns:
            frame = frame.with_columns(pl.when(pl.col("line").is_not_null()).then(pl.concat_list("line"))
                                       .otherwise(None).alias("lines"))
        # Candidate numbers (and the tie-break between equal candidates) must not depend on the
        # row order joins and group-bys leave: the same data gives the same staged tables.
        frames.append(frame.select(*[c for c in _CANDIDATE_SCHEMA if c != "candidate"], "lines")
                      .sort("input_id", "iso3", "year", "file", "line", "share", nulls_last=True))
    candidates = pl.concat(frames, how="vertical_relaxed").with_row_index("candidate").with_columns(
        pl.col("candidate").cast(pl.Int64))
    # Lineage: one row per (candidate, source line) with the share that line contributes.
    exploded = candidates.select("candidate", "dataset", "file", "lines", "share").explode("lines").rename(
        {"lines": "line"})
    per_line = dict(lineages)
    pieces = []
    for (dataset,), group in exploded.partition_by("dataset", as_dict=True).items():
        if dataset in per_line:
            contrib = per_line[dataset].select("file", "line", "contribution").unique(["file", "line"])
            pieces.append(group.join(contrib, on=["file", "line"], how="left").select(
                "candidate", "dataset", "file", "line", "contribution"))
        else:
            pieces.append(group.select("candidate", "dataset", "file", "line", pl.col("share").alias("contribution")))
    lineage = pl.concat(pieces).cast(_LINEAGE_SCHEMA) if pieces else pl.DataFrame(schema=_LINEAGE_SCHEMA)
    return candidates.drop("lines"), lineage


def _choose_year(candidates: pl.DataFrame, pinned_year: int | None) -> pl.DataFrame:
    years = candidates.group_by("input_id").agg(pl.col("year").unique().sort().alias("years"))
    chosen = []
    for row in years.iter_rows(named=True):
        ys = row["years"]
        if pinned_year is None:
            year, why = ys[-1], "latest year"
        else:
            before = [y for y in ys if y <= pinned_year]
            year, why = ((before[-1], f"latest year at or before the pinned year {pinned_year}") if before
                         else (ys[0], f"no figure at or before the pinned year {pinned_year}; earliest after it"))
        chosen.append({"input_id": row["input_id"], "chosen_year": year, "year_rule": why})
    return pl.DataFrame(chosen, schema={"input_id": pl.String, "chosen_year": pl.Int64, "year_rule": pl.String})


def merge_data(reference: dict[str, pl.DataFrame], real: dict[str, pl.DataFrame] | None,
               usgs_map: pl.DataFrame, *, pinned_year: int | None = None) -> Merged:
    """Merge the reference tables with the staged real tables (see the module docstring).

    Parameters
    ----------
    reference : dict
        ``countries``, ``input_types``, ``recipes``, ``capacities`` as from
        :func:`chokepoint.inputs.reference.stage_reference`.
    real : dict or None
        Staged real tables (``input_taxonomy``, ``eto_country_shares``, ``provision``,
        ``mineral_production``, ``compute_clusters``, ``recipe_evidence``); None or empty
        tables for a run on reference data.
    usgs_map : polars.DataFrame
        ``mineral``, ``measure``, ``input_id``.
    pinned_year : int, optional
        The scenario's ``[settings] year``.

    Notes
    -----
    O(N log N) for N candidate figures.
    """
    input_types = reference["input_types"]
    world = dict(zip(input_types["input_id"], input_types["world_capacity"]))
    candidates, lineage = _candidates(reference["capacities"], real, usgs_map)
    candidates = candidates.filter(pl.col("input_id").is_in(list(world)))

    years = _choose_year(candidates, pinned_year)
    c = candidates.join(years, on="input_id").with_columns(
        pl.when(pl.col("dataset") == "reference").then(2).when(pl.col("imputed")).then(1).otherwise(0)
        .alias("_priority"),
        pl.col("dataset").replace_strict({d: i for i, d in enumerate(("reference",) + REAL_DATASETS)},
                                         default=99).alias("_dataset_rank"))
    in_year = pl.col("year") == pl.col("chosen_year")
    c = c.sort("input_id", "iso3", "year", "_priority", "_dataset_rank", "candidate").with_columns(
        pl.when(in_year).then(pl.col("candidate").cum_count().over("input_id", "iso3", "year")).alias("_rank"))
    best = (c.filter(in_year & (pl.col("_rank") == 1))
            .select("input_id", "iso3", pl.col("dataset").alias("_best_dataset"),
                    pl.col("imputed").alias("_best_imputed"), pl.col("_priority").alias("_best_priority")))
    c = c.join(best, on=["input_id", "iso3"], how="left")
    c = c.with_columns(
        pl.when(~in_year).then(pl.format("superseded: {} is not the chosen year {} ({})", pl.col("year"),
                                          pl.col("chosen_year"), pl.col("year_rule")))
        .when(pl.col("_rank") > 1).then(
            pl.when((pl.col("_best_priority") < 2) & (pl.col("_priority") == 2))
            .then(pl.format("overridden by {} for the same input, country and year", pl.col("_best_dataset")))
            .when(pl.col("_best_priority") == 0).then(pl.lit("an observed figure wins over an imputed one"))
            .otherwise(pl.format("another figure for the same cell wins ({})", pl.col("_best_dataset"))))
        .otherwise(None).alias("_lost"))
    winners = c.filter(pl.col("_lost").is_null())

    # Gap fill and rescaling per input-year.
    real_total = pl.col("share").filter(pl.col("dataset") != "reference").sum().over("input_id")
    ref_total = pl.col("share").filter(pl.col("dataset") == "reference").sum().over("input_id")
    has_real = (pl.col("dataset") != "reference").any().over("input_id")
    winners = winners.with_columns(real_total.alias("_real_total"), ref_total.alias("_ref_total"),
                                   has_real.alias("_has_real"))
    winners = winners.with_columns(pl.col("_real_total").fill_null(0.0), pl.col("_ref_total").fill_null(0.0))
    over_real = pl.col("_real_total") > 1 + _TOLERANCE
    room = (1.0 - pl.col("_real_total")).clip(lower_bound=0.0)
    fill_scale = pl.when(pl.col("_ref_total") > room).then(room / pl.col("_ref_total")).otherwise(1.0)
    winners = winners.with_columns(
        pl.when(pl.col("dataset") != "reference").then(
            pl.when(over_real).then(1.0 / pl.col("_real_total")).otherwise(1.0))
        .when(pl.col("_has_real") & (pl.col("_real_total") + pl.col("_ref_total") > 1 + _TOLERANCE))
        .then(fill_scale).otherwise(1.0).alias("_scale"))
    winners = winners.with_columns((pl.col("share") * pl.col("_scale")).alias("_final_share"),
                                   (pl.col("_scale") < 1.0 - 1e-12).alias("rescaled"))
    fill_lost = pl.col("_has_real") & (pl.col("dataset") == "reference") & (pl.col("_final_share") <= 0)
    winners = winners.with_columns(
        pl.when(fill_lost).then(pl.lit("no room left: the real shares of this input sum to 100 %"))
        .otherwise(None).alias("_lost"))

    # World capacity: the USGS world total where USGS figures win, else the reference's.
    usgs_world = (winners.filter((pl.col("dataset") == "usgs") & pl.col("world_capacity").is_not_null())
                  .group_by("input_id").agg(pl.col("world_capacity").first().alias("_usgs_world"),
                                            pl.col("year").first().alias("_usgs_year")))
    winners = winners.join(usgs_world, on="input_id", how="left").with_columns(
        pl.coalesce("_usgs_world", pl.col("input_id").replace_strict(world, default=None)).alias("_world"))
    kept = winners.filter(pl.col("_lost").is_null() & (pl.col("_final_share") > 0))

    # Decisions: every candidate, won or lost.
    lost_rows = c.filter(pl.col("_lost").is_not_null()).select("candidate", pl.col("_lost").alias("reason"))
    won_rows = winners.select(
        "candidate",
        pl.when(pl.col("_lost").is_not_null()).then(pl.col("_lost"))
        .when(pl.col("_final_share") <= 0).then(pl.lit("won, zero share: not a producer"))
        .when(pl.col("rescaled")).then(pl.format("won, rescaled by {} ({})", pl.col("_scale").round(4),
                                                 pl.when(pl.col("dataset") == "reference")
                                                 .then(pl.lit("reference fill-in scaled to the remainder"))
                                                 .otherwise(pl.lit("real shares above 100 % scaled to 100 %"))))
        .when((pl.col("dataset") == "reference") & pl.col("_has_real"))
        .then(pl.lit("won: reference fills a country the real data does not list"))
        .otherwise(pl.format("won ({})", pl.col("year_rule"))).alias("reason"))
    reasons = pl.concat([lost_rows, won_rows])
    decisions = candidates.join(years, on="input_id").join(reasons, on="candidate").with_columns(
        pl.col("reason").str.starts_with("won").alias("won")).select(
        "input_id", "iso3", "year", "chosen_year", "dataset", "share", "imputed", "won", "reason", "file", "line",
        "rows", "basis", "candidate").sort("input_id", "iso3", "year", "dataset")

    # What each winner replaced (the reference figure for the same country, any year).
    ref_figures = candidates.filter(pl.col("dataset") == "reference").select(
        "input_id", "iso3", pl.format("reference {}: {} % ({})", pl.col("year"), (100 * pl.col("share")).round(2),
                                      pl.col("origin")).alias("overrode"))
    capacities = kept.join(ref_figures, on=["input_id", "iso3"], how="left").with_columns(
        pl.when(pl.col("dataset") == "reference").then(None).otherwise(pl.col("overrode")).alias("overrode"))
    capacities = capacities.select(
        "input_id", "iso3", pl.col("_final_share").alias("share"),
        (pl.col("_final_share") * pl.col("_world")).alias("capacity"), "year", "source",
        pl.coalesce("origin", pl.when(pl.col("line").is_not_null()).then(pl.format("{}:{}", "file", "line"))
                    .otherwise(pl.format("{}: {} rows (see staging.capacity_lineage)", "file", "rows")))
        .alias("origin"),
        "dataset", "file", "line", "rows", "imputed", "rescaled",
        pl.when(pl.col("dataset") == "reference").then(pl.lit("reference")).otherwise(pl.lit("real")).alias("winner"),
        "overrode", "basis", "candidate",
    ).sort("input_id", "iso3")
    cap_lineage = (lineage.join(capacities.select("candidate", "input_id", "iso3", "share", "rescaled"),
                                on="candidate", how="inner")
                   .join(kept.select("candidate", "_scale"), on="candidate")
                   .with_columns((pl.col("contribution") * pl.col("_scale")).alias("contribution"))
                   .select("input_id", "iso3", "dataset", "file", "line", "contribution", "candidate")
                   .sort("input_id", "iso3", "file", "line"))

    types = _input_types(input_types, capacities, usgs_world, real)
    countries = _countries(reference["countries"], capacities)
    recipes = _recipes(reference["recipes"], real)
    return Merged(countries=countries, input_types=types, recipes=recipes, capacities=capacities,
                  capacity_lineage=cap_lineage, merge_decisions=decisions)


def _input_types(input_types, capacities, usgs_world, real):
    winners = capacities.group_by("input_id").agg(
        pl.col("year").max().alias("data_year"),
        pl.col("dataset").filter(pl.col("winner") == "real").unique().sort().str.join(", ").alias("real_datasets"))
    types = input_types.join(winners, on="input_id", how="left").join(
        usgs_world.select("input_id", "_usgs_world", "_usgs_year"), on="input_id", how="left")
    eto_ids = pl.DataFrame(schema={"input_id": pl.String, "eto_input_ids": pl.List(pl.String)})
    if real and real["input_taxonomy"].height:
        eto_ids = (real["input_taxonomy"].filter(pl.col("relation").is_in(list(SHARE_RELATIONS)))
                   .group_by("input_id").agg(pl.col("eto_input_id").sort().alias("eto_input_ids")))
    types = types.join(eto_ids, on="input_id", how="left").with_columns(
        pl.col("real_datasets").replace("", None),
        pl.when(pl.col("_usgs_world").is_not_null())
        .then(pl.format("USGS world total {} (replaces the reference figure {})", pl.col("_usgs_year"),
                        pl.col("world_capacity")))
        .otherwise(pl.lit("reference input_types.csv")).alias("world_capacity_origin"),
        pl.coalesce("_usgs_world", "world_capacity").alias("world_capacity"))
    columns = [c for c in input_types.columns] + ["data_year", "real_datasets", "eto_input_ids",
                                                  "world_capacity_origin"]
    return types.select(columns)


def _countries(countries: pl.DataFrame, capacities: pl.DataFrame) -> pl.DataFrame:
    known = set(countries["iso3"].to_list())
    new = sorted(set(capacities["iso3"].to_list()) - known)
    rows = []
    for iso3 in new:
        country = pycountry.countries.get(alpha_3=iso3)
        bloc = "EU" if iso3 in EU_MEMBERS else "NON_ALIGNED"
        rows.append({"iso3": iso3, "name": getattr(country, "common_name", None) or country.name, "bloc": bloc,
                     "source": "added: appears only in real data; bloc by rule (EU member state → EU, "
                               "else NON_ALIGNED)"})
    base = countries.with_columns(pl.lit("reference").alias("origin"))
    if not rows:
        return base
    added = pl.DataFrame(rows).with_columns(pl.lit("real data").alias("origin"))
    return pl.concat([base, added.select(base.columns)])


def _recipes(recipes: pl.DataFrame, real) -> pl.DataFrame:
    evidence = pl.DataFrame(schema={"product": pl.String, "input": pl.String, "eto_evidence": pl.String})
    if real and real["recipe_evidence"].height:
        evidence = real["recipe_evidence"].select(pl.col("product_id").alias("product"),
                                                  pl.col("input_id").alias("input"),
                                                  pl.col("eto_path").alias("eto_evidence"))
    return recipes.join(evidence, on=["product", "input"], how="left")
