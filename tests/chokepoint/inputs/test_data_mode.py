"""Real data by default: ``chokepoint run`` in data mode ``auto`` fetches the real data when no
cache or mirror holds it, and otherwise runs on the reference data saying why in one line.

The decision is tested as a unit (:func:`chokepoint.inputs.real.prepare.prepare_real_data`
and :func:`pipelines.commands.cmd_run.prepare_data`) against a local HTTP server; the
end-to-end ``chokepoint run`` that fetches is the shared real-data run
(``tests/conftest.py::real_run``, checked in ``tests/system/test_cli_run.py``).
"""

from __future__ import annotations

import io

import pytest

from chokepoint.inputs.real.manifest import load_manifest, locate_real_data
from chokepoint.inputs.real.prepare import prepare_real_data
from tests.support.real_data import MIRROR, closed_port, mirror_copy, needs_mirror, serve

#: Files a run needs: every manifest row that feeds a dataset (licences and notes are fetched only).
INGESTED = load_manifest()["dataset"].drop_nulls().len()


@pytest.fixture(scope="module")
def manifest():
    return load_manifest()


@pytest.fixture
def no_copy(tmp_path):
    """(empty mirror folder, cache folder that does not exist yet)."""
    (tmp_path / "empty-mirror").mkdir()
    return tmp_path / "empty-mirror", tmp_path / "cache"


@needs_mirror
def test_without_any_copy_the_real_data_is_fetched_verified_and_used(no_copy, manifest):
    mirror, cache = no_copy
    with serve(MIRROR) as (base, requests):
        prepared = prepare_real_data("auto", mirror, cache, manifest, base=base)
    assert (prepared.mode, prepared.source) == ("real", "cache")
    # Only what the run reads: the ingested files, each once.
    assert len(requests) == INGESTED == len(prepared.fetched.downloaded)
    assert prepared.notice.startswith(f"fetched {INGESTED} real-data files (")
    assert "sha256 verified" in prepared.notice and prepared.notice.endswith("running on the real data")
    assert "\n" not in prepared.notice
    found = locate_real_data("auto", mirror, cache, manifest)
    assert (found.mode, found.source, found.root) == ("real", "cache", cache)


def test_unreachable_origin_means_reference_data_and_one_line_saying_why(no_copy, manifest):
    mirror, cache = no_copy
    prepared = prepare_real_data("auto", mirror, cache, manifest, base=f"http://127.0.0.1:{closed_port()}",
                                 timeout=5)
    assert (prepared.mode, prepared.source, prepared.fetched) == ("reference", None, None)
    assert prepared.notice.startswith("real data unavailable (offline: 127.0.0.1:")
    assert prepared.notice.endswith("; running on the reference data") and "\n" not in prepared.notice
    assert not cache.exists()
    assert locate_real_data("auto", mirror, cache, manifest).mode == "reference"


@needs_mirror
def test_checksum_mismatch_means_reference_data_and_an_unchanged_cache(tmp_path, no_copy, manifest):
    mirror, cache = no_copy
    served = mirror_copy(tmp_path)
    (served / "epoch/ml_hardware.csv").write_bytes(b"corrupted\n")
    with serve(served) as (base, _):
        prepared = prepare_real_data("auto", mirror, cache, manifest, base=base)
    assert prepared.mode == "reference"
    assert prepared.notice.startswith("real data unavailable (epoch/ml_hardware.csv: checksum mismatch")
    assert not cache.exists()


@needs_mirror
def test_downloads_are_time_limited(no_copy, manifest):
    mirror, cache = no_copy
    with serve(MIRROR) as (base, requests):
        prepared = prepare_real_data("auto", mirror, cache, manifest, base=base, deadline=0)
    assert prepared.mode == "reference" and f"downloads took longer than 0 s (1 of {INGESTED} files done)" in prepared.notice
    assert len(requests) == 1 and not cache.exists()


@needs_mirror
def test_nothing_is_fetched_when_a_copy_exists_or_another_mode_is_asked(tmp_path, no_copy, manifest):
    mirror, cache = no_copy
    with serve(MIRROR) as (base, requests):
        complete = prepare_real_data("auto", MIRROR, cache, manifest, base=base)
        reference = prepare_real_data("reference", mirror, cache, manifest, base=base)
        real = prepare_real_data("real", mirror, cache, manifest, base=base)
        refused = prepare_real_data("auto", mirror, cache, manifest, base=base, allow_fetch=False)
        assert requests == []
    assert (complete.mode, complete.source, complete.notice) == ("real", "mirror", "")
    assert (reference.mode, reference.notice) == ("reference", "")
    assert (real.mode, real.notice) == ("real", "")  # the run itself reports a missing copy in mode real
    assert refused.mode == "reference" and "--no-fetch" in refused.notice and "\n" not in refused.notice
    assert not cache.exists()


def test_run_command_prints_the_reason_in_one_line(monkeypatch, no_copy):
    from pipelines.commands.cmd_run import prepare_data

    mirror, cache = no_copy
    for name, value in {"CHOKEPOINT_DATA_MODE": "auto", "CHOKEPOINT_SHARED_DATA": str(mirror),
                        "CHOKEPOINT_CACHE": str(cache),
                        "CHOKEPOINT_FETCH_BASE": f"http://127.0.0.1:{closed_port()}"}.items():
        monkeypatch.setenv(name, value)
    out = io.StringIO()
    prepared = prepare_data(out=out)
    assert prepared.mode == "reference"
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chokepoint run: real data unavailable (offline: 127.0.0.1:")
    assert lines[0].endswith("running on the reference data")


def test_no_fetch_is_a_run_option():
    from pipelines.cli import build_parser

    assert build_parser().parse_args(["run", "--no-fetch"]).no_fetch is True
    assert build_parser().parse_args(["run"]).no_fetch is False
