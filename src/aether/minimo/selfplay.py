"""The self-play loop: each iteration the conjecturer proposes distinct "hard" conjectures
(quantified over the domain's objects, by constrained decoding, unless switched off), the
prover (MCTS guided by the same model) attacks them, hindsight relabeling turns what every
search tree did prove into extra theorems, everything proved is labelled hard / easy / trivial
by the log-probability of its proof under the current policy (terciles of all the
iteration's proofs; unproved conjectures are "fail"), and the model trains on all of it.
After each iteration the prover is evaluated on the domain's human-written theorems at a fixed
budget (or after every `eval_every`-th and the last).

A checkpoint after each iteration holds everything the next one needs (model, optimizer,
replay data, metrics so far), so a run resumes from its last finished iteration and gives the
same numbers as an uninterrupted one.
"""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aether import io
from aether.minimo import hindsight as H
from aether.minimo.conjecture import CompletionEngine, NextToken, sample_conjecture, vacuous
from aether.minimo.domain import DOMAINS, Domain, load_domain, load_evalset
from aether.minimo.model import TAGS, Batch, MinimoModel, ModelScorer, new_model
from aether.minimo.params import SelfplayParams
from aether.minimo.search import Scorer, UniformScorer, prove
from aether.minimo.syntax import show

REPLAY = 50_000  # examples of each kind kept for training: in effect all data seen so far
SIZES = ("d_model", "n_layers", "n_heads", "context", "action_context")
MAX_ACTIONS = 16  # actions per policy example (the right one always among them)


@dataclass(frozen=True)
class Played:
    """One search, as it travels back from a worker: text only, re-checked on arrival."""

    statement: str
    proved: bool
    proof: str | None
    logprob: float | None
    policy: list[tuple[str, list[str], int]]
    value: list[tuple[str, int]]
    relabeled: list[H.Relabeled]


def play(
    domain: str,
    statement: str,
    budget: int,
    scorer: Scorer,
    hindsight: bool = True,
    limit: int = 8,
    learn: bool = True,
) -> Played:
    """Search one statement; with `learn`, also extract its training examples and (with
    `hindsight`) its relabeled theorems: up to `limit` each of solved goals, rewrite facts and
    forward facts, whose proofs the policy and value also learn."""
    r = prove(domain, statement, budget, scorer)
    lp = H.proof_logprob(r.tree, 0) if r.proved else None
    if not learn:
        return Played(statement, r.proved, r.proof_text(), lp, [], [], [])
    picks = H.relabeled_goals(r, limit) if hindsight else []
    policy, value = H.examples(r, hindsight, [i for i, _ in picks])
    relabeled = [t for _, t in picks]
    seen = {g for g, _, _ in policy} | {g for g, _ in value}
    facts = (
        [*H.rewrite_facts(r, scorer, limit), *H.forward_facts(r, scorer, limit)]
        if hindsight
        else []
    )
    for fact in facts:
        relabeled.append(fact.theorem)
        policy += [e for e in fact.policy if e[0] not in seen]
        value += [e for e in fact.value if e[0] not in seen]
        seen |= {g for g, _ in fact.value}
    return Played(statement, r.proved, r.proof_text(), lp, policy, value, relabeled)


def verify(domain: str, p: Played) -> Played:
    """The kernel of this process re-checks every proof that crossed a process boundary."""
    dom = load_domain(domain)

    def ok(stmt: str, proof: str | None) -> bool:
        return proof is not None and dom.check_proof(dom.proposition(stmt), dom.parse(proof))

    proved = p.proved and ok(p.statement, p.proof)
    kept = [t for t in p.relabeled if ok(t.statement, t.proof)]
    return Played(
        p.statement, proved, p.proof if proved else None, p.logprob if proved else None,
        p.policy, p.value, kept,
    )  # fmt: skip


def play_all(
    domain: str, statements: list[str], budget: int, scorer: Scorer, workers: int = 1, **kw
) -> list[Played]:
    """Search every statement, in `workers` spawned processes when more than one."""
    if workers <= 1:
        out = [play(domain, s, budget, scorer, **kw) for s in statements]
    else:
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(play, domain, s, budget, scorer, **kw) for s in statements]
            out = [f.result() for f in futures]
    return [verify(domain, p) for p in out]


def scorer(model: MinimoModel, params: SelfplayParams, trained: bool = True) -> Scorer:
    """The model as the search's scorer; an untrained model's heads are zero, so it is exactly
    the uniform scorer, which is used instead (same numbers, no forward passes)."""
    if not trained:
        return UniformScorer()
    return ModelScorer(
        model, params.threads, params.prior_temperature, params.prior_mix, params.value_weight
    )


def evaluate(
    model: MinimoModel, domain: str, params: SelfplayParams, trained: bool = True
) -> tuple[float, list[str]]:
    """Fraction of the domain's evaluation set proved at the evaluation budget, and the names
    of the theorems proved."""
    theorems = load_evalset(domain)
    texts = [t.text for t in theorems]
    played = play_all(
        domain,
        texts,
        params.eval_budget,
        scorer(model, params, trained),
        params.workers,
        learn=False,
    )
    names = [t.name for t, p in zip(theorems, played, strict=True) if p.proved]
    return len(names) / len(theorems), names


def difficulty(logprobs: list[float]) -> tuple[float, float]:
    """Tercile thresholds of the proof log-probabilities of everything proved in an iteration
    (its conjectures and its hindsight theorems)."""
    if not logprobs:
        return (-np.inf, -np.inf)
    q1, q2 = np.quantile(logprobs, [1 / 3, 2 / 3])
    return float(q1), float(q2)


def tag(logprob: float, thresholds: tuple[float, float]) -> str:
    """Strictly below the first tercile is "hard", below the second "easy", else "trivial":
    proofs tied at the top (e.g. the many one-step proofs of log-probability 0) are trivial,
    never hard, however many of them there are."""
    return "hard" if logprob < thresholds[0] else "easy" if logprob < thresholds[1] else "trivial"


def key(domain: Domain, statement: str) -> str:
    """A statement's text in one normal form (binders named by depth, arrows flattened): two
    texts of the same proposition have the same key."""
    return show(H.canonical(domain.proposition(statement)))


def conjecture(
    engine: CompletionEngine,
    draw: NextToken,
    n: int,
    rng: np.random.Generator,
    tries: int = 8,
    quantified: bool = False,
    exclude: frozenset[str] = frozenset(),
) -> list[str]:
    """Up to `n` distinct conjectures, from at most `tries` * `n` draws: a conjecturer that
    repeats itself still gets `n` searches per iteration. With `quantified`, each opens with
    a quantifier (constrained decoding) and a draw that quantifies over an object it never
    mentions is drawn again: the domain's theorems are about all its objects, and a
    conjecturer left alone mostly states facts about its one or two constants. A draw whose
    `key` is in `exclude` (what earlier iterations proved) is drawn again too: without it
    a third to a half of a run's conjecture examples restated earlier ones."""
    out: dict[str, None] = {}
    for _ in range(tries * n):
        if len(out) == n:
            break
        text = sample_conjecture(engine, draw, rng, quantified=quantified)
        if quantified and vacuous(engine.domain.proposition(text), engine.binder_types):
            continue
        if not exclude or key(engine.domain, text) not in exclude:
            out[text] = None
    return list(out)


def evaluated(k: int, params: SelfplayParams) -> bool:
    """Whether iteration k is evaluated: all of them when `eval_every` is 1; else every
    `eval_every`-th and the last, not iteration 0 (the untrained model is the uniform prior,
    which a caller can run once for all seeds)."""
    if params.eval_every == 1:
        return True
    return k > 0 and (k % params.eval_every == 0 or k == params.iterations)


def checkpoint_path(out_dir: Path, k: int) -> Path:
    return Path(out_dir) / f"iter_{k}.pt"


def save(state: dict[str, Any], path: Path) -> Path:
    with io.atomic_path(path) as tmp:
        torch.save(state, tmp)
    return path


def load(path: Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=True)


def fingerprint(params: SelfplayParams) -> str:
    """The params that decide an iteration's numbers (not how many, nor where they run): a
    checkpoint made under other values is not resumed from."""
    skip = {"domains", "iterations", "workers", "threads"}
    return json.dumps(params.model_dump(exclude=skip), sort_keys=True)


def finished(out_dir: Path, k: int, params: SelfplayParams) -> dict[str, Any] | None:
    """Iteration k's checkpoint if it exists and was made under these params."""
    path = checkpoint_path(out_dir, k)
    if not path.is_file():
        return None
    state = load(path)
    return state if state.get("fingerprint") == fingerprint(params) else None


def prune(out_dir: Path, iterations: int) -> None:
    """Remove checkpoints of iterations beyond the run's last, left by a longer earlier run."""
    for path in Path(out_dir).glob("iter_*.pt"):
        if int(path.stem.removeprefix("iter_")) > iterations:
            path.unlink()


def _seed(params: SelfplayParams, domain: str, k: int) -> list[int]:
    return [params.seed, DOMAINS.index(domain), k]


def initial(domain: str, params: SelfplayParams) -> dict[str, Any]:
    """Iteration 0: a randomly initialised model (uniform policy, value 1/2), evaluated."""
    torch.set_num_threads(params.threads)
    engine = CompletionEngine(load_domain(domain), params.conjecture_depth)
    sizes = {k: getattr(params, k) for k in SIZES}
    seed = int(np.random.default_rng(_seed(params, domain, 0)).integers(2**31))
    model = new_model(engine, seed, **sizes)
    opt = torch.optim.AdamW(model.parameters(), lr=params.learning_rate)
    frac, names = (
        evaluate(model, domain, params, trained=False) if evaluated(0, params) else (None, None)
    )
    metrics = {"iteration": 0, "eval_fraction": frac, "eval_proved": names}
    return {
        "iteration": 0,
        "model": model.state(),
        "optimizer": opt.state_dict(),
        "data": {"conjectures": [], "policy": [], "value": [], "proven": []},
        "metrics": [metrics],
    }


def iterate(state: dict[str, Any], domain: str, params: SelfplayParams) -> dict[str, Any]:
    """One iteration of self-play from `state` (the previous iteration's checkpoint)."""
    k = state["iteration"] + 1
    torch.set_num_threads(params.threads)
    rng = np.random.default_rng(_seed(params, domain, k))
    torch.manual_seed(int(rng.integers(2**31)))
    model = MinimoModel.from_state(state["model"])
    engine = CompletionEngine(load_domain(domain), params.conjecture_depth)

    # 1. conjecture, aiming at "hard" (and, with `novel`, beyond what is already proved)
    model.eval()
    known = frozenset(state["data"]["proven"]) if params.novel else frozenset()
    conjectures = conjecture(
        engine,
        model.next_token("hard"),
        params.conjectures,
        rng,
        quantified=params.quantified,
        exclude=known,
    )
    # 2. prove, with the model as the search's prior and value
    played = play_all(
        domain, conjectures, params.conjecture_budget, scorer(model, params, k > 1),
        params.workers, hindsight=params.hindsight, limit=params.hindsight_per_tree,
    )  # fmt: skip
    # 3. label difficulty by proof log-probability, against terciles of everything the
    # iteration proved; extract training data
    proved = [p for p in played if p.proved]
    relabeled = distinct(engine.domain, played, known)
    thresholds = difficulty([p.logprob for p in proved] + [t.logprob for t in relabeled])
    data = {name: list(v) for name, v in state["data"].items()}
    tok, labels = model.tok, Counter({t: 0 for t in TAGS})
    for p in played:
        label = tag(p.logprob, thresholds) if p.proved else "fail"
        labels[label] += 1
        tokens = H.conjecture_tokens(engine, engine.domain.proposition(p.statement))
        if tokens is not None:  # always, for the engine's own conjectures
            data["conjectures"].append(tok.conjecture(label, tokens))
        data["policy"] += p.policy
        data["value"] += p.value
    n_relabeled_conj = 0
    for t in relabeled:
        tokens = H.conjecture_tokens(engine, engine.domain.proposition(t.statement))
        if tokens is not None:
            label = tag(t.logprob, thresholds)
            labels[label] += 1
            data["conjectures"].append(tok.conjecture(label, tokens))
            n_relabeled_conj += 1
    data["proven"] += [key(engine.domain, p.statement) for p in proved]
    data["proven"] += [key(engine.domain, t.statement) for t in relabeled]
    data = {name: v[-REPLAY:] for name, v in data.items()}
    # 4. train
    opt = torch.optim.AdamW(model.parameters(), lr=params.learning_rate)
    opt.load_state_dict(state["optimizer"])
    losses = train(model, opt, data, params.train_steps, params.batch_size, rng)
    # 5. evaluate
    model.eval()
    frac, names = evaluate(model, domain, params) if evaluated(k, params) else (None, None)
    lps = [p.logprob for p in proved]
    metrics = {
        "iteration": k,
        "eval_fraction": frac,
        "eval_proved": names,
        "conjectures": len(played),
        "conjectures_proved_fraction": len(proved) / len(played),
        "mean_proof_logprob": float(np.mean(lps)) if lps else None,
        "relabeled_theorems": len(relabeled),
        "relabeled_conjectures": n_relabeled_conj,
        "tags": dict(labels),
        "policy_examples": len(data["policy"]),
        "value_examples": len(data["value"]),
        **{f"loss_{name}": v for name, v in losses.items()},
    }
    return {
        "iteration": k,
        "model": model.state(),
        "optimizer": opt.state_dict(),
        "data": data,
        "metrics": [*state["metrics"], metrics],
    }


def distinct(
    domain: Domain, played: list[Played], known: frozenset[str] = frozenset()
) -> list[H.Relabeled]:
    """The iteration's hindsight theorems, one per statement (with the likeliest proof found
    of it: a fact is as hard as its easiest proof), none that is one of its conjectures or
    `known` (keys of what earlier iterations proved and learned)."""
    best: dict[str, H.Relabeled] = {}
    for t in (t for p in played for t in p.relabeled):
        k = key(domain, t.statement)
        if k not in known and (k not in best or t.logprob > best[k].logprob):
            best[k] = t
    for p in played:
        best.pop(key(domain, p.statement), None)
    return list(best.values())


def train(
    model: MinimoModel,
    opt: torch.optim.Optimizer,
    data: dict[str, list],
    steps: int,
    batch_size: int,
    rng: np.random.Generator,
) -> dict[str, float]:
    """`steps` of AdamW on batches mixing all three kinds of example; the mean losses."""
    model.train()
    sums: dict[str, float] = {}
    for _ in range(steps):
        batch = sample_batch(data, batch_size, rng)
        loss = model.loss(batch)
        opt.zero_grad()
        loss["total"].backward()
        opt.step()
        for name, v in loss.items():
            sums[name] = sums.get(name, 0.0) + v.item() / steps
    model.eval()
    return sums


def sample_batch(data: dict[str, list], size: int, rng: np.random.Generator) -> Batch:
    """`size` conjectures, `size` / 2 policy examples (at most MAX_ACTIONS actions each, the
    right one kept), `size` value examples, drawn with replacement."""

    def pick(items: list, n: int) -> list:
        return [items[i] for i in rng.integers(len(items), size=n)] if items else []

    policy = []
    for goal, acts, target in pick(data["policy"], max(1, size // 2)):
        if len(acts) > MAX_ACTIONS:
            others = [i for i in range(len(acts)) if i != target]
            keep = sorted([target, *rng.choice(others, MAX_ACTIONS - 1, replace=False)])
            acts, target = [acts[i] for i in keep], keep.index(target)
        policy.append((goal, list(acts), int(target)))
    return Batch(pick(data["conjectures"], size), policy, pick(data["value"], size))


def step(domain: str, params: SelfplayParams, out_dir: Path, k: int) -> dict[str, Any]:
    """Iteration k's metrics: read from its checkpoint when it is already finished, else run
    from iteration k - 1's checkpoint (which must exist) and checkpoint the result."""
    state = finished(out_dir, k, params)
    if state is None:
        if k == 0:
            state = initial(domain, params)
        else:
            previous = finished(out_dir, k - 1, params)
            if previous is None:
                raise FileNotFoundError(
                    f"{checkpoint_path(out_dir, k - 1)}: run iteration {k - 1} first"
                )
            state = iterate(previous, domain, params)
        state["fingerprint"] = fingerprint(params)
        save(state, checkpoint_path(out_dir, k))
    return state["metrics"][k]


def run(domain: str, params: SelfplayParams, out_dir: Path) -> list[dict[str, Any]]:
    """Iterations 0..params.iterations for one domain, resuming after the last finished one."""
    return [step(domain, params, out_dir, k) for k in range(params.iterations + 1)]
