"""``fetch`` against a local HTTP server on 127.0.0.1, and where the pipeline finds the real data."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

import polars as pl
import pytest

from chokepoint.errors import InputError
from chokepoint.inputs.real.fetch import FetchError, fetch
from chokepoint.inputs.real.manifest import FETCHED_ONLY, load_manifest, locate_real_data
from tests.conftest import clean_env, run_cli
from tests.support.real_data import MIRROR, mirror_copy, needs_mirror, serve

pytestmark = needs_mirror


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones included) with its sha256."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def manifest():
    return load_manifest()


def test_fetch_downloads_verifies_and_caches_every_file(tmp_path, manifest):
    cache = tmp_path / "cache"
    lines = []
    with serve(MIRROR) as (base, requests):
        report = fetch(manifest, cache, base=base, say=lines.append)
        assert len(requests) == manifest.height
        assert report.mode == "downloaded" and len(report.downloaded) == manifest.height
        again = fetch(manifest, cache, base=base, say=lines.append)
        assert len(requests) == manifest.height  # nothing downloaded twice
    assert again.cached == [r for r in manifest["path"]] and not again.downloaded
    assert snapshot(cache) == {p: s for p, s in zip(manifest["path"], manifest["sha256"])}
    assert lines[0].startswith(f"fetched {manifest.height} files") and "already in the cache" in lines[1]
    assert [p.name for p in tmp_path.iterdir()] == ["cache"]  # no temporary folder left


def test_corrupted_download_is_a_clear_error_and_leaves_the_cache_untouched(tmp_path, manifest):
    served = mirror_copy(tmp_path)
    target = "eto_chip_explorer/provision.csv"
    data = (served / target).read_bytes()
    (served / target).write_bytes(data.replace(b"NLD,P45,EUV lithography tools,N20,100.0",
                                               b"NLD,P45,EUV lithography tools,N20,10.0"))
    cache = tmp_path / "cache"
    # A cache holding two valid files and one stale file that needs replacing.
    for path in ("epoch/gpu_clusters.csv", "chip_supply_map/nodes.csv"):
        (cache / path).parent.mkdir(parents=True, exist_ok=True)
        (cache / path).write_bytes((MIRROR / path).read_bytes())
    (cache / "usgs_mcs").mkdir()
    (cache / "usgs_mcs/mcs2024-raree_world.csv").write_bytes(b"stale")
    before = snapshot(cache)
    with serve(served) as (base, _):
        with pytest.raises(FetchError) as err:
            fetch(manifest, cache, base=base, say=lambda _: None)
    message = str(err.value)
    assert message.startswith(f"{target}: checksum mismatch (expected sha256 d94267801a73745e")
    assert "nothing written to the cache" in message and "\n" not in message
    assert snapshot(cache) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "mirror"]


def test_missing_file_on_the_server_is_an_http_error(tmp_path, manifest):
    served = mirror_copy(tmp_path)
    (served / "usgs_mcs/mcs2023-tungs_world.csv").unlink()
    cache = tmp_path / "cache"
    with serve(served) as (base, _):
        with pytest.raises(FetchError, match=r"usgs_mcs/mcs2023-tungs_world.csv: HTTP 404"):
            fetch(manifest, cache, base=base, say=lambda _: None)
    assert snapshot(cache) == {}


def test_offline_says_so_in_one_line_and_uses_the_verified_mirror(tmp_path, manifest):
    lines = []
    report = fetch(manifest, tmp_path / "cache", base=f"http://127.0.0.1:{closed_port()}", mirror=MIRROR,
                   timeout=5, say=lines.append)
    assert report.mode == "offline" and report.mirror == MIRROR
    assert len(lines) == 1 and lines[0].startswith("offline: 127.0.0.1:") and "using the local mirror" in lines[0]
    assert not (tmp_path / "cache").exists()
    broken = mirror_copy(tmp_path)
    (broken / "epoch/ml_hardware.csv").write_text("x\n")
    with pytest.raises(FetchError, match="does not match the manifest .* first: epoch/ml_hardware.csv"):
        fetch(manifest, tmp_path / "cache", base=f"http://127.0.0.1:{closed_port()}", mirror=broken, timeout=5,
              say=lambda _: None)
    with pytest.raises(FetchError, match="offline: .* and no local mirror"):
        fetch(manifest, tmp_path / "cache", base=f"http://127.0.0.1:{closed_port()}", mirror=tmp_path / "none",
              timeout=5, say=lambda _: None)


def run_fetch(*args, env_extra):
    return run_cli("fetch", *args, env=clean_env(**env_extra), timeout=300)


def test_cli_fetch_end_to_end(tmp_path):
    cache = tmp_path / "cache"
    served = mirror_copy(tmp_path)
    with serve(served) as (base, _):
        good = run_fetch("--cache", str(cache), env_extra={"CHOKEPOINT_FETCH_BASE": base})
        assert good.returncode == 0, good.stderr
        assert good.stdout.startswith("chokepoint fetch: fetched 96 files")
        before = snapshot(cache)
        (cache / "epoch/ml_hardware.csv").unlink()
        (served / "epoch/ml_hardware.csv").write_bytes(b"corrupted")
        bad = run_fetch("--cache", str(cache), env_extra={"CHOKEPOINT_FETCH_BASE": base})
    assert bad.returncode == 1
    assert bad.stderr.startswith("chokepoint fetch: error: epoch/ml_hardware.csv: checksum mismatch")
    assert len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr
    before.pop("epoch/ml_hardware.csv")
    assert snapshot(cache) == before
    offline = run_fetch("--cache", str(tmp_path / "other"), "--timeout", "5",
                        env_extra={"CHOKEPOINT_FETCH_BASE": f"http://127.0.0.1:{closed_port()}",
                                   "CHOKEPOINT_SHARED_DATA": str(MIRROR)})
    assert offline.returncode == 0 and len(offline.stdout.strip().splitlines()) == 1
    assert "offline" in offline.stdout and str(MIRROR) in offline.stdout


# --- data modes ---------------------------------------------------------------------------------

def test_data_mode_prefers_the_cache_then_the_mirror_then_the_reference(tmp_path, manifest):
    cache = tmp_path / "cache"
    assert locate_real_data("auto", MIRROR, cache, manifest).source == "mirror"
    with serve(MIRROR) as (base, _):
        fetch(manifest, cache, base=base, say=lambda _: None)
    found = locate_real_data("auto", MIRROR, cache, manifest)
    assert (found.mode, found.source, found.root) == ("real", "cache", cache)
    (cache / "epoch/gpu_clusters.csv").unlink()
    assert locate_real_data("auto", MIRROR, cache, manifest).source == "mirror"
    nothing = locate_real_data("auto", tmp_path / "no-mirror", cache, manifest)
    assert nothing.mode == "reference"
    assert "1 of 86 files missing (first: epoch/gpu_clusters.csv)" in nothing.reason
    assert locate_real_data("reference", MIRROR, cache, manifest).mode == "reference"
    with pytest.raises(InputError, match="data mode 'real' but no complete real-data copy"):
        locate_real_data("real", tmp_path / "no-mirror", None, manifest)
    with pytest.raises(InputError, match="unknown data mode 'maybe'"):
        locate_real_data("maybe", MIRROR, cache, manifest)


def test_fetched_files_are_the_manifest_files(manifest):
    assert manifest.filter(pl.col("dataset").is_not_null()).height == 86
    # Not ingested: documentation and licence files, and the datasets fetched but not ingested yet.
    fetched_only = pl.col("path").str.extract(r"^([^/]+)/").is_in(list(FETCHED_ONLY))
    docs = manifest.filter(pl.col("dataset").is_null() & ~fetched_only)
    assert set(docs["path"].str.extract(r"\.(\w+)$")) <= {"md", None}
