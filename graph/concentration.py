"""Supplier concentration per input type: top share, HHI, number of large suppliers
(from listed country shares, or from a network's producer capacities by facility or country)."""

from __future__ import annotations

import numpy as np

from graph.network import PRODUCER

__all__ = ["concentration", "capacity_concentration"]


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


def capacity_concentration(network, *, by: str = "node", world_capacity=None, large: float = 0.10) -> dict[str, np.ndarray]:
    """Concentration of each input type's producer capacity in a network.

    Parameters
    ----------
    network : graph.network.SupplyNetwork
    by : {"node", "country"}
        Suppliers are producer nodes (facilities) or countries (their nodes summed).
    world_capacity : array_like, optional
        Denominator per input type (default: total producer capacity, so shares sum
        to 1).
    large : float
        Threshold for "large supplier".

    Returns
    -------
    dict
        As :func:`concentration`, with ``top_row`` replaced by ``top_supplier``: the
        node index (``by="node"``) or country index of the largest supplier, -1 if none.

    Notes
    -----
    O(N) (one ``bincount`` per aggregate; a sort for the top supplier).
    """
    if by not in ("node", "country"):
        raise ValueError("by must be 'node' or 'country'")
    producers = np.flatnonzero((network.node_kind == PRODUCER) & (network.node_capacity > 0))
    k = network.node_input[producers].astype(np.int64)
    cap = network.node_capacity[producers]
    if not np.isfinite(cap).all():
        raise ValueError("producer capacities must be finite to compute shares")
    n_in = len(network.inputs)
    world = (np.bincount(k, weights=cap, minlength=n_in) if world_capacity is None
             else np.asarray(world_capacity, dtype=np.float64))
    if by == "node":
        supplier, kk, amount = producers, k, cap
    else:
        n_c = len(network.countries)
        key = np.unique(k * n_c + network.node_country[producers], return_inverse=True)
        amount = np.bincount(key[1], weights=cap)
        kk, supplier = key[0] // n_c, key[0] % n_c
    share = amount / world[kk]
    metrics = concentration(kk, np.minimum(share, 1.0), n_in, large=large)
    top_row = metrics.pop("top_row")
    metrics["top_supplier"] = np.where(top_row >= 0, supplier[np.maximum(top_row, 0)], -1)
    return metrics
