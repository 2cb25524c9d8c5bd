"""Optimisation models of chokepoint, on cvxpy (HiGHS by default, SCIP as alternative).

Plain library: never imports Dagster. Models are built once with ``cp.Parameter``s
(checked DPP) and re-solved; solver and limits come in as arguments; any outcome
other than a proven optimum raises a typed error from :mod:`optimization.errors`.
"""
