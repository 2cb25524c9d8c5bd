"""The mirror's two newer datasets (``ai_chip_fab_atlas``, ``opensanctions``): in the manifest with
their provenance and licence, downloaded and verified by ``fetch``, and — now that they are
ingested — required by the real data mode like every other dataset."""

from __future__ import annotations

import hashlib

import polars as pl
import pytest

from chokepoint.errors import InputError
from chokepoint.inputs.real.fetch import FetchError, fetch
from chokepoint.inputs.real.manifest import DATASETS, FETCHED_ONLY, load_manifest, locate_real_data, manifest_path
from tests.support.real_data import MIRROR, mirror_copy, needs_mirror, serve

NEW_FOLDERS = ("ai_chip_fab_atlas", "opensanctions")
NEW_FILES = {
    "ai_chip_fab_atlas/atlas-campuses.csv": ("Berkeley-AI-Risk/ai-chip-fab-atlas",
                                             "data/fab-data-center-comparison/atlas-campuses.csv"),
    "opensanctions/cn_countermeasures.csv": ("opensanctions/opensanctions", "datasets/cn/sanctions/sanctions.csv"),
    "opensanctions/COPYRIGHT.md": ("opensanctions/opensanctions", "COPYRIGHT.md"),
}


@pytest.fixture(scope="module")
def manifest():
    return load_manifest()


def test_new_datasets_are_in_the_manifest_with_provenance_and_ingested(manifest):
    new = manifest.filter(pl.col("path").str.extract(r"^([^/]+)/").is_in(list(NEW_FOLDERS)))
    assert new.height == 8
    # Every CSV is ingested under its folder's dataset; the licence file is not data.
    assert dict(zip(new["path"], new["dataset"]))["opensanctions/COPYRIGHT.md"] is None
    assert set(new.filter(pl.col("path").str.ends_with(".csv"))["dataset"]) == set(NEW_FOLDERS)
    rows = {row["path"]: row for row in new.iter_rows(named=True)}
    for path, (repo, origin) in NEW_FILES.items():
        assert (rows[path]["repo"], rows[path]["origin_path"]) == (repo, origin)
        assert len(rows[path]["commit"]) == 40
    # Licences are recorded for both; the non-commercial one says so; nothing is fetched-only any more.
    assert DATASETS["opensanctions"][1] == "CC BY-NC 4.0" and DATASETS["ai_chip_fab_atlas"][1].startswith("CC BY 4.0")
    assert all(DATASETS[folder][2] for folder in NEW_FOLDERS) and not FETCHED_ONLY


@needs_mirror
def test_new_dataset_files_match_the_mirror_bytes(manifest):
    for row in manifest.filter(pl.col("path").str.extract(r"^([^/]+)/").is_in(list(NEW_FOLDERS))).iter_rows(
            named=True):
        data = (MIRROR / row["path"]).read_bytes()
        assert (hashlib.sha256(data).hexdigest(), len(data)) == (row["sha256"], row["bytes"]), row["path"]


@needs_mirror
def test_fetch_downloads_and_verifies_a_new_dataset_file_and_auto_mode_needs_it(tmp_path, manifest):
    cache = tmp_path / "cache"
    with serve(MIRROR) as (base, requests):
        fetch(manifest, cache, base=base, say=lambda _: None)
    target = "ai_chip_fab_atlas/atlas-campuses.csv"
    assert f"/{target}" in requests
    assert (cache / target).read_bytes() == (MIRROR / target).read_bytes()
    assert locate_real_data("auto", None, cache, manifest).source == "cache"
    # Ingested: a cache without the atlas is no longer complete for a run on real data.
    (cache / target).unlink()
    found = locate_real_data("auto", None, cache, manifest)
    assert found.mode == "reference" and f"(first: {target})" in found.reason


@needs_mirror
def test_a_corrupted_new_dataset_file_is_refused_and_leaves_the_cache_untouched(tmp_path, manifest):
    served = mirror_copy(tmp_path)
    target = "opensanctions/us_ndaa_section_5949.csv"
    (served / target).write_bytes((served / target).read_bytes().replace(b"SMIC", b"SMIX"))
    with serve(served) as (base, _):
        with pytest.raises(FetchError, match=f"^{target}: checksum mismatch"):
            fetch(manifest, tmp_path / "cache", base=base, say=lambda _: None)
    assert not (tmp_path / "cache").exists()


def test_a_manifest_file_in_an_unknown_folder_is_named_by_line_and_field(tmp_path):
    lines = manifest_path().read_text(encoding="utf-8").splitlines()
    sha = "0" * 64
    bad = tmp_path / "real_sources.csv"
    bad.write_text("\n".join([*lines[:3], f"new_source/table.csv,{sha},10,owner/repo,{'a' * 40},table.csv",
                              *lines[3:]]) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_manifest(bad)
    assert (err.value.row, err.value.field) == (4, "path")
    assert "new_source/table.csv" in str(err.value) and "FETCHED_ONLY" in str(err.value)
