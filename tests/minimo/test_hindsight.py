"""Hindsight relabeling: the solved goals of a failed search become standalone theorems."""

import numpy as np
import pytest

from aether.minimo.actions import Prover
from aether.minimo.conjecture import CompletionEngine
from aether.minimo.domain import load_domain
from aether.minimo.hindsight import (
    conjecture_tokens,
    examples,
    forward_facts,
    proof_goals,
    relabel,
    relabeled_goals,
    rewrite_chains,
    rewrite_facts,
)
from aether.minimo.search import (
    ActionNode,
    GoalNode,
    SearchResult,
    SearchTree,
    UniformScorer,
    prove,
)

STATEMENT = "[('A : prop) -> ('B : prop) -> 'A -> (and 'A 'B)]"  # false: B is not given


class TreeBuilder:
    """A search tree built by hand: each expansion enumerates the prover's actions at a goal
    and follows the one whose text starts with the choice."""

    def __init__(self, domain: str, statement: str):
        self.dom = load_domain(domain)
        self.prover = Prover(self.dom)
        self.stmt = self.dom.proposition(statement)
        self.goals = [GoalNode(self.prover.root(self.stmt), None, -1, 0)]
        self.actions: list[ActionNode] = []

    def expand(self, g: int, chosen: str) -> list[int]:
        node = self.goals[g]
        node.expanded, node.text, node.visits = True, self.prover.goal_text(node.goal), 1
        first, picked = len(self.actions), None
        for act in self.prover.actions(node.goal):
            subs = []
            for sub in act.subgoals:
                subs.append(len(self.goals))
                self.goals.append(GoalNode(sub, None, len(self.actions), node.depth + 1))
            if picked is None and act.text.startswith(chosen):
                picked = subs
                if not subs:
                    node.solved_by = len(self.actions)
            self.actions.append(ActionNode(act, g, subs))
        node.children = np.arange(first, len(self.actions))
        assert picked is not None, chosen
        return picked

    def result(self) -> SearchResult:
        n = len(self.actions)
        tree = SearchTree(
            self.goals, self.actions, np.full(n, 0.5), np.ones(n), np.zeros(n), self.prover
        )
        return SearchResult(self.stmt, False, None, len(self.goals), tree, self.prover)


def hand_built_tree() -> SearchResult:
    """intro A, intro B, intro h, apply and_i: the subgoal A is closed by `exact h`, the
    subgoal B stays open, so the root fails but one goal on the way was proved."""
    b = TreeBuilder("propositional_logic", STATEMENT)
    (g,) = b.expand(0, "intro")
    (g,) = b.expand(g, "intro")
    (g,) = b.expand(g, "intro")
    left, right = b.expand(g, "apply and_i")
    assert b.expand(left, "exact") == []
    b.expand(right, "apply exfalso")
    return b.result()


def rewrite_tree() -> SearchResult:
    """A failed rewrite chain in groups: the left side goes (a * 1) * 1 -> a * 1 -> 1 * (a * 1)
    -> back to a * 1 (a loop), the right side 1 * a -> a; nothing is solved."""
    b = TreeBuilder("groups", "[('a : G) -> (= (op (op 'a id) id) (op id 'a))]")
    (g,) = b.expand(0, "intro")
    (g,) = b.expand(g, "rewrite id_r -> at 2:")  # left: (op a id)
    (g,) = b.expand(g, "rewrite id_l -> at 6:")  # right: a
    (g,) = b.expand(g, "rewrite id_l <- at 2:")  # left: (op id (op a id))
    (g,) = b.expand(g, "rewrite id_l -> at 2:")  # left: back to (op a id)
    b.expand(g, "rewrite id_r <- at 2:")
    return b.result()


def test_relabeling_a_hand_built_tree_yields_the_expected_theorem():
    result = hand_built_tree()
    found = relabel(result)
    dom = load_domain("propositional_logic")
    # the unused hypothesis B is dropped, the used ones generalised into the statement
    assert [t.statement for t in found] == ["[('x0 : prop) -> 'x0 -> 'x0]"]
    for t in found:
        assert dom.check_proof(dom.proposition(t.statement), dom.parse(t.proof))
        assert t.logprob == np.log(0.5)  # one step, prior 1/2
    engine = CompletionEngine(dom, 4)
    assert conjecture_tokens(engine, dom.proposition(found[0].statement)) == (
        ["[", "(", "'x0", ":", "prop", ")", "->", "[", "'x0", "->", "'x0", "]", "]"]
    )


def test_hindsight_switch_decides_what_counts_as_success():
    result = hand_built_tree()
    _, values_on = examples(result, hindsight=True)
    _, values_off = examples(result, hindsight=False)
    assert [v for _, v in values_on].count(1) == 1  # the goal `A` closed by `exact h`
    assert [v for _, v in values_off].count(1) == 0  # the root failed: nothing counts
    assert relabel(result, limit=0) == []


def test_relabeled_theorems_from_a_real_search_are_closed_and_check():
    dom = load_domain("groups")
    result = prove("groups", "(= (inv id) id)", budget=60)
    found = relabel(result, limit=20)
    assert found
    assert len({t.statement for t in found}) == len(found)
    for t in found:
        assert dom.check_proof(dom.proposition(t.statement), dom.parse(t.proof))
        assert t.logprob <= 0


def test_policy_learns_the_relabeled_proofs_each_goal_once():
    # an unprovable conjecture: its tree is full of solved goals, few of them on the proofs
    # of the theorems relabeling keeps
    result = prove("propositional_logic", "[('A : prop) -> ('B : prop) -> (or 'A 'B)]", 300)
    tree = result.tree
    picks = relabeled_goals(result, limit=3)
    assert [t for _, t in picks] == relabel(result, limit=3)
    policy, values = examples(result, True, [i for i, _ in picks])
    on_proofs = {tree.goals[k].text for i, _ in picks for k in proof_goals(tree, i)}
    assert policy and {g for g, _, _ in policy} <= on_proofs
    assert len({g for g, _, _ in policy}) == len(policy)
    for goal, actions, target in policy:  # the action that solved it, among its actions
        node = next(g for g in tree.goals if g.text == goal)
        assert actions[target] == tree.actions[node.solved_by].action.text
    solved = sum(g.solved_by >= 0 and g.text is not None for g in tree.goals)
    assert len(policy) < solved and [v for _, v in values].count(1) == solved


def test_rewrite_chains_of_a_failed_search_become_kernel_checked_equations():
    result = rewrite_tree()
    assert relabel(result) == []  # no goal was solved: the first kind yields nothing
    dom = load_domain("groups")
    chains = rewrite_chains(result.tree)
    # one equation per side and distinct end point; the loop back to a * 1 adds none
    assert sorted(len(terms) for terms, _ in chains.values()) == [2, 2, 3]
    facts = rewrite_facts(result, UniformScorer())
    rewrites = {  # each statement, and the rewrites its proof takes before reflexivity
        "[('x0 : G) -> (= (op (op 'x0 id) id) (op 'x0 id))]": 1,
        "[('x0 : G) -> (= (op (op 'x0 id) id) (op id (op 'x0 id)))]": 2,
        "[('x0 : G) -> (= (op id 'x0) 'x0)]": 1,
    }
    assert sorted(f.theorem.statement for f in facts) == sorted(rewrites)
    for f in facts:
        assert dom.check_proof(dom.proposition(f.theorem.statement), dom.parse(f.theorem.proof))
        steps = rewrites[f.theorem.statement]
        assert [v for _, v in f.value] == [1] * (steps + 1)
        # the policy learns each rewrite of the replayed proof; reflexivity is the only
        # action at the last goal, so it teaches nothing
        assert len(f.policy) == steps
        for goal, actions, k in f.policy:
            assert goal in {g for g, _ in f.value} and actions[k].startswith("rewrite ")
        # difficulty: the replayed proof's log-probability under the scorer (uniform here)
        uniform = sum(np.log(1 / len(actions)) for _, actions, _ in f.policy)
        assert f.theorem.logprob == pytest.approx(uniform)
    assert rewrite_facts(result, UniformScorer(), limit=1) == facts[:1]
    assert rewrite_facts(result, UniformScorer(), limit=0) == []


def test_rewrite_facts_from_a_real_search_are_closed_distinct_and_check():
    dom = load_domain("groups")
    result = prove("groups", "[('a : G) -> ('b : G) -> (= (op (op 'a 'b) (inv 'b)) 'a)]", 150)
    facts = rewrite_facts(result, UniformScorer(), limit=6)
    assert len(facts) == 6
    assert len({f.theorem.statement for f in facts}) == 6
    for f in facts:
        stmt = dom.proposition(f.theorem.statement)
        assert not stmt.loose and dom.check_proof(stmt, dom.parse(f.theorem.proof))
        assert f.theorem.logprob < 0 and f.policy
    assert (
        rewrite_facts(result, UniformScorer(), limit=6) == facts
    )  # the sample is seeded by the conjecture


def test_rewrite_facts_simplify_and_cut_the_detours_of_the_chain():
    # the search grows the left side: a -> 1 * a -> 1 * (1 * a) -> (1 * 1) * a
    b = TreeBuilder("groups", "[('a : G) -> (= 'a (op 'a 'a))]")
    (g,) = b.expand(0, "intro")
    for choice in ["rewrite id_l <- at 2:", "rewrite id_l <- at 2:", "rewrite op_assoc <- at 2:"]:
        (g,) = b.expand(g, choice)
    b.expand(g, "rewrite id_l <- at 2:")  # its subgoal is never expanded: no fact
    result = b.result()
    assert max(len(terms) for terms, _ in rewrite_chains(result.tree).values()) == 4
    facts = {f.theorem.statement: f for f in rewrite_facts(result, UniformScorer())}
    # stated larger side first, proved by simplifying it; (1 * 1) * a reaches 1 * a in one
    # rewrite, so the proof skips 1 * (1 * a), which the search went through
    fact = facts["[('x0 : G) -> (= (op (op id id) 'x0) 'x0)]"]
    assert len(fact.policy) == 2
    assert all(actions[k].startswith("rewrite id_l -> ") for _, actions, k in fact.policy)
    dom = load_domain("groups")
    for f in facts.values():
        stmt = dom.proposition(f.theorem.statement)
        assert stmt.body.args[0].size > stmt.body.args[1].size
        assert dom.check_proof(stmt, dom.parse(f.theorem.proof))


def test_facts_derived_forward_become_theorems_solved_or_not():
    # intro A, intro B, intro h : A and B, have A by and_el: a branch the search went on to
    # search (by not_i) and never closed
    b = TreeBuilder(
        "propositional_logic", "[('A : prop) -> ('B : prop) -> (and 'A 'B) -> (not 'A)]"
    )
    (g,) = b.expand(0, "intro")
    (g,) = b.expand(g, "intro")
    (g,) = b.expand(g, "intro")
    (g,) = b.expand(g, "have")
    b.expand(g, "apply not_i")
    result = b.result()
    assert relabel(result) == []
    (fact,) = forward_facts(result, UniformScorer())
    dom = load_domain("propositional_logic")
    assert fact.theorem.statement == "[('x0 : prop) -> ('x1 : prop) -> (and 'x0 'x1) -> 'x0]"
    assert dom.check_proof(dom.proposition(fact.theorem.statement), dom.parse(fact.theorem.proof))
    # no rule closes `A` backward, so the proof is the same forward step, then `exact`
    ((goal, actions, k),) = fact.policy
    a = goal.split(" : ")[0]  # the name intro gave A
    assert goal.endswith(f"|- {a}") and actions[k].startswith(f"have {a} by and_el")
    assert fact.theorem.logprob == pytest.approx(np.log(1 / len(actions)))
    assert [v for _, v in fact.value] == [1, 1]
