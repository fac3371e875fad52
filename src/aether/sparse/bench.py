"""Benchmark cases: the generated kernels and models side by side with torch.sparse.

Each case times ours, torch.sparse (COO and CSR; the faster counts), dense torch and scipy
where they apply, in this process, as the median per-call time of `repeats` runs (each at
least 10 ms of repeated calls) after a warm-up, and returns one row. Used by
benchmarks/sparse_bench.py and the `sparse` stage.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
import platform
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np
import scipy.sparse as sp
import torch

import aether.data
from aether.data import DataError
from aether.sparse import nn as snn
from aether.sparse import runtime
from aether.sparse.kernels import vadd, vfma, vload, vsum, vzero
from aether.sparse.params import SparseParams
from aether.sparse.runtime import Runtime
from aether.sparse.tensor import SparseTensor

# Dense baselines are skipped above this many matrix entries (memory and time).
DENSE_LIMIT = 6_000 * 6_000

warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
warnings.filterwarnings("ignore", message="Sparse invariant checks are implicitly disabled")


@dataclass(frozen=True)
class Timer:
    """The median per-call time of `repeats` runs after a warm-up. A run repeats the call until
    it lasts at least `min_run_s` (timeit's autorange): timed one call at a time, a case of
    10-100 us changed its speedup up to 2.3x between two runs of the benchmark. `many` times
    several functions with their runs interleaved, one run of each in turn, so that a change
    in the machine's load falls on all of them alike rather than on whichever ran then."""

    repeats: int = 5
    min_run_s: float = 0.01

    def __call__(self, fn: Callable[[], object]) -> float:
        return self.many({"fn": fn})["fn"]

    def many(self, fns: dict[str, Callable[[], object]]) -> dict[str, float]:
        numbers = {}
        for name, fn in fns.items():
            fn()  # warm-up: compilation and caches
            start = time.perf_counter()
            fn()
            took = time.perf_counter() - start
            numbers[name] = max(1, min(10_000, math.ceil(self.min_run_s / max(took, 1e-9))))
        times: dict[str, list[float]] = {name: [] for name in fns}
        for _ in range(self.repeats):
            for name, fn in fns.items():
                start = time.perf_counter()
                for _ in range(numbers[name]):
                    fn()
                times[name].append((time.perf_counter() - start) / numbers[name])
        return {name: float(np.median(t)) for name, t in times.items()}


def interleaved(fns: dict[str, Callable[[], object]], blocks: int = 15) -> dict[str, float]:
    """Median seconds per call of each function over `blocks` interleaved runs of >= 30 ms."""
    return Timer(blocks, 0.03).many(fns)


def machine(threads: int) -> dict:
    return {
        "platform": platform.platform(),
        "processor": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "threads": threads,
        "torch_threads": torch.get_num_threads(),
        "numba_threads": numba.get_num_threads(),
        "load_average": list(os.getloadavg()),
        "shared": "timings taken on a 2-core machine shared with other jobs",
        "copy_bandwidth_gbs": copy_bandwidth(),
        "fma_peak_gflops": threads * fma_peak() / 1e9,
        "cache_bytes": cache_sizes(),
    }


def _cpu_name() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor()
    names = [line.split(":", 1)[1].strip() for line in text.splitlines() if "model name" in line]
    return names[0] if names else platform.processor()


def _best_seconds(run, repeats: int = 10) -> float:
    """The fastest of `repeats` timings of `run()` after one warm-up call. Every roof of the
    machine (copy bandwidth, FMA peak, read rate by level) is the best rate it reaches, as
    STREAM reports it: the median of the copy moved between 29 and 41 GB/s across runs here,
    and a case's fraction of its bound moved with it."""
    run()
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def copy_bandwidth(megabytes: int = 128) -> float:
    """Memory bandwidth of a large array copy (bytes read + written per second)."""
    src = np.ones(megabytes * 2**20 // 8)
    dst = np.empty_like(src)
    return 2 * src.nbytes / _best_seconds(lambda: np.copyto(dst, src)) / 1e9


@numba.njit(fastmath=True, nogil=True)
def _fma_chains(a: np.ndarray, s: np.ndarray, n: int) -> float:
    """n steps of two 128-wide register vectors: 16 independent AVX-512 FMAs per step."""
    x, y = vload(a, 0, 128), vload(a, 128, 128)
    acc0, acc1 = vzero(a, 128), vzero(a, 128)
    for i in range(n):
        c = s[i & 1023]  # (a scale the compiler cannot fold across steps)
        acc0, acc1 = vfma(acc0, c, x), vfma(acc1, c, y)
    return vsum(vadd(acc0, acc1))


def fma_peak(steps: int = 2_000_000) -> float:
    """One core's float32 floating-point operations per second in multiply-adds (2 per
    FMA): the compute roof of the SpMM roofline."""
    a, s = np.full(256, 0.5, np.float32), np.full(1024, 0.5, np.float32)
    return 2 * steps * 256 / _best_seconds(lambda: _fma_chains(a, s, steps))


# --- a roofline by memory level ------------------------------------------------------------
# A row-walking SpMM reads one row of B per nonzero from wherever B lives: its time is bounded
# by those reads at the rate one core reads an array of B's size as well as by the compulsory
# traffic at copy bandwidth. Both bounds are reported per SpMM case.


def cache_sizes() -> dict[str, int]:
    """The data cache sizes of CPU 0 by level (bytes), as sysfs lists them (L1/L2/L3 at
    typical sizes where it lists none)."""
    sizes = {"L1": 32 << 10, "L2": 1 << 20, "L3": 32 << 20}
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            kind = (index / "type").read_text().strip()
            size = (index / "size").read_text().strip()
            level = f"L{(index / 'level').read_text().strip()}"
        except OSError:
            continue
        if kind in ("Data", "Unified") and level in sizes:
            scale = {"K": 1 << 10, "M": 1 << 20}.get(size[-1], 1)
            sizes[level] = int(size.rstrip("KM")) * scale
    return sizes


def level_of(nbytes: int, sizes: dict[str, int]) -> str:
    """The cache level an operand of `nbytes` lives in (half a level: B shares it with A and
    C), or "memory"."""
    for level in ("L1", "L2", "L3"):
        if nbytes <= sizes[level] // 2:
            return level
    return "memory"


@numba.njit(fastmath=True, nogil=True)
def _read_rows(a: np.ndarray, passes: int) -> float:
    """Rows of 128 float32 added into one register vector (8 independent AVX-512 adds), as
    the SpMM kernels load B's rows."""
    acc = vzero(a, 128)
    for _ in range(passes):
        for row in range(a.shape[0] // 128):
            acc = vadd(acc, vload(a, row * 128, 128))
    return vsum(acc)


@functools.cache
def read_bandwidth(nbytes: int, seconds: float = 0.05) -> float:
    """Bytes per second one core reads from an array of `nbytes` (float32), row by row, in
    timings of about `seconds` each. (Measured at B's own size: a 180 KB B is read from L2
    faster than a 1 MB one.)"""
    a = np.ones(max(128, nbytes // 4 // 128 * 128), dtype=np.float32)
    passes = max(1, int(seconds / max(_best_seconds(lambda: _read_rows(a, 1), 1), 1e-9)))
    return passes * a.nbytes / _best_seconds(lambda: _read_rows(a, passes))


def _torch_csr(m: sp.csr_array) -> torch.Tensor:
    m = sp.csr_array(m)
    return torch.sparse_csr_tensor(
        torch.from_numpy(m.indptr.astype(np.int64)),
        torch.from_numpy(m.indices.astype(np.int64)),
        torch.from_numpy(m.data),
        m.shape,
    )


def _best(row: dict, csr: float | None, coo: float | None) -> dict:
    row.setdefault("path", "sparse")  # kernel cases always run the generated kernel
    times = [t for t in (csr, coo) if t is not None]
    row |= {"torch_csr_s": csr, "torch_coo_s": coo, "torch_sparse_s": min(times)}
    row["speedup_vs_torch_sparse"] = row["torch_sparse_s"] / row["ours_s"]
    return row


class Cases:
    """The benchmark cases; `rt` is the runtime under test (its kernels compile on warm-up)."""

    def __init__(self, repeats: int = 5, seed: int = 0) -> None:
        self.time = Timer(repeats)
        self.rt = Runtime()
        self.seed = seed

    def _timed(self, row: dict, fns: dict[str, Callable[[], object]]) -> dict:
        """`row` with the times of `fns` (interleaved): ``ours`` and, when given, ``scipy``
        and ``dense``, and torch.sparse's better of ``csr`` and ``coo``."""
        t = self.time.many(fns)
        row |= {f"{k}_s": t[k] for k in ("ours", "scipy", "dense") if k in t}
        return _best(row, t["csr"], t.get("coo"))

    def _compile(self, fn: Callable[[], object]) -> float:
        """The first call's time: scheduling, code generation and numba's compile (or load)."""
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    @staticmethod
    def _path(fn: Callable[[], object]) -> str:
        """Which path one call of a model took: generated sparse kernels, dense torch, both."""
        runtime.RUNTIME.paths.clear()
        fn()
        used = [k for k in ("sparse", "dense") if runtime.RUNTIME.paths[k]]
        return "+".join(used) if used else "dense"

    # --- kernels ------------------------------------------------------------------------

    def spmv(self, name: str, m: sp.csr_array) -> dict:
        m = sp.csr_array(m, dtype=np.float32)
        x = np.random.default_rng(self.seed).standard_normal(m.shape[1]).astype(np.float32)
        a, tx = SparseTensor.from_scipy(m), torch.from_numpy(x)
        tcsr, tcoo = _torch_csr(m), _torch_csr(m).to_sparse_coo()

        def ours():
            return self.rt.evaluate("y(i) = A(i,j) * x(j)", None, adaptive=False, A=a, x=x)

        row = {"case": f"spmv/{name}", "kind": "kernel", "compile_s": self._compile(ours)}
        fns = {"ours": ours, "scipy": lambda: m @ x, "csr": lambda: tcsr @ tx}
        return self._timed(row, fns | {"coo": lambda: tcoo @ tx})

    def spmm(self, name: str, m: sp.csr_array, width: int, machine: dict) -> dict:
        """SpMM at one dense width, with its fraction of the copy-bandwidth bound (the
        issue's; `machine` holds the copy bandwidth, the FMA peak and the cache sizes), of
        the classical roofline (that bound or the FMA peak, whichever is slower) and of the
        roofline by memory level (B's read rate measured for an array of B's size)."""
        m = sp.csr_array(m, dtype=np.float32)
        rng = np.random.default_rng(self.seed)
        b = rng.standard_normal((m.shape[1], width)).astype(np.float32)
        a, tb = SparseTensor.from_scipy(m), torch.from_numpy(b)
        tcsr, tcoo = _torch_csr(m), _torch_csr(m).to_sparse_coo()

        def ours():
            return self.rt.evaluate("C(i,j) = A(i,k) * B(k,j)", None, adaptive=False, A=a, B=b)

        row = {"case": f"spmm{width}/{name}", "kind": "kernel", "compile_s": self._compile(ours)}
        fns = {"ours": ours, "scipy": lambda: m @ b, "csr": lambda: tcsr @ tb}
        fns["coo"] = lambda: torch.sparse.mm(tcoo, tb)
        if m.shape[0] * m.shape[1] <= DENSE_LIMIT:
            dense = torch.from_numpy(m.toarray())
            fns["dense"] = lambda: dense @ tb
        row = self._timed(row, fns)
        # Compulsory traffic: A once (its arrays as the kernel reads them: int32 indices are 4
        # bytes, not 8), the rows of B that some nonzero reads, once, and C written once.
        a_bytes = a.vals.nbytes + a.crd[1].nbytes + a.pos[1].nbytes
        b_rows = len(np.unique(m.indices))
        nbytes = a_bytes + b_rows * width * b.itemsize + m.shape[0] * width * b.itemsize
        row["gflops"] = 2 * m.nnz * width / row["ours_s"] / 1e9
        row["achieved_gbs"] = nbytes / row["ours_s"] / 1e9
        row["fraction_of_bandwidth"] = row["achieved_gbs"] / machine["copy_bandwidth_gbs"]
        # The level bound: also every nonzero's row of B, read where B lives.
        row["b_level"] = level_of(b.nbytes, machine["cache_bytes"])
        row["b_read_gbs"] = read_bandwidth(b.nbytes) / 1e9
        # Each bound is taken as the larger fraction, so rounding never puts it below the
        # copy-bound one.
        gathered = m.nnz * width * b.itemsize / row["b_read_gbs"] / 1e9
        row["fraction_of_level_bound"] = max(row["fraction_of_bandwidth"], gathered / row["ours_s"])
        # The classical roofline: the compulsory bytes at copy bandwidth or the multiply-adds
        # at the measured FMA peak, whichever takes longer (the DNN layers are compute bound).
        compute = row["gflops"] / machine["fma_peak_gflops"]
        row["fraction_of_roofline"] = max(row["fraction_of_bandwidth"], compute)
        return row

    def sddmm(self, name: str, m: sp.csr_array, k: int = 32) -> dict:
        m = sp.csr_array(m, dtype=np.float32)
        rng = np.random.default_rng(self.seed)
        u = rng.standard_normal((m.shape[0], k)).astype(np.float32)
        v = rng.standard_normal((m.shape[1], k)).astype(np.float32)
        s, tu, tv = SparseTensor.from_scipy(m), torch.from_numpy(u), torch.from_numpy(v)
        tcsr = _torch_csr(m)
        rows, cols = m.nonzero()

        def ours():
            return self.rt.evaluate(
                "C(i,j) = S(i,j) * U(i,k) * V(j,k)", "infer", adaptive=False, S=s, U=u, V=v
            )

        row = {"case": f"sddmm/{name}", "kind": "kernel", "compile_s": self._compile(ours)}
        return self._timed(
            row,
            {
                "ours": ours,
                "scipy": lambda: m.data * np.einsum("ij,ij->i", u[rows], v[cols]),
                "csr": lambda: torch.sparse.sampled_addmm(tcsr, tu, tv.T, beta=0.0),
            },
        )

    def spmspm(self, name: str, m: sp.csr_array) -> dict:
        """A @ A for square matrices, A @ A^T (both CSR) otherwise."""
        m = sp.csr_array(m, dtype=np.float32)
        n = m if m.shape[0] == m.shape[1] else sp.csr_array(m.T)
        a, b = SparseTensor.from_scipy(m), SparseTensor.from_scipy(n)
        tcsr, tcoo = _torch_csr(m), _torch_csr(m).to_sparse_coo()
        ucsr, ucoo = _torch_csr(n), _torch_csr(n).to_sparse_coo()

        def ours():
            return self.rt.evaluate("C(i,j) = A(i,k) * B(k,j)", "infer", adaptive=False, A=a, B=b)

        row = {"case": f"spmspm/{name}", "kind": "kernel", "compile_s": self._compile(ours)}
        fns = {"ours": ours, "scipy": lambda: m @ n, "csr": lambda: tcsr @ ucsr}
        return self._timed(row, fns | {"coo": lambda: tcoo @ ucoo})

    def ttm(self, name: str, coords: np.ndarray, values: np.ndarray, shape, rank: int = 16):
        x = SparseTensor.from_coords(coords, values.astype(np.float32), shape, "csf")
        u = np.random.default_rng(self.seed).standard_normal((shape[2], rank)).astype(np.float32)
        c, v = x.coords()
        fibres, row_of = np.unique(c[:, 0] * shape[1] + c[:, 1], return_inverse=True)
        unfolded = sp.csr_array((v, (row_of, c[:, 2])), shape=(len(fibres), shape[2]))
        tcsr, tu = _torch_csr(unfolded), torch.from_numpy(u)
        tcoo = tcsr.to_sparse_coo()

        def ours():
            return self.rt.evaluate(
                "Y(i,j,r) = X(i,j,k) * U(k,r)", "infer", adaptive=False, X=x, U=u
            )

        row = {"case": f"ttm/{name}", "kind": "kernel", "compile_s": self._compile(ours)}
        fns = {"ours": ours, "scipy": lambda: unfolded @ u, "csr": lambda: tcsr @ tu}
        return self._timed(row, fns | {"coo": lambda: torch.sparse.mm(tcoo, tu)})

    # --- end to end ---------------------------------------------------------------------

    def gcn(self, name: str, adjacency: sp.csr_array, features, hidden: int = 16, classes: int = 7):
        a_hat = snn.normalize_adjacency(adjacency)
        if features is None:  # Pubmed's mirror lacks allx: seeded dense features of its width
            rng = np.random.default_rng(self.seed)
            dense_x = torch.from_numpy(rng.standard_normal((adjacency.shape[0], 500), np.float32))
            sx, tx_csr, tx_coo = dense_x, dense_x, dense_x
        else:
            f = sp.csr_array(features, dtype=np.float32)
            sx, tx_csr = SparseTensor.from_scipy(f), _torch_csr(f)
            tx_coo = tx_csr.to_sparse_coo()
        model = snn.GCN(sx.shape[1], hidden, classes, seed=self.seed)
        w1, w2 = model.layer1.weight.data, model.layer2.weight.data
        b1, b2 = model.layer1.bias.data, model.layer2.bias.data
        ta_csr = _torch_csr(a_hat.to_scipy())
        ta_coo = ta_csr.to_sparse_coo()

        def torch_model(adj, feats):
            xw = feats @ w1 if feats.layout == torch.strided else torch.sparse.mm(feats, w1)
            h = torch.relu(torch.sparse.mm(adj, xw) + b1)
            return torch.sparse.mm(adj, h @ w2) + b2

        with torch.no_grad():
            row = {"case": f"gcn/{name}", "kind": "end_to_end"}
            row["compile_s"] = self._compile(lambda: model(sx, a_hat))
            row["path"] = self._path(lambda: model(sx, a_hat))
            return self._timed(
                row,
                {
                    "ours": lambda: model(sx, a_hat),
                    "csr": lambda: torch_model(ta_csr, tx_csr),
                    "coo": lambda: torch_model(ta_coo, tx_coo),
                },
            )

    def mlp(self, sparsity: float, sizes=(1024, 1024, 256, 1024), batch: int = 64) -> dict:
        gen = torch.Generator().manual_seed(self.seed)
        layers = [torch.nn.Linear(i, o) for i, o in itertools.pairwise(sizes)]
        for lin in layers:
            with torch.no_grad():
                lin.weight.copy_(torch.randn(lin.weight.shape, generator=gen) * 0.05)
        last = len(layers) - 1
        pruned = [
            snn.SparseLinear.from_linear(lin, sparsity, relu=i < last)
            for i, lin in enumerate(layers)
        ]
        x = torch.randn(batch, sizes[0], generator=gen)
        weights = [(p._dense, lin.bias.detach()) for p, lin in zip(pruned, layers, strict=True)]
        csr = [(w.to_sparse_csr(), b) for w, b in weights]
        coo = [(w.to_sparse_coo(), b) for w, b in weights]

        def ours():  # Linear + ReLU layers as SparseLinear(relu=True): ReLU fused
            h = x
            for layer in pruned:
                h = layer(h)
            return h

        def torch_sparse(ws):
            h = x
            for i, (w, b) in enumerate(ws):
                h = torch.sparse.mm(w, h.T).T + b
                h = torch.relu(h) if i < len(ws) - 1 else h
            return h

        with torch.no_grad():
            row = {"case": f"mlp/{round(sparsity * 100)}%", "kind": "end_to_end"}
            row["compile_s"] = self._compile(ours)
            row["path"] = self._path(ours)
            return self._timed(
                row,
                {
                    "ours": ours,
                    "dense": lambda: torch_sparse([(w, b) for w, b in weights]),
                    "csr": lambda: torch_sparse(csr),
                    "coo": lambda: torch_sparse(coo),
                },
            )

    def attention(self, n: int, window: int = 32, n_global: int = 8, dim: int = 64) -> dict:
        pattern = snn.window_pattern(n, window, n_global)
        gen = torch.Generator().manual_seed(self.seed)
        q, k, v = (torch.randn(n, dim, generator=gen) for _ in range(3))
        module = snn.SparseAttention(pattern)
        mask = _torch_csr(pattern.to_scipy())
        dense_mask = pattern.to_dense() != 0
        scale = dim**-0.5

        def torch_sparse():
            scores = torch.sparse.sampled_addmm(mask, q * scale, k.T, beta=0.0)
            probs = torch.sparse.softmax(scores.to_sparse_coo(), dim=1)
            return torch.sparse.mm(probs, v)

        def dense():
            s = (q @ k.T * scale).masked_fill(~dense_mask, float("-inf"))
            return torch.softmax(s, -1) @ v

        with torch.no_grad():
            row = {"case": f"attention/{n}", "kind": "end_to_end"}
            row["compile_s"] = self._compile(lambda: module(q, k, v))
            row["path"] = self._path(lambda: module(q, k, v))
            fns = {"ours": lambda: module(q, k, v), "dense": dense, "csr": torch_sparse}
            return self._timed(row, fns)


def power_law_graph(n: int, avg_degree: int = 10, exponent: float = 2.1, seed: int = 0):
    """A synthetic undirected graph whose degrees follow a power law (Chung-Lu style)."""
    rng = np.random.default_rng(seed)
    weights = (np.arange(1, n + 1) ** (-1.0 / (exponent - 1))).astype(np.float64)
    p = weights / weights.sum()
    m = n * avg_degree // 2
    rows, cols = rng.choice(n, m, p=p), rng.choice(n, m, p=p)
    a = sp.coo_array((np.ones(m, np.float32), (rows, cols)), shape=(n, n)).tocsr()
    a = ((a + a.T) > 0).astype(np.float32)
    return sp.csr_array(a)


def geomean(values: list[float]) -> float:
    return float(np.exp(np.mean(np.log(values)))) if values else float("nan")


def summary(rows: list[dict]) -> dict:
    """The issue's named ratios, plus per-family medians.

    ``spmm_fraction_of_bandwidth_bound`` is the median over SpMM cases of the achieved
    compulsory traffic rate (A's arrays once, the rows of B that a nonzero reads once, C
    written) over the measured copy bandwidth of a 128 MB array. The target "within 3x of
    the bound" is a fraction >= 1/3; matrices whose operands fit in cache can exceed 1 (they
    are not bandwidth bound). ``spmm_cases_within_3x_of_level_bound`` counts the cases within
    3x of the roofline by memory level as well (see `Cases.spmm`), and
    ``spmm_cases_within_3x_of_roofline`` those within 3x of the classical roofline (the copy
    bound or the FMA peak's time, whichever is longer), reported beside it."""
    e2e = [r["speedup_vs_torch_sparse"] for r in rows if r["kind"] == "end_to_end"]
    kernels = [r["speedup_vs_torch_sparse"] for r in rows if r["kind"] == "kernel"]
    spmm = [r["fraction_of_bandwidth"] for r in rows if "fraction_of_bandwidth" in r]
    level = [r["fraction_of_level_bound"] for r in rows if "fraction_of_level_bound" in r]
    roof = [r["fraction_of_roofline"] for r in rows if "fraction_of_roofline" in r]
    families: dict[str, list[float]] = {}
    for r in rows:
        families.setdefault(r["case"].split("/")[0], []).append(r["speedup_vs_torch_sparse"])
    return {
        "geomean_speedup_vs_torch_sparse_end_to_end": geomean(e2e),
        "geomean_speedup_vs_torch_sparse_kernels": geomean(kernels),
        "min_speedup_vs_torch_sparse": min(e2e + kernels, default=float("nan")),
        "min_speedup_vs_torch_sparse_end_to_end": min(e2e, default=float("nan")),
        "min_case": min(rows, key=lambda r: r["speedup_vs_torch_sparse"])["case"] if rows else "",
        "cases_below_0_95": sorted(r["case"] for r in rows if r["speedup_vs_torch_sparse"] < 0.95),
        "spmm_fraction_of_bandwidth_bound": float(np.median(spmm)) if spmm else float("nan"),
        "spmm_best_fraction_of_bandwidth_bound": max(spmm, default=float("nan")),
        "spmm_worst_fraction_of_bandwidth_bound": min(spmm, default=float("nan")),
        "spmm_cases_within_3x_of_bandwidth_bound": sum(f >= 1 / 3 for f in spmm),
        "spmm_cases_within_3x_of_level_bound": sum(f >= 1 / 3 for f in level),
        "spmm_worst_fraction_of_level_bound": min(level, default=float("nan")),
        "spmm_cases_within_3x_of_roofline": sum(f >= 1 / 3 for f in roof),
        "spmm_worst_fraction_of_roofline": min(roof, default=float("nan")),
        "spmm_cases": len(spmm),
        "median_speedup_by_family": {k: float(np.median(v)) for k, v in families.items()},
        "compile_seconds_total": float(sum(r.get("compile_s", 0.0) for r in rows)),
        "n_cases": len(rows),
    }


def suite(p: SparseParams) -> list[dict]:
    """The case list for a params section: kernels per input, then the end-to-end models."""
    inputs = [*p.matrices, *p.graphs] + (["powerlaw"] if p.synthetic_nodes else [])
    specs: list[dict] = []
    for name in inputs:
        specs.append({"case": "spmv", "dataset": name})
        specs += [{"case": "spmm", "dataset": name, "width": w} for w in p.widths]
        specs.append({"case": "sddmm", "dataset": name})
        if name != "powerlaw":  # its square is too large for a benchmark run
            specs.append({"case": "spmspm", "dataset": name})
    specs += [{"case": "ttm", "dataset": name} for name in p.tensors]
    specs += [{"case": "gcn", "dataset": name} for name in p.graphs]
    specs += [{"case": "mlp", "sparsity": s} for s in p.sparsities]
    specs += [{"case": "attention", "length": n} for n in p.attention_lengths]
    return specs


def load(name: str, prepared: Path, p: SparseParams):
    """A prepared dataset (or the synthetic power-law graph) in the form the cases take."""
    if name == "powerlaw":
        return power_law_graph(p.synthetic_nodes, seed=p.seed)
    directory = prepared / name
    if not (directory / "meta.json").exists():
        raise DataError(
            f"{directory} is missing: add {name!r} to prepare.datasets in params.yaml and run "
            "the prepare stage (dvc repro prepare)"
        )
    kind = aether.data.get(name).kind
    if kind == "graph":
        return aether.data.read_graph(directory)
    if kind == "tensor":
        return aether.data.read_tensor(directory)
    return aether.data.read_matrix(directory).matrix


def matrix(name: str, data_dir: Path, nodes: int = 100_000) -> sp.csr_array:
    """A benchmark matrix by name for the scripts in benchmarks/: a graph's adjacency or a
    matrix, prepared under `data_dir` on first use, or the synthetic "powerlaw" graph."""
    if name != "powerlaw":
        aether.data.prepare(name, data_dir / "raw", data_dir / "prepared")
    data = load(name, data_dir / "prepared", SparseParams(synthetic_nodes=nodes))
    return data.adjacency if isinstance(data, aether.data.Graph) else data


def run_case(spec: dict, prepared: Path, p: SparseParams, machine: dict, crossover: dict | float):
    """Time one case of `suite` with the stage's threads, repeats and seed."""
    torch.set_num_threads(p.threads)
    numba.set_num_threads(min(p.threads, numba.config.NUMBA_NUM_THREADS))
    cases = Cases(repeats=p.repeats, seed=p.seed)
    if isinstance(crossover, dict):  # a measurement per dense width (measure_crossover)
        by_width = {int(w): float(d) for w, d in crossover["by_width"].items()}
        resident = {int(w): float(d) for w, d in crossover["resident_by_width"].items()}
        for rt in (cases.rt, runtime.RUNTIME):
            rt.crossover, rt.by_width, rt.resident_by_width = None, by_width, resident
    else:
        cases.rt.crossover = crossover
    case, name = spec["case"], spec.get("dataset")
    data = load(name, prepared, p) if name else None
    matrix = data.adjacency if isinstance(data, aether.data.Graph) else data
    if case == "spmv":
        return cases.spmv(name, matrix)
    if case == "spmm":
        return cases.spmm(name, matrix, spec["width"], machine)
    if case == "sddmm":
        return cases.sddmm(name, matrix)
    if case == "spmspm":
        return cases.spmspm(name, matrix)
    if case == "ttm":
        coords, shape = data.coords, data.shape
        if len(shape) == 4:  # order 4: fold the first two modes, TTM on the last
            folded = coords[:, 0] * shape[1] + coords[:, 1]
            coords = np.column_stack([folded, coords[:, 2], coords[:, 3]])
            shape = (shape[0] * shape[1], shape[2], shape[3])
        return cases.ttm(name, coords, data.values, shape)
    if case == "gcn":
        return cases.gcn(name, data.adjacency, data.features)
    if case == "mlp":
        w = p.mlp_width
        return cases.mlp(spec["sparsity"], sizes=(w, w, w // 4, w))
    if case == "attention":
        return cases.attention(spec["length"], p.attention_window, p.global_tokens)
    raise ValueError(f"unknown benchmark case {case!r}")
