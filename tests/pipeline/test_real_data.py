"""The pipeline on real data: warehouse tables with provenance, checks, tracing, both data modes.

The full run is the real-data run shared by the whole test run (tests/conftest.py:
``chokepoint fetch`` from a local server into a cache, then ``chokepoint run``).
"""

from __future__ import annotations

import dagster as dg
import duckdb
import numpy as np
import polars as pl
import pytest

from chokepoint.inputs.real.stage import STAGED_TABLES
from graph.network import PRODUCER
from pipelines.assets.staging import quarantine_within_limit
from pipelines.definitions import all_checks
from pipelines.resources import ChokepointSettings
from tests.conftest import DATA, clean_env, materialize, run_cli
from tests.support.real_data import mirror_copy, needs_mirror

pytestmark = needs_mirror


def sql(database, query, params=None):
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(query, params or []).pl()


def test_real_run_succeeds_with_every_check_passed(real_run):
    assert real_run.returncode == 0, real_run.stderr[-2000:]
    result, database = real_run.result, real_run.database
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == len(all_checks)
    assert [(e.check_name, e.metadata) for e in evaluations if not e.passed] == []
    mode = sql(database, "SELECT * FROM staging.data_mode").row(0, named=True)
    assert (mode["mode"], mode["source"], mode["files"], mode["files_ok"]) == ("real", "cache", 86, 86)


def test_warehouse_holds_every_staged_table_with_provenance(real_run):
    database = real_run.database
    tables = set(sql(database, "SELECT table_name FROM information_schema.tables "
                               "WHERE table_schema = 'staging'")["table_name"])
    assert set(STAGED_TABLES) <= tables
    assert "unresolved_names" in tables  # empty, but there to query
    for table in ("provision", "mineral_production", "compute_clusters", "accelerators", "chip_counts",
                  "firm_edges", "eto_sequence", "input_taxonomy"):
        frame = sql(database, f"SELECT dataset, file, line FROM staging.{table}")
        assert frame.height > 0 and frame.null_count().sum_horizontal()[0] == 0, table
    for table in ("provision", "mineral_production"):
        assert sql(database, f"SELECT count(*) AS n FROM staging.{table} WHERE year IS NULL")["n"][0] == 0
    accounting = sql(database, "SELECT * FROM staging.row_accounting")
    assert accounting.height == 86 and accounting["adds_up"].all()
    assert (accounting["rows_read"] == accounting["staged"] + accounting["quarantined"]).all()


def test_known_facts_in_the_warehouse(real_run):
    database = real_run.database
    euv = sql(database, "SELECT * FROM staging.capacities WHERE input_id = 'euv_lithography'")
    assert euv.select("iso3", "share", "dataset", "winner").rows() == [("NLD", 1.0, "eto", "real")]
    china = sql(database, "SELECT share, year, file FROM staging.capacities "
                          "WHERE input_id = 'rare_earth_mining' AND iso3 = 'CHN'").row(0, named=True)
    assert china["share"] == pytest.approx(240_000 / 353_320) and china["year"] == 2023
    assert china["file"] == "usgs_mcs/mcs2024-raree_world.csv"
    chokepoints = sql(database, "SELECT DISTINCT input_id, iso3 FROM analytics.chokepoints WHERE entity_type = 'node'")
    assert ("euv_lithography", "NLD") in set(chokepoints.rows())


def test_every_real_figure_traces_back_to_its_source_row(real_run):
    """Recompute each real capacity share from the raw source rows it names (independently of the stagers)."""
    database = real_run.database
    lineage = sql(database, "SELECT l.*, c.dataset AS winner_dataset, c.rescaled FROM staging.capacity_lineage l "
                            "JOIN staging.capacities c USING (input_id, iso3) WHERE c.winner = 'real'")
    assert lineage.height > 0
    eto = sql(database, "SELECT _file AS file, _line AS line, share_provided FROM staging.src_eto_provision")
    clusters = sql(database, 'SELECT _file AS file, _line AS line, "H100 equivalents" AS h FROM '
                             "staging.src_epoch_gpu_clusters")
    usgs = sql(database, "SELECT _file AS file, _line AS line, Country FROM staging.src_usgs_world")
    checked = 0
    for row in lineage.filter((pl.col("dataset") == "eto") & ~pl.col("rescaled")).iter_rows(named=True):
        raw = eto.filter((pl.col("file") == row["file"]) & (pl.col("line") == row["line"]))
        assert raw.height == 1
        assert float(raw["share_provided"][0]) / 100 == pytest.approx(row["contribution"])
        checked += 1
    epoch = lineage.filter(pl.col("dataset") == "epoch_clusters").join(clusters, on=["file", "line"])
    assert epoch.height == lineage.filter(pl.col("dataset") == "epoch_clusters").height
    h = epoch["h"].cast(pl.Float64)
    assert ((epoch["contribution"] - h / h.sum()).abs() < 1e-12).all()
    checked += epoch.height
    for row in lineage.filter(pl.col("dataset") == "usgs").iter_rows(named=True):
        raw = usgs.filter((pl.col("file") == row["file"]) & (pl.col("line") == row["line"]))
        assert raw.height == 1 and raw["Country"][0]
        checked += 1
    assert checked == lineage.filter(~(pl.col("rescaled") & (pl.col("dataset") == "eto"))).height


def test_checksum_mismatch_stops_the_run_with_one_clear_error(tmp_path):
    root = mirror_copy(tmp_path)
    path = root / "usgs_mcs/mcs2024-raree_world.csv"
    path.write_bytes(path.read_bytes()[:1500])
    result, _ = materialize(tmp_path, selection=dg.AssetSelection.groups("sources"),
                            shared_data_dir=str(root), data_mode="real")
    failures = [e for e in result.all_events if e.is_step_failure]
    assert [f.step_key for f in failures] == ["usgs_sources"]
    error = failures[0].step_failure_data.error
    while error.cause is not None:
        error = error.cause
    assert "mcs2024-raree_world.csv: sha256 does not match the manifest" in error.message
    assert "4,085 bytes expected, 1,500 found" in error.message


def test_quarantine_above_the_limit_fails_the_check(tmp_path):
    root = mirror_copy(tmp_path)
    path = root / "eto_chip_explorer/provision.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    # Every 20th row loses a field: 5 % of the file's rows, above the 2 % limit.
    damaged = [i + 1 for i in range(1, len(lines)) if i % 20 == 0]  # file lines
    lines = [line if i == 0 or i % 20 else line.replace(",", "", 1) for i, line in enumerate(lines)]
    path.write_text("".join(lines), encoding="utf-8")
    result, database = materialize(tmp_path, selection=dg.AssetSelection.groups("sources", "staging"),
                                   shared_data_dir=str(root), data_mode="real", verify_checksums=False)
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["rows_add_up_per_file"].passed
    limit = checks["quarantine_within_limit"]
    assert not limit.passed and limit.metadata["files_over_limit"].value == 1
    quarantine = sql(database, "SELECT line, reason FROM staging.quarantine WHERE file LIKE '%provision.csv'")
    assert sorted(quarantine["line"]) == damaged
    assert quarantine["reason"].str.starts_with("row has 6 fields, the header has 7").all()
    # The limit is a setting: the same tables pass at 10 %.
    accounting = sql(database, "SELECT * FROM staging.row_accounting")
    everything = sql(database, "SELECT * FROM staging.quarantine")
    loose = ChokepointSettings(data_dir=str(DATA), max_quarantine_fraction=0.10)
    assert quarantine_within_limit(row_accounting=accounting, quarantine=everything, settings=loose).passed


def test_cli_real_mode_without_real_data_is_one_clear_error(tmp_path):
    env = clean_env(DAGSTER_HOME=tmp_path / "dagster", CHOKEPOINT_SHARED_DATA=tmp_path / "no-mirror",
                    CHOKEPOINT_CACHE=tmp_path / "no-cache")
    warehouse = tmp_path / "w.duckdb"
    forced = run_cli("run", "--data-mode", "real", "--warehouse", warehouse, env=env)
    assert forced.returncode == 1 and "Traceback" not in forced.stderr
    errors = [line for line in forced.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "data mode 'real' but no complete real-data copy" in errors[0]
    assert "no-mirror" in errors[0] and "published warehouse left unchanged" in errors[0]
    assert not warehouse.exists()


# ------------------------------------------------------------ short-run validity (docs/design.md#9-horizons)
#: What the literature calls the chokepoints of AI chips because production cannot move within
#: a year or two, and the least mean short-run removal loss over the candidate defectors the
#: model must show for each. Sources:
#: - TSMC makes nearly all leading-edge AI accelerators, each qualified on its process:
#:   CSET, "The Semiconductor Supply Chain" (Khan, Mann, Peterson, 2021), and SIA/BCG,
#:   "Strengthening the Global Semiconductor Supply Chain" (2021; 2024 update).
#: - Advanced packaging (CoWoS) in Taiwan and HBM from SK hynix / Samsung in Korea bound
#:   accelerator output: SIA/BCG 2024; Epoch AI, "Can AI scaling continue through 2030?" (2024).
SHORT_RUN_CHOKEPOINTS = [("firm", "tsmc", 0.5), ("node", "TWN:advanced_packaging", 0.5),
                         ("node", "KOR:dram_hbm", 0.5)]


@pytest.mark.parametrize("entity_type, entity, least", SHORT_RUN_CHOKEPOINTS)
def test_the_literature_s_chokepoints_bite_in_the_short_run(real_run, entity_type, entity, least):
    """Follows from the data and the model (qualified routes, headroom), not from any rule
    naming the entity: the long run, same data, gives the fungible answer."""
    losses = sql(real_run.database, """
        SELECT horizon, avg(value) AS loss FROM analytics.chokepoints
        WHERE metric = 'removal_loss' AND entity_type = ? AND entity = ? GROUP BY horizon""", [entity_type, entity])
    by_horizon = dict(zip(losses["horizon"], losses["loss"]))
    assert by_horizon["short_run"] >= least, by_horizon
    assert by_horizon["short_run"] > by_horizon["long_run"], by_horizon


def test_short_run_capability_never_exceeds_the_long_run(real_run):
    both = sql(real_run.database, """
        SELECT s.actor, s.capability_before AS short, l.capability_before AS long
        FROM analytics.capability s JOIN analytics.capability l USING (scenario, actor)
        WHERE s.horizon = 'short_run' AND l.horizon = 'long_run'""")
    assert both.height > 0
    assert both.filter(pl.col("short") > pl.col("long") * (1 + 1e-9) + 1e-6).is_empty()


def test_firm_and_facility_rows_with_provenance(real_run):
    nodes = sql(real_run.database, "SELECT * FROM analytics.supply_nodes WHERE firm_id IS NOT NULL")
    assert nodes.height > 0 and {"tsmc", "sk-hynix", "asml"} <= set(nodes["firm_id"])
    producers = sql(real_run.database, "SELECT * FROM staging.producers WHERE firm_id IS NOT NULL")
    assert producers["source"].null_count() == 0 and producers["basis"].null_count() == 0
    kinds = sql(real_run.database, "SELECT DISTINCT entity_type FROM analytics.chokepoints")["entity_type"]
    assert {"node", "firm"} <= set(kinds)


FIRM_ACTORS = '''
[actors.xai]
name = "xAI"
firms = ["xai"]
signatory = false
candidate_defector = true
detection_probability = 0.9
value_of_capability = 40.0
first_mover_gain = 10.0
[[controls]]
id = "usa-accelerators-xai"
kind = "export_control"
jurisdiction = "USA"
input = "ai_accelerators"
destination = "xai"
cost = 1.0
'''


def test_a_lab_as_a_firm_actor_on_the_real_data(real_run):
    """A scenario may declare labs and clouds as actors: on the real data xAI (owner of Epoch AI's
    largest counted cluster, staging.compute_owners) owns that share of US compute; its long-run
    capability exceeds what cloud access alone gives it, its short run is at most its long run,
    and an export control of accelerators to it closes routes into its own clusters only."""
    from pathlib import Path

    from chokepoint.analyses.placements import catalogue_arrays
    from chokepoint.inputs.scenario import parse_scenario
    from chokepoint.model.build import horizon_networks
    from chokepoint.warehouse.reads import staged_tables
    from optimization.capability import CapabilityModel

    owners = sql(real_run.database, "SELECT * FROM staging.compute_owners WHERE firm_id = 'xai'")
    assert owners.height >= 1 and owners["lines"].list.len().min() >= 1
    tables = staged_tables(real_run.database)
    scenario = parse_scenario((DATA / "scenarios" / "default.toml").read_text() + FIRM_ACTORS, Path("xai.toml"))
    networks = horizon_networks(tables, scenario)
    values = {}
    for horizon, network in networks.items():
        capability = CapabilityModel(network, solver="HIGHS", time_limit=60)
        values[horizon] = capability.solve(network.sink_of(network.actors.index("xai"))).value
    long_run = networks.long_run
    names = np.array(long_run.node_names)
    own = names == "USA:datacenter_compute:xai"
    assert own.sum() == 1
    cloud_only = scenario.settings.cloud_access_fraction * long_run.node_capacity[
        (long_run.node_kind == PRODUCER) & (long_run.node_input == long_run.inputs.index("datacenter_compute"))].sum()
    assert values["long_run"] > cloud_only
    assert 0 < values["short_run"] <= values["long_run"] * (1 + 1e-9)
    catalogue = catalogue_arrays(long_run, scenario)
    closes = catalogue.closes[catalogue.ids.index("usa-accelerators-xai")]
    assert closes.any() and all(n.endswith(":datacenter_compute:xai") for n in names[long_run.edge_dst[closes]])
