"""How much reuse of B's rows a matrix offers an SpMM that walks rows in groups.

    python benchmarks/sparse_reuse.py [--data-dir data/bench] [--matrices a,b] [--groups 2,4,8]

A row-walking SpMM reads one row of B per nonzero. Walking g rows of A together reads each
column's row of B once for the group (register blocking over permuted rows), so a group
costs its union of columns in reads of B and g x union in multiply-adds (the absent entries
are explicit zeros of a g x 1 block). Rows are grouped greedily: the row with most nonzeros
left starts a group, which then takes the free row sharing most columns with it, until full.
Printed per matrix and group size: reads of B per nonzero (1 for CSR) and the block fill
(multiply-adds per nonzero). A case whose target time is below both its read bound and its
multiply-add bound at every g is out of reach for any row-walking kernel.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from aether.sparse import bench

MATRICES = "dnn_n1024_l1,dnn_images_1024,cora,pubmed"


def shared_columns(m: sp.csr_array) -> sp.csr_array:
    """How many columns each pair of rows has in common (the pattern times its transpose)."""
    pattern = sp.csr_array((np.ones(m.nnz, np.float32), m.indices, m.indptr), shape=m.shape)
    return (pattern @ pattern.T).tocsr()


def greedy_groups(m: sp.csr_array, shared: sp.csr_array, g: int) -> tuple[float, float]:
    """(reads of B per nonzero, multiply-adds per nonzero) of greedy groups of `g` rows."""
    free = np.ones(m.shape[0], dtype=bool)
    reads = fmas = 0
    for i in np.argsort(-np.diff(m.indptr), kind="stable"):
        if not free[i]:
            continue
        free[i], group = False, [int(i)]
        score = shared[[i]].toarray().ravel()
        while len(group) < g and free.any():
            j = int(np.argmax(np.where(free, score, -1)))
            free[j] = False
            group.append(j)
            score = score + shared[[j]].toarray().ravel()
        union = len(
            np.unique(np.concatenate([m.indices[m.indptr[r] : m.indptr[r + 1]] for r in group]))
        )
        reads += union
        fmas += union * len(group)
    return reads / m.nnz, fmas / m.nnz


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=Path("data/bench"))
    ap.add_argument("--matrices", default=MATRICES)
    ap.add_argument("--groups", default="2,4,8")
    args = ap.parse_args()
    sizes = [int(g) for g in args.groups.split(",")]
    heads = " ".join(f"{f'g={g} reads/fill':>15s}" for g in sizes)
    print(f"{'matrix':18s} {'rows':>7s} {'nnz':>8s} {'same-pattern rows':>17s} {heads}")
    for name in args.matrices.split(","):
        m = sp.csr_array(bench.matrix(name, args.data_dir), dtype=np.float32)
        patterns = {m.indices[m.indptr[r] : m.indptr[r + 1]].tobytes() for r in range(m.shape[0])}
        shared = shared_columns(m)
        cells = [greedy_groups(m, shared, g) for g in sizes]
        row = " ".join(f"{f'{reads:.2f} / {fill:.2f}':>15s}" for reads, fill in cells)
        print(
            f"{name:18s} {m.shape[0]:7d} {m.nnz:8d} {m.shape[0] - len(patterns):17d} {row}",
            flush=True,
        )


if __name__ == "__main__":
    main()
