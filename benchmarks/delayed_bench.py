"""Delayed sampling on vs off: variance of log Z and run time; the graph's overhead.

For each model and particle count: `runs` independent filters with delayed sampling on and
off (the bootstrap filter), the variance of their log-likelihood estimates and the median
time per run. For the linear-nonlinear model also the hand-written vectorized RBPF, timed
in the same process, one thread, median of >= 5 runs after a warm-up. Writes
reports/delayed/bench.json.

    python benchmarks/delayed_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")  # one thread for every contender

import numpy as np  # noqa: E402
import scipy  # noqa: E402

from aether import io  # noqa: E402
from aether.delayed import experiment  # noqa: E402
from aether.delayed.models import lnssm  # noqa: E402
from aether.delayed.params import DelayedParams  # noqa: E402
from aether.delayed.smc import particle_filter  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def overhead(ys: np.ndarray, n: int, repeats: int) -> dict:
    """Median seconds of the graph-based RBPF and the hand-written one (same random stream)."""
    model = lnssm.LinearNonlinear(ys)
    particle_filter(model, n, seed=0)  # warm-up
    lnssm.handwritten_rbpf(ys, n, seed=0)
    graph, hand = [], []
    for r in range(repeats):
        start = time.perf_counter()
        a = particle_filter(model, n, seed=r).log_z
        graph.append(time.perf_counter() - start)
        start = time.perf_counter()
        b = lnssm.handwritten_rbpf(ys, n, seed=r)
        hand.append(time.perf_counter() - start)
        assert abs(a - b) < 1e-6 * abs(a), (a, b)  # the same filter
    g, h = statistics.median(graph), statistics.median(hand)
    return {"particles": n, "graph_seconds": g, "handwritten_seconds": h, "ratio": g / h}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs and particle counts")
    parser.add_argument("--prepared", type=Path, default=REPO / "data" / "prepared")
    args = parser.parse_args()

    p = DelayedParams(
        particles=[64, 256] if args.quick else [64, 256, 1024],
        runs=20 if args.quick else 100,
        kalman_steps=50,
        lnssm_steps=50 if args.quick else 100,
        dengue_steps=10,
        max_proposals=100,
    )
    summaries = []
    print(f"{'model':8} {'delay':5} {'N':>5} {'var(log Z)':>12} {'failed':>6} {'s/run':>8}")
    for name in p.models:
        model = experiment.build_model(name, p, args.prepared)
        exact = experiment.exact_log_z(name, model)
        for n in p.particles:
            for delay in (True, False):
                row = experiment.run_config(model, name, delay, n, p)
                s = experiment.summarize(row, exact)
                summaries.append(s)
                var = "n/a" if s["var_log_z"] is None else f"{s['var_log_z']:.3g}"
                print(
                    f"{name:8} {'on' if delay else 'off':5} {n:>5} {var:>12} "
                    f"{s['failed']:>6} {s['median_seconds']:>8.4f}",
                    flush=True,
                )

    # The whole weekly series: some runs die (no particle can explain a week); count them.
    full = experiment.build_model(
        "dengue", p.model_copy(update={"dengue_steps": None}), args.prepared
    )
    short = p.model_copy(update={"runs": max(p.runs // 5, 4)})
    for delay in (True, False):
        s = experiment.summarize(experiment.run_config(full, "dengue", delay, 256, short))
        summaries.append({**s, "model": "dengue-full-series"})
        print(
            f"dengue full series, delay {'on' if delay else 'off'}, N=256: "
            f"{s['failed']}/{s['runs']} runs died, var of the rest {s['var_log_z']}"
        )

    ys = lnssm.simulate(p.lnssm_steps, p.seed)
    overheads = [overhead(ys, n, 5 if args.quick else 21) for n in p.particles]
    print(f"\n{'N':>5} {'graph s':>10} {'hand-written s':>15} {'ratio':>6}")
    for o in overheads:
        print(
            f"{o['particles']:>5} {o['graph_seconds']:>10.4f} "
            f"{o['handwritten_seconds']:>15.4f} {o['ratio']:>6.2f}"
        )

    errors = [s["max_abs_error"] for s in summaries if s["delay"] and "max_abs_error" in s]
    at256 = next(o for o in overheads if o["particles"] == 256)
    summary = {
        "linear_gaussian_max_abs_logz_error": max(errors),
        "lnssm_variance_reduction": experiment.variance_reduction(summaries, "lnssm", 256),
        "dengue_variance_reduction": experiment.variance_reduction(summaries, "dengue", 256),
        "lnssm_time_vs_handwritten_rbpf": at256["ratio"],
        "lnssm_time_vs_handwritten_rbpf_by_particles": {
            str(o["particles"]): o["ratio"] for o in overheads
        },
        "dengue_weeks": p.dengue_steps,
        "dengue_full_series_failed_on_off": [
            s["failed"] for s in summaries if s["model"] == "dengue-full-series"
        ],
        "runs": p.runs,
        "note": "timings on a shared 2-core machine (other jobs running); medians",
    }
    out = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "threads": 1,
            "python": sys.version.split()[0],
        },
        "versions": {"numpy": np.__version__, "scipy": scipy.__version__},
        "rows": summaries + [{"model": "lnssm-overhead", **o} for o in overheads],
        "summary": summary,
    }
    path = io.write_json(REPO / "reports" / "delayed" / "bench.json", out)
    print(f"\nsummary: {summary}\nwrote {path}")


if __name__ == "__main__":
    main()
