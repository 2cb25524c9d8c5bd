"""Publishing costs and the reliability figures of the last test run.

Times, on a warehouse built by one real run (reference data, default scenario): the
canonical digest of every table, a publish (copy-forward build, digests, ledger record,
snapshot link, atomic rename), ``verify`` and ``rollback``. Then lists the figures the
reliability tests wrote to ``tests/artifacts/`` (kill trials, concurrent readers,
fuzz cases); run ``make test`` (and ``make test-slow`` for the soaks) first.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import duckdb

from bench.common import median_seconds, peak_rss_mib, write_results
from chokepoint.warehouse.ledger import table_digests
from chokepoint.settings import PROJECT_ROOT
from chokepoint.warehouse.store import open_build, publish_build, rollback, verify_warehouse

ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"


def _build_real_warehouse(tmp: Path) -> Path:
    import dagster as dg

    warehouse = tmp / "warehouse" / "chokepoint.duckdb"
    os.environ.update({"CHOKEPOINT_WAREHOUSE": str(warehouse), "CHOKEPOINT_DATA_DIR": str(PROJECT_ROOT / "data"),
                       "CHOKEPOINT_SCENARIO": "default"})
    from pipelines.definitions import defs

    (tmp / "instance").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp / "instance")) as instance:
        result = defs.resolve_job_def("main").execute_in_process(instance=instance, raise_on_error=False)
    assert result.success
    return warehouse


def _artifact(name: str) -> dict | None:
    path = ARTIFACTS / name
    return json.loads(path.read_text()) if path.exists() else None


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        warehouse = _build_real_warehouse(tmp)
        size_mib = warehouse.stat().st_size / 2**20
        with duckdb.connect(str(warehouse), read_only=True) as con:
            t_digest, digests = median_seconds(lambda: table_digests(con), repeats=5)
        rows = sum(d["rows"] for d in digests.values())
        counter = iter(range(10_000))

        def publish_once():
            build = open_build(warehouse, f"bench-{next(counter)}")
            return publish_build(build, warehouse, run_id="bench", keep=3)

        t_publish, _ = median_seconds(publish_once, repeats=5)
        t_verify, report = median_seconds(lambda: verify_warehouse(warehouse), repeats=3)
        assert report.ok, report.problems
        t_rollback, _ = median_seconds(lambda: rollback(warehouse, keep=3), repeats=3)

    kills = _artifact("reliability-kill-trials.json") or {}
    soak = _artifact("reliability-kill-soak.json") or {}
    readers = _artifact("reliability-concurrent-readers.json") or {}
    readers_soak = _artifact("reliability-concurrent-readers-soak.json") or {}
    fuzz = _artifact("fuzz-cases.json") or {}
    fuzz_soak = _artifact("fuzz-cases-soak.json") or {}
    payload = {
        "warehouse_mib": size_mib, "tables": len(digests), "rows": rows,
        "digest_s": t_digest, "publish_s": t_publish, "verify_s": t_verify, "rollback_s": t_rollback,
        "peak_rss_mib": peak_rss_mib(),
        "kill_trials": kills, "kill_soak": soak, "readers": readers, "readers_soak": readers_soak, "fuzz": fuzz,
        "fuzz_soak": fuzz_soak,
    }
    md = [
        f"## Publishing costs (real warehouse: {len(digests)} tables, {rows:,} rows, {size_mib:.1f} MiB)",
        "",
        "| step | time (median) |",
        "|---|---|",
        f"| canonical sha256 of every table | {1000 * t_digest:.0f} ms |",
        f"| publish (copy-forward build, digests, ledger record, snapshot, atomic rename) | {1000 * t_publish:.0f} ms |",
        f"| `chokepoint verify` (tables, chain, scenario, ledger file, 3 snapshots) | {1000 * t_verify:.0f} ms |",
        f"| `chokepoint rollback` (verify snapshot, copy, record, rename) | {1000 * t_rollback:.0f} ms |",
        "",
        f"Peak RSS {peak_rss_mib():.0f} MiB.",
        "",
        "## Reliability figures from the last test run (`tests/artifacts/`)",
        "",
    ]
    if kills:
        md.append(f"- SIGKILL of a real `chokepoint run` at random moments: {kills['trials']} trials (default suite), "
                  f"published file byte-identical in {kills['unchanged']}, completely replaced in {kills['completed']}; "
                  "plus one SIGKILL at each of the 5 points of the publish step.")
    if soak:
        md.append(f"- Soak: {soak['trials']} random SIGKILLs, {soak['unchanged']} unchanged, {soak['completed']} "
                  "complete publishes, every one verified.")
    for label, stats in (("default", readers), ("soak", readers_soak)):
        if stats:
            md.append(f"- Concurrent readers ({label}): {stats['readers']} read-only clients, {stats['queries']:,} "
                      f"queries during {stats['publishes']} publishes, {len(stats['errors'])} errors, "
                      f"{len(stats['inconsistent'])} queries seeing mixed snapshots, {stats['digests_checked']} "
                      "full table digests re-checked by readers.")
    for label, stats in (("default", fuzz), ("soak", fuzz_soak)):
        if stats:
            outcomes = ", ".join(f"{v:,} {k}" for k, v in sorted(stats["by_outcome"].items()))
            md.append(f"- Corrupted inputs tried ({label}): {stats['cases']:,} ({outcomes}).")
    write_results("reliability", payload, "\n".join(md))


if __name__ == "__main__":
    main()
