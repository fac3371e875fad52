"""One optimizer on one task, end to end: what the stage's tasks and the benchmark call."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aether.mipro.lm import CachedLM, CallCache, OpenAICompatibleLM, Usage
from aether.mipro.lm.base import LM
from aether.mipro.optimize import (
    MIPRO,
    BootstrapFewShot,
    BootstrapRandomSearch,
    ZeroShot,
    evaluate,
)
from aether.mipro.params import LMParams, MiproParams
from aether.mipro.tasks import Task


def resolve(params: LMParams) -> LMParams:
    """The LM the params and the environment select: `AETHER_MIPRO_LM_URL` (and
    `AETHER_MIPRO_LM_MODEL`) override params.yaml, so a served model needs no edit."""
    url = os.environ.get("AETHER_MIPRO_LM_URL")
    if not url:
        return params
    model = os.environ.get("AETHER_MIPRO_LM_MODEL") or params.model
    return params.model_copy(update={"kind": "http", "url": url, "model": model})


def make_lm(params: LMParams) -> LM:
    """The configured model (environment first): an HTTP endpoint or the embedded one."""
    params = resolve(params)
    if params.kind == "http":
        if not params.url:
            raise ValueError("mipro.lm.kind is http but mipro.lm.url is not set")
        return OpenAICompatibleLM(
            params.url,
            params.model or "default",
            api=params.api,
            timeout_s=params.timeout_s,
            max_retries=params.max_retries,
            max_concurrency=params.max_concurrency,
            constrain=params.constrain,
        )
    if params.batch > 1:
        from aether.mipro.lm.batched import BatchedLlamaCppLM

        return BatchedLlamaCppLM(batch=params.batch, n_threads=params.n_threads)
    from aether.mipro.lm.embedded import LlamaCppLM

    return LlamaCppLM(n_threads=params.n_threads, instances=params.instances)


@dataclass
class Result:
    task: str
    optimizer: str
    model: str
    val_score: float
    test_score: float
    seconds: float
    usage: dict[str, int]
    program: dict[str, Any]
    history: list[dict] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "optimizer": self.optimizer,
            "model": self.model,
            "val_score": self.val_score,
            "test_score": self.test_score,
            "seconds": round(self.seconds, 2),
            **self.usage,
        }


def build_optimizer(
    name: str, params: MiproParams, lm: LM, metric, study: str, usage=None, reserve: int = 0
):
    """The named optimizer; MIPRO plans its search within `usage`'s hard budget, keeping
    `reserve` calls for what follows compile."""
    common = {"metric": metric, "lm": lm}
    if name == "zero_shot":
        return ZeroShot(**common)
    if name == "bootstrap_few_shot":
        return BootstrapFewShot(
            **common, max_bootstrapped=params.max_bootstrapped, max_labeled=params.max_labeled
        )
    if name == "bootstrap_random_search":
        return BootstrapRandomSearch(
            **common,
            num_candidates=params.num_candidates,
            max_bootstrapped=params.max_bootstrapped,
            max_labeled=params.max_labeled,
            seed=params.seed,
        )
    return MIPRO(
        **common,
        num_candidates=params.num_candidates,
        num_trials=params.num_trials,
        rounds=params.rounds,
        minibatch_size=params.minibatch_size,
        full_eval_every=params.full_eval_every,
        max_bootstrapped=params.max_bootstrapped,
        max_labeled=params.max_labeled,
        seed=params.seed,
        storage=params.studies,
        study_name=study,
        use_history=params.use_history,
        separate_full_scores=params.separate_full_scores,
        threads=params.threads,
        budget=usage,
        reserve=reserve,
    )


@functools.cache
def code_digest() -> str:
    """A digest of the `aether.mipro` sources: a study's scores were made by this code."""
    root = Path(__file__).parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def run_optimizer(task: Task, name: str, params: MiproParams, lm: LM) -> Result:
    """Compile with `name`, then score on val and test; usage counts this run's calls only."""
    usage = Usage(max_calls=params.max_lm_calls)
    cached = CachedLM(lm, CallCache(Path(params.cache)), usage)
    # The study is named by everything that shapes it (knobs, the examples it searches on,
    # the code that turns a configuration into calls and scores), so a rerun resumes only its
    # own study: a stage rerun after a code change searches anew, its unchanged calls cached.
    knobs = params.model_dump(exclude={"lm", "cache", "studies", "tasks", "optimizers"})
    shape = json.dumps([knobs, task.train, task.val, code_digest()], sort_keys=True, default=str)
    digest = hashlib.sha256(shape.encode()).hexdigest()[:10]
    study = f"{task.name}-{name}-{cached.model}-{digest}"
    # The test evaluation is paid after compile: keep its calls (one per predictor and example)
    # out of what the search may spend, so the hard budget covers the whole run.
    reserve = len(task.test) * len(list(task.program.named_predictors()))
    optimizer = build_optimizer(name, params, cached, task.metric, study, usage, reserve)
    start = time.perf_counter()
    program = optimizer.compile(task.program, task.train, task.val)
    val = evaluate(program, task.val, task.metric, cached).score
    test = evaluate(program, task.test, task.metric, cached).score
    return Result(
        task.name,
        name,
        cached.model,
        val,
        test,
        time.perf_counter() - start,
        usage.as_dict(),
        program.dump_state(),
        list(optimizer.history),
    )
