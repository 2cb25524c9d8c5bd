"""Independent pieces of an analysis run in threads: HiGHS and the compiled critical-node
kernels release the GIL while they work, which is where the time goes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["in_threads"]

Unit = TypeVar("Unit")
Result = TypeVar("Result")


def in_threads(analyse: Callable[[Unit], Result], units: Iterable[Unit], threads: int, *,
               work: Callable[[Unit], float] | None = None, name: str = "analysis") -> list[Result]:
    """``analyse`` of every unit, returned in the units' order, ``threads`` at a time.

    The units must share no mutable state, so the results do not depend on ``threads``.
    With a ``work`` estimate the largest units start first (longest-processing-time order,
    ties in the units' order), so that the longest one does not start last.
    """
    units = list(units)
    if threads <= 1 or len(units) <= 1:
        return [analyse(one) for one in units]
    start_order = sorted(range(len(units)), key=lambda i: -work(units[i]) if work else 0)
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name) as pool:
        futures = {i: pool.submit(analyse, units[i]) for i in start_order}
        return [futures[i].result() for i in range(len(units))]
