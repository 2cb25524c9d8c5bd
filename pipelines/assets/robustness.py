"""Group ``robustness``: how sure each verdict is, per scenario partition (``docs/design.md#12-uncertainty``).

The Monte Carlo sweep of :mod:`chokepoint.analyses.sweep` — the engine ``chokepoint sweep``
runs — on the point-estimate placements of ``analytics.deterrence``, through the
:class:`SweepEngine` resource: an existing Dask scheduler by address, a local cluster of K
worker processes, or (default) the asset's own process. Partitioned like the deterrence
group; the pipeline's default sweep is small and solves LPs only (robust placements need
``train`` > 0, or ``chokepoint sweep``).
"""


import warnings
from contextlib import contextmanager

import dagster as dg
import polars as pl

from chokepoint import settings as chokepoint_settings
from chokepoint.analyses.montecarlo import dask_client
from chokepoint.analyses.sweep import TABLE_SCHEMAS, point_placements, probability_lines, sweep_tables
from chokepoint.model.horizons import HORIZONS
from pipelines.assets.deterrence import BASELINE_INS, GATE, STAGED, network_inputs, partition_scenario, present_keys
from pipelines.metadata import table_metadata
from pipelines.partitions import PARTITION_EXPR, PARTITIONED_ASSET
from pipelines.resources import ChokepointSettings

# Asset-level resources are stable in practice but flagged beta; the warning would reach the
# one-line error output of `chokepoint run` on every load.
warnings.filterwarnings("ignore", message="Parameter `resource_defs`", category=dg.BetaWarning)

GROUP = "robustness"
OWNERS = ["team:chokepoint"]
KINDS = {"dask", "cvxpy", "duckdb"}


class SweepEngine(dg.ConfigurableResource):
    """Where and how large the ``robustness`` sweep runs.

    ``scheduler``: address of a running Dask scheduler (``CHOKEPOINT_SWEEP_SCHEDULER``);
    otherwise ``workers`` local worker processes (``CHOKEPOINT_SWEEP_WORKERS``; 0: chunks run
    in the asset's process). ``samples`` (per horizon) and ``seed`` (``CHOKEPOINT_SWEEP_SAMPLES``,
    ``CHOKEPOINT_SWEEP_SEED``) fix the sweep; ``train`` > 0 (``CHOKEPOINT_SWEEP_TRAIN``) also
    trains the robust placements on that many samples and tests them on ``samples`` fresh ones.
    """

    scheduler: str = ""
    workers: int = 0
    samples: int = 2
    seed: int = 0
    train: int = 0
    #: Chokepoint ranks proven per sample (top k) and the removal-loss LP re-solves per defector
    #: and sample allowed for it. None by default, to keep the run's sweep within its 15 s: the
    #: run's rank intervals rank entities by their certified removal-loss lower bounds (exact for
    #: single points of failure and wherever the bounds meet); ``chokepoint sweep`` proves its top 5.
    rank_top_k: int = 2
    rank_solves: int = 0

    @contextmanager
    def client(self):
        """A Dask client, or None for in-process chunks (``workers`` 0 and no scheduler)."""
        if not self.scheduler and self.workers == 0:
            yield None
            return
        with dask_client(scheduler=self.scheduler or None, workers=self.workers or None) as client:
            yield client


def default_engine() -> SweepEngine:
    """The engine configured by the environment when the definitions load (Dagit's launchpad
    can override each field)."""
    return SweepEngine(scheduler=chokepoint_settings.sweep_scheduler(), workers=chokepoint_settings.sweep_workers(),
                       samples=chokepoint_settings.sweep_samples(), seed=chokepoint_settings.sweep_seed(),
                       train=chokepoint_settings.sweep_train())


@dg.multi_asset(
    outs={
        "robustness": dg.AssetOut(key_prefix="analytics", kinds=KINDS, owners=OWNERS, group_name=GROUP,
                                  metadata=PARTITION_EXPR, description=(
            "How sure is each verdict: per horizon, candidate defector and point-estimate placement (optimal, "
            "deter_all), the probability of being deterred over Monte Carlo samples of the uncertain inputs, its "
            "standard error, and leverage and margin percentiles. Grain: one row per (scenario, horizon, "
            "defector, placement).")),
        "rank_intervals": dg.AssetOut(key_prefix="analytics", kinds=KINDS, owners=OWNERS, group_name=GROUP,
                                      metadata=PARTITION_EXPR, description=(
            "How stable is each chokepoint's rank: 5th, 50th and 95th percentile of each node entity's "
            "removal-loss rank over the samples. Grain: one row per (scenario, horizon, entity).")),
        "robust_placements": dg.AssetOut(key_prefix="analytics", kinds=KINDS, owners=OWNERS, group_name=GROUP,
                                         metadata=PARTITION_EXPR, description=(
            "Robust placements: sample-average and CVaR (worst 10 %) interdiction MILPs on training samples, "
            "tested out of sample on fresh draws against the point-estimate placement (empty unless the "
            "engine's train > 0). Grain: one row per (scenario, horizon, placement).")),
        "uncertain_inputs": dg.AssetOut(key_prefix="analytics", kinds=KINDS, owners=OWNERS, group_name=GROUP,
                                        metadata=PARTITION_EXPR, description=(
            "What the sweep drew: every uncertain quantity (actor parameters, settings, transit fractions, "
            "share and recipe-coefficient factors by provenance), its point value and its distribution. "
            "Grain: one row per (scenario, quantity).")),
    },
    ins={**STAGED, **BASELINE_INS, "deterrence": dg.AssetIn(key=["analytics", "deterrence"])}, deps=GATE,
    resource_defs={"sweep_engine": default_engine()},
    **PARTITIONED_ASSET,
)
def robustness_sweep(context: dg.AssetExecutionContext, settings: ChokepointSettings, sweep_engine: SweepEngine,
                     deterrence: pl.DataFrame, **staged: pl.DataFrame):
    # The networks of both horizons, from the staged tables supply_graph builds them from (docs/design.md#12-uncertainty).
    tables, controls_in_force, firms = network_inputs(staged)
    frames = {name: [pl.DataFrame(schema=schema)] for name, schema in TABLE_SCHEMAS.items()}
    keys, _ = present_keys(context, settings)
    with sweep_engine.client() as client:
        for key in keys:
            scenario = partition_scenario(settings, key, tables["countries"], tables["input_types"])
            solver, time_limit = settings.solver_for(scenario), settings.time_limit_for(scenario)
            placements = {horizon: point_placements(deterrence, tables, scenario, key, horizon, solver=solver,
                                                    time_limit=time_limit, controls_in_force=controls_in_force,
                                                    firms=firms) for horizon in HORIZONS}
            result = sweep_tables(tables, scenario, key, placements, samples=sweep_engine.samples,
                                  seed=sweep_engine.seed, client=client, solver=solver, time_limit=time_limit,
                                  robust=sweep_engine.train > 0, train=max(sweep_engine.train, 1),
                                  rank_top_k=sweep_engine.rank_top_k, rank_solves=sweep_engine.rank_solves,
                                  controls_in_force=controls_in_force, firms=firms)
            for name, frame in result.by_name().items():
                frames[name].append(frame)
    out = {name.split(".")[1]: pl.concat(parts, how="vertical") for name, parts in frames.items()}
    lines = probability_lines(out["robustness"])
    yield dg.Output(out["robustness"], output_name="robustness", metadata=table_metadata(
        out["robustness"].drop("controls"), limit=20, samples=sweep_engine.samples, seed=sweep_engine.seed,
        verdicts=dg.MetadataValue.md("\n".join(f"- {line}" for line in lines))))
    yield dg.Output(out["rank_intervals"], output_name="rank_intervals", metadata=table_metadata(
        out["rank_intervals"], limit=20))
    yield dg.Output(out["robust_placements"], output_name="robust_placements", metadata=table_metadata(
        out["robust_placements"].drop("controls"), limit=20))
    yield dg.Output(out["uncertain_inputs"], output_name="uncertain_inputs", metadata=table_metadata(
        out["uncertain_inputs"].filter(pl.col("distribution") != "fixed"), limit=20,
        rows=out["uncertain_inputs"].height))


@dg.asset_check(blocking=True, asset=dg.AssetKey(["analytics", "robustness"]), description=(
    "Every probability is in [0, 1], its standard error is sqrt(p(1 − p)/n) for the row's sample count, and "
    "leverage and margin percentiles are ordered (P5 ≤ P50 ≤ P95, leverage within [0, 1])."))
def robustness_consistent(robustness: pl.DataFrame) -> dg.AssetCheckResult:
    outside = robustness.filter((pl.col("p_deterred") < 0) | (pl.col("p_deterred") > 1)).height
    se = (robustness["p_deterred"] * (1 - robustness["p_deterred"]) / robustness["samples"]).sqrt()
    se_error = float((robustness["p_deterred_se"] - se).abs().max() or 0.0)
    unordered = robustness.filter(
        (pl.col("leverage_p05") > pl.col("leverage_p50") + 1e-12) | (pl.col("leverage_p50") > pl.col("leverage_p95") + 1e-12)
        | (pl.col("margin_p05") > pl.col("margin_p50") + 1e-9) | (pl.col("margin_p50") > pl.col("margin_p95") + 1e-9)
        | (pl.col("leverage_p05") < -1e-12) | (pl.col("leverage_p95") > 1 + 1e-12)).height
    return dg.AssetCheckResult(passed=outside == 0 and se_error <= 1e-12 and unordered == 0,
                               metadata={"rows": robustness.height, "probabilities_outside_0_1": outside,
                                         "max_standard_error_mismatch": se_error, "unordered_quantiles": unordered})


@dg.asset_check(blocking=True, asset=dg.AssetKey(["analytics", "rank_intervals"]), description=(
    "Rank percentiles are ordered (1 ≤ P5 ≤ P50 ≤ P95 ≤ number of entities)."))
def rank_intervals_ordered(rank_intervals: pl.DataFrame) -> dg.AssetCheckResult:
    entities = rank_intervals.group_by("scenario", "horizon").len()
    most = int(entities["len"].max() or 0)
    bad = rank_intervals.filter((pl.col("rank_p05") < 1) | (pl.col("rank_p05") > pl.col("rank_p50"))
                                | (pl.col("rank_p50") > pl.col("rank_p95")) | (pl.col("rank_p95") > most)).height
    return dg.AssetCheckResult(passed=bad == 0, metadata={"rows": rank_intervals.height, "unordered": bad})


@dg.asset_check(blocking=True, asset=dg.AssetKey(["analytics", "robust_placements"]), description=(
    "Robust placements stay within budget; out-of-sample leverage statistics lie in [0, 1] with the worst-10 % "
    "mean at most the mean; a proven optimum's training objective is at most the point-estimate placement's."))
def robust_placements_consistent(robust_placements: pl.DataFrame) -> dg.AssetCheckResult:
    frame = robust_placements
    over = frame.filter(pl.col("cost") > pl.col("budget") + 1e-9).height
    outside = frame.filter((pl.col("test_mean_leverage") < -1e-12) | (pl.col("test_mean_leverage") > 1 + 1e-12)
                           | (pl.col("test_cvar10_leverage") > pl.col("test_mean_leverage") + 1e-9)).height
    point = frame.filter(pl.col("placement") == "point_estimate").select(
        "scenario", "horizon", pl.col("train_objective").alias("point_objective"))
    mean = frame.filter((pl.col("placement") == "saa_mean") & pl.col("optimal")).join(point, on=["scenario", "horizon"])
    worse = mean.filter(pl.col("train_objective") > pl.col("point_objective") + 1e-6).height
    return dg.AssetCheckResult(passed=over == 0 and outside == 0 and worse == 0,
                               metadata={"rows": frame.height, "over_budget": over, "outside_0_1": outside,
                                         "saa_worse_than_point_on_training": worse})


assets = [robustness_sweep]
checks = [robustness_consistent, rank_intervals_ordered, robust_placements_consistent]

__all__ = ["assets", "checks", "SweepEngine", "default_engine"]
