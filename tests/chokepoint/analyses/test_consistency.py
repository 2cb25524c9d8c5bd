"""Cross-checks of a chokepoint table (moved out of the asset module), on a small table."""

from __future__ import annotations

import polars as pl

from chokepoint.analyses.consistency import consistency, inconsistencies


def table(rows):
    return pl.DataFrame([{"defector": "CHN", "entity_type": "node", "entity": e, "metric": m, "value": v}
                         for e, m, v in rows])


def test_consistent_table_passes():
    found = consistency(table([("a", "single_point_of_failure", 1.0), ("a", "removal_loss", 1.0),
                               ("a", "loss_lower_bound", 0.9), ("a", "loss_upper_bound", 1.0),
                               ("a", "or_dominator", 1.0), ("b", "single_point_of_failure", 0.0),
                               ("b", "removal_loss", 0.2), ("b", "loss_lower_bound", 0.1),
                               ("b", "loss_upper_bound", 0.3)]))
    assert inconsistencies(found) == []
    assert (found["single_points_of_failure"], found["exact_removal_losses"]) == (1, 2)


def test_each_disagreement_is_counted():
    found = consistency(table([("a", "single_point_of_failure", 1.0), ("a", "removal_loss", 0.5),
                               ("b", "or_dominator", 1.0), ("b", "single_point_of_failure", 0.0),
                               ("c", "removal_loss", 0.9), ("c", "loss_upper_bound", 0.5),
                               ("d", "single_point_of_failure", 1.0), ("d", "loss_upper_bound", 1.0)]))
    assert inconsistencies(found) == ["spof_with_loss_below_1", "spof_without_loss", "dominator_not_spof",
                                      "losses_outside_bounds"]
    # Where the LP is optional (synthetic network), a missing loss is no failure.
    assert "spof_without_loss" not in inconsistencies(found, losses_required=False)
