"""The scheduler's register tiling of wide SpMM rows, measured against the form it replaced.

    python benchmarks/sparse_tiling.py [--data-dir data/bench] [--widths 300,512,1024]

For each matrix and dense width above `schedule.REGISTER_ROW`, three kernels of
``C(i,j) = A(i,k) * B(k,j)`` run side by side, interleaved call block by call block on one
thread: the tiled kernel (the default schedule: one register vector of `schedule.TILE`
columns per walk of a row), the same schedule with the tile set past the width (the register
form then does not apply and the generated kernel adds several nonzeros per pass into the
output row in memory, as every wide row did before tiling), and torch.sparse CSR. Prints a
table of median times (the median of 15 interleaved blocks).
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

import numba
import numpy as np
import scipy.sparse as sp
import torch

import aether.data
from aether.sparse.bench import interleaved
from aether.sparse.runtime import Runtime
from aether.sparse.tensor import SparseTensor

# The module (the package's `schedule` is its function of that name).
schedule = importlib.import_module("aether.sparse.schedule")
SPMM = "C(i,j) = A(i,k) * B(k,j)"
UNTILED = 1 << 30  # a tile wider than any row: the schedule's tile then never applies


def kernel(a: SparseTensor, b: np.ndarray, tile: int):
    """A runtime whose schedules tile at `tile`, compiled and warmed up on (a, b)."""
    before, schedule.TILE = schedule.TILE, tile
    try:
        rt = Runtime()
        rt.evaluate(SPMM, None, adaptive=False, A=a, B=b)
    finally:
        schedule.TILE = before
    return lambda: rt.evaluate(SPMM, None, adaptive=False, A=a, B=b)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=Path("data/bench"))
    ap.add_argument("--matrices", default="cora,ss_bcsstk13,dnn_images_1024")
    ap.add_argument("--widths", default="300,512,1024")
    args = ap.parse_args()
    numba.set_num_threads(1)
    torch.set_num_threads(1)
    print(f"tile {schedule.TILE}, register row {schedule.REGISTER_ROW} (float32, one thread)")
    print(f"{'matrix':18s} {'width':>5s} {'tiled ms':>9s} {'untiled ms':>10s} {'torch ms':>9s}")
    for name in args.matrices.split(","):
        aether.data.prepare(name, args.data_dir / "raw", args.data_dir / "prepared")
        directory = args.data_dir / "prepared" / name
        if aether.data.get(name).kind == "graph":
            m = aether.data.read_graph(directory).adjacency
        else:
            m = aether.data.read_matrix(directory).matrix
        m = sp.csr_array(m, dtype=np.float32)
        a = SparseTensor.from_scipy(m)
        t_csr = torch.sparse_csr_tensor(
            torch.from_numpy(m.indptr.astype(np.int64)),
            torch.from_numpy(m.indices.astype(np.int64)),
            torch.from_numpy(m.data),
            size=m.shape,
        )
        for width in (int(w) for w in args.widths.split(",")):
            b = np.random.default_rng(0).standard_normal((m.shape[1], width), dtype=np.float32)
            tb = torch.from_numpy(b)
            fns = {
                "tiled": kernel(a, b, schedule.TILE),
                "untiled": kernel(a, b, UNTILED),
                "torch": lambda t_csr=t_csr, tb=tb: t_csr @ tb,
            }
            ref = m.astype(np.float64) @ b.astype(np.float64)
            for label in ("tiled", "untiled"):
                err = np.abs(fns[label]() - ref).max() / np.abs(ref).max()
                assert err < 1e-5, (label, err)
            t = interleaved(fns)
            print(
                f"{name:18s} {width:5d} {t['tiled'] * 1e3:9.3f} {t['untiled'] * 1e3:10.3f} "
                f"{t['torch'] * 1e3:9.3f}   tiled/untiled {t['untiled'] / t['tiled']:.2f}x",
                flush=True,
            )


if __name__ == "__main__":
    main()
