"""The tamper-evident ledger: chain, canonical table digests, verify, snapshots, rollback.

Small warehouses built here (no pipeline run) hold the real default scenario text, so
the scenario-parameter check runs as in production.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading

import duckdb
import pytest

from chokepoint.errors import ChokepointError
from chokepoint.warehouse.ledger import (
    LedgerError,
    canonical_json,
    chain_problems,
    make_record,
    read_chain,
    read_ledger_file,
    record_hash,
    table_digest,
    write_chain,
)
from chokepoint.warehouse.store import (
    WarehouseError,
    WarehousePaths,
    clean_stale_builds,
    discard_build,
    list_snapshots,
    open_build,
    publish_build,
    rollback,
    verify_warehouse,
)
from tests.conftest import DEFAULT_SCENARIO
from tests.support.warehouses import make_tables, publish_generation

#: Tamper cases below; the README quotes how many are detected.
TAMPER_CASES = []


def _sql_edit(path, *statements):
    with duckdb.connect(str(path)) as con:
        for statement, *params in statements:
            con.execute(statement, *params)


def _rewrite_records(published, change, *, rehash: bool, seq=None, inside=True, outside=True):
    """Apply ``change`` to ledger record ``seq`` (default: last) inside the warehouse and/or in the file."""
    paths = WarehousePaths.of(published)
    if outside:
        chain = read_ledger_file(paths.ledger_file)
        target = chain[(seq or len(chain)) - 1]
        change(target)
        if rehash:
            target["hash"] = record_hash(target)
        paths.ledger_file.write_text("".join(canonical_json(r) + "\n" for r in chain))
    if inside:
        with duckdb.connect(str(published)) as con:
            chain = read_chain(con)
            target = chain[(seq or len(chain)) - 1]
            change(target)
            if rehash:
                target["hash"] = record_hash(target)
            write_chain(con, chain)


@pytest.fixture
def published(tmp_path):
    path = tmp_path / "warehouse" / "chokepoint.duckdb"
    for generation in range(3):
        publish_generation(path, generation)
    return path


def test_chain_of_three_publishes_verifies(published):
    report = verify_warehouse(published)
    assert report.ok, report.problems
    assert report.records == 3 and report.tables == 3 and report.snapshots == 2
    paths = WarehousePaths.of(published)
    on_file = read_ledger_file(paths.ledger_file)
    with duckdb.connect(str(published), read_only=True) as con:
        inside = read_chain(con)
    assert on_file == inside
    assert [r["seq"] for r in inside] == [1, 2, 3]
    assert inside[1]["prev"] == inside[0]["hash"] and inside[2]["prev"] == inside[1]["hash"]
    head = inside[-1]
    assert head["tables"]["analytics.capability"]["rows"] == 7
    assert head["scenario"]["parameters"]["settings"]["budget"] == 4.0
    assert str(DEFAULT_SCENARIO) in head["inputs"]
    assert head["inputs"][str(DEFAULT_SCENARIO)] == hashlib.sha256(DEFAULT_SCENARIO.read_bytes()).hexdigest()
    assert set(head["code"]) == {"version", "git_commit", "git_dirty", "source_sha256"}
    assert [s.seq for s in list_snapshots(published)] == [1, 2]
    leftovers = sorted(p.name for p in published.parent.iterdir())
    assert leftovers == sorted([published.name, paths.ledger_file.name, paths.snapshots.name,
                                paths.publish_lock.name])


def test_table_digest_is_canonical_and_sensitive():
    con = duckdb.connect()
    con.execute("CREATE TABLE t (k VARCHAR, v DOUBLE)")
    con.execute("INSERT INTO t VALUES ('a', 0.1), ('b', 0.2), ('c', NULL)")
    first = table_digest(con, "main", "t")
    con.execute("CREATE OR REPLACE TABLE t AS SELECT * FROM t ORDER BY k DESC")
    assert table_digest(con, "main", "t") == first, "row order must not matter"
    con.execute("UPDATE t SET v = nextafter(v, 1.0) WHERE k = 'a'")
    assert table_digest(con, "main", "t")["sha256"] != first["sha256"], "one ulp must show"
    con.execute("UPDATE t SET v = 0.1 WHERE k = 'a'")
    assert table_digest(con, "main", "t") == first
    con.execute("ALTER TABLE t RENAME COLUMN v TO w")
    assert table_digest(con, "main", "t")["sha256"] != first["sha256"], "a renamed column must show"
    hostile = 'x"); DROP TABLE t; --'
    con.execute(f'CREATE TABLE "{hostile.replace(chr(34), chr(34) * 2)}" ("{hostile.replace(chr(34), chr(34) * 2)}" INT)')
    assert table_digest(con, "main", hostile)["rows"] == 0
    assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 3


def test_record_hash_covers_every_field():
    record = make_record(prev=None, kind="publish", run_id="r", code={"version": "1"}, inputs={"f": "0" * 64},
                         scenario={"parameters": {"budget": 1.0}}, tables={"s.t": {"sha256": "a", "rows": 1}})
    assert record["hash"] == record_hash(record) and record["prev"] == "0" * 64
    for field, value in [("run_id", "other"), ("inputs", {}), ("kind", "rollback"), ("scenario", {})]:
        changed = {**record, field: value}
        assert record_hash(changed) != record["hash"], field
    assert chain_problems([record], "x") == []
    assert chain_problems([{**record, "run_id": "z"}], "x")


def _case(name):
    def register(fn):
        TAMPER_CASES.append(name)
        return fn
    return register


@_case("row altered in a published table")
def test_verify_names_an_altered_row(published):
    _sql_edit(published, ("UPDATE analytics.capability SET capability = capability + 1 WHERE actor = 'A3'",))
    report = verify_warehouse(published)
    assert not report.ok
    assert any("table analytics.capability differs from ledger record #3" in p for p in report.problems), report.problems
    assert not any("analytics.ratio" in p for p in report.problems)


@_case("row deleted from a published table")
def test_verify_names_a_deleted_row(published):
    _sql_edit(published, ("DELETE FROM analytics.ratio WHERE i = 42",))
    problems = verify_warehouse(published).problems
    assert any("analytics.ratio" in p and "106 rows recorded, 105 now" in p for p in problems), problems


@_case("table added to the published file")
def test_verify_names_an_added_table(published):
    _sql_edit(published, ("CREATE TABLE analytics.extra AS SELECT 1 AS x",))
    assert any("analytics.extra is not in ledger record #3" in p for p in verify_warehouse(published).problems)


@_case("scenario parameter altered in the last record (hash left stale)")
def test_verify_detects_parameter_edit_without_rehash(published):
    _rewrite_records(published, lambda r: r["scenario"]["parameters"]["settings"].update(budget=99.0), rehash=False)
    problems = verify_warehouse(published).problems
    assert any("record #3: content does not match its hash" in p for p in problems), problems


@_case("scenario parameter altered in the last record, hash recomputed in both copies")
def test_verify_detects_parameter_edit_with_rehash(published):
    _rewrite_records(published, lambda r: r["scenario"]["parameters"]["settings"].update(budget=99.0), rehash=True)
    problems = verify_warehouse(published).problems
    assert any("scenario parameters in ledger record #3 differ" in p and "settings.budget" in p for p in problems), problems


@_case("scenario parameter altered in the stored scenario text")
def test_verify_detects_edited_scenario_text(published):
    _sql_edit(published, ("UPDATE staging.src_scenario SET text = replace(text, 'budget = 4.0', 'budget = 40.0')",))
    problems = verify_warehouse(published).problems
    assert any("table staging.src_scenario differs" in p for p in problems), problems
    assert any("settings.budget" in p for p in problems), problems


@_case("past record altered in the ledger file, hash recomputed")
def test_verify_detects_past_record_edit(published):
    _rewrite_records(published, lambda r: r.update(run_id="forged"), rehash=True, seq=1, inside=False)
    problems = verify_warehouse(published).problems
    assert any("jsonl record #2: 'prev'" in p for p in problems), problems
    assert any("ledger record #1 differs between" in p and "run_id" in p for p in problems), problems


@_case("past record altered inside the warehouse, hash recomputed")
def test_verify_detects_past_record_edit_inside(published):
    _rewrite_records(published, lambda r: r["tables"]["analytics.ratio"].update(rows=1), rehash=True, seq=2,
                     outside=False)
    problems = verify_warehouse(published).problems
    assert any("chokepoint.duckdb record #3: 'prev'" in p for p in problems), problems


@_case("past record removed from the ledger file")
def test_verify_detects_removed_record(published):
    paths = WarehousePaths.of(published)
    lines = paths.ledger_file.read_text().splitlines(keepends=True)
    paths.ledger_file.write_text(lines[0] + lines[2])
    problems = verify_warehouse(published).problems
    assert any("sequence number 3 where 2 was expected" in p for p in problems), problems


@_case("ledger file deleted")
def test_verify_detects_deleted_ledger_file(published):
    WarehousePaths.of(published).ledger_file.unlink()
    assert any("missing" in p for p in verify_warehouse(published).problems)
    publish_generation(published, 7)  # the next publish rewrites it from the chain inside
    assert verify_warehouse(published).ok


@_case("published file replaced by an older snapshot outside chokepoint")
def test_verify_detects_file_swapped_for_older_one(published):
    oldest = list_snapshots(published)[0].path
    published.write_bytes(oldest.read_bytes())
    problems = verify_warehouse(published).problems
    assert any("record(s) that chokepoint.duckdb lacks" in p for p in problems), problems
    with pytest.raises(LedgerError, match="does not match the ledger inside"):
        publish_generation(published, 9)


@_case("snapshot altered")
def test_verify_and_rollback_refuse_an_altered_snapshot(published):
    snapshot = list_snapshots(published)[-1].path
    _sql_edit(snapshot, ("UPDATE analytics.ratio SET x = 0 WHERE i = 1",))
    problems = verify_warehouse(published).problems
    assert any(snapshot.name in p and "analytics.ratio altered" in p for p in problems), problems
    before = published.read_bytes()
    with pytest.raises(WarehouseError, match="does not match its ledger record"):
        rollback(published)
    assert published.read_bytes() == before


@_case("expected head hash kept elsewhere differs")
def test_expect_head(published):
    head = verify_warehouse(published).head
    assert verify_warehouse(published, expect_head=head["hash"][:16]).ok
    assert not verify_warehouse(published, expect_head="0123456789ab").ok


def test_tamper_cases_listed():
    assert len(TAMPER_CASES) == 13


def test_lagging_ledger_file_is_a_note_and_is_repaired(published):
    paths = WarehousePaths.of(published)
    lines = paths.ledger_file.read_text().splitlines(keepends=True)
    paths.ledger_file.write_text("".join(lines[:-1]))  # as if killed right after the swap
    report = verify_warehouse(published)
    assert report.ok and any("1 record(s) behind" in n for n in report.notes)
    publish_generation(published, 5)
    assert verify_warehouse(published).ok
    assert len(read_ledger_file(paths.ledger_file)) == 4


def test_rollback_restores_previous_tables_and_can_be_undone(published):
    with duckdb.connect(str(list_snapshots(published)[-1].path), read_only=True) as con:
        previous = {name: table_digest(con, *name.split(".")) for name in ("analytics.capability", "analytics.ratio")}
    record = rollback(published)
    assert record["kind"] == "rollback" and record["restored"]["seq"] == 2 and record["seq"] == 4
    with duckdb.connect(str(published), read_only=True) as con:
        assert {n: table_digest(con, *n.split(".")) for n in previous} == previous
        assert con.execute("SELECT count(*) FROM analytics.capability").fetchone()[0] == 6
    assert verify_warehouse(published).ok
    again = rollback(published)  # the newest snapshot is now the file the rollback replaced
    assert again["restored"]["seq"] == 3
    with duckdb.connect(str(published), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM analytics.capability").fetchone()[0] == 7
    assert verify_warehouse(published).ok
    assert [s.seq for s in list_snapshots(published)] == [2, 3, 4]
    assert rollback(published, to_seq=2)["restored"]["seq"] == 2
    with duckdb.connect(str(published), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM analytics.capability").fetchone()[0] == 6
    assert verify_warehouse(published).ok


def test_rollback_to_missing_snapshot_is_a_clear_error(published):
    with pytest.raises(WarehouseError, match=r"no snapshot of #42 .*snapshots kept: #1, #2"):
        rollback(published, to_seq=42)


def test_keep_last_n_snapshots(tmp_path):
    path = tmp_path / "w.duckdb"
    for generation in range(6):
        publish_generation(path, generation, keep=2)
    assert [s.seq for s in list_snapshots(path)] == [4, 5]
    publish_generation(path, 6, keep=0)
    assert list_snapshots(path) == []
    assert verify_warehouse(path).ok


def test_keep_snapshots_setting(monkeypatch):
    from chokepoint.settings import keep_snapshots

    monkeypatch.setenv("CHOKEPOINT_KEEP_SNAPSHOTS", "5")
    assert keep_snapshots() == 5
    for bad in ("-1", "many"):
        monkeypatch.setenv("CHOKEPOINT_KEEP_SNAPSHOTS", bad)
        with pytest.raises(WarehouseError, match="CHOKEPOINT_KEEP_SNAPSHOTS"):
            keep_snapshots()


def test_scenario_edited_during_the_run_is_not_published(tmp_path, published):
    scenario = tmp_path / "scenario.toml"
    scenario.write_bytes(DEFAULT_SCENARIO.read_bytes())
    build = open_build(published, "edited", fresh=True)
    with duckdb.connect(str(build)) as con:
        make_tables(con, 1, scenario)
    scenario.write_text(scenario.read_text().replace("budget = 4.0", "budget = 5.0"))
    before = published.read_bytes()
    with pytest.raises(WarehouseError, match="changed during the run"):
        publish_build(build, published, run_id="x")
    assert published.read_bytes() == before
    discard_build(build)


def test_build_missing_a_table_is_not_published(published):
    build = open_build(published, "partial", fresh=True)
    with duckdb.connect(str(build)) as con:
        make_tables(con, 1)
    with pytest.raises(WarehouseError, match="lacks analytics.missing"):
        publish_build(build, published, run_id="x", expected_tables=["analytics.missing", "analytics.ratio"])
    discard_build(build)
    assert verify_warehouse(published).records == 3


def test_concurrent_publishes_are_serialised(tmp_path):
    path = tmp_path / "w.duckdb"
    errors = []

    def worker(generation):
        try:
            publish_generation(path, generation)
        except Exception as exc:  # noqa: BLE001  (collected and asserted below)
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(g,)) for g in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    report = verify_warehouse(path)
    assert report.ok and report.records == 4


_HOLD_BUILD = """
import sys, time
from chokepoint.warehouse.store import open_build
open_build(sys.argv[1], "held")
print("ready", flush=True)
time.sleep(60)
"""


def test_stale_builds_are_removed_but_never_a_live_one(tmp_path):
    published = tmp_path / "w.duckdb"
    publish_generation(published, 0)
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_BUILD, str(published)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        live = WarehousePaths.of(published).build("held")
        assert live.exists()  # a copy of the published file
        dead = WarehousePaths.of(published).build("dead")
        dead.write_bytes(b"partial")
        dead.with_name(dead.name + ".wal").write_bytes(b"wal")
        removed = clean_stale_builds(published)
        assert removed == [dead]
        assert live.exists() and not dead.exists()
        with pytest.raises(WarehouseError, match="in use by another live run"):
            open_build(published, "held")
    finally:
        holder.kill()
        holder.wait()
    assert clean_stale_builds(published) == [live]
    names = sorted(p.name for p in published.parent.iterdir())
    assert not [n for n in names if ".build-" in n], names


def test_errors_are_chokepoint_errors():
    assert issubclass(LedgerError, ChokepointError) and issubclass(WarehouseError, ChokepointError)


def test_ledger_file_with_garbage_is_a_clear_error(published):
    paths = WarehousePaths.of(published)
    with open(paths.ledger_file, "a") as handle:
        handle.write("{not json\n")
    report = verify_warehouse(published)
    assert any("line 4: not a JSON record" in p for p in report.problems), report.problems
    assert json.loads(paths.ledger_file.read_text().splitlines()[0])["seq"] == 1


def test_verify_and_rollback_commands(published, capsys):
    from pipelines.cli import main

    assert main(["verify", "--warehouse", str(published)]) == 0
    out = capsys.readouterr().out
    assert "ledger: 3 record(s); last #3" in out and "OK: the published warehouse matches its ledger" in out
    assert main(["verify", "--warehouse", str(published), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["records"] == 3 and report["snapshots"] == 2

    assert main(["rollback", "--warehouse", str(published), "--list"]) == 0
    listing = capsys.readouterr().out
    assert "published: #3" in listing and "snapshot #2" in listing and "snapshot #1" in listing
    assert main(["rollback", "--warehouse", str(published)]) == 0
    assert "now holds the tables of record #2" in capsys.readouterr().out

    _sql_edit(published, ("UPDATE analytics.ratio SET x = -x WHERE i = 3",))
    assert main(["verify", "--warehouse", str(published)]) == 1
    captured = capsys.readouterr()
    assert "MISMATCH: chokepoint.duckdb: table analytics.ratio differs from ledger record #4" in captured.out
    errors = captured.err.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("chokepoint verify: error: 1 mismatch(es)")
    assert main(["rollback", "--warehouse", str(published), "--to", "99"]) == 1
    assert "no snapshot of #99" in capsys.readouterr().err
