"""``chokepoint fetch``: download the real datasets, verify their sha256, cache them."""

from __future__ import annotations

from pathlib import Path

__all__ = ["register"]


def _fetch(args) -> int:
    from chokepoint import paths
    from chokepoint.ingest.fetch import fetch
    from chokepoint.ingest.manifest import load_manifest

    cache = Path(args.cache).resolve() if args.cache else paths.cache_dir()
    mirror = Path(args.mirror).resolve() if args.mirror else paths.shared_data_dir()
    base = args.base if args.base is not None else paths.fetch_base()
    fetch(load_manifest(), cache, base=base or None, mirror=mirror, timeout=args.timeout,
          say=lambda text: print(f"chokepoint fetch: {text}", flush=True))
    return 0


def register(commands) -> None:
    parser = commands.add_parser(
        "fetch", help="download the real datasets from their public origins, verify sha256, cache them",
        description=("Download every file of data/real_sources.csv from GitHub raw at its pinned commit (or from "
                     "--base), verify size and sha256, and cache it. A failed or corrupted download leaves the cache "
                     "unchanged. Offline, says so in one line and uses the local mirror instead."))
    parser.add_argument("--cache", help="cache folder (default: CHOKEPOINT_CACHE or data/cache)")
    parser.add_argument("--base", help="base URL of a mirror laid out like ../shared/data "
                                       "(default: CHOKEPOINT_FETCH_BASE, else GitHub raw at the pinned commits)")
    parser.add_argument("--mirror", help="local mirror to use when offline (default: CHOKEPOINT_SHARED_DATA or "
                                         "../shared/data)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per connection attempt (default: 10)")
    parser.set_defaults(handler=_fetch)
