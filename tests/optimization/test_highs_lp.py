"""The reusing HiGHS LP interface gives bit-identical results to cvxpy's own HiGHS path.

Every capability LP of a run goes through :data:`optimization.highs_lp.REUSING_HIGHS_LP`;
HiGHS warm-starts each solve from the previous solution of the same problem, so the same
sequence of solves is replayed through both paths and every field compared bit for bit.
Problems whose matrix holds a parameter stay on cvxpy's path; a model that is not DPP is
refused when it is built.
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest

from chokepoint.analyses.placements import catalogue_arrays
from chokepoint.model.build import network_from_tables
from optimization.capability import CapabilityModel
from optimization.errors import ModelError
from optimization.highs_lp import CACHE_AFTER, REUSING_HIGHS_LP
from optimization.random_instances import layered_instance
from optimization.solvers import lp_solver_options, require_dpp, solver_options
from tests.support.instances import random_and_or_network


def _fields(result) -> tuple:
    return (result.value, result.status, result.production.tobytes(), result.flow.tobytes(),
            result.route_dual.tobytes(), result.duality_gap, result.max_residual)


def _replay(network, sequence, options) -> list[tuple]:
    """The sequence of (sink, route_open) solves on one capability model with ``options``."""
    model = CapabilityModel(network, solver="HIGHS", time_limit=60)
    model.options = options
    return [_fields(model.solve(sink, route_open)) for sink, route_open in sequence]


def _sequence(network, sinks, seed: int, length: int, closes=None) -> list:
    """Solves as the analyses make them: all open, routes closed by random placements,
    and some fractional capacities."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(length):
        if closes is not None and len(closes):
            closed = closes[rng.random(len(closes)) < 0.3].any(axis=0)
        else:
            closed = rng.random(network.num_edges) < 0.2
        route_open = (~closed).astype(np.float64)
        draw = rng.random()
        if draw < 0.15:
            route_open = None
        elif draw < 0.3:
            route_open = route_open * rng.random(network.num_edges)
        out.append((sinks[i % len(sinks)], route_open))
    return out


def _reused(model: CapabilityModel) -> bool:
    return bool(REUSING_HIGHS_LP._cached.get(model.problem._cache.param_prog))


@pytest.mark.parametrize("seed", range(4))
def test_random_networks_bit_identical(seed):
    network = random_and_or_network(seed, n=16)
    sequence = _sequence(network, [network.num_nodes - 1], seed, 25)
    plain = _replay(network, sequence, solver_options("HIGHS", 60))
    assert _replay(network, sequence, lp_solver_options("HIGHS", 60)) == plain


@pytest.mark.parametrize("seed", range(2))
def test_layered_instances_with_several_sinks_bit_identical(seed):
    inst = layered_instance(seed, layers=3, width=6, types=2, countries=4, sinks=2, num_controls=8)
    sequence = _sequence(inst.network, list(inst.sinks), seed, 30, closes=inst.closes)
    plain = _replay(inst.network, sequence, solver_options("HIGHS", 60))
    assert _replay(inst.network, sequence, lp_solver_options("HIGHS", 60)) == plain


def test_reference_network_bit_identical_and_reused(reference, scenario):
    network = network_from_tables(reference.countries, reference.input_types, reference.recipes,
                                  reference.capacities, scenario)
    sinks = [network.sink_of(network.actors.index(a.id)) for a in scenario.defectors]
    sequence = _sequence(network, sinks, 7, 40, closes=catalogue_arrays(network, scenario).closes)
    plain = _replay(network, sequence, solver_options("HIGHS", 60))
    model = CapabilityModel(network, solver="HIGHS", time_limit=60)
    reused = [_fields(model.solve(sink, route_open)) for sink, route_open in sequence]
    assert reused == plain
    assert _reused(model), "the capability LP should take the reusing path"


def test_parameter_in_the_matrix_stays_on_cvxpys_path():
    x = cp.Variable(3, nonneg=True)
    scale = cp.Parameter(3, nonneg=True)
    problem = require_dpp(cp.Problem(cp.Minimize(cp.sum(x)), [cp.multiply(scale, x) >= 1]), "test LP")
    for values in ([1.0, 2.0, 4.0], [2.0, 2.0, 0.5], [1.0, 1.0, 1.0]):
        scale.value = np.array(values)
        problem.solve(**lp_solver_options("HIGHS", 10))
        reused = problem.value
        problem.solve(**solver_options("HIGHS", 10))
        assert reused == problem.value
    assert REUSING_HIGHS_LP._cached.get(problem._cache.param_prog) is None  # the plain solve re-compiled it
    for _ in range(CACHE_AFTER):
        problem.solve(**lp_solver_options("HIGHS", 10))
    assert REUSING_HIGHS_LP._cached[problem._cache.param_prog] is False


def test_not_dpp_is_refused():
    x = cp.Variable()
    p = cp.Parameter(nonneg=True, value=2.0)
    with pytest.raises(ModelError, match="not DPP"):
        require_dpp(cp.Problem(cp.Minimize(p * p * x), [x >= 1]), "test model")
