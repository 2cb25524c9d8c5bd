"""The race as a game: candidate defectors choose to comply or defect.

Payoffs (value units, per actor ``d``, with ``k`` = number of *other* actors defecting):

    comply_d(k) = B_d − ρ·k
    defect_d(k) = G_d / (1 + γ·k) − p_d·V_d·L_d − ρ·(k + 1)

``G_d`` first-mover gain, shrinking as others race (decay γ ≥ 0); ``p_d`` detection
probability; ``V_d`` value of the actor's AI capability; ``L_d`` leverage the coalition's
placement has over ``d`` (share of capability removed if sanctions bite); ``B_d``
benefit of compliance; ρ ≥ 0 collective risk each racer imposes on everyone. With
γ = ρ = 0 the margin ``comply − defect`` is ``p·V·L + B − G``
(``docs/design.md#51-deterrence-margin``; the game: ``docs/design.md#52-race-game``).

Pure-strategy Nash equilibria are enumerated over all 2^N profiles (N ≤ 12 → 4,096
profiles) with whole-array numpy; mixed equilibria of two-actor games by support
enumeration (nashpy).
"""

from __future__ import annotations

from dataclasses import dataclass

import nashpy
import numpy as np

__all__ = ["RaceGame", "pure_nash_equilibria", "mixed_equilibria_two_player", "MAX_PLAYERS"]

MAX_PLAYERS = 12


@dataclass(frozen=True)
class RaceGame:
    """Parameters of the race game (arrays of length N, one entry per actor)."""

    actors: tuple[str, ...]
    detection_probability: np.ndarray
    value_of_capability: np.ndarray
    first_mover_gain: np.ndarray
    benefit_of_compliance: np.ndarray
    leverage: np.ndarray
    first_mover_decay: float = 0.0
    collective_risk: float = 0.0

    def __post_init__(self):
        n = len(self.actors)
        if not 1 <= n <= MAX_PLAYERS:
            raise ValueError(f"the race game takes 1 to {MAX_PLAYERS} actors, got {n}")
        for name in ("detection_probability", "value_of_capability", "first_mover_gain",
                     "benefit_of_compliance", "leverage"):
            values = np.asarray(getattr(self, name), dtype=np.float64)
            if values.shape != (n,) or np.isnan(values).any():
                raise ValueError(f"{name} must hold {n} numbers")
            object.__setattr__(self, name, values)
        if ((self.detection_probability < 0) | (self.detection_probability > 1)).any():
            raise ValueError("detection probabilities must lie in [0, 1]")
        if ((self.leverage < -1e-9) | (self.leverage > 1 + 1e-9)).any():
            raise ValueError("leverage must lie in [0, 1]")
        if (self.value_of_capability < 0).any() or (self.first_mover_gain < 0).any() or (self.benefit_of_compliance < 0).any():
            raise ValueError("values, gains and benefits must be non-negative")
        if self.first_mover_decay < 0 or self.collective_risk < 0:
            raise ValueError("first_mover_decay and collective_risk must be non-negative")

    @property
    def size(self) -> int:
        return len(self.actors)

    def payoffs(self, defect: np.ndarray) -> np.ndarray:
        """Payoff of every actor for each profile.

        Parameters
        ----------
        defect : bool array (P, N)
            Profiles; ``defect[p, d]`` is true when actor d defects in profile p.

        Returns
        -------
        float array (P, N)
        """
        defect = np.asarray(defect, dtype=bool)
        others = defect.sum(axis=1, keepdims=True) - defect
        sanction = self.detection_probability * self.value_of_capability * self.leverage
        defect_payoff = (self.first_mover_gain / (1.0 + self.first_mover_decay * others) - sanction
                         - self.collective_risk * (others + 1))
        comply_payoff = self.benefit_of_compliance - self.collective_risk * others
        return np.where(defect, defect_payoff, comply_payoff)

    def margin(self, others_defecting: int = 0) -> np.ndarray:
        """comply − defect payoff of each actor when ``others_defecting`` others defect."""
        k = float(others_defecting)
        return (self.detection_probability * self.value_of_capability * self.leverage + self.benefit_of_compliance
                + self.collective_risk - self.first_mover_gain / (1.0 + self.first_mover_decay * k))


def _all_profiles(n: int) -> np.ndarray:
    codes = np.arange(2 ** n, dtype=np.int64)
    return ((codes[:, None] >> np.arange(n)) & 1).astype(bool)


def pure_nash_equilibria(game: RaceGame, tolerance: float = 1e-9) -> np.ndarray:
    """Every pure-strategy Nash equilibrium as a bool array (E, N) of defect flags.

    A profile is an equilibrium when no actor gains more than ``tolerance`` by switching
    alone. Ties count as equilibria (weak inequality).

    Notes
    -----
    O(2^N · N²) numpy work: all 2^N profiles and their N unilateral deviations.
    """
    profiles = _all_profiles(game.size)
    current = game.payoffs(profiles)
    stable = np.ones(profiles.shape[0], dtype=bool)
    for actor in range(game.size):
        switched = profiles.copy()
        switched[:, actor] = ~switched[:, actor]
        stable &= game.payoffs(switched)[:, actor] <= current[:, actor] + tolerance
    return profiles[stable]


def mixed_equilibria_two_player(game: RaceGame) -> list[tuple[np.ndarray, np.ndarray]]:
    """All equilibria of a two-actor race (support enumeration, nashpy).

    Returns a list of (strategy of actor 0, strategy of actor 1), each a probability
    vector over (comply, defect).
    """
    if game.size != 2:
        raise ValueError("mixed equilibria are computed for two-actor games only")
    profiles = np.array([[False, False], [False, True], [True, False], [True, True]])
    payoff = game.payoffs(profiles)
    row = np.array([[payoff[0, 0], payoff[1, 0]], [payoff[2, 0], payoff[3, 0]]])  # actor 0: rows comply/defect
    col = np.array([[payoff[0, 1], payoff[1, 1]], [payoff[2, 1], payoff[3, 1]]])
    equilibria = list(nashpy.Game(row, col).support_enumeration())
    return [(np.asarray(a, dtype=float), np.asarray(b, dtype=float)) for a, b in equilibria]
