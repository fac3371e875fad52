"""Blocked CSR @ dense with the register-blocked kernels, against CSR and the peers' BSR.

    python benchmarks/sparse_blocking.py [--data-dir data/bench] [--widths 64,128]
                                         [--blocks 2x1,4x1,2x2,3x3,6x6]

For each matrix (zero-padded to a multiple of the block), dense width and block shape, these
run side by side, interleaved call block by call block on one thread: our blocked CSR with the
block loops unrolled into register vectors (`codegen._Lowerer.block_walk`, the default), the
same expression without it (`codegen.BLOCK_MAX` = 0: the block's entries are added into the
output row in memory, as every blocked product was before), our CSR kernel on the same
matrix, scipy's BSR, and torch.sparse's BSR (square blocks only: MKL's) and CSR. The fill
is the stored entries (explicit zeros included) per nonzero. Prints a table of median times
in microseconds (the median of 15 interleaved blocks).
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numba
import numpy as np
import scipy.sparse as sp
import torch

import aether.data
from aether.sparse import codegen
from aether.sparse.bench import interleaved
from aether.sparse.frontend import BLOCKED_MATMUL
from aether.sparse.runtime import Runtime
from aether.sparse.tensor import SparseTensor

SPMM = "C(i,j) = A(i,k) * B(k,j)"
warnings.filterwarnings("ignore", message="Sparse (CSR|BSR) tensor support is in beta")


def padded(m: sp.csr_array, block: tuple[int, int]) -> sp.csr_array:
    rows = -(-m.shape[0] // block[0]) * block[0]
    cols = -(-m.shape[1] // block[1]) * block[1]
    m = sp.csr_array(m, dtype=np.float32)
    m.resize((rows, cols))
    return m


def blocked_call(a: SparseTensor, b: np.ndarray, register: bool):
    """``a @ b`` as the expression the frontend lowers it to, always the generated kernel,
    compiled with or without the register blocks (generated on the first call)."""
    data = {"A": a.stored(), "B": b.reshape(a.shape[1], a.shape[3], -1)}
    before, codegen.BLOCK_MAX = codegen.BLOCK_MAX, codegen.BLOCK_MAX if register else 0
    rt = Runtime()
    try:
        rt.evaluate(BLOCKED_MATMUL, None, adaptive=False, **data)
    finally:
        codegen.BLOCK_MAX = before
    rows = a.shape[0] * a.shape[2]
    return lambda: rt.evaluate(BLOCKED_MATMUL, None, adaptive=False, **data).reshape(rows, -1)


def case(m: sp.csr_array, width: int, block: tuple[int, int]) -> dict:
    m = padded(m, block)
    b = np.random.default_rng(0).standard_normal((m.shape[1], width)).astype(np.float32)
    tb = torch.from_numpy(b)
    blocked = SparseTensor.from_dense(m.toarray(), block=block)
    csr = SparseTensor.from_scipy(m)
    bsr = sp.bsr_array(m, blocksize=block)
    dense = torch.from_numpy(m.toarray())
    t_bsr, t_csr = dense.to_sparse_bsr(block), dense.to_sparse_csr()
    rt = Runtime()
    fns = {
        "register": blocked_call(blocked, b, register=True),
        "memory": blocked_call(blocked, b, register=False),
        "ours CSR": lambda: rt.evaluate(SPMM, None, adaptive=False, A=csr, B=b),
        "scipy BSR": lambda: bsr @ b,
        "torch CSR": lambda: t_csr @ tb,
    }
    if block[0] == block[1]:  # (torch's BSR product runs through MKL: square blocks only)
        fns["torch BSR"] = lambda: t_bsr @ tb
    want = m @ b
    for name, fn in fns.items():
        got = np.asarray(fn())  # float32 sums: errors relative to the largest entry
        if np.abs(got - want).max() > 1e-4 * np.abs(want).max():
            raise AssertionError(f"{name} disagrees with scipy")
    return {"fill": blocked.vals.size / m.nnz, "torch BSR": float("nan")} | interleaved(fns)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=Path("data/bench"))
    ap.add_argument("--matrices", default="ss_bcsstk16,ss_bcsstk13,dnn_n1024_l1,dnn_images_1024")
    ap.add_argument("--widths", default="64,128")
    ap.add_argument("--blocks", default="2x1,4x1,2x2,3x3,6x6")
    args = ap.parse_args()
    numba.set_num_threads(1)
    torch.set_num_threads(1)
    blocks = [tuple(int(x) for x in s.split("x")) for s in args.blocks.split(",")]
    names = ["register", "memory", "ours CSR", "scipy BSR", "torch BSR", "torch CSR"]
    print("SpMM, float32, one thread, median us per call; fill = stored entries / nonzeros")
    head = " ".join(f"{n:>9s}" for n in names)
    print(f"{'matrix':16s} {'w':>4s} {'block':>5s} {'fill':>5s} {head}")
    for name in args.matrices.split(","):
        aether.data.prepare(name, args.data_dir / "raw", args.data_dir / "prepared")
        m = aether.data.read_matrix(args.data_dir / "prepared" / name).matrix
        for width in (int(w) for w in args.widths.split(",")):
            for block in blocks:
                row = case(sp.csr_array(m), width, block)
                times = " ".join(f"{row[n] * 1e6:9.1f}" for n in names)
                label = f"{block[0]}x{block[1]}"
                print(f"{name:16s} {width:4d} {label:>5s} {row['fill']:5.2f} {times}", flush=True)


if __name__ == "__main__":
    main()
