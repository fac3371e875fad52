"""Batched decoding of the embedded LM: do concurrent calls decoded together in one llama.cpp
context (`BatchedLlamaCppLM`) finish sooner than the same calls one at a time (`LlamaCppLM`)?

The calls are MIPRO-like: a classification prompt with two demonstrations and a new input,
greedy, up to 24 new tokens, sent by as many threads as the batch allows. Reported: wall time
for all calls (median of `--repeats`), completion tokens per second, and the speedup over one
context serving the calls in turn.

    python benchmarks/lm_batch_bench.py [--calls 16] [--threads 2] [--batches 1 2 4 8]

Measured on the 2-core machine at load 1-2: 5.98 s one at a time, 8.15 / 7.40 / 7.07 / 6.97 s
batched by 1 / 2 / 4 / 8 (0.73-0.86x): it does not pay there. Under load from other processes
the batched form looked 2.3x faster (23 against 53 s), an artefact of CPU shares, not speed.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from aether import io
from aether.mipro.lm import Decoding
from aether.mipro.lm.batched import BatchedLlamaCppLM
from aether.mipro.lm.embedded import LlamaCppLM

REPO = Path(__file__).resolve().parents[1]
DEMOS = (
    "Classify the sentence as positive or negative.\n\n"
    "Sentence: the film was a joy from start to end\nLabel: positive\n\n"
    "Sentence: a dull, lifeless mess\nLabel: negative\n\n"
)
INPUTS = (
    "an uneven but often charming story",
    "I wanted my two hours back",
    "sharp writing and a great cast",
    "the plot never comes together",
    "a warm, funny and wise film",
    "boring beyond belief",
    "one of the best films of the year",
    "it falls flat at every turn",
)


def timed(lm, prompts: list[str], workers: int, repeats: int) -> tuple[float, int]:
    decoding = Decoding(temperature=0.0, max_tokens=24)
    walls, tokens = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            outs = list(pool.map(lambda p: lm.complete(p, decoding), prompts))
        walls.append(time.perf_counter() - start)
        tokens = sum(o.completion_tokens for o in outs)
    return statistics.median(walls), tokens


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2, help="llama.cpp threads")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=REPO / "reports" / "mipro" / "lm_batch.json")
    args = ap.parse_args()
    prompts = [
        f"{DEMOS}Sentence: {INPUTS[i % len(INPUTS)]} ({i})\nLabel:" for i in range(args.calls)
    ]
    base, tokens = timed(LlamaCppLM(n_threads=args.threads), prompts, 1, args.repeats)
    rows = [{"lm": "LlamaCppLM", "batch": 1, "seconds": base, "completion_tokens": tokens}]
    for b in args.batches:
        lm = BatchedLlamaCppLM(batch=b, n_ctx=512, n_threads=args.threads)
        wall, tokens = timed(lm, prompts, b, args.repeats)
        rows.append(
            {"lm": "BatchedLlamaCppLM", "batch": b, "seconds": wall, "completion_tokens": tokens}
        )
    print(f"{args.calls} calls, {args.threads} llama.cpp threads, load {os.getloadavg()[0]:.1f}")
    print(f"{'lm':18s} {'batch':>5s} {'seconds':>8s} {'tokens/s':>9s} {'speedup':>8s}")
    for r in rows:
        r["tokens_per_s"] = r["completion_tokens"] / r["seconds"]
        r["speedup"] = base / r["seconds"]
        print(
            f"{r['lm']:18s} {r['batch']:5d} {r['seconds']:8.2f} {r['tokens_per_s']:9.1f} "
            f"{r['speedup']:8.2f}"
        )
    io.write_json(
        args.out,
        {
            "machine": {
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
                "loadavg": os.getloadavg(),
            },
            "calls": args.calls,
            "llama_threads": args.threads,
            "rows": rows,
        },
    )


if __name__ == "__main__":
    main()
