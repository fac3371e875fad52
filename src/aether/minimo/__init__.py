"""Minimo, part 1 (Poesia et al. 2024): a dependent type theory kernel, axiomatic domains,
proof search and constrained conjecturing.

    terms       interned, locally nameless terms; beta normal form; conversion
    syntax      parser (errors with positions) and printer of the surface syntax
    kernel      the trusted type checker, with equality (refl, symm, rewrite, eval) built in
    domain      domain files (domains/*.p) and evaluation sets (evalsets/*.p)
    actions     the action space: goals, and the actions at a goal printed as text
    search      MCTS with PUCT over AND/OR goal trees, pluggable scorer, tree export
    conjecture  the completion engine and the masked conjecture sampler

Every proof search finds is re-checked by a fresh kernel before it counts.
"""

from aether.minimo.actions import Action, Goal, Prover
from aether.minimo.conjecture import CompletionEngine, sample_conjecture, sample_conjectures
from aether.minimo.domain import (
    DOMAINS,
    Domain,
    DomainError,
    Theorem,
    load_domain,
    load_evalset,
    parse_domain,
)
from aether.minimo.kernel import Checker, KernelError
from aether.minimo.search import (
    MCTS,
    Outcome,
    Scorer,
    SearchResult,
    SearchTree,
    UniformScorer,
    prove,
    prove_many,
    search_outcome,
    verify_outcome,
)
from aether.minimo.syntax import ParseError

__all__ = [
    "DOMAINS",
    "MCTS",
    "Action",
    "Checker",
    "CompletionEngine",
    "Domain",
    "DomainError",
    "Goal",
    "KernelError",
    "Outcome",
    "ParseError",
    "Prover",
    "Scorer",
    "SearchResult",
    "SearchTree",
    "Theorem",
    "UniformScorer",
    "load_domain",
    "load_evalset",
    "parse_domain",
    "prove",
    "prove_many",
    "sample_conjecture",
    "sample_conjectures",
    "search_outcome",
    "verify_outcome",
]
