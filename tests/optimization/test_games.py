"""The race game and deterrence arithmetic on hand-computable cases."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from optimization.deterrence_margin import (capability_target, deterrence_margin, required_leverage,
                                     threshold_detection_probability, tornado)
from optimization.games import RaceGame, mixed_equilibria_two_player, pure_nash_equilibria


def game(n, *, p=0.5, V=20.0, G=10.0, B=2.0, L=0.0, decay=0.0, risk=0.0):
    full = lambda x: np.full(n, x, dtype=float)  # noqa: E731
    return RaceGame(actors=tuple(f"a{i}" for i in range(n)), detection_probability=full(p), value_of_capability=full(V),
                    first_mover_gain=full(G), benefit_of_compliance=full(B), leverage=full(L),
                    first_mover_decay=decay, collective_risk=risk)


def test_prisoners_dilemma_then_deterrence():
    # Without leverage: defect pays 10 > comply 2 whatever the other does -> (D, D) unique.
    before = pure_nash_equilibria(game(2))
    assert before.tolist() == [[True, True]]
    # Leverage 0.9 with p = 0.5, V = 20: sanction 9, defect 1 < comply 2 -> (C, C) unique.
    after = pure_nash_equilibria(game(2, L=0.9))
    assert after.tolist() == [[False, False]]
    assert game(2, L=0.9).margin().tolist() == pytest.approx([1.0, 1.0])


def test_chicken_with_shrinking_first_mover_gain():
    # G = 10 alone, 10 / (1 + 4) = 2 if the other races; B = 3.
    g = game(2, G=10.0, B=3.0, decay=4.0)
    pure = {tuple(map(bool, row)) for row in pure_nash_equilibria(g)}
    assert pure == {(False, True), (True, False)}
    mixed = mixed_equilibria_two_player(g)
    # Indifference: q * 2 + (1 - q) * 10 = 3  =>  q = 7/8 defect.
    interior = [m for m in mixed if 0 < m[0][1] < 1]
    assert len(interior) == 1
    assert interior[0][0][1] == pytest.approx(7 / 8) and interior[0][1][1] == pytest.approx(7 / 8)
    assert len(mixed) == 3


def _brute_force_equilibria(g: RaceGame):
    n = g.size
    found = []
    for profile in itertools.product([False, True], repeat=n):
        def payoff(profile, d):
            k = sum(profile) - profile[d]
            if profile[d]:
                return (g.first_mover_gain[d] / (1 + g.first_mover_decay * k)
                        - g.detection_probability[d] * g.value_of_capability[d] * g.leverage[d]
                        - g.collective_risk * (k + 1))
            return g.benefit_of_compliance[d] - g.collective_risk * k
        if all(payoff(profile, d) >= payoff(tuple(not x if i == d else x for i, x in enumerate(profile)), d) - 1e-9
               for d in range(n)):
            found.append(profile)
    return sorted(found)


@pytest.mark.parametrize("seed", range(30))
def test_pure_equilibria_equal_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 6))
    g = RaceGame(actors=tuple(f"a{i}" for i in range(n)), detection_probability=rng.random(n),
                 value_of_capability=rng.uniform(0, 50, n), first_mover_gain=rng.uniform(0, 30, n),
                 benefit_of_compliance=rng.uniform(0, 10, n), leverage=rng.random(n),
                 first_mover_decay=float(rng.uniform(0, 3)), collective_risk=float(rng.uniform(0, 3)))
    got = sorted(tuple(map(bool, row)) for row in pure_nash_equilibria(g))
    assert got == _brute_force_equilibria(g)


def test_twelve_actors_enumerate_quickly_and_compliance_is_unique_when_dominant():
    g = game(12, L=1.0)  # margin = 0.5 * 20 + 2 - 10 = 2 > 0 for everyone
    equilibria = pure_nash_equilibria(g)
    assert equilibria.shape == (1, 12) and not equilibria.any()
    with pytest.raises(ValueError, match="1 to 12"):
        game(13)


def test_higher_detection_never_lowers_a_margin():
    ps = np.linspace(0, 1, 11)
    margins = deterrence_margin(ps, 20.0, 0.4, 2.0, 10.0)
    assert (np.diff(margins) >= 0).all()


def test_thresholds_invert_the_margin():
    p, V, L, B, G = 0.6, 50.0, 0.5, 5.0, 20.0
    p_star = threshold_detection_probability(V, L, B, G)
    assert deterrence_margin(p_star, V, L, B, G) == pytest.approx(0.0)
    l_star = required_leverage(p, V, B, G)
    assert deterrence_margin(p, V, l_star, B, G) == pytest.approx(0.0)
    assert required_leverage(p, V, 30.0, G) == 0.0          # B >= G: deterred without leverage
    assert np.isinf(required_leverage(0.0, V, B, G))        # never detected: no leverage deters
    assert threshold_detection_probability(V, 0.0, B, G) == np.inf
    assert capability_target(100.0, 0.25) == pytest.approx(75.0)


def test_tornado_orders_by_swing():
    base = {"p": 0.5, "V": 20.0, "L": 0.5, "B": 2.0, "G": 10.0}
    margin = lambda x: deterrence_margin(x["p"], x["V"], x["L"], x["B"], x["G"])  # noqa: E731
    rows = tornado(base, {k: v * 0.75 for k, v in base.items()}, {k: v * 1.25 for k, v in base.items()}, margin)
    assert [r["parameter"] for r in rows][0] == "G"  # swing 5 vs p/V/L 2.5 and B 1
    assert rows[0]["swing"] == pytest.approx(5.0)
    assert all(r["base_margin"] == pytest.approx(-3.0) for r in rows)


def test_bad_game_parameters_are_rejected():
    with pytest.raises(ValueError, match="detection"):
        game(2, p=1.5)
    with pytest.raises(ValueError, match="leverage"):
        game(2, L=2.0)
