"""``chokepoint.settings``: the partition threads of the pipeline (``CHOKEPOINT_THREADS``)."""

from __future__ import annotations

import os

import pytest

from chokepoint import settings
from chokepoint.errors import InputError


def test_threads_default_to_the_cores_at_most_two(monkeypatch):
    monkeypatch.delenv("CHOKEPOINT_THREADS", raising=False)
    assert settings.analysis_threads() == min(2, os.cpu_count() or 1)
    monkeypatch.setenv("CHOKEPOINT_THREADS", "3")
    assert settings.analysis_threads() == 3


@pytest.mark.parametrize("value, message", [("0", "below the minimum 1"), ("two", "not a whole number")])
def test_bad_thread_counts_are_refused_with_the_variable_named(monkeypatch, value, message):
    monkeypatch.setenv("CHOKEPOINT_THREADS", value)
    with pytest.raises(InputError, match=f"CHOKEPOINT_THREADS.*{message}"):
        settings.analysis_threads()
