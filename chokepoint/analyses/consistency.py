"""Cross-checks of a chokepoint table: the AND/OR propagation, the OR skeleton and the LP agree.

The rules behind the asset checks ``chokepoints_consistent`` and
``synthetic_chokepoints_consistent``.
"""

from __future__ import annotations

import polars as pl

__all__ = ["LOSS_TOLERANCE", "consistency", "inconsistencies"]

#: LP values agree with the AND/OR propagation and the bounds up to this tolerance.
LOSS_TOLERANCE = 1e-6

#: Counts of :func:`consistency` that must be zero; the second only where removal losses
#: were required for every single point of failure.
_ALWAYS = ("spof_with_loss_below_1", "dominator_not_spof", "losses_outside_0_1", "losses_outside_bounds")
_WITH_LOSSES = ("spof_without_loss",)


def consistency(frame: pl.DataFrame, tolerance: float = LOSS_TOLERANCE) -> dict:
    """Cross-checks between the AND/OR propagation, the OR skeleton and the LP.

    Parameters
    ----------
    frame : polars.DataFrame
        A chokepoint table (``defector``, ``entity_type``, ``entity``, ``metric``, ``value``;
        ``horizon`` where it reports several).
    tolerance : float
        Slack allowed on losses and bounds.

    Returns
    -------
    dict
        Counts of: single points of failure whose LP removal loss is below 1
        (``spof_with_loss_below_1``) or missing while bounds exist (``spof_without_loss``);
        OR-skeleton dominators that are not AND/OR single points of failure
        (``dominator_not_spof``); removal losses outside [0, 1] (``losses_outside_0_1``) or
        outside their own dual/flow bounds (``losses_outside_bounds``); and, for scale,
        ``single_points_of_failure`` and ``exact_removal_losses``.
    """
    index = [c for c in ("horizon", "defector", "entity_type", "entity") if c in frame.columns]
    wide = frame.pivot(on="metric", index=index, values="value")
    for column in ("removal_loss", "loss_lower_bound", "loss_upper_bound", "single_point_of_failure", "or_dominator"):
        if column not in wide.columns:
            wide = wide.with_columns(pl.lit(None, dtype=pl.Float64).alias(column))
    loss = pl.col("removal_loss")
    return {
        "spof_with_loss_below_1": wide.filter((pl.col("single_point_of_failure") == 1)
                                              & (loss < 1 - tolerance)).height,
        "spof_without_loss": wide.filter((pl.col("single_point_of_failure") == 1) & loss.is_null()
                                         & pl.col("loss_upper_bound").is_not_null()).height,
        "dominator_not_spof": wide.filter((pl.col("or_dominator") == 1)
                                          & (pl.col("single_point_of_failure") != 1)).height,
        "losses_outside_0_1": wide.filter((loss < -tolerance) | (loss > 1 + tolerance)).height,
        "losses_outside_bounds": wide.filter((loss < pl.col("loss_lower_bound") - tolerance)
                                             | (loss > pl.col("loss_upper_bound") + tolerance)).height,
        "single_points_of_failure": wide.filter(pl.col("single_point_of_failure") == 1).height,
        "exact_removal_losses": wide.filter(loss.is_not_null()).height,
    }


def inconsistencies(found: dict, *, losses_required: bool = True) -> list[str]:
    """The failed cross-checks among :func:`consistency`'s counts.

    Parameters
    ----------
    found : dict
        :func:`consistency` of a table.
    losses_required : bool
        Whether every single point of failure must have an exact removal loss (the
        country-level table); False where the LP is optional (the synthetic network).
    """
    keys = (_ALWAYS[:1] + _WITH_LOSSES + _ALWAYS[1:]) if losses_required else _ALWAYS
    return [key for key in keys if found[key]]
