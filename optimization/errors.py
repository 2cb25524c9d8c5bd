"""Typed solver outcomes. None of them is ever reported as an optimum."""

from __future__ import annotations

from graph.errors import ChokepointError

__all__ = ["SolverError", "InfeasibleError", "UnboundedError", "InaccurateError", "SolverLimitError", "ModelError"]


class SolverError(ChokepointError, RuntimeError):
    """A solve did not end in a proven optimum.

    Attributes
    ----------
    status : str
        cvxpy status string.
    hint : str
        What to check or change.
    """

    def __init__(self, what: str, status: str, hint: str):
        self.what, self.status, self.hint = what, status, hint
        super().__init__(f"{what}: solver status '{status}' ({hint})")


class InfeasibleError(SolverError):
    """The model has no feasible point (e.g. a scenario that asks for the impossible)."""


class UnboundedError(SolverError):
    """The objective is unbounded (some capacity in the data is missing or infinite)."""


class InaccurateError(SolverError):
    """The solver stopped with an ``*_inaccurate`` status; the numbers are not certified."""


class SolverLimitError(SolverError):
    """A time or iteration limit stopped the solver before optimality was proved."""


class ModelError(ChokepointError, RuntimeError):
    """A model was built in a form its re-solves cannot rely on (e.g. not DPP, so every
    parameter change would canonicalise it again). A bug in the model code, not in the data."""

    def __init__(self, what: str, hint: str):
        self.what, self.hint = what, hint
        super().__init__(f"{what}: {hint}")
