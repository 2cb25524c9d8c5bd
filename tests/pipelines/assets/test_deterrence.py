"""The partition units of the deterrence-group assets (``pipelines/assets/deterrence.py``):
:func:`setups` yields one per (scenario partition, horizon), short run first, and
:func:`analysed` runs an analysis over them ``threads`` at a time with the same results, in
the same order, as one at a time."""

from __future__ import annotations

import threading

import polars as pl
import pytest

from chokepoint.analyses.recruitment import recruitment_table
from chokepoint.analyses.verification import verification_table
from chokepoint.warehouse.reads import staged_tables
from pipelines.assets.deterrence import analysed, setups
from pipelines.resources import ChokepointSettings
from tests.conftest import DATA


def _settings(threads: int) -> ChokepointSettings:
    return ChokepointSettings(data_dir=str(DATA), threads=threads)


def test_analysed_keeps_the_units_order_and_uses_its_threads():
    names: list[str] = []
    barrier = threading.Barrier(2, timeout=10)

    def analyse(unit: int) -> int:
        names.append(threading.current_thread().name)
        if unit < 2:
            barrier.wait()      # the first two units run at the same time, or this times out
        return unit * unit

    assert analysed(_settings(2), range(6), analyse) == [u * u for u in range(6)]
    assert all(name.startswith("partition") for name in names)
    names.clear()
    assert analysed(_settings(1), range(3), lambda unit: (names.append(threading.current_thread().name), unit)[1]) \
        == [0, 1, 2]
    assert names == [threading.current_thread().name] * 3


def test_the_largest_units_start_first_and_results_keep_the_units_order():
    class Unit:
        def __init__(self, name: str, work: int):
            self.name, self.work = name, work

    started: list[str] = []
    lock = threading.Lock()

    def analyse(unit: Unit) -> str:
        with lock:
            started.append(unit.name)
        return unit.name

    units = [Unit("small", 1), Unit("large", 9), Unit("medium", 5), Unit("also large", 9)]
    assert analysed(_settings(2), units, analyse) == ["small", "large", "medium", "also large"]
    # Submitted largest first (ties in their order); two threads may swap neighbours' starts.
    assert started.index("small") >= 2 and set(started[:2]) <= {"large", "also large", "medium"}


def test_an_error_in_a_unit_reaches_the_asset():
    def analyse(unit: int) -> int:
        if unit == 3:
            raise ValueError("unit 3 failed")
        return unit

    with pytest.raises(ValueError, match="unit 3 failed"):
        analysed(_settings(2), range(5), analyse)


def test_threaded_analyses_equal_serial_ones(materialized):
    """Recruitment and verification of the reference data's default partition, both horizons:
    two threads give the tables one thread gives (each unit builds its own models)."""
    staged = staged_tables(materialized.database)

    def analyse(one):
        recruitment = recruitment_table(one.network, one.scenario, solver=one.solver, time_limit=one.time_limit,
                                        capability=one.capability, baseline_closed=one.baseline.marginal_to)
        verification = verification_table(one.network, one.scenario, capability=one.capability, solver=one.solver,
                                          time_limit=one.time_limit, baseline_closed=one.baseline.closed)
        return one.keyed(recruitment), one.keyed(verification).drop("seconds", strict=False)

    units = list(setups(_settings(1), staged, ["default"]))
    assert [(u.key, u.horizon) for u in units] == [("default", "short_run"), ("default", "long_run")]
    serial = analysed(_settings(1), units, analyse)
    threaded = analysed(_settings(2), list(setups(_settings(2), staged, ["default"])), analyse)
    for (serial_recruitment, serial_verification), (recruitment, verification) in zip(serial, threaded, strict=True):
        assert recruitment.height > 0
        assert recruitment.equals(serial_recruitment)
        assert verification.equals(serial_verification)
    assert pl.concat([s[0] for s in serial])["horizon"].unique(maintain_order=True).to_list() == \
        ["short_run", "long_run"]
