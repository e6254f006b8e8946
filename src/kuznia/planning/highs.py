"""HiGHS for every plan: a quiet start (all three), and a model as arrays in, the answer out
(the duplication and repair plans; the allocation builds its own, with semi-integers)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix


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


# HiGHS's model statuses in our words; nothing outside planning/ sees HiGHS's names.
STATUS_WORDS = {"kOptimal": "optimal", "kInfeasible": "infeasible", "kUnbounded": "unbounded",
                "kUnboundedOrInfeasible": "infeasible_or_unbounded",
                "kTimeLimit": "time_limit", "kIterationLimit": "iteration_limit",
                "kObjectiveBound": "stopped", "kObjectiveTarget": "stopped",
                "kSolutionLimit": "stopped", "kInterrupt": "stopped"}


def status_word(name: str) -> str:
    """HiGHS's status name in our words ("not_solved" for the ones that mean no answer)."""
    return STATUS_WORDS.get(name, "not_solved")


@dataclass
class Solution:
    status: str  # our word for HiGHS's model status: optimal, infeasible, time_limit, ...
    x: np.ndarray
    objective: float
    gap: float

    @property
    def optimal(self) -> bool:
        return self.status == "optimal"


def solve(cost: np.ndarray, lower: np.ndarray, upper: np.ndarray, rows: csr_matrix,
          row_lower: np.ndarray, row_upper: np.ndarray, integer: np.ndarray | None = None,
          *, time_limit: float = 60.0, gap: float = 1e-4) -> Solution:
    """Minimise ``cost @ x`` subject to ``row_lower <= rows @ x <= row_upper`` and bounds;
    the columns in ``integer`` are integers. Infinite bounds may be given as +-inf."""
    import highspy

    with quiet_stdout():
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", float(gap))
    inf = h.getInfinity()

    def clip(a: np.ndarray) -> np.ndarray:
        a = np.asarray(a, dtype=np.float64)
        return np.where(a == np.inf, inf, np.where(a == -np.inf, -inf, a))

    n = cost.size
    h.addVars(n, clip(lower), clip(upper))
    h.changeColsCost(n, np.arange(n, dtype=np.int32), cost.astype(np.float64))
    m = rows.tocsr()
    h.addRows(m.shape[0], clip(row_lower), clip(row_upper), m.nnz,
              m.indptr.astype(np.int32), m.indices.astype(np.int32), m.data.astype(np.float64))
    if integer is not None and integer.size:
        cols = integer.astype(np.int32)
        h.changeColsIntegrality(cols.size, cols,
                                np.full(cols.size, highspy.HighsVarType.kInteger))
    h.run()
    status = h.getModelStatus().name
    info = h.getInfo()
    x = np.asarray(h.getSolution().col_value) if status == "kOptimal" else np.zeros(n)
    gap_value = float(getattr(info, "mip_gap", 0.0) or 0.0)
    return Solution(status_word(status), x, float(info.objective_function_value), gap_value)
