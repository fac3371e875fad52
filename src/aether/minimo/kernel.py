"""The trusted kernel: type inference and checking for the dependent type theory, with the
equality rules built in.

Judgements: `type` is the universe (it has no type); `prop : type`; a domain declares
constants (`nat : type`, `s : [nat -> nat]`) and axioms (constants whose type is a prop).
Arrows `[('x : A) -> B]` are props when B is a prop (impredicative), types otherwise. Proofs
are lambda terms. Equality is primitive:

    (= a b)           : prop           when a and b have the same type
    (eq_refl a)       : (= a a)
    (eq_symm e)       : (= b a)        when e : (= a b)
    (rewrite e M p)   : (M b)          when e : (= a b), M : [T -> prop], p : (M a)
    (eval a)          : (= a v)        v: a normalised by the domain's `#eval` equations

`eval` is sound because each of its steps is an instance of a declared equation. Search
never extends the kernel: every proof it finds is re-checked here from scratch.
"""

from __future__ import annotations

from itertools import count

from aether.minimo import terms as T
from aether.minimo.syntax import Numerals, show
from aether.minimo.terms import Term


class KernelError(TypeError):
    """An ill-typed term or a proof that does not prove its statement; `term` is the
    offending subterm, so callers holding the source text can point at it."""

    def __init__(self, message: str, term: Term | None = None):
        super().__init__(message)
        self.term = term


def match(
    pat: Term,
    term: Term,
    asg: dict[int, Term],
    meta_types: dict[int, Term] | None = None,
    depth: int = 0,
) -> bool:
    """One-sided higher-order pattern matching: extend `asg` so that pat[asg] == term (beta).

    `term` has no metavariables. A metavariable applied to distinct bound variables, as the
    motive (p n) of an induction axiom, is solved by abstracting them (Miller patterns)."""
    if not pat.metas:
        return pat.sk is term.sk
    tag = pat.tag
    if tag == T.META:
        if term.loose:
            return False
        known = asg.get(pat.name)
        if known is not None:
            return known.sk is term.sk
        asg[pat.name] = term
        return True
    if tag == T.APP and pat.head.tag == T.META:
        return _match_pattern(pat, term, asg, meta_types, depth)
    if tag != term.tag:
        return False
    if tag == T.APP:
        if len(pat.args) != len(term.args) or not match(
            pat.head, term.head, asg, meta_types, depth
        ):
            return False
        return all(
            match(p, t, asg, meta_types, depth) for p, t in zip(pat.args, term.args, strict=True)
        )
    return match(pat.dom, term.dom, asg, meta_types, depth) and match(
        pat.body, term.body, asg, meta_types, depth + 1
    )


def _match_pattern(pat, term, asg, meta_types, depth) -> bool:
    m, args = pat.head.name, pat.args
    known = asg.get(m)
    if known is not None:
        return T.nf(T.app(known, *args)).sk is term.sk
    idx = [a.name for a in args if a.tag == T.BVAR]
    if len(idx) != len(args) or len(set(idx)) != len(idx) or meta_types is None:
        return False
    k = len(idx)
    ok = [True]

    def remap(u: Term, e: int) -> Term:
        if u.loose <= e:
            return u
        if u.tag == T.BVAR:
            outer = u.name - e
            if outer in idx:
                return T.bvar(e + k - 1 - idx.index(outer))
            ok[0] = False
            return u
        if u.tag == T.APP:
            return T.app(remap(u.head, e), *(remap(a, e) for a in u.args))
        make = T.pi if u.tag == T.PI else T.lam
        return make(u.hint, remap(u.dom, e), remap(u.body, e + 1))

    body = remap(term, 0)
    if not ok[0]:
        return False
    ty, doms = meta_types.get(m), []
    while ty is not None and ty.tag == T.PI and len(doms) < k:
        doms.append(ty.dom)
        ty = ty.body
    if len(doms) != k or any(d.loose for d in doms):
        return False
    for d in reversed(doms):
        body = T.lam("'x", d, body)
    asg[m] = body
    return True


def open_binders(ty: Term, limit: int | None = None) -> tuple[list[Term], Term, dict[int, Term]]:
    """Open the leading binders of `ty` (at most `limit`) with metavariables 0, 1, ...:
    (binder types, conclusion, metavariable types)."""
    doms, types = [], {}
    i = 0
    while ty.tag == T.PI and (limit is None or i < limit):
        doms.append(ty.dom)
        types[i] = ty.dom
        ty = T.instantiate(ty.body, T.meta(i))
        i += 1
    return doms, ty, types


def is_eq(t: Term) -> bool:
    return t.tag == T.APP and t.head is T.EQ and len(t.args) == 2


class Checker:
    """Type inference in a context of hypotheses (free variables with their types).

    Results are memoised per term: terms are interned and hypotheses are never rebound, so a
    term's type cannot change while the checker lives."""

    def __init__(
        self,
        signature: dict[str, Term],
        eval_rules: list[tuple[Term, Term]] = (),
        numerals: Numerals | None = None,
    ):
        self.signature = signature
        self.eval_rules = list(eval_rules)
        self.numerals = numerals  # only for printing messages
        self.ctx: dict[Term, Term] = {}
        self.memo: dict[Term, Term] = {}
        self._ids = count()

    def fresh(self, hint: str, ty: Term) -> Term:
        """A new hypothesis of type `ty` (the type is not checked here; see `infer`)."""
        base = hint.lstrip("'").strip("_") or "h"
        x = T.fvar(f"{base}{next(self._ids)}")
        while x in self.ctx:
            x = T.fvar(f"{base}{next(self._ids)}")
        self.ctx[x] = ty
        return x

    def infer(self, t: Term) -> Term:
        """The type of `t`, beta-normal; KernelError when `t` is ill-typed."""
        r = self.memo.get(t)
        if r is None:
            r = T.nf(self._infer(t))
            self.memo[t] = r
        return r

    def sort_of(self, ty: Term, what: str = "a binder's type") -> Term:
        if ty is T.TYPE:
            raise KernelError(f"{what} cannot be the universe `type` itself")
        s = self.infer(ty)
        if s is not T.TYPE and s is not T.PROP:
            raise KernelError(f"{what} {self.show(ty)} is not a type or a proposition", ty)
        return s

    def is_prop(self, ty: Term) -> bool:
        return ty is not T.TYPE and self.infer(ty) is T.PROP

    def show(self, t: Term) -> str:
        return show(t, self.numerals)

    def _infer(self, t: Term) -> Term:
        tag = t.tag
        if tag == T.CONST:
            if t is T.PROP:
                return T.TYPE
            ty = self.signature.get(t.name)
            if ty is None:
                if t.name in _ARITY:
                    raise KernelError(f"{t.name} must be applied to {_ARITY[t.name]} argument(s)")
                raise KernelError(f"unknown constant {t.name!r}")
            return ty
        if tag == T.FVAR:
            ty = self.ctx.get(t)
            if ty is None:
                raise KernelError(f"unknown hypothesis {t.name!r}")
            return ty
        if tag == T.SORT:
            raise KernelError("`type` is the universe and has no type")
        if tag in (T.BVAR, T.META):
            raise KernelError(f"unexpected {'bound variable' if tag == T.BVAR else 'hole'}")
        if tag == T.PI:
            self.sort_of(t.dom)
            x = self.fresh(t.hint, t.dom)
            return self.sort_of(T.instantiate(t.body, x), "an arrow's result")
        if tag == T.LAM:
            self.sort_of(t.dom)
            x = self.fresh(t.hint, t.dom)
            body_ty = self.infer(T.instantiate(t.body, x))
            return T.pi(t.hint, t.dom, T.abstract(body_ty, x))
        head = t.head
        if head.tag == T.CONST and head.name in _ARITY:
            return self._builtin(head.name, t.args, t)
        fty = self.infer(head)
        for a in t.args:
            if fty.tag != T.PI:
                raise KernelError(f"{self.show(t)}: {self.show(head)} takes fewer arguments", t)
            aty = self.infer(a)
            if not T.conv(aty, fty.dom):
                raise KernelError(
                    f"{self.show(t)}: argument {self.show(a)} has type {self.show(aty)}, "
                    f"expected {self.show(fty.dom)}",
                    a,
                )
            fty = T.nf(T.instantiate(fty.body, a))
        return fty

    def _builtin(self, name: str, args: tuple[Term, ...], t: Term) -> Term:
        if len(args) != _ARITY[name]:
            raise KernelError(f"{self.show(t)}: {name} takes {_ARITY[name]} argument(s)", t)
        if name == "=":
            ta, tb = self.infer(args[0]), self.infer(args[1])
            if not T.conv(ta, tb):
                raise KernelError(
                    f"{self.show(t)}: the sides have different types {self.show(ta)} and "
                    f"{self.show(tb)}",
                    t,
                )
            if ta is T.TYPE or self.infer(ta) is not T.TYPE:
                raise KernelError(f"{self.show(t)}: only terms of a type can be equal", t)
            return T.PROP
        if name == "eq_refl":
            self.infer(T.app(T.EQ, args[0], args[0]))
            return T.app(T.EQ, args[0], args[0])
        if name == "eval":
            self.infer(T.app(T.EQ, args[0], args[0]))
            return T.app(T.EQ, args[0], self.evaluate(args[0]))
        eq = self.infer(args[0])
        if not is_eq(eq):
            raise KernelError(f"{self.show(t)}: {self.show(args[0])} is not an equation")
        lhs, rhs = eq.args
        if name == "eq_symm":
            return T.app(T.EQ, rhs, lhs)
        motive, proof = args[1], args[2]
        mty = self.infer(motive)
        if mty.tag != T.PI or not T.conv(mty.dom, self.infer(lhs)) or mty.body is not T.PROP:
            raise KernelError(f"{self.show(t)}: the motive {self.show(motive)} is not a predicate")
        want = T.nf(T.app(motive, lhs))
        have = self.infer(proof)
        if not T.conv(have, want):
            raise KernelError(
                f"{self.show(t)}: the proof proves {self.show(have)}, "
                f"rewrite needs {self.show(want)}"
            )
        return T.nf(T.app(motive, rhs))

    def evaluate(self, t: Term, budget: int = 100_000) -> Term:
        """Normalise `t` innermost-first with the `#eval` equations, left to right."""
        if not self.eval_rules:
            raise KernelError("eval: this domain declares no #eval equations")
        steps = [budget]

        def go(u: Term) -> Term:
            if u.tag != T.APP or u.loose:
                return u
            u = T.app(u.head, *(go(a) for a in u.args))
            for lhs, rhs in self.eval_rules:
                asg: dict[int, Term] = {}
                if match(lhs, u, asg):
                    steps[0] -= 1
                    if steps[0] < 0:
                        raise KernelError("eval did not terminate: check the #eval equations")
                    return go(T.subst_metas(rhs, asg))
            return u

        return go(t)


_ARITY = {"=": 2, "eq_refl": 1, "eq_symm": 1, "rewrite": 3, "eval": 1}
