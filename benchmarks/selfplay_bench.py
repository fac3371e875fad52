"""Minimo part 2: self-play with and without hindsight relabeling, per domain, against part 1's
uniform-prior MCTS at the same node budget on the human-written evaluation sets. Rows are
per iteration: the evaluation fraction proved, the share of the iteration's own conjectures
proved and their difficulty (mean log-probability of their proofs under the policy).

    python benchmarks/selfplay_bench.py [--quick] [--iterations 5] [--budget 1000] [--workers 2]

Each (domain, hindsight) run is one process; `--workers` of them run at a time.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch

from aether.io import write_json
from aether.minimo import selfplay
from aether.minimo.domain import load_evalset
from aether.minimo.params import SelfplayParams
from aether.minimo.search import prove_many

OUT = Path("reports/selfplay/bench.json")
DOMAINS = ["propositional_logic", "arithmetic", "groups"]


def uniform(domain: str, budget: int) -> dict:
    theorems = load_evalset(domain)
    outs = prove_many(domain, [t.text for t in theorems], budget)
    solved = sum(o.proved for o in outs)
    return {
        "kind": "uniform",
        "domain": domain,
        "budget": budget,
        "solved": solved,
        "total": len(theorems),
        "eval_fraction": solved / len(theorems),
    }


def selfplay_run(domain: str, hindsight: bool, params: dict) -> list[dict]:
    p = SelfplayParams(**{**params, "domains": [domain], "hindsight": hindsight})
    rows, start = [], time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        for k in range(p.iterations + 1):
            m = selfplay.step(domain, p, Path(out), k)
            print(f"{domain} hindsight={hindsight} iteration {k}: {m['eval_fraction']}", flush=True)
            rows.append(
                {
                    "kind": "selfplay",
                    "domain": domain,
                    "hindsight": hindsight,
                    "budget": p.eval_budget,
                    "seconds": round(time.perf_counter() - start, 1),
                    **m,
                }
            )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 iterations, small budgets")
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--budget", type=int, default=1000, help="evaluation nodes per theorem")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--domains", nargs="+", default=DOMAINS)
    args = ap.parse_args()
    params = {
        "iterations": args.iterations,
        "conjectures": 48,
        "conjecture_budget": 200,
        "eval_budget": args.budget,
        "train_steps": 80,
    }
    if args.quick:
        params.update(iterations=2, conjectures=16, conjecture_budget=100, eval_budget=100)
        params["train_steps"] = 30
    budget = params["eval_budget"]

    rows: list[dict] = []
    with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(uniform, d, budget) for d in args.domains]
        futures += [
            pool.submit(selfplay_run, d, h, params) for d in args.domains for h in (True, False)
        ]
        for future in as_completed(futures):  # bench.json grows as runs finish
            result = future.result()
            rows += result if isinstance(result, list) else [result]
            write(rows, params, args)
    _table(rows)
    print(f"summary: {summary(rows, params)}\nwritten to {OUT}")


def summary(rows: list[dict], params: dict) -> dict:
    def final(hindsight: bool) -> dict[str, float]:
        runs = [r for r in rows if r["kind"] == "selfplay" and r["hindsight"] == hindsight]
        return {r["domain"]: r["eval_fraction"] for r in runs}  # the last iteration wins

    return {
        "iterations": params["iterations"],
        "budget": params["eval_budget"],
        "solved_fraction_with_hindsight": final(True),
        "solved_fraction_without_hindsight": final(False),
        "solved_fraction_uniform_baseline": {
            r["domain"]: r["eval_fraction"] for r in rows if r["kind"] == "uniform"
        },
        "target": "after 5 iterations at 1,000 nodes with hindsight: >= 0.9 propositional "
        "logic, >= 0.6 arithmetic, >= 0.6 groups",
    }


def write(rows: list[dict], params: dict, args: argparse.Namespace) -> None:
    write_json(
        OUT,
        {
            "machine": _machine(),
            "versions": _versions(),
            "quick": args.quick,
            "params": params,
            "rows": rows,
            "summary": summary(rows, params),
        },
    )


def _machine() -> dict:
    return {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "note": "shared 2-core machine (other engineers' jobs ran concurrently)",
        "threads_per_run": 1,
    }


def _versions() -> dict:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {"torch": torch.__version__, "numpy": np.__version__, "aether": commit}


def _table(rows: list[dict]) -> None:
    print(f"{'domain':<20} {'run':<14} {'iter':>4} {'eval':>6} {'conj proved':>11} {'logprob':>8}")
    for r in rows:
        run = (
            "uniform"
            if r["kind"] == "uniform"
            else f"hindsight={'on' if r['hindsight'] else 'off'}"
        )
        lp, proved = r.get("mean_proof_logprob"), r.get("conjectures_proved_fraction")
        lp = "-" if lp is None else f"{lp:.2f}"
        proved = "-" if proved is None else f"{proved:.2f}"
        it = r.get("iteration", "-")
        print(
            f"{r['domain']:<20} {run:<14} {it:>4} {r['eval_fraction']:>6.2f} {proved:>11} {lp:>8}"
        )


if __name__ == "__main__":
    main()
