"""Security: local-only servers, SQL built safely, hostile names, path safety, no secrets.

(Hostile scenario and actor names flowing through a whole pipeline run and stored
verbatim are checked in ``tests/test_reliability.py``, on the run made there.)
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
from pathlib import Path

import duckdb
import pytest

from pipelines.cli import build_parser
from pipelines.commands import cmd_run
from chokepoint.errors import InputError
from chokepoint.settings import PROJECT_ROOT
from chokepoint.safety import (
    UnsafeNameError,
    UnsafePathError,
    qualified_name,
    quote_identifier,
    safe_path_within,
    sql_identifier,
)
from chokepoint.inputs.scenario import parse_scenario
from tests.conftest import DEFAULT_SCENARIO

HOSTILE = "x'); DROP TABLE t; --"
HOSTILE_NAMES = [HOSTILE, 'a"; DROP TABLE t; --', "t; DELETE FROM t", "", "1abc", "a b", "a\x00b", "ünïcode",
                 "a" * 64, "robert'); DROP TABLE students;--", "--", "/* */"]


# --- servers bind locally -------------------------------------------------------------

def test_ui_binds_to_localhost_by_default(monkeypatch):
    args = build_parser().parse_args(["ui"])
    assert args.host == "127.0.0.1"
    started = {}

    def fake_run_supervised(argv, **kwargs):
        started.update(argv=argv)
        return 0

    monkeypatch.setattr(cmd_run, "run_supervised", fake_run_supervised)
    cmd_run.ui(args)
    argv = started["argv"]
    assert argv[argv.index("-h") + 1] == "127.0.0.1"


def test_no_server_in_the_repository_binds_all_interfaces():
    offenders = []
    for path in _tracked_files():
        if path.suffix in {".py", ".yaml", ".yml", ".toml", ".cfg", ".sh", ""} or path.name == "Makefile":
            text = _read_text(path)
            if text and re.search(r"0\.0\.0\.0|host\s*=\s*['\"]\s*['\"]|--host[ =]+0", text) and "tests/" not in str(path):
                offenders.append(str(path.relative_to(PROJECT_ROOT)))
    assert offenders == []


# --- SQL: bound parameters or validated identifiers -----------------------------------

def test_sql_identifier_accepts_plain_names_and_rejects_the_rest():
    assert sql_identifier("analytics") == '"analytics"'
    assert sql_identifier("_x9") == '"_x9"'
    for name in HOSTILE_NAMES:
        with pytest.raises(UnsafeNameError):
            sql_identifier(name)


def test_quote_identifier_is_safe_for_any_catalogue_name():
    con = duckdb.connect()
    con.execute("CREATE TABLE t (x INT)")
    con.execute("INSERT INTO t VALUES (1)")
    for name in [n for n in HOSTILE_NAMES if n and "\x00" not in n]:
        con.execute(f"CREATE TABLE {quote_identifier(name)} ({quote_identifier(name)} VARCHAR)")
        con.execute(f"INSERT INTO {qualified_name('main', name)} VALUES (?)", [name])
        assert con.execute(f"SELECT {quote_identifier(name)} FROM {qualified_name('main', name)}").fetchone() == (name,)
    assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 1, "table t survived every hostile name"
    for bad in ("", "a\x00b", None):
        with pytest.raises(UnsafeNameError):
            quote_identifier(bad)


_SQL_METHODS = {"execute", "executemany", "sql", "query"}
_VALIDATORS = {"sql_identifier", "quote_identifier", "qualified_name"}
#: The one call that runs SQL the user typed (`chokepoint sql "QUERY"`), on a read-only
#: connection (tests/pipelines/test_cmd_sql.py shows it cannot write): (file, argument).
_USER_SQL = {("pipelines/commands/cmd_sql.py", "query")}


class _SqlAudit(ast.NodeVisitor):
    """Finds SQL calls whose text is built from anything but constants and validated identifiers."""

    def __init__(self, module: ast.Module, path: Path):
        self.path, self.problems = path, []
        self.constants = {t.id for node in module.body if isinstance(node, ast.Assign)
                          for t in node.targets if isinstance(t, ast.Name) and t.id.isupper()}
        self.assignments: dict[str, list[ast.AST]] = {}

    def visit_FunctionDef(self, node):
        saved = self.assignments
        self.assignments = {}
        for inner in ast.walk(node):
            if isinstance(inner, ast.Assign):
                for target in inner.targets:
                    if (isinstance(target, ast.Tuple) and isinstance(inner.value, ast.Tuple)
                            and len(target.elts) == len(inner.value.elts)):
                        pairs = list(zip(target.elts, inner.value.elts))
                    else:
                        pairs = [(name, inner.value) for name in ast.walk(target)]
                    for name, value in pairs:
                        if isinstance(name, ast.Name):
                            self.assignments.setdefault(name.id, []).append(value)
        self.generic_visit(node)
        self.assignments = saved

    visit_AsyncFunctionDef = visit_FunctionDef

    def safe(self, node, depth=0) -> bool:
        if depth > 5:
            return False
        if isinstance(node, ast.Constant):
            return isinstance(node.value, str)
        if isinstance(node, ast.JoinedStr):
            return all(isinstance(v, ast.Constant) or self.safe(v.value, depth + 1) for v in node.values)
        if isinstance(node, ast.FormattedValue):
            return self.safe(node.value, depth + 1)
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in _VALIDATORS:
                return True
            if name == "join" and isinstance(func, ast.Attribute) and isinstance(func.value, ast.Constant):
                arg = node.args[0] if node.args else None
                if isinstance(arg, (ast.GeneratorExp, ast.ListComp)):
                    return self.safe(arg.elt, depth + 1)
            return False
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            return node.value.id in self.constants  # an entry of a module-level constant mapping
        if isinstance(node, ast.Name):
            if node.id in self.constants:
                return True
            values = self.assignments.get(node.id)
            return bool(values) and all(self.safe(v, depth + 1) for v in values)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return self.safe(node.left, depth + 1) and self.safe(node.right, depth + 1)
        return False

    def visit_Call(self, node):
        if isinstance(node.func, ast.Attribute) and node.func.attr in _SQL_METHODS and node.args:
            user_sql = (str(self.path.relative_to(PROJECT_ROOT)), ast.unparse(node.args[0])) in _USER_SQL
            if not self.safe(node.args[0]) and not user_sql:
                self.problems.append(f"{self.path.relative_to(PROJECT_ROOT)}:{node.lineno}: "
                                     f"{ast.unparse(node.args[0])[:80]}")
        self.generic_visit(node)


def _audit(source: str, path: Path) -> list[str]:
    module = ast.parse(source)
    audit = _SqlAudit(module, path)
    audit.visit(module)
    return audit.problems


def test_every_sql_statement_uses_bound_parameters_or_validated_identifiers():
    problems = []
    for package in ("chokepoint", "pipelines", "graph", "optimization", "bench"):
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            problems += _audit(path.read_text(encoding="utf-8"), path)
    assert problems == [], "SQL text built from unvalidated values:\n" + "\n".join(problems)


def test_sql_audit_catches_unsafe_statements():
    path = PROJECT_ROOT / "chokepoint" / "example.py"
    unsafe = [
        "def f(con, name):\n    con.execute(f\"SELECT * FROM t WHERE name = '{name}'\")\n",
        "def f(con, name):\n    con.execute(\"SELECT * FROM \" + name)\n",
        "def f(con, name):\n    query = f'DROP TABLE {name}'\n    con.sql(query)\n",
        "def f(con, name):\n    con.execute('SELECT %s' % name)\n",
        "def f(con, queries, key):\n    con.execute(queries[key])\n",
    ]
    for source in unsafe:
        assert _audit(source, path), source
    safe = [
        "def f(con, name):\n    con.execute('SELECT * FROM t WHERE name = ?', [name])\n",
        "def f(con, s, t):\n    con.execute(f'SELECT * FROM {qualified_name(s, t)}')\n",
        "def f(con, s):\n    q = sql_identifier(s)\n    con.execute(f'CREATE SCHEMA {q}')\n",
        "TABLE = 'ledger.records'\ndef f(con):\n    con.execute(f'SELECT * FROM {TABLE}')\n",
        "QUERIES = {'a': 'SELECT 1'}\ndef f(con, key):\n    con.execute(QUERIES[key])\n",
    ]
    for source in safe:
        assert not _audit(source, path), source


# --- hostile names in scenarios ---------------------------------------------------------

def _scenario_text(**replace) -> str:
    text = DEFAULT_SCENARIO.read_text()
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new, 1)
    return text


@pytest.mark.parametrize("hostile", [HOSTILE, 'x"); DROP TABLE t; --', "CHN; DELETE FROM analytics.capability"])
def test_hostile_actor_and_control_ids_are_rejected_with_a_clear_error(hostile):
    toml_string = hostile.replace("\\", "\\\\").replace('"', '\\"')
    with pytest.raises(InputError, match=r"default\.toml.*actor id .* must be a letter"):
        parse_scenario(_scenario_text(**{"[actors.CHN]": f'[actors."{toml_string}"]'}), DEFAULT_SCENARIO)
    with pytest.raises(InputError, match=r"default\.toml.*control id .* may hold letters"):
        parse_scenario(_scenario_text(**{'id = "nld-euv-chn"': f'id = "{toml_string}"'}), DEFAULT_SCENARIO)


def test_hostile_free_text_is_kept_verbatim():
    toml_string = HOSTILE.replace('"', '\\"')
    text = _scenario_text(**{'name = "default"': f'name = "{toml_string}"',
                             'name = "China (incl. Hong Kong)"': f'name = "{toml_string}"'})
    scenario = parse_scenario(text, DEFAULT_SCENARIO)
    assert scenario.name == HOSTILE and scenario.actor("CHN").name == HOSTILE


# --- path safety (for the inbox sensor) ---------------------------------------------------

@pytest.fixture
def inbox(tmp_path):
    root = tmp_path / "inbox"
    (root / "sub").mkdir(parents=True)
    (root / "good.csv").write_text("a\n1\n")
    (root / "sub" / "nested.csv").write_text("a\n1\n")
    outside = tmp_path / "secret.csv"
    outside.write_text("secret\n")
    (root / "link.csv").symlink_to(outside)
    (root / "inner_link.csv").symlink_to(root / "good.csv")
    (root / "linkdir").symlink_to(tmp_path)
    os.mkfifo(root / "pipe.csv")
    return root


def test_safe_path_accepts_regular_files_inside(inbox):
    assert safe_path_within(inbox, "good.csv") == Path(os.path.realpath(inbox)) / "good.csv"
    assert safe_path_within(inbox, inbox / "sub" / "nested.csv").name == "nested.csv"
    assert safe_path_within(inbox, "new.csv", must_exist=False).name == "new.csv"


@pytest.mark.parametrize(("candidate", "why"), [
    ("link.csv", "symbolic link"),
    ("inner_link.csv", "symbolic link"),
    ("linkdir/secret.csv", "symbolic link"),
    ("../secret.csv", "outside"),
    ("sub/../../secret.csv", "outside"),
    ("/etc/passwd", "outside"),
    ("pipe.csv", "not a regular file"),
    ("sub", "not a regular file"),
    ("missing.csv", "not found"),
    ("bad\x00name.csv", "NUL"),
])
def test_safe_path_rejects(inbox, candidate, why):
    with pytest.raises(UnsafePathError, match=why):
        safe_path_within(inbox, candidate)


def test_safe_path_allows_a_linked_root(inbox, tmp_path):
    alias = tmp_path / "inbox_alias"
    alias.symlink_to(inbox)
    assert safe_path_within(alias, "good.csv").name == "good.csv"
    assert safe_path_within(alias, alias / "good.csv").name == "good.csv"
    with pytest.raises(UnsafePathError):
        safe_path_within(alias, "link.csv")


# --- no secrets in the repository ------------------------------------------------------------

def _tracked_files() -> list[Path]:
    listed = subprocess.run(["git", "-C", str(PROJECT_ROOT), "ls-files", "-z"], capture_output=True, check=True)
    return [PROJECT_ROOT / name for name in listed.stdout.decode().split("\0") if name]


def _read_text(path: Path) -> str | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data[:8192]:
        return None
    return data.decode("utf-8", errors="replace")


_SECRET_PATTERNS = {
    "private key": re.compile("-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY" + "-----"),
    "AWS access key": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b|\bgithub_pat_[A-Za-z0-9_]{40,}\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b"),
    "PyPI token": re.compile(r"\bpypi-[A-Za-z0-9_-]{50,}\b"),
    "OpenAI/Anthropic key": re.compile(r"\bsk-(?:ant-)?[A-Za-z0-9_-]{32,}\b"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
    "credential assignment": re.compile(
        r"(?i)\b(?:password|passwd|secret|api[_-]?key|access[_-]?token|auth[_-]?token)\b\s*[:=]\s*['\"][^'\"\s]{8,}['\"]"),
    "credentials in a URL": re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s:@]{4,}@"),
}


def scan_for_secrets(texts: dict[str, str]) -> list[str]:
    return [f"{name}: {kind}" for name, text in texts.items() for kind, pattern in _SECRET_PATTERNS.items()
            if pattern.search(text)]


def test_no_secrets_in_tracked_files():
    texts = {str(p.relative_to(PROJECT_ROOT)): t for p in _tracked_files() if (t := _read_text(p)) is not None}
    assert len(texts) > 40
    assert scan_for_secrets(texts) == []
    # Settings defaults live in chokepoint.settings; no .env (where secrets tend to land) is tracked.
    assert not any(p.name == ".env" for p in _tracked_files())


def test_secret_scanner_finds_planted_secrets():
    planted = {
        "key.pem": "-----BEGIN RSA PRIVATE KEY" + "-----\nMIIE...",
        "config.py": 'api_key = "' + "A1b2C3d4E5f6G7h8" + '"',
        "aws.txt": "AKIA" + "ABCDEFGHIJKLMNOP",
        "gh.txt": "ghp_" + "a" * 36,
        "db.yaml": "url: postgres://user:" + "hunter22" + "@db.example/x",
    }
    found = scan_for_secrets(planted)
    assert {f.split(":")[0] for f in found} == set(planted)
