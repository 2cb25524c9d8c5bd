"""``chokepoint sql``: one query in three formats, one-line errors, read-only, the shell."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import duckdb
import pytest

from chokepoint.settings import PROJECT_ROOT
from chokepoint.warehouse.store import current_snapshot, discard_build, open_build, publish_build
from pipelines.cli import main

QUERY = "SELECT actor, capability, members, note FROM analytics.capability ORDER BY actor"


@pytest.fixture
def warehouse(tmp_path) -> Path:
    published = tmp_path / "warehouse" / "chokepoint.duckdb"
    build = open_build(published, "sql", fresh=True)
    try:
        with duckdb.connect(str(build)) as con:
            con.execute("CREATE SCHEMA analytics")
            con.execute("CREATE TABLE analytics.capability (actor VARCHAR, capability DOUBLE, members VARCHAR[], "
                        "note VARCHAR)")
            con.executemany("INSERT INTO analytics.capability VALUES (?, ?, ?, ?)",
                            [["CHN", 0.25, ["a", "b"], None], ["USA", 1.0, [], 'x, "quoted"'],
                             ["RUS", float("nan"), None, "ünïcode"]])
        publish_build(build, published, run_id="sql")
    finally:
        discard_build(build)
    return published


def _sql(capsys, *args) -> tuple[int, str, str]:
    status = main(["sql", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_table_format_aligns_columns(warehouse, capsys):
    status, out, err = _sql(capsys, QUERY, "--warehouse", str(warehouse))
    assert status == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["actor", "capability", "members", "note"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert lines[2].split()[:2] == ["CHN", "0.25"] and lines[2].rstrip().endswith("NULL")
    assert lines[-1] == "(3 rows)"
    # Numbers are right-aligned: their last digits end in one column.
    ends = {line.index(value) + len(value) for line, value in zip(lines[2:5], ("0.25", "nan", "1.0"))}
    assert len(ends) == 1, out


def test_csv_format_round_trips(warehouse, capsys):
    status, out, _ = _sql(capsys, QUERY, "--format", "csv", "--warehouse", str(warehouse))
    assert status == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["actor", "capability", "members", "note"]
    assert rows[1] == ["CHN", "0.25", '["a", "b"]', ""]
    assert rows[3] == ["USA", "1.0", "[]", 'x, "quoted"']


def test_json_format_is_one_object_per_row(warehouse, capsys):
    status, out, _ = _sql(capsys, QUERY, "--format", "json", "--warehouse", str(warehouse))
    assert status == 0
    assert json.loads(out) == [
        {"actor": "CHN", "capability": 0.25, "members": ["a", "b"], "note": None},
        {"actor": "RUS", "capability": None, "members": None, "note": "ünïcode"},
        {"actor": "USA", "capability": 1.0, "members": [], "note": 'x, "quoted"'},
    ]
    assert len(out.splitlines()) == 5
    status, out, _ = _sql(capsys, "SELECT 1 AS x WHERE false", "--format", "json", "--warehouse", str(warehouse))
    assert status == 0 and json.loads(out) == []


@pytest.mark.parametrize(("query", "expected"), [
    ("SELEC 1", "Parser Error: syntax error"),
    ("SELECT * FROM analytics.nowhere", "Catalog Error: Table with name nowhere does not exist"),
    ("CREATE TABLE analytics.mine AS SELECT 1", "read-only mode"),
    ("DELETE FROM analytics.capability", "read-only mode"),
])
def test_errors_are_one_line_with_exit_status_1(warehouse, capsys, query, expected):
    before = hashlib.sha256(current_snapshot(warehouse).read_bytes()).hexdigest()
    status, out, err = _sql(capsys, query, "--warehouse", str(warehouse))
    assert status == 1 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chokepoint sql: error: ") and expected in lines[0], err
    assert hashlib.sha256(current_snapshot(warehouse).read_bytes()).hexdigest() == before


def test_no_warehouse_is_a_one_line_error(tmp_path, capsys):
    status, out, err = _sql(capsys, "SELECT 1", "--warehouse", str(tmp_path / "missing.duckdb"))
    assert status == 1 and out == ""
    assert re.fullmatch(r"chokepoint sql: error: .*missing\.duckdb: no published warehouse \(run `chokepoint run` "
                        r"first\)\n", err), err


def test_a_setting_is_allowed_and_reported_as_duckdb_does(warehouse, capsys):
    status, out, err = _sql(capsys, "SET threads = 1", "--warehouse", str(warehouse))
    assert (status, err) == (0, "") and out.splitlines()[-1] == "(0 rows)"


def test_the_query_reads_the_current_snapshot_while_a_client_holds_it_read_write(warehouse, capsys):
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
                               "print('ready', flush=True); sys.stdin.read()", str(warehouse)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        status, out, err = _sql(capsys, "SELECT count(*) AS n FROM analytics.capability", "--format", "csv",
                                "--warehouse", str(warehouse))
        assert (status, out, err) == (0, "n\n3\n", "")
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert not list(warehouse.parent.rglob("*.reader-*")), "the private copy is gone"


def _shell(warehouse: Path, script: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli", "sql", "--warehouse", str(warehouse)],
                          input=script, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120)


def test_the_shell_opens_the_current_snapshot_read_only(warehouse):
    shell = _shell(warehouse, "SELECT count(*) AS n FROM analytics.capability;\nSELECT current_database();\n")
    assert shell.returncode == 0, shell.stderr
    assert "3" in shell.stdout and current_snapshot(warehouse).stem in shell.stdout
    write = _shell(warehouse, "CREATE TABLE analytics.mine AS SELECT 1;\n")
    assert "read-only" in write.stderr + write.stdout


def test_duckdb_shell_is_installed_at_the_librarys_version():
    shell = Path(sys.executable).with_name("duckdb")
    assert shell.is_file(), "duckdb-cli (requirements.lock) provides .venv/bin/duckdb; run scripts/setup.sh"
    assert metadata.version("duckdb-cli") == duckdb.__version__
    version = subprocess.run([str(shell), "--version"], capture_output=True, text=True, timeout=60).stdout
    assert version.split()[0] == f"v{duckdb.__version__}"
    lock = (PROJECT_ROOT / "requirements.lock").read_text()
    pins = dict(re.findall(r"(?m)^(duckdb(?:-cli)?)==(\S+)$", lock))
    assert pins["duckdb"] == pins["duckdb-cli"] == duckdb.__version__
