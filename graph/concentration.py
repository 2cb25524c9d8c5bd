"""Supplier concentration per input type: top share, HHI, number of large suppliers."""

from __future__ import annotations

import numpy as np

__all__ = ["concentration"]


def concentration(input_index, share, num_inputs: int, *, large: float = 0.10) -> dict[str, np.ndarray]:
    """Concentration metrics of each input type's supplier shares.

    Parameters
    ----------
    input_index : array_like of int
        Input type of each supplier row.
    share : array_like of float
        Share of world capacity of each supplier row, in [0, 1].
    num_inputs : int
    large : float
        Threshold for "large supplier" (default 10 %).

    Returns
    -------
    dict of arrays of length ``num_inputs``
        ``top_share``, ``top_row`` (row index of the largest supplier, -1 if none),
        ``hhi`` (Herfindahl–Hirschman index on the 0–10,000 scale over the listed
        shares), ``suppliers`` and ``suppliers_above`` (count with share > ``large``),
        ``covered`` (sum of listed shares).

    Notes
    -----
    O(n) for n rows (``numpy.bincount`` and ``maximum.at``). Unlisted remainder is not
    counted in HHI, which is therefore a lower bound when shares sum to < 1.
    """
    idx = np.asarray(input_index, dtype=np.int64)
    s = np.asarray(share, dtype=np.float64)
    if idx.shape != s.shape:
        raise ValueError("input_index and share must have one length")
    if s.size and (np.isnan(s).any() or s.min() < 0 or s.max() > 1 + 1e-9):
        raise ValueError("shares must lie in [0, 1]")
    if idx.size and (idx.min() < 0 or idx.max() >= num_inputs):
        raise ValueError("input index out of range")
    top = np.zeros(num_inputs)
    np.maximum.at(top, idx, s)
    order = np.lexsort((-s, idx))
    first = np.ones(order.size, dtype=bool)
    first[1:] = idx[order][1:] != idx[order][:-1]
    top_row = np.full(num_inputs, -1, dtype=np.int64)
    top_row[idx[order][first]] = order[first]
    return {
        "top_share": top,
        "top_row": top_row,
        "hhi": np.bincount(idx, weights=(100 * s) ** 2, minlength=num_inputs),
        "suppliers": np.bincount(idx, minlength=num_inputs),
        "suppliers_above": np.bincount(idx, weights=(s > large).astype(float), minlength=num_inputs).astype(np.int64),
        "covered": np.bincount(idx, weights=s, minlength=num_inputs),
    }
