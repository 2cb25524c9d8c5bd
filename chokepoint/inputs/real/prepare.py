"""Real data by default: before a run in data mode ``auto``, fetch what no copy holds yet.

``chokepoint run`` (and so ``make run``) calls :func:`prepare_real_data` before the job
starts. In mode ``auto``, when neither the fetch cache nor the local mirror holds every
ingested file, it downloads them into the cache exactly as ``chokepoint fetch`` does
(GitHub raw at the pinned commits or ``CHOKEPOINT_FETCH_BASE``; size and sha256 verified;
nothing written unless every file checks out), bounded in time. The run then finds the
complete cache and uses the real data. When the origins cannot be reached or a download
does not match the manifest, the run goes on with the reference data and
:attr:`RunData.notice` says why in one line.

Modes ``real`` and ``reference`` are left to the run: ``reference`` needs nothing, and
``real`` without a complete copy is the run's own one-line error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import polars as pl

from chokepoint.errors import FetchError
from chokepoint.inputs.real.fetch import FetchReport, fetch
from chokepoint.inputs.real.manifest import locate_real_data, origin_url

__all__ = ["RunData", "prepare_real_data", "FETCH_TIMEOUT", "FETCH_DEADLINE"]

#: Seconds per connection attempt of the fetch before a run.
FETCH_TIMEOUT = 10.0
#: Seconds all downloads before a run may take together (then: reference data).
FETCH_DEADLINE = 180.0


@dataclass(frozen=True)
class RunData:
    """Which data a run will use, decided before it starts.

    Attributes
    ----------
    mode : str
        ``real`` or ``reference``; for requested modes other than ``auto``, the requested
        mode (the run decides and reports).
    source : str or None
        ``cache`` or ``mirror`` for real data, else None.
    fetched : FetchReport or None
        What the fetch did, if one ran and succeeded.
    notice : str
        One line for the user ('' when there is nothing to say): what was fetched, or
        why the run uses the reference data.
    """

    mode: str
    source: str | None = None
    fetched: FetchReport | None = None
    notice: str = ""


def prepare_real_data(requested: str, mirror: Path | None, cache: Path | None, manifest: pl.DataFrame, *,
                      base: str | None = None, allow_fetch: bool = True, timeout: float = FETCH_TIMEOUT,
                      deadline: float = FETCH_DEADLINE) -> RunData:
    """Make sure a run in data mode ``auto`` has the real data if it can be had.

    Parameters
    ----------
    requested : str
        The data mode (``CHOKEPOINT_DATA_MODE``): ``auto``, ``real`` or ``reference``.
    mirror, cache : Path or None
        The local mirror (``CHOKEPOINT_SHARED_DATA``) and the fetch cache (``CHOKEPOINT_CACHE``).
    manifest : polars.DataFrame
        :func:`chokepoint.inputs.real.manifest.load_manifest`; only the ingested files
        (``dataset`` not null) are fetched, as only they are read by the run.
    base : str, optional
        Base URL of a mirror laid out like the data root (``CHOKEPOINT_FETCH_BASE``);
        default GitHub raw at the pinned commits.
    allow_fetch : bool
        False (``chokepoint run --no-fetch``): never download; reference data if no copy.
    timeout, deadline : float
        Seconds per connection attempt, and for all downloads together.

    Returns
    -------
    RunData
        The data the run will use and the line to tell the user.
    """
    if requested != "auto":
        return RunData(mode=requested)
    found = locate_real_data(requested, mirror, cache, manifest)
    if found.mode == "real":
        return RunData(mode="real", source=found.source)
    if not allow_fetch:
        return RunData(mode="reference", notice=f"{found.reason}; --no-fetch given, running on the reference data")
    if cache is None:
        return RunData(mode="reference", notice="real data unavailable (no fetch cache configured: set "
                                                "CHOKEPOINT_CACHE); running on the reference data")
    needed = manifest.filter(pl.col("dataset").is_not_null())
    try:
        report = fetch(needed, Path(cache), base=base, timeout=timeout, deadline=deadline, fallback=False,
                       say=lambda _: None)
    except (FetchError, OSError) as exc:
        return RunData(mode="reference", notice=f"real data unavailable ({_one_line(exc)}); running on the "
                                                "reference data")
    after = locate_real_data(requested, mirror, cache, manifest)
    if after.mode != "real" or after.source != "cache":  # pragma: no cover - fetch verified every file
        return RunData(mode="reference", notice=f"real data unavailable ({after.reason}); running on the "
                                                "reference data")
    host = urlparse(origin_url(needed.row(0, named=True), base)).netloc if needed.height else ""
    return RunData(mode="real", source="cache", fetched=report, notice=(
        f"fetched {len(report.downloaded)} real-data files ({report.bytes:,} bytes) from {host} into {cache}, "
        f"sha256 verified ({len(report.cached)} already cached); running on the real data"))


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())
