"""Deter-all: its three exact paths (order of cost, covering cuts, the MILP) each equal brute
force over every placement on small random AND/OR instances (capabilities from an independent
scipy LP), and the answers are monotone in the budget and the targets."""

from __future__ import annotations

import math

import numpy as np
import pytest

from optimization.deter_all import _CUT_ROWS, SHARE_TOLERANCE, DeterAllModel, _CoveringMaster, _grow_failing
from optimization.errors import SolverError
from optimization.interdiction import InterdictionModel
from tests.support.instances import and_or_case
from tests.support.oracles import placements_within, plain_capability
from tests.support.solver_limits import limit_solver

SEEDS = range(10)
SOLVERS = ["HIGHS", "SCIP"]


def _model(seed, solver="HIGHS", sinks=2, cap=math.inf):
    inst = and_or_case(seed, sinks=sinks, num_controls=9)
    model = InterdictionModel(inst.network, inst.sinks, inst.closes, inst.cost, collateral=inst.collateral,
                              collateral_cap=cap, solver=solver, time_limit=60)
    return inst, model


def milp_deter(model) -> DeterAllModel:
    """Every solve by the MILP (no exhaustion, no covering cuts)."""
    return DeterAllModel(model, exhaustion_limit=0, cut_limit=0)


def cuts_deter(model) -> DeterAllModel:
    """Every solve by covering cuts (no exhaustion; the MILP only past an unbounded limit)."""
    return DeterAllModel(model, exhaustion_limit=0, cut_limit=10**6)


#: Each path on its own: (name, constructor); the solver status names the path taken.
PATHS = [("milp", milp_deter), ("cuts", cuts_deter),
         ("exhaustion", lambda model: DeterAllModel(model, exhaustion_limit=10**6, cut_limit=0))]
STATUS_OF_PATH = {"milp": ("optimal", "infeasible"), "cuts": ("covering cuts",), "exhaustion": ("exhaustion",)}


def _targets(seed, inst):
    """Required remaining shares between 'all controls' and 'no controls' for each sink."""
    rng = np.random.default_rng(500 + seed)
    everything = inst.closes.any(axis=0)
    nothing = np.zeros(inst.network.num_edges, bool)
    required = []
    for sink in inst.sinks:
        before = plain_capability(inst.network, sink, nothing)
        floor = plain_capability(inst.network, sink, everything) / before if before > 0 else 0.0
        required.append(float(floor + rng.uniform(0.0, 1.0) * (1.0 - floor)))
    return np.array(required)


def brute_force_min_cost(inst, required, budget=math.inf, cap=math.inf):
    """Cheapest subset whose exact remaining shares are all ≤ the required ones (None if none)."""
    nothing = np.zeros(inst.network.num_edges, bool)
    base = [plain_capability(inst.network, s, nothing) for s in inst.sinks]
    best = None
    for subset in placements_within(inst.cost, min(budget, inst.cost.sum()), inst.closes, inst.collateral, cap):
        cost = float(inst.cost[list(subset)].sum())
        if best is not None and cost >= best - 1e-12:
            continue
        closed = inst.closes[list(subset)].any(axis=0) if subset else nothing
        shares = [plain_capability(inst.network, s, closed) / b if b > 0 else 0.0 for s, b in zip(inst.sinks, base)]
        if all(share <= r + SHARE_TOLERANCE for share, r in zip(shares, required)):
            best = cost
    return best


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("seed", SEEDS)
def test_deter_all_equals_brute_force(seed, solver):
    inst, model = _model(seed, solver)
    required = _targets(seed, inst)
    result = milp_deter(model).solve(required)
    assert result.solver_status == "optimal"
    expected = brute_force_min_cost(inst, required)
    assert expected is not None      # all controls reach every target by construction
    assert result.feasible and result.proven and result.status == "optimal"
    assert result.cost == pytest.approx(expected, abs=1e-9)
    assert (result.share_after <= required + SHARE_TOLERANCE).all()
    assert result.cost_bound == pytest.approx(result.cost, abs=1e-6)


@pytest.mark.parametrize("path", ["exhaustion", "cuts"])
@pytest.mark.parametrize("seed", SEEDS)
def test_deter_all_by_exhaustion_and_by_cuts_equals_brute_force(seed, path):
    inst, model = _model(seed)
    required = _targets(seed, inst)
    result = dict(PATHS)[path](model).solve(required)
    assert result.solver_status.startswith(STATUS_OF_PATH[path])
    assert result.feasible and result.proven and result.status == "optimal"
    assert result.cost == pytest.approx(brute_force_min_cost(inst, required), abs=1e-9)
    assert result.cost_bound == pytest.approx(result.cost, abs=1e-9)
    assert (result.share_after <= required + SHARE_TOLERANCE).all()


@pytest.mark.parametrize("path", [name for name, _ in PATHS])
@pytest.mark.parametrize("seed", range(6))
def test_deter_all_with_budget_and_collateral_cap_equals_brute_force(seed, path):
    inst, _ = _model(seed)
    cap = float(np.quantile(inst.collateral[inst.closes.any(axis=0)], 0.5)) * 2 if inst.collateral.any() else math.inf
    _, model = _model(seed, cap=cap)
    required = _targets(seed, inst)
    budget = float(inst.cost.sum() / 3)
    result = dict(PATHS)[path](model).solve(required, budget=budget)
    # Where every control that fits, together, misses a target, one LP per sink decides first.
    assert result.solver_status.startswith((*STATUS_OF_PATH[path], "every control that fits"))
    expected = brute_force_min_cost(inst, required, budget=budget, cap=cap)
    if expected is None:
        assert not result.feasible and result.status == "infeasible" and result.chosen.size == 0
    else:
        assert result.feasible and result.proven
        assert result.cost == pytest.approx(expected, abs=1e-9)
        assert model.feasible(np.isin(np.arange(model.num_controls), result.chosen), budget)


@pytest.mark.parametrize("path", [name for name, _ in PATHS])
def test_each_path_proves_infeasibility_the_budget_causes(path):
    """Targets every control together reaches (so the one-LP-per-sink check passes) but no
    placement within a budget of the dearest single control does: the path itself proves it."""
    found = 0
    for seed in SEEDS:
        inst, model = _model(seed)
        everything = DeterAllModel(model).shares(np.ones(model.num_controls, bool))
        required = np.minimum(everything + 1e-4, 1.0)
        budget = float(inst.cost.max())
        if brute_force_min_cost(inst, required, budget=budget) is not None:
            continue
        result = dict(PATHS)[path](model).solve(required, budget=budget)
        assert not result.feasible and result.status == "infeasible" and math.isinf(result.cost_bound)
        assert result.solver_status.startswith(STATUS_OF_PATH[path]), result.solver_status
        found += 1
    assert found >= 3


@pytest.mark.parametrize("seed", range(5))
def test_larger_budget_never_raises_deter_all_cost(seed):
    inst, model = _model(seed)
    deter = DeterAllModel(model)
    required = _targets(seed, inst)
    costs = []
    for budget in np.linspace(0, inst.cost.sum(), 6):
        result = deter.solve(required, budget=float(budget))
        costs.append(result.cost if result.feasible else math.inf)
    assert all(later <= earlier + 1e-9 for earlier, later in zip(costs, costs[1:]))
    assert math.isfinite(costs[-1])


@pytest.mark.parametrize("seed", range(5))
def test_stricter_targets_never_lower_the_cost(seed):
    inst, model = _model(seed)
    deter = DeterAllModel(model)
    loose = _targets(seed, inst)
    floor = np.array([r for r in deter.shares(np.ones(model.num_controls, bool))])
    strict = floor + 0.5 * (loose - floor)
    assert deter.solve(strict).cost >= deter.solve(loose).cost - 1e-9


def test_targets_met_without_controls_cost_nothing():
    inst, model = _model(0)
    result = DeterAllModel(model).solve(np.ones(inst.sinks.size))
    assert result.feasible and result.cost == 0 and result.chosen.size == 0 and result.proven


def test_unreachable_target_is_infeasible_not_an_approximation():
    """Every control together misses a target: one LP per sink proves it, before any search."""
    checked = 0
    for seed in SEEDS:
        inst, model = _model(seed)
        deter = DeterAllModel(model)
        floor = deter.shares(np.ones(model.num_controls, bool))
        if not (floor > 0.05).any():
            continue
        result = deter.solve(np.maximum(floor - 0.05, 0.0))
        assert not result.feasible and result.status == "infeasible" and math.isinf(result.cost_bound)
        assert result.solver_status.startswith("every control that fits") and deter._problem is None
        checked += 1
    assert checked >= 3


@pytest.mark.parametrize("bad", [[-0.1, 0.5], [0.5, 1.5], [math.nan, 0.5], [0.5]])
def test_required_shares_are_validated(bad):
    _, model = _model(0)
    with pytest.raises(ValueError, match="required_share"):
        DeterAllModel(model).solve(np.array(bad))


def test_placements_come_in_order_of_cost_each_once():
    inst, model = _model(4)
    deter = DeterAllModel(model)
    budget = float(inst.cost.sum() / 2)
    listed = [tuple(np.flatnonzero(m)) for m in deter.placements_by_cost(budget)]
    costs = [float(inst.cost[list(c)].sum()) for c in listed]
    assert costs == sorted(costs)
    assert sorted(listed) == sorted(placements_within(inst.cost, budget))
    assert len(set(listed)) == len(listed)
    cap = float(np.median(inst.collateral[inst.closes.any(axis=0)]))
    _, capped = _model(4, cap=cap)
    listed = [tuple(np.flatnonzero(m)) for m in DeterAllModel(capped).placements_by_cost(budget)]
    feasible = set(placements_within(inst.cost, budget, inst.closes, inst.collateral, cap))
    assert feasible <= set(listed) and len(set(listed)) == len(listed)
    assert len(listed) < len(list(placements_within(inst.cost, budget))), "the cap leaves some controls out"


def _count_in(status: str) -> int:
    """The number before "capability" in a solver status ("... (38 capability evaluations ...")."""
    words = status.replace("(", " ").split()
    return int(words[words.index("capability") - 1])


def test_exhaustion_beyond_its_limit_leaves_the_answer_to_the_next_path():
    inst, model = _model(3)
    required = _targets(3, inst)
    exhaustive = DeterAllModel(model, exhaustion_limit=10**6).solve(required)
    lp_count = _count_in(exhaustive.solver_status)
    assert lp_count > 1
    short = DeterAllModel(model, exhaustion_limit=lp_count - 1, cut_limit=0)
    result = short.solve(required)
    assert result.solver_status == "optimal" and short._problem is not None
    assert result.cost == pytest.approx(exhaustive.cost, abs=1e-9)
    assert DeterAllModel(model, exhaustion_limit=lp_count - 1).solve(required).solver_status.startswith("covering")
    assert DeterAllModel(model, exhaustion_limit=lp_count).solve(required).solver_status.startswith("exhaustion")


def test_cuts_beyond_their_limit_leave_the_answer_to_the_milp():
    inst, model = _model(3)
    required = _targets(3, inst)
    covered = cuts_deter(model).solve(required)
    evaluations = _count_in(covered.solver_status)
    assert evaluations > 1
    short = DeterAllModel(model, exhaustion_limit=0, cut_limit=evaluations - 1)
    result = short.solve(required)
    assert result.solver_status == "optimal" and short._problem is not None
    assert result.cost == pytest.approx(covered.cost, abs=1e-9)
    exact = DeterAllModel(model, exhaustion_limit=0, cut_limit=evaluations + 1)
    assert exact.solve(required).solver_status.startswith("covering") and exact._problem is None


def test_cuts_are_not_tried_on_a_large_catalogue():
    """More than 64 controls fit on their own: the covering search would spend an LP per
    control and cut, so the MILP decides at once."""
    inst = and_or_case(1, sinks=1)
    copies = -(-65 // inst.cost.size)            # the catalogue repeated: more than 64 controls
    model = InterdictionModel(inst.network, inst.sinks, np.tile(inst.closes, (copies, 1)),
                              np.tile(inst.cost, copies), solver="HIGHS", time_limit=60)
    assert model.num_controls > 64
    required = _targets(1, inst)
    result = cuts_deter(model).solve(required)
    assert result.solver_status == "optimal"
    assert result.cost == pytest.approx(brute_force_min_cost(inst, required), abs=1e-9)


@pytest.mark.parametrize("name", ["exhaustion_limit", "cut_limit"])
@pytest.mark.parametrize("limit", [-1, 1.5, True])
def test_bad_limits_are_refused(limit, name):
    _, model = _model(0)
    with pytest.raises(ValueError, match=name):
        DeterAllModel(model, **{name: limit})


def test_limit_without_incumbent_is_a_typed_error(monkeypatch):
    """SCIP with its time limit already exceeded when it starts (deterministic, unlike a
    1 ms limit): no incumbent, a typed error with a hint."""
    limit_solver(monkeypatch, scip={"limits/time": 0.0})
    inst, model = _model(2)
    with pytest.raises(SolverError) as caught:
        milp_deter(model).solve(_targets(2, inst), solver="SCIP")
    assert caught.value.hint


def test_node_limited_solve_is_proven_only_if_optimal(monkeypatch):
    """HiGHS stopped after the root node: whatever it reports, it is proven only when optimal."""
    limit_solver(monkeypatch, highs={"mip_max_nodes": 1})
    inst, model = _model(2)
    result = milp_deter(model).solve(_targets(2, inst))
    assert result.status in {"optimal", "time_limit", "infeasible"}
    assert result.proven == (result.status in {"optimal", "infeasible"})


@pytest.mark.parametrize("seed", range(3))
def test_covering_master_is_the_cheapest_placement_meeting_every_cut(seed):
    """More cuts than the master's first cut matrix holds (it is rebuilt larger), with the
    budget and the collateral cap: the master's optimum equals brute force over every
    placement within them that meets every cut."""
    inst, _ = _model(seed)
    alone = inst.closes.astype(float) @ inst.collateral               # each control's own collateral
    cap = 2 * float(np.median(alone[alone > 0]))
    _, model = _model(seed, cap=cap)
    budget = float(inst.cost.sum() * 0.6)
    rng = np.random.default_rng(40 + seed)
    master = _CoveringMaster(model)
    allowed = rng.random(model.num_controls) < 0.9
    master.reset(allowed, budget)
    cuts = []
    for _ in range(_CUT_ROWS + 8):
        row = (rng.random(model.num_controls) < 0.5).astype(float)
        row[rng.integers(model.num_controls)] = 1.0
        cuts.append(row)
        master.add_cut(row, 1.0)
    expected = None
    for subset in placements_within(inst.cost, budget, inst.closes, inst.collateral, cap):
        x = np.isin(np.arange(model.num_controls), subset)
        if (x & ~allowed).any() or any(row @ x < 1 for row in cuts):
            continue
        cost = float(inst.cost[x].sum())
        expected = cost if expected is None else min(expected, cost)
    assert expected is not None, "some placement meets every cut (these seeds)"
    outcome = master.solve(solver="HIGHS", time_limit=60)
    assert outcome.proven
    chosen = np.asarray(master.x.value) > 0.5
    assert model.cost[chosen].sum() == pytest.approx(expected, abs=1e-9)
    assert model.feasible(chosen, budget) and not (chosen & ~allowed).any()
    assert all(row @ chosen >= 1 for row in cuts)


@pytest.mark.parametrize("seed", range(20))
def test_grown_placement_is_a_maximal_failing_one(seed):
    """Against a monotone rule (a placement fails while it holds fewer than k of a hidden
    set): the grown placement fails, adding any candidate left out makes it pass, and it
    holds the start."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 40))
    hidden = rng.random(n) < 0.5
    k = int(rng.integers(1, hidden.sum() + 2))

    def fails(placement):
        return int((placement & hidden).sum()) < k

    start = np.zeros(n, dtype=bool)
    start[rng.choice(n, size=min(n, int(rng.integers(0, 3))), replace=False)] = True
    start &= ~hidden if (start & hidden).sum() >= k else np.ones(n, dtype=bool)
    grown = start.copy()
    candidates = [int(c) for c in rng.permutation(np.flatnonzero(~start))]
    _grow_failing(grown, candidates, fails)
    assert fails(grown) and (grown >= start).all()
    for c in np.flatnonzero(~grown):
        more = grown.copy()
        more[c] = True
        assert not fails(more)


def test_a_master_placement_the_model_refuses_is_cut_off_with_its_supersets(monkeypatch):
    """The model's own budget/cap check is the arbiter: when it refuses the master's choice
    (as it may where solver tolerances differ), that placement and every one holding it are
    ruled out, and the search still returns the cheapest placement the check accepts."""
    inst, model = _model(1)
    required = _targets(1, inst)
    first = cuts_deter(model).solve(required)
    assert first.feasible and first.solver_status.startswith("covering cuts")
    refused = np.isin(np.arange(model.num_controls), first.chosen)
    accepts = model.feasible

    def feasible(chosen_mask, budget):
        chosen_mask = np.asarray(chosen_mask, dtype=bool)
        return accepts(chosen_mask, budget) and not (chosen_mask >= refused).all()

    monkeypatch.setattr(model, "feasible", feasible)
    second = cuts_deter(model).solve(required)
    nothing = np.zeros(inst.network.num_edges, bool)
    base = [plain_capability(inst.network, s, nothing) for s in inst.sinks]
    expected = None
    for subset in placements_within(inst.cost, inst.cost.sum()):
        x = np.isin(np.arange(model.num_controls), subset)
        if (x >= refused).all():
            continue
        closed = inst.closes[list(subset)].any(axis=0) if subset else nothing
        shares = [plain_capability(inst.network, s, closed) / b for s, b in zip(inst.sinks, base)]
        if all(share <= r + SHARE_TOLERANCE for share, r in zip(shares, required)):
            cost = float(inst.cost[x].sum())
            expected = cost if expected is None else min(expected, cost)
    assert expected is not None and expected > first.cost
    assert second.feasible and second.solver_status.startswith("covering cuts")
    assert second.cost == pytest.approx(expected, abs=1e-9)
    assert not (np.isin(np.arange(model.num_controls), second.chosen) >= refused).all()
