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
