"""The ``chokepoint`` argument parser and dispatch (no run; end-to-end runs are in tests/system/test_cli_run.py)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("bad", ["0", "-5", "many", "1.5"])
def test_synthetic_nodes_must_be_a_positive_whole_number(bad, capsys):
    from pipelines.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--synthetic-nodes", bad])
    assert "--synthetic-nodes" in capsys.readouterr().err


def test_every_subcommand_has_a_handler_module():
    import importlib

    from pipelines.cli import HANDLERS, build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert set(commands) == set(HANDLERS)
    for module, function in HANDLERS.values():
        assert callable(getattr(importlib.import_module(f"pipelines.commands.{module}"), function))


@pytest.mark.parametrize("write, message", [
    (None, "no_such.toml: scenario file not found"),
    (b"name = 'x'\n[settings\n", "no_such.toml"),
    (b"\xff\xfe", "no_such.toml: not UTF-8"),
])
def test_a_bad_scenario_file_fails_before_the_run_loads(tmp_path, monkeypatch, capsys, write, message):
    """``chokepoint run`` reads the scenario file before importing the run handler (which loads
    Dagster and the definitions): a missing, malformed or non-UTF-8 file is one line at once."""
    import pipelines.cli as cli

    # configure_environment writes these into os.environ: monkeypatch puts them back afterwards.
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    for variable in ("CHOKEPOINT_SCENARIO", "CHOKEPOINT_DATA_DIR", "CHOKEPOINT_WAREHOUSE", "CHOKEPOINT_DATA_MODE",
                     "CHOKEPOINT_SHARED_DATA", "CHOKEPOINT_CACHE", "CHOKEPOINT_VERIFY_CHECKSUMS",
                     "CHOKEPOINT_MAX_QUARANTINE", "CHOKEPOINT_REPORTS", "CHOKEPOINT_INBOX"):
        monkeypatch.delenv(variable, raising=False)
    (tmp_path / "scenarios").mkdir()
    if write is not None:
        (tmp_path / "scenarios" / "no_such.toml").write_bytes(write)

    def no_handler(name):
        raise AssertionError(f"the handler {name} was imported")

    monkeypatch.setattr(cli.importlib, "import_module", no_handler)
    code = cli.main(["run", "--data-dir", str(tmp_path), "--scenario", "no_such", "--warehouse",
                     str(tmp_path / "w.duckdb")])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("chokepoint run: error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "w.duckdb").exists()
