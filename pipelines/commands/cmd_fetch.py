"""``chokepoint fetch``: download the real datasets, verify their sha256, cache them."""

from __future__ import annotations

from pathlib import Path

from chokepoint import settings
from chokepoint.inputs.real.fetch import fetch as fetch_datasets
from chokepoint.inputs.real.manifest import load_manifest

__all__ = ["fetch"]


def fetch(args) -> int:
    cache = Path(args.cache).resolve() if args.cache else settings.cache_dir()
    mirror = Path(args.mirror).resolve() if args.mirror else settings.shared_data_dir()
    base = args.base if args.base is not None else settings.fetch_base()
    fetch_datasets(load_manifest(), cache, base=base or None, mirror=mirror, timeout=args.timeout,
          say=lambda text: print(f"chokepoint fetch: {text}", flush=True))
    return 0
