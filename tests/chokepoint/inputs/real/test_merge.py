"""Merge rules on small hand-made tables: year choice, real over reference, gaps, rescaling, lineage."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chokepoint.inputs.real.merge import merge_data

INPUTS = pl.DataFrame({"input_id": ["tool", "ore", "datacenter_compute"], "name": ["Tool", "Ore", "Compute"],
                       "stage": ["equipment", "raw_material", "compute"], "unit": ["u", "t", "H100e"],
                       "world_capacity": [100.0, 1000.0, 50.0], "year": [2024, 2023, 2024],
                       "description": [None, None, None], "source": ["s", "s", "s"]})
COUNTRIES = pl.DataFrame({"iso3": ["NLD", "JPN", "USA", "CHN"], "name": ["n", "j", "u", "c"],
                          "bloc": ["EU", "ALLIED", "USA", "CHINA"], "source": ["s"] * 4})
RECIPES = pl.DataFrame({"product": ["tool"], "input": ["ore"], "coefficient": [1.0], "source": ["s"]})
USGS_MAP = pl.DataFrame({"mineral": ["orite"], "measure": ["production"], "input_id": ["ore"]})


def reference(rows):
    """Reference capacities from (input, iso3, share, year, line)."""
    frame = pl.DataFrame(rows, schema={"input_id": pl.String, "iso3": pl.String, "share": pl.Float64,
                                       "year": pl.Int64, "line": pl.Int64}, orient="row")
    frame = frame.join(INPUTS.select("input_id", "world_capacity"), on="input_id").with_columns(
        (pl.col("share") * pl.col("world_capacity")).alias("capacity"), pl.lit("ref source").alias("source"),
        pl.format("shares.csv:{}", pl.col("line")).alias("origin"))
    return {"countries": COUNTRIES, "input_types": INPUTS, "recipes": RECIPES,
            "capacities": frame.select("input_id", "iso3", "share", "capacity", "year", "source", "origin")}


def real(eto=(), usgs=(), clusters=()):
    """Staged real tables: ETO shares (eto id, iso3, share, year, line, imputed), USGS rows
    (iso3 or aggregate, year, tonnes, status, line, edition), clusters (iso3, h100e, line)."""
    taxonomy = pl.DataFrame({"eto_input_id": ["E1"], "input_id": ["tool"], "relation": ["same"]})
    eto = pl.DataFrame(list(eto), schema={"eto_input_id": pl.String, "iso3": pl.String, "share": pl.Float64,
                                          "year": pl.Int64, "line": pl.Int64, "imputed": pl.Boolean}, orient="row")
    country_shares = eto.with_columns(
        pl.lit(None, dtype=pl.String).alias("aggregate"), pl.col("imputed").alias("all_imputed"),
        pl.concat_list("line").alias("lines"), pl.lit("eto/provision.csv").alias("file"),
        pl.lit("country rows").alias("basis"))
    provision = eto.select(pl.lit("eto/provision.csv").alias("file"), "line", "share")
    production = pl.DataFrame(list(usgs), schema={"place": pl.String, "year": pl.Int64, "tonnes": pl.Float64,
                                                  "status": pl.String, "line": pl.Int64, "edition": pl.String},
                              orient="row").with_columns(
        pl.lit("orite").alias("mineral"), pl.lit("production").alias("measure"),
        pl.when(pl.col("place").str.len_chars() == 3).then(pl.col("place")).alias("iso3"),
        pl.when(pl.col("place").str.len_chars() != 3).then(pl.col("place")).alias("aggregate"),
        pl.lit("usgs/x_world.csv").alias("file"), pl.lit("usgs").alias("dataset"))
    clusters = pl.DataFrame(list(clusters), schema={"iso3": pl.String, "h100e": pl.Float64, "line": pl.Int64},
                            orient="row").with_columns(pl.lit(True).alias("in_capacity"),
                                                       pl.lit(2025, dtype=pl.Int64).alias("year"),
                                                       pl.lit("epoch/gpu_clusters.csv").alias("file"))
    return {"input_taxonomy": taxonomy, "eto_country_shares": country_shares, "provision": provision,
            "mineral_production": production, "compute_clusters": clusters,
            "recipe_evidence": pl.DataFrame({"input_id": ["ore"], "product_id": ["tool"], "eto_path": ["E9 > E1"]})}


def cap(merged, input_id):
    return {r["iso3"]: r for r in merged.capacities.filter(pl.col("input_id") == input_id).iter_rows(named=True)}


def test_reference_only_is_unchanged():
    ref = reference([("tool", "NLD", 0.8, 2024, 2), ("tool", "JPN", 0.2, 2024, 3), ("ore", "CHN", 0.7, 2023, 4),
                     ("datacenter_compute", "USA", 1.0, 2024, 5)])
    merged = merge_data(ref, None, USGS_MAP)
    assert merged.capacities.height == 4
    assert (merged.capacities["winner"] == "reference").all()
    assert cap(merged, "tool")["NLD"]["origin"] == "shares.csv:2"
    assert merged.countries.height == 4 and merged.recipes["eto_evidence"].null_count() == 1


def test_latest_year_wins_and_the_loser_is_recorded():
    ref = reference([("tool", "NLD", 0.8, 2024, 2), ("tool", "JPN", 0.2, 2024, 3)])
    merged = merge_data(ref, real(eto=[("E1", "NLD", 0.993, 2025, 568, False), ("E1", "JPN", 0.007, 2025, 380,
                                                                                 False)]), USGS_MAP)
    tool = cap(merged, "tool")
    assert tool["NLD"]["share"] == pytest.approx(0.993) and tool["NLD"]["dataset"] == "eto"
    assert tool["NLD"]["origin"] == "eto/provision.csv:568" and tool["NLD"]["capacity"] == pytest.approx(99.3)
    assert tool["NLD"]["overrode"] == "reference 2024: 80.0 % (shares.csv:2)"
    lost = merged.merge_decisions.filter(~pl.col("won"))
    assert lost.select("dataset", "year").unique().rows() == [("reference", 2024)]
    assert lost["reason"].str.starts_with("superseded: 2024 is not the chosen year 2025").all()


def test_pinned_year_chooses_the_latest_year_at_or_before_it():
    ref = reference([("tool", "NLD", 0.8, 2024, 2), ("tool", "JPN", 0.2, 2024, 3)])
    staged = real(eto=[("E1", "NLD", 0.993, 2025, 568, False)])
    assert cap(merge_data(ref, staged, USGS_MAP, pinned_year=2024), "tool")["NLD"]["share"] == 0.8
    assert cap(merge_data(ref, staged, USGS_MAP, pinned_year=2030), "tool")["NLD"]["share"] == pytest.approx(0.993)
    # Nothing at or before 2010: the earliest year after it.
    early = merge_data(ref, staged, USGS_MAP, pinned_year=2010)
    assert cap(early, "tool")["NLD"]["year"] == 2024
    assert early.merge_decisions.filter(pl.col("won"))["reason"].str.contains("earliest after").all()


def test_real_beats_reference_in_the_same_year_and_reference_fills_gaps():
    ref = reference([("tool", "NLD", 0.6, 2025, 2), ("tool", "USA", 0.1, 2025, 3)])
    merged = merge_data(ref, real(eto=[("E1", "NLD", 0.7, 2025, 10, False), ("E1", "JPN", 0.2, 2025, 11, False)]),
                        USGS_MAP)
    tool = cap(merged, "tool")
    assert tool["NLD"]["dataset"] == "eto" and tool["JPN"]["dataset"] == "eto"
    assert tool["USA"]["dataset"] == "reference" and tool["USA"]["share"] == pytest.approx(0.1)
    reasons = dict(zip(merged.merge_decisions["iso3"] + "/" + merged.merge_decisions["dataset"],
                       merged.merge_decisions["reason"]))
    assert reasons["NLD/reference"] == "overridden by eto for the same input, country and year"
    assert reasons["USA/reference"] == "won: reference fills a country the real data does not list"


def test_gap_fill_is_scaled_to_the_remainder_and_real_shares_above_100_to_100():
    ref = reference([("tool", "USA", 0.3, 2025, 3)])
    merged = merge_data(ref, real(eto=[("E1", "NLD", 0.9, 2025, 10, False)]), USGS_MAP)
    tool = cap(merged, "tool")
    assert tool["USA"]["share"] == pytest.approx(0.1) and tool["USA"]["rescaled"]
    assert sum(r["share"] for r in tool.values()) == pytest.approx(1.0)
    over = merge_data(reference([]), real(eto=[("E1", "NLD", 0.96, 2025, 10, False),
                                              ("E1", "JPN", 0.06, 2025, 11, False)]), USGS_MAP)
    tool = cap(over, "tool")
    assert tool["NLD"]["share"] == pytest.approx(0.96 / 1.02) and tool["NLD"]["rescaled"]


def test_observed_beats_imputed_for_the_same_cell():
    ref = reference([("tool", "NLD", 0.5, 2025, 2)])
    merged = merge_data(ref, real(eto=[("E1", "NLD", 0.25, 2025, 10, True)]), USGS_MAP)
    nld = cap(merged, "tool")["NLD"]
    assert nld["dataset"] == "eto" and nld["imputed"]  # real imputed still beats the reference ...
    # ... but never an observed real figure: two real rows for one cell, the observed one wins.
    staged = real(eto=[("E1", "NLD", 0.25, 2025, 10, True)])
    extra = staged["eto_country_shares"].with_columns(pl.lit(0.6).alias("share"), pl.lit(False).alias("imputed"),
                                                      pl.lit(False).alias("all_imputed"), pl.lit(12, dtype=pl.Int64).alias("line"),
                                                      pl.concat_list(pl.lit(12, dtype=pl.Int64)).alias("lines"))
    staged["eto_country_shares"] = pl.concat([staged["eto_country_shares"], extra])
    staged["provision"] = pl.concat([staged["provision"], pl.DataFrame(
        {"file": ["eto/provision.csv"], "line": [12], "share": [0.6]})])
    merged = merge_data(ref, staged, USGS_MAP)
    assert cap(merged, "tool")["NLD"]["share"] == 0.6
    assert "an observed figure wins over an imputed one" in merged.merge_decisions["reason"].to_list()


def test_usgs_shares_replace_the_world_capacity_and_withheld_uses_the_world_total():
    ref = reference([("ore", "CHN", 0.7, 2023, 4), ("ore", "USA", 0.3, 2023, 5)])
    staged = real(usgs=[("CHN", 2023, 600.0, "estimated", 3, "MCS2024"), ("USA", 2023, None, "withheld", 2, "MCS2024"),
                        ("WORLD", 2023, 800.0, "estimated", 9, "MCS2024"), ("CHN", 2022, 500.0, "reported", 3,
                                                                            "MCS2024")])
    merged = merge_data(ref, staged, USGS_MAP)
    ore = cap(merged, "ore")
    assert ore["CHN"]["share"] == pytest.approx(600 / 800)  # denominator: world total (USA withheld)
    assert ore["CHN"]["capacity"] == pytest.approx(600.0)
    assert ore["USA"]["dataset"] == "reference"  # withheld: the reference figure fills it, scaled to the rest
    assert ore["USA"]["share"] == pytest.approx(0.25) and ore["USA"]["rescaled"]
    types = merged.input_types.filter(pl.col("input_id") == "ore").row(0, named=True)
    assert types["world_capacity"] == 800.0 and types["world_capacity_origin"].startswith("USGS world total 2023")


def test_compute_from_clusters_and_lineage_to_each_cluster():
    ref = reference([("datacenter_compute", "USA", 1.0, 2024, 5)])
    merged = merge_data(ref, real(clusters=[("USA", 300.0, 10), ("USA", 100.0, 20), ("CHN", 100.0, 30)]), USGS_MAP)
    compute = cap(merged, "datacenter_compute")
    assert compute["USA"]["share"] == pytest.approx(0.8) and compute["USA"]["rows"] == 2
    assert compute["USA"]["origin"] == "epoch/gpu_clusters.csv: 2 rows (see staging.capacity_lineage)"
    lineage = merged.capacity_lineage.filter(pl.col("iso3") == "USA").sort("line")
    assert lineage.select("line", "contribution").rows() == [(10, pytest.approx(0.6)), (20, pytest.approx(0.2))]


def test_merge_does_not_depend_on_the_row_order_of_its_inputs():
    ref = reference([("tool", "NLD", 0.8, 2024, 2), ("tool", "JPN", 0.2, 2024, 3), ("ore", "CHN", 0.7, 2023, 4),
                     ("datacenter_compute", "USA", 1.0, 2024, 5)])
    data = real(eto=[("E1", "NLD", 0.6, 2025, 10, False), ("E1", "JPN", 0.3, 2025, 11, False),
                     ("E1", "USA", 0.1, 2025, 12, True)],
                usgs=[("CHN", 2023, 700.0, "ok", 3, "2024"), ("USA", 2023, 100.0, "ok", 4, "2024"),
                      ("World total (rounded)", 2023, 1000.0, "ok", 5, "2024")],
                clusters=[("USA", 300.0, 10), ("CHN", 100.0, 30), ("USA", 100.0, 20)])
    expected = merge_data(ref, data, USGS_MAP)
    for seed in range(3):
        shuffled = {name: frame.sample(fraction=1.0, shuffle=True, seed=seed) for name, frame in data.items()}
        ref_shuffled = {**ref, "capacities": ref["capacities"].sample(fraction=1.0, shuffle=True, seed=seed)}
        merged = merge_data(ref_shuffled, shuffled, USGS_MAP)
        for name in ("capacities", "capacity_lineage", "merge_decisions"):
            key = [c for c in getattr(expected, name).columns if getattr(expected, name)[c].dtype != pl.List]
            assert getattr(merged, name).sort(key, nulls_last=True).equals(
                getattr(expected, name).sort(key, nulls_last=True)), name


def test_new_countries_get_a_bloc_by_rule():
    merged = merge_data(reference([]), real(eto=[("E1", "HUN", 0.5, 2025, 10, False),
                                                 ("E1", "KAZ", 0.5, 2025, 11, False)]), USGS_MAP)
    added = merged.countries.filter(pl.col("origin") == "real data")
    assert dict(zip(added["iso3"], added["bloc"])) == {"HUN": "EU", "KAZ": "NON_ALIGNED"}


@settings(max_examples=60, deadline=None)
@given(ref_shares=st.lists(st.floats(0.0, 0.6), min_size=4, max_size=4),
       real_shares=st.lists(st.one_of(st.none(), st.floats(0.0, 0.7)), min_size=4, max_size=4),
       ref_year=st.integers(2023, 2025), real_year=st.integers(2023, 2025))
def test_merged_shares_never_exceed_100_percent_and_lineage_adds_up(ref_shares, real_shares, ref_year, real_year):
    isos = ["NLD", "JPN", "USA", "CHN"]
    total = sum(ref_shares)
    ref_rows = [("tool", c, s / max(total, 1.0), ref_year, i + 2) for i, (c, s) in enumerate(zip(isos, ref_shares))]
    real_rows = [("E1", c, s, real_year, 100 + i, False) for i, (c, s) in enumerate(zip(isos, real_shares))
                 if s is not None]
    merged = merge_data(reference(ref_rows), real(eto=real_rows), USGS_MAP)
    tool = merged.capacities.filter(pl.col("input_id") == "tool")
    real_total = sum(s for s in real_shares if s is not None)
    assert tool["share"].sum() <= max(1.0 + 1e-9, 0.0) + 0.005
    if real_total <= 1.005 and real_rows and real_year >= ref_year:
        # Real figures of the chosen year are never altered.
        for row in real_rows:
            if row[2] > 0:
                assert tool.filter(pl.col("iso3") == row[1])["share"][0] == pytest.approx(row[2])
    sums = merged.capacity_lineage.group_by("input_id", "iso3").agg(pl.col("contribution").sum())
    joined = merged.capacities.join(sums, on=["input_id", "iso3"])
    assert joined.height == merged.capacities.height
    assert ((joined["share"] - joined["contribution"]).abs() < 1e-9).all()
    decided = merged.merge_decisions
    assert decided.height == len(ref_rows) + len(real_rows)
