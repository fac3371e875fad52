"""Hindsight relabeling (Minimo's novelty): a search that fails on its conjecture still proves
things on the way, of three kinds.

- Every goal the search solved becomes a standalone theorem: its hypotheses are generalised
  into the statement (only those the proof or the target needs), its proof is the path the
  search found (beta-normalised, so `have` steps nobody used disappear).
- Every chain of rewrites the search walked from an equation established that each side of the
  equation equals what the chain rewrote it into, solved or not: `s = s'` is a theorem whose
  proof is the same rewrites of `s` followed by reflexivity. A failed search in groups solves
  almost no subgoals, so this is most of what it establishes. (Equations the evaluator closes
  at once, as most in arithmetic, teach nothing and are left out.)
- Every fact the search derived forward (a `have` step whose branch it went on to search),
  solved or not: the hypotheses it needs imply it (in propositional logic most of what a failed
  search establishes).

The kernel re-checks every pair before it counts. The same trees yield the prover's training
data; a derived fact's proof is replayed through the prover's own actions, so its policy
examples read exactly as a search of it would.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from aether.minimo import terms as T
from aether.minimo.actions import Action, Goal, Prover
from aether.minimo.conjecture import CompletionEngine
from aether.minimo.kernel import is_eq
from aether.minimo.search import Scorer, SearchResult, SearchTree
from aether.minimo.syntax import show
from aether.minimo.terms import Term


@dataclass(frozen=True)
class Relabeled:
    """A theorem found in hindsight: statement and proof as text, and the log-probability of
    its proof under the policy that found it (its difficulty)."""

    statement: str
    proof: str
    logprob: float


def proof_term(tree: SearchTree, i: int) -> Term:
    """The proof of solved goal `i`, built from the actions that solved its subtree."""
    act = tree.actions[tree.goals[i].solved_by]
    return act.action.build([proof_term(tree, k) for k in act.subgoals])


def proof_logprob(tree: SearchTree, i: int) -> float:
    """Sum of the log prior of every action on the proof of solved goal `i`."""
    a = tree.goals[i].solved_by
    own = math.log(max(float(tree.prior[a]), 1e-12))
    return own + sum(proof_logprob(tree, k) for k in tree.actions[a].subgoals)


def proof_goals(tree: SearchTree, i: int = 0) -> list[int]:
    """The solved goals on the proof of goal `i` (itself included)."""
    out, todo = [], [i]
    while todo:
        g = todo.pop()
        out.append(g)
        todo.extend(tree.actions[tree.goals[g].solved_by].subgoals)
    return out


def canonical(t: Term, depth: int = 0) -> Term:
    """Name binders as the conjecturer does ('x0, 'x1, ... by number of enclosing dependent
    binders), so a relabeled statement reads like a conjecture."""
    if t.tag == T.PI:
        if T.uses_bvar(t.body):
            return T.pi(f"'x{depth}", canonical(t.dom, depth), canonical(t.body, depth + 1))
        return T.pi(t.hint, canonical(t.dom, depth), canonical(t.body, depth))
    if t.tag == T.APP:
        return T.app(canonical(t.head, depth), *(canonical(a, depth) for a in t.args))
    return t


def standalone(result: SearchResult, goal: Goal, proof: Term) -> tuple[Term, Term]:
    """Generalise the hypotheses the target or proof mentions (and those their types mention)
    into a closed statement; drop the rest."""
    prover = result.prover
    need = T.fvars(goal.target) | T.fvars(proof)
    for h in reversed(goal.hyps):  # a later hypothesis's type may mention an earlier one
        if h in need:
            need |= T.fvars(prover.type_of(h))
    stmt = goal.target
    for h in reversed(goal.hyps):
        if h in need:
            ty = prover.type_of(h)
            stmt = T.pi(h.name, ty, T.abstract(stmt, h))
            proof = T.lam(h.name, ty, T.abstract(proof, h))
    return canonical(stmt), T.nf(proof)


def relabel(result: SearchResult, limit: int = 8) -> list[Relabeled]:
    """Up to `limit` kernel-checked standalone theorems from the solved goals of a search tree
    (the root excluded: it is the conjecture itself), hardest (least likely proof) first,
    one per distinct statement."""
    return [t for _, t in relabeled_goals(result, limit)]


def relabeled_goals(result: SearchResult, limit: int = 8) -> list[tuple[int, Relabeled]]:
    """`relabel`'s theorems with the index of the goal each was read off."""
    tree, domain = result.tree, result.prover.domain
    solved = [i for i, g in enumerate(tree.goals) if i > 0 and g.solved_by >= 0]
    solved.sort(key=lambda i: proof_logprob(tree, i))
    out, seen = [], {result.statement.sk}
    for i in solved:
        if len(out) >= limit:
            break
        stmt, proof = standalone(result, tree.goals[i].goal, proof_term(tree, i))
        if stmt.sk in seen or not domain.check_proof(stmt, proof):
            continue
        seen.add(stmt.sk)
        out.append((i, Relabeled(show(stmt), domain.show(proof), proof_logprob(tree, i))))
    return out


@dataclass(frozen=True)
class Fact:
    """A theorem the search established on the way (by a rewrite chain or a forward step), with
    the policy and value examples of its replayed proof (goal text, action texts, index of the
    action taken; goal text, 1)."""

    theorem: Relabeled
    policy: list[tuple[str, list[str], int]]
    value: list[tuple[str, int]]


def rewrite_chains(tree: SearchTree) -> dict[tuple, tuple[list[Term], float]]:
    """The equations every rewrite chain of the tree established, keyed by (hypotheses, side's
    first term, side's last term): the terms one side of the equation went through, loops cut,
    and the log prior of the steps kept. Of chains reaching the same equation the likeliest is
    kept (a fact is as hard as its easiest proof). Only goals the search expanded count."""
    out: dict[tuple, tuple[list[Term], float]] = {}
    for i, node in enumerate(tree.goals):
        if not node.expanded or not is_eq(node.goal.target):
            continue
        path, logps = [i], []  # goals from the chain's top down to `i`, and each step's prior
        while (a := tree.goals[path[-1]].parent) >= 0:
            act, up = tree.actions[a], tree.goals[tree.actions[a].parent]
            if not act.action.text.startswith("rewrite ") or up.goal.hyps != node.goal.hyps:
                break
            path.append(act.parent)
            logps.append(math.log(max(float(tree.prior[a]), 1e-12)))
        path.reverse()
        logps.reverse()
        for side in (0, 1):
            terms, kept = [tree.goals[path[0]].goal.target.args[side]], []
            for g, lp in zip(path[1:], logps, strict=True):
                t = tree.goals[g].goal.target.args[side]
                if t is terms[-1]:  # this step rewrote the other side
                    continue
                if t in terms:  # back where the chain was: cut the loop
                    m = terms.index(t)
                    del terms[m + 1 :], kept[m:]
                    continue
                terms.append(t)
                kept.append(lp)
            if len(terms) > 1:
                k = (node.goal.hyps, terms[0], terms[-1])
                if k not in out or sum(kept) > out[k][1]:
                    out[k] = (terms, sum(kept))
    return out


def replay(
    prover: Prover, hyps: tuple[Term, ...], terms: list[Term]
) -> tuple[Term, list[tuple[Goal, list[Action], int]]] | None:
    """Prove `terms[0] = terms[-1]` under `hyps` by rewriting the left side along `terms` with
    the prover's own actions and closing by reflexivity (or earlier, when the prover closes a
    goal on the way): the open proof and the steps (goal, its actions, the one taken). Each
    step jumps to the furthest term of the chain one rewrite reaches, so the detours of the
    search that walked the chain are cut out of the proof. None when no rewrite reaches the
    next term (the prover's size or count limits)."""
    end, steps, at = terms[-1], [], {t: j for j, t in enumerate(terms)}
    goal, i = Goal(hyps, T.app(T.EQ, terms[0], end)), 0
    while True:
        acts = prover.actions(goal)
        if acts and not acts[0].subgoals:  # a closing action is the goal's only action
            steps.append((goal, acts, 0))
            break
        reach = [
            (at.get(a.subgoals[0].target.args[0], -1), k)
            for k, a in enumerate(acts)
            if a.text.startswith("rewrite ") and a.subgoals[0].target.args[1] is end
        ]
        j, k = max(reach, default=(-1, -1))
        if j <= i:
            return None
        steps.append((goal, acts, k))
        goal, i = acts[k].subgoals[0], j
    return _proof(steps), steps


def _proof(steps: list[tuple[Goal, list[Action], int]]) -> Term:
    """The proof of the first goal of a path of one-subgoal steps ending in a closing one."""
    proof: Term | None = None
    for _, acts, k in reversed(steps):
        proof = acts[k].build([proof] if acts[k].subgoals else [])
    return proof


def rewrite_facts(result: SearchResult, scorer: Scorer, limit: int = 8) -> list[Fact]:
    """Up to `limit` kernel-checked standalone theorems from the tree's rewrite chains, one per
    distinct statement, none the conjecture itself. As Minimo samples its hindsight goals, the
    chains are taken in random order (seeded by the conjecture, so a run stays reproducible):
    ordering by difficulty would pick the longest detours of an untrained search. A fact is
    stated and proved in the simplifying direction, its larger side rewritten into its smaller
    (as rewrite systems orient equations): an untrained search's chains mostly grow terms, and
    teaching the policy to walk them forward would teach it to grow terms."""
    prover = result.prover
    out, seen = [], {result.statement.sk}
    for (hyps, _, _), (terms, _) in _shuffled(result, list(rewrite_chains(result.tree).items())):
        if len(out) >= limit:
            break
        if terms[-1].size > terms[0].size:  # proved by simplifying: the larger side rewritten
            terms = terms[::-1]
        replayed = replay(prover, hyps, terms)
        goal = Goal(hyps, T.app(T.EQ, terms[0], terms[-1]))
        fact = replayed and _fact(result, scorer, goal, *replayed, seen)
        if fact:
            out.append(fact)
    return out


def forward_facts(result: SearchResult, scorer: Scorer, limit: int = 8) -> list[Fact]:
    """Up to `limit` kernel-checked standalone theorems from the facts the search derived
    forward (`have` steps whose branch it went on to search), solved or not: the hypotheses
    the fact needs imply it. Sampled as `rewrite_facts` samples; each is proved as a search of
    it would: by a rule applied backward to the hypotheses, else by the same forward step
    closed by `exact`."""
    tree, prover = result.tree, result.prover
    walked = [
        a
        for a in tree.actions
        if a.action.text.startswith("have ") and tree.goals[a.subgoals[0]].expanded
    ]
    out, seen = [], {result.statement.sk}
    for a in _shuffled(result, walked):
        if len(out) >= limit:
            break
        x = a.action.subgoals[0].hyps[-1]  # the derived hypothesis
        goal = Goal(tree.goals[a.parent].goal.hyps, prover.type_of(x))
        acts = prover.actions(goal)
        k = next((k for k, b in enumerate(acts) if not b.subgoals), None)
        if k is not None:
            steps = [(goal, acts, k)]
        else:
            k = next((k for k, b in enumerate(acts) if b.text == a.action.text), None)
            if k is None:
                continue
            after = prover.actions(acts[k].subgoals[0])  # the fact is a hypothesis: `exact`
            steps = [(goal, acts, k), (acts[k].subgoals[0], after, 0)]
        fact = _fact(result, scorer, goal, _proof(steps), steps, seen)
        if fact:
            out.append(fact)
    return out


def _shuffled(result: SearchResult, items: list) -> list:
    rng = np.random.default_rng(zlib.crc32(show(result.statement).encode()))
    return [items[i] for i in rng.permutation(len(items))]


def _fact(
    result: SearchResult,
    scorer: Scorer,
    goal: Goal,
    proof: Term,
    steps: list[tuple[Goal, list[Action], int]],
    seen: set[Term],
) -> Fact | None:
    """The standalone theorem of `goal` with its replayed proof, its policy and value examples
    and its difficulty (the proof's log-probability under `scorer`, the policy that searched);
    None when it is already in `seen`, fails the kernel, or its proof makes no choice (then
    it teaches the policy nothing and would crowd out facts that do)."""
    prover, domain = result.prover, result.prover.domain
    texts = [prover.goal_text(g) for g, _, _ in steps]
    policy = [
        (text, [a.text for a in acts], k)
        for text, (_, acts, k) in zip(texts, steps, strict=True)
        if len(acts) > 1
    ]
    if not policy:
        return None
    stmt, proof = standalone(result, goal, proof)
    if stmt.sk in seen or not domain.check_proof(stmt, proof):
        return None
    seen.add(stmt.sk)
    logprob = 0.0
    for text, actions, k in policy:
        prior = np.asarray(scorer.policy(text, actions), dtype=float)
        logprob += math.log(max(prior[k] / prior.sum(), 1e-12))
    theorem = Relabeled(show(stmt), domain.show(proof), logprob)
    return Fact(theorem, policy, [(t, 1) for t in texts])


def conjecture_tokens(engine: CompletionEngine, statement: Term) -> list[str] | None:
    """The statement written in the conjecturer's tokens (binders as 'x0, 'x1, ..., one arrow
    per bracket, no numerals), or None when the completion engine would never emit it (too
    deep, or outside the conjecture grammar)."""
    try:
        tokens = _tokens(statement, [], set(engine.binder_types))
        states = engine.start()
        for tok in tokens:
            states = engine.advance(states, tok)
    except ValueError:
        return None
    return tokens if "<eos>" in engine.valid(states) else None


def _tokens(t: Term, names: list[str | None], binders: set[Term]) -> list[str]:
    if t.tag == T.PI:
        if T.uses_bvar(t.body) or t.dom in binders:  # a quantifier, even a vacuous one
            var = f"'x{sum(n is not None for n in names)}"
            head = ["(", var, ":", *_tokens(t.dom, names, binders), ")"]
            return ["[", *head, "->", *_tokens(t.body, [*names, var], binders), "]"]
        return [
            "[",
            *_tokens(t.dom, names, binders),
            "->",
            *_tokens(t.body, [*names, None], binders),
            "]",
        ]
    if t.tag == T.APP:
        return [
            "(",
            *_tokens(t.head, names, binders),
            *(u for a in t.args for u in _tokens(a, names, binders)),
            ")",
        ]
    if t.tag == T.BVAR and names[-1 - t.name] is not None:
        return [names[-1 - t.name]]
    if t.tag == T.CONST:
        return [t.name]
    raise ValueError(f"{t.tag} is not part of the conjecture grammar")


def examples(
    result: SearchResult, hindsight: bool, relabeled: Sequence[int] = (), max_negatives: int = 32
) -> tuple[list[tuple[str, list[str], int]], list[tuple[str, int]]]:
    """Policy examples (goal, actions, index of the action that solved it) and value examples
    (goal, proved?) from one search. Without hindsight only the proof of the root counts as
    success. With it, every goal the search solved is a value example, and the policy learns
    the proofs of the root and of the relabeled theorems (goal indices from `relabeled_goals`),
    each goal once: the many one-step closings every tree is full of (a `false` from two
    contradictory hypotheses) would otherwise be most of what the policy sees."""
    tree = result.tree
    proof = proof_goals(tree) if tree.goals[0].solved_by >= 0 else []
    if hindsight:
        good = [i for i, g in enumerate(tree.goals) if g.solved_by >= 0]
        taught = [*proof, *(k for i in relabeled for k in proof_goals(tree, i))]
    else:
        good = taught = proof
    policy, seen = [], set()
    for i in taught:
        g = tree.goals[i]
        kids = [int(a) for a in g.children]
        if len(kids) > 1 and g.text is not None and g.text not in seen:
            seen.add(g.text)
            texts = [tree.actions[a].action.text for a in kids]
            policy.append((g.text, texts, kids.index(g.solved_by)))
    good_set = set(good)
    values = [(tree.goals[i].text, 1) for i in good if tree.goals[i].text is not None]
    failed = [
        g.text
        for i, g in enumerate(tree.goals)
        if g.expanded and i not in good_set and g.solved_by < 0 and g.text is not None
    ]
    values += [(t, 0) for t in failed[:max_negatives]]
    return policy, values
