"""Download the real-data files from their public origins, verify sha256, cache them.

Each file of the manifest (``data/real_sources.csv``) comes from GitHub raw at the
pinned commit (or from ``base``/path, a mirror laid out like ``../shared/data``). Files
already in the cache with the right checksum are kept. Everything else is downloaded
into a temporary folder beside the cache and checked (size and sha256) first; only when
every file checks out are they moved into the cache, so a corrupted or failed download
leaves the cache exactly as it was.

Offline (the first download cannot reach its host), :func:`fetch` says so in one line
and falls back to the local mirror after verifying it (or, with ``fallback=False``, raises
:class:`FetchError` ``offline: …``). ``deadline`` bounds the time all downloads may take.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urlparse

import polars as pl

from chokepoint.errors import FetchError
from chokepoint.files import file_sha256
from chokepoint.inputs.real.manifest import origin_url

__all__ = ["FetchError", "FetchReport", "fetch"]


@dataclass
class FetchReport:
    """What :func:`fetch` did: ``mode`` is ``downloaded`` or ``offline`` (mirror used)."""

    mode: str
    cache: Path
    downloaded: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    bytes: int = 0
    mirror: Path | None = None
    message: str = ""


class _Offline(Exception):
    pass


def _cached_ok(path: Path, row: dict) -> bool:
    return path.is_file() and path.stat().st_size == row["bytes"] and file_sha256(path) == row["sha256"]


def _download(url: str, target: Path, timeout: float) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    request = urllib.request.Request(url, headers={"User-Agent": "chokepoint-fetch"})
    with urllib.request.urlopen(request, timeout=timeout) as response, open(target, "wb") as out:
        shutil.copyfileobj(response, out, length=1 << 20)


def _is_unreachable(error: BaseException) -> bool:
    """A failure to reach the host (no network, DNS, refused, timeout), not an HTTP answer."""
    if isinstance(error, urllib.error.HTTPError):
        return False
    return isinstance(error, (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError))


def fetch(manifest: pl.DataFrame, cache: Path, *, base: str | None = None, mirror: Path | None = None,
          timeout: float = 10.0, say: Callable[[str], None] = print, fallback: bool = True,
          deadline: float | None = None) -> FetchReport:
    """Fill ``cache`` with every manifest file, verified.

    Parameters
    ----------
    manifest : polars.DataFrame
        ``path``, ``sha256``, ``bytes``, ``repo``, ``commit``, ``origin_path``.
    cache : Path
        The cache folder (created if needed).
    base : str, optional
        Base URL of a mirror laid out like the data root; default GitHub raw.
    mirror : Path, optional
        Local mirror used (after verification) when offline.
    timeout : float
        Seconds per connection attempt.
    say : callable
        Where progress lines go.
    fallback : bool
        Offline, use the verified local ``mirror`` (default); if False, raise
        :class:`FetchError` ``offline: <host> unreachable (<reason>)`` instead.
    deadline : float, optional
        Seconds all downloads together may take; checked after each file, so the last
        one may overrun it by up to ``timeout`` per stalled read. None: no limit.

    Raises
    ------
    FetchError
        On an HTTP error, a checksum or size mismatch, a failed download after the first
        succeeded, downloads beyond ``deadline``, or offline without a verified mirror
        (or with ``fallback=False``). The cache is left unchanged.
    """
    cache = Path(cache)
    rows = list(manifest.iter_rows(named=True))
    report = FetchReport(mode="downloaded", cache=cache)
    todo = []
    for row in rows:
        if _cached_ok(cache / row["path"], row):
            report.cached.append(row["path"])
        else:
            todo.append(row)
    if not todo:
        report.message = f"all {len(rows)} files already in the cache {cache}, sha256 verified"
        say(report.message)
        return report

    cache.parent.mkdir(parents=True, exist_ok=True)
    staging = cache.parent / f".{cache.name}.fetch-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    started = time.monotonic()
    try:
        for number, row in enumerate(todo):
            if deadline is not None and number and time.monotonic() - started > deadline:
                raise FetchError(f"downloads took longer than {deadline:g} s ({number} of {len(todo)} files done); "
                                 "nothing written to the cache")
            url = origin_url(row, base)
            try:
                _download(url, staging / row["path"], timeout)
            except urllib.error.HTTPError as exc:
                raise FetchError(f"{row['path']}: HTTP {exc.code} {exc.reason} from {url}; nothing written to the "
                                 f"cache") from None
            except Exception as exc:  # noqa: BLE001 - classified below
                if number == 0 and not report.downloaded and _is_unreachable(exc):
                    raise _Offline(f"{urlparse(url).netloc or url} unreachable ({_reason(exc)})") from None
                raise FetchError(f"{row['path']}: download from {url} failed ({_reason(exc)}); nothing written to "
                                 f"the cache") from None
            got = staging / row["path"]
            size, digest = got.stat().st_size, file_sha256(got)
            if digest != row["sha256"] or size != row["bytes"]:
                raise FetchError(f"{row['path']}: checksum mismatch (expected sha256 {row['sha256'][:16]}…, got "
                                 f"{digest[:16]}…; {row['bytes']:,} bytes expected, {size:,} received) from {url}; "
                                 "nothing written to the cache")
            report.downloaded.append(row["path"])
            report.bytes += size
        for row in todo:
            target = cache / row["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / row["path"], target)
    except _Offline as offline:
        if not fallback:
            raise FetchError(f"offline: {offline}") from None
        return _use_mirror(str(offline), rows, mirror, cache, say)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    report.message = (f"fetched {len(report.downloaded)} files ({report.bytes:,} bytes), {len(report.cached)} "
                      f"already cached; sha256 verified; cache: {cache}")
    say(report.message)
    return report


def _use_mirror(why: str, rows: list[dict], mirror: Path | None, cache: Path, say) -> FetchReport:
    if mirror is None or not Path(mirror).is_dir():
        raise FetchError(f"offline: {why}, and no local mirror at {mirror} (set CHOKEPOINT_SHARED_DATA)")
    bad = [row["path"] for row in rows if not _cached_ok(Path(mirror) / row["path"], row)]
    if bad:
        raise FetchError(f"offline: {why}, and the local mirror {mirror} does not match the manifest "
                         f"({len(bad)} files missing or different, first: {bad[0]})")
    report = FetchReport(mode="offline", cache=cache, mirror=Path(mirror))
    report.message = (f"offline: {why}; using the local mirror {mirror} ({len(rows)} files, sha256 verified)")
    say(report.message)
    return report


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.URLError) and exc.reason is not None:
        return str(exc.reason)
    return str(exc) or type(exc).__name__

