"""Shared helpers for the real-data tests: the mirror, serving it over HTTP, staging it,
corrupting copies of it."""

from __future__ import annotations

import csv
import functools
import http.server
import shutil
import socket
import threading
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import polars as pl
import pytest

from chokepoint.inputs.real.manifest import DATASETS, load_manifest
from chokepoint.inputs.real.sources import empty_dataset, read_dataset
from chokepoint.inputs.real.stage import MAPPING_FILES, parse_mappings, stage_real
from chokepoint.settings import shared_data_dir
from chokepoint.inputs.reference import load_reference
from chokepoint.inputs.tables import read_csv_text
from tests.conftest import REFERENCE

MIRROR = shared_data_dir()

needs_mirror = pytest.mark.skipif(not (MIRROR / "MANIFEST.csv").exists(),
                                  reason=f"real-data mirror not found at {MIRROR} (set CHOKEPOINT_SHARED_DATA)")


@lru_cache(maxsize=1)
def reference_data():
    return load_reference(REFERENCE)


@lru_cache(maxsize=1)
def mappings():
    raw = {name: read_csv_text(REFERENCE / f"{name}.csv") for name in MAPPING_FILES}
    return parse_mappings(raw, reference_data().input_types["input_id"])


def read_raw(root: Path, datasets=tuple(DATASETS)) -> dict[str, pl.DataFrame]:
    """Raw tables of ``datasets`` read from ``root``; the other datasets empty."""
    manifest = load_manifest()
    raw = {}
    for dataset in DATASETS:
        raw.update(read_dataset(dataset, root, manifest) if dataset in datasets else empty_dataset(dataset))
    return raw


def stage(root: Path, datasets=tuple(DATASETS)) -> dict[str, pl.DataFrame]:
    return stage_real(read_raw(root, datasets), mappings(), reference_data().recipes)


@lru_cache(maxsize=1)
def staged_mirror() -> dict[str, pl.DataFrame]:
    return stage(MIRROR)


def records_in(path: Path) -> int:
    """Data records of a CSV file counted with the standard library (independent of our reader)."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return sum(1 for _ in csv.reader(handle)) - 1


def mirror_copy(tmp_path: Path) -> Path:
    target = tmp_path / "mirror"
    shutil.copytree(MIRROR, target)
    for path in target.rglob("*"):
        path.chmod(0o644 if path.is_file() else 0o755)
    return target


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests: list[str] = []

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        type(self).requests.append(self.path)
        super().do_GET()


@contextmanager
def serve(directory: Path):
    """An HTTP server on 127.0.0.1 (free port) serving ``directory``; yields (base URL, request log)."""
    handler = type("Handler", (_QuietHandler,), {"requests": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler.requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
