"""The DuckDB warehouse: builds, atomic publishing, immutable snapshots, rollback and verify.

Layout beside the published path ``<dir>/chokepoint.duckdb``::

    chokepoint.duckdb                 a symbolic link to the current snapshot: what analysts open
    chokepoint.snapshots/             immutable published files, <seq>-<hash>.duckdb: the current
                                      one and the last N earlier ones (held ones kept longer)
    chokepoint.duckdb.ledger.jsonl    the hash chain, one record per publish (chokepoint.warehouse.ledger)
    .chokepoint.duckdb.build-<run>    a refresh being built (+ .lock held while its process lives)
    .chokepoint.duckdb.publish.lock   serialises publishes and rollbacks

A refresh writes every table into its own build file, starting from a byte copy of the
current snapshot. Publishing computes canonical digests of the build's tables, appends a
ledger record (inside the build and, after the switch, to the JSON-lines file),
checkpoints and fsyncs the build, renames it into ``snapshots/`` under its record's name
and switches the link to it (a new link renamed over the old one: atomic on POSIX).

No step of a refresh, rollback or verify opens a published snapshot for writing, and none
needs DuckDB's lock on one: a client holding the current file, read-only or read-write,
in a long transaction or not, keeps its snapshot until it reconnects, and a new
connection follows the link to the new one. Reading a snapshot that a client holds
read-write uses a private byte copy (:func:`chokepoint.warehouse.ledger.connect_read_only`).
DuckDB resolves the link, so a client that writes through it writes that snapshot's own
WAL (``snapshots/<name>.duckdb.wal``), never one that another snapshot could replay; a
WAL left by a client that is gone, and a ``chokepoint.duckdb.wal`` beside the link, are
moved aside (``*.wal.moved-<time>``) at the next publish or rollback and reported by
``verify``. Earlier snapshots beyond the kept count are deleted only when no process
holds them (``/proc/locks``), or once they were superseded longer ago than the retention
period (:func:`chokepoint.settings.snapshot_retention_hours`).

A process killed at any point leaves either the old link or the new one, never a mix;
its build is removed by the next refresh once no live process holds the build's lock,
and a snapshot it renamed in but never linked is removed by the next publish. A
published path that is still a plain file (a warehouse from before snapshots were
linked, or a copy) is hard-linked into ``snapshots/`` and replaced by the link at the
next publish.
"""

from __future__ import annotations

import calendar
import errno
import fcntl
import json
import logging
import os
import re
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from chokepoint.errors import InputError, WarehouseError
from chokepoint.files import fsync_dir, fsync_file
from chokepoint.inputs.scenario import parse_scenario
from chokepoint.warehouse.ledger import (
    LedgerError,
    append_ledger_file,
    chain_problems,
    code_version,
    connect_read_only,
    file_sha256,
    make_record,
    private_copy,
    read_chain,
    read_ledger_file,
    scenario_parameters,
    table_digests,
    write_chain,
)
from chokepoint.safety import qualified_name, quote_identifier
from chokepoint.settings import crash_at, keep_snapshots, snapshot_retention_hours

_log = logging.getLogger(__name__)

__all__ = [
    "WarehouseError",
    "WarehousePaths",
    "Snapshot",
    "VerifyReport",
    "open_build",
    "release_build",
    "discard_build",
    "clean_stale_builds",
    "describe_build",
    "publish_build",
    "publish_tables",
    "publish",
    "list_snapshots",
    "rollback",
    "verify_warehouse",
    "ledger_head",
    "current_snapshot",
    "holders",
    "CRASH_POINTS",
]

_BUILD_KEY = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_SNAPSHOT_NAME = re.compile(r"^(\d{6,})-([0-9a-f]{12}|unledgered-\d+)\.duckdb$")


@dataclass(frozen=True)
class WarehousePaths:
    """Where the published file, its ledger, snapshots, builds and locks live."""

    published: Path

    @classmethod
    def of(cls, published) -> "WarehousePaths":
        return cls(Path(os.path.abspath(published)))

    @property
    def directory(self) -> Path:
        return self.published.parent

    @property
    def ledger_file(self) -> Path:
        return self.published.with_name(self.published.name + ".ledger.jsonl")

    @property
    def snapshots(self) -> Path:
        return self.published.with_name(self.published.stem + ".snapshots")

    @property
    def publish_lock(self) -> Path:
        return self.published.with_name(f".{self.published.name}.publish.lock")

    @property
    def stray_wal(self) -> Path:
        """Where a client that opened the published path as a plain file writes its WAL."""
        return self.published.with_name(self.published.name + ".wal")

    @property
    def build_prefix(self) -> str:
        return f".{self.published.name}.build-"

    def build(self, key: str) -> Path:
        if not _BUILD_KEY.match(key):
            raise WarehouseError(f"build key {key!r} must be letters, digits, '_' or '-'")
        return self.published.with_name(self.build_prefix + key)


# --- locks -------------------------------------------------------------------------

#: Build locks this process holds, by build path: the open file descriptor.
_HELD: dict[str, int] = {}


def _try_lock(path: Path, *, blocking: bool = False, timeout: float = 600.0) -> int | None:
    """An exclusive ``flock`` on ``path`` (created if missing), or None if another
    open file holds it. The kernel drops the lock when the holder dies, even by SIGKILL.

    The file is re-checked after locking: if it was unlinked and recreated meanwhile
    (another process cleaning up), the lock is on a dead inode and is taken again.
    """
    deadline = time.monotonic() + timeout
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if blocking:
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() > deadline:
                            raise WarehouseError(f"{path.name}: still locked after {timeout:.0f} s "
                                                 "(another publish or rollback is running)") from None
                        time.sleep(0.05)
            else:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    return None
            try:
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return fd
            os.close(fd)
        except BaseException:
            try:
                os.close(fd)
            except OSError:
                pass
            raise


class _PublishLock:
    def __init__(self, paths: WarehousePaths):
        self.paths = paths
        self.fd = None

    def __enter__(self):
        self.paths.directory.mkdir(parents=True, exist_ok=True)
        self.fd = _try_lock(self.paths.publish_lock, blocking=True)
        return self

    def __exit__(self, *exc):
        os.close(self.fd)


#: Test hook: ``CHOKEPOINT_CRASH_AT=<point>`` kills this process with SIGKILL at that
#: point of a publish, so tests can show every window leaves a consistent warehouse.
CRASH_POINTS = ("build_copied", "ledger_written", "snapshot_linked", "swapped", "ledger_file_appended")


def _crash_point(name: str) -> None:
    if crash_at() == name:
        os.kill(os.getpid(), signal.SIGKILL)


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


# --- builds --------------------------------------------------------------------------

def _owner_build(paths: WarehousePaths, name: str) -> str | None:
    """The build file a companion file (``.wal``, ``.lock``, ``.tmp-*``) belongs to."""
    if not name.startswith(paths.build_prefix):
        return None
    base = re.sub(r"(\.tmp-\d+)?(\.wal|\.lock)?$", "", name)
    base = re.sub(r"\.tmp-\d+$", "", base)
    return base


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_builds(published, *, keep: tuple[Path, ...] = ()) -> list[Path]:
    """Remove build files (and their ``.wal``/``.lock``/temporary companions) that no
    live process holds. A build is live while some process holds its ``.lock``;
    ``keep`` builds are never touched. Returns the removed build paths."""
    paths = WarehousePaths.of(published)
    if not paths.directory.is_dir():
        return []
    keep_names = {Path(k).name for k in keep}
    groups: dict[str, list[Path]] = {}
    for entry in paths.directory.iterdir():
        owner = _owner_build(paths, entry.name)
        if owner is not None and owner not in keep_names:
            groups.setdefault(owner, []).append(entry)
    for folder in (paths.directory, paths.snapshots):
        for entry in folder.glob(".*.reader-*") if folder.is_dir() else ():
            match = re.search(r"\.reader-(\d+)-", entry.name)
            if match and not _alive(int(match.group(1))):
                _unlink(entry)  # a private copy whose process died before removing it
    removed = []
    for owner, files in sorted(groups.items()):
        build = paths.directory / owner
        if str(build) in _HELD:
            continue
        lock = build.with_name(build.name + ".lock")
        fd = _try_lock(lock)
        if fd is None:
            continue  # a live process is writing this build
        try:
            for file in files:
                if file != lock:
                    _unlink(file)
            _unlink(lock)
        finally:
            os.close(fd)
        removed.append(build)
    return removed


def open_build(published, key: str, *, fresh: bool = False) -> Path:
    """The build file of run ``key``, locked for this process's lifetime.

    A new build starts as a copy of the current snapshot (unless ``fresh``), so a run
    that materialises only some assets, or re-executes a failed run, finds the other
    tables as published; every table a run writes is dropped and recreated. Tables in
    the copy that its ledger record does not name (a client wrote them into the
    published file) are dropped, so they are never carried into a new publish.
    Re-opening the build of an earlier run with the same key (a re-execution) keeps
    what that run wrote. Stale builds of dead processes are removed first.

    Raises
    ------
    WarehouseError
        If another live process holds the build of ``key``.
    """
    paths = WarehousePaths.of(published)
    paths.directory.mkdir(parents=True, exist_ok=True)
    build = paths.build(key)
    if str(build) not in _HELD:
        fd = _try_lock(build.with_name(build.name + ".lock"))
        if fd is None:
            raise WarehouseError(f"build {build.name} is in use by another live run")
        _HELD[str(build)] = fd
    clean_stale_builds(published, keep=(build,))
    current = current_snapshot(paths.published)
    if not build.exists() and not fresh and current is not None:
        # A byte copy: no DuckDB lock on the snapshot, whoever holds it.
        temporary = private_copy(current, paths.directory)
        try:
            _drop_unrecorded_tables(temporary)
            os.replace(temporary, build)
        finally:
            _unlink(temporary)
            _unlink(temporary.with_name(temporary.name + ".wal"))
        _crash_point("build_copied")
    return build


def _drop_unrecorded_tables(build: Path) -> list[str]:
    """Drop base tables that the build's own last ledger record does not name."""
    dropped = []
    with duckdb.connect(str(build)) as con:
        chain = read_chain(con)
        if not chain:
            return dropped
        recorded = set(chain[-1]["tables"])
        tables = con.execute("SELECT table_schema, table_name FROM information_schema.tables "
                             "WHERE table_type = 'BASE TABLE' AND table_catalog = current_database() "
                             "AND table_schema <> 'ledger' ORDER BY 1, 2").fetchall()
        for schema, table in tables:
            if f"{schema}.{table}" not in recorded:
                con.execute(f"DROP TABLE {quote_identifier(schema)}.{quote_identifier(table)}")
                dropped.append(f"{schema}.{table}")
        if dropped:
            con.execute("CHECKPOINT")
            _log.warning("%s: not carried into the new build (not in ledger record #%s; written into the "
                         "published file by a client): %s", build.name, chain[-1]["seq"], ", ".join(dropped))
    return dropped


def release_build(build) -> None:
    """Drop this process's lock on ``build`` (the file stays for a re-execution until
    the next refresh cleans it)."""
    fd = _HELD.pop(str(Path(build)), None)
    if fd is not None:
        os.close(fd)


def discard_build(build) -> None:
    """Delete ``build`` and its companions and release its lock."""
    build = Path(build)
    for companion in (build, build.with_name(build.name + ".wal")):
        _unlink(companion)
    fd = _HELD.pop(str(build), None)
    _unlink(build.with_name(build.name + ".lock"))
    if fd is not None:
        os.close(fd)


# --- describing and publishing a build -------------------------------------------------

def _table_exists(con, schema: str, table: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? "
                            "AND table_name = ?", [schema, table]).fetchone()[0])


def describe_build(con, *, overrides: dict | None = None) -> tuple[dict, dict]:
    """Inputs (``{path: sha256}``) and scenario (name, sha256, parameters) of a build.

    Inputs are the files named in the ``_file`` column of every ``staging.src_*``
    table plus the scenario file, hashed now. Real-data tables name their files
    relative to the data root recorded in ``staging.data_mode``. The scenario file's hash must equal the
    one its source asset recorded when it read it: a file edited during the run
    raises :class:`WarehouseError` instead of publishing figures nobody can trace.
    """
    inputs: dict[str, str] = {}
    scenario: dict = {}
    root = None
    if _table_exists(con, "staging", "data_mode"):
        row = con.execute("SELECT root FROM staging.data_mode LIMIT 1").fetchone()
        root = Path(row[0]) if row and row[0] else None
    sources = con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'staging' "
                          "AND table_name LIKE 'src\\_%' ESCAPE '\\' ORDER BY 1").fetchall()
    for (table,) in sources:
        columns = {c for (c,) in con.execute("SELECT column_name FROM information_schema.columns WHERE "
                                             "table_schema = 'staging' AND table_name = ?", [table]).fetchall()}
        if "_file" in columns:
            files = con.execute(f"SELECT DISTINCT _file FROM staging.{quote_identifier(table)} "
                                "WHERE _file IS NOT NULL ORDER BY 1").fetchall()
            for (file,) in files:
                path = Path(file)
                if not path.is_absolute() and root is not None:
                    path = root / path
                if path.is_file():
                    inputs[str(path)] = file_sha256(path)
                else:
                    raise WarehouseError(f"input file {file} went missing during the run; not published")
    if _table_exists(con, "staging", "src_scenario"):
        row = con.execute("SELECT path, sha256, text FROM staging.src_scenario LIMIT 1").fetchone()
        if row is not None:
            path, recorded, text = row
            current = file_sha256(Path(path)) if os.path.isfile(path) else None
            if current != recorded:
                raise WarehouseError(f"scenario file {Path(path).name} changed during the run "
                                     "(its sha256 differs from when it was read); not published, run again")
            inputs[path] = recorded
            scenario = {"name": parse_scenario(text, Path(path)).name, "sha256": recorded,
                        "parameters": scenario_parameters(parse_scenario(text, Path(path))),
                        "overrides": dict(sorted((overrides or {}).items()))}
    return inputs, scenario


def _snapshot_name(chain: list[dict] | None, published: Path) -> str:
    if chain:
        head = chain[-1]
        return f"{head['seq']:06d}-{head['hash'][:12]}.duckdb"
    return f"{0:06d}-unledgered-{published.stat().st_mtime_ns}.duckdb"


def current_snapshot(published) -> Path | None:
    """The file the published path names now: the snapshot its link points to (or the
    path itself while it is a plain file); None if there is none."""
    path = WarehousePaths.of(published).published
    if path.is_symlink():
        target = Path(os.path.realpath(path))
        return target if target.is_file() else None
    return path if path.is_file() else None


def holders(path) -> list[tuple[int, str]] | None:
    """Processes holding a lock on ``path``'s file, as ``(pid, "READ"|"WRITE")``: DuckDB
    locks every database file it has open (read-only: shared; read-write: exclusive).

    Read from ``/proc/locks`` (Linux), so probing opens nothing and cannot disturb the
    locks of a connection in this very process. None when that cannot be told.
    """
    try:
        st = os.stat(path)
        with open("/proc/locks", encoding="ascii", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    key = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    found = []
    for line in lines:
        fields = line.split()
        if "->" in fields:  # a waiter, not a holder
            continue
        for position, value in enumerate(fields):
            if value == key and position >= 2:
                mode, pid = fields[position - 2], fields[position - 1]
                found.append((int(pid) if pid.lstrip("-").isdigit() else -1, mode))
    return found


def _held(path: Path) -> bool:
    """Whether any process holds ``path`` (True when that cannot be told)."""
    found = holders(path)
    return found is None or bool(found)


def _published_chain(paths: WarehousePaths) -> list[dict] | None:
    current = current_snapshot(paths.published)
    if current is None:
        return None
    with connect_read_only(current) as con:
        return read_chain(con)


def _current_chain(paths: WarehousePaths) -> list[dict]:
    """The published chain, checked intact and consistent with the ledger file.

    The ledger file may lag the warehouse by the records of a publish interrupted
    right after its swap; those are appended at the next swap. Any other
    disagreement stops publishing (:class:`LedgerError`) until someone looks.
    """
    chain = _published_chain(paths) or []
    problems = chain_problems(chain, paths.published.name)
    if problems:
        raise LedgerError(f"the published warehouse's ledger is broken ({problems[0]}); "
                          "run `chokepoint verify` and roll back to an intact snapshot")
    on_file = read_ledger_file(paths.ledger_file)
    hashes, file_hashes = [r["hash"] for r in chain], [r.get("hash") for r in on_file]
    if file_hashes != hashes[: len(file_hashes)]:
        raise LedgerError(f"{paths.ledger_file.name} does not match the ledger inside {paths.published.name} "
                          "(the warehouse was replaced or the file edited outside chokepoint); run "
                          "`chokepoint verify`, then move the ledger file aside to start a new chain if intended")
    return chain


def _sync_ledger_file(paths: WarehousePaths, chain: list[dict]) -> None:
    on_file = read_ledger_file(paths.ledger_file)
    if len(on_file) < len(chain):
        append_ledger_file(paths.ledger_file, chain[len(on_file):])


def _snapshot_current(paths: WarehousePaths) -> Path | None:
    """A published path that is still a plain file: hard-link it into ``snapshots/``
    under its record's name (copy where links fail), so the switch to a link keeps it."""
    if paths.published.is_symlink() or not paths.published.exists():
        return None
    chain = _published_chain(paths)
    paths.snapshots.mkdir(exist_ok=True)
    target = paths.snapshots / _snapshot_name(chain, paths.published)
    if target.exists():
        return target
    try:
        os.link(paths.published, target)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
            raise
        temporary = private_copy(paths.published, paths.snapshots)
        fsync_file(temporary)
        os.replace(temporary, target)
    fsync_dir(paths.snapshots)
    return target


def _snapshot_files(paths: WarehousePaths) -> list[Snapshot]:
    """Every snapshot file in ``snapshots/`` (current, earlier and unlinked), oldest first."""
    if not paths.snapshots.is_dir():
        return []
    found = []
    for entry in paths.snapshots.iterdir():
        match = _SNAPSHOT_NAME.match(entry.name)
        if match and entry.is_file():
            found.append(Snapshot(entry, int(match.group(1)), match.group(2)))
    return sorted(found, key=lambda s: (s.seq, s.path.name))


def _current_seq(paths: WarehousePaths, files: list[Snapshot]) -> int | None:
    """Ledger number of the current snapshot, from its name (or, for a plain published
    file, from the snapshot sharing its inode, else from its own chain)."""
    current = current_snapshot(paths.published)
    if current is None:
        return None
    for snapshot in files:
        if snapshot.path == current or os.path.samefile(snapshot.path, current):
            return snapshot.seq
    chain = _published_chain(paths)
    return chain[-1]["seq"] if chain else 0


def _moved_aside_name(wal: Path) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return wal.with_name(f"{wal.name}.moved-{stamp}-{os.getpid()}")


def _move_stray_wals(paths: WarehousePaths) -> list[Path]:
    """Move aside WAL files that DuckDB would replay into a published snapshot.

    ``chokepoint.duckdb.wal`` beside the link belongs to a client that opened the
    published path as a plain file (before the link, or a DuckDB that does not resolve
    links): it names no snapshot and is always moved. ``snapshots/<name>.duckdb.wal``
    holds what a client wrote into that snapshot; once no process holds the snapshot,
    any new reader would replay it, so it is moved. Returns the new names.
    """
    moved = []
    candidates = [paths.stray_wal]
    if paths.snapshots.is_dir():
        candidates += sorted(p for p in paths.snapshots.iterdir() if p.name.endswith(".duckdb.wal"))
    for wal in candidates:
        if not wal.is_file():
            continue
        database = wal.with_name(wal.name[: -len(".wal")])
        if wal != paths.stray_wal and database.exists() and _held(database):
            continue  # a live client's log: it checkpoints into its own snapshot
        target = _moved_aside_name(wal)
        os.replace(wal, target)
        moved.append(target)
        _log.warning("%s: moved aside to %s, never replayed (a client wrote into %s without checkpointing)",
                     wal.name, target.name, database.name)
    if moved:
        fsync_dir(paths.directory)
        if paths.snapshots.is_dir():
            fsync_dir(paths.snapshots)
    return moved


def _superseded_at(snapshot: Snapshot, chain: list[dict]) -> float:
    """When ``snapshot`` stopped being published (the next record's time; else its mtime)."""
    for record in chain:
        if record["seq"] == snapshot.seq + 1:
            try:
                return calendar.timegm(time.strptime(record["published_at"][:19], "%Y-%m-%dT%H:%M:%S"))
            except (KeyError, ValueError):
                break
    try:
        return snapshot.path.stat().st_mtime
    except OSError:
        return time.time()


def _prune_snapshots(paths: WarehousePaths, keep: int, chain: list[dict]) -> None:
    """Delete snapshots renamed in by interrupted publishes, and earlier snapshots beyond
    the ``keep`` newest that nobody holds (or held past the retention period)."""
    files = _snapshot_files(paths)
    head_seq = chain[-1]["seq"] if chain else _current_seq(paths, files)
    current = current_snapshot(paths.published)
    retention = snapshot_retention_hours() * 3600
    for snapshot in files:
        if head_seq is not None and snapshot.seq > head_seq and snapshot.path != current:
            _unlink(snapshot.path)  # renamed in by a publish killed before its switch
    earlier = list_snapshots(paths.published)
    for snapshot in earlier[: max(0, len(earlier) - keep)]:
        if _held(snapshot.path) and time.time() - _superseded_at(snapshot, chain) < retention:
            continue  # a client still reads it; retried at the next publish
        _unlink(snapshot.path)  # a WAL of its own is moved aside at the next publish


def _swap(build: Path, paths: WarehousePaths, chain: list[dict], keep: int) -> None:
    """Make ``build`` (already holding ``chain`` and checkpointed) the published snapshot."""
    wal = build.with_name(build.name + ".wal")
    if wal.exists() and wal.stat().st_size > 0:  # a checkpointed, closed build has none
        raise WarehouseError(f"{build.name} still has un-checkpointed changes; not published")
    _unlink(wal)
    fsync_file(build)
    _crash_point("ledger_written")
    _snapshot_current(paths)
    paths.snapshots.mkdir(exist_ok=True)
    target = paths.snapshots / _snapshot_name(chain, build)
    os.replace(build, target)
    fsync_dir(paths.snapshots)
    _crash_point("snapshot_linked")
    for leftover in paths.directory.glob(f".{paths.published.name}.link-*"):
        _unlink(leftover)  # of a publish killed between making its link and renaming it
    link = paths.published.with_name(f".{paths.published.name}.link-{os.getpid()}")
    os.symlink(os.path.relpath(target, paths.directory), link)
    os.replace(link, paths.published)
    fsync_dir(paths.directory)
    _crash_point("swapped")
    _sync_ledger_file(paths, chain)
    _crash_point("ledger_file_appended")
    _move_stray_wals(paths)
    _prune_snapshots(paths, keep, chain)


def publish_build(build, published, *, run_id: str, overrides: dict | None = None,
                  expected_tables=(), keep: int | None = None, kind: str = "publish",
                  carry_inputs: bool = False) -> dict:
    """Publish ``build`` over ``published`` atomically and append its ledger record.

    Parameters
    ----------
    build : Path
        The finished build (every step and asset check passed).
    published : Path
        The file analysts query.
    run_id : str
        Recorded in the ledger.
    overrides : dict, optional
        Run settings that override the scenario (solver, time limit), recorded.
    expected_tables : iterable of str
        ``schema.table`` names the build must hold; a missing one stops the publish.
    keep : int, optional
        Earlier published files to keep as snapshots (default: :func:`keep_snapshots`).
    kind : str
        Ledger record kind (``publish``; ``run_failure`` for :func:`record_run_failure`).
    carry_inputs : bool
        Take inputs and scenario from the previous record instead of re-hashing the input
        files: for amendments that add operational rows to an unchanged analysis (the
        input files may be exactly what made a run fail).

    Returns
    -------
    dict
        The ledger record appended.

    Raises
    ------
    WarehouseError, LedgerError
        Nothing is published then.
    """
    build, paths = Path(build), WarehousePaths.of(published)
    keep = keep_snapshots() if keep is None else keep
    if not build.exists():
        raise WarehouseError(f"build {build.name} does not exist; nothing to publish")
    with duckdb.connect(str(build)) as con:
        tables = table_digests(con)
        inputs, scenario = ({}, {}) if carry_inputs else describe_build(con, overrides=overrides)
    missing = sorted(set(expected_tables) - set(tables))
    if missing:
        raise WarehouseError(f"the build lacks {', '.join(missing)}; a refresh must materialise every "
                             "warehouse table before it is published")
    with _PublishLock(paths):
        _move_stray_wals(paths)
        chain = _current_chain(paths)
        if carry_inputs and chain:
            inputs, scenario = chain[-1]["inputs"], chain[-1]["scenario"]
        record = make_record(prev=chain[-1] if chain else None, kind=kind, run_id=run_id,
                             code=code_version(), inputs=inputs, scenario=scenario, tables=tables)
        with duckdb.connect(str(build)) as con:
            write_chain(con, chain + [record])
            con.execute("CHECKPOINT")
        _swap(build, paths, chain + [record], keep)
    discard_build(build)  # the build is the published file now; drop its lock file
    return record


def _columns_of(con, schema: str, table: str) -> list[tuple[str, str]]:
    return [tuple(r) for r in con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
        "ORDER BY ordinal_position", [schema, table]).fetchall()]


def publish_tables(published, tables: dict, *, run_id: str, key_column: str = "scenario",
                   overrides: dict | None = None, keep: int | None = None) -> dict:
    """Publish a new snapshot: the current one with ``tables`` written into it, atomically,
    with its ledger record (what ``chokepoint run`` does, for tables computed outside Dagster).

    Each table (``"schema.table"`` → Polars frame) replaces the rows of the keys its frame
    holds in ``key_column`` (other keys' rows stay, as a partitioned asset's do); a table
    that does not exist yet, or whose columns changed, is created anew. The build starts
    as a copy of the current snapshot (:func:`open_build`) and must still hold every table
    the current ledger record names (:func:`publish_build` ``expected_tables``).

    Returns
    -------
    dict
        The ledger record appended.

    Raises
    ------
    WarehouseError
        If no warehouse is published, or the publish fails (nothing is published then).

    Notes
    -----
    Cost: a byte copy of the current snapshot, one delete and insert per table, then
    :func:`publish_build` (canonical digests of every table: linear in the warehouse's rows).
    """
    paths = WarehousePaths.of(published)
    head = ledger_head(paths.published) if paths.published.exists() else None
    if head is None:
        raise WarehouseError(f"no published warehouse with a ledger at {paths.published}; run `chokepoint run` first")
    build = open_build(paths.published, re.sub(r"[^A-Za-z0-9_-]", "_", run_id)[:80])
    try:
        with duckdb.connect(str(build)) as con:
            for name, frame in tables.items():
                schema, table = name.split(".", 1)
                target = qualified_name(schema, table)
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(schema)}")
                con.register("_incoming", frame.to_arrow())
                try:
                    incoming = [tuple(r) for r in con.execute(
                        "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM _incoming)").fetchall()]
                    if _table_exists(con, schema, table) and _columns_of(con, schema, table) == incoming:
                        keys = frame[key_column].unique().to_list() if key_column in frame.columns else []
                        con.execute(f"DELETE FROM {target} WHERE {quote_identifier(key_column)} IN "
                                    "(SELECT UNNEST(?))", [keys])
                        con.execute(f"INSERT INTO {target} SELECT * FROM _incoming")
                    else:
                        con.execute(f"DROP TABLE IF EXISTS {target}")
                        con.execute(f"CREATE TABLE {target} AS SELECT * FROM _incoming")
                finally:
                    con.unregister("_incoming")
            con.execute("CHECKPOINT")
        expected = set(head["tables"]) | set(tables)
        return publish_build(build, paths.published, run_id=run_id, overrides=overrides, expected_tables=expected,
                             keep=keep)
    except BaseException:
        discard_build(build)
        raise


RUN_FAILURE_COLUMNS = ("run_id", "job", "failed_at", "failed_steps", "message", "tags", "recorded_by")


def record_run_failure(published, row: dict) -> dict | None:
    """Record a failed run: append it to ``<warehouse>.run_failures.jsonl`` and, when a
    warehouse is published, publish a copy of it with the row added to
    ``ops.run_failures`` (copy-on-write, own ledger record of kind ``run_failure``).

    Returns the ledger record, or None when there is no published warehouse yet.
    """
    paths = WarehousePaths.of(published)
    paths.directory.mkdir(parents=True, exist_ok=True)
    values = [str(row.get(column, "")) for column in RUN_FAILURE_COLUMNS]
    log = paths.published.with_name(paths.published.name + ".run_failures.jsonl")
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(dict(zip(RUN_FAILURE_COLUMNS, values)), sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    if not paths.published.exists():
        return None
    key = "failure-" + re.sub(r"[^A-Za-z0-9_-]", "_", values[0])[:60]
    build = open_build(published, key)
    try:
        with duckdb.connect(str(build)) as con:
            con.execute("CREATE SCHEMA IF NOT EXISTS ops")
            con.execute("CREATE TABLE IF NOT EXISTS ops.run_failures (run_id VARCHAR, job VARCHAR, "
                        "failed_at VARCHAR, failed_steps VARCHAR, message VARCHAR, tags VARCHAR, recorded_by VARCHAR)")
            con.execute("INSERT INTO ops.run_failures VALUES (?, ?, ?, ?, ?, ?, ?)", values)
        return publish_build(build, published, run_id=key, kind="run_failure", carry_inputs=True)
    except BaseException:
        discard_build(build)
        raise


def publish(build, published, *, run_id: str = "manual", keep: int | None = None) -> dict:
    """Publish a finished build file (see :func:`publish_build`)."""
    return publish_build(build, published, run_id=run_id, keep=keep)


def ledger_head(published) -> dict | None:
    """The last ledger record of the published warehouse (None if none)."""
    chain = _published_chain(WarehousePaths.of(published))
    return chain[-1] if chain else None


# --- snapshots and rollback ---------------------------------------------------------

@dataclass(frozen=True)
class Snapshot:
    path: Path
    seq: int
    hash_prefix: str


def list_snapshots(published) -> list[Snapshot]:
    """Earlier published snapshots kept, oldest first: not the current one, nor one that a
    publish killed before its switch left behind."""
    paths = WarehousePaths.of(published)
    files = _snapshot_files(paths)
    if not files:
        return []
    current = current_snapshot(paths.published)
    current_seq = _current_seq(paths, files)
    earlier = []
    for snapshot in files:
        if current is not None and (snapshot.path == current or os.path.samefile(snapshot.path, current)):
            continue
        if current_seq is not None and snapshot.seq >= current_seq:
            continue
        earlier.append(snapshot)
    return earlier


def _check_snapshot(snapshot: Snapshot, chain: list[dict]) -> tuple[dict, dict]:
    """The snapshot's head record and table digests, if it is intact and part of ``chain``."""
    with connect_read_only(snapshot.path) as con:
        own = read_chain(con)
        if not own:
            raise WarehouseError(f"snapshot {snapshot.path.name} has no ledger; it cannot be verified")
        problems = chain_problems(own, snapshot.path.name)
        if problems:
            raise WarehouseError(f"snapshot {snapshot.path.name} is not intact: {problems[0]}")
        head = own[-1]
        known = {r["hash"]: r for r in chain}
        if head["hash"] not in known:
            raise WarehouseError(f"snapshot {snapshot.path.name} is not part of this warehouse's ledger")
        digests = table_digests(con)
    altered = sorted(name for name in set(digests) | set(head["tables"])
                     if digests.get(name) != head["tables"].get(name))
    if altered:
        raise WarehouseError(f"snapshot {snapshot.path.name} does not match its ledger record "
                             f"#{head['seq']}: {', '.join(altered)} altered")
    return head, digests


def rollback(published, *, to_seq: int | None = None, keep: int | None = None, run_id: str = "rollback") -> dict:
    """Publish an earlier snapshot again, atomically, with a ``rollback`` ledger record.

    The snapshot is verified first (its chain intact and part of the current chain, its
    tables matching its record). The file it replaces becomes a snapshot itself, so a
    rollback can be undone by another rollback.

    Parameters
    ----------
    to_seq : int, optional
        Ledger sequence number of the snapshot to restore (default: the newest snapshot,
        i.e. what was published before the current file).
    """
    paths = WarehousePaths.of(published)
    keep = keep_snapshots() if keep is None else keep
    with _PublishLock(paths):
        _move_stray_wals(paths)  # a snapshot's left-over WAL would be replayed into what is checked
        chain = _current_chain(paths)
        if not chain:
            raise WarehouseError(f"{paths.published.name} has no ledger yet; nothing to roll back to")
        snapshots = [s for s in list_snapshots(paths.published) if s.seq != chain[-1]["seq"]]
        if to_seq is not None:
            snapshots = [s for s in snapshots if s.seq == to_seq]
        if not snapshots:
            available = ", ".join(f"#{s.seq}" for s in list_snapshots(paths.published)) or "none"
            wanted = f"#{to_seq}" if to_seq is not None else "an earlier publish"
            raise WarehouseError(f"no snapshot of {wanted} to roll back to (snapshots kept: {available}; "
                                 f"CHOKEPOINT_KEEP_SNAPSHOTS sets how many are kept)")
        snapshot = snapshots[-1]
        restored, digests = _check_snapshot(snapshot, chain)
        build = open_build(paths.published, f"rollback-{os.getpid()}", fresh=True)
        try:
            os.replace(private_copy(snapshot.path, paths.directory), build)  # bytes only: no lock on it
            record = make_record(prev=chain[-1], kind="rollback", run_id=run_id, code=code_version(),
                                 inputs=restored["inputs"], scenario=restored["scenario"], tables=digests,
                                 extra={"restored": {"seq": restored["seq"], "hash": restored["hash"]}})
            with duckdb.connect(str(build)) as con:
                write_chain(con, chain + [record])
                con.execute("CHECKPOINT")
            _swap(build, paths, chain + [record], keep)
        finally:
            discard_build(build)
    return record


# --- verify --------------------------------------------------------------------------

@dataclass
class VerifyReport:
    """What ``chokepoint verify`` found. ``problems`` are tampering or corruption;
    ``notes`` are benign (inputs that changed since the publish, a lagging ledger file)."""

    published: Path
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    head: dict | None = None
    records: int = 0
    tables: int = 0
    snapshots: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def _differences(recorded, actual, prefix: str = "") -> list[str]:
    """Dotted paths where two JSON values differ."""
    if isinstance(recorded, dict) and isinstance(actual, dict):
        out = []
        for key in sorted(set(recorded) | set(actual)):
            out += _differences(recorded.get(key), actual.get(key), f"{prefix}.{key}" if prefix else str(key))
        return out
    if isinstance(recorded, list) and isinstance(actual, list) and len(recorded) == len(actual):
        out = []
        for i, (a, b) in enumerate(zip(recorded, actual)):
            out += _differences(a, b, f"{prefix}[{i}]")
        return out
    return [] if recorded == actual else [prefix or "(value)"]


def _compare_tables(head: dict, digests: dict, where: str) -> list[str]:
    problems = []
    recorded = head.get("tables", {})
    for name in sorted(set(recorded) | set(digests)):
        if name not in digests:
            problems.append(f"{where}: table {name} is in ledger record #{head['seq']} but missing")
        elif name not in recorded:
            problems.append(f"{where}: table {name} is not in ledger record #{head['seq']} (added after publishing)")
        elif digests[name] != recorded[name]:
            rows = ""
            if digests[name]["rows"] != recorded[name]["rows"]:
                rows = f"; {recorded[name]['rows']} rows recorded, {digests[name]['rows']} now"
            problems.append(f"{where}: table {name} differs from ledger record #{head['seq']} (sha256 "
                            f"{recorded[name]['sha256'][:12]}… recorded, {digests[name]['sha256'][:12]}… now{rows})")
    return problems


def _scenario_problems(con, head: dict, where: str) -> list[str]:
    recorded = head.get("scenario") or {}
    if not _table_exists(con, "staging", "src_scenario") or not recorded:
        return []
    row = con.execute("SELECT path, sha256, text FROM staging.src_scenario LIMIT 1").fetchone()
    if row is None:
        return [f"{where}: staging.src_scenario is empty"]
    path, sha, text = row
    problems = []
    if sha != recorded.get("sha256"):
        problems.append(f"{where}: scenario sha256 in staging.src_scenario ({str(sha)[:12]}…) differs from "
                        f"ledger record #{head['seq']} ({str(recorded.get('sha256'))[:12]}…)")
    try:
        parameters = scenario_parameters(parse_scenario(text, Path(path)))
    except InputError as exc:
        return problems + [f"{where}: the stored scenario text no longer parses ({exc})"]
    changed = _differences(recorded.get("parameters"), parameters)
    if changed:
        problems.append(f"{where}: scenario parameters in ledger record #{head['seq']} differ from the scenario "
                        f"stored in the warehouse at {', '.join(changed[:5])}")
    return problems


def verify_warehouse(published, *, expect_head: str | None = None, check_snapshots: bool = True,
                     check_inputs: bool = True) -> VerifyReport:
    """Recompute everything the ledger claims and name every mismatch.

    Checks: the chain inside the warehouse (hashes, links, sequence); every table's
    canonical digest against the last record; the scenario parameters in that record
    against the scenario text stored in the warehouse; the ledger file against the
    chain inside; each snapshot's tables against its own record and its record against
    the chain; ``expect_head`` (a hash or prefix kept elsewhere) against the last
    record. Input files that changed since the publish are noted, not failed.
    """
    paths = WarehousePaths.of(published)
    report = VerifyReport(paths.published)
    name = paths.published.name
    current = current_snapshot(paths.published)
    if current is None:
        dangling = f" (its link names {os.readlink(paths.published)}, which is missing)" \
            if paths.published.is_symlink() else ""
        report.problems.append(f"{name}: not found{dangling}")
        return report
    # Open the published file and read the ledger file under the publish lock, so that a
    # publish running meanwhile cannot pair one file's chain with the other's.
    try:
        lock = _PublishLock(paths).__enter__()
    except OSError:  # a read-only location: verify without the lock
        lock = None
    try:
        con = connect_read_only(current)
        try:
            on_file = read_ledger_file(paths.ledger_file)
            ledger_file_error = None
        except LedgerError as exc:
            on_file, ledger_file_error = None, exc
    finally:
        if lock is not None:
            lock.__exit__(None, None, None)
    with con:
        chain = read_chain(con)
        if chain is None or not chain:
            report.problems.append(f"{name}: holds no ledger (published before ledgers existed, or the "
                                   "ledger schema was dropped)")
            return report
        report.records = len(chain)
        report.problems += chain_problems(chain, name)
        head = chain[-1]
        report.head = head
        digests = table_digests(con)
        report.tables = len(digests)
        report.problems += _compare_tables(head, digests, name)
        report.problems += _scenario_problems(con, head, name)
    if ledger_file_error is not None:
        report.problems.append(str(ledger_file_error))
    if on_file is not None:
        if not paths.ledger_file.exists():
            report.problems.append(f"{paths.ledger_file.name}: missing (the ledger file was deleted)")
        report.problems += chain_problems(on_file, paths.ledger_file.name)
        for inside, outside in zip(chain, on_file):
            if inside != outside:
                report.problems.append(f"ledger record #{inside['seq']} differs between {name} and "
                                       f"{paths.ledger_file.name} at {', '.join(_differences(inside, outside)[:5])}")
                break
        if len(on_file) > len(chain):
            report.problems.append(f"{paths.ledger_file.name} has {len(on_file) - len(chain)} record(s) that "
                                   f"{name} lacks (the published file was replaced by an older one outside chokepoint)")
        elif len(on_file) < len(chain) and on_file == chain[: len(on_file)] and paths.ledger_file.exists():
            report.notes.append(f"{paths.ledger_file.name} is {len(chain) - len(on_file)} record(s) behind {name} "
                                "(a publish was interrupted after its swap); the next publish appends them")
    if expect_head and not head["hash"].startswith(expect_head.lower()):
        report.problems.append(f"last ledger record #{head['seq']} hashes to {head['hash'][:12]}…, "
                               f"not the expected {expect_head[:12]}…")
    if current.parent == paths.snapshots and current.name != _snapshot_name([head], current):
        report.problems.append(f"{name} links to {current.name}, but that file holds ledger record #{head['seq']} "
                               f"({head['hash'][:12]}…): a snapshot was replaced outside chokepoint")
    for wal in [paths.stray_wal, *sorted(paths.snapshots.glob("*.duckdb.wal"))]:
        if wal.is_file():
            database = wal.with_name(wal.name[: -len(".wal")])
            if wal != paths.stray_wal and database.exists() and _held(database):
                report.notes.append(f"{wal.name}: a client holding {database.name} read-write is writing into it")
            else:
                whose = f"the file a client opened as {name}" if wal == paths.stray_wal else database.name
                report.notes.append(f"{wal.name}: changes a client wrote into {whose} without checkpointing; "
                                    "the next publish or rollback moves it aside, never replays it")
    for moved in sorted([*paths.directory.glob(f"{paths.stray_wal.name}.moved-*"),
                         *paths.snapshots.glob("*.duckdb.wal.moved-*")]):
        report.notes.append(f"{moved.name}: a client's WAL moved aside by a publish, never replayed "
                            "(delete it once nobody needs what that client wrote)")
    for snapshot in _snapshot_files(paths):
        if snapshot.seq > head["seq"] and snapshot.path != current:
            report.notes.append(f"snapshot {snapshot.path.name} was renamed in by a publish killed before its "
                                "switch; never published, the next publish removes it")
    if check_snapshots:
        for snapshot in list_snapshots(paths.published):
            report.snapshots += 1
            try:
                snap_head, _ = _check_snapshot(snapshot, chain)
                if snap_head != next(r for r in chain if r["hash"] == snap_head["hash"]):
                    report.problems.append(f"snapshot {snapshot.path.name}: its record differs from the chain's")
            except (WarehouseError, LedgerError) as exc:
                report.problems.append(str(exc))
    if check_inputs:
        for path, sha in sorted(head.get("inputs", {}).items()):
            if not os.path.isfile(path):
                report.notes.append(f"input {path} no longer exists")
            elif file_sha256(Path(path)) != sha:
                report.notes.append(f"input {path} changed since record #{head['seq']} (the next refresh uses it)")
    return report
