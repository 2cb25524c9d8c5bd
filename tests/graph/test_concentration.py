"""Concentration metrics by hand."""

from __future__ import annotations

import pytest

from graph.concentration import concentration


def test_concentration_by_hand():
    # input 0: 60 % / 30 % / 5 %; input 1: one supplier with 100 %; input 2: none.
    metrics = concentration([0, 0, 0, 1], [0.6, 0.3, 0.05, 1.0], 3)
    assert metrics["top_share"].tolist() == [0.6, 1.0, 0.0]
    assert metrics["top_row"].tolist() == [0, 3, -1]
    assert metrics["hhi"] == pytest.approx([60**2 + 30**2 + 5**2, 10000.0, 0.0])
    assert metrics["suppliers"].tolist() == [3, 1, 0]
    assert metrics["suppliers_above"].tolist() == [2, 1, 0]
    assert metrics["covered"] == pytest.approx([0.95, 1.0, 0.0])


def test_concentration_rejects_bad_shares():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        concentration([0], [1.5], 1)
    with pytest.raises(ValueError, match="range"):
        concentration([2], [0.5], 1)
