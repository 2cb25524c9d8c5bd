"""The Monte Carlo sweep on a real multi-process Dask cluster.

A ``dask scheduler`` and two ``dask worker`` processes (no nanny, one thread each: two
worker processes, the most this 2-core machine takes) are started on 127.0.0.1 by the
module fixture, used by address and stopped by PID. The same sweep gives identical arrays
in this process, on a one-worker cluster and on the two-worker one; ``chokepoint sweep
--scheduler`` publishes against it; and a worker SIGKILLed mid-sweep costs only its running
chunks, which the scheduler runs again on the other worker: same result.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import numpy as np
import pytest
from distributed import Client
from distributed.diagnostics.plugin import WorkerPlugin

from chokepoint.analyses.montecarlo import dask_client, run_sweep
from chokepoint.analyses.uncertainty import sweep_problem
from chokepoint.inputs.scenario import load_scenario
from chokepoint.settings import PROJECT_ROOT
from tests.conftest import clean_env, run_cli
from tests.support.sweep_cases import publish_staged, staged, write_scenario

DASK = Path(sys.executable).with_name("dask")
SAMPLES, CHUNK = 6, 2
PLACEMENTS = {"optimal": ("usa-cloud-rus", "deu-cloud-rus"), "deter_all": ("usa-cloud-rus",)}
KEYS = ("leverage", "margin", "deterred", "rank", "loss")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """``(address, [worker processes])`` of a scheduler and two workers on 127.0.0.1."""
    logs = tmp_path_factory.mktemp("dask-logs")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = clean_env()
    started = []

    def start(args, name):
        log = open(logs / f"{name}.log", "w")
        process = subprocess.Popen([str(DASK), *args], cwd=PROJECT_ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
        started.append(process)
        return process

    try:
        start(["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], "scheduler")
        workers = [start(["worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--no-nanny",
                          "--no-dashboard", "--name", f"w{i}"], f"worker{i}") for i in range(2)]
        deadline = time.monotonic() + 60
        while True:
            try:
                with Client(address, timeout="5s") as client:
                    client.wait_for_workers(2, timeout=60)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield address, workers
    finally:
        for process in reversed(started):
            _stop(process)


@pytest.fixture(scope="module")
def problem(tmp_path_factory):
    scenario = load_scenario(write_scenario(tmp_path_factory.mktemp("scenarios")))
    return sweep_problem(staged(), scenario, PLACEMENTS, rank_solves=1)


@pytest.fixture(scope="module")
def in_process(problem):
    """The reference: every chunk run in this process, one after the other."""
    return run_sweep(problem, SAMPLES, 42, chunk_size=CHUNK)


def _same(a, b) -> None:
    for key in KEYS:
        assert np.array_equal(getattr(a, key), getattr(b, key)), key


def test_results_are_identical_on_one_and_two_workers(cluster, problem, in_process):
    address, _ = cluster
    with dask_client(workers=1, processes=False) as client:
        assert len(client.scheduler_info()["workers"]) == 1
        one = run_sweep(problem, SAMPLES, 42, chunk_size=CHUNK, client=client)
    with dask_client(scheduler=address) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        two = run_sweep(problem, SAMPLES, 42, chunk_size=CHUNK, client=client)
        ran_on = {w["name"] for w in client.scheduler_info()["workers"].values()}
    assert ran_on == {"w0", "w1"}
    _same(one, in_process)
    _same(two, in_process)
    assert in_process.leverage.shape[0] == SAMPLES
    assert np.ptp(in_process.margin[:, 0, 0]) > 0, "the samples differ: the sweep sampled something"
    other = run_sweep(problem, CHUNK, 43, chunk_size=CHUNK)
    assert not np.array_equal(other.margin, in_process.margin[:CHUNK]), "another seed gives other samples"


def test_cli_sweep_publishes_against_the_scheduler(cluster, tmp_path):
    address, _ = cluster
    scenario = write_scenario(tmp_path / "scenarios")
    published = tmp_path / "warehouse" / "chokepoint.duckdb"
    publish_staged(published, scenario)
    done = run_cli("sweep", "--samples", 4, "--seed", 7, "--scheduler", address, "--warehouse", published,
                   "--train", 2, "--time-limit", 30)
    assert done.returncode == 0, done.stderr
    assert "RUS (long_run): deterred with probability" in done.stdout
    assert "RUS (short_run): deterred with probability" in done.stdout
    assert "robust placement saa_mean (short_run)" in done.stdout
    with duckdb.connect(str(published), read_only=True) as con:
        robustness = con.execute("SELECT placement, samples, p_deterred, p_deterred_se FROM analytics.robustness "
                                 "WHERE horizon = 'long_run' ORDER BY placement").fetchall()
        robust = con.execute("SELECT placement FROM analytics.robust_placements WHERE horizon = 'long_run' "
                             "ORDER BY placement").fetchall()
        horizons = {table: {r[0] for r in con.execute(f"SELECT DISTINCT horizon FROM analytics.{table}").fetchall()}  # noqa: S608
                    for table in ("robustness", "rank_intervals", "robust_placements")}
        ranks = con.execute("SELECT count(*) FROM analytics.rank_intervals").fetchone()[0]
        records = con.execute("SELECT count(*) FROM ledger.records").fetchone()[0]
    assert [r[0] for r in robustness] == ["deter_all", "optimal"] and {r[1] for r in robustness} == {4}
    assert all(0 <= r[2] <= 1 for r in robustness)
    assert [r[0] for r in robust] == ["point_estimate", "saa_cvar10", "saa_mean"]
    assert ranks > 0 and records == 2
    assert all(found == {"short_run", "long_run"} for found in horizons.values()), horizons
    verified = run_cli("verify", "--warehouse", published)
    assert verified.returncode == 0, verified.stdout + verified.stderr


class HoldFirstTask(WorkerPlugin):
    """On the worker named ``victim``: the first task it starts is held (its event loop
    blocked) for ``seconds`` before it runs, so the sweep cannot finish before the test
    kills that worker — however fast a chunk is on this machine."""

    def __init__(self, victim: str, seconds: float):
        self.victim, self.seconds, self.held = victim, seconds, False

    def setup(self, worker):
        self.is_victim = worker.name == self.victim

    def transition(self, key, start, finish, **kwargs):
        if self.is_victim and finish == "executing" and not self.held:
            self.held = True
            time.sleep(self.seconds)


def test_a_worker_killed_mid_sweep_changes_nothing(cluster, problem, in_process):
    """Runs last: it leaves the cluster with one worker."""
    address, workers = cluster
    outcome = {}
    with dask_client(scheduler=address) as client:
        client.register_plugin(HoldFirstTask("w1", seconds=20), name="hold-first-task")
        victim_address = next(a for a, w in client.scheduler_info()["workers"].items() if w["name"] == "w1")
        def sweep():
            try:
                outcome["result"] = run_sweep(problem, SAMPLES, 42, chunk_size=CHUNK, client=client)
            except BaseException as exc:  # reported below
                outcome["error"] = exc

        thread = threading.Thread(target=sweep)
        thread.start()
        victim = workers[1]
        # Kill the worker once it holds a chunk (HoldFirstTask keeps it there).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if client.processing().get(victim_address) and thread.is_alive():
                break
            time.sleep(0.05)
        assert thread.is_alive(), "the sweep finished before the worker could be killed"
        assert client.processing().get(victim_address), "the worker to kill holds no chunk"
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)
        thread.join(timeout=300)
        remaining = len(client.scheduler_info()["workers"])
    assert not thread.is_alive()
    assert "error" not in outcome, outcome.get("error")
    assert remaining == 1
    _same(outcome["result"], in_process)
