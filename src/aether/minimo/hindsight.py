"""Hindsight relabeling (Minimo's novelty): a search that fails on its conjecture still proves
things on the way. Every goal the search solved becomes a standalone theorem: its hypotheses
are generalised into the statement (only those the proof or the target needs), its proof is
the path the search found (beta-normalised, so `have` steps nobody used disappear), and the
kernel re-checks the pair before it counts. The same trees yield the prover's training data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from aether.minimo import terms as T
from aether.minimo.actions import Goal
from aether.minimo.conjecture import CompletionEngine
from aether.minimo.search import SearchResult, SearchTree
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
