"""All real sources → canonical staging tables, entity resolution, quarantine, row accounting.

:func:`stage_real` is what the ``staging`` asset ``real_tables`` calls: raw tables in (as
read by :func:`chokepoint.inputs.real.sources.read_dataset`), canonical tables out, each row
with ``dataset``, ``file`` and ``line`` of the source row it came from. Sources are
staged in an order that lets firm resolution see the chip supply map's firm ids first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from chokepoint.inputs.firm_reference import firm_roles, reference_firms
from chokepoint.inputs.real.atlas import stage_atlas
from chokepoint.inputs.real.countries import ALIAS_COLUMNS, CountryResolver, check_aliases
from chokepoint.inputs.real.epoch import stage_epoch
from chokepoint.inputs.real.eto import INPUT_MAP_COLUMNS, mapped_recipe_edges, stage_eto
from chokepoint.inputs.real.firms import FIRM_ALIAS_COLUMNS, FirmResolver, check_firm_aliases
from chokepoint.inputs.real.opensanctions import FirmIndex, LIST_FILES, match_entries, stage_opensanctions
from chokepoint.inputs.real.quarantine import QUARANTINE_SCHEMA, row_accounting
from chokepoint.inputs.real.supply_map import stage_supply_map
from chokepoint.inputs.real.usgs import stage_usgs
from chokepoint.inputs.tables import FILE, Column, fail_at, typed

__all__ = ["Mappings", "MAPPING_FILES", "STAGED_TABLES", "parse_mappings", "stage_real", "world_total_checks",
           "ENTITY_SCHEMA", "USGS_MAP_COLUMNS", "WORLD_TOTAL_TOLERANCE", "empty_mappings", "empty_mapping_source"]

USGS_MAP_COLUMNS = [
    Column("mineral"),
    Column("measure", choices=("production", "capacity", "reserves")),
    Column("input_id", "id", nullable=True),
    Column("note"),
]
#: Project-authored mapping tables in ``data/reference/`` and their columns.
MAPPING_FILES = {
    "eto_input_map": INPUT_MAP_COLUMNS,
    "country_aliases": ALIAS_COLUMNS,
    "firm_aliases": FIRM_ALIAS_COLUMNS,
    "usgs_input_map": USGS_MAP_COLUMNS,
}
#: A USGS world total may differ from the sum of its rows by this fraction (rounding).
WORLD_TOTAL_TOLERANCE = 0.05

#: Canonical tables produced by :func:`stage_real`, with what they hold.
STAGED_TABLES = {
    "input_taxonomy": "Every ETO input and stage with the taxonomy input it maps to (relation same / part_of / "
                      "process_of / broader / none / unmapped): the coverage report of the ETO-to-taxonomy mapping.",
    "eto_sequence": "ETO sequence edges (goes_into = recipe/AND structure, is_type_of = taxonomy).",
    "recipe_evidence": "ETO's goes_into sequence traced onto the taxonomy: input → product edges with the ETO path, "
                       "and whether the reference recipes have the edge.",
    "eto_providers": "ETO providers (one row per provider line, aliases included) with firm id, ISO3 or aggregate.",
    "provision": "ETO provider → input shares (fraction 0–1) by year; blank shares imputed from the remainder and "
                 "marked imputed.",
    "eto_country_shares": "ETO country shares per (input, year): country rows when the input has any, else "
                          "organisations summed by their country; aggregates (Various, Europe) without ISO3.",
    "share_checks": "Validation of share totals per (source input, year, level): ETO sums above 100 % (+0.5 pt) "
                    "flagged, imputed rows counted; USGS country sums against the published world total.",
    "mineral_production": "USGS world mine/refinery production, capacity and reserves by country, mineral, year and "
                          "edition, in tonnes, with status (reported, estimated, withheld, not_available).",
    "mineral_salient": "USGS US salient statistics (production, trade, consumption, prices, net import reliance) "
                       "by mineral, year and edition, long format.",
    "compute_clusters": "Epoch AI GPU clusters with ISO3, owner firm ids, H100 equivalents, status, dates, and "
                        "whether the cluster counts towards its country's installed compute.",
    "accelerators": "Epoch AI ML hardware: accelerators with designer and foundry firm ids and process node.",
    "chip_counts": "Epoch AI AI chip counts (H100e and units; median, 5th, 95th percentile) by designer, owner, "
                   "chip type and quarter or cumulative period.",
    "firms": "One row per firm id: name, country, type, the datasets it appears in and its spellings, the roles it "
             "plays (foundry, memory, packager, equipment, material, designer, …) and the government lists it is on. "
             "Firms named only by the reference files (firm_capacity, qualifications, compute_sourcing) have "
             "dataset 'reference'.",
    "firm_edges": "Chip supply map typed firm → firm edges (relation, strength).",
    "supply_map_nodes": "Chip supply map nodes (firms and product platforms) with type, subtype, ISO3 and city.",
    "entity_names": "Entity resolution: every country and firm spelling in every source and field, what it "
                    "resolved to and how, with row counts.",
    "unresolved_names": "Names that resolved to no country (rows kept with a null ISO3): the report to act on.",
    "fab_campuses": "AI Chip Fab Atlas campuses as staged: operator resolved to a firm id (how, and the alias note "
                    "that decided it), ISO3, lifecycle status, operating flag, coordinates.",
    "list_entries": "Government list entries (US 1260H, NDAA 5949 and 889, BIS MIEU, China's countermeasures, EU "
                    "833/2014 Annex IV) from OpenSanctions: name, aliases, parent, country, dates parsed, source URL.",
    "list_matches": "Every list entry with its matching decision: the firm id it is (or null) and how (alias, exact, "
                    "parent, none), with the spelling that matched.",
    "list_skipped": "Rows of the EU 833/2014 annexes file outside Annex IV (banks, vessels, assets): read, not list "
                    "entries here; kept so that every row read is accounted for.",
    "quarantine": "Source rows that could not be staged, with the reason and the raw record.",
    "row_accounting": "Per source file: rows read = staged + quarantined (blank rows counted apart).",
}

ENTITY_SCHEMA = {"kind": pl.String, "dataset": pl.String, "file": pl.String, "field": pl.String, "name": pl.String,
                 "resolved_to": pl.String, "iso3": pl.String, "aggregate": pl.String, "method": pl.String,
                 "rows": pl.Int64}
SHARE_CHECK_SCHEMA = {"dataset": pl.String, "source_id": pl.String, "year": pl.Int64, "level": pl.String,
                      "edition": pl.String, "rows": pl.Int64, "imputed_rows": pl.Int64, "reported_pct": pl.Float64,
                      "total_pct": pl.Float64, "status": pl.String, "tolerance_pct": pl.Float64}


@dataclass(frozen=True)
class Mappings:
    eto_input_map: pl.DataFrame
    country_aliases: pl.DataFrame
    firm_aliases: pl.DataFrame
    usgs_input_map: pl.DataFrame


def empty_mappings() -> Mappings:
    """Mapping tables without rows (reference data needs none)."""
    return Mappings(**{name: pl.DataFrame(schema={c.name: pl.String for c in columns} | {"_line": pl.Int64})
                       for name, columns in MAPPING_FILES.items()})


def empty_mapping_source(name: str) -> pl.DataFrame:
    """The mapping file ``name`` as read (text cells, ``_line``, ``_file``) when it is absent:
    no rows. Only a run on reference data may do without it."""
    return pl.DataFrame(schema={**{c.name: pl.String for c in MAPPING_FILES[name]}, "_line": pl.Int64,
                                "_file": pl.String})


def parse_mappings(raw: dict[str, pl.DataFrame], taxonomy_ids) -> Mappings:
    """Validate the mapping tables (text frames from ``read_csv_text``) against the taxonomy.

    Raises
    ------
    InputError
        Naming file, line and field of the first problem.
    """
    frames = {name: typed(raw[name], columns) for name, columns in MAPPING_FILES.items()}
    taxonomy_ids = list(taxonomy_ids)
    eto = frames["eto_input_map"]
    path = Path(eto[FILE][0])
    fail_at(path, eto, pl.col("eto_input_id").is_duplicated(), "eto_input_id",
            lambda r: f"ETO input '{r['eto_input_id']}' is mapped twice")
    fail_at(path, eto, (pl.col("relation") != "none") & pl.col("input_id").is_null(), "input_id",
            lambda r: f"relation '{r['relation']}' needs an input_id")
    fail_at(path, eto, (pl.col("relation") == "none") & pl.col("input_id").is_not_null(), "input_id",
            lambda r: "relation 'none' takes no input_id")
    fail_at(path, eto, pl.col("input_id").is_not_null() & ~pl.col("input_id").is_in(taxonomy_ids), "input_id",
            lambda r: f"unknown taxonomy input '{r['input_id']}'", hint="input ids are defined in input_types.csv")
    same = eto.filter(pl.col("relation") == "same")
    fail_at(path, same, pl.col("input_id").is_duplicated(), "input_id",
            lambda r: f"two ETO inputs are the 'same' as '{r['input_id']}'; shares would be counted twice")
    aliases = frames["country_aliases"]
    check_aliases(aliases, Path(aliases[FILE][0]))
    firm_aliases = frames["firm_aliases"]
    check_firm_aliases(firm_aliases, Path(firm_aliases[FILE][0]))
    usgs = frames["usgs_input_map"]
    path = Path(usgs[FILE][0])
    fail_at(path, usgs, pl.col("input_id").is_not_null() & ~pl.col("input_id").is_in(taxonomy_ids), "input_id",
            lambda r: f"unknown taxonomy input '{r['input_id']}'", hint="input ids are defined in input_types.csv")
    fail_at(path, usgs, pl.struct("mineral", "measure").is_duplicated(), "mineral",
            lambda r: f"mineral '{r['mineral']}' ({r['measure']}) is mapped twice")
    return Mappings(**frames)


def stage_real(raw: dict[str, pl.DataFrame], mappings: Mappings,
               reference_recipes: pl.DataFrame | None = None, *,
               firm_reference: dict[str, pl.DataFrame] | None = None,
               input_types: pl.DataFrame | None = None) -> dict[str, pl.DataFrame]:
    """Stage every real source (raw tables keyed by warehouse name) into :data:`STAGED_TABLES`.

    Parameters
    ----------
    raw : dict of str to polars.DataFrame
        Raw tables ``src_eto_inputs`` … ``src_supply_map_edges`` (empty when the run is
        on reference data).
    mappings : Mappings
        Validated mapping tables.
    reference_recipes : polars.DataFrame, optional
        ``product``, ``input`` of the reference recipes, to mark which ETO-derived edges
        they already have.
    firm_reference : dict of str to polars.DataFrame, optional
        The parsed ``firm_capacity``, ``qualifications`` and ``compute_sourcing`` reference
        tables (:mod:`chokepoint.inputs.firm_reference`): firms they name that no source
        has are added to ``firms`` (dataset ``reference``), and they contribute roles.
    input_types : polars.DataFrame, optional
        ``input_id``, ``stage``: the role of a firm supplying an input follows its stage.

    Notes
    -----
    Linear in the number of source rows; the ETO recipe walk is O(M (V + E)) on a graph
    of ~130 nodes.
    """
    countries = CountryResolver(mappings.country_aliases)
    firms = FirmResolver(mappings.firm_aliases)

    supply = stage_supply_map(raw["src_supply_map_nodes"], raw["src_supply_map_edges"], countries, firms)
    eto = stage_eto({name: raw[f"src_eto_{name}"] for name in ("inputs", "stages", "sequence", "providers",
                                                                "provision")},
                    countries, firms, mappings.eto_input_map)
    epoch = stage_epoch(raw["src_epoch_gpu_clusters"], raw["src_epoch_ml_hardware"], raw["src_epoch_chip_counts"],
                        countries, firms)
    usgs = stage_usgs(raw["src_usgs_world"], raw["src_usgs_salient"], countries)
    atlas = stage_atlas(raw["src_atlas_campuses"], countries, firms, mappings.firm_aliases)
    lists = stage_opensanctions({layout.table: raw[layout.table] for layout in LIST_FILES.values()}, countries)

    edges = mapped_recipe_edges(eto.taxonomy, eto.sequence)
    if reference_recipes is not None and reference_recipes.height:
        known = reference_recipes.select(pl.col("input").alias("input_id"), pl.col("product").alias("product_id"),
                                         pl.lit(True).alias("in_reference_recipes"))
        edges = edges.join(known, on=["input_id", "product_id"], how="left").with_columns(
            pl.col("in_reference_recipes").fill_null(False))
    else:
        edges = edges.with_columns(pl.lit(False).alias("in_reference_recipes"))

    firm_table = _firm_table(firms, firm_reference or {})
    matches = match_entries(lists.entries, FirmIndex.build(mappings.firm_aliases, firm_table))
    firm_table = _with_roles_and_lists(firm_table, matches, firm_reference or {}, input_types, eto, supply, epoch,
                                       atlas)
    quarantine = pl.concat([supply.quarantine, eto.quarantine, epoch.quarantine, usgs.quarantine, atlas.quarantine,
                            lists.quarantine]).cast(
        QUARANTINE_SCHEMA).sort("dataset", "file", "line")
    eto_checks = eto.share_checks.select(
        "dataset", pl.col("eto_input_id").alias("source_id"), "year", pl.col("provider_kind").alias("level"),
        pl.lit(None, dtype=pl.String).alias("edition"), pl.col("rows").cast(pl.Int64),
        pl.col("imputed_rows").cast(pl.Int64), "reported_pct", "total_pct", "status", "tolerance_pct")
    share_checks = pl.concat([eto_checks, world_total_checks(usgs.production)]).cast(SHARE_CHECK_SCHEMA)

    entity_names = pl.concat([
        countries.names(),
        firms.aliases().select(pl.lit("firm").alias("kind"), "dataset", "file", pl.col("role").alias("field"),
                               "name", pl.col("firm_id").alias("resolved_to"), pl.lit(None, pl.String).alias("iso3"),
                               pl.when(pl.col("method") == "aggregate").then(pl.lit("OTHER"))
                               .otherwise(pl.lit(None, pl.String)).alias("aggregate"),
                               "method", pl.lit(None, pl.Int64).alias("rows")),
    ]).cast(ENTITY_SCHEMA)
    unresolved = entity_names.filter((pl.col("kind") == "country") & (pl.col("method") == "unresolved"))

    tables = {
        "input_taxonomy": eto.taxonomy,
        "eto_sequence": eto.sequence,
        "recipe_evidence": edges,
        "eto_providers": eto.providers,
        "provision": eto.provision,
        "eto_country_shares": eto.country_shares,
        "share_checks": share_checks,
        "mineral_production": usgs.production,
        "mineral_salient": usgs.salient,
        "compute_clusters": epoch.clusters,
        "accelerators": epoch.accelerators,
        "chip_counts": epoch.chip_counts,
        "firms": firm_table,
        "firm_edges": supply.edges,
        "fab_campuses": atlas.campuses,
        "list_entries": lists.entries,
        "list_matches": matches,
        "list_skipped": lists.skipped,
        "entity_names": entity_names,
        "unresolved_names": unresolved,
        "quarantine": quarantine,
    }
    staged_lines = [t.select("file", "line") for name, t in tables.items()
                    if name in ("input_taxonomy", "eto_sequence", "eto_providers", "provision", "mineral_production",
                                "mineral_salient", "compute_clusters", "accelerators", "chip_counts", "firm_edges",
                                "fab_campuses", "list_entries", "list_skipped")]
    staged_lines.append(supply.nodes.select("file", "line"))
    raw_all = pl.concat([t.select("_dataset", "_file", "_line") for t in raw.values()])
    tables["row_accounting"] = row_accounting(raw_all, staged_lines, quarantine)
    tables["supply_map_nodes"] = supply.nodes
    return tables


FIRM_SCHEMA = {"firm_id": pl.String, "name": pl.String, "iso3": pl.String, "type": pl.String, "subtype": pl.String,
               "datasets": pl.List(pl.String), "spellings": pl.List(pl.String), "cross_source": pl.Boolean}


def _firm_table(firms: FirmResolver, firm_reference: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """The resolver's firms plus firms only the reference files name (dataset ``reference``)."""
    table = firms.firms()
    if not firm_reference:
        return table
    named = reference_firms(firm_reference)
    extra = named.join(table.select("firm_id"), on="firm_id", how="anti")
    added = extra.select("firm_id", "name", pl.lit(None, pl.String).alias("iso3"), pl.lit(None, pl.String).alias("type"),
                         pl.lit(None, pl.String).alias("subtype"), pl.concat_list(pl.lit("reference")).alias("datasets"),
                         pl.concat_list("name").alias("spellings"), pl.lit(False).alias("cross_source"))
    return pl.concat([table.cast(FIRM_SCHEMA), added.cast(FIRM_SCHEMA)]).sort("firm_id")


def _with_roles_and_lists(firm_table: pl.DataFrame, matches: pl.DataFrame, firm_reference: dict[str, pl.DataFrame],
                          input_types: pl.DataFrame | None, eto, supply, epoch, atlas) -> pl.DataFrame:
    types = input_types if input_types is not None else pl.DataFrame(schema={"input_id": pl.String,
                                                                             "stage": pl.String})
    roles = firm_roles(types, firm_capacity=firm_reference.get("firm_capacity"),
                       qualifications=firm_reference.get("qualifications"),
                       compute_sourcing=firm_reference.get("compute_sourcing"), provision=eto.provision,
                       taxonomy=eto.taxonomy, supply_map_nodes=supply.nodes, clusters=epoch.clusters,
                       chip_counts=epoch.chip_counts, accelerators=epoch.accelerators, campuses=atlas.campuses)
    lists = (matches.filter(pl.col("firm_id").is_not_null()).group_by("firm_id")
             .agg(pl.col("list_id").unique().sort().alias("lists")))
    table = (firm_table.join(roles, on="firm_id", how="left").join(lists, on="firm_id", how="left")
             .with_columns(pl.col("roles").fill_null(pl.lit([], dtype=pl.List(pl.String))),
                           pl.col("lists").fill_null(pl.lit([], dtype=pl.List(pl.String)))))
    # A firm matched by a list entry appears in the lists' dataset too.
    listed = pl.col("lists").list.len() > 0
    datasets = (pl.when(listed).then(pl.concat_list("datasets", pl.lit(["opensanctions"], dtype=pl.List(pl.String)))
                                     .list.unique().list.sort()).otherwise(pl.col("datasets")))
    real = datasets.list.set_difference(pl.lit(["reference"], dtype=pl.List(pl.String)))
    return table.with_columns(datasets.alias("datasets")).with_columns(
        (real.list.len() > 1).alias("cross_source")).sort("firm_id")


def world_total_checks(production: pl.DataFrame) -> pl.DataFrame:
    """Per (mineral, edition, year): sum of country and "other" rows against the world total."""
    rows = production.filter(pl.col("measure") == "production")
    if rows.height == 0:
        return pl.DataFrame(schema=SHARE_CHECK_SCHEMA)
    numeric = pl.col("status").is_in(["reported", "estimated"])
    world = (pl.col("aggregate") == "WORLD").fill_null(False)
    totals = rows.group_by("mineral", "edition", "file", "year").agg(
        pl.col("tonnes").filter(numeric & ~world).sum().alias("_sum"),
        pl.col("tonnes").filter(numeric & world).first().alias("_world"),
        (~world).sum().cast(pl.Int64).alias("rows"),
        (pl.col("status") == "withheld").filter(~world).sum().cast(pl.Int64).alias("_withheld"),
        numeric.filter(~world).sum().cast(pl.Int64).alias("_numeric"),
    )
    ratio = 100 * pl.col("_sum") / pl.col("_world")
    return totals.select(
        pl.lit("usgs").alias("dataset"), pl.col("mineral").alias("source_id"), "year", pl.lit("country").alias("level"),
        pl.format("{} ({})", pl.col("edition"), pl.col("file").str.split("/").list.last()).alias("edition"), "rows", pl.lit(0, dtype=pl.Int64).alias("imputed_rows"),
        pl.when(pl.col("_world") > 0).then(ratio).alias("reported_pct"),
        pl.when(pl.col("_world") > 0).then(ratio).alias("total_pct"),
        pl.when(pl.col("_numeric") == 0).then(pl.lit("no_country_figures"))
        .when(pl.col("_world").is_null()).then(pl.lit("no_world_total"))
        .when(pl.col("_withheld") > 0).then(pl.lit("withheld"))
        .when((ratio - 100).abs() > 100 * WORLD_TOTAL_TOLERANCE).then(pl.lit("differs_from_world_total"))
        .otherwise(pl.lit("ok")).alias("status"),
        pl.lit(100 * WORLD_TOTAL_TOLERANCE).alias("tolerance_pct"),
    ).sort("source_id", "edition", "year")


