"""Firm reference files (firm_capacity, qualifications, short_run, compute_sourcing) and the tables built
from them: producers summing to country capacities, facilities, qualifications, compute sourcing, roles."""

from __future__ import annotations

import datetime

import polars as pl
import pytest

from chokepoint.errors import InputError
from chokepoint.inputs.firm_reference import (ACCELERATORS, DESIGN, FIRM_CAPACITY_SCHEMA, WORLD, build_compute_sourcing,
                                              build_facilities, build_producers, build_qualifications, firm_roles,
                                              parse_compute_sourcing, parse_firm_capacity, parse_firm_reference,
                                              parse_qualifications, parse_short_run)
from chokepoint.inputs.real.merge import merge_data
from chokepoint.inputs.real.stage import USGS_MAP_COLUMNS, stage_real
from chokepoint.inputs.tables import read_csv_text, typed
from tests.conftest import REFERENCE
from tests.support.real_data import MIRROR, mappings, needs_mirror, read_raw, reference_data

FIRM_HEADER = "input_id,iso3,firm_id,name,share_of_country,share_low,share_high,year,source\n"


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return read_csv_text(path)


def reference_firm_capacity():
    ref = reference_data()
    return parse_firm_capacity(read_csv_text(REFERENCE / "firm_capacity.csv"), ref.input_types["input_id"],
                               ref.countries["iso3"], ref.capacities.select("input_id", "iso3").rows())


def firm_capacity(tmp_path, rows: str):
    ref = reference_data()
    return parse_firm_capacity(write(tmp_path, "firm_capacity.csv", FIRM_HEADER + rows), ref.input_types["input_id"],
                               ref.countries["iso3"], ref.capacities.select("input_id", "iso3").rows())


# --- readers: bad input names file, line and field ----------------------------------------------

@pytest.mark.parametrize("rows,line,field,message", [
    ("dram_hbm,KOR,sk-hynix,SK hynix,0.6,0.5,0.7,2024,s\ndram_hbm,KOR,samsung-memory,Samsung,0.5,0.4,0.6,2024,s\n",
     3, "share_of_country", "shares of 'dram_hbm' in KOR sum to 1.1000 (> 1)"),
    ("dram_hbm,KOR,sk-hynix,SK hynix,0.6,0.7,0.8,2024,s\n", 2, "share_low", "share_low 0.7 is above share_of_country"),
    ("dram_hbm,KOR,sk-hynix,SK hynix,1.2,0.5,1.0,2024,s\n", 2, "share_of_country", "above the allowed maximum 1"),
    ("dram_hbm,XYZ,sk-hynix,SK hynix,0.6,0.5,0.7,2024,s\n", 2, "iso3", "unknown country 'XYZ'"),
    ("dram_hbm,NLD,sk-hynix,SK hynix,0.6,0.5,0.7,2024,s\n", 2, "iso3", "NLD has no capacity of 'dram_hbm'"),
    ("dram_hbm,KOR,SK Hynix,SK hynix,0.6,0.5,0.7,2024,s\n", 2, "firm_id", "is not a firm id"),
    ("dram_hbm,KOR,sk-hynix,SK hynix,0.6,0.5,0.7,2024,\n", 2, "source", "value is empty"),
])
def test_bad_firm_capacity_rows_name_file_line_and_field(tmp_path, rows, line, field, message):
    with pytest.raises(InputError) as err:
        firm_capacity(tmp_path, rows)
    assert (err.value.row, err.value.field) == (line, field)
    assert message in err.value.message and err.value.file.endswith("firm_capacity.csv")


def test_short_run_needs_one_row_per_input_type_and_whole_ranges(tmp_path):
    ids = reference_data().input_types["input_id"].to_list()
    header = "input_id,qualification,utilisation,utilisation_low,utilisation_high,source\n"
    rows = "".join(f"{k},open,0.5,0.4,0.6,s\n" for k in ids[1:])
    with pytest.raises(InputError, match=f"no row for input type '{ids[0]}'") as err:
        parse_short_run(write(tmp_path, "short_run.csv", header + rows), ids)
    assert err.value.field == "input_id"
    rows = f"{ids[0]},open,0.5,,,s\n" + rows
    with pytest.raises(InputError, match="give utilisation with its low and high") as err:
        parse_short_run(write(tmp_path, "short_run.csv", header + rows), ids)
    assert (err.value.row, err.value.field) == (2, "utilisation")
    rows = rows.replace(f"{ids[0]},open,0.5,,,", f"{ids[0]},open,,,,").replace(f"{ids[1]},open,", f"{ids[1]},maybe,")
    with pytest.raises(InputError) as err:
        parse_short_run(write(tmp_path, "short_run.csv", header + rows), ids)
    assert (err.value.row, err.value.field) == (3, "qualification")


def test_short_run_lead_times_are_optional_whole_and_ordered(tmp_path):
    """Without the lead-time columns no input has one; with them, a lead time comes with its low,
    high and source, and low ≤ months ≤ high (file, line and field named)."""
    ids = reference_data().input_types["input_id"].to_list()
    header = "input_id,qualification,utilisation,utilisation_low,utilisation_high,source"
    plain = parse_short_run(write(tmp_path, "short_run.csv", header + "\n" + "".join(
        f"{k},open,0.5,0.4,0.6,s\n" for k in ids)), ids)
    assert plain["lead_time_months"].null_count() == plain.height
    header += ",lead_time_months,lead_time_low,lead_time_high,lead_time_source\n"
    rest = "".join(f"{k},open,0.5,0.4,0.6,s,,,,\n" for k in ids[1:])
    good = parse_short_run(write(tmp_path, "short_run.csv", header + f"{ids[0]},listed,0.5,0.4,0.6,s,18,12,24,e\n"
                                 + rest), ids)
    assert good.row(0, named=True)["lead_time_months"] == 18.0
    for first, field, message in ((f"{ids[0]},listed,0.5,0.4,0.6,s,18,,24,e\n", "lead_time_months",
                                   "give lead_time_months with its low, high and source"),
                                  (f"{ids[0]},listed,0.5,0.4,0.6,s,18,20,24,e\n", "lead_time_low", "is above"),
                                  (f"{ids[0]},listed,0.5,0.4,0.6,s,-3,-4,24,e\n", "lead_time_months", "")):
        with pytest.raises(InputError) as err:
            parse_short_run(write(tmp_path, "short_run.csv", header + first + rest), ids)
        assert (err.value.row, err.value.field) == (2, field) and message in err.value.message
        assert err.value.file.endswith("short_run.csv")


def test_bad_qualification_and_sourcing_rows_name_line_and_field(tmp_path):
    ids = reference_data().input_types["input_id"].to_list()
    text = ("buyer_firm_id,input_id,supplier_firm_id,basis,evidence,source\n"
            "nvidia,dram_hbm,sk-hynix,supplier_of_record,e,s\nnvidia,dram_hbm,micron,rumoured,e,s\n")
    with pytest.raises(InputError) as err:
        parse_qualifications(write(tmp_path, "qualifications.csv", text), ids)
    assert (err.value.row, err.value.field) == (3, "basis")
    text = ("iso3,input_id,supplier_firm_id,h100e,h100e_low,h100e_high,year,source\n"
            "CHN,ai_accelerators,huawei,64000,70000,120000,2024,s\n")
    with pytest.raises(InputError) as err:
        parse_compute_sourcing(write(tmp_path, "compute_sourcing.csv", text), reference_data().countries["iso3"])
    assert (err.value.row, err.value.field) == (2, "h100e_low")


def test_the_embedded_reference_files_parse():
    ref = reference_data()
    fc = reference_firm_capacity()
    assert fc.height >= 40 and set(fc["input_id"]) >= {"leading_edge_logic_fab", "dram_hbm", "advanced_packaging",
                                                       ACCELERATORS, DESIGN, "photoresists", "euv_lithography",
                                                       "duv_immersion_lithography", "eda_software"}
    assert (fc["source"].str.len_chars() > 20).all()
    rules = parse_short_run(read_csv_text(REFERENCE / "short_run.csv"), ref.input_types["input_id"])
    assert rules.height == ref.input_types.height
    assert rules.filter(pl.col("input_id") == "datacenter_compute")["utilisation"].is_null().all()
    kinds = dict(zip(rules["input_id"], rules["qualification"]))
    assert (kinds["photoresists"], kinds["euv_lithography"], kinds["ai_accelerators"], kinds["dram_hbm"],
            kinds["rare_earth_mining"]) == ("process", "installed_base", "design", "listed", "open")
    q = parse_qualifications(read_csv_text(REFERENCE / "qualifications.csv"), ref.input_types["input_id"])
    assert {("nvidia", "tsmc"), ("huawei", "smic")} <= set(
        q.filter(pl.col("input_id") == "leading_edge_logic_fab").select("buyer_firm_id", "supplier_firm_id").rows())
    assert parse_compute_sourcing(read_csv_text(REFERENCE / "compute_sourcing.csv"), ref.countries["iso3"]).height >= 5


# --- producers: country totals equal the sum of their firms -------------------------------------

def assert_producers_sum_to_capacities(producers: pl.DataFrame, capacities: pl.DataFrame):
    sums = producers.group_by("input_id", "iso3").agg(pl.col("capacity").sum())
    joined = capacities.select("input_id", "iso3", pl.col("capacity").alias("country")).join(
        sums, on=["input_id", "iso3"], how="full", coalesce=True)
    assert joined["capacity"].null_count() == 0 and joined["country"].null_count() == 0
    relative = ((joined["capacity"] - joined["country"]).abs() / joined["country"])
    assert relative.max() <= 1e-9
    assert producers["producer_id"].n_unique() == producers.height
    assert producers["share_of_country"].is_between(0, 1).all()


def test_producers_on_reference_data_sum_to_country_capacities_with_residuals():
    capacities = reference_data().capacities
    fc = reference_firm_capacity()
    producers, unused = build_producers(capacities, fc, None)
    assert unused.height == 0
    assert_producers_sum_to_capacities(producers, capacities)
    assert set(producers["level"]) == {"country", "firm"}  # no facilities on reference data
    taiwan = producers.filter((pl.col("input_id") == "leading_edge_logic_fab") & (pl.col("iso3") == "TWN"))
    assert taiwan.select("producer_id", "basis").rows() == [("TWN:leading_edge_logic_fab:tsmc", "firm_share")]
    china = producers.filter((pl.col("input_id") == "advanced_packaging") & (pl.col("iso3") == "CHN")).sort("producer_id")
    assert china["producer_id"].to_list() == ["CHN:advanced_packaging", "CHN:advanced_packaging:jcet",
                                              "CHN:advanced_packaging:tongfu"]
    residual = china.row(0, named=True)
    assert (residual["basis"], residual["firm_id"]) == ("residual", None)
    assert residual["share_of_country"] == pytest.approx(0.2)
    untouched = producers.filter((pl.col("input_id") == "gallium") & (pl.col("iso3") == "CHN")).row(0, named=True)
    assert (untouched["level"], untouched["basis"], untouched["share_of_country"]) == ("country", "country", 1.0)
    vendors = set(producers.filter((pl.col("input_id") == ACCELERATORS) & pl.col("firm_id").is_not_null())["firm_id"])
    designers = set(producers.filter((pl.col("input_id") == DESIGN) & pl.col("firm_id").is_not_null())["firm_id"])
    assert vendors and vendors <= designers


def campus(facility_id, firm, iso3, operating=True):
    return {"facility_id": facility_id, "name": facility_id, "operator_as_written": firm, "operator_firm_id": firm,
            "operator_method": "name", "operator_note": None, "iso3": iso3,
            "status": "operating" if operating else "pilot_line",
            "status_group": "operating" if operating else "commissioning_or_pilot", "operating": operating,
            "operating_note": None if operating else "not current capacity: pilot", "as_of": datetime.date(2026, 8, 25),
            "longitude": 0.0, "latitude": 0.0, "coordinate_precision": None, "dataset": "ai_chip_fab_atlas",
            "file": "ai_chip_fab_atlas/atlas-campuses.csv", "line": 2}


def test_a_single_operating_campus_carries_its_firm_and_several_leave_it_at_firm_level():
    capacities = reference_data().capacities
    fc = reference_firm_capacity()
    campuses = pl.DataFrame([campus("A1", "tsmc", "TWN"), campus("A2", "tsmc", "TWN"),
                             campus("A3", "tsmc", "TWN", operating=False), campus("A4", "tsmc", "JPN"),
                             campus("A5", "intel-foundry", "USA")])
    facilities = build_facilities(campuses, fc, capacities)
    by_id = {r["facility_id"]: r for r in facilities.iter_rows(named=True)}
    # Two operating TSMC campuses in Taiwan and no public per-campus figure: neither gets a share.
    assert by_id["A1"]["capacity_share"] is None and by_id["A2"]["capacity_share"] is None
    assert by_id["A1"]["capacity_basis"].startswith("firm_level")
    assert by_id["A3"]["capacity_share"] is None and by_id["A3"]["input_id"] == "leading_edge_logic_fab"
    assert by_id["A3"]["capacity_basis"].startswith("excluded from current capacity")
    assert by_id["A4"]["input_id"] is None and "no share of leading_edge_logic_fab in JPN" in by_id["A4"]["capacity_basis"]
    assert by_id["A5"]["capacity_share"] == 1.0
    usa_capacity = capacities.filter((pl.col("input_id") == "leading_edge_logic_fab") & (pl.col("iso3") == "USA"))
    assert by_id["A5"]["capacity"] == pytest.approx(usa_capacity["capacity"][0] * 0.6)
    producers, _ = build_producers(capacities, fc, facilities)
    assert_producers_sum_to_capacities(producers, capacities)
    le = producers.filter(pl.col("input_id") == "leading_edge_logic_fab")
    assert set(le.filter(pl.col("iso3") == "TWN")["producer_id"]) == {"TWN:leading_edge_logic_fab:tsmc"}
    usa = le.filter(pl.col("iso3") == "USA").sort("producer_id")
    assert usa.select("producer_id", "level").rows() == [
        ("USA:leading_edge_logic_fab:intel-foundry:A5", "facility"), ("USA:leading_edge_logic_fab:tsmc", "firm")]
    assert usa["share_of_country"].to_list() == pytest.approx([0.6, 0.4])


@needs_mirror
def test_producers_on_real_data_sum_to_country_capacities():
    ref = reference_data()
    raw_ref = {n: read_csv_text(REFERENCE / f"{n}.csv") for n in ("firm_capacity", "qualifications",
                                                                    "compute_sourcing")}
    staged = stage_real(read_raw(MIRROR), mappings(), ref.recipes,
                        firm_reference=parse_firm_reference(raw_ref, ref.input_types, ref.countries),
                        input_types=ref.input_types)
    usgs_map = typed(read_csv_text(REFERENCE / "usgs_input_map.csv"), USGS_MAP_COLUMNS)
    real = {name: staged[name] for name in ("input_taxonomy", "eto_country_shares", "provision", "mineral_production",
                                            "compute_clusters", "recipe_evidence")}
    merged = merge_data({"countries": ref.countries, "input_types": ref.input_types, "recipes": ref.recipes,
                         "capacities": ref.capacities}, real, usgs_map)
    fc = reference_firm_capacity()
    facilities = build_facilities(staged["fab_campuses"], fc, merged.capacities)
    producers, unused = build_producers(merged.capacities, fc, facilities)
    assert_producers_sum_to_capacities(producers, merged.capacities)
    assert unused.height == 0
    # TSMC runs several operating campuses in Taiwan: its capacity stays at firm level there;
    # a firm's only operating campus in a country carries that firm's capacity (facility level).
    taiwan = producers.filter((pl.col("input_id") == "leading_edge_logic_fab") & (pl.col("iso3") == "TWN"))
    assert taiwan.select("producer_id", "level").rows() == [("TWN:leading_edge_logic_fab:tsmc", "firm")]
    single = facilities.filter(pl.col("capacity_share").is_not_null())
    assert single.height >= 1 and (single["capacity_share"] == 1.0).all()
    assert producers.filter(pl.col("level") == "facility").height == single.height
    assert set(facilities.filter(pl.col("capacity_share").is_not_null())["operating"]) == {True}
    quals = build_qualifications(parse_qualifications(read_csv_text(REFERENCE / "qualifications.csv"),
                                                      ref.input_types["input_id"]), staged["accelerators"])
    from_epoch = quals.filter(pl.col("origin") == "epoch_hardware")
    assert from_epoch.height > 0 and from_epoch.select("dataset", "file", "line").null_count().sum_horizontal()[0] == 0
    huawei_tsmc = quals.filter((pl.col("buyer_firm_id") == "huawei") & (pl.col("supplier_firm_id") == "tsmc"))
    assert huawei_tsmc["basis"].to_list() == ["stockpile"]  # the curated basis wins over the Epoch foundry column
    sourcing = build_compute_sourcing(parse_compute_sourcing(read_csv_text(REFERENCE / "compute_sourcing.csv"),
                                                             ref.countries["iso3"]), staged["chip_counts"])
    china = sourcing.filter(pl.col("iso3") == "CHN")
    assert set(china["supplier_firm_id"]) >= {"nvidia", "huawei"}
    assert china.filter(pl.col("supplier_firm_id") == "nvidia")["dataset"].to_list() == ["epoch_chip_counts"]
    assert sourcing.group_by("iso3", "year").agg(pl.col("share").sum())["share"].to_list() == pytest.approx([1.0, 1.0])


# --- qualifications, sourcing, roles --------------------------------------------------------------

def accelerators(rows):
    return pl.DataFrame(rows, schema={"name": pl.String, "designer_firm_id": pl.String,
                                      "foundry_firm_ids": pl.List(pl.String), "process_nm": pl.Float64,
                                      "release_date": pl.Date, "year": pl.Int64, "dataset": pl.String,
                                      "file": pl.String, "line": pl.Int64}, orient="row")


def test_epoch_foundries_at_7nm_or_below_become_design_of_record_rows():
    ref = reference_data()
    reference = parse_qualifications(read_csv_text(REFERENCE / "qualifications.csv"), ref.input_types["input_id"])
    hw = accelerators([
        ("H100", "nvidia", ["tsmc"], 4.0, datetime.date(2022, 3, 1), 2022, "epoch_hardware", "epoch/ml_hardware.csv", 7),
        ("A10", "nvidia", ["samsung-foundry"], 8.0, datetime.date(2021, 4, 1), 2021, "epoch_hardware",
         "epoch/ml_hardware.csv", 8),
        ("MTIA v2", "meta", ["tsmc"], 5.0, datetime.date(2024, 4, 1), 2024, "epoch_hardware", "epoch/ml_hardware.csv",
         9)])
    q = build_qualifications(reference, hw)
    meta = q.filter(pl.col("buyer_firm_id") == "meta").row(0, named=True)
    assert (meta["supplier_firm_id"], meta["basis"], meta["origin"], meta["line"]) == ("tsmc", "design_of_record",
                                                                                     "epoch_hardware", 9)
    assert q.filter((pl.col("buyer_firm_id") == "nvidia") & (pl.col("supplier_firm_id") == "samsung-foundry")).height == 0
    nvidia = q.filter((pl.col("buyer_firm_id") == "nvidia") & (pl.col("input_id") == "leading_edge_logic_fab")).row(
        0, named=True)
    assert nvidia["origin"] == "reference" and "Epoch AI ML hardware: accelerators designed" in nvidia["evidence"]
    assert q.select("buyer_firm_id", "input_id", "supplier_firm_id").n_unique() == q.height


def test_compute_sourcing_takes_epoch_vendors_by_owner_and_keeps_reference_vendors():
    reference = pl.DataFrame({"iso3": ["CHN", "WORLD"], "input_id": [ACCELERATORS] * 2,
                              "supplier_firm_id": ["huawei", "nvidia"], "h100e": [60.0, 1.0],
                              "h100e_low": [40.0, 1.0], "h100e_high": [100.0, 1.0], "year": [2024, 2024],
                              "source": ["s", "s"], "file": ["reference/compute_sourcing.csv"] * 2, "line": [2, 3]})
    quarters = []
    for q, (start, end) in enumerate([("2024-01-01", "2024-03-31"), ("2024-04-01", "2024-06-30"),
                                      ("2024-07-01", "2024-09-30"), ("2024-10-01", "2024-12-31")]):
        base = {"designer_firm_id": "nvidia", "series": "quarter", "calendar": "calendar", "by_chip": True,
                "start_date": datetime.date.fromisoformat(start), "end_date": datetime.date.fromisoformat(end),
                "dataset": "epoch_chip_counts"}
        quarters.append({**base, "owner_iso3": None, "h100e": 100.0, "h100e_p05": 80.0, "h100e_p95": 120.0,
                         "file": "epoch/ai_chip_counts/csv_export/nvidia_calendar_quarter_chip_timelines.csv"})
        quarters.append({**base, "owner_iso3": "CHN", "by_chip": False, "h100e": 10.0, "h100e_p05": 8.0,
                         "h100e_p95": 12.0, "file": "epoch/ai_chip_counts/owners_csv_export/nvidia_owners_quarters.csv"})
    sourcing = build_compute_sourcing(reference, pl.DataFrame(quarters))
    rows = {(r["iso3"], r["supplier_firm_id"]): r for r in sourcing.iter_rows(named=True)}
    assert (rows[("WORLD", "nvidia")]["h100e"], rows[("WORLD", "nvidia")]["h100e_low"],
            rows[("WORLD", "nvidia")]["h100e_high"]) == (360.0, 272.0, 448.0)
    assert rows[("WORLD", "nvidia")]["dataset"] == "epoch_chip_counts"  # replaces the reference row
    assert rows[("CHN", "nvidia")]["h100e"] == 40.0 and rows[("CHN", "huawei")]["dataset"] == "reference"
    assert rows[("CHN", "nvidia")]["share"] == pytest.approx(40 / 100) and rows[(WORLD, "nvidia")]["share"] == 1.0


def test_roles_come_from_every_table_that_names_a_firm():
    ref = reference_data()
    fc = reference_firm_capacity()
    roles = firm_roles(ref.input_types, firm_capacity=fc,
                       supply_map_nodes=pl.DataFrame({"firm_id": ["aws"], "type": ["hyperscaler"]}),
                       campuses=pl.DataFrame({"operator_firm_id": ["rapidus"]}))
    got = dict(zip(roles["firm_id"].to_list(), roles["roles"].to_list()))
    assert {"foundry", "packager"} <= set(got["tsmc"]) and "memory" in got["sk-hynix"] and got["asml"] == ["equipment"]
    assert got["synopsys"] == ["eda_ip"] and "material" in got["jsr"] and got["rapidus"] == ["foundry"]
    assert set(got["aws"]) == {"cloud", "designer"}


def test_firm_capacity_schema_is_stable():
    assert list(reference_firm_capacity().schema.items()) == list(FIRM_CAPACITY_SCHEMA.items())


# --- compute owners: who owns each country's counted clusters -----------------------------------

def test_compute_owners_split_shared_clusters_evenly_and_count_only_clusters_in_capacity():
    from chokepoint.inputs.firm_reference import COMPUTE_OWNER_SCHEMA, build_compute_owners

    clusters = pl.DataFrame({
        "iso3": ["USA", "USA", "USA", "USA", "JPN", None],
        "owner_firm_ids": [["lab"], ["lab", "cloud"], [], ["lab"], ["cloud"], ["lab"]],
        "h100e": [60.0, 20.0, 20.0, 500.0, 8.0, 9.0],
        "in_capacity": [True, True, True, False, True, True],
        "dataset": ["epoch_clusters"] * 6, "line": [2, 3, 4, 5, 6, 7]})
    owners = build_compute_owners(clusters)
    assert dict(owners.schema) == COMPUTE_OWNER_SCHEMA
    rows = {(r["iso3"], r["firm_id"]): r for r in owners.iter_rows(named=True)}
    assert set(rows) == {("USA", "lab"), ("USA", "cloud"), ("JPN", "cloud")}
    # USA counts 60 + 20 + 20 (the out-of-capacity 500 does not count; the unowned 20 does).
    assert rows[("USA", "lab")]["h100e"] == 70.0 and rows[("USA", "lab")]["share_of_country"] == pytest.approx(0.7)
    assert rows[("USA", "cloud")]["share_of_country"] == pytest.approx(0.1)
    assert rows[("USA", "lab")]["lines"] == [2, 3] and rows[("USA", "lab")]["clusters"] == 2
    assert rows[("JPN", "cloud")]["share_of_country"] == pytest.approx(1.0)
    assert build_compute_owners(clusters.head(0)).height == 0
