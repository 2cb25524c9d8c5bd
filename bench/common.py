"""Timing helpers shared by the benchmarks."""

from __future__ import annotations

import json
import platform
import resource
import statistics
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

__all__ = ["RESULTS", "median_seconds", "peak_rss_mib", "write_results", "machine", "markdown_rows",
           "reproduce_on_a_run"]


def median_seconds(fn, repeats: int = 5) -> tuple[float, object]:
    """Median wall time of ``repeats`` calls of ``fn`` and the last return value."""
    times, value = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), value


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> dict:
    import os

    return {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()}


def write_results(name: str, payload: dict, table_md: str) -> Path:
    """Write ``bench/results/<name>.json`` and ``<name>.md``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": name, "date": time.strftime("%Y-%m-%d"), "machine": machine(), **payload}
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(table_md.rstrip() + "\n")
    return RESULTS / f"{name}.md"


def markdown_rows(header: list[str], rows) -> list[str]:
    """A Markdown table's lines: header, rule, one line per row (cells already formatted)."""
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows)]


def reproduce_on_a_run(name: str) -> str:
    """The closing line of a benchmark that reads the warehouse of a real-data run."""
    return (f"Reproduce: `CHOKEPOINT_BENCH_WAREHOUSE=<warehouse of a real-data run> "
            f".venv/bin/python -m bench {name}`.")
