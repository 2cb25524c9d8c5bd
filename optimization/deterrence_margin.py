"""Deterrence arithmetic: margins, thresholds and what leverage deters (``docs/design.md#51-deterrence-margin``).

``margin_d = p_d · V_d · L_d + B_d − G_d``; compliance is the dominant strategy iff the
margin is ≥ 0. Inverting it gives the leverage that deters, the capability target a
placement must reach, and the detection probability p* at which a given leverage
deters.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "deterrence_margin",
    "required_leverage",
    "threshold_detection_probability",
    "capability_target",
    "tornado",
]


def deterrence_margin(p, value, leverage, benefit, gain):
    """``p·V·L + B − G`` (broadcasts)."""
    return np.asarray(p) * np.asarray(value) * np.asarray(leverage) + np.asarray(benefit) - np.asarray(gain)


def required_leverage(p, value, benefit, gain):
    """Smallest leverage L ≥ 0 with margin ≥ 0: ``max(0, (G − B) / (p·V))``.

    ``inf`` when ``p·V = 0`` and ``G > B`` (no leverage deters); values above 1 are
    returned as they are (no placement can remove more than all capability, so such an
    actor cannot be deterred at this p).
    """
    p, value, benefit, gain = (np.asarray(x, dtype=np.float64) for x in (p, value, benefit, gain))
    need = gain - benefit
    with np.errstate(divide="ignore", invalid="ignore"):
        result = np.where(need <= 0, 0.0, np.where(p * value > 0, need / (p * value), np.inf))
    return result


def threshold_detection_probability(value, leverage, benefit, gain):
    """p* = (G − B) / (V·L): the detection probability at which the margin reaches 0.

    0 when B ≥ G (deterred at any p); ``inf`` when V·L = 0 and G > B; values above 1
    mean no detection probability suffices at this leverage.
    """
    value, leverage, benefit, gain = (np.asarray(x, dtype=np.float64) for x in (value, leverage, benefit, gain))
    need = gain - benefit
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(need <= 0, 0.0, np.where(value * leverage > 0, need / (value * leverage), np.inf))


def capability_target(baseline, leverage):
    """Capability a placement must not exceed to reach ``leverage``: ``C0 · (1 − L)``."""
    return np.asarray(baseline, dtype=np.float64) * (1.0 - np.clip(np.asarray(leverage, dtype=np.float64), 0.0, 1.0))


def tornado(base: dict[str, float], low: dict[str, float], high: dict[str, float], margin_of) -> list[dict]:
    """One-at-a-time sensitivity of the margin.

    Parameters
    ----------
    base : dict
        Base parameter values, e.g. ``{"p": .., "V": .., "L": .., "B": .., "G": ..}``.
    low, high : dict
        For each parameter to vary, its low and high value (others stay at base).
    margin_of : callable(dict) -> float

    Returns
    -------
    list of dict
        ``parameter, low_value, high_value, margin_low, margin_high, swing`` sorted by
        swing (largest first), the order of a tornado chart.
    """
    base_margin = float(margin_of(base))
    rows = []
    for name in low:
        m_low = float(margin_of({**base, name: low[name]}))
        m_high = float(margin_of({**base, name: high[name]}))
        rows.append({"parameter": name, "low_value": float(low[name]), "high_value": float(high[name]),
                     "margin_low": m_low, "margin_high": m_high, "base_margin": base_margin,
                     "swing": abs(m_high - m_low)})
    return sorted(rows, key=lambda r: (-r["swing"], r["parameter"]))
