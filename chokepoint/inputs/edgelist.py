"""Reader and validator of undirected edge-list files (the ``critical-nodes`` input)."""

from __future__ import annotations

from pathlib import Path

from chokepoint.errors import InputError
from graph.critical_nodes import EdgeList, edge_list_from_pairs

__all__ = ["read_edge_list"]


def _decode(raw: bytes, path: Path) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InputError(path, f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})", row=line,
                         hint="save the file as UTF-8") from None


def read_edge_list(path) -> EdgeList:
    """Read an undirected edge list file.

    Format: one edge per line, two whitespace-separated node ids (arbitrary tokens
    without whitespace or ``#``); ``#`` starts a comment (whole line or trailing);
    blank lines are ignored. Both ``a b`` and ``b a`` denote the same edge; repeated
    edges are merged. Nodes exist only through their edges (isolated nodes never
    count in pairwise connectivity).

    Raises
    ------
    InputError
        Naming file and line: missing file, non-UTF-8 bytes, a line without exactly
        two ids, a self-loop (``a a``: an edge needs two distinct nodes — usually a
        data error, so it is refused rather than silently dropped), or no edge at all.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory, expected an edge list file") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror}") from None
    text = _decode(raw, path)
    pairs: list[tuple[str, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        hash_at = line.find("#")
        if hash_at >= 0:
            line = line[:hash_at]
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2:
            what = "one node id" if len(fields) == 1 else f"{len(fields)} fields"
            raise InputError(path, f"expected two node ids separated by whitespace, got {what}: {line.strip()!r}",
                             row=number, hint="one undirected edge per line, e.g. 'a b'; weights are not supported")
        if fields[0] == fields[1]:
            raise InputError(path, f"self-loop '{fields[0]} {fields[1]}': an edge needs two distinct nodes",
                             row=number, hint="remove the line; a self-loop never changes connectivity")
        pairs.append((fields[0], fields[1]))
    if not pairs:
        raise InputError(path, "no edges (the file is empty or only comments)",
                         hint="one undirected edge per line: two whitespace-separated node ids")
    return edge_list_from_pairs(pairs, source=str(path))
