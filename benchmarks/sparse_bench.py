"""Benchmark the sparse compiler against torch.sparse, dense torch and scipy.sparse.

    python benchmarks/sparse_bench.py [--quick] [--data-dir data/bench] [--threads 1]

Every case runs in this process, median of >= 5 runs after a warm-up, with torch and the
generated kernels on the same thread count. Prints a table and writes reports/sparse/bench.json.
Missing datasets are prepared into --data-dir first (mirror, checksum-verified).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numba
import numpy as np
import scipy
import torch

import aether.data
from aether import io
from aether.sparse import bench
from aether.sparse.params import SparseParams
from aether.sparse.runtime import measure_crossover, save_crossover

FULL = SparseParams(
    graphs=["cora", "citeseer", "pubmed"],
    matrices=[
        "ss_bcsstk13", "ss_cryg2500", "ss_hangglider_2", "ss_jagmesh7", "ss_olm1000",
        "ss_rajat01", "dnn_n1024_l1", "dnn_images_1024",
    ],
    tensors=["jf17k3", "jf17k4"],
    widths=[64, 128],
    sparsities=[0.5, 0.7, 0.9, 0.95, 0.99],
    attention_lengths=[1024, 2048, 4096],
    synthetic_nodes=100_000,
)  # fmt: skip
QUICK = SparseParams(
    graphs=["cora"],
    matrices=["ss_bcsstk13", "ss_cryg2500"],
    tensors=["jf17k3"],
    sparsities=[0.5, 0.9, 0.99],
    attention_lengths=[1024],
)


def run(p: SparseParams, data_dir: Path, quick: bool) -> dict:
    prepared = data_dir / "prepared"
    for name in [*p.graphs, *p.matrices, *p.tensors]:
        if not (prepared / name / "meta.json").exists():
            aether.data.prepare(name, data_dir / "raw", prepared)
    torch.set_num_threads(p.threads)
    numba.set_num_threads(min(p.threads, numba.config.NUMBA_NUM_THREADS))
    machine = bench.machine(p.threads)
    print(
        f"copy bandwidth {machine['copy_bandwidth_gbs']:.1f} GB/s; {p.threads} thread(s) for "
        f"torch and the kernels; load average {machine['load_average']}; measuring the crossover"
    )
    crossover = measure_crossover(n=p.crossover_size, repeats=p.repeats, seed=p.seed)
    save_crossover(crossover)
    print(f"  crossover density by dense width: {crossover['by_width']}")
    rows = []
    for spec in bench.suite(p):
        row = bench.run_case(spec, prepared, p, machine, crossover)
        rows.append(row)
        print(
            f"  {row['case']:<28} ours {row['ours_s'] * 1e3:9.3f} ms   torch.sparse "
            f"{row['torch_sparse_s'] * 1e3:9.3f} ms   x{row['speedup_vs_torch_sparse']:.2f}"
            f"   ({row['path']})",
            flush=True,
        )
    versions = {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numba": numba.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
    }
    summary = bench.summary(rows) | {
        "crossover_density": crossover["spmm_density"],
        "crossover_density_by_width": crossover["by_width"],
        "crossover_density_resident_by_width": crossover["resident_by_width"],
        "threads": p.threads,
        "quick": quick,
    }
    notes = {
        "threads": f"torch and the generated kernels both ran on {p.threads} thread(s) "
        "(torch.set_num_threads, numba.set_num_threads); parallel kernels follow "
        "torch.get_num_threads()",
        "load_average_before": machine["load_average"],
        "load_average_after": list(os.getloadavg()),
        "path": "which path ours took: 'sparse' (generated kernels), 'dense' (the adaptive "
        "runtime chose dense torch by the measured crossover for that width), or both",
        "models": "ours are the aether.sparse.nn modules as a user writes them: GCN layers "
        "and Linear+ReLU layers as SparseLinear(relu=True), whose kernels fuse the bias and "
        "ReLU into each output row; torch.sparse runs the same products with its best layout "
        "(COO or CSR) and adds the bias and ReLU as torch ops, which is all it offers",
        "repeated_calls": "ours is timed as the runtime runs repeated calls: a dense operand "
        "whose rows are read by >= 16 nonzeros each is copied to a cache-line boundary when it "
        "is not on one (the copy is inside the timing); an output of >= 1 MiB is written into "
        "the previous call's output once the caller holds no reference to it (each timed call "
        "here drops its result, as a forward pass drops its activations; torch and scipy "
        "allocate anew); kernels whose dense operand is >= 16 MiB prefetch gathered rows",
        "bandwidth": "spmm fraction = achieved compulsory traffic / copy bandwidth of a 128 MB "
        "array (the best of 10 copies, as STREAM reports it); compulsory traffic is A's "
        "arrays at their stored index width, the rows of B that some nonzero reads, and C "
        "written once; cases whose operands the caches "
        f"({machine['cache_bytes']}) hold can exceed 1",
        "level_bound": "spmm fraction of the roofline by memory level = the larger of the "
        "compulsory traffic at copy bandwidth and the row of B each nonzero reads (nonzeros x "
        "width x 4 bytes) at the rate one core reads an array of B's size (b_read_gbs), over "
        "our time; reported beside the issue's bound",
        "roofline": "spmm fraction of the classical roofline = the larger of the compulsory "
        "traffic at copy bandwidth and the multiply-adds (2 x nonzeros x width) at the FMA peak "
        f"measured on {p.threads} core(s) ({machine['fma_peak_gflops']:.0f} GFLOP/s, the best of "
        "10 timings), over our time; reported beside the issue's bound",
    }
    return {
        "machine": machine,
        "versions": versions,
        "params": p.model_dump(),
        "rows": rows,
        "crossover": crossover,
        "notes": notes,
        "summary": summary,
    }


def _ms(value: float | None) -> str:
    return f"{value * 1e3:9.3f}" if value is not None else f"{'-':>9}"


def table(result: dict) -> str:
    lines = [
        f"{'case':<28} {'ours ms':>9} {'torch.sp':>9} {'dense ms':>9} {'scipy ms':>9} "
        f"{'speedup':>8} {'compile s':>9}  path"
    ]
    for r in result["rows"]:
        lines.append(
            f"{r['case']:<28} {_ms(r['ours_s'])} {_ms(r['torch_sparse_s'])} "
            f"{_ms(r.get('dense_s'))} {_ms(r.get('scipy_s'))} "
            f"{r['speedup_vs_torch_sparse']:8.2f} {r['compile_s']:9.2f}  {r['path']}"
        )
    lines.append("")
    lines += [f"{k}: {v}" for k, v in result["summary"].items()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few cases, for a short run")
    # Not data/: data/prepared is the prepare stage's DVC output, which a benchmark must not touch.
    parser.add_argument("--data-dir", type=Path, default=Path("data") / "bench")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("reports/sparse/bench.json"))
    args = parser.parse_args()
    p = (QUICK if args.quick else FULL).model_copy(
        update={"threads": args.threads, "repeats": args.repeats}
    )
    p = SparseParams.model_validate(p.model_dump())  # --repeats below 5 is refused here
    result = run(p, args.data_dir, args.quick)
    print(table(result))
    io.write_json(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
