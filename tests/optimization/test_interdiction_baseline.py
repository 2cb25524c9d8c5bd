"""Interdiction marginal to a baseline placement: equals brute force over every affordable
placement with the baseline's routes closed too (independent scipy LP); no baseline and an
empty baseline give the model without one."""

from __future__ import annotations

import numpy as np
import pytest

from optimization.interdiction import InterdictionModel
from tests.support.instances import and_or_case
from tests.support.oracles import placements_within, plain_capability


def _baseline(seed, inst):
    rng = np.random.default_rng(40 + seed)
    return rng.random(inst.network.num_edges) < 0.15


@pytest.mark.parametrize("enumeration_limit", [0, 1_000])
@pytest.mark.parametrize("seed", range(4))
def test_marginal_placement_equals_brute_force(seed, enumeration_limit):
    """By the MILP (its dual blocks price the baseline's routes at zero) and by exhaustion."""
    inst = and_or_case(seed, sinks=2, num_controls=7)
    closed0 = _baseline(seed, inst)
    model = InterdictionModel(inst.network, inst.sinks, inst.closes, inst.cost, solver="HIGHS", time_limit=60,
                              baseline_closed=closed0, enumeration_limit=enumeration_limit)
    budget = float(inst.cost.sum() / 2)
    result = model.solve(budget)
    assert result.method == ("milp" if enumeration_limit == 0 else "enumeration")
    before = np.array([plain_capability(inst.network, s, closed0) for s in inst.sinks])
    assert result.capability_before == pytest.approx(before, rel=1e-7, abs=1e-7)
    best = np.inf
    for subset in placements_within(inst.cost, budget, inst.closes):
        closed = closed0 | (inst.closes[list(subset)].any(axis=0) if subset else False)
        shares = [plain_capability(inst.network, s, closed) / b for s, b in zip(inst.sinks, before) if b > 0]
        best = min(best, float(np.mean(shares)) if shares else 0.0)
    assert result.optimal and result.objective == pytest.approx(best, abs=1e-6)
    assert (result.leverage >= -1e-12).all()


def test_empty_baseline_is_the_plain_model():
    inst = and_or_case(3, sinks=2, num_controls=7)
    plain = InterdictionModel(inst.network, inst.sinks, inst.closes, inst.cost, collateral=inst.collateral,
                              solver="HIGHS", time_limit=60, enumeration_limit=0)
    empty = InterdictionModel(inst.network, inst.sinks, inst.closes, inst.cost, collateral=inst.collateral,
                              solver="HIGHS", time_limit=60, enumeration_limit=0,
                              baseline_closed=np.zeros(inst.network.num_edges, bool))
    budget = float(inst.cost.sum() / 3)
    a, b = plain.solve(budget), empty.solve(budget)
    assert a.objective == pytest.approx(b.objective, abs=1e-9) and list(a.chosen) == list(b.chosen)
    assert a.collateral == pytest.approx(b.collateral)
    assert plain.baseline_closed is None


def test_bad_baseline_shape_refused():
    inst = and_or_case(0, sinks=1, num_controls=3)
    with pytest.raises(ValueError, match="baseline_closed"):
        InterdictionModel(inst.network, inst.sinks, inst.closes, inst.cost, baseline_closed=np.zeros(3, bool))
