"""Verification on the status_quo scenario: detection never falls, verification never makes
deterring dearer, the sanctions-only cost equals the deter-all MILP of §5.3 in its share
form (an independent formulation), and the verdicts follow from the costs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from chokepoint.analyses.placements import placement_models
from chokepoint.analyses.verification import verification_table
from optimization.deter_all import DeterAllModel, detection_with
from tests.support.status_quo import status_quo_setup

# In the default run: the 2 + 2·D joint solves take ≈ 1.3 s by mechanism subsets (≈ 40 s as MILPs).


@pytest.fixture(scope="module")
def setup(reference):
    scenario, network, baseline, capability = status_quo_setup(reference)
    frame = verification_table(network, scenario, capability=capability, solver="HIGHS", time_limit=60,
                               baseline_closed=baseline.closed)
    return scenario, network, baseline, capability, frame


def test_rows_detection_and_costs(setup):
    scenario, _, _, _, frame = setup
    assert frame.height == len(scenario.verification) * len(scenario.defectors)
    assert (frame["detection_after"] >= frame["detection_before"] - 1e-12).all()
    assert frame["proven"].all()
    for row in frame.iter_rows(named=True):
        actor = scenario.actor(row["actor"])
        mechanism = next(m for m in scenario.verification if m.id == row["mechanism"])
        assert row["coverage"] == mechanism.coverage.get(actor.id, 0.0) and row["cost"] == mechanism.cost
        if row["sanctions_cost"] is not None:
            # Verification can only make deterring cheaper, and sanctions-deterrable implies deterrable.
            assert row["joint_cost"] is not None and row["joint_cost"] <= row["sanctions_cost"] + 1e-9
        assert row["verification_cheaper"] == (row["joint_cost"] is not None and (
            row["sanctions_cost"] is None or row["joint_cost"] < row["sanctions_cost"] - 1e-9))
        assert row["gap_closed_by_verification"] == (row["deterrable_with_verification"]
                                                     and not row["deterrable_by_sanctions"])
    # detection_after is the product formula of the mechanisms chosen for all defectors.
    defectors = [a.id for a in scenario.defectors]
    chosen = np.array([bool(frame.filter((frame["mechanism"] == m.id))["chosen"][0]) for m in scenario.verification])
    coverage = np.array([[m.coverage.get(d, 0.0) for d in defectors] for m in scenario.verification])
    p0 = np.array([scenario.actor(d).detection_probability for d in defectors])
    expected = detection_with(p0, coverage, chosen)
    for k, d in enumerate(defectors):
        assert frame.filter(frame["actor"] == d)["detection_after"][0] == pytest.approx(expected[k])


def test_sanctions_cost_equals_deter_all_share_form(setup):
    scenario, network, baseline, capability, frame = setup
    models = placement_models(network, scenario, solver="HIGHS", time_limit=60, capability=capability, joint=True,
                              baseline_closed=baseline.closed)
    deter = DeterAllModel(models["ALL"])
    defectors = [a.id for a in scenario.defectors]
    for k, d in enumerate(defectors):
        row = frame.filter(frame["actor"] == d).row(0, named=True)
        if not row["deterrable_by_sanctions"]:
            assert row["sanctions_cost"] is None
            continue
        actor = scenario.actor(d)
        needed = (actor.first_mover_gain - actor.benefit_of_compliance) / (
            actor.detection_probability * actor.value_of_capability)
        required = np.ones(len(defectors))
        required[k] = 1.0 - min(max(needed, 0.0), 1.0)
        result = deter.solve(required, budget=math.inf, time_limit=60)
        assert result.feasible and result.proven
        assert row["sanctions_cost"] == pytest.approx(result.cost, abs=1e-7)
