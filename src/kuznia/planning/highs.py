"""HiGHS for every plan (allocation, duplicate lines, repairs): one wrapper, one result.

A solve is a value, not an exception (as linopy's ``Result``): ``SolverResult`` holds our
status, the solution whenever HiGHS has a feasible one, its objective and the gap. A solve
stopped by its time limit keeps its incumbent (a plan found in 0.3 s is worth keeping).
Nothing outside planning/ sees HiGHS's names.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np

from kuznia.i18n import N_

if TYPE_CHECKING:
    from scipy.sparse import spmatrix


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """HiGHS prints a banner to file descriptor 1 when first made; keep JSON output clean."""
    sys.stdout.flush()
    saved, devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(devnull)
        os.close(saved)


class Status(StrEnum):
    OPTIMAL = "optimal"
    FEASIBLE = "feasible"  # the best found before a limit stopped the solver, not proven
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    NO_SOLUTION = "no_solution"  # a limit came before any solution

    @property
    def has_plan(self) -> bool:
        return self in (Status.OPTIMAL, Status.FEASIBLE)


# why HiGHS stopped short, in words, for a solve that did not finish
# (marked for the catalogue: a service's message says them in the language of the moment)
_STOPPED = {"kTimeLimit": N_("the time limit"), "kIterationLimit": N_("the iteration limit"),
            "kSolutionLimit": N_("the solution limit"), "kInterrupt": N_("an interruption"),
            "kHighsInterrupt": N_("an interruption"), "kMemoryLimit": N_("the memory limit"),
            "kObjectiveBound": N_("the objective bound"),
            "kObjectiveTarget": N_("the objective target")}


@dataclass
class SolverResult:
    """What a solve gave: ``status``; ``x`` the solution (None without one); its
    ``objective``; ``gap`` the relative distance to the best bound (0 when proven optimal;
    None when there is no solution or no bound); ``stopped_by`` what ended a solve that
    did not finish ("the time limit"); ``seconds``; and, for a linear programme asked with
    ``sensitivity``, the columns' duals and the ranging of their upper bounds."""

    status: Status
    x: np.ndarray | None = None
    objective: float | None = None
    gap: float | None = None
    stopped_by: str | None = None
    seconds: float = 0.0
    col_dual: np.ndarray | None = None
    bound_up_value: np.ndarray | None = None  # how far each column's upper bound may rise
    bound_up_objective: np.ndarray | None = None  # the objective there

    @property
    def is_ok(self) -> bool:
        """A solution to use: proven optimal, or the best found within the limits."""
        return self.status.has_plan

    @property
    def optimal(self) -> bool:
        return self.status == Status.OPTIMAL

    @property
    def words(self) -> str:
        """The outcome in a sentence's words: "optimal", "best found within the time
        limit, gap 0.2%", "no solution found within the time limit", "infeasible"."""
        if self.status == Status.FEASIBLE:
            gap = "" if self.gap is None else f", gap {self.gap:.1%}"
            return f"best found within {self.stopped_by or 'the limits'}{gap}"
        if self.status == Status.NO_SOLUTION:
            return f"no solution found within {self.stopped_by or 'the limits'}"
        return str(self.status)


def solve(cost: np.ndarray, lower: np.ndarray, upper: np.ndarray, rows: spmatrix,
          row_lower: np.ndarray, row_upper: np.ndarray, integer: np.ndarray | None = None,
          *, semi: np.ndarray | None = None, maximise: bool = False,
          time_limit: float = 60.0, gap: float = 1e-4, presolve: bool = True,
          sensitivity: bool = False) -> SolverResult:
    """Minimise (or with ``maximise``, maximise) ``cost @ x`` subject to ``row_lower <=
    rows @ x <= row_upper`` and the bounds; the columns in ``integer`` are integers, and
    those of them in ``semi`` semi-integers (0, or between their bounds). Infinite bounds
    may be given as +-inf. Never raises on the model's account: infeasible, unbounded
    and stopped solves are statuses.

    >>> from scipy.sparse import csr_matrix
    >>> r = solve(np.array([-3.0, -2.0]), np.zeros(2), np.full(2, 4.0),
    ...           csr_matrix(np.array([[2.0, 1.0]])), np.array([-np.inf]), np.array([7.0]),
    ...           np.array([0, 1]))
    >>> r.words, r.x.tolist(), r.objective
    ('optimal', [2.0, 3.0], -12.0)
    """
    import highspy

    started = time.perf_counter()
    with quiet_stdout():
        h = highspy.Highs()  # type: ignore[no-untyped-call]  # its __init__ has no hints
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", float(gap))
    if not presolve:
        h.setOptionValue("presolve", "off")
    inf = h.getInfinity()

    def clip(a: np.ndarray) -> np.ndarray:
        a = np.asarray(a, dtype=np.float64)
        return np.where(a == np.inf, inf, np.where(a == -np.inf, -inf, a))

    n = cost.size
    h.addVars(n, clip(lower), clip(upper))
    h.changeColsCost(n, np.arange(n, dtype=np.int32), np.asarray(cost, dtype=np.float64))
    m = rows.tocsr()
    h.addRows(m.shape[0], clip(row_lower), clip(row_upper), m.nnz,
              m.indptr.astype(np.int32), m.indices.astype(np.int32), m.data.astype(np.float64))
    if integer is not None and integer.size:
        cols = np.asarray(integer, dtype=np.int32)
        kinds = np.full(n, highspy.HighsVarType.kContinuous)
        kinds[cols] = highspy.HighsVarType.kInteger
        if semi is not None and semi.size:
            kinds[np.asarray(semi, dtype=np.int64)] = highspy.HighsVarType.kSemiInteger
        h.changeColsIntegrality(cols.size, cols, kinds[cols])
    if maximise:
        h.changeObjectiveSense(highspy.ObjSense.kMaximize)
    h.run()
    name = h.getModelStatus().name
    if name == "kUnboundedOrInfeasible" and presolve:  # presolve cannot tell; the plain
        h.setOptionValue("presolve", "off")  # solve can
        h.run()
        name = h.getModelStatus().name
    info = h.getInfo()
    values = np.asarray(h.getSolution().col_value)
    has_values = (values.size == n
                  and info.primal_solution_status == int(highspy.SolutionStatus
                                                         .kSolutionStatusFeasible))
    status = {"kOptimal": Status.OPTIMAL, "kInfeasible": Status.INFEASIBLE,
              "kUnbounded": Status.UNBOUNDED,
              "kUnboundedOrInfeasible": Status.INFEASIBLE}.get(name)
    if status is None:
        status = Status.FEASIBLE if has_values else Status.NO_SOLUTION
    result = SolverResult(status, seconds=time.perf_counter() - started,
                          stopped_by=_STOPPED.get(name, N_("the solver's limits"))
                          if status in (Status.FEASIBLE, Status.NO_SOLUTION) else None)
    if status.has_plan and has_values:
        result.x = values
        result.objective = float(info.objective_function_value)
        mip_gap = float(getattr(info, "mip_gap", 0.0) or 0.0)
        is_mip = integer is not None and integer.size > 0
        result.gap = (0.0 if status == Status.OPTIMAL and not (is_mip and mip_gap > 0)
                      else mip_gap if math.isfinite(mip_gap) else None)
    elif status == Status.OPTIMAL:  # an empty model
        result.x, result.objective, result.gap = np.zeros(n), 0.0, 0.0
    if sensitivity and status == Status.OPTIMAL:
        result.col_dual = np.asarray(h.getSolution().col_dual)
        got, ranging = h.getRanging()
        if got == highspy.HighsStatus.kOk and ranging.valid:
            up = np.asarray(ranging.col_bound_up.value_, dtype=float)
            result.bound_up_value = np.where(up >= inf, np.inf, up)
            result.bound_up_objective = np.asarray(ranging.col_bound_up.objective_,
                                                   dtype=float)
    return result
