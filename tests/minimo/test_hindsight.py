"""Hindsight relabeling: the solved goals of a failed search become standalone theorems."""

import numpy as np

from aether.minimo.actions import Prover
from aether.minimo.conjecture import CompletionEngine
from aether.minimo.domain import load_domain
from aether.minimo.hindsight import (
    conjecture_tokens,
    examples,
    proof_goals,
    relabel,
    relabeled_goals,
)
from aether.minimo.search import ActionNode, GoalNode, SearchResult, SearchTree, prove

STATEMENT = "[('A : prop) -> ('B : prop) -> 'A -> (and 'A 'B)]"  # false: B is not given


def hand_built_tree() -> SearchResult:
    """intro A, intro B, intro h, apply and_i: the subgoal A is closed by `exact h`, the
    subgoal B stays open, so the root fails but one goal on the way was proved."""
    dom = load_domain("propositional_logic")
    prover = Prover(dom)
    stmt = dom.proposition(STATEMENT)
    goals = [GoalNode(prover.root(stmt), None, -1, 0)]
    actions: list[ActionNode] = []

    def expand(g: int, chosen: str) -> list[int]:
        node = goals[g]
        node.expanded, node.text, node.visits = True, prover.goal_text(node.goal), 1
        first, picked = len(actions), []
        for act in prover.actions(node.goal):
            subs = []
            for sub in act.subgoals:
                subs.append(len(goals))
                goals.append(GoalNode(sub, None, len(actions), node.depth + 1))
            if act.text.startswith(chosen):
                picked = subs
                if not subs:
                    node.solved_by = len(actions)
            actions.append(ActionNode(act, g, subs))
        node.children = np.arange(first, len(actions))
        return picked

    (g,) = expand(0, "intro")
    (g,) = expand(g, "intro")
    (g,) = expand(g, "intro")
    left, right = expand(g, "apply and_i")
    assert expand(left, "exact") == []
    expand(right, "apply exfalso")
    n = len(actions)
    tree = SearchTree(goals, actions, np.full(n, 0.5), np.ones(n), np.zeros(n), prover)
    return SearchResult(stmt, False, None, 6, tree, prover)


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
