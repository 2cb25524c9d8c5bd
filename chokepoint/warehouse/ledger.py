"""The tamper-evident ledger: one hash-chained record per publish of the warehouse.

A record names everything a published figure depends on::

    {"seq": 3, "kind": "publish", "published_at": "2025-…Z", "run_id": "…",
     "code": {"version": "0.1.0", "git_commit": "…", "git_dirty": false, "source_sha256": "…"},
     "inputs": {"/…/data/reference/shares.csv": "<sha256>", …},
     "scenario": {"name": "default", "sha256": "…", "parameters": {…}, "overrides": {…}},
     "tables": {"analytics.capability": {"sha256": "…", "rows": 10}, …},
     "prev": "<hash of record 2>", "hash": "<sha256 of this record without 'hash'>"}

``hash`` is the sha256 of the record's canonical JSON (sorted keys, no spaces, UTF-8),
and ``prev`` chains it to the record before, so changing any past record breaks every
link after it. Table digests are canonical: the sha256 of the table's name, its column
names and types, and its rows as JSON sorted as text, so they do not depend on how
DuckDB laid the file out and ``chokepoint verify`` can recompute them.

The chain is stored twice with the warehouse: inside it (table ``ledger.records``, the
whole chain up to the file's own record, so a snapshot carries its history) and beside
it (``<warehouse>.ledger.jsonl``, one record a line, append-only). ``verify`` checks
each against the other, the file's tables against its last record, and the scenario
parameters in that record against the scenario text stored in the warehouse.

This module imports only the standard library and DuckDB (readers use it too).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import shutil
import subprocess
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from chokepoint import __version__
from chokepoint.errors import LedgerError
from chokepoint.files import file_sha256, fsync_dir
from chokepoint.safety import qualified_name, quote_identifier
from chokepoint.settings import PROJECT_ROOT

__all__ = [
    "LEDGER_SCHEMA",
    "RECORDS_TABLE",
    "GENESIS",
    "LedgerError",
    "canonical_json",
    "record_hash",
    "make_record",
    "chain_problems",
    "table_digest",
    "table_digests",
    "read_chain",
    "write_chain",
    "read_ledger_file",
    "append_ledger_file",
    "rewrite_ledger_file",
    "code_version",
    "scenario_parameters",
    "connect_read_only",
    "private_copy",
]

#: Schema of the ledger inside the warehouse; its tables are not themselves hashed.
LEDGER_SCHEMA = "ledger"
RECORDS_TABLE = f"{LEDGER_SCHEMA}.records"
#: ``prev`` of the first record.
GENESIS = "0" * 64
_SOURCE_PACKAGES = ("chokepoint", "graph", "optimization", "pipelines")


def _plain(value):
    """JSON-safe form: non-finite floats as strings, tuples as lists, paths as text."""
    if isinstance(value, float):
        return value if math.isfinite(value) else ("NaN" if math.isnan(value) else ("inf" if value > 0 else "-inf"))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def canonical_json(value) -> str:
    """Deterministic JSON text: sorted keys, no whitespace, UTF-8, no NaN literals."""
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def record_hash(record: dict) -> str:
    """sha256 of the record's canonical JSON without its ``hash`` field."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def make_record(*, prev: dict | None, kind: str, run_id: str, code: dict, inputs: dict, scenario: dict,
                tables: dict, extra: dict | None = None) -> dict:
    """A new record chained to ``prev`` (None for the first), with its hash."""
    record = {
        "seq": (prev["seq"] + 1) if prev else 1,
        "kind": kind,
        "published_at": datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "run_id": run_id,
        "code": code,
        "inputs": dict(sorted(inputs.items())),
        "scenario": scenario,
        "tables": dict(sorted(tables.items())),
        "prev": prev["hash"] if prev else GENESIS,
        **(extra or {}),
    }
    record = json.loads(canonical_json(record))  # exactly what will be stored and re-read
    record["hash"] = record_hash(record)
    return record


def chain_problems(chain: list[dict], where: str) -> list[str]:
    """Every broken hash, link or sequence number in ``chain`` (empty if intact)."""
    problems = []
    previous = None
    for position, record in enumerate(chain, 1):
        label = f"{where} record #{record.get('seq', '?')}"
        if record.get("seq") != position:
            problems.append(f"{label}: sequence number {record.get('seq')!r} where {position} was expected "
                            "(a record was removed or inserted)")
        expected_prev = previous["hash"] if previous else GENESIS
        if record.get("prev") != expected_prev:
            problems.append(f"{label}: 'prev' is {str(record.get('prev'))[:12]}… but the record before hashes to "
                            f"{expected_prev[:12]}… (the chain was altered at or before this record)")
        if record.get("hash") != record_hash(record):
            problems.append(f"{label}: content does not match its hash {str(record.get('hash'))[:12]}… "
                            "(the record was altered)")
        previous = record
    return problems


def _columns(con, schema: str, table: str) -> list[tuple[str, str]]:
    return con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position", [schema, table]).fetchall()


def table_digest(con, schema: str, table: str, *, batch: int = 50_000,
                 columns: list[tuple[str, str]] | None = None) -> dict:
    """Canonical sha256 and row count of one table.

    The digest covers ``schema.table``, each column's name and type in order, and every
    row as JSON (doubles in shortest round-trip form, so one changed bit shows), rows
    sorted as text so that storage order does not matter. ``columns`` (name, type) in
    order, when the caller has already read them from the catalogue.

    Notes
    -----
    O(R log R) for R rows (DuckDB sorts; Python streams the rows into sha256).
    """
    columns = _columns(con, schema, table) if columns is None else columns
    digest = hashlib.sha256()
    digest.update(f"{schema}.{table}\n".encode())
    digest.update(canonical_json(columns).encode())
    fields = ", ".join(f"{quote_identifier(name)} := {quote_identifier(name)}" for name, _ in columns)
    cursor = con.execute(f"SELECT to_json(struct_pack({fields}))::VARCHAR AS r "  # identifiers quoted above
                         f"FROM {qualified_name(schema, table)} ORDER BY r")
    rows = 0
    while chunk := cursor.fetchmany(batch):
        rows += len(chunk)
        digest.update(("\n" + "\n".join(r for (r,) in chunk)).encode())
    return {"sha256": digest.hexdigest(), "rows": rows}


def table_digests(con) -> dict[str, dict]:
    """Digest of every base table in the database except the ledger's own.

    The columns of all tables are read in one catalogue query (one per table took as
    long as hashing the tables).
    """
    tables = con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_type = 'BASE TABLE' AND table_schema <> ? AND table_catalog = current_database() "
        "ORDER BY 1, 2", [LEDGER_SCHEMA]).fetchall()
    columns: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for schema, table, name, data_type in con.execute(
            "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema <> ? AND table_catalog = current_database() "
            "ORDER BY table_schema, table_name, ordinal_position", [LEDGER_SCHEMA]).fetchall():
        columns.setdefault((schema, table), []).append((name, data_type))
    return {f"{schema}.{table}": table_digest(con, schema, table, columns=columns.get((schema, table), []))
            for schema, table in tables}


def read_chain(con) -> list[dict] | None:
    """The chain stored in the warehouse, oldest first; None if it has no ledger."""
    present = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? "
                          "AND table_name = 'records'", [LEDGER_SCHEMA]).fetchone()[0]
    if not present:
        return None
    return [json.loads(text) for (text,) in con.execute(f"SELECT record FROM {RECORDS_TABLE} ORDER BY seq").fetchall()]


def write_chain(con, chain: list[dict]) -> None:
    """Replace ``ledger.records`` with ``chain`` (run inside the build, before publishing)."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {LEDGER_SCHEMA}")
    con.execute(f"CREATE OR REPLACE TABLE {RECORDS_TABLE} (seq BIGINT PRIMARY KEY, hash VARCHAR NOT NULL, "
                "prev VARCHAR NOT NULL, kind VARCHAR NOT NULL, published_at VARCHAR NOT NULL, record VARCHAR NOT NULL)")
    con.executemany(f"INSERT INTO {RECORDS_TABLE} VALUES (?, ?, ?, ?, ?, ?)",
                    [[r["seq"], r["hash"], r["prev"], r["kind"], r["published_at"], canonical_json(r)] for r in chain])


def read_ledger_file(path: Path) -> list[dict]:
    """Records of a JSON-lines ledger file (missing file = empty chain)."""
    path = Path(path)
    if not path.exists():
        return []
    chain = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            chain.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise LedgerError(f"{path.name}, line {number}: not a JSON record ({exc.msg})") from None
    return chain


def append_ledger_file(path: Path, records: list[dict]) -> None:
    """Append records to the JSON-lines ledger file and fsync it."""
    path = Path(path)
    with open(path, "a", encoding="utf-8") as handle:
        for record in records:
            handle.write(canonical_json(record) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    fsync_dir(path.parent)


def rewrite_ledger_file(path: Path, chain: list[dict]) -> None:
    """Write the whole chain to the ledger file atomically (used to repair a missing file)."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(temporary, "w", encoding="utf-8") as handle:
        for record in chain:
            handle.write(canonical_json(record) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    fsync_dir(path.parent)


_CODE_VERSION: dict | None = None


def code_version() -> dict:
    """Package version, git commit (when the project is a git checkout) and a digest of
    every Python source file of the project's packages (independent of git)."""
    global _CODE_VERSION
    if _CODE_VERSION is None:
        sources = hashlib.sha256()
        for package in _SOURCE_PACKAGES:
            for file in sorted((PROJECT_ROOT / package).rglob("*.py")):
                sources.update(f"{file.relative_to(PROJECT_ROOT)}\0{file_sha256(file)}\n".encode())
        commit, dirty = None, None
        try:
            commit = subprocess.run(["git", "-C", str(PROJECT_ROOT), "rev-parse", "HEAD"], capture_output=True,
                                    text=True, timeout=10, check=True).stdout.strip() or None
            status = subprocess.run(["git", "-C", str(PROJECT_ROOT), "status", "--porcelain", "--untracked-files=no"],
                                    capture_output=True, text=True, timeout=10, check=True).stdout
            dirty = bool(status.strip())
        except (OSError, subprocess.SubprocessError):
            pass
        _CODE_VERSION = {"version": __version__, "git_commit": commit, "git_dirty": dirty,
                         "source_sha256": sources.hexdigest()}
    return dict(_CODE_VERSION)


def scenario_parameters(scenario) -> dict:
    """Every parameter of a parsed :class:`chokepoint.inputs.scenario.Scenario`, JSON-safe."""
    return json.loads(canonical_json({
        "name": scenario.name,
        "description": scenario.description,
        "settings": dataclasses.asdict(scenario.settings),
        "actors": [dataclasses.asdict(a) for a in scenario.actors],
        "controls": [dataclasses.asdict(c) for c in scenario.controls],
        "transit": scenario.transit,
    }))


#: DuckDB's words when another process holds the file read-write (its lock), or when this
#: process already has it open with another configuration: the cases a private copy answers.
_HELD_ELSEWHERE = ("Could not set lock", "Conflicting lock", "different configuration")


def connect_read_only(path: Path):
    """A read-only DuckDB connection that no other client of the file can refuse.

    DuckDB locks a database file for the whole life of a connection; a client holding it
    read-write (the DuckDB shell's default) makes every other open fail. Published
    snapshots are never written after publishing, so when the file is held that way the
    connection opens a private byte copy of it instead (copied until two stat readings
    agree, then unlinked at once: nothing is left behind). Any other failure is a
    :class:`LedgerError` naming the file.
    """
    path = Path(path)
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        if not any(words in str(exc) for words in _HELD_ELSEWHERE):
            raise LedgerError(f"{path.name}: cannot open as a DuckDB database ({str(exc).splitlines()[0]})") from None
    return _connect_private_copy(path)


def private_copy(path: Path, directory: Path | None = None, *, attempts: int = 20) -> Path:
    """A byte copy of ``path`` in ``directory`` (default: beside the file, else the temporary
    folder), taken while the file's size and modification time stay the same, so a client
    checkpointing into the file meanwhile cannot hand out a torn copy. The caller removes it."""
    real = Path(os.path.realpath(path))
    places = [directory] if directory is not None else [real.parent, Path(tempfile.gettempdir())]
    for place in places:
        try:
            fd, name = tempfile.mkstemp(prefix=f".{real.name}.reader-{os.getpid()}-", dir=place)
        except OSError:
            continue
        os.close(fd)
        copy = Path(name)
        try:
            for _ in range(attempts):
                before = os.stat(real)
                shutil.copyfile(real, copy)
                after = os.stat(real)
                if (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns):
                    return copy
                time.sleep(0.05)
        except BaseException:
            copy.unlink(missing_ok=True)
            raise
        copy.unlink(missing_ok=True)
        raise LedgerError(f"{real.name}: kept changing while being copied (a client is writing into it)")
    raise LedgerError(f"{real.name}: no folder to make a private copy in")


def _connect_private_copy(path: Path):
    copy = private_copy(path)
    try:
        return duckdb.connect(str(copy), read_only=True)
    except duckdb.Error as exc:
        raise LedgerError(f"{Path(path).name}: cannot open as a DuckDB database ({str(exc).splitlines()[0]})") from None
    finally:
        copy.unlink(missing_ok=True)  # the open connection keeps reading the unlinked file
