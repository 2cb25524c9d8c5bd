"""The real datasets staged: nothing lost, known facts survive, every corruption is caught."""

from __future__ import annotations

import polars as pl
import pytest

from chokepoint.errors import InputError
from chokepoint.inputs.real.epoch import compute_shares
from chokepoint.inputs.real.manifest import load_manifest, verify_files
from chokepoint.inputs.real.merge import merge_data
from chokepoint.inputs.real.rawcsv import read_raw_csv
from chokepoint.inputs.real.usgs import mineral_shares
from tests.conftest import REFERENCE
from tests.support.real_data import (
    MIRROR,
    mappings,
    mirror_copy,
    needs_mirror,
    records_in,
    reference_data,
    stage,
    staged_mirror,
)

pytestmark = needs_mirror


def test_manifest_copy_matches_the_mirror():
    mirror = pl.read_csv(MIRROR / "MANIFEST.csv", infer_schema=False)
    ours = load_manifest()
    assert sorted(mirror["path"].to_list()) == sorted(ours["path"].to_list())
    assert dict(zip(mirror["path"], mirror["sha256"])) == dict(zip(ours["path"], ours["sha256"]))
    assert verify_files(MIRROR, ours)["status"].unique().to_list() == ["ok"]


def test_every_record_of_every_file_is_staged_or_quarantined():
    tables = staged_mirror()
    accounting = tables["row_accounting"]
    ingested = load_manifest().filter(pl.col("dataset").is_not_null())
    assert sorted(accounting["file"].to_list()) == sorted(ingested["path"].to_list())
    for row in accounting.iter_rows(named=True):
        # Counted independently with the standard library's csv module.
        assert row["rows_read"] == records_in(MIRROR / row["file"]), row["file"]
        assert row["rows_read"] == row["staged"] + row["quarantined"], row["file"]
        assert row["adds_up"], row["file"]
    assert accounting.filter(pl.col("file") == "epoch/gpu_clusters.csv")["rows_read"][0] == 786
    assert accounting.filter(pl.col("file") == "eto_chip_explorer/provision.csv")["rows_read"][0] == 1300
    # The pristine files lose nothing but USGS's padding rows.
    quarantine = tables["quarantine"]
    assert quarantine.filter(~pl.col("blank")).height == 0, quarantine.filter(~pl.col("blank"))
    assert set(quarantine["file"].str.split("/").list.first()) == {"usgs_mcs"}


def test_no_country_spelling_is_left_unresolved():
    tables = staged_mirror()
    assert tables["unresolved_names"].height == 0
    names = tables["entity_names"].filter(pl.col("kind") == "country")
    resolved = dict(zip(names["name"], names["resolved_to"]))
    for spelling, iso3 in [("Burma", "MMR"), ("Congo (Kinshasa)", "COD"), ("Korea, Republic of", "KOR"),
                           ("Korea, Republic ofe", "KOR"), ("New Caledonia11", "NCL"), ("Japane", "JPN"),
                           ("Korea (Republic of)", "KOR"), ("United\u00a0States", "USA"), ("TW", "TWN"),
                           ("NLD", "NLD"), ("Other countries4", "OTHER"), ("World total (rounded)", "WORLD")]:
        assert resolved[spelling] == iso3, spelling


def test_firm_aliases_meet_across_sources():
    firms = staged_mirror()["firms"]
    by_id = {r["firm_id"]: r for r in firms.iter_rows(named=True)}
    assert {"supply_map", "eto", "epoch_hardware"} <= set(by_id["tsmc"]["datasets"])
    assert {"supply_map", "eto", "epoch_hardware", "epoch_chip_counts"} <= set(by_id["nvidia"]["datasets"])
    assert {"Canon", "Canon ANELVA", "Canon Machinery"} <= set(by_id["canon"]["spellings"])
    assert {"supply_map", "eto"} <= set(by_id["shin-etsu"]["datasets"])
    accelerators = staged_mirror()["accelerators"]
    foundries = set(accelerators["foundry_firm_ids"].explode().drop_nulls())
    assert {"tsmc", "samsung-foundry", "smic", "intel-foundry"} <= foundries
    assert "various-companies" not in by_id


def test_chip_counts_owners_are_firms_countries_or_the_rest():
    counts = staged_mirror()["chip_counts"]
    assert counts.height == 1577 and counts["h100e"].null_count() == 0 and counts["start_date"].null_count() == 0
    owners = counts.filter(pl.col("owner").is_not_null()).select(
        "owner", "owner_firm_id", "owner_iso3", "owner_aggregate").unique()
    by_name = {r["owner"]: r for r in owners.iter_rows(named=True)}
    assert by_name["China"]["owner_iso3"] == "CHN" and by_name["Other"]["owner_aggregate"] == "OTHER"
    assert by_name["Amazon"]["owner_firm_id"] == "aws" and by_name["Oracle"]["owner_firm_id"] == "oracle-cloud"
    # Microsoft's Nvidia chips in the first quarter of 2022, as published (median H100e).
    nvidia = counts.filter((pl.col("file").str.ends_with("nvidia_owners_quarters.csv"))
                           & (pl.col("owner") == "Microsoft") & (pl.col("year") == 2022))
    assert nvidia.sort("start_date")["h100e"][0] == 14769


def test_known_fact_euv_tools_all_from_the_netherlands():
    tables = staged_mirror()
    shares = tables["eto_country_shares"].filter(pl.col("eto_input_id") == "N20")
    assert shares.select("iso3", "share", "year").rows() == [("NLD", 1.0, 2025)]
    line = shares["lines"][0][0]
    raw = (MIRROR / "eto_chip_explorer/provision.csv").read_text(encoding="utf-8").splitlines()[line - 1]
    assert raw.startswith("NLD,P45,EUV lithography tools,N20,100.0,2025")


def test_known_fact_china_rare_earth_mine_share_2023():
    production = staged_mirror()["mineral_production"]
    shares = mineral_shares(production, mappings().usgs_input_map)
    row = shares.filter((pl.col("input_id") == "rare_earth_mining") & (pl.col("year") == 2023)
                        & (pl.col("iso3") == "CHN")).row(0, named=True)
    # USGS MCS 2024: China 240,000 t of 353,320 t listed by country; world total (rounded) 350,000 t.
    assert row["tonnes"] == 240_000 and row["world_tonnes"] == 350_000
    assert row["share"] == pytest.approx(240_000 / 353_320)
    reference = pl.read_csv(REFERENCE / "shares.csv").filter(
        (pl.col("input_id") == "rare_earth_mining") & (pl.col("iso3") == "CHN"))["share_pct"][0]
    assert 100 * row["share"] == pytest.approx(reference, abs=0.05)
    assert row["file"] == "usgs_mcs/mcs2024-raree_world.csv" and row["line"] == 7


def test_known_fact_compute_by_country_equals_the_reference_aggregation():
    shares = compute_shares(staged_mirror()["compute_clusters"])
    reference = pl.read_csv(REFERENCE / "compute_capacity.csv")
    joined = reference.join(shares, on="iso3", how="full", coalesce=True)
    assert joined["h100e"].null_count() == 0 and joined["h100e_right"].null_count() == 0
    assert (joined["h100e"] - joined["h100e_right"]).abs().max() < 1.0


def test_eto_blank_shares_are_imputed_from_the_remainder_and_marked():
    provision = staged_mirror()["provision"]
    assert provision.height == 1300
    assert provision["imputed"].sum() == 246
    # Photomasks 2019 (country rows): JPN 53, USA 40, TWN 7 reported; CHN and KOR blank → 0 remainder.
    masks = provision.filter((pl.col("eto_input_id") == "N33") & (pl.col("provider_kind") == "country"))
    assert masks.filter(pl.col("imputed"))["share"].to_list() == [0.0, 0.0]
    # Photoresists 2019: four countries, all blank → 25 % each, all imputed.
    resists = provision.filter((pl.col("eto_input_id") == "N31") & (pl.col("provider_kind") == "country"))
    assert resists["share"].to_list() == [0.25] * 4 and resists["imputed"].all()
    groups = provision.group_by("eto_input_id", "year", "provider_kind").agg(pl.col("share").sum(),
                                                                             pl.col("imputed").any())
    assert (groups.filter(pl.col("imputed"))["share"] <= 1.0 + 1e-9).all()


def test_eto_share_totals_above_100_percent_are_flagged():
    checks = staged_mirror()["share_checks"].filter(pl.col("dataset") == "eto")
    over = checks.filter(pl.col("status") == "over_100")
    assert ("N84", 2019, "country") in set(over.select("source_id", "year", "level").rows())  # EDA: 102 %
    assert (over["reported_pct"] > 100.5).all()
    assert (checks.filter(pl.col("status") == "ok")["reported_pct"] <= 100.5).all()


def test_eto_country_rows_win_over_organisation_rows():
    tables = staged_mirror()
    shares = tables["eto_country_shares"]
    assert shares.filter(pl.col("eto_input_id") == "N22").select("iso3", "basis").sort("iso3").rows() == [
        ("JPN", "country rows"), ("NLD", "country rows")]
    assert set(shares["basis"]) == {"country rows"}  # every ETO input-year with shares has country rows


def test_country_vs_organisation_rule_on_a_small_example():
    from chokepoint.inputs.real.eto import _country_shares

    provision = pl.DataFrame({
        "provider_id": ["P1", "O1", "O2", "O3", "O4"], "provider_kind": ["country", "organization",
                                                                          "organization", "organization",
                                                                          "organization"],
        "iso3": ["USA", "USA", "USA", "JPN", None], "aggregate": [None, None, None, None, "OTHER"],
        "eto_input_id": ["X", "X", "Y", "Y", "Y"], "year": [2025] * 5, "share": [0.9, 0.9, 0.5, 0.3, 0.2],
        "imputed": [False, False, False, True, False], "file": ["f"] * 5, "line": [2, 3, 4, 5, 6]})
    shares = _country_shares(provision)
    # X has a country row: the organisation row (same market) is not added on top.
    assert shares.filter(pl.col("eto_input_id") == "X").select("iso3", "share").rows() == [("USA", 0.9)]
    y = {(r["iso3"], r["aggregate"]): r for r in shares.filter(pl.col("eto_input_id") == "Y").iter_rows(named=True)}
    assert y[("USA", None)]["share"] == 0.5 and y[("JPN", None)]["imputed"]
    assert y[(None, "OTHER")]["share"] == 0.2
    assert set(y[("USA", None)]["lines"]) == {4}


def test_mapping_coverage_report_lists_every_eto_input():
    taxonomy = staged_mirror()["input_taxonomy"]
    assert taxonomy.height == 129  # 126 inputs + 3 stages
    assert taxonomy.filter(pl.col("relation") == "unmapped").height == 0
    same = taxonomy.filter(pl.col("relation") == "same")
    assert dict(zip(same["eto_input_id"], same["input_id"]))["N20"] == "euv_lithography"
    edges = staged_mirror()["recipe_evidence"]
    known = set(zip(edges.filter(pl.col("in_reference_recipes"))["input_id"],
                    edges.filter(pl.col("in_reference_recipes"))["product_id"]))
    assert ("euv_lithography", "leading_edge_logic_fab") in known
    assert ("eda_software", "ai_accelerator_design") in known


def test_merge_on_the_mirror_keeps_known_facts_and_traces_every_figure():
    ref = reference_data()
    merged = merge_data({k: getattr(ref, k) for k in ("countries", "input_types", "recipes", "capacities")},
                        staged_mirror(), mappings().usgs_input_map)
    cap = merged.capacities
    euv = cap.filter(pl.col("input_id") == "euv_lithography").row(0, named=True)
    assert (euv["iso3"], euv["share"], euv["dataset"], euv["winner"]) == ("NLD", 1.0, "eto", "real")
    assert euv["origin"] == f"eto_chip_explorer/provision.csv:{euv['line']}"
    china = cap.filter((pl.col("input_id") == "rare_earth_mining") & (pl.col("iso3") == "CHN")).row(0, named=True)
    assert china["capacity"] == pytest.approx(240_000 / 353_320 * 350_000)
    assert china["year"] == 2023 and china["overrode"].startswith("reference 2023: 67.9 %")
    totals = cap.group_by("input_id").agg(pl.col("share").sum())
    assert (totals["share"] <= 1.005).all()
    sums = merged.capacity_lineage.group_by("input_id", "iso3").agg(pl.col("contribution").sum())
    joined = cap.join(sums, on=["input_id", "iso3"])
    assert joined.height == cap.height
    assert ((joined["share"] - joined["contribution"]).abs() < 1e-9).all()
    assert set(merged.countries["iso3"]) >= set(cap["iso3"])


# --- corruptions of real files ------------------------------------------------------------------

def _truncate(data: bytes) -> bytes:
    return data[: int(len(data) * 0.6)]


def _drop_column(data: bytes, column: str) -> bytes:
    import csv
    import io

    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    index = rows[0].index(column)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([r[:index] + r[index + 1:] for r in rows])
    return out.getvalue().encode("utf-8")


def _swap_delimiter(data: bytes) -> bytes:
    return data.replace(b",", b";")


def _bad_bytes(data: bytes) -> bytes:
    lines = data.split(b"\n")
    ending = b"\r" if lines[5].endswith(b"\r") else b""
    lines[5] = lines[5].removesuffix(b"\r") + b"\xff\xfe" + ending
    return b"\n".join(lines)


def _duplicate_header(data: bytes) -> bytes:
    first, _, rest = data.partition(b"\n")
    return first + b"\n" + first.removeprefix(b"\xef\xbb\xbf") + b"\n" + rest


CORRUPTIONS = {"truncated": _truncate, "delimiter swapped": _swap_delimiter, "non-UTF-8 bytes": _bad_bytes,
               "duplicated header": _duplicate_header}
FILES = {  # file → (dataset, a required column, an optional column)
    "eto_chip_explorer/provision.csv": ("eto", "share_provided", "source"),
    "epoch/gpu_clusters.csv": ("epoch_clusters", "H100 equivalents", "Note"),
    "usgs_mcs/mcs2024-raree_world.csv": ("usgs", "Country", "Reserves_notes"),
    "chip_supply_map/edges.csv": ("supply_map", "strength", "notes"),
    "epoch/ai_chip_counts/owners_csv_export/nvidia_owners_quarters.csv": ("epoch_chip_counts", "Start date",
                                                                          "Source / Link"),
}


def _outcome(root, file, dataset):
    """Stage ``dataset`` from ``root``: the InputError, or the tables (with the accounting checked)."""
    try:
        tables = stage(root, (dataset,))
    except InputError as exc:
        return exc
    accounting = tables["row_accounting"]
    assert accounting["adds_up"].all(), accounting.filter(~pl.col("adds_up"))
    return tables


@pytest.mark.parametrize("file", list(FILES))
@pytest.mark.parametrize("kind", list(CORRUPTIONS) + ["required column dropped", "optional column dropped"])
def test_corruption_gives_a_clear_error_or_quarantined_rows(tmp_path, file, kind):
    dataset, required, optional = FILES[file]
    root = mirror_copy(tmp_path)
    path = root / file
    data = path.read_bytes()
    if kind == "required column dropped":
        corrupted = _drop_column(data, required)
    elif kind == "optional column dropped":
        corrupted = _drop_column(data, optional)
    else:
        corrupted = CORRUPTIONS[kind](data)
    path.write_bytes(corrupted)
    # Never silently: the manifest check flags the changed file whatever happens below.
    status = verify_files(root, load_manifest()).filter(pl.col("path") == file)["status"][0]
    assert status == "modified"
    outcome = _outcome(root, file, dataset)
    name = file.rsplit("/", 1)[-1]
    if isinstance(outcome, InputError):
        assert str(outcome).startswith(name), outcome
        assert kind in ("delimiter swapped", "required column dropped") or (
            kind == "duplicated header" and dataset == "usgs"), f"{kind}: {outcome}"
        if kind == "required column dropped":
            assert f"field '{required}'" in str(outcome)
        return
    assert kind not in ("delimiter swapped", "required column dropped"), f"{kind} was not an error"
    quarantine = outcome["quarantine"].filter((pl.col("file") == file) & ~pl.col("blank"))
    reasons = " | ".join(quarantine["reason"].unique().to_list())
    if kind == "truncated":
        assert quarantine.height >= 1 and "truncated" in reasons, reasons
    elif kind == "non-UTF-8 bytes":
        # Line 6 was changed: the record holding it (quoted fields may span lines) is quarantined.
        starts = read_raw_csv(MIRROR / file, dataset=dataset, name=file)["_line"]
        assert quarantine.height == 1 and "not UTF-8 (byte 0xff)" in reasons
        assert quarantine["line"][0] == starts.filter(starts <= 6).max()
    elif kind == "duplicated header":
        assert quarantine.height == 1 and reasons == "repeated header row" and quarantine["line"][0] == 2
    elif kind == "optional column dropped":
        assert quarantine.height == 0
        accounting = outcome["row_accounting"].filter(pl.col("file") == file).row(0, named=True)
        assert accounting["staged"] == records_in(MIRROR / file) - accounting["blank"]


def test_negative_share_is_quarantined_and_not_imputed_over(tmp_path):
    root = mirror_copy(tmp_path)
    path = root / "eto_chip_explorer/provision.csv"
    text = path.read_text(encoding="utf-8")
    assert "NLD,P45,ArF immersion (DUV) lithography tools,N22,99.3,2025" in text
    path.write_text(text.replace("NLD,P45,ArF immersion (DUV) lithography tools,N22,99.3,2025",
                                 "NLD,P45,ArF immersion (DUV) lithography tools,N22,-99.3,2025"), encoding="utf-8")
    tables = stage(root, ("eto",))
    quarantine = tables["quarantine"].filter(pl.col("file") == "eto_chip_explorer/provision.csv")
    assert quarantine.select("line", "reason").rows() == [(568, "negative share -99.3 %")]
    shares = tables["eto_country_shares"].filter(pl.col("eto_input_id") == "N22")
    assert shares["iso3"].to_list() == ["JPN"]  # NLD is gone, not turned into 0 or 99.3 or imputed
    assert shares["share"][0] == pytest.approx(0.007) and not shares["imputed"][0]
    assert tables["row_accounting"].filter(pl.col("file") == "eto_chip_explorer/provision.csv")["adds_up"][0]


@pytest.mark.parametrize("value, reason", [("abc", "share 'abc' is not a number"), ("nan", "share is NaN"),
                                           ("150", "share 150 % is above 100 %")])
def test_bad_share_values_are_quarantined(tmp_path, value, reason):
    root = mirror_copy(tmp_path)
    path = root / "eto_chip_explorer/provision.csv"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("NLD,P45,EUV lithography tools,N20,100.0,2025",
                                 f"NLD,P45,EUV lithography tools,N20,{value},2025"), encoding="utf-8")
    tables = stage(root, ("eto",))
    assert tables["quarantine"].filter(pl.col("file") == "eto_chip_explorer/provision.csv")["reason"].to_list() \
        == [reason]


def test_duplicate_provision_rows_keep_the_first(tmp_path):
    root = mirror_copy(tmp_path)
    path = root / "eto_chip_explorer/provision.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    euv = next(i for i, line in enumerate(lines) if line.startswith("NLD,P45,EUV lithography tools,N20"))
    conflicting = lines[euv].replace(",100.0,", ",90.0,")
    path.write_text("".join(lines[:euv + 1] + [lines[euv], conflicting] + lines[euv + 1:]), encoding="utf-8")
    tables = stage(root, ("eto",))
    reasons = tables["quarantine"].filter(pl.col("file") == "eto_chip_explorer/provision.csv").sort("line")
    assert reasons["line"].to_list() == [euv + 2, euv + 3]
    assert reasons["reason"][0] == f"duplicate of line {euv + 1} (same provider, input and year)"
    assert reasons["reason"][1].startswith(f"conflicting duplicate of line {euv + 1}")
    assert tables["eto_country_shares"].filter(pl.col("eto_input_id") == "N20")["share"].to_list() == [1.0]


# --- mapping tables -----------------------------------------------------------------------------

@pytest.mark.parametrize("table, old, new, message", [
    ("eto_input_map", "N20,EUV lithography tools,euv_lithography,same", "N20,EUV lithography tools,euv_litho,same",
     "eto_input_map.csv, line 19, field 'input_id': unknown taxonomy input 'euv_litho'"),
    ("eto_input_map", "N22,ArF immersion (DUV) lithography tools,duv_immersion_lithography,same",
     "N22,ArF immersion (DUV) lithography tools,euv_lithography,same",
     "field 'input_id': two ETO inputs are the 'same' as 'euv_lithography'"),
    ("eto_input_map", "N1,Advanced CPUs,,none", "N1,Advanced CPUs,core_ip,none",
     "line 3, field 'input_id': relation 'none' takes no input_id"),
    ("eto_input_map", "N1,Advanced CPUs,,none", "N1,Advanced CPUs,,maybe", "field 'relation': 'maybe' is not one of"),
    ("country_aliases", "Burma,MMR,,", "Burma,XXX,,", "country_aliases.csv, line 2, field 'iso3'"),
    ("country_aliases", "Russia,RUS,,", "Burma,RUS,,", "name 'Burma' is listed twice (first on line 2)"),
    ("firm_aliases", "Hua Hong,any,hua-hong", "Hua Hong,any,Hua Hong", "field 'firm_id': 'Hua Hong' is not a firm id"),
    ("usgs_input_map", "tungsten,production,tungsten", "tungsten,production,wolfram",
     "usgs_input_map.csv, line 5, field 'input_id': unknown taxonomy input 'wolfram'"),
])
def test_mapping_table_errors_name_file_line_and_field(data_copy, table, old, new, message):
    from chokepoint.inputs.real.stage import MAPPING_FILES, parse_mappings
    from chokepoint.inputs.reference import load_reference
    from chokepoint.inputs.tables import read_csv_text

    path = data_copy / "reference" / f"{table}.csv"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    raw = {name: read_csv_text(data_copy / "reference" / f"{name}.csv") for name in MAPPING_FILES}
    with pytest.raises(InputError) as err:
        parse_mappings(raw, load_reference(REFERENCE).input_types["input_id"])
    assert message in str(err.value)
