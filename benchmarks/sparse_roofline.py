"""SpMM against a roofline by memory level, beside the issue's copy-bandwidth bound.

    python benchmarks/sparse_roofline.py [--data-dir data/bench] [--widths 64,128]

The issue's bound divides SpMM's compulsory traffic (A once, the rows of B that some nonzero
reads once, C written once) by the copy bandwidth of a 128 MiB array. A row-walking SpMM also
reads one row of B per nonzero from wherever B lives: from L2 when B fits in it (the DNN
matrices), from L3 or memory otherwise (the 100k-node power-law graph). This script measures
one core's read bandwidth of arrays sized for each level (a vectorized sum, numba, float32)
and bounds each case by the larger of the two times: compulsory bytes at copy bandwidth, and
gathered bytes (nonzeros x width x 4) at the read bandwidth of the level that holds B. It
prints, per case of the sparse benchmark's SpMM set, our kernel's time (interleaved median,
one thread), both bounds and the fraction of each our time reaches.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numba
import numpy as np
import scipy.sparse as sp
import torch

import aether.data
from aether.sparse.bench import copy_bandwidth, interleaved, power_law_graph
from aether.sparse.kernels import vadd, vload, vsum, vzero
from aether.sparse.runtime import Runtime
from aether.sparse.tensor import SparseTensor

SPMM = "C(i,j) = A(i,k) * B(k,j)"
MATRICES = (
    "ss_bcsstk13,ss_cryg2500,ss_hangglider_2,ss_jagmesh7,ss_olm1000,ss_rajat01,"
    "dnn_n1024_l1,dnn_images_1024,cora,citeseer,pubmed,powerlaw"
)


@numba.njit(fastmath=True, nogil=True)
def _sum(a: np.ndarray, passes: int) -> float:
    """Rows of 128 float32 added into one register vector (8 independent AVX-512 adds), as
    the SpMM kernels load B's rows."""
    acc = vzero(a, 128)
    for _ in range(passes):
        for row in range(a.shape[0] // 128):
            acc = vadd(acc, vload(a, row * 128, 128))
    return vsum(acc)


def read_bandwidth(nbytes: int, seconds: float = 0.05) -> float:
    """Bytes per second one core reads from an array of `nbytes` (float32), row by row; the
    median of 5 timings of about `seconds` each, after a warm-up pass."""
    a = np.ones(max(128, nbytes // 4 // 128 * 128), dtype=np.float32)
    _sum(a, 1)
    start = time.perf_counter()
    _sum(a, 1)
    passes = max(1, int(seconds / max(time.perf_counter() - start, 1e-9)))
    times = []
    for _ in range(5):
        start = time.perf_counter()
        _sum(a, passes)
        times.append((time.perf_counter() - start) / passes)
    return a.nbytes / float(np.median(times))


def cache_sizes() -> dict[str, int]:
    """The data cache sizes of CPU 0 by level (bytes), as sysfs lists them."""
    sizes = {}
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        kind = (index / "type").read_text().strip()
        if kind in ("Data", "Unified"):
            size = (index / "size").read_text().strip()
            scale = {"K": 1 << 10, "M": 1 << 20}.get(size[-1], 1)
            sizes[f"L{(index / 'level').read_text().strip()}"] = int(size.rstrip("KM")) * scale
    return sizes


def level_of(nbytes: int, sizes: dict[str, int]) -> str:
    for level in ("L1", "L2", "L3"):
        if nbytes <= sizes[level] // 2:  # (half: B shares the cache with A and C)
            return level
    return "memory"


def load(name: str, data_dir: Path) -> sp.csr_array:
    if name == "powerlaw":
        return power_law_graph(100_000, seed=0)
    aether.data.prepare(name, data_dir / "raw", data_dir / "prepared")
    directory = data_dir / "prepared" / name
    if aether.data.get(name).kind == "graph":
        return aether.data.read_graph(directory).adjacency
    return aether.data.read_matrix(directory).matrix


def spmm_seconds(a: SparseTensor, b: np.ndarray) -> float:
    """Our kernel's median seconds per call (the runtime's cached path, one thread)."""
    rt = Runtime()
    return interleaved({"ours": lambda: rt.evaluate(SPMM, None, adaptive=False, A=a, B=b)})["ours"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=Path("data/bench"))
    ap.add_argument("--matrices", default=MATRICES)
    ap.add_argument("--widths", default="64,128")
    args = ap.parse_args()
    numba.set_num_threads(1)
    torch.set_num_threads(1)
    sizes = cache_sizes()
    probe = {"L1": sizes["L1"] // 2, "L2": sizes["L2"] // 2, "L3": 64 << 20, "memory": 4 << 30}
    rates = {level: read_bandwidth(n) for level, n in probe.items()}
    copy = copy_bandwidth() * 1e9  # (bytes read + written per second)
    print(f"cache sizes {sizes}; one-core read GB/s at {probe}:")
    print("  " + ", ".join(f"{k} {v / 1e9:.1f}" for k, v in rates.items()))
    print(f"  copy bandwidth (the issue's bound) {copy / 1e9:.1f} GB/s")
    head = f"{'case':24s} {'B lives':>7s} {'ours us':>8s} {'copy bound':>10s} {'level bound':>11s}"
    print(f"{head} {'of copy':>7s} {'of level':>8s}")
    for name in args.matrices.split(","):
        m = sp.csr_array(load(name, args.data_dir), dtype=np.float32)
        a = SparseTensor.from_scipy(m)
        for width in (int(w) for w in args.widths.split(",")):
            b = np.random.default_rng(0).standard_normal((m.shape[1], width)).astype(np.float32)
            seconds = spmm_seconds(a, b)
            a_bytes = a.vals.nbytes + a.crd[1].nbytes + a.pos[1].nbytes
            b_rows = len(np.unique(m.indices))
            compulsory = a_bytes + (b_rows + m.shape[0]) * width * 4
            level = level_of(b.nbytes, sizes)
            copy_s = compulsory / copy
            level_s = max(copy_s, m.nnz * width * 4 / rates[level])
            print(
                f"{f'spmm{width}/{name}':24s} {level:>7s} {seconds * 1e6:8.1f} "
                f"{copy_s * 1e6:10.1f} {level_s * 1e6:11.1f} {copy_s / seconds:7.2f} "
                f"{level_s / seconds:8.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
