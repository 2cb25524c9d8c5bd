"""The inbox: the folder whose input files, when new or changed, trigger a refresh.

Only regular files inside the inbox count. A symbolic link (to a file or to a folder,
pointing anywhere) and anything that resolves outside the inbox is refused and
reported, never read (:func:`chokepoint.safety.safe_path_within`).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from chokepoint.files import file_sha256
from chokepoint.safety import UnsafePathError, safe_path_within

__all__ = ["INPUT_SUFFIXES", "InboxState", "scan_inbox", "changed_files"]

#: Files that are pipeline inputs (tables, scenarios, manifests).
INPUT_SUFFIXES = (".csv", ".toml", ".json")


@dataclass(frozen=True)
class InboxState:
    """The inbox's input files by relative path with their sha256, and what was refused."""

    files: dict[str, str]
    rejected: list[tuple[str, str]] = field(default_factory=list)

    @property
    def fingerprint(self) -> str:
        """sha256 over the whole state: equal states give equal run keys."""
        return hashlib.sha256(json.dumps(self.files, sort_keys=True).encode()).hexdigest()


def scan_inbox(root: Path) -> InboxState:
    """Hash every input file under ``root``; refuse links and escapes.

    Notes
    -----
    O(total bytes) for the hashing; the walk does not follow links.
    """
    root = Path(root)
    files: dict[str, str] = {}
    rejected: list[tuple[str, str]] = []
    for folder, subfolders, names in os.walk(root, followlinks=False):
        for sub in list(subfolders):
            if os.path.islink(os.path.join(folder, sub)):
                rejected.append((os.path.relpath(os.path.join(folder, sub), root), "symbolic link to a folder"))
                subfolders.remove(sub)
        for name in sorted(names):
            if not name.endswith(INPUT_SUFFIXES) or name.startswith("."):
                continue
            relative = os.path.relpath(os.path.join(folder, name), root)
            try:
                path = safe_path_within(root, relative)
            except UnsafePathError as exc:
                rejected.append((relative, str(exc)))
                continue
            files[relative] = file_sha256(path)
    return InboxState(files=dict(sorted(files.items())), rejected=sorted(rejected))


def changed_files(previous: dict[str, str], current: dict[str, str]) -> dict[str, str]:
    """Files that are new or whose content changed (path → ``new`` / ``changed``);
    removed files are listed as ``removed``."""
    out = {}
    for path, digest in current.items():
        if path not in previous:
            out[path] = "new"
        elif previous[path] != digest:
            out[path] = "changed"
    for path in previous:
        if path not in current:
            out[path] = "removed"
    return dict(sorted(out.items()))
