"""``chokepoint sweep``: Monte Carlo over uncertain inputs on Dask, published atomically.

Reads the published warehouse's staged tables (whatever data the last run staged) and its
point-estimate placements (``analytics.deterrence``), runs the sweep of
:mod:`chokepoint.analyses.sweep` on a Dask cluster — a local one sized to the machine,
``--workers K`` local workers, or an existing scheduler by ``--scheduler ADDRESS`` — and
publishes a new snapshot holding ``analytics.robustness``, ``analytics.rank_intervals`` and
``analytics.robust_placements`` with a ledger record, as ``chokepoint run`` does
(:func:`chokepoint.warehouse.store.publish_tables`). Prints, per defector, "deterred with
probability p ± se" (``docs/design.md#12-uncertainty``).
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path

from chokepoint.analyses.sweep import point_placements, probability_lines, sweep_tables
from chokepoint.analyses.montecarlo import dask_client
from chokepoint.inputs.scenario import load_scenario, parse_scenario
from chokepoint.model.build import HORIZON_TABLES, NETWORK_TABLES
from chokepoint.model.horizons import HORIZONS
from chokepoint.settings import scenario_dir, warehouse_path
from chokepoint.warehouse.reads import published_deterrence, staged_tables
from chokepoint.warehouse.store import publish_tables
from pipelines.commands import CommandError

__all__ = ["sweep"]


def _published(args) -> Path:
    if getattr(args, "warehouse", None):
        return Path(os.path.abspath(args.warehouse))  # not resolve(): the path is a link to a snapshot
    return warehouse_path()


def _scenario(args, tables):
    """The scenario to sweep and its key: ``--scenario`` (a name in the scenario folder or a
    .toml path), else the scenario the published run analysed."""
    if args.scenario:
        path = Path(args.scenario) if args.scenario.endswith(".toml") else scenario_dir() / f"{args.scenario}.toml"
        scenario = load_scenario(path)
        key = path.stem
    else:
        row = tables["src_scenario"].row(0, named=True)
        scenario = parse_scenario(row["text"], Path(row["path"]))
        key = Path(row["path"]).stem
    scenario.validate_against(tables["countries"]["iso3"], tables["input_types"]["input_id"])
    return scenario, key


def sweep(args, out=None) -> int:
    out = out or sys.stdout
    started = time.perf_counter()
    published = _published(args)
    if not published.exists():
        raise CommandError(f"no published warehouse at {published}; run `chokepoint run` first")
    tables = staged_tables(published)
    scenario, key = _scenario(args, tables)
    solver = (args.solver or scenario.settings.solver).upper()
    time_limit = float(args.time_limit or scenario.settings.time_limit_s)
    staged = {name: tables[name] for name in (*NETWORK_TABLES, *HORIZON_TABLES) if name in tables}
    where = f"scheduler {args.scheduler}" if args.scheduler else f"{args.workers or 'local'} workers"
    print(f"chokepoint sweep: scenario '{key}', {args.samples} samples, seed {args.seed}, on {where}", file=out,
          flush=True)
    try:
        # The cluster first: an unreachable scheduler fails before any solve.
        with dask_client(scheduler=args.scheduler, workers=args.workers) as client:
            deterrence = published_deterrence(published)
            placements = {horizon: point_placements(deterrence, staged, scenario, key, horizon, solver=solver,
                                                    time_limit=time_limit,
                                                    controls_in_force=tables.get("controls_in_force"),
                                                    firms=tables.get("firms")) for horizon in HORIZONS}
            result = sweep_tables(staged, scenario, key, placements, samples=args.samples, seed=args.seed,
                                  client=client, solver=solver, time_limit=time_limit, robust=not args.no_robust,
                                  train=args.train, controls_in_force=tables.get("controls_in_force"),
                                  firms=tables.get("firms"))
    except (OSError, TimeoutError) as exc:
        if not args.scheduler:
            raise
        raise CommandError(f"cannot reach the Dask scheduler at {args.scheduler} ({exc}); start one with "
                           "`dask scheduler` or leave out --scheduler for a local cluster") from None
    run_id = f"sweep-{uuid.uuid4().hex[:16]}"
    record = publish_tables(published, result.by_name(), run_id=run_id,
                            overrides={"sweep_samples": args.samples, "sweep_seed": args.seed})
    for line in probability_lines(result.robustness):
        print(f"  {line}", file=out)
    for row in result.robust_placements.iter_rows(named=True):
        print(f"  robust placement {row['placement']} ({row['horizon']}): mean leverage "
              f"{100 * row['test_mean_leverage']:.1f}% out of sample (worst-10% {100 * row['test_cvar10_leverage']:.1f}%"
              f", {row['test_samples']} fresh draws), cost {row['cost']:.2f}, {row['status']}", file=out)
    print(f"ledger: record #{record['seq']} {record['hash'][:16]} ({len(record['tables'])} tables); "
          f"{time.perf_counter() - started:.1f} s", file=out)
    return 0
