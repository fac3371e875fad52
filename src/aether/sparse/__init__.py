"""A sparse tensor compiler for PyTorch, after Scorch (Yan et al. 2024) and TACO.

Stages, each printable: index notation (``notation.parse``) -> concrete index notation
(``schedule.schedule``: loop order by a cost model, workspaces, output format) -> generated
numba code (``codegen.lower``, cached on disk) -> the adaptive runtime (``evaluate``), with
SparseTensor's PyTorch front end and nn modules on top.
"""

from aether.sparse.formats import BCSR, COO, CSC, CSR, DCSR, Format, Level, SparseFormatError
from aether.sparse.frontend import einsum
from aether.sparse.notation import NotationError, parse
from aether.sparse.runtime import DenseFallbackWarning, Kernel, Runtime, evaluate
from aether.sparse.schedule import Operand, ScheduleError, schedule
from aether.sparse.tensor import SparseTensor

__all__ = [
    "BCSR",
    "COO",
    "CSC",
    "CSR",
    "DCSR",
    "DenseFallbackWarning",
    "Format",
    "Kernel",
    "Level",
    "NotationError",
    "Operand",
    "Runtime",
    "ScheduleError",
    "SparseFormatError",
    "SparseTensor",
    "einsum",
    "evaluate",
    "parse",
    "schedule",
]
