"""The DuckDB warehouse file: publishing a freshly built file in one atomic step."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

__all__ = ["publish"]


def publish(build: Path, published: Path) -> None:
    """Replace ``published`` by ``build`` atomically.

    The build file is checkpointed (its write-ahead log folded in) and fsynced first,
    then renamed over the published path; readers that opened the old file keep their
    snapshot, new readers see the complete new one.
    """
    build, published = Path(build), Path(published)
    with duckdb.connect(str(build)) as con:
        con.execute("CHECKPOINT")
    with open(build, "rb") as handle:
        os.fsync(handle.fileno())
    published.parent.mkdir(parents=True, exist_ok=True)
    os.replace(build, published)
    directory = os.open(published.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
