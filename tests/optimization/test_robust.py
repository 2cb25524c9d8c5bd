"""Sample-average and CVaR interdiction MILPs against brute force on small instances: every
placement within budget (and collateral cap) evaluated on every training sample with an
independent LP (scipy's linprog written from the model's definition)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from graph.network import PRODUCER
from optimization.errors import ModelError, SolverLimitError
from optimization.robust import RobustPlacementModel, cvar
from tests.support.instances import and_or_case
from tests.support.oracles import placements_within, plain_capability

#: Two seeds in the default run, more with ``make test-slow``.
SEEDS = [0, 1] + [pytest.param(s, marks=pytest.mark.slow) for s in range(2, 6)]


def _samples(network, count: int, seed: int):
    """Networks with the same routes and producer capacities scaled by factors in [0.3, 1.7]."""
    rng = np.random.default_rng(seed)
    producers = network.node_kind == PRODUCER
    out = []
    for _ in range(count):
        factor = np.where(producers, rng.uniform(0.3, 1.7, network.num_nodes), 1.0)
        out.append(dataclasses.replace(network, node_capacity=network.node_capacity * factor))
    return out


def _brute_force(networks, sinks, closes, cost, budget, alpha, collateral=None, cap=math.inf):
    base = [[plain_capability(net, s, np.zeros(net.num_edges, bool)) for s in sinks] for net in networks]
    best = {"mean": math.inf, "cvar": math.inf}
    for subset in placements_within(cost, budget, closes, collateral, cap):
        closed = closes[list(subset)].any(axis=0) if subset else np.zeros(closes.shape[1], bool)
        shares = []
        for net, c0 in zip(networks, base):
            values = [plain_capability(net, s, closed) / b for s, b in zip(sinks, c0) if b > 0]
            shares.append(np.mean(values) if values else 0.0)
        best["mean"] = min(best["mean"], float(np.mean(shares)))
        best["cvar"] = min(best["cvar"], cvar(np.array(shares), alpha))
    return best


@pytest.mark.parametrize("seed", SEEDS)
def test_sample_average_and_cvar_placements_equal_brute_force(seed):
    inst = and_or_case(seed, sinks=2)
    networks = _samples(inst.network, 3, seed)
    budget, alpha = 3.0, 0.34
    expected = _brute_force(networks, inst.sinks, inst.closes, inst.cost, budget, alpha)
    model = RobustPlacementModel(networks, inst.sinks, inst.closes, inst.cost, solver="HIGHS", time_limit=60,
                                 alpha=alpha)
    for kind in ("mean", "cvar"):
        result = model.solve(kind, budget)
        assert result.optimal, result.status
        assert result.objective == pytest.approx(expected[kind], abs=1e-6)
        assert result.cost <= budget + 1e-9
        assert result.bound <= result.objective + 1e-9
    # A larger budget never leaves more (the MILP is re-solved with a new parameter value).
    assert model.solve("mean", budget + 2).objective <= model.solve("mean", budget).objective + 1e-9


def test_collateral_cap_is_respected_as_in_brute_force():
    inst = and_or_case(1, sinks=2)
    networks = _samples(inst.network, 2, 5)
    cap = 0.5
    expected = _brute_force(networks, inst.sinks, inst.closes, inst.cost, 4.0, 0.5, inst.collateral, cap)
    model = RobustPlacementModel(networks, inst.sinks, inst.closes, inst.cost, collateral=inst.collateral,
                                 collateral_cap=cap, solver="HIGHS", time_limit=60, alpha=0.5)
    assert model.solve("mean", 4.0).objective == pytest.approx(expected["mean"], abs=1e-6)
    assert model.solve("cvar", 4.0).objective == pytest.approx(expected["cvar"], abs=1e-6)


def test_cvar_definition():
    values = np.array([0.1, 0.9, 0.5, 0.3])
    assert cvar(values, 0.25) == pytest.approx(0.9)
    assert cvar(values, 0.5) == pytest.approx(0.7)
    assert cvar(values, 1.0) == pytest.approx(values.mean())
    assert cvar(values, 0.375) == pytest.approx((0.9 + 0.5 * 0.5) / 1.5)


def test_samples_must_share_routes_and_models_are_dpp(monkeypatch):
    inst = and_or_case(0)
    other = and_or_case(1)
    with pytest.raises(ValueError, match="route structure"):
        RobustPlacementModel([inst.network, other.network], inst.sinks, inst.closes, inst.cost)
    monkeypatch.setattr("cvxpy.Problem.is_dpp", lambda self, *a, **k: False)
    with pytest.raises(ModelError, match="not DPP"):
        RobustPlacementModel([inst.network], inst.sinks, inst.closes, inst.cost)


def test_no_incumbent_in_time_falls_back_to_the_best_candidate(monkeypatch):
    inst = and_or_case(0, sinks=2)
    networks = _samples(inst.network, 2, 1)
    model = RobustPlacementModel(networks, inst.sinks, inst.closes, inst.cost, solver="HIGHS", time_limit=60)
    best = model.solve("mean", 3.0)

    def no_incumbent(*args, **kwargs):
        raise SolverLimitError("MILP", "user_limit", "no incumbent")

    monkeypatch.setattr("optimization.robust.solve_milp", no_incumbent)
    mask = np.isin(np.arange(model.num_controls), best.chosen)
    fallback = model.solve("mean", 3.0, candidates=[mask])
    assert (fallback.status, fallback.optimal, fallback.bound) == ("time_limit", False, 0.0)
    assert fallback.objective == pytest.approx(best.objective)
    empty = model.solve("mean", 3.0)
    assert empty.chosen.size == 0 and empty.objective == pytest.approx(1.0)
