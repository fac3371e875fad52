"""Proof search: Monte Carlo tree search over goals with PUCT, AND-nodes for actions that
leave several subgoals, and a pluggable scorer (policy prior over the action texts, value of a
goal). The whole search tree is kept and exported: part 2's hindsight relabeling turns every
solved goal in it into a training example.

Goal (OR) nodes are solved by any solved child action; action (AND) nodes by all their
subgoals. The statistics of action nodes live in numpy arrays so that PUCT selection is one
vectorised expression per step. A found proof is re-checked by a fresh kernel before it counts.
"""

from __future__ import annotations

import math
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Protocol

import numpy as np

from aether.minimo.actions import Action, Goal, Prover
from aether.minimo.domain import Domain, load_domain
from aether.minimo.terms import Term


class Scorer(Protocol):
    """What guides search: part 2 plugs a language model in here."""

    def policy(self, goal: str, actions: list[str]) -> np.ndarray:
        """Prior probabilities of the actions (any non-negative weights; normalised here)."""

    def value(self, goal: str) -> float:
        """Estimated probability that the goal is provable, in [0, 1]."""


class UniformScorer:
    """The baseline before learning: every action equally likely, every goal a coin flip."""

    def policy(self, goal: str, actions: list[str]) -> np.ndarray:
        return np.full(len(actions), 1.0 / max(len(actions), 1))

    def value(self, goal: str) -> float:
        return 0.5


@dataclass
class GoalNode:
    goal: Goal
    text: str | None  # filled when expanded (printing every subgoal eagerly is the cost)
    parent: int  # action node, -1 for the root
    depth: int
    children: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    expanded: bool = False
    solved_by: int = -1  # the child action that solved it
    dead: bool = False
    visits: int = 0
    value: float = 0.0


@dataclass
class ActionNode:
    action: Action
    parent: int  # goal node
    subgoals: list[int]


@dataclass
class SearchTree:
    """Every goal and action the search visited, with visit counts, values and solved flags."""

    goals: list[GoalNode]
    actions: list[ActionNode]
    prior: np.ndarray
    visits: np.ndarray
    value_sum: np.ndarray
    prover: Prover

    def to_records(self) -> list[dict]:
        """A flat, picklable view: one record per node, children by index."""
        out = []
        for i, g in enumerate(self.goals):
            if g.text is None:
                g.text = self.prover.goal_text(g.goal)
            out.append(
                {
                    "id": f"g{i}",
                    "kind": "goal",
                    "text": g.text,
                    "parent": f"a{g.parent}" if g.parent >= 0 else None,
                    "visits": g.visits,
                    "value": g.value,
                    "solved": g.solved_by >= 0,
                }
            )
        for j, a in enumerate(self.actions):
            n = int(self.visits[j])
            out.append(
                {
                    "id": f"a{j}",
                    "kind": "action",
                    "text": a.action.text,
                    "parent": f"g{a.parent}",
                    "prior": float(self.prior[j]),
                    "visits": n,
                    "value": float(self.value_sum[j] / n) if n else 0.0,
                    "solved": self.goals[a.parent].solved_by == j,
                }
            )
        return out


@dataclass
class SearchResult:
    statement: Term
    proved: bool
    proof: Term | None
    expansions: int
    tree: SearchTree
    prover: Prover

    def proof_text(self) -> str | None:
        return None if self.proof is None else self.prover.domain.show(self.proof)

    def solved_goals(self) -> list[tuple[Term, Term]]:
        """(closed statement, checked proof) for every solved goal in the tree: the material of
        hindsight relabeling. Each pair is re-checked by the kernel."""
        out = []
        for i, g in enumerate(self.tree.goals):
            if g.solved_by >= 0:
                stmt, proof = self.prover.closed(g.goal, _extract(self.tree, i))
                if self.prover.domain.check_proof(stmt, proof):
                    out.append((stmt, proof))
        return out


def _extract(tree: SearchTree, i: int) -> Term:
    node = tree.goals[i]
    act = tree.actions[node.solved_by]
    return act.action.build([_extract(tree, k) for k in act.subgoals])


class MCTS:
    """PUCT search from one statement with a budget of goal expansions."""

    def __init__(
        self, prover: Prover, scorer: Scorer | None = None, c_puct: float = 1.5, max_depth: int = 24
    ):
        self.prover, self.scorer = prover, scorer or UniformScorer()
        self.c_puct, self.max_depth = c_puct, max_depth

    def search(self, statement: Term, budget: int) -> SearchResult:
        root = self.prover.root(statement)
        self.goals: list[GoalNode] = [GoalNode(root, None, -1, 0)]
        self.actions: list[ActionNode] = []
        self.prior, self.visits, self.wsum = (np.zeros(64) for _ in range(3))
        self.dead = np.zeros(64, dtype=bool)  # action nodes with a dead subgoal
        expansions = 0
        while expansions < budget and self.goals[0].solved_by < 0 and not self.goals[0].dead:
            path, leaf = self._select()
            if leaf is None:
                continue
            value = self._expand(leaf)
            expansions += 1
            for a in path:
                self.visits[a] += 1
                self.wsum[a] += value
        tree = SearchTree(
            self.goals,
            self.actions,
            self.prior[: len(self.actions)].copy(),
            self.visits[: len(self.actions)].copy(),
            self.wsum[: len(self.actions)].copy(),
            self.prover,
        )
        proof = None
        if self.goals[0].solved_by >= 0:
            candidate = _extract(tree, 0)
            if self.prover.domain.check_proof(statement, candidate):  # soundness first
                proof = candidate
        return SearchResult(statement, proof is not None, proof, expansions, tree, self.prover)

    def _select(self) -> tuple[list[int], int | None]:
        path, g = [], 0
        while True:
            node = self.goals[g]
            node.visits += 1
            if not node.expanded:
                return path, g
            idx = node.children[~self.dead[node.children]]
            if not len(idx):
                self._kill(g)
                return path, None
            n = self.visits[idx]
            q = np.where(n > 0, self.wsum[idx] / np.maximum(n, 1), 0.0)
            u = self.c_puct * self.prior[idx] * math.sqrt(node.visits) / (1.0 + n)
            a = int(idx[np.argmax(q + u)])
            path.append(a)
            act = self.actions[a]
            open_goals = [k for k in act.subgoals if self.goals[k].solved_by < 0]
            g = min(open_goals, key=lambda k: self.goals[k].visits)

    def _expand(self, g: int) -> float:
        node = self.goals[g]
        node.expanded = True
        node.text = self.prover.goal_text(node.goal)
        acts = self.prover.actions(node.goal) if node.depth < self.max_depth else []
        ancestors = self._ancestors(g)
        acts = [a for a in acts if not any(s in ancestors for s in a.subgoals)]
        if not acts:
            self._kill(g)
            return 0.0
        prior = np.asarray(self.scorer.policy(node.text, [a.text for a in acts]), dtype=float)
        prior = prior / prior.sum() if prior.sum() > 0 else np.full(len(acts), 1 / len(acts))
        first = len(self.actions)
        self._grow(first + len(acts))
        self.prior[first : first + len(acts)] = prior
        node.children = np.arange(first, first + len(acts), dtype=np.int64)
        for act in acts:
            subs = []
            for sub in act.subgoals:
                subs.append(len(self.goals))
                self.goals.append(GoalNode(sub, None, len(self.actions), node.depth + 1))
            self.actions.append(ActionNode(act, g, subs))
            if not subs:
                self._solve(g, len(self.actions) - 1)
        node.value = 1.0 if node.solved_by >= 0 else float(self.scorer.value(node.text))
        return node.value

    def _ancestors(self, g: int) -> set[Goal]:
        out = set()
        while g >= 0:
            out.add(self.goals[g].goal)
            a = self.goals[g].parent
            g = self.actions[a].parent if a >= 0 else -1
        return out

    def _grow(self, n: int) -> None:
        if n > len(self.prior):
            size = max(n, 2 * len(self.prior))
            self.prior, self.visits, self.wsum, self.dead = (
                np.concatenate([x, np.zeros(size - len(x), dtype=x.dtype)])
                for x in (self.prior, self.visits, self.wsum, self.dead)
            )

    def _solve(self, g: int, a: int) -> None:
        """Mark goal g solved by action a and propagate up through AND/OR nodes."""
        while g >= 0 and self.goals[g].solved_by < 0:
            self.goals[g].solved_by = a
            parent = self.goals[g].parent
            if parent < 0 or any(
                self.goals[k].solved_by < 0 for k in self.actions[parent].subgoals
            ):
                return
            g, a = self.actions[parent].parent, parent

    def _kill(self, g: int) -> None:
        """A goal with no live action is dead; an action with a dead subgoal is dead."""
        while g >= 0 and not self.goals[g].dead:
            self.goals[g].dead = True
            a = self.goals[g].parent
            if a < 0:
                return
            self.dead[a] = True
            g = self.actions[a].parent
            if not self.dead[self.goals[g].children].all():
                return


def prove(
    domain: Domain | str,
    statement: Term | str,
    budget: int = 1000,
    scorer: Scorer | None = None,
    prover: Prover | None = None,
) -> SearchResult:
    """Search for a proof of `statement` (text or term) in `domain` within `budget` expansions."""
    dom = load_domain(domain) if isinstance(domain, str) else domain
    prover = prover or Prover(dom)
    stmt = dom.proposition(statement) if isinstance(statement, str) else statement
    return MCTS(prover, scorer).search(stmt, budget)


@dataclass(frozen=True)
class Outcome:
    """A picklable summary of one search (terms are interned per process, so they travel as
    text and are re-parsed and re-checked on arrival)."""

    statement: str
    proved: bool
    proof: str | None
    expansions: int
    tree: list[dict]


def search_outcome(
    domain: str, statement: str, budget: int = 1000, scorer: Scorer | None = None
) -> Outcome:
    """One search as a picklable Outcome: the unit of work a process, a Prefect task or a Dask
    worker runs. Check it on arrival with `verify_outcome`."""
    r = prove(domain, statement, budget, scorer)
    return Outcome(statement, r.proved, r.proof_text(), r.expansions, r.tree.to_records())


def verify_outcome(domain: str, outcome: Outcome) -> Outcome:
    """Re-check a proof that crossed a process boundary with this process's kernel; a proof
    that does not check is dropped (the outcome then counts as unproved)."""
    if not outcome.proved:
        return outcome
    dom = load_domain(domain)
    if dom.check_proof(dom.proposition(outcome.statement), dom.parse(outcome.proof)):
        return outcome
    return Outcome(outcome.statement, False, None, outcome.expansions, outcome.tree)


def prove_many(
    domain: str,
    statements: list[str],
    budget: int = 1000,
    scorer: Scorer | None = None,
    workers: int = 1,
    executor: Executor | None = None,
) -> list[Outcome]:
    """Search every statement, in parallel across `workers` spawned processes (or on any
    `executor`, e.g. a Dask client's `get_executor()`); every proof is re-checked here."""
    if executor is not None:
        futures = [executor.submit(search_outcome, domain, s, budget, scorer) for s in statements]
        outs = [f.result() for f in futures]
    elif workers <= 1:
        outs = [search_outcome(domain, s, budget, scorer) for s in statements]
    else:
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(search_outcome, domain, s, budget, scorer) for s in statements]
            outs = [f.result() for f in futures]
    return [verify_outcome(domain, o) for o in outs]
