"""Deterministic solver limits for tests of what happens when a limit stops a MILP.

Wall-clock limits of a few milliseconds make a test's verdict depend on the machine's
load; these patch the options that :func:`optimization.milp.solve_milp` passes to the
solver instead: a branch-and-bound node limit (reached after the same work on any
machine) or, where only a time limit gives the status under test, a time limit of zero
(already exceeded when the solver first looks at its clock, before any search).
"""

from __future__ import annotations

__all__ = ["limit_solver"]


def limit_solver(monkeypatch, *, highs: dict | None = None, scip: dict | None = None) -> None:
    """Add ``highs`` options (e.g. ``{"mip_max_nodes": 1}``) or ``scip`` parameters (e.g.
    ``{"limits/nodes": 1}``) to every solve of :func:`optimization.milp.solve_milp`."""
    import optimization.milp as milp

    honest = milp._options

    def limited(solver, time_limit, rel_gap):
        options = honest(solver, time_limit, rel_gap)
        if solver == "HIGHS":
            options.update(highs or {})
        else:
            options["scip_params"].update(scip or {})
        return options

    monkeypatch.setattr(milp, "_options", limited)
