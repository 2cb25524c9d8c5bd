"""Firm- and facility-level tables for the short-run horizon (groups ``sources`` and ``staging``).

Reference files ``firm_capacity``, ``qualifications``, ``short_run`` and
``compute_sourcing`` (:mod:`chokepoint.inputs.firm_reference`) are read as text, validated
and merged with the real data where it has something to say (Epoch AI's foundries per
accelerator, Epoch AI chip counts by owner, the AI Chip Fab Atlas campuses) into
``staging.producers``: the producer nodes at the finest level the data supports, summing
exactly to ``staging.capacities`` per (country, input).
"""

from __future__ import annotations

import hashlib

import dagster as dg
import polars as pl

from chokepoint.inputs.firm_reference import (ACCELERATORS, DESIGN, FIRM_REFERENCE_FILES, QUALIFICATION_BASES,
                                              SHARE_TOLERANCE, SHORT_RUN_KINDS, build_compute_owners,
                                              build_compute_sourcing,
                                              build_facilities, build_producers, build_qualifications,
                                              parse_compute_sourcing, parse_firm_capacity, parse_qualifications,
                                              parse_short_run)
from chokepoint.inputs.real.opensanctions import LISTS
from chokepoint.inputs.tables import read_csv_text
from pipelines.metadata import markdown_table, table_metadata
from pipelines.resources import ChokepointSettings

OWNERS = ["team:chokepoint"]
KINDS = {"polars", "duckdb"}

_FILE_DESCRIPTIONS = {
    "firm_capacity": "how a country's capacity of an input splits among firms (share of the country, low-high "
                     "range, year, public source or documented estimate)",
    "qualifications": "which suppliers (foundry, HBM maker, packager) each accelerator vendor is qualified on "
                      "within a year, with the basis, evidence and source",
    "short_run": "per input type: how supply is bound in the short run (open, design, listed, process, "
                 "installed_base) and the share of capacity in use today with its range and source",
    "compute_sourcing": "accelerator vendors behind a country's compute build-out where the real data gives none "
                        "(Huawei, Cambricon …), in H100e with ranges",
}


def _source(table: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=f"src_reference_{table}", key_prefix="staging", group_name="sources", kinds={"csv", "polars", "duckdb"},
        owners=OWNERS, tags={"dataset": "reference"},
        description=(f"`data/reference/{table}.csv` as read (embedded reference data): {_FILE_DESCRIPTIONS[table]}. "
                     "Every cell as text, with `_line` (line in the file) and `_file`."),
    )
    def source(settings: ChokepointSettings) -> dg.Output[pl.DataFrame]:
        path = settings.reference_dir() / f"{table}.csv"
        frame = read_csv_text(path)
        return dg.Output(frame, metadata=table_metadata(frame, path=dg.MetadataValue.path(str(path)),
                                                        sha256=hashlib.sha256(path.read_bytes()).hexdigest()))

    return source


sources = [_source(table) for table in FIRM_REFERENCE_FILES]


def _in(name: str) -> dg.AssetIn:
    return dg.AssetIn(key=["staging", name])


@dg.asset(
    key_prefix="staging", group_name="staging", kinds=KINDS, owners=OWNERS,
    ins={"src": _in("src_reference_firm_capacity"), "reference_input_types": _in("reference_input_types"),
         "reference_countries": _in("reference_countries"), "reference_capacities": _in("reference_capacities")},
    description=("Firm split of country capacities (`data/reference/firm_capacity.csv`, validated): the fraction "
                 "`share_of_country` (with `share_low`–`share_high`) of a country's capacity of an input that a "
                 "firm holds, the year and the public source (or `estimate:` with its reasoning). Shares of one "
                 "(input, country) sum to at most 1; the rest is a residual producer. Every row names a country "
                 "with capacity of the input in the reference data. Grain: one row per (input, country, firm)."),
)
def firm_capacity(src: pl.DataFrame, reference_input_types: pl.DataFrame, reference_countries: pl.DataFrame,
                  reference_capacities: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    frame = parse_firm_capacity(src, reference_input_types["input_id"], reference_countries["iso3"],
                                reference_capacities.select("input_id", "iso3").rows())
    return dg.Output(frame, metadata=table_metadata(frame, inputs=frame["input_id"].n_unique(),
                                                    firms=frame["firm_id"].n_unique()))


@dg.asset(
    key_prefix="staging", group_name="staging", kinds=KINDS, owners=OWNERS,
    ins={"src": _in("src_reference_short_run"), "input_types": _in("input_types")},
    description=("Short-run rules per input type (`data/reference/short_run.csv`, validated): `qualification` "
                 "says which supply an actor can draw on within about a year — `open` (any producer), `design` "
                 "(only the vendor's own design), `listed` (only suppliers in staging.qualifications), `process` "
                 "(the process of record's supplier) or `installed_base` (tools already installed) — "
                 "`utilisation` the share of capacity in use today (low–high, source; empty = no limit) and "
                 "`lead_time_months` the months to qualify a new supplier (low–high, source; empty = not within "
                 "any horizon). "
                 "Grain: one row per input type."),
)
def short_run_rules(src: pl.DataFrame, input_types: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    frame = parse_short_run(src, input_types["input_id"])
    return dg.Output(frame, metadata=table_metadata(frame, by_qualification=dg.MetadataValue.md(markdown_table(
        frame.group_by("qualification").len().sort("qualification")))))


@dg.asset(
    key_prefix="staging", group_name="staging", kinds=KINDS, owners=OWNERS,
    ins={"src": _in("src_reference_qualifications"), "input_types": _in("input_types"),
         "accelerators": _in("accelerators")},
    description=("Qualified supply routes of accelerator vendors: which foundry, HBM maker and packager each buyer "
                 "firm can use within a year (`basis`: design_of_record, supplier_of_record, second_source, "
                 "stockpile, qualifying), with evidence and source. Reference rows "
                 "(`data/reference/qualifications.csv`) plus, on real data, every (designer, foundry) pair of an "
                 "Epoch AI accelerator at ≤ 7 nm (`origin` epoch_hardware, with dataset, file, line). "
                 "Grain: one row per (buyer, input, supplier)."),
)
def qualifications(src: pl.DataFrame, input_types: pl.DataFrame,
                   accelerators: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    frame = build_qualifications(parse_qualifications(src, input_types["input_id"]), accelerators)
    return dg.Output(frame, metadata=table_metadata(frame, from_epoch=int((frame["origin"] == "epoch_hardware").sum()),
                                                    buyers=frame["buyer_firm_id"].n_unique()))


@dg.asset(
    key_prefix="staging", group_name="staging", kinds=KINDS, owners=OWNERS,
    ins={"src": _in("src_reference_compute_sourcing"), "countries": _in("countries"),
         "chip_counts": _in("chip_counts")},
    description=("Accelerator vendors behind each country's AI compute build-out (`iso3`, or `WORLD` for every "
                 "owner not listed by country): H100e bought per vendor and year with a low–high range and the "
                 "vendor's `share` of its (iso3, year) total. On real data Epoch AI's chip counts give Nvidia, AMD, "
                 "TPU and Trainium (China = owner China; WORLD = vendor total minus China); Huawei, Cambricon and "
                 "other vendors Epoch does not cover come from `data/reference/compute_sourcing.csv`. "
                 "Grain: one row per (year, iso3, supplier)."),
)
def compute_sourcing(src: pl.DataFrame, countries: pl.DataFrame,
                     chip_counts: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    frame = build_compute_sourcing(parse_compute_sourcing(src, countries["iso3"]), chip_counts)
    return dg.Output(frame, metadata=table_metadata(frame, from_epoch=int((frame["dataset"] != "reference").sum())))


@dg.asset(
    key_prefix="staging", group_name="staging", kinds=KINDS, owners=OWNERS,
    ins={"fab_campuses": _in("fab_campuses"), "firm_capacity": _in("firm_capacity"),
         "capacities": _in("capacities")},
    description=("AI Chip Fab Atlas campuses (CC BY 4.0) with the leading-edge capacity they carry: operator firm "
                 "id (resolved, with how and why), status and whether it operates, coordinates, and — for operating "
                 "campuses of a firm with ≤ 7 nm capacity in that country per staging.firm_capacity — "
                 "`input_id` leading_edge_logic_fab, `capacity_share` (1 for the firm's only operating campus "
                 "in the country, else null: no per-campus capacity is public) and `capacity` in wafer starts per year; `capacity_basis` says "
                 "why for every campus. Empty on reference data. Grain: one row per campus."),
)
def facilities(fab_campuses: pl.DataFrame, firm_capacity: pl.DataFrame,
               capacities: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    frame = build_facilities(fab_campuses, firm_capacity, capacities)
    return dg.Output(frame, metadata=table_metadata(
        frame, operating=int(frame["operating"].sum() or 0),
        carrying_capacity=int(frame["capacity_share"].is_not_null().sum())))


@dg.asset(
    key_prefix="staging", group_name="staging", kinds=KINDS, owners=OWNERS,
    ins={"capacities": _in("capacities"), "firm_capacity": _in("firm_capacity"), "facilities": _in("facilities")},
    description=("Producer nodes at the finest level the data supports, for the network builder: per (country, "
                 "input) of staging.capacities either one `country` producer (no split data), or one `firm` "
                 "producer per firm of staging.firm_capacity plus a `residual` producer for what they leave, with "
                 "operating fab campuses (staging.facilities) replacing their firm (`facility`). `producer_id` is "
                 "ISO3:input_id[:firm_id[:facility_id]]; capacities sum exactly to the country's capacity. "
                 "Grain: one row per producer."),
)
def producers(capacities: pl.DataFrame, firm_capacity: pl.DataFrame,
              facilities: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    frame, unused = build_producers(capacities, firm_capacity, facilities)
    return dg.Output(frame, metadata=table_metadata(
        frame, by_level=dg.MetadataValue.md(markdown_table(frame.group_by("level", "basis").len().sort("level"))),
        firm_rows_without_country_capacity=unused.height,
        unused_firm_rows=dg.MetadataValue.md(markdown_table(unused.select("input_id", "iso3", "firm_id", "line")))))


# --------------------------------------------------------------------------------------------------------- checks


def _missing_provenance(frame: pl.DataFrame, columns: tuple[str, ...]) -> int:
    if frame.height == 0:
        return 0
    return frame.filter(pl.any_horizontal([pl.col(c).is_null() | (pl.col(c).cast(pl.String) == "")
                                           for c in columns])).height


@dg.asset_check(blocking=True, asset=dg.AssetKey(["staging", "producers"]), description=(
    "Country totals equal the sum of their producers: for every (country, input) of staging.capacities the "
    "producers' capacities sum to the country's capacity (relative tolerance 1e-9); every share_of_country lies in "
    "[0, 1]; no producer_id repeats; every producer has a source."),
    additional_ins={"capacities": _in("capacities")})
def producers_sum_to_country_capacity(producers: pl.DataFrame, capacities: pl.DataFrame) -> dg.AssetCheckResult:
    sums = producers.group_by("input_id", "iso3").agg(pl.col("capacity").sum().alias("producers"), pl.len().alias("n"))
    joined = capacities.select("input_id", "iso3", pl.col("capacity").alias("country")).join(
        sums, on=["input_id", "iso3"], how="full", coalesce=True).with_columns(
        ((pl.col("producers").fill_null(0.0) - pl.col("country").fill_null(0.0)).abs()
         / pl.col("country").abs().fill_null(0.0).clip(lower_bound=1e-300)).alias("relative_difference"))
    bad = joined.filter(pl.col("relative_difference") > 1e-9).sort("relative_difference", descending=True)
    out_of_range = producers.filter((pl.col("share_of_country") < 0) | (pl.col("share_of_country") > 1 + 1e-12)).height
    repeated = producers.height - producers["producer_id"].n_unique()
    no_source = _missing_provenance(producers, ("source",))
    passed = bad.height == 0 and out_of_range == 0 and repeated == 0 and no_source == 0
    return dg.AssetCheckResult(passed=bool(passed), metadata={
        "country_input_pairs": joined.height, "pairs_not_adding_up": bad.height,
        "largest_relative_difference": float(joined["relative_difference"].max() or 0.0),
        "shares_outside_0_1": out_of_range, "repeated_producer_ids": repeated, "producers_without_source": no_source,
        "producers_by_level": dg.MetadataValue.md(markdown_table(producers.group_by("level").len().sort("level"))),
        "not_adding_up": dg.MetadataValue.md(markdown_table(bad))})


@dg.asset_check(blocking=True, asset=dg.AssetKey(["staging", "producers"]), description=(
    "Every accelerator vendor with an ai_accelerators producer also has an ai_accelerator_design producer with the "
    "same firm id (accelerators come only from their vendor's design)."))
def accelerator_vendors_have_designs(producers: pl.DataFrame) -> dg.AssetCheckResult:
    vendors = set(producers.filter((pl.col("input_id") == ACCELERATORS) & pl.col("firm_id").is_not_null())["firm_id"])
    designers = set(producers.filter((pl.col("input_id") == DESIGN) & pl.col("firm_id").is_not_null())["firm_id"])
    missing = sorted(vendors - designers)
    return dg.AssetCheckResult(passed=not missing, metadata={
        "accelerator_vendors": ", ".join(sorted(vendors)), "vendors_without_design": ", ".join(missing)})


@dg.asset_check(blocking=True, asset=dg.AssetKey(["staging", "firm_capacity"]), description=(
    "Firm shares within bounds and resolved: shares of one (input, country) sum to at most 100 %, every share lies "
    "in [share_low, share_high] within [0, 1], every firm id is a row of staging.firms (on real data: one a real "
    "dataset or the firm alias table knows), every row has a source and file:line."),
    additional_ins={"firms": _in("firms"), "data_mode": _in("data_mode"),
                    "firm_aliases": _in("src_reference_firm_aliases")})
def firm_capacity_valid(firm_capacity: pl.DataFrame, firms: pl.DataFrame, data_mode: pl.DataFrame,
                        firm_aliases: pl.DataFrame) -> dg.AssetCheckResult:
    totals = firm_capacity.group_by("input_id", "iso3").agg(pl.col("share_of_country").sum().alias("total"))
    over = totals.filter(pl.col("total") > 1 + SHARE_TOLERANCE)
    out_of_range = firm_capacity.filter(
        (pl.col("share_low") > pl.col("share_of_country")) | (pl.col("share_high") < pl.col("share_of_country"))
        | (pl.col("share_low") < 0) | (pl.col("share_high") > 1)).height
    unknown, reference_only = _unresolved(firm_capacity["firm_id"], firms, data_mode, firm_aliases)
    no_source = _missing_provenance(firm_capacity, ("source", "file", "line"))
    passed = over.height == 0 and out_of_range == 0 and not unknown and not reference_only and no_source == 0
    return dg.AssetCheckResult(passed=passed, metadata={
        "largest_total_share": float(totals["total"].max() or 0.0), "pairs_over_100_pct": over.height,
        "shares_outside_range": out_of_range, "firm_ids_not_in_firms": ", ".join(unknown),
        "firm_ids_no_real_dataset_knows": ", ".join(reference_only), "rows_without_provenance": no_source})


def _unresolved(ids: pl.Series, firms: pl.DataFrame, data_mode: pl.DataFrame,
                aliases: pl.DataFrame) -> tuple[list[str], list[str]]:
    """Firm ids missing from staging.firms; on real data also those that only the reference files name and the
    firm alias table does not list as a target (a typo, or a firm to add to firm_aliases.csv)."""
    wanted = set(ids.drop_nulls().to_list())
    known = set(firms["firm_id"].to_list())
    unknown = sorted(wanted - known)
    reference_only = []
    if data_mode["mode"][0] == "real":
        only = firms.filter(pl.col("datasets").list.len() == pl.col("datasets").list.count_matches("reference"))
        targets = set(aliases["firm_id"].to_list()) if "firm_id" in aliases.columns else set()
        reference_only = sorted((wanted & set(only["firm_id"].to_list())) - targets)
    return unknown, reference_only


@dg.asset_check(blocking=True, asset=dg.AssetKey(["staging", "short_run_rules"]), description=(
    "One rule per staged input type with a known qualification kind; utilisation in [0, 1] inside its low–high "
    "range (or all three empty); every row has a source."),
    additional_ins={"input_types": _in("input_types")})
def short_run_rules_complete(short_run_rules: pl.DataFrame, input_types: pl.DataFrame) -> dg.AssetCheckResult:
    wanted, have = set(input_types["input_id"]), short_run_rules["input_id"].to_list()
    missing, extra, repeated = sorted(wanted - set(have)), sorted(set(have) - wanted), len(have) - len(set(have))
    bad_kind = short_run_rules.filter(~pl.col("qualification").is_in(list(SHORT_RUN_KINDS))).height
    u, lo, hi = pl.col("utilisation"), pl.col("utilisation_low"), pl.col("utilisation_high")
    bad_range = short_run_rules.filter(((lo > u) | (hi < u) | (lo < 0) | (hi > 1)).fill_null(False)).height
    no_source = _missing_provenance(short_run_rules, ("source", "file", "line"))
    passed = not missing and not extra and repeated == 0 and bad_kind == 0 and bad_range == 0 and no_source == 0
    return dg.AssetCheckResult(passed=passed, metadata={
        "input_types_without_rule": ", ".join(missing), "rules_for_unknown_inputs": ", ".join(extra),
        "repeated": repeated, "unknown_qualification": bad_kind, "utilisation_out_of_range": bad_range,
        "rows_without_source": no_source,
        "without_utilisation": ", ".join(short_run_rules.filter(u.is_null())["input_id"].to_list())})


@dg.asset_check(blocking=True, asset=dg.AssetKey(["staging", "qualifications"]), description=(
    "Buyer and supplier firm ids are rows of staging.firms (on real data: known to a real dataset or the alias "
    "table), input ids are staged input types, the basis is known, no (buyer, input, supplier) repeats, and every "
    "row has a source and provenance (file:line)."),
    additional_ins={"firms": _in("firms"), "input_types": _in("input_types"), "data_mode": _in("data_mode"),
                    "firm_aliases": _in("src_reference_firm_aliases")})
def qualifications_resolved(qualifications: pl.DataFrame, firms: pl.DataFrame, input_types: pl.DataFrame,
                            data_mode: pl.DataFrame, firm_aliases: pl.DataFrame) -> dg.AssetCheckResult:
    ids = pl.concat([qualifications["buyer_firm_id"], qualifications["supplier_firm_id"]])
    unknown, reference_only = _unresolved(ids, firms, data_mode, firm_aliases)
    bad_input = qualifications.filter(~pl.col("input_id").is_in(input_types["input_id"].to_list())).height
    bad_basis = qualifications.filter(~pl.col("basis").is_in(list(QUALIFICATION_BASES))).height
    repeated = qualifications.height - qualifications.select("buyer_firm_id", "input_id",
                                                             "supplier_firm_id").n_unique()
    no_source = _missing_provenance(qualifications, ("source", "file", "line"))
    passed = not unknown and not reference_only and bad_input == 0 and bad_basis == 0 and repeated == 0 \
        and no_source == 0
    return dg.AssetCheckResult(passed=passed, metadata={
        "firm_ids_not_in_firms": ", ".join(unknown), "firm_ids_no_real_dataset_knows": ", ".join(reference_only),
        "unknown_inputs": bad_input, "unknown_basis": bad_basis, "repeated": repeated,
        "rows_without_provenance": no_source,
        "by_origin": dg.MetadataValue.md(markdown_table(qualifications.group_by("origin").len().sort("origin")))})


@dg.asset_check(blocking=True, asset=dg.AssetKey(["staging", "compute_sourcing"]), description=(
    "Vendor shares of each (iso3, year) lie in [0, 1] and sum to 100 %; h100e_low ≤ h100e ≤ h100e_high; every "
    "supplier is a row of staging.firms; every row has a source and a file."),
    additional_ins={"firms": _in("firms"), "data_mode": _in("data_mode"),
                    "firm_aliases": _in("src_reference_firm_aliases")})
def compute_sourcing_shares(compute_sourcing: pl.DataFrame, firms: pl.DataFrame, data_mode: pl.DataFrame,
                            firm_aliases: pl.DataFrame) -> dg.AssetCheckResult:
    totals = compute_sourcing.group_by("iso3", "year").agg(pl.col("share").sum().alias("total"))
    off = totals.filter((pl.col("total") - 1).abs() > 1e-9)
    out_of_range = compute_sourcing.filter((pl.col("share") < 0) | (pl.col("share") > 1)
                                           | (pl.col("h100e_low") > pl.col("h100e"))
                                           | (pl.col("h100e_high") < pl.col("h100e"))).height
    unknown, reference_only = _unresolved(compute_sourcing["supplier_firm_id"], firms, data_mode, firm_aliases)
    no_source = _missing_provenance(compute_sourcing, ("source", "dataset", "file"))
    passed = off.height == 0 and out_of_range == 0 and not unknown and not reference_only and no_source == 0
    return dg.AssetCheckResult(passed=passed, metadata={
        "groups_not_summing_to_1": off.height, "rows_out_of_range": out_of_range,
        "firm_ids_not_in_firms": ", ".join(unknown), "firm_ids_no_real_dataset_knows": ", ".join(reference_only),
        "rows_without_provenance": no_source})


@dg.asset_check(blocking=True, asset=dg.AssetKey(["staging", "facilities"]), description=(
    "Every campus has an operator firm id that is a row of staging.firms and provenance (dataset, file, line); only "
    "operating campuses carry capacity; the capacity shares of one firm in one country sum to 100 %."),
    additional_ins={"firms": _in("firms")})
def facilities_consistent(facilities: pl.DataFrame, firms: pl.DataFrame) -> dg.AssetCheckResult:
    unresolved = facilities.filter(pl.col("operator_firm_id").is_null()
                                   | ~pl.col("operator_firm_id").is_in(firms["firm_id"].to_list())).height
    not_operating = facilities.filter(pl.col("capacity_share").is_not_null() & ~pl.col("operating")).height
    sums = (facilities.filter(pl.col("capacity_share").is_not_null()).group_by("operator_firm_id", "iso3")
            .agg(pl.col("capacity_share").sum().alias("total")))
    off = sums.filter((pl.col("total") - 1).abs() > 1e-9).height
    no_provenance = _missing_provenance(facilities, ("dataset", "file", "line", "capacity_basis"))
    passed = unresolved == 0 and not_operating == 0 and off == 0 and no_provenance == 0
    return dg.AssetCheckResult(passed=passed, metadata={
        "campuses": facilities.height, "unresolved_operators": unresolved,
        "capacity_on_non_operating_campuses": not_operating, "firm_countries_not_summing_to_1": off,
        "rows_without_provenance": no_provenance,
        "carrying_capacity": dg.MetadataValue.md(markdown_table(facilities.filter(
            pl.col("capacity_share").is_not_null()).select("facility_id", "name", "operator_firm_id", "iso3",
                                                           "capacity_share"), limit=20))})


@dg.asset_check(blocking=True, asset=dg.AssetKey(["staging", "list_matches"]), description=(
    "Every government-list entry has exactly one matching decision (and no decision lacks its entry); matched firm "
    "ids are rows of staging.firms; methods are alias / exact / parent / none; list ids are known; every entry has "
    "provenance (dataset, file, line)."),
    additional_ins={"list_entries": _in("list_entries"), "firms": _in("firms")})
def list_matches_complete(list_matches: pl.DataFrame, list_entries: pl.DataFrame,
                          firms: pl.DataFrame) -> dg.AssetCheckResult:
    keys = ["file", "line"]
    per_entry = list_matches.group_by(keys).len()
    without = list_entries.join(per_entry, on=keys, how="anti").height
    several = per_entry.filter(pl.col("len") > 1).height
    orphan = list_matches.join(list_entries, on=keys, how="anti").height
    bad_firm = list_matches.filter(pl.col("firm_id").is_not_null()
                                   & ~pl.col("firm_id").is_in(firms["firm_id"].to_list())).height
    bad_method = list_matches.filter(~pl.col("method").is_in(["alias", "exact", "parent", "none"])
                                     | (pl.col("firm_id").is_null() != (pl.col("method") == "none"))).height
    bad_list = list_entries.filter(~pl.col("list_id").is_in(list(LISTS))).height
    no_provenance = _missing_provenance(list_entries, ("dataset", "file", "line"))
    passed = without == 0 and several == 0 and orphan == 0 and bad_firm == 0 and bad_method == 0 and bad_list == 0 \
        and no_provenance == 0
    matched = list_matches.filter(pl.col("firm_id").is_not_null())
    return dg.AssetCheckResult(passed=passed, metadata={
        "entries": list_entries.height, "entries_without_decision": without, "entries_with_several": several,
        "decisions_without_entry": orphan, "unknown_firm_ids": bad_firm, "inconsistent_methods": bad_method,
        "unknown_lists": bad_list, "entries_without_provenance": no_provenance, "matched": matched.height,
        "matched_firms": dg.MetadataValue.md(markdown_table(
            matched.group_by("firm_id").agg(pl.col("list_id").unique().sort().str.join(", ")).sort("firm_id"),
            limit=30))})


@dg.asset(
    key_prefix="staging", group_name="staging", kinds=KINDS, owners=OWNERS,
    ins={"compute_clusters": _in("compute_clusters")},
    description=("Who owns each country's installed AI compute: per (country, owner firm) the H100e of the Epoch AI "
                 "GPU clusters that count towards capacity (operational, not a duplicate or superseded; a cluster "
                 "of several owners split evenly) and `share_of_country`, the firm's share of the country's counted "
                 "H100e (owned or not), with the source lines. A scenario's firm actors (`[actors.X] firms = [...]`) "
                 "own that share of their countries' compute. Empty on reference data. Grain: one row per "
                 "(country, firm)."),
)
def compute_owners(compute_clusters: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    frame = build_compute_owners(compute_clusters)
    return dg.Output(frame, metadata=table_metadata(
        frame.sort("h100e", descending=True).drop("lines").head(10), rows=frame.height,
        firms=frame["firm_id"].n_unique(), countries=frame["iso3"].n_unique()))


@dg.asset_check(asset=dg.AssetKey(["staging", "compute_owners"]), blocking=True, description=(
    "Owners' shares of each country's counted compute are within [0, 1] and sum to at most 1 per country; "
    "every row has its source lines."))
def compute_owner_shares(compute_owners: pl.DataFrame) -> dg.AssetCheckResult:
    totals = compute_owners.group_by("iso3").agg(pl.col("share_of_country").sum())
    over = totals.filter(pl.col("share_of_country") > 1 + SHARE_TOLERANCE).height
    outside = compute_owners.filter((pl.col("share_of_country") < 0) | (pl.col("share_of_country") > 1)).height
    no_lines = compute_owners.filter(pl.col("lines").list.len().fill_null(0) == 0).height
    return dg.AssetCheckResult(passed=over == 0 and outside == 0 and no_lines == 0, metadata={
        "rows": compute_owners.height, "countries_over_one": over, "shares_outside_0_1": outside,
        "rows_without_source_lines": no_lines})


assets = [*sources, firm_capacity, short_run_rules, qualifications, compute_sourcing, facilities, producers,
          compute_owners]
checks = [producers_sum_to_country_capacity, accelerator_vendors_have_designs, firm_capacity_valid, compute_owner_shares,
          short_run_rules_complete, qualifications_resolved, compute_sourcing_shares, facilities_consistent,
          list_matches_complete]
