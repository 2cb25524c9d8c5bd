"""Publishing costs and the reliability figures of the last test run.

Times, on a warehouse built by one real run (reference data, default scenario): the
canonical digest of every table, a publish (copy-forward build, digests, ledger record,
snapshot renamed in, link switched), ``verify`` and ``rollback``, each also while a
read-write client holds the published file; one ``chokepoint sql`` query. Held-connection
trials: publishes and rollbacks, each while a read-write DuckDB client (one idle
connection, one inside an open transaction) holds the current file, checking that the
publish succeeds, the client keeps its snapshot and a new connection sees the new one.
Then lists the figures the reliability tests wrote to ``tests/artifacts/`` (kill trials,
concurrent readers, held connections, fuzz cases); run ``make test`` (and ``make
test-slow`` for the soaks) first.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import duckdb

from bench.common import median_seconds, peak_rss_mib, write_results
from chokepoint.warehouse.ledger import table_digests
from chokepoint.settings import PROJECT_ROOT
from chokepoint.warehouse.store import ledger_head, open_build, publish_build, rollback, verify_warehouse

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


#: A read-write client as an analyst opens the file (duckdb.connect(path)): one connection
#: idle, one inside a transaction opened before the publish. Each stdin line: one round of
#: queries, answered as one JSON line of [rows, ledger seq] per connection (or the error).
_CLIENT = textwrap.dedent("""
    import json, sys, duckdb
    idle, txn = duckdb.connect(sys.argv[1]), duckdb.connect(sys.argv[1])
    txn.execute("BEGIN TRANSACTION")
    QUERY = "SELECT (SELECT count(*) FROM analytics.chokepoints), (SELECT max(seq) FROM ledger.records)"
    print("ready", flush=True)
    for line in sys.stdin:
        answer = []
        for con in (idle, txn):
            try:
                answer.append(list(con.execute(QUERY).fetchone()))
            except Exception as exc:
                answer.append(f"{type(exc).__name__}: {exc}")
        print(json.dumps(answer), flush=True)
""")


class _Client:
    def __init__(self, path: Path):
        self.process = subprocess.Popen([sys.executable, "-c", _CLIENT, str(path)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        assert self.process.stdout.readline().strip() == "ready"

    def ask(self) -> list:
        self.process.stdin.write("?\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


def _held_trials(warehouse: Path, trials: int) -> dict:
    """Publish (every fourth trial: roll back) while a read-write client holds the file."""
    outcomes = {"trials": trials, "publishes": 0, "rollbacks": 0, "failed": [], "client_errors": 0,
                "client_saw_other_snapshot": 0, "new_connection_saw_new": 0, "verify_ok": False}
    for trial in range(trials):
        client = _Client(warehouse)
        try:
            before = client.ask()
            seq = ledger_head(warehouse)["seq"]
            try:
                if trial % 4 == 3:
                    rollback(warehouse, keep=3)
                    outcomes["rollbacks"] += 1
                else:
                    build = open_build(warehouse, f"held-{trial}")
                    publish_build(build, warehouse, run_id=f"held-{trial}", keep=3)
                    outcomes["publishes"] += 1
            except Exception as exc:  # noqa: BLE001  (counted: the figure is how many failed)
                outcomes["failed"].append(f"{type(exc).__name__}: {exc}"[:300])
            after = client.ask()
            outcomes["client_errors"] += sum(isinstance(a, str) for a in before + after)
            outcomes["client_saw_other_snapshot"] += int(after != before or before[0][1] != seq)
            with duckdb.connect(str(warehouse), read_only=True) as con:
                outcomes["new_connection_saw_new"] += int(
                    con.execute("SELECT max(seq) FROM ledger.records").fetchone()[0] == seq + 1)
        finally:
            client.close()
    report = verify_warehouse(warehouse)
    outcomes["verify_ok"] = report.ok
    outcomes["verify_problems"] = report.problems
    return outcomes


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
        env = {**os.environ, "CHOKEPOINT_WAREHOUSE": str(warehouse)}
        t_sql, _ = median_seconds(lambda: subprocess.run(
            [sys.executable, "-m", "pipelines.cli", "sql", "SELECT count(*) FROM analytics.chokepoints"],
            cwd=PROJECT_ROOT, env=env, capture_output=True, check=True), repeats=3)
        holder = _Client(warehouse)  # a read-write client holding the published file meanwhile
        try:
            t_publish_held, _ = median_seconds(publish_once, repeats=5)
            holder.close()
            holder = _Client(warehouse)
            t_verify_held, report = median_seconds(lambda: verify_warehouse(warehouse), repeats=3)
            assert report.ok, report.problems
        finally:
            holder.close()
        started = time.perf_counter()
        held = _held_trials(warehouse, trials=20)
        held["seconds"] = time.perf_counter() - started

    kills = _artifact("reliability-kill-trials.json") or {}
    soak = _artifact("reliability-kill-soak.json") or {}
    readers = _artifact("reliability-concurrent-readers.json") or {}
    readers_soak = _artifact("reliability-concurrent-readers-soak.json") or {}
    held_test = _artifact("reliability-held-connections.json") or {}
    fuzz = _artifact("fuzz-cases.json") or {}
    fuzz_soak = _artifact("fuzz-cases-soak.json") or {}
    payload = {
        "warehouse_mib": size_mib, "tables": len(digests), "rows": rows,
        "digest_s": t_digest, "publish_s": t_publish, "verify_s": t_verify, "rollback_s": t_rollback,
        "publish_held_s": t_publish_held, "verify_held_s": t_verify_held, "sql_query_s": t_sql,
        "held_trials": held, "held_test": held_test,
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
        f"| publish while a read-write client holds the published file | {1000 * t_publish_held:.0f} ms |",
        f"| `chokepoint verify` while a read-write client holds the published file (private copy) "
        f"| {1000 * t_verify_held:.0f} ms |",
        f"| `chokepoint sql \"SELECT count(*) …\"` (whole command, Python start-up included) | {1000 * t_sql:.0f} ms |",
        "",
        "## Held-connection trials",
        "",
        f"- {held['trials']} trials ({held['publishes']} publishes, {held['rollbacks']} rollbacks), each while a "
        "read-write DuckDB client (one idle connection, one inside an open transaction) held the published file: "
        f"{len(held['failed'])} failed; {held['client_errors']} client query errors; "
        f"{held['client_saw_other_snapshot']} client views changed under it; a new connection saw the new "
        f"publish {held['new_connection_saw_new']} times of {held['trials']}; `verify` afterwards: "
        f"{'OK' if held['verify_ok'] else 'FAILED'} ({held['seconds']:.1f} s in all).",
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
    if held_test:
        refresh, back, sql = held_test["refresh"], held_test["rollback"], held_test["sql_during_refresh"]
        md.append(f"- Held connections (default): a full `chokepoint run` ({refresh['seconds']:.0f} s) while a "
                  "read-write client (an idle connection and one in an open transaction) held the warehouse: "
                  f"published record #{refresh['published_seq']}, {refresh['client_rounds']} client query rounds "
                  f"during it with {refresh['client_errors']} errors, all on the client's snapshot; "
                  f"{sql['queries']} `chokepoint sql` queries and {sql['shells']} shells meanwhile, {sql['failed']} "
                  f"failed; then `chokepoint rollback` with {back['clients']} read-write clients holding two "
                  f"snapshots, {back['client_errors']} errors; `chokepoint verify` exit status "
                  f"{refresh['verify_exit']} and {back['verify_exit']}.")
    for label, stats in (("default", fuzz), ("soak", fuzz_soak)):
        if stats:
            outcomes = ", ".join(f"{v:,} {k}" for k, v in sorted(stats["by_outcome"].items()))
            md.append(f"- Corrupted inputs tried ({label}): {stats['cases']:,} ({outcomes}).")
    write_results("reliability", payload, "\n".join(md))


if __name__ == "__main__":
    main()
