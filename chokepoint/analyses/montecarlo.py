"""The Monte Carlo engine on ``dask.distributed`` (``docs/design.md#12-uncertainty``).

Samples are cut into chunks of a fixed size; each chunk is one task
(:func:`chokepoint.analyses.uncertainty.run_chunk`) that rebuilds its models from the
problem's arrays. The problem is scattered to every worker once; tasks are submitted with
retries, so a worker that dies mid-sweep only costs its running chunks, which the
scheduler runs again elsewhere. Chunk seeds derive from ``(seed, stream, chunk)``, never
from the worker, so a sweep gives the same tables on 1 worker or 100.

:func:`dask_client` gives a client: on an existing scheduler when an address is given
(a laptop, an HPC allocation through dask-jobqueue, Kubernetes: the same code path), else
on a :class:`~distributed.LocalCluster` sized to the machine (one single-threaded worker
process per core, HiGHS being single-threaded here).
"""

from __future__ import annotations

import logging
import os
import uuid
from contextlib import contextmanager

from distributed import Client, LocalCluster

from chokepoint.analyses.uncertainty import ChunkResult, SweepProblem, chunk_bounds, merge_chunks, run_chunk

__all__ = ["dask_client", "default_workers", "run_sweep", "CHUNK_SIZE", "RETRIES"]

#: Samples per task: small enough to balance 2 workers on a short sweep, large enough that
#: scheduling overhead (milliseconds) stays far below a chunk's solve time (seconds).
CHUNK_SIZE = 4
#: How long a client waits for a scheduler given by address.
CONNECT_TIMEOUT = "20s"
#: Times a task is re-run after failing (a worker lost mid-task is rescheduled besides).
RETRIES = 3


def default_workers() -> int:
    """Worker processes of a local cluster: the cores this process may use."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # pragma: no cover - not on Linux
        return max(os.cpu_count() or 1, 1)


@contextmanager
def dask_client(*, scheduler: str | None = None, workers: int | None = None, processes: bool = True):
    """A Dask client: connected to ``scheduler`` if given, else on a new local cluster.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``).
    workers : int, optional
        Worker processes of the local cluster (default :func:`default_workers`).
    processes : bool
        Local workers as processes (default) or threads of this process.

    Raises
    ------
    OSError, TimeoutError
        When the scheduler cannot be reached (from ``distributed``).
    """
    if scheduler:
        with Client(scheduler, timeout=CONNECT_TIMEOUT) as client:
            yield client
        return
    count = workers or default_workers()
    with LocalCluster(n_workers=count, threads_per_worker=1, processes=processes, dashboard_address=":0",
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        yield client


def run_sweep(problem: SweepProblem, samples: int, seed: int, *, stream: int = 0, chunk_size: int = CHUNK_SIZE,
              client: Client | None = None) -> ChunkResult:
    """Evaluate ``samples`` samples of ``problem`` and return them in sample order.

    Parameters
    ----------
    problem : SweepProblem
    samples : int
        Number of samples (≥ 1).
    seed : int
        Root seed; chunk ``c`` of stream ``stream`` draws from ``SeedSequence(seed, spawn_key=(stream, c))``.
    stream : int
        Independent stream (:data:`chokepoint.analyses.uncertainty.STREAMS`).
    chunk_size : int
        Samples per task; part of the result's definition (keep it fixed to reproduce a sweep).
    client : distributed.Client, optional
        Where tasks run; without one, chunks run in this process one after the other
        (the same function on the same arguments).

    Notes
    -----
    ``⌈samples / chunk_size⌉`` tasks; each costs ``chunk_size`` times one sample's
    evaluation (:func:`~chokepoint.analyses.uncertainty.evaluate_networks`). The problem
    travels to each worker once (scatter with broadcast).
    """
    if samples < 1:
        raise ValueError("samples must be at least 1")
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    bounds = chunk_bounds(samples, chunk_size)
    if client is None:
        return merge_chunks([run_chunk(problem, seed, stream, c, a, b) for c, (a, b) in enumerate(bounds)])
    shared = client.scatter(problem, broadcast=True, hash=False)
    token = uuid.uuid4().hex[:12]
    futures = [client.submit(run_chunk, shared, seed, stream, c, a, b, key=f"chokepoint-chunk-{token}-{c}",
                             retries=RETRIES, pure=False) for c, (a, b) in enumerate(bounds)]
    try:
        return merge_chunks(client.gather(futures))
    finally:
        client.cancel(futures + [shared])
