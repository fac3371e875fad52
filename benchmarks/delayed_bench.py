"""Delayed sampling on vs off: variance of log Z and run time; the graph's overhead.

For each model and particle count: `runs` independent filters with delayed sampling on and
off (the bootstrap filter), the variance of their log-likelihood estimates and the median
time per run. For the linear-nonlinear model also the hand-written vectorized RBPF, timed
in the same process, one thread, median of >= 5 runs after a warm-up. Dengue is the whole
28-week series under the random-weight importance sampler (groups of 4 particles, one draw
of the initial conditions each), plus the single filter it replaces, for comparison.
Writes reports/delayed/bench.json; `--models` re-runs some models and keeps the other rows.

    python benchmarks/delayed_bench.py [--quick] [--models lnssm dengue] [--no-overhead]
"""

from __future__ import annotations

import argparse
import json
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
    parser.add_argument("--models", nargs="*", default=["kalman", "lnssm", "dengue"])
    parser.add_argument("--dengue-runs", type=int, default=40, help="runs per dengue cell")
    parser.add_argument("--no-overhead", action="store_true", help="keep the old overhead rows")
    args = parser.parse_args()

    p = DelayedParams(
        models=args.models or ["lnssm"],  # none: only the overhead
        particles=[64, 256] if args.quick else [64, 256, 1024],
        runs=20 if args.quick else 100,
        kalman_steps=50,
        lnssm_steps=50 if args.quick else 100,
        dengue_steps=None,
        dengue_group_size=4,
        max_proposals=100,
    )
    path = REPO / "reports" / "delayed" / "bench.json"
    old = json.loads(path.read_text()) if path.exists() else {"rows": []}
    models = args.models
    rerun = set(models) | ({"dengue-one-filter"} if "dengue" in models else set())
    summaries = [
        r
        for r in old["rows"]
        if r["model"] not in rerun and r["model"] not in ("lnssm-overhead", "dengue-full-series")
    ]
    print(f"{'model':8} {'delay':5} {'N':>5} {'var(log Z)':>12} {'failed':>6} {'s/run':>8}")
    for name in models:
        q = p.model_copy(update={"runs": args.dengue_runs}) if name == "dengue" else p
        model = experiment.build_model(name, q, args.prepared)
        exact = experiment.exact_log_z(name, model)
        for n in q.particles:
            for delay in (True, False):
                row = experiment.run_config(model, name, delay, n, q)
                s = experiment.summarize(row, exact)
                summaries.append(s)
                var = "n/a" if s["var_log_z"] is None else f"{s['var_log_z']:.3g}"
                print(
                    f"{name:8} {'on' if delay else 'off':5} {n:>5} {var:>12} "
                    f"{s['failed']:>6} {s['median_seconds']:>8.4f}",
                    flush=True,
                )

    if "dengue" in models:
        # The single filter the importance sampler replaces: each particle its own initial
        # conditions, which resampling collapses; some runs die (no particle explains a week).
        one = p.model_copy(update={"runs": max(p.runs // 5, 4), "dengue_group_size": 1})
        full = experiment.build_model("dengue", one, args.prepared)
        for delay in (True, False):
            s = experiment.summarize(experiment.run_config(full, "dengue", delay, 256, one))
            summaries.append({**s, "model": "dengue-one-filter"})
            print(
                f"dengue, one filter, delay {'on' if delay else 'off'}, N=256: "
                f"{s['failed']}/{s['runs']} runs died, var of the rest {s['var_log_z']}"
            )

    if args.no_overhead:
        overheads = [
            {k: v for k, v in r.items() if k != "model"}
            for r in old["rows"]
            if r["model"] == "lnssm-overhead"
        ]
    else:
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
        "dengue_weeks": 28,
        "dengue_group_size": p.dengue_group_size,
        "dengue_failed_on_off_at_256": [
            s["failed"] for s in summaries if s["model"] == "dengue" and s["particles"] == 256
        ],
        "dengue_one_filter_failed_on_off_at_256": [
            s["failed"] for s in summaries if s["model"] == "dengue-one-filter"
        ],
        "runs": p.runs,
        "dengue_runs": args.dengue_runs,
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
    path = io.write_json(path, out)
    print(f"\nsummary: {summary}\nwrote {path}")


if __name__ == "__main__":
    main()
