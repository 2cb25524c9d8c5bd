"""Optimal control placements and leverage curves for a scenario (glue for the pipeline).

Ties the scenario's control catalogue (:mod:`chokepoint.inputs.scenario`, route masks from
:func:`chokepoint.model.build.control_route_masks`) to the interdiction MILP
(:mod:`optimization.interdiction`) and returns Polars tables for the warehouse.

**Collateral cost** (``docs/design.md#2-the-supply-model``: what a placement takes from signatories, linear
in the placement, per route). Closing route ``e`` forgoes the trade it could carry
from a signatory supplier: ``collateral_e = M_e / W_k`` for routes whose supplier is
a producer in a signatory country (or whose buyer is a signatory actor's sink), 0
otherwise; ``M_e`` is the route's data-derived flow bound
(:func:`optimization.interdiction.tight_route_bounds`: the least of route capacity,
supplier throughput and what the buyer can absorb) and ``W_k`` the world capacity of
the input it carries. A placement's collateral is the sum over the routes it closes —
"shares of world supply of each input that signatory suppliers stop selling",
summed over inputs — and ``[settings] collateral_cap`` caps it. Secondary controls
close re-exports from non-signatory hubs and carry no collateral beyond their cost.
The capability each signatory loses under the chosen placement (exact LP re-solve,
not linear) is reported beside it as ``signatory_capability_loss``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from chokepoint.errors import InputError
from chokepoint.model.controls import control_route_masks
from chokepoint.inputs.scenario import Scenario
from graph.network import PRODUCER, SupplyNetwork
from optimization.capability import CapabilityModel, relative_loss
from optimization.frontier import leverage_frontier
from optimization.interdiction import InterdictionModel, PlacementResult, tight_route_bounds

__all__ = [
    "JOINT",
    "CatalogueArrays",
    "ScenarioModels",
    "catalogue_arrays",
    "collateral_weights",
    "placement_models",
    "joint_model",
    "leverage_of",
    "placements_table",
    "leverage_curve_table",
]

#: Label of the one placement optimised against every candidate defector at once.
JOINT = "ALL"


@dataclass(frozen=True)
class CatalogueArrays:
    """The control catalogue as arrays: ids, route masks (P × E), costs."""

    ids: tuple[str, ...]
    closes: np.ndarray
    cost: np.ndarray


def catalogue_arrays(network: SupplyNetwork, scenario: Scenario) -> CatalogueArrays:
    """Route masks and costs of the scenario's controls, checking who places them.

    Raises
    ------
    InputError
        If a control's jurisdiction is not a signatory (only signatories place
        controls; the scenario loader already refuses this, checked again here because
        the optimisation relies on it).
    """
    signatories = scenario.signatory_countries
    for i, control in enumerate(scenario.controls):
        if control.jurisdiction not in signatories:
            raise InputError(scenario.path, f"'{control.jurisdiction}' is not a signatory; only signatory "
                             "jurisdictions place controls", row=f"[[controls]] #{i + 1} ({control.id})",
                             field="jurisdiction")
    masks = control_route_masks(network, scenario)
    ids = tuple(c.id for c in scenario.controls)
    closes = np.array([masks[i] for i in ids], dtype=bool).reshape(len(ids), network.num_edges)
    return CatalogueArrays(ids=ids, closes=closes, cost=np.array([c.cost for c in scenario.controls], dtype=np.float64))


def collateral_weights(network: SupplyNetwork, scenario: Scenario) -> np.ndarray:
    """Collateral of closing each route (see module docstring), shares of world supply."""
    signatory_country = np.array([c in scenario.signatory_countries for c in network.countries], dtype=bool)
    signatory_actor = np.array([scenario.actor(a).signatory for a in network.actors], dtype=bool)
    src, dst = network.edge_src, network.edge_dst
    src_country = network.node_country[src]
    from_signatory = (network.node_kind[src] == PRODUCER) & (src_country >= 0) & signatory_country[np.maximum(src_country, 0)]
    dst_actor = network.node_actor[dst]
    to_signatory = (dst_actor >= 0) & signatory_actor[np.maximum(dst_actor, 0)] if signatory_actor.size else np.zeros(src.size, bool)
    producers = network.node_kind == PRODUCER
    world = np.bincount(network.node_input[producers], weights=network.node_capacity[producers],
                        minlength=len(network.inputs))
    bound = tight_route_bounds(network)
    carried = world[network.edge_input]
    share = np.divide(bound, carried, out=np.zeros(src.size), where=carried > 0)
    return np.where(from_signatory | to_signatory, np.minimum(share, 1.0), 0.0)


class ScenarioModels:
    """The one constructor of a scenario's interdiction models.

    Every model it makes shares the control catalogue and its route masks, the collateral
    weights and cap, the solver and time limit, one capability LP and one memo of its
    results (:class:`~optimization.interdiction.InterdictionModel` ``lp_cache``), so a
    capability every model needs (a defector's baseline, the share left under a
    placement) is solved once. Models are made on demand, in the caller's order.

    Parameters
    ----------
    network : SupplyNetwork
    scenario : Scenario
    solver : {"HIGHS", "SCIP"}
        MILP solver.
    time_limit : float
        Seconds per MILP solve (capability LPs: at least
        :data:`optimization.interdiction.LP_TIME_LIMIT`).
    capability : CapabilityModel, optional
        The capability LP to share (default: a new HiGHS one with ``time_limit``).
    baseline_closed : bool array (E,), optional
        Routes closed by the baseline placement (``docs/design.md#111-controls-in-force-as-a-baseline``):
        every model's capability "before" has them closed and its figures are marginal to
        them. Default: no baseline.
    """

    def __init__(self, network: SupplyNetwork, scenario: Scenario, *, solver: str, time_limit: float,
                 capability: CapabilityModel | None = None, baseline_closed: np.ndarray | None = None):
        self.network, self.scenario = network, scenario
        self.catalogue = catalogue_arrays(network, scenario)
        self.capability = capability or CapabilityModel(network, solver="HIGHS", time_limit=time_limit)
        self.lp_cache: dict = {}
        self._common = dict(collateral=collateral_weights(network, scenario),
                            collateral_cap=scenario.settings.collateral_cap, aggregate="mean", solver=solver,
                            time_limit=time_limit, capability_model=self.capability, lp_cache=self.lp_cache)
        if baseline_closed is not None:
            self._common["baseline_closed"] = np.asarray(baseline_closed, dtype=bool)

    def model(self, defectors: list[str], extra: dict[str, np.ndarray] | None = None) -> InterdictionModel:
        """Interdiction model over the sinks of ``defectors`` (mean aggregate).

        ``extra`` appends controls to the catalogue (name → route mask, each at the
        scenario's recruit control cost), after the catalogue's own; the model's control
        ids are then ``catalogue.ids + tuple(extra)``.
        """
        closes, cost = self.catalogue.closes, self.catalogue.cost
        if extra:
            closes = np.vstack([closes.reshape(-1, self.network.num_edges), *extra.values()])
            cost = np.concatenate([cost, np.full(len(extra), self.scenario.recruit_control_cost)])
        sinks = [self.network.sink_of(self.network.actors.index(a)) for a in defectors]
        return InterdictionModel(self.network, sinks, closes, cost, **self._common)


def placement_models(network: SupplyNetwork, scenario: Scenario, *, solver: str, time_limit: float,
                     capability: CapabilityModel | None = None, joint: bool | None = None,
                     baseline_closed: np.ndarray | None = None) -> dict[str, InterdictionModel]:
    """One interdiction model per candidate defector and one joint model (key :data:`JOINT`).

    The joint model is made when there is more than one candidate defector, or always with
    ``joint=True`` (then, with one defector, it is a second model over the same sink). All
    come from one :class:`ScenarioModels`, so they share the capability LP and its memo.
    ``baseline_closed``: routes of the baseline placement, figures marginal to it (default none).
    """
    defectors = [a.id for a in scenario.defectors]
    models = ScenarioModels(network, scenario, solver=solver, time_limit=time_limit, capability=capability,
                            baseline_closed=baseline_closed)
    out = {a: models.model([a]) for a in defectors}
    if len(defectors) > 1 if joint is None else joint:
        out[JOINT] = models.model(defectors)
    return out


def joint_model(network: SupplyNetwork, scenario: Scenario, *, solver: str, time_limit: float,
                capability: CapabilityModel | None = None,
                baseline_closed: np.ndarray | None = None) -> InterdictionModel:
    """The interdiction model over every candidate defector's sink (mean aggregate), also
    when there is only one (``baseline_closed``: figures marginal to that baseline)."""
    models = ScenarioModels(network, scenario, solver=solver, time_limit=time_limit, capability=capability,
                            baseline_closed=baseline_closed)
    return models.model([a.id for a in scenario.defectors])


def leverage_of(model: InterdictionModel, mask: np.ndarray) -> np.ndarray:
    """Exact leverage ``(C0 − C)/C0`` over each of ``model``'s sinks of the placement ``mask``
    (capability LP re-solve, memoised by the model): :func:`optimization.capability.relative_loss`."""
    _, results = model.evaluate(mask)
    values = np.array([r.value for r in results])
    return relative_loss(model.baseline, values)


def _signatory_loss(network: SupplyNetwork, scenario: Scenario, capability: CapabilityModel,
                    closed: np.ndarray, baseline: dict[str, float]) -> float:
    """Largest relative capability loss of a signatory actor under the closed routes."""
    if not closed.any():
        return 0.0
    worst = 0.0
    route_open = (~closed).astype(np.float64)
    for actor in scenario.actors:
        if not actor.signatory or baseline[actor.id] <= 0:
            continue
        after = capability.solve(network.sink_of(network.actors.index(actor.id)), route_open).value
        worst = max(worst, (baseline[actor.id] - after) / baseline[actor.id])
    return max(worst, 0.0)


def _rows(scenario: Scenario, target: str, defectors: list[str], result: PlacementResult, ids: tuple[str, ...],
          budget: float, extra: dict) -> list[dict]:
    controls = [ids[i] for i in result.chosen]
    rows = []
    for k, defector in enumerate(defectors):
        rows.append({
            "scenario": scenario.name, "target": target, "defector": defector,
            "budget": budget, "collateral_cap": scenario.settings.collateral_cap
            if math.isfinite(scenario.settings.collateral_cap) else None,
            "controls": controls, "n_controls": len(controls), "cost": result.cost, "collateral": result.collateral,
            "capability_before": float(result.capability_before[k]),
            "capability_after": float(result.capability_after[k]), "leverage": float(result.leverage[k]),
            "objective": result.objective, "bound": result.bound, "gap": result.gap, "status": result.status,
            "optimal": result.optimal, "method": result.method, "solver": result.solver,
            "seconds": result.seconds, "lp_duality_gap": result.lp_duality_gap,
            "routes_closed": result.routes_closed, "notes": "; ".join(result.notes), **extra,
        })
    return rows


_PLACEMENT_SCHEMA = {
    "scenario": pl.String, "target": pl.String, "defector": pl.String, "budget": pl.Float64,
    "collateral_cap": pl.Float64, "controls": pl.List(pl.String), "n_controls": pl.Int64, "cost": pl.Float64,
    "collateral": pl.Float64, "capability_before": pl.Float64, "capability_after": pl.Float64,
    "leverage": pl.Float64, "objective": pl.Float64, "bound": pl.Float64, "gap": pl.Float64, "status": pl.String,
    "optimal": pl.Boolean, "method": pl.String, "solver": pl.String, "seconds": pl.Float64,
    "lp_duality_gap": pl.Float64, "routes_closed": pl.Int64, "notes": pl.String,
}


def placements_table(network: SupplyNetwork, scenario: Scenario, models: dict[str, InterdictionModel], *,
                     budget: float | None = None, baseline_closed: np.ndarray | None = None) -> pl.DataFrame:
    """The best placement within budget against each candidate defector, and the joint one.

    One row per (target, defector): ``target`` is the defector the placement was
    optimised against, or :data:`JOINT` for the placement that maximises mean leverage
    over all candidate defectors (then one row per defector with its leverage).
    ``objective`` is the remaining capability share the MILP minimised (mean over
    defectors for the joint placement), ``bound`` its proven lower bound, ``gap``
    their relative gap; ``optimal`` only for a proven optimum with gap ≤ 1e-6.
    ``baseline_closed`` (the routes of the baseline the ``models`` were made with): the
    signatories' loss is then measured from their capability with the baseline in force.
    """
    budget = scenario.settings.budget if budget is None else float(budget)
    catalogue = catalogue_arrays(network, scenario)
    capability = next(iter(models.values())).capability
    if baseline_closed is None:
        baseline = {a.id: capability.solve(network.sink_of(network.actors.index(a.id))).value for a in scenario.actors}
    else:
        baseline_open = (~np.asarray(baseline_closed, dtype=bool)).astype(np.float64)
        baseline = {a.id: capability.solve(network.sink_of(network.actors.index(a.id)), baseline_open).value
                    for a in scenario.actors}
    rows = []
    for target, model in models.items():
        result = model.solve(budget)
        defectors = [a.id for a in scenario.defectors] if target == JOINT else [target]
        closed = model.closed_routes(np.isin(np.arange(model.num_controls), result.chosen))
        extra = {"signatory_capability_loss": _signatory_loss(network, scenario, capability, closed, baseline)}
        rows += _rows(scenario, target, defectors, result, catalogue.ids, budget, extra)
    return pl.DataFrame(rows, schema={**_PLACEMENT_SCHEMA, "signatory_capability_loss": pl.Float64})


def leverage_curve_table(network: SupplyNetwork, scenario: Scenario, models: dict[str, InterdictionModel], *,
                         max_budget: float | None = None) -> pl.DataFrame:
    """The exact Pareto frontier of cost vs leverage for each target (defector or joint).

    One row per (target, point, defector). ``point`` 0 is budget 0; each next point is
    the least budget that buys more leverage (``budget`` = its cost) and the best
    placement within it. Between points leverage stays at the lower point's value.
    ``exact`` marks points whose breakpoint and placement are proven optimal.
    """
    catalogue = catalogue_arrays(network, scenario)
    rows = []
    for target, model in models.items():
        defectors = [a.id for a in scenario.defectors] if target == JOINT else [target]
        for index, point in enumerate(leverage_frontier(model, max_budget=max_budget)):
            result = point.placement
            for row in _rows(scenario, target, defectors, result, catalogue.ids, point.budget, {}):
                row.update(point=index, exact=point.exact)
                rows.append(row)
    schema = {**_PLACEMENT_SCHEMA, "point": pl.Int64, "exact": pl.Boolean}
    frame = pl.DataFrame(rows, schema=schema)
    return frame.select("scenario", "target", "point", "budget", "defector", "leverage", "capability_before",
                        "capability_after", "controls", "n_controls", "cost", "collateral", "objective", "bound",
                        "gap", "exact", "status", "optimal", "solver", "seconds", "lp_duality_gap")
