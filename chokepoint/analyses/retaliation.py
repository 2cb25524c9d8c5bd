"""Two-sided leverage: what the controls in force achieve, where the coalition is itself
vulnerable, and the defector's best retaliation (``docs/design.md#11-retaliation-and-verification``).

* :func:`baseline_effect_table` — per actor, capability with no controls and with the
  baseline in force, the leverage of the measures of each side and the best next placement
  (marginal to the baseline).
* :func:`counter_catalogue` — a defector's counter-controls: withholding each input its
  members dominate (share of world capacity ≥ ``[retaliation] share_threshold``, plus
  ``[retaliation] inputs``) from the signatories, and excluding them from its clouds.
* :func:`counter_chokepoints_table` — removal loss of every signatory's attainable compute
  under each counter-control alone (capability LP).
* :func:`retaliation_analysis` — the defector's best counter-placement within its budget
  against each coalition placement (interdiction MILP with the signatories' sinks as
  targets), the credibility test, margins with retaliation and the race game with
  retaliation as a move.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from chokepoint.analyses.deterrence import EQUILIBRIA_SCHEMA, EvaluatedPlacement, _equilibrium_rows
from chokepoint.analyses.placements import catalogue_arrays, placement_models
from chokepoint.inputs.reference import COMPUTE_INPUT
from chokepoint.inputs.scenario import Scenario
from chokepoint.model.baseline import BaselinePlacement
from graph.network import PRODUCER, SupplyNetwork
from optimization.capability import CapabilityModel, relative_loss
from optimization.interdiction import InterdictionModel

__all__ = ["CounterCatalogue", "counter_catalogue", "baseline_effect_table", "counter_chokepoints_table",
           "chip_output_weights",
           "RetaliationAnalysis", "retaliation_analysis", "BASELINE_EFFECT_SCHEMA", "COUNTER_CHOKEPOINTS_SCHEMA",
           "RETALIATION_SCHEMA", "EQUILIBRIA_RETALIATION_SCHEMA", "CLOUDS"]

#: ``input_id`` of the counter-control that excludes the signatories from a defector's clouds.
CLOUDS = "clouds"


def _loss(before: float, after: float) -> float:
    """:func:`optimization.capability.relative_loss` of one pair, as a float."""
    return float(relative_loss(before, after))


@dataclass(frozen=True)
class CounterCatalogue:
    """A defector's counter-controls: ids, the input each withholds (``clouds`` for the
    compute exclusion), the defector's share of world capacity of it, route masks (P × E)
    and costs."""

    defector: str
    ids: tuple[str, ...]
    inputs: tuple[str, ...]
    shares: np.ndarray
    closes: np.ndarray
    cost: np.ndarray


def _signatory_targets(network: SupplyNetwork, scenario: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """Nodes in signatory countries and signatory sinks (bool arrays over nodes)."""
    signatory_country = np.array([c in scenario.signatory_countries for c in network.countries], dtype=bool)
    signatory_actor = np.array([scenario.actor(a).signatory for a in network.actors], dtype=bool)
    country = network.node_country
    in_country = (country >= 0) & signatory_country[np.maximum(country, 0)]
    actor = network.node_actor
    sink = (actor >= 0) & signatory_actor[np.maximum(actor, 0)]
    return in_country, sink


def counter_catalogue(network: SupplyNetwork, scenario: Scenario, defector: str) -> CounterCatalogue:
    """The counter-controls of ``defector`` against the signatories (non-empty ones only).

    Withholding input k closes every route carrying k from a producer in the defector's
    countries into a node in a signatory country or a signatory's sink (the export-control
    semantics of ``docs/design.md#2-the-supply-model`` with the roles swapped: transit hubs
    stay open). The cloud exclusion closes the routes from the defector's compute into the
    signatories' sinks. Every counter-control costs ``[retaliation] control_cost``.

    Notes
    -----
    Shares are of the network's total producer capacity per input. O(K · E) numpy work.
    """
    settings = scenario.retaliation
    actor = scenario.actor(defector)
    members = np.array([network.countries.index(c) for c in actor.members if c in network.countries], dtype=np.int64)
    producer = network.node_kind == PRODUCER
    own = producer & np.isin(network.node_country, members)
    world = np.bincount(network.node_input[producer], weights=network.node_capacity[producer],
                        minlength=len(network.inputs))
    held = np.bincount(network.node_input[own], weights=network.node_capacity[own], minlength=len(network.inputs))
    share = np.divide(held, world, out=np.zeros_like(held), where=world > 0)
    in_country, signatory_sink = _signatory_targets(network, scenario)
    src, dst = network.edge_src, network.edge_dst
    from_defector = own[src]
    into_coalition = in_country[dst] | signatory_sink[dst]
    compute = network.inputs.index(COMPUTE_INPUT) if COMPUTE_INPUT in network.inputs else -1
    ids, inputs, shares, masks = [], [], [], []
    wanted = set(settings.inputs)
    for k, name in enumerate(network.inputs):
        if k == compute or not (share[k] >= settings.share_threshold - 1e-12 and share[k] > 0 or name in wanted):
            continue
        mask = from_defector & into_coalition & (network.edge_input == k)
        if mask.any():
            ids.append(f"counter-{defector}-{name}".lower())
            inputs.append(name)
            shares.append(float(share[k]))
            masks.append(mask)
    if settings.clouds and compute >= 0:
        mask = from_defector & signatory_sink[dst] & (network.edge_input == compute)
        if mask.any():
            ids.append(f"counter-{defector}-{CLOUDS}".lower())
            inputs.append(CLOUDS)
            shares.append(float(share[compute]))
            masks.append(mask)
    closes = np.array(masks, dtype=bool).reshape(len(masks), network.num_edges)
    return CounterCatalogue(defector=defector, ids=tuple(ids), inputs=tuple(inputs), shares=np.array(shares),
                            closes=closes, cost=np.full(len(ids), settings.control_cost))


def _signatories(network: SupplyNetwork, scenario: Scenario) -> list[tuple[str, int]]:
    return [(a.id, network.sink_of(network.actors.index(a.id))) for a in scenario.actors if a.signatory]


def baseline_effect_table(network: SupplyNetwork, scenario: Scenario, baseline: BaselinePlacement, *,
                          capability: CapabilityModel, solver: str, time_limit: float) -> pl.DataFrame:
    """What the measures in force achieve, per actor, and what the best next placement adds.

    Rows only for a scenario with a baseline (``status_quo``); empty otherwise.
    ``leverage_baseline = (C(0) − C(x0)) / C(0)``; ``leverage_by_signatories`` and
    ``leverage_by_others`` split it by the imposing side (each alone). For candidate defectors
    the best placement within the scenario budget marginal to the baseline
    (``next_controls``, ``next_leverage = (C(x0) − C(x0 ∪ x)) / C(x0)``) and the combined
    ``1 − C(x0 ∪ x) / C(0)``.

    Notes
    -----
    3 capability LPs per actor and one interdiction MILP per candidate defector.
    """
    if baseline.name == "none":
        return pl.DataFrame(schema=BASELINE_EFFECT_SCHEMA)
    signatory_countries = scenario.signatory_countries
    by_signatories = baseline.closed_by({c.jurisdiction for c in baseline.controls
                                         if c.jurisdiction in signatory_countries})
    by_others = baseline.closed & ~by_signatories
    defectors = [a.id for a in scenario.defectors]
    models = placement_models(network, scenario, solver=solver, time_limit=time_limit, capability=capability,
                              joint=False, baseline_closed=baseline.closed) if defectors else {}
    ids = catalogue_arrays(network, scenario).ids
    rows = []
    for actor in scenario.actors:
        index = network.actors.index(actor.id)
        sink = network.sink_of(index)
        none = capability.solve(sink).value

        def leverage(closed):
            after = capability.solve(sink, (~closed).astype(np.float64)).value
            return after, _loss(none, after)

        after, total = leverage(baseline.closed)
        into = network.actor_nodes(index)[network.edge_dst]
        row = {"scenario": scenario.name, "baseline": baseline.name, "as_of": baseline.as_of, "actor": actor.id,
               "signatory": actor.signatory, "candidate_defector": actor.candidate_defector,
               "measures": sum(1 for c in baseline.controls if (baseline.masks[c.id] & into).any()),
               "routes_closed": int((baseline.closed & into).sum()), "capability_none": none,
               "capability_baseline": after, "leverage_baseline": total,
               "leverage_by_signatories": leverage(by_signatories)[1], "leverage_by_others": leverage(by_others)[1],
               "next_controls": None, "next_cost": None, "next_leverage": None, "combined_leverage": None,
               "next_optimal": None}
        if actor.id in models:
            result = models[actor.id].solve(scenario.settings.budget)
            remaining = float(result.capability_after[0])
            row.update(next_controls=[ids[i] for i in result.chosen], next_cost=result.cost,
                       next_leverage=float(result.leverage[0]),
                       combined_leverage=_loss(none, remaining),
                       next_optimal=result.optimal)
        rows.append(row)
    return pl.DataFrame(rows, schema=BASELINE_EFFECT_SCHEMA)


def chip_output_weights(network: SupplyNetwork, members, chip_inputs) -> np.ndarray | None:
    """Weights of a country group's chip output: each producer of a ``chip_inputs`` type in
    ``members`` weighs 1 / (the group's capacity of that type × the number of such types it
    makes), so the weighted output is the mean share of its own capacity per type and its
    full output is 1. None when it makes none of them."""
    countries = np.array([network.countries.index(c) for c in members if c in network.countries], dtype=np.int64)
    weights = np.zeros(network.num_nodes)
    for name in chip_inputs:
        if name not in network.inputs:
            continue
        nodes = np.flatnonzero((network.node_kind == PRODUCER) & (network.node_input == network.inputs.index(name))
                               & np.isin(network.node_country, countries) & np.isfinite(network.node_capacity)
                               & (network.node_capacity > 0))
        if nodes.size:
            weights[nodes] = 1.0 / network.node_capacity[nodes].sum()
    types = np.unique(network.node_input[weights > 0]).size
    return weights / types if types else None


def counter_chokepoints_table(network: SupplyNetwork, scenario: Scenario, baseline: BaselinePlacement, *,
                              capability: CapabilityModel, chip_inputs=()) -> pl.DataFrame:
    """Where the coalition is vulnerable: each signatory's loss of attainable compute, and of
    its chip output, when one defector applies one counter-control alone, on top of the
    baseline.

    ``loss = (C_s(x0) − C_s(x0 ∪ r)) / C_s(x0)`` (0 where ``C_s(x0) = 0``), ranked within
    (defector, signatory), largest first. ``chip_output_*``: the most the signatory's
    producers of ``chip_inputs`` (the fabrication stage: wafers for every use, most of them
    not AI) can make on the physical capacities, as the mean share of its own capacity per
    type (:func:`chip_output_weights`), before and after; null where it makes none.

    Notes
    -----
    At most two LPs per (defector, counter-control, signatory): its capability and its chip
    output, each skipped (memoised) where the counter-control closes no route on a path to
    the signatory's sink or fabs (:meth:`optimization.capability.CapabilityModel.solve_closed`).
    """
    signatories = _signatories(network, scenario)
    before = {sink: capability.solve_closed(sink, baseline.closed).value for _, sink in signatories}
    chip_weights = {sink: chip_output_weights(network, scenario.actor(who).members, chip_inputs)
                    for who, sink in signatories}
    chips_before = {sink: None if chip_weights[sink] is None else
                    capability.solve_weighted_closed(chip_weights[sink], baseline.closed,
                                                     label=f"chip output of {who}").value
                    for who, sink in signatories}
    rows = []
    for defector in scenario.defectors:
        catalogue = counter_catalogue(network, scenario, defector.id)
        for p, control_id in enumerate(catalogue.ids):
            closed_after = baseline.closed | catalogue.closes[p]
            for signatory, sink in signatories:
                after = capability.solve_closed(sink, closed_after).value if before[sink] > 0 else 0.0
                chips, chips_after = chips_before[sink], None
                if chips is not None:
                    chips_after = 0.0 if chips <= 0 else capability.solve_weighted_closed(
                        chip_weights[sink], closed_after, label=f"chip output of {signatory}").value
                rows.append({"scenario": scenario.name, "baseline": baseline.name, "defector": defector.id,
                             "counter_control": control_id, "input_id": catalogue.inputs[p],
                             "defector_share": float(catalogue.shares[p]),
                             "routes_closed": int((catalogue.closes[p] & ~baseline.closed).sum()),
                             "signatory": signatory, "capability_before": before[sink], "capability_after": after,
                             "loss": _loss(before[sink], after), "chip_output_before": chips,
                             "chip_output_after": chips_after,
                             "chip_output_loss": None if chips is None else _loss(chips, chips_after)})
    frame = pl.DataFrame(rows, schema={k: v for k, v in COUNTER_CHOKEPOINTS_SCHEMA.items() if k != "rank"})
    return frame.with_columns(pl.col("loss").rank("ordinal", descending=True).over("defector", "signatory")
                              .cast(pl.Int64).alias("rank")).sort("defector", "signatory", "rank")


@dataclass(frozen=True)
class RetaliationAnalysis:
    """``retaliation``: one row per (placement, defector, signatory); ``equilibria``: the race
    game per placement without and with retaliation (``retaliation`` column)."""

    retaliation: pl.DataFrame
    equilibria: pl.DataFrame


def retaliation_analysis(network: SupplyNetwork, scenario: Scenario, baseline: BaselinePlacement,
                         deterrence: pl.DataFrame, *, capability: CapabilityModel, solver: str,
                         time_limit: float) -> RetaliationAnalysis:
    """Each defector's best counter-placement against each coalition placement.

    Parameters
    ----------
    network, scenario, baseline
        The scenario's network and its baseline placement.
    deterrence : polars.DataFrame
        The scenario's rows of ``analytics.deterrence``: the placements (``placement``,
        ``placement_kind``, ``controls``, ``placement_cost``, ``within_budget``) and each
        candidate defector's ``leverage`` and ``margin`` under them.
    capability : CapabilityModel
    solver, time_limit
        MILP solver and seconds per solve.

    Returns
    -------
    RetaliationAnalysis

    Notes
    -----
    For placement X and defector d: the interdiction MILP over the signatories' sinks
    (mean aggregate) with d's counter-catalogue, budget ``[retaliation] budget`` and the
    routes of the baseline and of X closed before (``baseline_closed``), so
    ``coalition_loss = 1 − mean_s C_s(x0 ∪ X ∪ r*) / C_s(x0 ∪ X)``. Credible when
    ``p_d · coalition_loss ≤ tolerance`` (sanctions, hence retaliation, follow detection).
    With retaliation as a move the defector anticipates that a non-credible sanction is
    not imposed: its leverage becomes ``L_d · credible``, ``margin_with_retaliation =
    p·V·L·credible + B − G``, and the race game is solved again with those leverages.
    One MILP per (defector, distinct set of a placement's closed routes on a path to a
    signatory's sink), P ≤ number of inputs + 1
    binaries.
    """
    settings = scenario.retaliation
    catalogue = catalogue_arrays(network, scenario)
    control_index = {c: i for i, c in enumerate(catalogue.ids)}
    signatories = _signatories(network, scenario)
    placements = (deterrence.filter(pl.col("candidate_defector"))
                  .group_by("placement", maintain_order=True)
                  .agg(pl.col("placement_kind").first(), pl.col("controls").first(), pl.col("placement_cost").first(),
                       pl.col("within_budget").first(), pl.col("actor"), pl.col("leverage"), pl.col("margin")))
    counters = {d.id: counter_catalogue(network, scenario, d.id) for d in scenario.defectors}
    # The MILP's objective depends only on routes on some path to a signatory's sink.
    reaching = network.routes_reaching([sink for _, sink in signatories])
    lp_cache: dict = {}
    solved: dict[tuple, tuple] = {}
    rows, equilibria = [], []
    for placement in placements.iter_rows(named=True):
        closed = baseline.closed.copy()
        for control in placement["controls"] or []:
            closed |= catalogue.closes[control_index[control]]
        leverage = dict(zip(placement["actor"], placement["leverage"]))
        margin = dict(zip(placement["actor"], placement["margin"]))
        credible: dict[str, bool] = {}
        for defector in scenario.defectors:
            counter = counters[defector.id]
            # Placements closing the same routes towards the signatories (often `optimal` and an
            # analyst's, or placements that differ only on routes into the defector) share one solve.
            key = (defector.id, np.packbits(closed & reaching).tobytes())
            if key not in solved:
                model = InterdictionModel(network, [sink for _, sink in signatories], counter.closes, counter.cost,
                                          aggregate="mean", solver=solver, time_limit=time_limit,
                                          capability_model=capability, lp_cache=lp_cache, baseline_closed=closed)
                solved[key] = (model.solve(settings.budget), model.active)
            result, active = solved[key]
            coalition_loss = float(np.mean(result.leverage[active])) if active.any() else 0.0
            expected = defector.detection_probability * coalition_loss
            credible[defector.id] = expected <= settings.tolerance + 1e-9
            lev = float(leverage.get(defector.id, 0.0))
            with_retaliation = (defector.detection_probability * defector.value_of_capability * lev
                                * credible[defector.id] + defector.benefit_of_compliance - defector.first_mover_gain)
            tolerance = 1e-6 * max(1.0, defector.first_mover_gain)
            for k, (signatory, _) in enumerate(signatories):
                rows.append({
                    "scenario": scenario.name, "baseline": baseline.name, "placement": placement["placement"],
                    "placement_kind": placement["placement_kind"], "controls": list(placement["controls"] or []),
                    "defector": defector.id, "counter_controls": [counter.ids[i] for i in result.chosen],
                    "counter_cost": result.cost, "retaliation_budget": settings.budget, "signatory": signatory,
                    "capability_before": float(result.capability_before[k]),
                    "capability_after": float(result.capability_after[k]), "loss": float(result.leverage[k]),
                    "coalition_loss": coalition_loss, "detection_probability": defector.detection_probability,
                    "expected_loss": expected, "tolerance": settings.tolerance, "credible": credible[defector.id],
                    "leverage": lev, "margin": float(margin.get(defector.id, 0.0)),
                    "margin_with_retaliation": with_retaliation,
                    "deterred_with_retaliation": bool(with_retaliation >= -tolerance),
                    "status": result.status, "optimal": result.optimal, "gap": result.gap, "seconds": result.seconds,
                })
        for case, scale in (("without", None), ("with", credible)):
            evaluated = EvaluatedPlacement(
                name=placement["placement"], kind=placement["placement_kind"],
                controls=tuple(placement["controls"] or []), cost=placement["placement_cost"],
                within_budget=placement["within_budget"],
                leverage={a: float(leverage.get(a, 0.0)) * (1.0 if scale is None else float(scale[a]))
                          for a in leverage},
                status="evaluated", proven=True)
            equilibria += [{**row, "baseline": baseline.name, "retaliation": case}
                           for row in _equilibrium_rows(scenario, evaluated)]
    return RetaliationAnalysis(retaliation=pl.DataFrame(rows, schema=RETALIATION_SCHEMA),
                               equilibria=pl.DataFrame(equilibria, schema=EQUILIBRIA_RETALIATION_SCHEMA))


BASELINE_EFFECT_SCHEMA = {
    "scenario": pl.String, "baseline": pl.String, "as_of": pl.String, "actor": pl.String, "signatory": pl.Boolean,
    "candidate_defector": pl.Boolean, "measures": pl.Int64, "routes_closed": pl.Int64,
    "capability_none": pl.Float64, "capability_baseline": pl.Float64, "leverage_baseline": pl.Float64,
    "leverage_by_signatories": pl.Float64, "leverage_by_others": pl.Float64, "next_controls": pl.List(pl.String),
    "next_cost": pl.Float64, "next_leverage": pl.Float64, "combined_leverage": pl.Float64,
    "next_optimal": pl.Boolean,
}
COUNTER_CHOKEPOINTS_SCHEMA = {
    "scenario": pl.String, "baseline": pl.String, "defector": pl.String, "counter_control": pl.String,
    "input_id": pl.String, "defector_share": pl.Float64, "routes_closed": pl.Int64, "signatory": pl.String,
    "capability_before": pl.Float64, "capability_after": pl.Float64, "loss": pl.Float64,
    "chip_output_before": pl.Float64, "chip_output_after": pl.Float64, "chip_output_loss": pl.Float64,
    "rank": pl.Int64,
}
RETALIATION_SCHEMA = {
    "scenario": pl.String, "baseline": pl.String, "placement": pl.String, "placement_kind": pl.String,
    "controls": pl.List(pl.String), "defector": pl.String, "counter_controls": pl.List(pl.String),
    "counter_cost": pl.Float64, "retaliation_budget": pl.Float64, "signatory": pl.String,
    "capability_before": pl.Float64, "capability_after": pl.Float64, "loss": pl.Float64,
    "coalition_loss": pl.Float64, "detection_probability": pl.Float64, "expected_loss": pl.Float64,
    "tolerance": pl.Float64, "credible": pl.Boolean, "leverage": pl.Float64, "margin": pl.Float64,
    "margin_with_retaliation": pl.Float64, "deterred_with_retaliation": pl.Boolean, "status": pl.String,
    "optimal": pl.Boolean, "gap": pl.Float64, "seconds": pl.Float64,
}
EQUILIBRIA_RETALIATION_SCHEMA = {**EQUILIBRIA_SCHEMA, "baseline": pl.String, "retaliation": pl.String}
