"""Minimo part 1 baselines: kernel checks/s, proof-search nodes/s, the fraction of each
evaluation set uniform-prior MCTS proves at 100 / 1,000 / 10,000 nodes, and constrained
conjecturing (well-formed fraction, distinct conjectures, samples/s) beside the naive
alternative of sampling tokens unconstrained and keeping what type-checks.

Peano (the paper's Rust environment) is not installable from PyPI, so the side-by-side
comparison is with that unconstrained baseline, run in the same process.

    python benchmarks/minimo_bench.py [--quick] [--workers 2]

Search is deterministic and the budget only stops it, so each theorem is searched once at
the largest budget and counted as solved at budget b when it needed <= b expansions.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np

from aether.io import write_json
from aether.minimo.actions import Prover
from aether.minimo.conjecture import (
    EOS,
    CompletionEngine,
    detokenize,
    random_logits,
    sample_conjecture,
)
from aether.minimo.domain import DOMAINS, load_domain, load_evalset
from aether.minimo.search import MCTS, prove_many
from aether.minimo.syntax import ParseError

OUT = Path("reports/minimo/kernel_bench.json")
SPEED_THEOREM = {  # hard enough that the search uses its whole budget
    "propositional_logic": "and_assoc",
    "arithmetic": "add_comm",
    "groups": "inv_inv",
    "abelian_groups": "inv_inv",
}


def median_rate(fn, runs: int) -> tuple[float, list[float]]:
    """Median of `runs` timings of fn() -> work units, after one warm-up call."""
    fn()
    rates = []
    for _ in range(runs):
        t = time.perf_counter()
        units = fn()
        rates.append(units / (time.perf_counter() - t))
    return statistics.median(rates), rates


def search_speed(domain: str, budget: int, runs: int) -> dict:
    dom = load_domain(domain)
    stmt = next(t.statement for t in load_evalset(domain) if t.name == SPEED_THEOREM[domain])

    def run() -> int:
        return MCTS(Prover(dom)).search(stmt, budget).expansions

    med, rates = median_rate(run, runs)
    return {
        "kind": "search_speed",
        "domain": domain,
        "theorem": SPEED_THEOREM[domain],
        "budget": budget,
        "nodes_per_s": med,
        "runs": rates,
    }


def kernel_speed(domain: str, proofs: list[tuple[str, str]], runs: int) -> dict:
    """Fresh-kernel checks/s: every evaluation statement's type plus every found proof."""
    dom = load_domain(domain)
    stmts = [t.statement for t in load_evalset(domain)]
    pairs = [(dom.proposition(s), dom.parse(p)) for s, p in proofs]

    def run() -> int:
        for s in stmts:
            assert dom.checker().is_prop(s)
        for s, p in pairs:
            assert dom.check_proof(s, p)
        return len(stmts) + len(pairs)

    med, rates = median_rate(run, runs)
    return {
        "kind": "kernel_checks",
        "domain": domain,
        "checks": len(stmts) + len(pairs),
        "checks_per_s": med,
        "runs": rates,
    }


def evalset(domain: str, budgets: list[int], workers: int) -> tuple[list[dict], list]:
    theorems = load_evalset(domain)
    outcomes = prove_many(domain, [t.text for t in theorems], max(budgets), workers=workers)
    rows = []
    for b in budgets:
        solved = [
            t.name
            for t, o in zip(theorems, outcomes, strict=True)
            if o.proved and o.expansions <= b
        ]
        rows.append(
            {
                "kind": "evalset",
                "domain": domain,
                "budget": b,
                "solved": len(solved),
                "total": len(theorems),
                "fraction": len(solved) / len(theorems),
                "solved_names": solved,
            }
        )
    return rows, [(o.statement, o.proof) for o in outcomes if o.proved]


def conjecturing(domain: str, n: int, runs: int, seed: int = 0) -> list[dict]:
    dom = load_domain(domain)
    engine = CompletionEngine(dom, max_depth=4)
    logits = random_logits(engine, seed)  # a randomly initialised "model"
    rng = np.random.default_rng(seed)
    masked = [sample_conjecture(engine, logits, rng) for _ in range(n)]
    ok = sum(_typechecks(dom, c) for c in masked)
    med, rates = median_rate(
        lambda: len([sample_conjecture(engine, logits, rng) for _ in range(200)]), runs
    )
    naive = [_unconstrained(engine, logits, rng) for _ in range(n)]
    ok_naive = sum(_typechecks(dom, c) for c in naive)
    scale = 1000 / n
    return [
        {
            "kind": "conjecture",
            "domain": domain,
            "method": "masked (completion engine)",
            "samples": n,
            "wellformed_fraction": ok / n,
            "distinct_per_1000": len(set(masked)) * scale,
            "conjectures_per_s": med,
            "runs": rates,
        },
        {
            "kind": "conjecture",
            "domain": domain,
            "method": "unconstrained + type-check filter",
            "samples": n,
            "wellformed_fraction": ok_naive / n,
            "distinct_per_1000": len({c for c in naive if _typechecks(dom, c)}) * scale,
        },
    ]


def _unconstrained(engine: CompletionEngine, logits, rng, max_tokens: int = 64) -> str:
    tokens: list[str] = []
    while len(tokens) < max_tokens:
        z = np.asarray(logits(tokens), dtype=float)
        p = np.exp(z - z.max())
        tok = engine.vocabulary[rng.choice(len(p), p=p / p.sum())]
        if tok == EOS:
            break
        tokens.append(tok)
    return detokenize(tokens)


def _typechecks(dom, text: str) -> bool:
    try:
        dom.proposition(text)
        return True
    except (ParseError, TypeError, ValueError):
        return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="budgets 100 and 1,000; fewer samples")
    ap.add_argument("--workers", type=int, default=2, help="processes for the evaluation sets")
    args = ap.parse_args()
    budgets = [100, 1000] if args.quick else [100, 1000, 10_000]
    runs, samples, speed_budget = 5, (300 if args.quick else 1000), 200
    rows: list[dict] = []
    for domain in DOMAINS:
        t = time.perf_counter()
        ev_rows, proofs = evalset(domain, budgets, args.workers)
        rows += ev_rows
        rows.append(kernel_speed(domain, proofs, runs))
        rows.append(search_speed(domain, speed_budget, runs))
        rows += conjecturing(domain, samples, runs)
        print(f"{domain}: {time.perf_counter() - t:.0f} s", flush=True)
    summary = {
        "conjecture_wellformed_fraction": min(
            r["wellformed_fraction"]
            for r in rows
            if r["kind"] == "conjecture" and r["method"].startswith("masked")
        ),
        "unconstrained_wellformed_fraction": {
            r["domain"]: r["wellformed_fraction"]
            for r in rows
            if r["kind"] == "conjecture" and r["method"].startswith("unconstrained")
        },
        "distinct_conjectures_per_1000": {
            r["domain"]: r["distinct_per_1000"]
            for r in rows
            if r["kind"] == "conjecture" and r["method"].startswith("masked")
        },
        "conjectures_per_s": {
            r["domain"]: r["conjectures_per_s"] for r in rows if r.get("conjectures_per_s")
        },
        "search_nodes_per_s": {
            r["domain"]: r["nodes_per_s"] for r in rows if r["kind"] == "search_speed"
        },
        "kernel_checks_per_s": {
            r["domain"]: r["checks_per_s"] for r in rows if r["kind"] == "kernel_checks"
        },
    }
    for b in budgets:
        summary[f"uniform_mcts_solved_fraction_{b}_nodes"] = {
            r["domain"]: r["fraction"] for r in rows if r["kind"] == "evalset" and r["budget"] == b
        }
    result = {
        "machine": _machine(),
        "versions": _versions(),
        "quick": args.quick,
        "rows": rows,
        "summary": summary,
    }
    write_json(OUT, result)
    _table(rows)
    print(f"wrote {OUT}")


def _machine() -> dict:
    return {
        "platform": platform.platform(),
        "processor": platform.processor(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "note": "shared 2-core machine (other engineers' jobs ran concurrently)",
        "threads": 1,
    }


def _versions() -> dict:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {"numpy": np.__version__, "python": platform.python_version(), "aether": commit}


def _table(rows: list[dict]) -> None:
    print(f"{'domain':<20} {'measure':<44} {'value':>12}")
    for r in rows:
        if r["kind"] == "evalset":
            m, v = f"solved at {r['budget']} nodes", f"{r['solved']}/{r['total']}"
        elif r["kind"] == "kernel_checks":
            m, v = "kernel checks/s (median of 5)", f"{r['checks_per_s']:.0f}"
        elif r["kind"] == "search_speed":
            m, v = f"search nodes/s on {r['theorem']} (median of 5)", f"{r['nodes_per_s']:.0f}"
        else:
            m = f"{r['method'][:26]} well-formed"
            v = f"{r['wellformed_fraction']:.3f}"
            print(f"{r['domain']:<20} {m:<44} {v:>12}")
            m, v = f"{r['method'][:26]} distinct/1000", f"{r['distinct_per_1000']:.0f}"
            if "conjectures_per_s" in r:
                print(f"{r['domain']:<20} {m:<44} {v:>12}")
                m, v = "masked conjectures/s (median of 5)", f"{r['conjectures_per_s']:.0f}"
        print(f"{r['domain']:<20} {m:<44} {v:>12}")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
