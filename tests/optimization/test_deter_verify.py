"""Controls and verification chosen together (``DeterVerifyModel``): both paths (mechanism
subsets over deter-all, and the McCormick MILP) equal brute force over every (placement,
mechanism set) on small random AND/OR instances, with capabilities from an independent scipy
LP; detection never falls with more coverage; the McCormick product is exact."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from optimization.deter_all import MARGIN_TOLERANCE, DeterAllModel, DeterVerifyModel, detection_with
from optimization.errors import SolverError
from optimization.interdiction import InterdictionModel
from tests.support.instances import and_or_case
from tests.support.oracles import plain_capability
from tests.support.solver_limits import limit_solver

SEEDS = range(4)
#: The two paths of a joint solve: by mechanism subsets (the default) and by the MILP.
PATHS = {"subsets": {}, "milp": {"subset_limit": 0}}


def milp_deter_verify(model, mechanism_cost, coverage) -> DeterVerifyModel:
    return DeterVerifyModel(model, mechanism_cost, coverage, subset_limit=0)


def _case(seed, sinks=2, mechanisms=3):
    inst = and_or_case(seed, sinks=sinks, num_controls=6)
    rng = np.random.default_rng(900 + seed)
    model = InterdictionModel(inst.network, inst.sinks, inst.closes, inst.cost, solver="HIGHS", time_limit=60)
    mechanism_cost = rng.uniform(0.2, 2.0, size=mechanisms).round(2)
    coverage = rng.uniform(0.0, 0.6, size=(mechanisms, len(inst.sinks))).round(2)
    coverage[rng.random(coverage.shape) < 0.2] = 0.0
    detection = rng.uniform(0.1, 0.7, size=len(inst.sinks)).round(2)
    return inst, model, mechanism_cost, coverage, detection


def _leverages(inst):
    """Exact leverage of every placement, per sink, from the plain scipy LP."""
    nothing = np.zeros(inst.network.num_edges, bool)
    base = np.array([plain_capability(inst.network, s, nothing) for s in inst.sinks])
    out = {}
    for r in range(inst.cost.size + 1):
        for subset in itertools.combinations(range(inst.cost.size), r):
            closed = inst.closes[list(subset)].any(axis=0) if subset else nothing
            after = np.array([plain_capability(inst.network, s, closed) for s in inst.sinks])
            out[subset] = np.where(base > 0, 1.0 - after / np.where(base > 0, base, 1.0), 0.0)
    return out


def brute_force(inst, leverages, mechanism_cost, coverage, detection, need, budget=math.inf):
    """Cheapest (controls, mechanisms) with p(y)·L(x) ≥ need for every sink, by enumeration."""
    best = None
    m = mechanism_cost.size
    for subset, leverage in leverages.items():
        for bits in itertools.product([False, True], repeat=m):
            y = np.array(bits, dtype=bool)
            cost = float(inst.cost[list(subset)].sum() + mechanism_cost[y].sum())
            if cost > budget + 1e-9 or (best is not None and cost >= best - 1e-12):
                continue
            miss = np.prod([1.0 - coverage[j] if y[j] else np.ones(len(inst.sinks)) for j in range(m)], axis=0) \
                if m else np.ones(len(inst.sinks))
            p = 1.0 - (1.0 - detection) * miss
            if (p * leverage >= need - MARGIN_TOLERANCE).all():
                best = cost
    return best


def _need(seed, leverages, coverage, detection):
    """Targets between 'nothing' and 'everything' so that most instances need a mix."""
    rng = np.random.default_rng(700 + seed)
    top = max(leverages.values(), key=lambda v: float(v.sum()))
    p_max = detection_with(detection, coverage, np.ones(coverage.shape[0], bool))
    return rng.uniform(0.2, 0.9, size=detection.size) * p_max * top


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("seed", SEEDS)
def test_joint_choice_equals_brute_force(seed, path):
    inst, model, mechanism_cost, coverage, detection = _case(seed)
    leverages = _leverages(inst)
    need = _need(seed, leverages, coverage, detection)
    result = DeterVerifyModel(model, mechanism_cost, coverage, **PATHS[path]).solve(detection, need)
    assert result.solver_status.startswith("mechanism subsets") == (path == "subsets")
    expected = brute_force(inst, leverages, mechanism_cost, coverage, detection, need)
    assert expected is not None
    assert result.feasible and result.proven
    assert result.cost == pytest.approx(expected, abs=1e-7)
    assert result.target_met.all()
    # The reported detection is the product formula of the chosen mechanisms.
    chosen = np.zeros(mechanism_cost.size, bool)
    chosen[result.mechanisms] = True
    assert result.detection == pytest.approx(detection_with(detection, coverage, chosen))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("seed", range(4))
def test_budget_and_no_mechanisms_equal_brute_force(seed, path):
    inst, model, mechanism_cost, coverage, detection = _case(seed)
    leverages = _leverages(inst)
    need = _need(seed, leverages, coverage, detection)
    options = PATHS[path]
    for fraction in (1 / 3, 1 / 6):
        budget = float((inst.cost.sum() + mechanism_cost.sum()) * fraction)
        result = DeterVerifyModel(model, mechanism_cost, coverage, **options).solve(detection, need, budget=budget)
        expected = brute_force(inst, leverages, mechanism_cost, coverage, detection, need, budget=budget)
        assert result.feasible == (expected is not None)
        if expected is not None:
            assert result.cost == pytest.approx(expected, abs=1e-7) and result.cost <= budget + 1e-9
    # Without mechanisms the model is deter-all in margin form: sanctions alone.
    none = DeterVerifyModel(model, np.zeros(0), np.zeros((0, len(inst.sinks))), **options).solve(detection, need)
    alone = brute_force(inst, leverages, np.zeros(0), np.zeros((0, len(inst.sinks))), detection, need)
    assert none.feasible == (alone is not None)
    if alone is not None:
        assert none.cost == pytest.approx(alone, abs=1e-7)
        # Verification can only make deterrence cheaper.
        joint = DeterVerifyModel(model, mechanism_cost, coverage, **options).solve(detection, need)
        assert joint.cost <= none.cost + 1e-9


def test_subsets_stop_once_no_subset_can_be_cheaper():
    """Mechanisms dearer than every control together, and targets controls alone can meet:
    the empty subset settles it and no other subset is solved."""
    inst, model, _, coverage, detection = _case(0, mechanisms=6)
    leverages = _leverages(inst)
    everything = leverages[tuple(range(inst.cost.size))]
    need = 0.5 * detection * everything              # half of what every control achieves alone
    costly = np.full(6, 100.0)                      # dearer than every control together
    result = DeterVerifyModel(model, costly, coverage).solve(detection, need)
    assert result.solver_status.startswith("mechanism subsets")
    solved = int(result.solver_status.split("cheapest of ")[1].split()[0])
    expected = brute_force(inst, leverages, costly, coverage, detection, need)
    assert result.cost == pytest.approx(expected, abs=1e-7)
    assert expected < 100, "controls alone deter here (the case this test is about)"
    assert solved == 1 and result.mechanisms.size == 0, result.solver_status


def test_more_mechanisms_than_the_subset_limit_go_to_the_milp():
    inst, model, mechanism_cost, coverage, detection = _case(2)
    need = _need(2, _leverages(inst), coverage, detection)
    by_subsets = DeterVerifyModel(model, mechanism_cost, coverage, subset_limit=mechanism_cost.size)
    by_milp = DeterVerifyModel(model, mechanism_cost, coverage, subset_limit=mechanism_cost.size - 1)
    first, second = by_subsets.solve(detection, need), by_milp.solve(detection, need)
    assert first.solver_status.startswith("mechanism subsets") and by_subsets._problem is None
    assert not second.solver_status.startswith("mechanism subsets") and by_milp._problem is not None
    assert first.cost == pytest.approx(second.cost, abs=1e-7)


@pytest.mark.parametrize("limit", [-1, 2.5, True])
def test_bad_subset_limit_refused(limit):
    _, model, mechanism_cost, coverage, _ = _case(0)
    with pytest.raises(ValueError, match="subset_limit"):
        DeterVerifyModel(model, mechanism_cost, coverage, subset_limit=limit)


def test_deter_all_of_another_model_refused():
    inst, model, mechanism_cost, coverage, _ = _case(0)
    other = InterdictionModel(inst.network, inst.sinks, inst.closes, inst.cost, solver="HIGHS", time_limit=60)
    with pytest.raises(ValueError, match="deter_all"):
        DeterVerifyModel(model, mechanism_cost, coverage, deter_all=DeterAllModel(other))


def test_more_coverage_never_lowers_detection():
    rng = np.random.default_rng(3)
    for _ in range(200):
        detection = rng.uniform(0, 1, size=3)
        coverage = rng.uniform(0, 1, size=(4, 3))
        chosen = rng.random(4) < 0.5
        more = np.minimum(coverage + rng.uniform(0, 0.3, size=coverage.shape), 1.0)
        assert (detection_with(detection, more, chosen) >= detection_with(detection, coverage, chosen) - 1e-15).all()
        extra = chosen | (rng.random(4) < 0.5)
        assert (detection_with(detection, coverage, extra) >= detection_with(detection, coverage, chosen) - 1e-15).all()
        assert (detection_with(detection, coverage, chosen) >= detection - 1e-15).all()


@pytest.mark.parametrize("path", PATHS)
def test_nothing_needed_and_unreachable_targets(path):
    inst, model, mechanism_cost, coverage, detection = _case(1)
    deter = DeterVerifyModel(model, mechanism_cost, coverage, **PATHS[path])
    free = deter.solve(detection, np.zeros(len(inst.sinks)))
    assert free.feasible and free.cost == 0.0 and free.chosen.size == 0 and free.mechanisms.size == 0
    impossible = deter.solve(detection, np.full(len(inst.sinks), 1.5))     # p·L ≤ 1 < 1.5
    assert not impossible.feasible and impossible.status == "infeasible"


@pytest.mark.parametrize("bad", [{"mechanism_cost": [-1.0, 1.0, 1.0]}, {"coverage": 1.5}, {"coverage": -0.1}])
def test_bad_mechanisms_refused(bad):
    inst, model, mechanism_cost, coverage, _ = _case(0)
    cost = np.asarray(bad.get("mechanism_cost", mechanism_cost))
    cover = np.full_like(coverage, bad["coverage"]) if "coverage" in bad else coverage
    with pytest.raises(ValueError):
        DeterVerifyModel(model, cost, cover)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("seed", [1, 3])
def test_scip_agrees_with_brute_force(seed, path):
    inst, _, mechanism_cost, coverage, detection = _case(seed)
    model = InterdictionModel(inst.network, inst.sinks, inst.closes, inst.cost, solver="SCIP", time_limit=60)
    leverages = _leverages(inst)
    need = _need(seed, leverages, coverage, detection)
    result = DeterVerifyModel(model, mechanism_cost, coverage, **PATHS[path]).solve(detection, need)
    expected = brute_force(inst, leverages, mechanism_cost, coverage, detection, need)
    assert result.feasible and result.proven and result.cost == pytest.approx(expected, abs=1e-7)


def test_time_limit_without_incumbent_is_a_typed_error(monkeypatch):
    """SCIP with its time limit already exceeded: no incumbent, a typed error with a hint."""
    limit_solver(monkeypatch, scip={"limits/time": 0.0})
    inst, _, mechanism_cost, coverage, detection = _case(1)
    model = InterdictionModel(inst.network, inst.sinks, inst.closes, inst.cost, solver="SCIP", time_limit=60)
    need = _need(1, _leverages(inst), coverage, detection)
    with pytest.raises(SolverError) as caught:
        milp_deter_verify(model, mechanism_cost, coverage).solve(detection, need)
    assert caught.value.hint


def test_node_limited_solve_is_proven_only_if_optimal(monkeypatch):
    limit_solver(monkeypatch, highs={"mip_max_nodes": 1})
    inst, model, mechanism_cost, coverage, detection = _case(3)
    need = _need(3, _leverages(inst), coverage, detection)
    result = milp_deter_verify(model, mechanism_cost, coverage).solve(detection, need)
    assert result.proven == (result.status in {"optimal", "infeasible"})
    if result.feasible:
        assert result.target_met.all()
