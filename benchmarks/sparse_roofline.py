"""SpMM against a roofline by memory level, beside the issue's copy-bandwidth bound.

    python benchmarks/sparse_roofline.py [--data-dir data/bench] [--widths 64,128]

The issue's bound divides SpMM's compulsory traffic (A once, the rows of B that some nonzero
reads once, C written once) by the copy bandwidth of a 128 MiB array. A row-walking SpMM also
reads one row of B per nonzero from wherever B lives: from L2 when B fits in it (the DNN
matrices), from L3 or memory otherwise (the 100k-node power-law graph). The benchmark's SpMM
case (`aether.sparse.bench.Cases.spmm`) bounds each case by the larger of the two times:
compulsory bytes at copy bandwidth, and gathered bytes (nonzeros x width x 4) at one core's
read bandwidth of the level that holds B (measured for an array of B's size). This script prints,
per case of the benchmark's SpMM set, our time and torch.sparse's, the fraction of each bound
our time reaches, and the compute roof: nonzeros x width multiply-adds at one core's measured
FMA peak.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numba
import numpy as np
import scipy.sparse as sp
import torch

from aether.sparse import bench

MATRICES = (
    "ss_bcsstk13,ss_cryg2500,ss_hangglider_2,ss_jagmesh7,ss_olm1000,ss_rajat01,"
    "dnn_n1024_l1,dnn_images_1024,cora,citeseer,pubmed,powerlaw"
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=Path("data/bench"))
    ap.add_argument("--matrices", default=MATRICES)
    ap.add_argument("--widths", default="64,128")
    args = ap.parse_args()
    numba.set_num_threads(1)
    torch.set_num_threads(1)
    machine = bench.machine(1)
    fmas = machine["fma_peak_gflops"] * 1e9 / 2
    print(f"cache sizes {machine['cache_bytes']}")
    print(f"  copy bandwidth (the issue's bound) {machine['copy_bandwidth_gbs']:.1f} GB/s")
    print(f"  FMA peak {2 * fmas / 1e9:.1f} GFLOP/s")
    head = f"{'case':24s} {'B lives':>7s} {'B GB/s':>6s} {'ours us':>8s} {'torch us':>8s}"
    print(f"{head} {'of copy':>7s} {'of level':>8s} {'FMA roof us':>11s}")
    cases = bench.Cases()
    for name in args.matrices.split(","):
        m = sp.csr_array(bench.matrix(name, args.data_dir), dtype=np.float32)
        for width in (int(w) for w in args.widths.split(",")):
            row = cases.spmm(name, m, width, machine)
            print(
                f"{row['case']:24s} {row['b_level']:>7s} {row['b_read_gbs']:6.1f} "
                f"{row['ours_s'] * 1e6:8.1f} "
                f"{row['torch_sparse_s'] * 1e6:8.1f} {row['fraction_of_bandwidth']:7.2f} "
                f"{row['fraction_of_level_bound']:8.2f} {m.nnz * width / fmas * 1e6:11.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
