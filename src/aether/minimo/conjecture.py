"""Constrained conjecturing: a completion engine that, given a prefix of a conjecture's
tokens, returns exactly the next tokens that can still be completed into a well-formed,
well-typed proposition of the domain (grammar plus type-directed synthesis), and a sampler
that draws conjectures token by token from any next-token distribution masked by it.

The engine is a pushdown automaton over items "a term of type T in context Γ within depth d".
Only alternatives that can be completed within their depth are offered (`min_depth`, the
height of the shallowest term of a type), so sampling always terminates with a valid
conjecture, whatever the distribution: even a randomly initialised model yields only valid
statements. Ambiguous prefixes (after `[`, a `(` may open a binder or an application) are
tracked as a set of stacks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from aether.minimo import terms as T
from aether.minimo.domain import Domain
from aether.minimo.terms import Term

EOS = "<eos>"
_INF = 10**6

# A stack item: ("lit", token) or ("term", type, context, depth); context is a tuple of
# (variable name, type). Stacks are tuples with the next item last.
Item = tuple
Stack = tuple[Item, ...]


@dataclass(frozen=True)
class _Function:
    name: str
    args: tuple[Term, ...]
    result: Term


class CompletionEngine:
    """Valid next tokens for conjectures of one domain, at most `max_depth` deep."""

    def __init__(self, domain: Domain, max_depth: int = 4):
        self.domain, self.max_depth = domain, max_depth
        self.binder_types = list(domain.conjecture_types)
        checker = domain.checker()
        self.leaves: dict[Term, list[str]] = {}
        self.functions: list[_Function] = []
        for name, ty in domain.signature.items():
            if ty is T.TYPE or checker.is_prop(ty):
                continue  # types and axioms are not the terms conjectures are made of
            args, res = [], ty
            while res.tag == T.PI and not T.uses_bvar(res.body):
                args.append(res.dom)
                res = res.body
            if res.tag == T.PI:
                continue  # dependent functions are not offered
            if args:
                self.functions.append(_Function(name, tuple(args), res))
            else:
                self.leaves.setdefault(res, []).append(name)
        self.eq_types = [
            c for c in (T.const(n) for n, t in domain.signature.items() if t is T.TYPE)
        ]
        self.vocabulary = self._vocabulary()
        self._index = {tok: i for i, tok in enumerate(self.vocabulary)}

    def _vocabulary(self) -> list[str]:
        names = {n for names in self.leaves.values() for n in names}
        names |= {f.name for f in self.functions}
        names |= {self.domain.show(t) for t in self.binder_types}
        variables = [self._var(i) for i in range(self.max_depth + 1)]
        fixed = ["[", "]", "(", ")", "->", ":", *(["="] if self.eq_types else [])]
        return [EOS, *fixed, *sorted(names), *variables]

    @staticmethod
    def _var(i: int) -> str:
        return f"'x{i}"

    @cache  # noqa: B019 - one engine per domain, the cache lives as long as it
    def min_depth(self, ty: Term, ctx_types: frozenset) -> int:
        """Height of the shallowest term of type `ty` (0 for a constant or variable)."""
        return self._min_depths(ctx_types).get(ty, _INF)

    @cache  # noqa: B019
    def _min_depths(self, ctx_types: frozenset) -> dict[Term, int]:
        depth: dict[Term, int] = {t: 0 for t in self.leaves}
        for t in ctx_types:
            depth[t] = 0
        changed = True
        while changed:  # a fixpoint over the (few) types of the domain
            changed = False
            cands = [
                (f.result, 1 + max(depth.get(a, _INF) for a in f.args)) for f in self.functions
            ]
            if self.eq_types:
                cands.append((T.PROP, 1 + min(depth.get(t, _INF) for t in self.eq_types)))
            if self.binder_types:  # [('x : T) -> P]
                cands.append((T.PROP, 1 + depth.get(T.PROP, _INF)))
            for ty, d in cands:
                if d < depth.get(ty, _INF):
                    depth[ty], changed = d, True
        return depth

    def start(self, quantified: bool = False) -> frozenset[Stack]:
        """The empty prefix; `quantified` keeps only the alternatives that open with a
        quantifier over one of the domain's types (a statement about every object, as the
        domain's theorems are, rather than about its few constants)."""
        whole = ("term", T.PROP, (), self.max_depth)
        if not quantified:
            return frozenset({(whole,)})
        starts = frozenset(
            (*follow, ("lit", tok))
            for tok, follow in self._expand(whole)
            if tok == "[" and follow[-2] == ("lit", self._var(0))
        )
        if not starts:
            raise ValueError(f"{self.domain.name} has no quantifier within depth {self.max_depth}")
        return starts

    def _md(self, ty: Term, ctx: tuple) -> int:
        return self.min_depth(ty, frozenset(t for _, t in ctx))

    def _expand(self, item: Item) -> list[tuple[str, Stack]]:
        """(first token, items that follow it, next item last) for every alternative."""
        _, ty, ctx, d = item
        out: list[tuple[str, Stack]] = []
        for name in self.leaves.get(ty, []):
            out.append((name, ()))
        for name, vty in ctx:
            if vty is ty:
                out.append((name, ()))
        if d <= 0:
            return out
        for f in self.functions:
            if f.result is ty and all(self._md(a, ctx) <= d - 1 for a in f.args):
                items = [("lit", f.name), *(("term", a, ctx, d - 1) for a in f.args)]
                out.append(("(", (("lit", ")"), *reversed(items))))
        if ty is T.PROP:
            for et in self.eq_types:
                if self._md(et, ctx) <= d - 1:
                    items = [("lit", "="), ("term", et, ctx, d - 1), ("term", et, ctx, d - 1)]
                    out.append(("(", (("lit", ")"), *reversed(items))))
            for bt in self.binder_types:
                var = self._var(len(ctx))
                inner = (*ctx, (var, bt))
                if self._md(T.PROP, inner) <= d - 1:
                    items = [
                        ("lit", "("),
                        ("lit", var),
                        ("lit", ":"),
                        ("lit", self.domain.show(bt)),
                        ("lit", ")"),
                        ("lit", "->"),
                        ("term", T.PROP, inner, d - 1),
                    ]
                    out.append(("[", (("lit", "]"), *reversed(items))))
            if self._md(T.PROP, ctx) <= d - 1:
                items = [("term", T.PROP, ctx, d - 1), ("lit", "->"), ("term", T.PROP, ctx, d - 1)]
                out.append(("[", (("lit", "]"), *reversed(items))))
        return out

    def _step(self, stack: Stack) -> list[tuple[str, Stack]]:
        if not stack:
            return [(EOS, ())]
        top, rest = stack[-1], stack[:-1]
        if top[0] == "lit":
            return [(top[1], rest)]
        return [(tok, rest + follow) for tok, follow in self._expand(top)]

    def advance(self, states: frozenset[Stack], token: str) -> frozenset[Stack]:
        nxt = frozenset(s for st in states for tok, s in self._step(st) if tok == token)
        if not nxt:
            raise ValueError(
                f"token {token!r} cannot continue this conjecture; "
                f"valid: {sorted(self.valid(states))}"
            )
        return nxt

    def valid(self, states: frozenset[Stack]) -> set[str]:
        """The tokens that keep the prefix completable (EOS once it is a whole conjecture)."""
        return {tok for st in states for tok, _ in self._step(st)}

    def next_tokens(self, prefix: Sequence[str] | str) -> set[str]:
        """Valid next tokens after a prefix (tokens, or text split at token boundaries)."""
        from aether.minimo.syntax import tokenize

        toks = [t.text for t in tokenize(prefix)] if isinstance(prefix, str) else prefix
        states = self.start()
        for tok in toks:
            states = self.advance(states, tok)
        return self.valid(states)

    def mask(self, states: frozenset[Stack]) -> np.ndarray:
        m = np.zeros(len(self.vocabulary), dtype=bool)
        for tok in self.valid(states):
            m[self._index[tok]] = True
        return m


NextToken = Callable[[list[str]], np.ndarray]  # prefix -> logits over engine.vocabulary


def detokenize(tokens: Sequence[str]) -> str:
    out = []
    for i, tok in enumerate(tokens):
        if i and tok not in (")", "]") and tokens[i - 1] not in ("(", "["):
            out.append(" ")
        out.append(tok)
    return "".join(out)


def sample_conjecture(
    engine: CompletionEngine,
    logits: NextToken,
    rng: np.random.Generator,
    temperature: float = 1.0,
    quantified: bool = False,
) -> str:
    """Draw one conjecture: at each step the model's logits, masked to the valid tokens (and,
    with `quantified`, to statements that open with a quantifier)."""
    states, tokens = engine.start(quantified), []
    while True:
        mask = engine.mask(states)
        z = np.asarray(logits(tokens), dtype=float) / temperature
        z = np.where(mask, z, -np.inf)
        p = np.exp(z - z.max())
        tok = engine.vocabulary[rng.choice(len(p), p=p / p.sum())]
        if tok == EOS:
            return detokenize(tokens)
        tokens.append(tok)
        states = engine.advance(states, tok)


def vacuous(statement: Term, binder_types: list[Term]) -> bool:
    """Does the statement quantify over an object it never mentions ([('x0 : G) -> (= id id)]
    says nothing about 'x0)?"""
    todo = [statement]
    while todo:
        t = todo.pop()
        if t.tag == T.PI:
            if any(t.dom is b for b in binder_types) and not T.uses_bvar(t.body):
                return True
            todo += [t.dom, t.body]
        elif t.tag == T.APP:
            todo += [t.head, *t.args]
    return False


def uniform_logits(engine: CompletionEngine) -> NextToken:
    zeros = np.zeros(len(engine.vocabulary))
    return lambda prefix: zeros


def random_logits(engine: CompletionEngine, seed: int) -> NextToken:
    """A stand-in for a randomly initialised model: fixed random logits per (last token,
    length), so the distribution is arbitrary but reproducible."""
    rng = np.random.default_rng(seed)
    table = rng.normal(0, 2.0, size=(len(engine.vocabulary) + 1, 64, len(engine.vocabulary)))
    index = {tok: i for i, tok in enumerate(engine.vocabulary)}
    return lambda prefix: table[index[prefix[-1]] if prefix else -1, len(prefix) % 64]


def sample_conjectures(
    domain: Domain, n: int, seed: int, max_depth: int = 4, logits: NextToken | None = None
) -> list[str]:
    engine = CompletionEngine(domain, max_depth)
    logits = logits or uniform_logits(engine)
    rng = np.random.default_rng(seed)
    return [sample_conjecture(engine, logits, rng) for _ in range(n)]
