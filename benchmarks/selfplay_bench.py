"""Minimo part 2: self-play with and without hindsight relabeling, per domain and seed, against
part 1's uniform-prior MCTS at the same node budget on the human-written evaluation sets.
Rows are per run (domain, hindsight on/off, seed) and iteration: the evaluation fraction
proved (every `--eval-every`-th iteration and the last), the share of the iteration's own
conjectures proved, their difficulty (mean log-probability of their proofs under the policy)
and difficulty tags, and the wall time. The summary gives each variant's final evaluation
fraction per domain as the mean over seeds, with the standard deviation and every seed's
value. A `speed` section gives milliseconds per node expansion of a model-guided search,
the full-sequence forward of every action (before) against the cached-prefix batched forward
(after).

    python benchmarks/selfplay_bench.py [--quick] [--iterations 5] [--budget 1000] [--workers 2]
        [--seeds 0 1 2] [--eval-every 5] [--arms both|hindsight|no-hindsight]
        [--hindsight-per-tree 8]

    python benchmarks/selfplay_bench.py --tune DOMAIN CHECKPOINT [--tune-grid 0,0.25 1,0.25]

`--tune` measures search settings (value weight, uniform prior mix) on held-out conjectures
that a trained checkpoint draws, never on the evaluation theorems.

Each (domain, hindsight, seed) run is one process; `--workers` of them run at a time. Checkpoints go
to `--ckpt` (resumable: a rerun continues each run from its last finished iteration), and
bench.json is rewritten every 30 s from whatever iterations have finished, so a partial run
still leaves honest partial results.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from itertools import product
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch

from aether.io import write_json
from aether.minimo import selfplay
from aether.minimo.conjecture import CompletionEngine
from aether.minimo.domain import load_domain, load_evalset
from aether.minimo.model import MinimoModel, ModelScorer, new_model
from aether.minimo.params import SelfplayParams
from aether.minimo.search import prove, prove_many

OUT = Path("reports/selfplay/bench.json")
DOMAINS = ["propositional_logic", "arithmetic", "groups"]


def uniform(domain: str, budget: int) -> dict:
    torch.set_num_threads(1)
    start = time.perf_counter()
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
        "eval_proved": [t.name for t, o in zip(theorems, outs, strict=True) if o.proved],
        "seconds": round(time.perf_counter() - start, 1),
    }


class FullSequenceScorer(ModelScorer):
    """The scorer before the cached prefix: every action read with the whole goal in front
    of it, one padded batch of full sequences per expansion (the same numbers, slower)."""

    def policy(self, goal: str, actions: list[str]) -> np.ndarray:
        m = self.model
        seqs = [m.value_seq(goal), *(m.policy_seq(goal, a) for a in actions)]
        with torch.no_grad():
            h, last = m.hidden(seqs)
            top = h[torch.arange(len(seqs)), last]
            self._values[goal] = float(torch.sigmoid(m.value_head(top[0])))
            logits = m.policy_head(top[1:]).squeeze(-1).double()
        return torch.softmax(logits, 0).numpy()


def speed(domain: str, params: dict, budget: int = 300) -> dict:
    """ms per node expansion of model-guided search on the evaluation set's last theorems,
    before (full sequences) and after (cached prefix), same model and same trees; wall and
    process CPU time (on a shared machine the CPU time is the honest one)."""
    torch.set_num_threads(1)
    p = SelfplayParams(**{**params, "domains": [domain]})
    dom = load_domain(domain)
    sizes = {k: getattr(p, k) for k in selfplay.SIZES}
    model = new_model(CompletionEngine(dom, p.conjecture_depth), 0, **sizes)
    for head in (model.policy_head, model.value_head):  # a non-trivial (non-uniform) model
        torch.nn.init.normal_(head.weight, std=0.1)
    out = {"kind": "speed", "domain": domain, "budget_per_theorem": budget}
    scorers = {
        "before": FullSequenceScorer(model),
        "after": ModelScorer(model),
        "uniform_no_model": None,
    }
    for name, scorer in scorers.items():
        nodes, wall, cpu = 0, time.perf_counter(), time.process_time()
        for t in load_evalset(domain)[-3:]:
            nodes += prove(dom, t.text, budget, scorer).expansions
        out[f"ms_per_node_{name}"] = round(1000 * (time.perf_counter() - wall) / nodes, 2)
        out[f"cpu_ms_per_node_{name}"] = round(1000 * (time.process_time() - cpu) / nodes, 2)
        out["nodes"] = nodes
    return out


HELD_OUT_SEED = 10_000  # conjectures for tuning are drawn apart from every run's own


def tune(domain: str, checkpoint: str, params: dict, n: int, budget: int, grid: list) -> list:
    """Search settings measured on held-out conjectures of a trained model (never on the
    evaluation theorems): the model, conditioned on "hard", draws `n` distinct conjectures
    with a seed no run uses; each (value_weight, prior_mix) of `grid` searches all of them
    at `budget` nodes. Rows: the fraction proved and the mean nodes spent per proof."""
    torch.set_num_threads(1)
    p = SelfplayParams(**{**params, "domains": [domain]})
    model = MinimoModel.from_state(selfplay.load(Path(checkpoint))["model"]).eval()
    engine = CompletionEngine(load_domain(domain), p.conjecture_depth)
    rng = np.random.default_rng(HELD_OUT_SEED)
    held_out = selfplay.conjecture(
        engine, model.next_token("hard"), n, rng, quantified=p.quantified
    )
    rows = []
    for value_weight, mix in grid:
        scorer = ModelScorer(model, 1, p.prior_temperature, mix, value_weight)
        start = time.perf_counter()
        results = [prove(domain, c, budget, scorer) for c in held_out]
        proved = [r for r in results if r.proved]
        rows.append(
            {
                "kind": "tune",
                "domain": domain,
                "checkpoint": checkpoint,
                "conjectures": len(held_out),
                "budget": budget,
                "value_weight": value_weight,
                "prior_mix": mix,
                "proved_fraction": len(proved) / len(held_out),
                "mean_nodes_per_proof": float(np.mean([r.expansions for r in proved]))
                if proved
                else None,
                "seconds": round(time.perf_counter() - start, 1),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def run_dir(ckpt: str, domain: str, hindsight: bool, seed: int) -> Path:
    return Path(ckpt) / f"{domain}_hindsight_{'on' if hindsight else 'off'}_seed{seed}"


def run_params(params: dict, domain: str, hindsight: bool, seed: int) -> SelfplayParams:
    return SelfplayParams(**{**params, "domains": [domain], "hindsight": hindsight, "seed": seed})


def selfplay_run(domain: str, hindsight: bool, seed: int, params: dict, ckpt: str) -> str:
    """Iterations 0..n of one run, checkpointed under `ckpt` (resumed when present); each
    iteration's wall time goes to times.json beside the checkpoints."""
    torch.set_num_threads(1)
    p = run_params(params, domain, hindsight, seed)
    out = run_dir(ckpt, domain, hindsight, seed)
    out.mkdir(parents=True, exist_ok=True)
    times_path = out / "times.json"
    times = json.loads(times_path.read_text()) if times_path.exists() else {}
    for k in range(p.iterations + 1):
        start = time.perf_counter()
        fresh = selfplay.finished(out, k, p) is None
        m = selfplay.step(domain, p, out, k)
        if fresh:
            times[str(k)] = round(time.perf_counter() - start, 1)
            times_path.write_text(json.dumps(times))
        print(
            f"{domain} hindsight={hindsight} seed {seed} it {k}: {m['eval_fraction']}", flush=True
        )
    return str(out)


def run_key(row: dict) -> tuple:
    return row["domain"], row["hindsight"], row["seed"]


def collect(ckpt: str, params: dict, domains: list[str], seeds: list[int]) -> list[dict]:
    """The rows of every finished iteration found under `ckpt`."""
    rows = []
    for domain, hindsight, seed in product(domains, (True, False), seeds):
        p = run_params(params, domain, hindsight, seed)
        out = run_dir(ckpt, domain, hindsight, seed)
        done = [k for k in range(p.iterations + 1) if selfplay.checkpoint_path(out, k).is_file()]
        state = selfplay.finished(out, max(done), p) if done else None
        if state is None:
            continue
        times_path = out / "times.json"
        times = json.loads(times_path.read_text()) if times_path.exists() else {}
        for m in state["metrics"]:
            rows.append(
                {
                    "kind": "selfplay",
                    "domain": domain,
                    "hindsight": hindsight,
                    "seed": seed,
                    "budget": p.eval_budget,
                    "seconds": times.get(str(m["iteration"])),
                    **m,
                }
            )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 iterations, small budgets")
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--budget", type=int, default=1000, help="evaluation nodes per theorem")
    ap.add_argument("--conjectures", type=int, default=32)
    ap.add_argument("--conjecture-budget", type=int, default=150)
    ap.add_argument("--train-steps", type=int, default=150)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--prior-temperature", type=float, default=1.0)
    ap.add_argument("--prior-mix", type=float, default=0.25)
    ap.add_argument("--value-weight", type=float, default=0.5)
    ap.add_argument("--eval-every", type=int, default=5, help="1: every iteration, 0 too")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--domains", nargs="+", default=DOMAINS)
    ap.add_argument("--no-speed", action="store_true", help="skip the ms-per-node section")
    ap.add_argument("--speed-only", action="store_true", help="only the ms-per-node section")
    ap.add_argument("--out", default=str(OUT), help="the JSON written")
    ap.add_argument("--collect", action="store_true", help="only rebuild --out from --ckpt")
    ap.add_argument("--note", default="", help="what was run, in words (kept in the JSON)")
    ap.add_argument("--merge", nargs="*", default=[], help="JSON files whose rows to keep")
    ap.add_argument("--tune", nargs=2, metavar=("DOMAIN", "CHECKPOINT"), help="tune search")
    ap.add_argument("--tune-grid", nargs="+", default=["0,0.25", "0.5,0.25", "1,0.25", "0.5,0"])
    ap.add_argument("--tune-conjectures", type=int, default=48)
    ap.add_argument("--tune-budget", type=int, default=300)
    ap.add_argument("--no-quantified", action="store_true", help="conjectures as drawn")
    ap.add_argument(
        "--no-novel", action="store_true", help="conjectures may restate what was proved"
    )
    ap.add_argument("--hindsight-per-tree", type=int, default=8, help="relabeled theorems")
    ap.add_argument("--arms", default="both", choices=["both", "hindsight", "no-hindsight"])
    ap.add_argument("--ckpt", default="/tmp/aether-selfplay-bench", help="checkpoint directory")
    args = ap.parse_args()
    params = {
        "iterations": args.iterations,
        "conjectures": args.conjectures,
        "conjecture_budget": args.conjecture_budget,
        "eval_budget": args.budget,
        "eval_every": args.eval_every,
        "train_steps": args.train_steps,
        "batch_size": args.batch_size,
        "context": 64,
        "action_context": 32,
        "prior_temperature": args.prior_temperature,
        "prior_mix": args.prior_mix,
        "value_weight": args.value_weight,
        "quantified": not args.no_quantified,
        "novel": not args.no_novel,
        "hindsight_per_tree": args.hindsight_per_tree,
    }
    if args.quick:
        params.update(iterations=2, conjectures=16, conjecture_budget=100, eval_budget=100)
        params["train_steps"] = 30
    budget = params["eval_budget"]
    if args.tune:
        grid = [tuple(float(x) for x in g.split(",")) for g in args.tune_grid]
        rows = tune(*args.tune, params, args.tune_conjectures, args.tune_budget, grid)
        write_json(Path(args.out), {"machine": _machine(), "note": args.note, "rows": rows})
        return

    fixed: list[dict] = []  # rows of earlier runs kept as they are: uniform, speed, and the
    for path in args.merge:  # self-play runs (domain, hindsight, seed) `--ckpt` does not hold
        fixed += json.loads(Path(path).read_text())["rows"]
    started = time.perf_counter()

    def write() -> list[dict]:
        fresh = collect(args.ckpt, params, args.domains, args.seeds)
        have = {run_key(r) for r in fresh}
        rows = [r for r in fixed if r["kind"] != "selfplay" or run_key(r) not in have] + fresh
        _write(rows, params, args, time.perf_counter() - started)
        return rows

    if not args.collect:
        with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) as pool:
            # seed by seed, so that a run stopped early has whole seeds of every variant; the
            # longest domains first within a seed
            pending = [
                pool.submit(selfplay_run, d, h, s, params, args.ckpt)
                for s in ([] if args.speed_only else args.seeds)
                for d in reversed(args.domains)
                for h in {"both": (True, False), "hindsight": (True,), "no-hindsight": (False,)}[
                    args.arms
                ]
            ]
            have = {r["domain"] for r in fixed if r["kind"] == "uniform"}
            if not args.speed_only:
                pending += [pool.submit(uniform, d, budget) for d in args.domains if d not in have]
            if not args.no_speed:
                pending += [pool.submit(speed, d, params) for d in args.domains]
            futures = set(pending)
            while futures:
                done, futures = wait(futures, timeout=30, return_when=FIRST_COMPLETED)
                for future in done:
                    result = future.result()
                    if isinstance(result, dict):
                        fixed.append(result)
                write()
    rows = write()
    _table(rows)
    print(f"summary: {json.dumps(summary(rows, params), indent=1)}\nwritten to {args.out}")


def final_fractions(rows: list[dict], hindsight: bool) -> dict[str, dict[int, tuple[int, float]]]:
    """Per domain, each seed's last evaluated iteration (after 0) and its evaluation fraction."""
    out: dict[str, dict[int, tuple[int, float]]] = {}
    for r in rows:
        if (
            r["kind"] == "selfplay"
            and r["hindsight"] == hindsight
            and r["eval_fraction"] is not None
            and r["iteration"] > 0
        ):
            seen = out.setdefault(r["domain"], {}).get(r["seed"], (-1, 0.0))
            if r["iteration"] > seen[0]:
                out[r["domain"]][r["seed"]] = (r["iteration"], r["eval_fraction"])
    return out


def spread(finals: dict[str, dict[int, tuple[int, float]]]) -> dict[str, dict]:
    """Mean, sample standard deviation and the values over seeds, per domain, with the
    iteration they were measured after (the earliest over seeds)."""
    out = {}
    for d, v in finals.items():
        fracs = [f for _, f in v.values()]
        out[d] = {
            "mean": float(np.mean(fracs)),
            "sd": float(np.std(fracs, ddof=1)) if len(fracs) > 1 else None,
            "seeds": len(fracs),
            "iteration": min(k for k, _ in v.values()),
            "per_seed": {s: f for s, (_, f) in v.items()},
        }
    return out


def summary(rows: list[dict], params: dict) -> dict:
    """The required fractions (means over seeds of each run's last evaluated iteration), their
    spread, the iteration they come from, and the uniform baseline."""
    with_h, without_h = spread(final_fractions(rows, True)), spread(final_fractions(rows, False))
    uniform_rows = {r["domain"]: r["eval_fraction"] for r in rows if r["kind"] == "uniform"}
    speed_rows = [r for r in rows if "ms_per_node_after" in r]
    return {
        "iterations_planned": params["iterations"],
        "budget": params["eval_budget"],
        "solved_fraction_with_hindsight": {d: s["mean"] for d, s in with_h.items()},
        "solved_fraction_without_hindsight": {d: s["mean"] for d, s in without_h.items()},
        "solved_fraction_uniform_baseline": uniform_rows,
        "with_hindsight_over_seeds": with_h,
        "without_hindsight_over_seeds": without_h,
        "cpu_ms_per_node_before": {r["domain"]: r["cpu_ms_per_node_before"] for r in speed_rows},
        "cpu_ms_per_node_after": {r["domain"]: r["cpu_ms_per_node_after"] for r in speed_rows},
        "target": "after 5 iterations at 1,000 nodes with hindsight: >= 0.9 propositional "
        "logic, >= 0.6 arithmetic, >= 0.6 groups, clearly above the uniform baseline and the "
        "no-hindsight run",
    }


def _write(rows: list[dict], params: dict, args: argparse.Namespace, seconds: float) -> None:
    write_json(
        Path(args.out),
        {
            "machine": _machine(),
            "note": args.note,
            "versions": _versions(),
            "quick": args.quick,
            "params": params,
            "wall_seconds": round(seconds, 1),
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
        "load_average_at_write": [round(x, 2) for x in os.getloadavg()],
    }


def _versions() -> dict:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {"torch": torch.__version__, "numpy": np.__version__, "aether": commit}


def _table(rows: list[dict]) -> None:
    print(f"{'domain':<20} {'run':<20} {'iter':>4} {'eval':>6} {'conj proved':>11} {'logprob':>8}")
    for r in rows:
        if "eval_fraction" not in r:
            continue
        run = (
            f"hindsight={'on' if r['hindsight'] else 'off'} seed {r['seed']}"
            if r["kind"] == "selfplay"
            else r.get("label", r["kind"])
        )
        ev, lp, proved = (
            r["eval_fraction"],
            r.get("mean_proof_logprob"),
            r.get("conjectures_proved_fraction"),
        )
        ev, lp, proved = ("-" if x is None else f"{x:.2f}" for x in (ev, lp, proved))
        it = r.get("iteration", "-")
        print(f"{r['domain']:<20} {run:<20} {it:>4} {ev:>6} {proved:>11} {lp:>8}")


if __name__ == "__main__":
    main()
