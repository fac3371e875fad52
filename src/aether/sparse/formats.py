"""Per-level tensor formats, as in TACO: a format is one level type per stored mode.

A tensor of order d is stored as d levels; level k stores mode ``mode_order[k]``. Each level is
``dense`` (every coordinate, positions computed as parent * size + i), ``compressed`` (``pos``
and ``crd`` arrays: the coordinates present under each parent) or ``singleton`` (one ``crd``
per parent, as COO's trailing modes). A compressed level may be non-unique (COO's first level),
so that a coordinate can repeat. Every familiar sparse format is one of these combinations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class SparseFormatError(ValueError):
    """A format description that no storage can have (wrong order, bad mode order, ...)."""


class Level(StrEnum):
    DENSE = "dense"
    COMPRESSED = "compressed"
    SINGLETON = "singleton"


@dataclass(frozen=True)
class Format:
    """Level types, the mode stored at each level, whether level 0 may repeat coordinates, and
    whether the last level's coordinates are sorted within each segment (TACO's "ordered"
    level property; a SpGEMM result is left unordered, as torch.sparse and scipy leave it)."""

    levels: tuple[Level, ...]
    mode_order: tuple[int, ...]
    unique: bool = True
    name: str = field(default="", compare=False)
    ordered: bool = True

    def __post_init__(self) -> None:
        d = len(self.levels)
        if sorted(self.mode_order) != list(range(d)):
            raise SparseFormatError(
                f"mode_order {self.mode_order} must be a permutation of 0..{d - 1}"
            )
        for k, level in enumerate(self.levels):
            if level is Level.SINGLETON and (k == 0 or self.levels[k - 1] is Level.DENSE):
                raise SparseFormatError(
                    "a singleton level must follow a compressed or singleton level (as in COO)"
                )

    @property
    def order(self) -> int:
        return len(self.levels)

    @property
    def is_dense(self) -> bool:
        return all(level is Level.DENSE for level in self.levels)

    def key(self) -> str:
        """A short stable string for cache keys and printing, e.g. ``dc(0,1)``."""
        letters = "".join(level.value[0] for level in self.levels)
        flags = ("" if self.unique else "n") + ("" if self.ordered else "u")
        return f"{letters}{flags}({','.join(map(str, self.mode_order))})"

    def with_order(self, ordered: bool) -> Format:
        """The same format with the last level sorted (True) or in any order (False)."""
        return Format(self.levels, self.mode_order, self.unique, self.name, ordered)

    def __str__(self) -> str:
        if not self.ordered:
            return f"{self.with_order(True)} (unordered)"
        known = next((f.name for f in NAMED.values() if f == self), "")
        return self.name or known or self.key()


D, C, S = Level.DENSE, Level.COMPRESSED, Level.SINGLETON


def dense(order: int) -> Format:
    return Format((D,) * order, tuple(range(order)), name="dense")


def csf(order: int) -> Format:
    """Compressed sparse fibres: every level compressed (DCSR at order 2)."""
    return Format((C,) * order, tuple(range(order)), name="CSF" if order > 2 else "DCSR")


def coo(order: int) -> Format:
    return Format((C,) + (S,) * (order - 1), tuple(range(order)), unique=False, name="COO")


CSR = Format((D, C), (0, 1), name="CSR")
CSC = Format((D, C), (1, 0), name="CSC")
DCSR = csf(2)
COO = coo(2)
VECTOR = Format((C,), (0,), name="sparse vector")
# Blocked CSR stores the order-4 view (row block, col block, row in block, col in block).
BCSR = Format((D, C, D, D), (0, 1, 2, 3), name="BCSR")

NAMED: dict[str, Format] = {"csr": CSR, "csc": CSC, "dcsr": DCSR, "coo": COO, "bcsr": BCSR}


def parse(spec: str | Format, order: int) -> Format:
    """A Format from a name (``csr``, ``coo``, ``csf``, ``dense`` ...) or pass one through."""
    if isinstance(spec, Format):
        fmt = spec
    elif spec.lower() in ("csf", "dcsr") or (spec.lower() == "vector" and order == 1):
        fmt = csf(order)
    elif spec.lower() == "dense":
        fmt = dense(order)
    elif spec.lower() == "coo":
        fmt = coo(order)
    elif spec.lower() in NAMED:
        fmt = NAMED[spec.lower()]
        if spec.lower() == "bcsr":
            raise SparseFormatError(
                "make blocked CSR with SparseTensor.from_dense(x, block=(r, c))"
            )
    else:
        raise SparseFormatError(
            f"unknown format {spec!r}; use one of {sorted(NAMED)}, 'csf', 'dense' or a Format"
        )
    if fmt.order != order:
        raise SparseFormatError(f"format {fmt} has order {fmt.order}, the tensor has order {order}")
    return fmt
