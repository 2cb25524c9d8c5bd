"""``in_threads``: results in the units' order whatever the finish order, the largest units
started first, and one thread (or one unit) runs in the caller's thread."""

from __future__ import annotations

import threading
import time

from chokepoint.threads import in_threads


def test_results_keep_the_units_order_and_the_largest_units_start_first():
    started = []
    lock = threading.Lock()

    def analyse(unit):
        with lock:
            started.append(unit)
        time.sleep(0.05 * (4 - unit % 4))  # finish order differs from the units' order
        return unit * 10

    units = [3, 1, 4, 2, 5]
    assert in_threads(analyse, units, 2, work=lambda unit: unit) == [30, 10, 40, 20, 50]
    # Two threads take the two largest first; which of the two records its start first is a race.
    assert sorted(started[:2]) == [4, 5]


def test_one_thread_runs_in_order_in_the_callers_thread():
    callers = []
    results = in_threads(lambda unit: callers.append(threading.current_thread()) or unit, [2, 1, 3], 1,
                         work=lambda unit: unit)
    assert results == [2, 1, 3]
    assert callers == [threading.current_thread()] * 3
