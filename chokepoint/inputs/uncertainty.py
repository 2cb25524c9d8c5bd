"""Distributions of uncertain inputs, as a scenario file declares them (``docs/design.md#12-uncertainty``).

A scenario's ``[uncertainty]`` section gives a distribution to actor parameters, to
settings and to data rows by provenance::

    [uncertainty.actors.CHN]
    detection_probability = { dist = "triangular", low = 0.5, mode = 0.7, high = 0.9 }
    first_mover_gain = { dist = "lognormal", median = 150.0, sigma = 0.3, low = 80.0, high = 300.0 }
    [uncertainty.settings]
    cloud_access_fraction = { dist = "uniform", low = 0.05, high = 0.20 }
    [uncertainty.transit]
    MYS = { dist = "uniform", low = 0.0, high = 0.02 }
    [uncertainty.data]               # multiplicative factors on data rows, by provenance
    observed_share = { dist = "uniform", low = 0.95, high = 1.05 }
    imputed_share = { dist = "lognormal", median = 1.0, sigma = 0.3, low = 0.5, high = 2.0 }
    estimate_coefficient = { dist = "triangular", low = 0.8, mode = 1.0, high = 1.25 }

Every distribution is bounded: ``uniform`` (``low``, ``high``), ``triangular`` (``low``,
``mode``, ``high``) and ``lognormal`` (``median``, ``sigma``, truncated to ``low``,
``high``). Data factors without a declaration get the defaults of :data:`DATA_DEFAULTS`.
Parsing errors name the file, the table with its line and the key (via the ``fail``
callback of the scenario reader).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.special import ndtr, ndtri

__all__ = ["Distribution", "UncertaintySpec", "DISTRIBUTIONS", "ACTOR_PARAMETERS", "SETTINGS_PARAMETERS",
           "DATA_FACTORS", "DATA_DEFAULTS", "parse_distribution", "parse_uncertainty", "row_range"]

DISTRIBUTIONS = ("uniform", "triangular", "lognormal")
#: Actor parameters that may be uncertain, with their admissible range.
ACTOR_PARAMETERS = {"detection_probability": (0.0, 1.0), "value_of_capability": (0.0, math.inf),
                    "first_mover_gain": (0.0, math.inf), "benefit_of_compliance": (0.0, math.inf)}
#: Settings that may be uncertain (fractions).
SETTINGS_PARAMETERS = {"cloud_access_fraction": (0.0, 1.0)}
#: Data factors by provenance: multiplicative factors on shares and recipe coefficients.
DATA_FACTORS = ("observed_share", "imputed_share", "estimate_coefficient", "observed_coefficient")


@dataclass(frozen=True)
class Distribution:
    """A bounded distribution of one uncertain quantity.

    ``kind`` is one of :data:`DISTRIBUTIONS`; ``low`` and ``high`` bound every draw;
    ``mode`` (triangular) or ``median``, ``sigma`` (log-normal, truncated to the bounds).
    """

    kind: str
    low: float
    high: float
    mode: float = math.nan
    median: float = math.nan
    sigma: float = math.nan

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Quantile function at ``u`` ∈ [0, 1] (inverse-CDF sampling: draws are ``ppf(U)``).

        Notes
        -----
        Closed forms, O(n) for n values: uniform ``low + u·(high − low)``; triangular the
        two-piece inverse; truncated log-normal ``median · exp(σ Φ⁻¹(F_lo + u (F_hi − F_lo)))``
        with ``F`` the log-normal CDF at the bounds, so every draw lies within the bounds.
        """
        u = np.clip(np.asarray(u, dtype=np.float64), 0.0, 1.0)
        lo, hi = self.low, self.high
        if self.kind == "uniform":
            return lo + u * (hi - lo)
        if self.kind == "triangular":
            if hi <= lo:
                return np.full_like(u, lo)
            split = (self.mode - lo) / (hi - lo)
            left = lo + np.sqrt(u * (hi - lo) * (self.mode - lo))
            right = hi - np.sqrt((1.0 - u) * (hi - lo) * (hi - self.mode))
            return np.clip(np.where(u < split, left, right), lo, hi)
        # lognormal, truncated to [low, high]
        f_lo = ndtr((math.log(lo) - math.log(self.median)) / self.sigma) if lo > 0 else 0.0
        f_hi = ndtr((math.log(hi) - math.log(self.median)) / self.sigma) if math.isfinite(hi) else 1.0
        z = ndtri(np.clip(f_lo + u * (f_hi - f_lo), 1e-300, 1.0 - 1e-16))
        return np.clip(self.median * np.exp(self.sigma * z), lo, hi)

    @property
    def centre(self) -> float:
        """Mode (triangular), median (log-normal) or midpoint (uniform)."""
        if self.kind == "triangular":
            return self.mode
        if self.kind == "lognormal":
            return self.median
        return 0.5 * (self.low + self.high)


#: Default factor distributions of data rows by provenance (``[uncertainty.data]`` overrides):
#: observed shares ±5 %, imputed shares log-normal (σ 0.3) within ×0.5–×2, recipe
#: coefficients marked ``estimate:`` triangular −20 %…+25 %, observed coefficients fixed.
#: Reference figures with their own low–high range (short-run utilisations and lead times)
#: are drawn within it instead (:func:`row_range`).
DATA_DEFAULTS = {
    "observed_share": Distribution("uniform", 0.95, 1.05),
    "imputed_share": Distribution("lognormal", 0.5, 2.0, median=1.0, sigma=0.3),
    "estimate_coefficient": Distribution("triangular", 0.8, 1.25, mode=1.0),
    "observed_coefficient": Distribution("uniform", 1.0, 1.0),
}


def row_range(low, value, high) -> Distribution | None:
    """A reference figure's own range as a triangular distribution (mode: the figure), or
    None (fixed) when the row gives no range or a degenerate one."""
    if low is None or high is None or value is None or not low < high:
        return None
    return Distribution("triangular", float(low), float(high), mode=float(value))


@dataclass(frozen=True)
class UncertaintySpec:
    """A scenario's declared distributions (empty: only the data defaults apply)."""

    actors: dict[str, dict[str, Distribution]] = field(default_factory=dict)
    settings: dict[str, Distribution] = field(default_factory=dict)
    transit: dict[str, Distribution] = field(default_factory=dict)
    data: dict[str, Distribution] = field(default_factory=lambda: dict(DATA_DEFAULTS))


def _number(value, key, fail) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(float(value)):
        fail(key, f"expected a number, got {value!r}")
    return float(value)


def parse_distribution(value, key: str, fail, *, bounds: tuple[float, float] = (-math.inf, math.inf)) -> Distribution:
    """A :class:`Distribution` from its TOML inline table.

    Parameters
    ----------
    value : dict
        ``{dist = "...", ...}``.
    key : str
        The key it was given under (named in errors).
    fail : callable
        ``fail(key, message)`` raises the scenario's :class:`~chokepoint.errors.InputError`.
    bounds : (float, float)
        Admissible range of the quantity (a probability: 0–1); the distribution's bounds
        must lie within it.
    """
    if not isinstance(value, dict):
        fail(key, f"expected a distribution table such as {{ dist = \"uniform\", low = 0.1, high = 0.3 }}, got {value!r}")
    kind = value.get("dist")
    if kind not in DISTRIBUTIONS:
        fail(key, f"unknown distribution {kind!r}; choose one of {', '.join(DISTRIBUTIONS)}")
    allowed = {"uniform": {"dist", "low", "high"}, "triangular": {"dist", "low", "mode", "high"},
               "lognormal": {"dist", "median", "sigma", "low", "high"}}[kind]
    unknown = sorted(set(value) - allowed)
    if unknown:
        fail(key, f"unknown parameter {unknown[0]!r} for a {kind} distribution (takes {', '.join(sorted(allowed - {'dist'}))})")
    needed = allowed - {"dist"} - ({"low", "high"} if kind == "lognormal" else set())
    for name in sorted(needed):
        if name not in value:
            fail(key, f"a {kind} distribution needs {name!r}")
    numbers = {name: _number(value[name], key, fail) for name in allowed - {"dist"} if name in value}
    low = numbers.get("low", 0.0 if kind == "lognormal" else math.nan)
    high = numbers.get("high", math.inf if kind == "lognormal" else math.nan)
    if not low <= high:
        fail(key, f"low {low:g} is above high {high:g}")
    if kind != "lognormal" and not (math.isfinite(low) and math.isfinite(high)):
        fail(key, f"a {kind} distribution needs finite low and high")
    if low < bounds[0] or high > bounds[1]:
        fail(key, f"bounds [{low:g}, {high:g}] leave the admissible range [{bounds[0]:g}, {bounds[1]:g}]")
    if kind == "triangular":
        if not low <= numbers["mode"] <= high:
            fail(key, f"mode {numbers['mode']:g} is outside [low, high] = [{low:g}, {high:g}]")
        return Distribution(kind, low, high, mode=numbers["mode"])
    if kind == "lognormal":
        median, sigma = numbers["median"], numbers["sigma"]
        if not median > 0 or not sigma > 0:
            fail(key, "a lognormal distribution needs median > 0 and sigma > 0")
        if low < 0:
            fail(key, f"a lognormal distribution has no negative values; low is {low:g}")
        if not low <= median <= high:
            fail(key, f"median {median:g} is outside [low, high] = [{low:g}, {high:g}]")
        return Distribution(kind, low, high, median=median, sigma=sigma)
    return Distribution(kind, low, high)


def parse_uncertainty(table: dict, reader, *, actor_ids, transit_countries) -> UncertaintySpec:
    """The ``[uncertainty]`` section of a scenario.

    Parameters
    ----------
    table : dict
        The parsed ``[uncertainty]`` table.
    reader : callable
        ``reader(table_name, data)`` returns an object with ``fail(key, message)``
        naming the scenario file and the table's line (the scenario loader's reader).
    actor_ids, transit_countries : iterable of str
        Actors and transit hubs the scenario declares (others are refused).
    """
    actor_ids, transit_countries = set(actor_ids), set(transit_countries)
    top = reader("[uncertainty]", table)
    for key, value in table.items():
        if key not in ("actors", "settings", "transit", "data"):
            top.fail(key, "unknown key (expected actors, settings, transit or data)")
        if not isinstance(value, dict):
            top.fail(key, f"expected a table, got {value!r}")
    actors: dict[str, dict[str, Distribution]] = {}
    for actor_id, entries in (table.get("actors") or {}).items():
        r = reader(f"[uncertainty.actors.{actor_id}]", entries)
        if actor_id not in actor_ids:
            r.fail(actor_id, f"unknown actor '{actor_id}'", )
        if not isinstance(entries, dict):
            r.fail(actor_id, "expected a table of distributions")
        for name, value in entries.items():
            if name not in ACTOR_PARAMETERS:
                r.fail(name, f"not an uncertain actor parameter (one of {', '.join(ACTOR_PARAMETERS)})")
            actors.setdefault(actor_id, {})[name] = parse_distribution(value, name, r.fail,
                                                                       bounds=ACTOR_PARAMETERS[name])
    settings_table = table.get("settings") or {}
    r = reader("[uncertainty.settings]", settings_table)
    settings = {}
    for name, value in settings_table.items():
        if name not in SETTINGS_PARAMETERS:
            r.fail(name, f"not an uncertain setting (one of {', '.join(SETTINGS_PARAMETERS)})")
        settings[name] = parse_distribution(value, name, r.fail, bounds=SETTINGS_PARAMETERS[name])
    transit_table = table.get("transit") or {}
    r = reader("[uncertainty.transit]", transit_table)
    transit = {}
    for country, value in transit_table.items():
        if country not in transit_countries:
            r.fail(country, f"'{country}' is not a transit country in [leakage.transit]")
        transit[country] = parse_distribution(value, country, r.fail, bounds=(0.0, 1.0))
    data_table = table.get("data") or {}
    r = reader("[uncertainty.data]", data_table)
    data = dict(DATA_DEFAULTS)
    for name, value in data_table.items():
        if name not in DATA_FACTORS:
            r.fail(name, f"not a data factor (one of {', '.join(DATA_FACTORS)})")
        distribution = parse_distribution(value, name, r.fail, bounds=(0.0, math.inf))
        if distribution.low <= 0:
            r.fail(name, "a data factor must stay above 0 (low > 0): a share or coefficient of 0 changes the network")
        data[name] = distribution
    return UncertaintySpec(actors=actors, settings=settings, transit=transit, data=data)
