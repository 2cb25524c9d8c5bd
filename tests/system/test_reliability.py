"""Publishing under failure and load, on real pipeline runs (copies of the shared
reference run's warehouse, tests/conftest.py).

- A refresh killed with SIGKILL (at random moments of a real ``chokepoint run``, and
  at each point of the publish step) leaves the published warehouse byte-identical or
  completely replaced, queryable, and verifiable; the next run removes its build.
- Eight read-only SQL clients querying in a loop while refreshes publish see no error
  and, in every query, tables from one ledger record only.

(A run's own publish step, blocking checks and subset runs: tests/pipeline/test_publish.py.)

Figures (trials, queries) are written to ``tests/artifacts/reliability-*.json``.
The long soak variants are marked slow.
"""

from __future__ import annotations

import hashlib
import json
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from chokepoint.settings import PROJECT_ROOT
from chokepoint.warehouse.store import (
    CRASH_POINTS,
    ledger_head,
    open_build,
    publish_build,
    verify_warehouse,
)
from tests.conftest import ARTIFACTS, CLI



def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _builds(warehouse: Path) -> list[str]:
    return sorted(p.name for p in warehouse.parent.iterdir() if ".build-" in p.name)


def _record(name: str, payload: dict) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"reliability-{name}.json").write_text(json.dumps(payload, indent=2) + "\n")


@pytest.fixture
def published(materialized, tmp_path):
    """A copy of the shared reference run's warehouse, and an environment in which
    ``chokepoint run`` refreshes that copy (reference data; its own instance and reports)."""
    warehouse = materialized.copy_warehouse(tmp_path / "w")
    env = {**materialized.env, "DAGSTER_HOME": str(tmp_path / "dagster"), "CHOKEPOINT_WAREHOUSE": str(warehouse),
           "CHOKEPOINT_REPORTS": str(tmp_path / "reports"), "CHOKEPOINT_KEEP_SNAPSHOTS": "2",
           # These trials are about publishing, not data: the reference run keeps them quick.
           "CHOKEPOINT_DATA_MODE": "reference"}
    return warehouse, env, materialized.seconds


# --- kill trials ---------------------------------------------------------------------

_CRASHING_PUBLISH = textwrap.dedent("""
    import sys, duckdb
    from chokepoint.warehouse.store import open_build, publish_build
    published = sys.argv[1]
    build = open_build(published, "crash")
    with duckdb.connect(str(build)) as con:
        con.execute("DELETE FROM analytics.chokepoints WHERE rowid % 5 = 0")
    publish_build(build, published, run_id="crash")
""")


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_sigkill_at_each_point_of_the_publish_step(published, point):
    warehouse, env, _ = published
    before = _sha(warehouse)
    env = {**env, "CHOKEPOINT_CRASH_AT": point}
    crashed = subprocess.run([sys.executable, "-c", _CRASHING_PUBLISH, str(warehouse)], env=env, cwd=PROJECT_ROOT,
                             capture_output=True, text=True, timeout=120)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    swapped = CRASH_POINTS.index(point) >= CRASH_POINTS.index("swapped")
    if swapped:
        assert _sha(warehouse) != before
        assert ledger_head(warehouse)["seq"] == 2
    else:
        assert _sha(warehouse) == before, "killed before the swap: the published file is untouched"
    report = verify_warehouse(warehouse)
    assert report.ok, report.problems
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM analytics.capability").fetchone()[0] == 20  # 10 actors × 2 horizons
    # The next publish (no crash; in this process) cleans the dead build and repairs a lagging ledger file.
    build = open_build(warehouse, "again")
    with duckdb.connect(str(build)) as con:
        con.execute("DELETE FROM analytics.chokepoints WHERE rowid % 5 = 0")
    publish_build(build, warehouse, run_id="again")
    report = verify_warehouse(warehouse)
    assert report.ok and not report.notes, (report.problems, report.notes)
    assert report.records == (3 if swapped else 2)
    assert _builds(warehouse) == []


def _kill_trials(published, trials: int, seed: int, final_real_run: bool, latest: float) -> dict:
    """SIGKILL ``chokepoint run`` at random moments, up to ``latest`` seconds into the run
    (or just past its length, if shorter); check the published file each time."""
    warehouse, env, seconds = published
    rng = random.Random(seed)
    horizon = min(max(5.0, seconds + 5.0), latest)
    outcomes = {"trials": 0, "unchanged": 0, "completed": 0, "kill_times_s": []}
    for _ in range(trials):
        before, seq_before = _sha(warehouse), ledger_head(warehouse)["seq"]
        process = subprocess.Popen([*CLI, "run"], env=env, cwd=PROJECT_ROOT,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        delay = rng.uniform(0.5, horizon)
        try:
            process.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
        process.wait()
        outcomes["trials"] += 1
        outcomes["kill_times_s"].append(round(delay, 2))
        if _sha(warehouse) == before:
            outcomes["unchanged"] += 1
        else:  # it finished (or was killed after its swap): a complete, newer publish
            assert ledger_head(warehouse)["seq"] == seq_before + 1
            outcomes["completed"] += 1
        report = verify_warehouse(warehouse)
        assert report.ok, report.problems
        with duckdb.connect(str(warehouse), read_only=True) as con:
            assert con.execute("SELECT count(*) FROM analytics.capability").fetchone()[0] == 20  # 10 actors × 2 horizons
    survivors = [name for name in _builds(warehouse) if not name.endswith(".lock")]
    if final_real_run:
        final = subprocess.run([*CLI, "run"], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True,
                               timeout=600)
        assert final.returncode == 0, final.stderr[-2000:]
        assert "ledger: record #" in final.stdout
    else:  # any refresh cleans up first; a bare publish is the quickest one
        final = subprocess.run([sys.executable, "-c", _CRASHING_PUBLISH, str(warehouse)], env=env, cwd=PROJECT_ROOT,
                               capture_output=True, text=True, timeout=120)
        assert final.returncode == 0, final.stderr[-2000:]
    assert _builds(warehouse) == [], "the next refresh removes builds of killed runs"
    assert verify_warehouse(warehouse).ok
    outcomes["stale_build_files_removed_by_next_run"] = len(survivors)
    return outcomes


def test_random_sigkill_of_real_runs(published):
    # Kill moments in the first 30 s (start-up, reading, the first analyses); the publish
    # step is killed at each of its points above, and the soak spreads 20 kills over whole runs.
    outcomes = _kill_trials(published, trials=2, seed=8, final_real_run=False, latest=30.0)
    _record("kill-trials", outcomes)
    assert outcomes["trials"] == 2


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_random_sigkill_soak(published):
    outcomes = _kill_trials(published, trials=20, seed=2024, final_real_run=True, latest=60.0)
    _record("kill-soak", outcomes)
    assert outcomes["unchanged"] >= 1


# --- concurrent readers --------------------------------------------------------------

_READER = textwrap.dedent("""
    import json, os, sys, time
    import duckdb
    from chokepoint.warehouse.ledger import table_digest
    path, stop, reconnect_every, pause = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    QUERY = '''
        SELECT (SELECT record FROM ledger.records ORDER BY seq DESC LIMIT 1),
               (SELECT count(*) FROM analytics.chokepoints),
               (SELECT count(*) FROM analytics.control_leverage),
               (SELECT count(*) FROM analytics.capability),
               (SELECT count(*) FROM staging.capacities),
               (SELECT sum(value) FROM analytics.chokepoints)
    '''
    TABLES = ["analytics.chokepoints", "analytics.control_leverage", "analytics.capability", "staging.capacities"]
    stats = {"queries": 0, "errors": [], "inconsistent": [], "seqs": [], "digests_checked": 0}
    con, used = None, 0
    deadline = time.monotonic() + 300
    while not os.path.exists(stop) and time.monotonic() < deadline:
        try:
            if con is None or used >= reconnect_every:
                if con is not None:
                    con.close()
                con, used = duckdb.connect(path, read_only=True), 0
            record_text, *counts, total = con.execute(QUERY).fetchone()
            used += 1
            stats["queries"] += 1
            time.sleep(pause)
            record = json.loads(record_text)
            if record["seq"] not in stats["seqs"]:
                stats["seqs"].append(record["seq"])
            expected = [record["tables"][t]["rows"] for t in TABLES]
            if counts != expected:
                stats["inconsistent"].append([record["seq"], counts, expected])
            if stats["queries"] % 20 == 0:
                stats["digests_checked"] += 1
                if table_digest(con, "analytics", "control_leverage") != record["tables"]["analytics.control_leverage"]:
                    stats["inconsistent"].append([record["seq"], "control_leverage digest"])
        except Exception as exc:
            stats["errors"].append(f"{type(exc).__name__}: {exc}"[:300])
            con = None
    print(json.dumps(stats))
""")

def _publish_generation(published: Path, generation: int) -> None:
    """Publish the warehouse with a different share of rows dropped from three tables."""
    build = open_build(published, f"gen{generation}")
    with duckdb.connect(str(build)) as con:
        con.execute("DELETE FROM analytics.chokepoints WHERE rowid % 11 = ?", [generation % 11])
        con.execute("DELETE FROM analytics.control_leverage WHERE rowid % 5 = ?", [generation % 5])
        con.execute("DELETE FROM staging.capacities WHERE rowid % 7 = ?", [generation % 7])
    publish_build(build, published, run_id=f"gen{generation}", keep=2)


def _concurrent_readers(published, tmp: Path, readers: int, publishes: int, with_real_run: bool,
                        pause: float) -> dict:
    warehouse, env, _ = published
    stop = tmp / "stop"
    procs = [subprocess.Popen([sys.executable, "-c", _READER, str(warehouse), str(stop), str(1 if i % 2 else 25),
                               str(pause)],
                              env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(readers)]
    real = None
    try:
        time.sleep(1.0)
        if with_real_run:
            real = subprocess.Popen([*CLI, "run"], env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
        for generation in range(publishes):
            _publish_generation(warehouse, generation)
            time.sleep(0.2)
        if real is not None:
            out, err = real.communicate(timeout=600)
            assert real.returncode == 0, err[-2000:]
        time.sleep(0.5)
    finally:
        stop.touch()
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err[-2000:]
            results.append(json.loads(out))
    report = verify_warehouse(warehouse)
    assert report.ok, report.problems
    return {
        "readers": readers, "publishes": publishes + (1 if with_real_run else 0),
        "queries": sum(r["queries"] for r in results),
        "errors": [e for r in results for e in r["errors"]],
        "inconsistent": [e for r in results for e in r["inconsistent"]],
        "digests_checked": sum(r["digests_checked"] for r in results),
        "snapshots_seen_per_reader": [len(r["seqs"]) for r in results],
    }


def test_eight_readers_while_refreshes_publish(published, tmp_path):
    # Four publishes already show every reader several snapshots; the soak publishes 60 and runs the job.
    stats = _concurrent_readers(published, tmp_path, readers=8, publishes=4, with_real_run=False, pause=0.02)
    _record("concurrent-readers", stats)
    assert stats["errors"] == []
    assert stats["inconsistent"] == []
    assert stats["queries"] >= 8 * 20
    # Not vacuous: every reader saw several published snapshots come and go.
    assert min(stats["snapshots_seen_per_reader"]) >= 2, stats


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_eight_readers_soak(published, tmp_path):
    stats = _concurrent_readers(published, tmp_path, readers=8, publishes=60, with_real_run=True, pause=0.0)
    _record("concurrent-readers-soak", stats)
    assert stats["errors"] == [] and stats["inconsistent"] == []
