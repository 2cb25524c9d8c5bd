"""The placement assets and their checks, the placements and leverage-curve tables, the
network read back from the warehouse and the summary block, on the shared run of every asset."""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl
import pytest

from chokepoint.analyses.placements import JOINT
from chokepoint.errors import InputError
from chokepoint.model.build import horizon_networks
from chokepoint.report.summary import placement_lines
from chokepoint.warehouse.reads import network_from_warehouse


@pytest.fixture(scope="module")
def network(materialized, scenario):
    """The long-run network built independently from the staged tables of the run."""
    with duckdb.connect(str(materialized.database), read_only=True) as con:
        tables = {name: con.execute(f"SELECT * FROM staging.{name}").pl()
                  for name in ("countries", "input_types", "recipes", "capacities", "producers", "short_run_rules",
                               "qualifications", "compute_sourcing")}
    return horizon_networks(tables, scenario).long_run


def test_placement_assets_materialise_with_passing_checks(materialized):
    result = materialized.result
    assert result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    for name in ("placements_certified", "placements_reproducible", "leverage_curve_certified",
                 "leverage_curve_reproducible"):
        assert name in evaluations and evaluations[name].passed, evaluations.get(name)


def test_placements_table(materialized, scenario):
    database = materialized.database
    with duckdb.connect(str(database), read_only=True) as con:
        frame = con.execute("SELECT * FROM analytics.placements").pl()
    assert set(frame["horizon"]) == {"short_run", "long_run"}
    # Controls bite in the long run; within the short run some defectors have nothing to lose to them.
    assert (frame.filter(pl.col("horizon") == "long_run")["leverage"] > 0).all()
    frame = frame.filter(pl.col("horizon") == "long_run")
    defectors = {a.id for a in scenario.defectors}
    assert set(frame["target"]) == defectors | {JOINT}
    assert set(frame.filter(pl.col("target") == JOINT)["defector"]) == defectors
    assert frame["optimal"].all() and (frame["status"] == "optimal").all()
    assert (frame["budget"] == scenario.settings.budget).all()
    single = frame.filter(pl.col("target") == pl.col("defector"))
    joint = frame.filter(pl.col("target") == JOINT)
    # Optimised against one defector, a placement is at least as good against it as the joint one.
    merged = single.join(joint, on="defector", suffix="_joint")
    assert merged.height == len(defectors)
    assert (merged["leverage"] >= merged["leverage_joint"] - 1e-9).all()


def test_leverage_curve_table(materialized, scenario):
    database = materialized.database
    with duckdb.connect(str(database), read_only=True) as con:
        frame = con.execute("SELECT * FROM analytics.leverage_curve ORDER BY target, point, defector").pl()
        placements = con.execute("SELECT * FROM analytics.placements").pl()
    assert frame["exact"].all()
    for horizon, target in frame.select("horizon", "target").unique().iter_rows():
        curve = frame.filter((pl.col("horizon") == horizon) & (pl.col("target") == target)).group_by("point").agg(
            pl.col("budget").first(), pl.col("objective").first()).sort("point")
        assert curve["budget"][0] == 0.0 and curve["objective"][0] == pytest.approx(1.0)
        assert (curve["budget"].diff().drop_nulls() > 0).all()
        assert (curve["objective"].diff().drop_nulls() < 0).all()
        # The curve at the scenario budget gives the placement's objective.
        at_budget = curve.filter(pl.col("budget") <= scenario.settings.budget + 1e-12)["objective"][-1]
        placed = placements.filter((pl.col("horizon") == horizon) & (pl.col("target") == target))["objective"][0]
        assert at_budget == pytest.approx(placed, abs=1e-7)


def test_network_from_warehouse_rebuilds_the_same_network(materialized, network):
    database = materialized.database
    again, scenario = network_from_warehouse(database)
    assert (again.num_nodes, again.num_edges) == (network.num_nodes, network.num_edges)
    assert scenario.name == "default"
    with pytest.raises(InputError, match="warehouse not found"):
        network_from_warehouse(database.with_name("missing.duckdb"))


def test_summary_prints_the_placement_block(materialized, scenario):
    database = materialized.database
    with duckdb.connect(str(database), read_only=True) as con:
        text = "\n".join(placement_lines(con))
        frame = con.execute("SELECT * FROM analytics.placements").pl()
    assert "Optimal placement per candidate defector within budget 4" in text
    for horizon in ("short_run", "long_run"):
        for defector in scenario.defectors:
            row = frame.filter((pl.col("horizon") == horizon) & (pl.col("target") == defector.id)).row(0, named=True)
            assert f"\n{horizon:<10} {defector.id:<8} {100 * row['leverage']:7.1f}%" in text
            assert ", ".join(row["controls"]) in text
        joint = frame.filter((pl.col("horizon") == horizon) & (pl.col("target") == JOINT))
        assert f"\n{horizon:<10} ALL      {100 * joint['leverage'].mean():7.1f}%" in text
    assert "one placement against all:" in text


def test_summary_without_placements_table_prints_nothing_extra(tmp_path):
    database = tmp_path / "empty.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("CREATE SCHEMA analytics")
        assert placement_lines(con) == []


@pytest.fixture(scope="module")
def status_quo_run(materialized, tmp_path_factory):
    """The baseline, control-leverage, capability, placement and chokepoint assets (and the
    checks on them) invoked on the staged tables of the reference run with the status_quo
    scenario as the run's scenario — China its one candidate defector, to keep it short."""
    import re

    from chokepoint.inputs.scenario_tables import read_scenario_source
    from chokepoint.warehouse.reads import staged_tables
    from pipelines.assets import chokepoints as chokepoint_assets
    from pipelines.assets import placements as placement_assets
    from pipelines.assets import supply_graph as graph_assets
    from pipelines.assets.staging import scenario_of
    from pipelines.resources import ChokepointSettings
    from tests.conftest import DATA

    text = (DATA / "scenarios" / "status_quo.toml").read_text(encoding="utf-8")
    text = re.sub(r"(\[actors\.(?:RUS|ARE)\]\n(?:(?!\n\[).)*?candidate_defector = )true", r"\1false", text,
                  flags=re.S)
    text = re.sub(r"coverage = \{[^}]*\}", "coverage = { CHN = 0.10 }", text)   # coverage only of defectors
    path = tmp_path_factory.mktemp("scenarios") / "status_quo.toml"
    path.write_text(text, encoding="utf-8")
    src = read_scenario_source(path, "status_quo")
    scenario = scenario_of(src)
    assert [a.id for a in scenario.defectors] == ["CHN"]
    tables = staged_tables(materialized.database)
    networks = horizon_networks(tables, scenario)
    settings = ChokepointSettings(data_dir=str(DATA), scenario="status_quo", reports_dir=str(path.parent))
    common = dict(horizon_networks=networks, src_scenario=src)
    baselines = graph_assets.baselines(controls_in_force=tables["controls_in_force"], firms=tables["firms"],
                                       **common).value
    out = {"control_leverage": placement_assets.control_leverage(settings=settings, baselines=baselines,
                                                                 **common).value}
    out["capability"] = placement_assets.capability(settings=settings, baselines=baselines,
                                                    control_leverage=out["control_leverage"], **common).value
    out["placements"] = placement_assets.placements(settings=settings, baselines=baselines, **common).value
    out["chokepoints"] = chokepoint_assets.chokepoints(settings=settings, baselines=baselines,
                                                       capacities=tables["capacities"], **common).value
    checks = {
        "control_leverage_certified": placement_assets.control_leverage_certified(out["control_leverage"]),
        "capability_reproducible": placement_assets.capability_reproducible(
            settings=settings, capability=out["capability"], baselines=baselines, **common),
        "placements_reproducible": placement_assets.placements_reproducible(
            placements=out["placements"], baselines=baselines, **common),
        "chokepoints_consistent": chokepoint_assets.chokepoints_consistent(out["chokepoints"]),
    }
    return scenario, networks, baselines, out, checks


def test_the_run_scenarios_tables_are_marginal_to_its_baseline(status_quo_run):
    """With status_quo as the run's scenario every table says `baseline = status_quo`, its
    checks pass, and a placement's and a chokepoint's figures are re-derived by the independent
    LP on the whole long-run network with the baseline's routes closed."""
    from chokepoint.analyses.placements import catalogue_arrays
    from tests.support.oracles import plain_capability

    scenario, networks, baselines, out, checks = status_quo_run
    for name, frame in out.items():
        assert frame.columns[frame.columns.index("horizon") + 1] == "baseline", name
        assert set(frame["baseline"]) == {"status_quo"} and set(frame["horizon"]) == {"short_run", "long_run"}, name
    for name, result in checks.items():
        assert result.passed, (name, result.metadata)
    network, baseline = networks.long_run, baselines["long_run"]
    assert baseline.name == "status_quo" and baseline.closed.any()
    sink = network.sink_of(network.actors.index("CHN"))
    before = plain_capability(network, sink, baseline.closed)
    row = out["placements"].filter((pl.col("horizon") == "long_run") & (pl.col("target") == "CHN")).row(0, named=True)
    catalogue = catalogue_arrays(network, scenario)
    chosen = np.isin(catalogue.ids, row["controls"])
    after = plain_capability(network, sink, baseline.closed | catalogue.closes[chosen].any(axis=0))
    assert row["capability_before"] == pytest.approx(before, rel=1e-6)
    assert row["leverage"] == pytest.approx(1 - after / before, abs=1e-6)
    capability = out["capability"].filter((pl.col("horizon") == "long_run") & (pl.col("actor") == "CHN"))
    assert capability["capability_before"][0] == pytest.approx(before, rel=1e-6)
    assert before < plain_capability(network, sink, np.zeros_like(baseline.closed)) * (1 - 1e-3)
    top = out["chokepoints"].filter((pl.col("horizon") == "long_run") & (pl.col("entity_type") == "country")
                                    & (pl.col("metric") == "removal_loss") & (pl.col("value") > 0)).head(3)
    assert top.height
    for entity, value in top.select("entity", "value").iter_rows():
        routes = network.node_country[network.edge_src] == network.countries.index(entity)
        assert value == pytest.approx(1 - plain_capability(network, sink, baseline.closed | routes) / before,
                                      abs=1e-6), entity


def test_the_summary_names_the_run_scenarios_baseline(tmp_path):
    from chokepoint.report.summary import run_baseline

    database = tmp_path / "w.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("CREATE SCHEMA analytics")
        con.execute("CREATE TABLE analytics.capability AS SELECT 'default' AS scenario")
        assert run_baseline(con, "default") is None            # a warehouse from before the column
        con.execute("ALTER TABLE analytics.capability ADD COLUMN baseline VARCHAR DEFAULT 'none'")
        assert run_baseline(con, "default") is None
        con.execute("UPDATE analytics.capability SET baseline = 'status_quo'")
        assert run_baseline(con, "status_quo") == "status_quo (the modelled controls in force)"
        con.execute("CREATE TABLE analytics.baseline_effect AS SELECT 'status_quo' AS scenario, "
                    "'2026-06-30' AS as_of")
        assert run_baseline(con, "status_quo") == "status_quo (the modelled controls in force on 2026-06-30)"
