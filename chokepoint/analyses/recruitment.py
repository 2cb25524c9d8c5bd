"""Safe havens and whom to recruit: how much leverage over each defector rises if a
non-signatory joins the coalition and its routes come under control.

A recruit ``c`` brings, per candidate defector ``d``, up to two controls at the
scenario's ``[recruitment] control_cost`` each: *exports* (every route from ``c``'s
producers — materials, tools, chips, cloud compute — to ``d``'s countries or sink) and,
when ``c`` is a transit hub, *re-exports* (every route from ``c``'s hub to ``d``). For
each (recruit, defector) the best placement within the scenario budget is re-solved
exactly (interdiction MILP) with the enlarged catalogue, and compared with the best
placement without the recruit; the *ceiling* compares every control placed (budget
and collateral cap ignored), i.e. how much of ``d``'s capability the coalition could
reach at all. Simplification: the recruit's own forgone trade is not counted against
the collateral cap (its routes carry no signatory collateral).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from chokepoint.analyses.placements import ScenarioModels, leverage_of
from chokepoint.inputs.scenario import Scenario
from graph.network import PRODUCER, TRANSIT, SupplyNetwork
from optimization.capability import CapabilityModel
from optimization.interdiction_heuristic import prune

__all__ = ["recruit_controls", "recruitment_table", "candidate_recruits", "RECRUITMENT_SCHEMA"]

RECRUITMENT_SCHEMA = {
    "scenario": pl.String, "country": pl.String, "defector": pl.String, "is_transit_hub": pl.Boolean,
    "routes_to_defector": pl.Int64, "leverage_before": pl.Float64, "leverage_after": pl.Float64,
    "leverage_gain": pl.Float64, "ceiling_before": pl.Float64, "ceiling_after": pl.Float64,
    "ceiling_gain": pl.Float64, "controls_used": pl.List(pl.String), "status": pl.String, "optimal": pl.Boolean,
    "mean_gain": pl.Float64, "rank": pl.Int64,
}


def _gain(after: float, before: float) -> float:
    # Differences at rounding level (1e-16) are no gain; a real loss stays visible.
    gain = float(after - before)
    return 0.0 if abs(gain) < 1e-12 else gain


def candidate_recruits(network: SupplyNetwork, scenario: Scenario) -> list[str]:
    """Countries outside the coalition and outside every candidate defector that produce
    something or host a transit hub (ISO3, sorted)."""
    excluded = scenario.signatory_countries | {m for a in scenario.defectors for m in a.members}
    present = np.unique(network.node_country[(network.node_kind == PRODUCER) | (network.node_kind == TRANSIT)])
    return sorted(network.countries[i] for i in present if i >= 0 and network.countries[i] not in excluded)


def recruit_controls(network: SupplyNetwork, country: str, defector: str) -> dict[str, np.ndarray]:
    """Route masks of the controls a recruit would place against one defector (non-empty only)."""
    c = network.countries.index(country)
    d = network.actors.index(defector)
    to_defector = network.actor_nodes(d)[network.edge_dst]
    src_kind, src_country = network.node_kind[network.edge_src], network.node_country[network.edge_src]
    masks = {f"recruit-{country}-exports-{defector}".lower(): (src_kind == PRODUCER) & (src_country == c) & to_defector,
             f"recruit-{country}-reexports-{defector}".lower(): (src_kind == TRANSIT) & (src_country == c) & to_defector}
    return {name: mask for name, mask in masks.items() if mask.any()}


def recruitment_table(network: SupplyNetwork, scenario: Scenario, *, solver: str, time_limit: float,
                      capability: CapabilityModel | None = None,
                      baseline_closed: np.ndarray | None = None) -> pl.DataFrame:
    """The ranked "whom to recruit" table: one row per (candidate recruit, defector).

    ``leverage_*`` are within the scenario budget and collateral cap (exact MILP,
    ``optimal`` true only when proven), ``ceiling_*`` with every control placed. No MILP is
    solved where the ceiling proves the optimum: when it is no higher than the leverage
    without the recruit (status ``optimal (ceiling bound)``), or when the best placement
    without the recruit plus every recruit control is affordable and reaches it
    (``optimal (incumbent meets ceiling)``; useless controls pruned as the MILP path does).
    ``rank`` orders recruits by ``mean_gain``, the mean of ``leverage_gain`` over
    defectors (ties: mean ceiling gain). ``baseline_closed``: routes of the baseline
    placement; leverage is then marginal to it (default: no baseline).
    """
    budget = scenario.settings.budget
    # Every model, with and without a recruit, from the scenario's one constructor: shared
    # catalogue, collateral, capability LP and memo of its results.
    models = ScenarioModels(network, scenario, solver=solver, time_limit=time_limit, capability=capability,
                            baseline_closed=baseline_closed)
    everything = np.ones(len(models.catalogue.ids), dtype=bool)
    rows = []
    for defector in (a.id for a in scenario.defectors):
        base_model = models.model([defector])
        best = base_model.solve(budget)
        before = best.leverage[0]
        placed = np.isin(np.arange(base_model.num_controls), best.chosen)
        ceiling_before = leverage_of(base_model, everything)[0]
        for country in candidate_recruits(network, scenario):
            extra = recruit_controls(network, country, defector)
            if not extra:
                continue
            model = models.model([defector], extra)
            ceiling_after = leverage_of(model, np.ones(model.num_controls, dtype=bool))[0]
            if ceiling_after <= before + 1e-9:
                # No placement can take more than every control together (closing routes never
                # raises capability), and adding controls never lowers the optimum: the gain is
                # proven zero without a MILP.
                leverage_after, used, status, optimal = float(before), [], "optimal (ceiling bound)", True
            else:
                ids = models.catalogue.ids + tuple(extra)
                # The best placement without the recruit plus all its controls: when affordable and as good as
                # every control together (no placement does better), it is optimal without a MILP.
                incumbent = np.concatenate([placed, np.ones(len(extra), dtype=bool)])
                if model.feasible(incumbent, budget) and leverage_of(model, incumbent)[0] >= ceiling_after - 1e-9:
                    pruned = prune(model, incumbent)
                    chosen = np.flatnonzero(pruned)
                    leverage_after = float(leverage_of(model, pruned)[0])
                    status, optimal = "optimal (incumbent meets ceiling)", True
                else:
                    result = model.solve(budget)
                    chosen = result.chosen
                    leverage_after, status, optimal = float(result.leverage[0]), result.status, bool(result.optimal)
                used = [ids[i] for i in chosen if ids[i].startswith("recruit-")]
            rows.append({
                "scenario": scenario.name, "country": country, "defector": defector,
                "is_transit_hub": any("reexports" in name for name in extra),
                "routes_to_defector": int(np.any(list(extra.values()), axis=0).sum()),
                "leverage_before": float(before), "leverage_after": leverage_after,
                "leverage_gain": _gain(leverage_after, before),
                "ceiling_before": float(ceiling_before), "ceiling_after": float(ceiling_after),
                "ceiling_gain": _gain(ceiling_after, ceiling_before),
                "controls_used": used, "status": status, "optimal": optimal,
            })
    frame = pl.DataFrame(rows, schema={k: v for k, v in RECRUITMENT_SCHEMA.items() if k not in ("mean_gain", "rank")})
    if frame.is_empty():
        return pl.DataFrame(schema=RECRUITMENT_SCHEMA)
    means = (frame.group_by("country").agg(pl.col("leverage_gain").mean().alias("mean_gain"),
                                           pl.col("ceiling_gain").mean().alias("_ceiling"))
             .sort(["mean_gain", "_ceiling", "country"], descending=[True, True, False])
             .with_row_index("rank", offset=1).with_columns(pl.col("rank").cast(pl.Int64)).drop("_ceiling"))
    return (frame.join(means, on="country").sort(["rank", "defector"]).select(list(RECRUITMENT_SCHEMA)))
