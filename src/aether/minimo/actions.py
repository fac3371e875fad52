"""The action space of proof search. A goal is a target proposition under hypotheses; the
kernel enumerates the actions at a goal and prints each as text (the model reads and scores
them as text). An action leaves subgoals and knows how to build the goal's proof from theirs:

- intro       [('x : A) -> B]  becomes B with the hypothesis x : A
- apply       an axiom or hypothesis backward: its conclusion is matched with the target,
              premises found among the hypotheses are used, the others become subgoals
- have        forward: derive a new hypothesis from hypotheses (and_el, modus ponens, em)
- rewrite     with an equation (axiom or hypothesis), either direction, at one position
- exact / eq_refl / eval   close the goal
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice

from aether.minimo import terms as T
from aether.minimo.domain import Domain
from aether.minimo.kernel import KernelError, is_eq, match, open_binders
from aether.minimo.terms import Term


@dataclass(frozen=True)
class Goal:
    hyps: tuple[Term, ...]  # free variables, oldest first; their types live in the checker
    target: Term


@dataclass(frozen=True)
class Action:
    text: str
    subgoals: tuple[Goal, ...]
    build: Callable[[list[Term]], Term]  # the subgoals' proofs -> the goal's proof


@dataclass(frozen=True)
class _Rule:
    """An axiom or hypothesis opened for matching: premises with metavariables 0..n-1."""

    name: str
    head: Term
    doms: tuple[Term, ...]
    concl: Term
    meta_types: dict[int, Term]
    proof_premise: tuple[bool, ...]


class Prover:
    """Enumerates actions for the goals of one domain; its checker holds every hypothesis."""

    def __init__(
        self,
        domain: Domain,
        max_actions: int = 64,
        max_hyps_per_premise: int = 8,
        max_target_size: int = 40,
    ):
        self.domain = domain
        self.checker = domain.checker()
        self.max_actions = max_actions
        self.max_hyps = max_hyps_per_premise
        self.max_size = max_target_size
        self._texts: dict[Goal, str] = {}
        self._proof_hyp: dict[Term, bool] = {}
        self._rules: dict[tuple, _Rule] = {}
        self.rules = {n: self._rule(n, T.const(n), domain.signature[n]) for n in domain.usage}
        self._actions: dict[Goal, list[Action]] = {}

    def _rule(self, name: str, head: Term, ty: Term, limit: int | None = None) -> _Rule:
        rule = self._rules.get((head, limit))
        if rule is None:
            rule = self._rules[head, limit] = self._open(name, head, ty, limit)
        return rule

    def _open(self, name: str, head: Term, ty: Term, limit: int | None) -> _Rule:
        doms, concl, mtypes = open_binders(ty, limit)
        flags, probe, args = [], ty, []
        for _ in doms:  # classify premises on a copy opened with hypotheses, not metas
            flags.append(self.checker.is_prop(probe.dom))
            x = self.checker.fresh("_p", probe.dom)
            args.append(x)
            probe = T.nf(T.instantiate(probe.body, x))
        return _Rule(name, head, tuple(doms), concl, mtypes, tuple(flags))

    def root(self, statement: Term) -> Goal:
        return Goal((), T.nf(statement))

    def type_of(self, h: Term) -> Term:
        return self.checker.ctx[h]

    def goal_text(self, goal: Goal) -> str:
        """`h1 : T1, h2 : T2 |- target`: what the scorer reads."""
        text = self._texts.get(goal)
        if text is None:
            show = self.domain.show
            hyps = ", ".join(f"{h.name} : {show(self.type_of(h))}" for h in goal.hyps)
            text = f"{hyps} |- {show(goal.target)}" if hyps else f"|- {show(goal.target)}"
            self._texts[goal] = text
        return text

    def closed(self, goal: Goal, proof: Term | None = None) -> tuple[Term, Term | None]:
        """The goal as a closed statement [h1 -> ... -> target] and, given one, its proof."""
        stmt = goal.target
        for h in reversed(goal.hyps):
            ty = self.type_of(h)
            stmt = T.pi(h.name, ty, T.abstract(stmt, h))
            if proof is not None:
                proof = T.lam(h.name, ty, T.abstract(proof, h))
        return stmt, proof

    def actions(self, goal: Goal) -> list[Action]:
        acts = self._actions.get(goal)
        if acts is None:
            try:
                acts = list(islice(self._enumerate(goal), self.max_actions))
            except KernelError:
                acts = []
            self._actions[goal] = acts
        return acts

    def _enumerate(self, goal: Goal):
        target = goal.target
        show = self.domain.show
        seen: set[tuple] = set()

        def new(text: str, subgoals: tuple[Goal, ...], build) -> Action | None:
            key = tuple(g.target for g in subgoals) + tuple(
                self.type_of(h) for g in subgoals for h in g.hyps[len(goal.hyps) :]
            )
            if key in seen:
                return None
            seen.add(key)
            return Action(text, subgoals, build)

        for h in goal.hyps:
            if T.conv(self.type_of(h), target):
                yield Action(f"exact {h.name}", (), lambda _, h=h: h)
                return
        if is_eq(target):
            a, b = target.args
            if T.conv(a, b):
                yield Action("eq_refl", (), lambda _, a=a: T.app(T.const("eq_refl"), a))
                return
            if self.domain.eval_rules:
                va, vb = self.checker.evaluate(a), self.checker.evaluate(b)
                if va.sk is vb.sk and (va is not a or vb is not b):
                    yield Action("eval", (), lambda _, a=a, b=b: self._by_eval(a, b))
                    return
        if target.tag == T.PI:
            x = self.checker.fresh(target.hint, target.dom)
            body = T.nf(T.instantiate(target.body, x))
            sub = Goal((*goal.hyps, x), body)
            yield Action(
                f"intro {x.name} : {show(target.dom)}",
                (sub,),
                lambda ps, x=x, t=target: T.lam(t.hint, t.dom, T.abstract(ps[0], x)),
            )
        hyp_rules = [
            self._rule(h.name, h, self.type_of(h)) for h in goal.hyps if self.type_of(h).tag == T.PI
        ]
        for rule in [*(self.rules[n] for n in self.domain.axioms("backward")), *hyp_rules]:
            for act in self._backward(goal, rule):
                act = new(*act)
                if act:
                    yield act
        if target.tag == T.PI:
            return
        for act in self._rewrites(goal, hyp_rules):
            act = new(*act)
            if act:
                yield act
        for rule in [*(self.rules[n] for n in self.domain.axioms("forward")), *hyp_rules]:
            for act in self._forward(goal, rule):
                act = new(*act)
                if act:
                    yield act

    def _by_eval(self, a: Term, b: Term) -> Term:
        ev = T.const("eval")
        pa = T.app(ev, a)
        if self.checker.evaluate(a).sk is b.sk:
            return pa
        ty = self.checker.infer(a)
        motive = T.lam("'x", ty, T.app(T.EQ, a, T.bvar(0)))
        return T.app(T.const("rewrite"), T.app(T.const("eq_symm"), T.app(ev, b)), motive, pa)

    def _fill(
        self, goal: Goal, rule: _Rule, asg: dict[int, Term], todo: list[int], every: bool = False
    ):
        """Assign proof premises from the hypotheses that prove them (every way): those that
        still mention unknowns or, for forward use (`every`), all of them."""
        for k, i in enumerate(todo):
            dom = T.subst_metas(rule.doms[i], asg)
            if rule.proof_premise[i] and (dom.metas or every):
                n = 0
                for h in goal.hyps:
                    trial = dict(asg)
                    if self._is_proof(h) and match(dom, self.type_of(h), trial, rule.meta_types):
                        trial[i] = h
                        n += 1
                        rest = todo[:k] + todo[k + 1 :]
                        yield from self._fill(goal, rule, trial, rest, every)
                        if n >= self.max_hyps:
                            break
                return
        yield asg

    def _is_proof(self, h: Term) -> bool:
        """Is hypothesis h a proof (its type a prop), rather than an object such as n : nat?"""
        flag = self._proof_hyp.get(h)
        if flag is None:
            flag = self._proof_hyp[h] = self.checker.is_prop(self.type_of(h))
        return flag

    def _backward(self, goal: Goal, rule: _Rule):
        yield from self._backward_opened(goal, rule)
        if goal.target.tag == T.PI:  # the conclusion may itself be an arrow (induction)
            ty = (
                self.type_of(rule.head)
                if rule.head.tag == T.FVAR
                else self.domain.signature[rule.name]
            )
            for k in range(len(rule.doms) - 1, 0, -1):
                yield from self._backward_opened(goal, self._rule(rule.name, rule.head, ty, k))

    def _backward_opened(self, goal: Goal, rule: _Rule):
        asg: dict[int, Term] = {}
        if not match(rule.concl, goal.target, asg, rule.meta_types):
            return
        todo = [i for i in range(len(rule.doms)) if i not in asg]
        for full in self._fill(goal, rule, asg, todo):
            holes = [i for i in range(len(rule.doms)) if i not in full]
            if any(not rule.proof_premise[i] for i in holes):
                continue
            subs = [T.subst_metas(rule.doms[i], full) for i in holes]
            if any(s.metas for s in subs):
                continue
            used = [
                full[i].name
                for i in range(len(rule.doms))
                if i in full and full[i].tag == T.FVAR and rule.proof_premise[i]
            ]
            text = f"apply {rule.name}" + (f" using {', '.join(used)}" if used else "")

            def build(ps, full=full, holes=holes, rule=rule):
                vals = dict(full)
                vals.update(zip(holes, ps, strict=True))
                return T.app(rule.head, *(vals[i] for i in range(len(rule.doms))))

            yield text, tuple(Goal(goal.hyps, s) for s in subs), build

    def _forward(self, goal: Goal, rule: _Rule):
        if rule.concl.tag == T.PI or rule.concl is T.PROP:
            return
        n = len(rule.doms)
        premises = [i for i in range(n) if rule.proof_premise[i]]
        known = {T.nf(self.type_of(h)).sk for h in goal.hyps}
        for full in self._fill(goal, rule, {}, premises, every=True):
            if any(i not in full for i in premises):
                continue
            for inst in self._objects(goal, rule, full):
                fact_ty = T.subst_metas(rule.concl, inst)
                if fact_ty.metas or fact_ty.sk in known:
                    continue
                fact = T.app(rule.head, *(inst[i] for i in range(n)))
                x = self.checker.fresh("h", fact_ty)
                used = " ".join(
                    inst[i].name if inst[i].tag == T.FVAR else self.domain.show(inst[i])
                    for i in range(n)
                )
                text = f"have {self.domain.show(fact_ty)} by {rule.name} {used}".rstrip()

                def build(ps, x=x, ty=fact_ty, fact=fact):
                    return T.app(T.lam("h", ty, T.abstract(ps[0], x)), fact)

                yield text, (Goal((*goal.hyps, x), goal.target),), build

    def _objects(self, goal: Goal, rule: _Rule, asg: dict[int, Term]):
        """Instantiate the still-unknown object premises with hypotheses of their type."""
        missing = [i for i in range(len(rule.doms)) if i not in asg]
        if not missing:
            yield asg
            return
        if len(missing) > 1 or any(rule.proof_premise[i] for i in missing):
            return
        i = missing[0]
        dom = T.subst_metas(rule.doms[i], asg)
        for h in goal.hyps:
            if self.type_of(h).sk is dom.sk:
                yield {**asg, i: h}

    def _equations(self, goal: Goal, hyp_rules: list[_Rule]):
        for name in self.domain.axioms("rewrite"):
            yield self.rules[name]
        for h in goal.hyps:
            if is_eq(self.type_of(h)):
                yield self._rule(h.name, h, self.type_of(h))
        for rule in hyp_rules:
            if is_eq(rule.concl) and not any(rule.proof_premise):
                yield rule

    def _rewrites(self, goal: Goal, hyp_rules: list[_Rule]):
        target = goal.target
        positions = []  # the closed object-level subterms: what equations can rewrite
        for p, u, _ in T.subterms(target):
            if not u.loose and u.tag in (T.APP, T.FVAR, T.CONST):
                ty = self._type_or_none(u)
                if ty is not None and ty is not T.PROP and ty is not T.TYPE:
                    positions.append((p, u, ty))
        for rule in self._equations(goal, hyp_rules):
            lhs, rhs = rule.concl.args
            for rev, src, dst in ((False, lhs, rhs), (True, rhs, lhs)):
                for pos, u, ty in positions:
                    asg: dict[int, Term] = {}
                    if src.tag == T.META and rule.meta_types[src.name].sk is not ty.sk:
                        continue
                    if not match(src, u, asg):
                        continue
                    for inst in self._complete(goal, rule, asg, len(rule.doms)):
                        new = T.subst_metas(dst, inst)
                        if new.metas or new is u or target.size + new.size - u.size > self.max_size:
                            continue
                        sub_target = T.replace_at(
                            target, pos, lambda d, new=new: new
                        )  # stays normal
                        eq = T.app(rule.head, *(inst[i] for i in range(len(rule.doms))))
                        if not rev:
                            eq = T.app(T.const("eq_symm"), eq)

                        def build(ps, eq=eq, pos=pos, ty=ty):
                            motive = T.lam("'x", ty, T.replace_at(target, pos, T.bvar))
                            return T.app(T.const("rewrite"), eq, motive, ps[0])

                        arrow = "<-" if rev else "->"
                        show = self.domain.show
                        text = f"rewrite {rule.name} {arrow} at {pos}: {show(sub_target)}"
                        yield text, (Goal(goal.hyps, sub_target),), build

    def _complete(self, goal: Goal, rule: _Rule, asg: dict[int, Term], n: int):
        """Instantiate the one metavariable an equation's source side left open (as `a` in
        id = (op (inv a) a)) with the closed terms of the goal and its hypotheses."""
        missing = [i for i in range(n) if i not in asg]
        if not missing:
            yield asg
            return
        if len(missing) > 1:
            return
        i = missing[0]
        ty = T.subst_metas(rule.doms[i], asg)
        for cand in self._terms_of(goal, ty):
            yield {**asg, i: cand}

    def _terms_of(self, goal: Goal, ty: Term) -> list[Term]:
        out, seen = [], set()
        for h in goal.hyps:
            if self.type_of(h).sk is ty.sk and h not in seen:
                seen.add(h)
                out.append(h)
        for _, u, _ in T.subterms(goal.target):
            if (
                u.tag in (T.APP, T.CONST, T.FVAR)
                and not u.loose
                and u not in seen
                and u is not T.EQ
                and self._has_type(u, ty)
            ):
                seen.add(u)
                out.append(u)
        return out[: self.max_hyps]

    def _has_type(self, u: Term, ty: Term) -> bool:
        have = self._type_or_none(u)
        return have is not None and have.sk is ty.sk

    def _type_or_none(self, u: Term) -> Term | None:
        try:
            return self.checker.infer(u)
        except KernelError:
            return None
