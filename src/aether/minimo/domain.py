"""Domains and evaluation sets: the project's own text files, loaded and type-checked.

A domain file (`domains/<name>.p`) is a list of statements, each ending with a `.` at the end
of a line:

    nat : type.                               a type
    s : [nat -> nat].                         a constant
    +_z : [('n : nat) -> (= (+ 'n z) 'n)].    an axiom: a constant whose type is a prop
    #backward nat_ind.                        how search may use an axiom: backward (goal-
    #forward and_el.                          directed), forward (derive a new hypothesis),
    #rewrite +_z.                             rewrite (an equation, either direction)
    #eval +_z +_s.                            equations `eval` normalises with, left to right
    #numerals z s.                            numerals: 2 is (s (s z))
    #conjecture nat.                          the types conjectures quantify over

An evaluation set (`evalsets/<domain>.p`) holds `theorem <name> : <prop>.` statements.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from aether.minimo import terms as T
from aether.minimo.kernel import Checker, KernelError, is_eq, open_binders
from aether.minimo.syntax import BUILTINS, Numerals, ParseError, parse, show, where
from aether.minimo.terms import Term

_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_END = re.compile(r"\.[ \t]*(?:\n|$)")
USAGES = ("forward", "backward", "rewrite")
DOMAINS = ("propositional_logic", "arithmetic", "groups", "abelian_groups")


class DomainError(ValueError):
    """A malformed domain or evaluation-set file; names the file, the line and the fix."""


@dataclass
class Domain:
    name: str
    signature: dict[str, Term] = field(default_factory=dict)
    usage: dict[str, set[str]] = field(default_factory=dict)
    numerals: Numerals | None = None
    eval_rules: list[tuple[Term, Term]] = field(default_factory=list)
    conjecture_types: list[Term] = field(default_factory=list)

    def checker(self) -> Checker:
        return Checker(self.signature, self.eval_rules, self.numerals)

    def parse(self, text: str, local: dict[str, Term] | None = None) -> Term:
        return parse(text, self.signature, local, self.numerals)

    def show(self, t: Term) -> str:
        return show(t, self.numerals)

    def axioms(self, usage: str) -> list[str]:
        return [n for n, u in self.usage.items() if usage in u]

    def proposition(self, text: str) -> Term:
        """Parse and type-check a closed statement; errors say what is wrong and where."""
        t = self.parse(text)
        try:
            ok = self.checker().is_prop(t)
        except KernelError as exc:
            at = text.find(self.show(exc.term)) if exc.term is not None else -1
            where_ = f" at {where(text, at)}" if at >= 0 else ""
            raise KernelError(f"{text!r} is ill-typed in {self.name}{where_}: {exc}") from None
        if not ok:
            raise KernelError(f"{text!r} is not a proposition in {self.name} (it is a term)")
        return t

    def check_proof(self, statement: Term, proof: Term) -> bool:
        """The kernel's independent verdict: does `proof` prove `statement`? A fresh checker,
        so nothing search computed is trusted."""
        checker = self.checker()
        try:
            if not checker.is_prop(statement):
                return False
            return T.conv(checker.infer(proof), statement)
        except KernelError:
            return False


def _statements(text: str, source: str):
    text = _COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), text)
    start = 0
    for m in _END.finditer(text):
        chunk = text[start : m.start()]
        if chunk.strip():
            line = text.count("\n", 0, start + len(chunk) - len(chunk.lstrip())) + 1
            yield line, chunk.strip()
        start = m.end()
    if text[start:].strip():
        line = text.count("\n", 0, start) + 1
        raise DomainError(f"{source} line {line}: statement does not end with '.'")


def parse_domain(text: str, name: str, source: str = "<domain>") -> Domain:
    dom = Domain(name)
    checker = dom.checker()
    for line, stmt in _statements(text, source):
        try:
            if stmt.startswith("#"):
                _directive(dom, checker, stmt)
                continue
            cname, sep, ty_text = stmt.partition(" : ")
            cname = cname.strip()
            if not sep or not cname or " " in cname:
                raise DomainError("expected `<name> : <type>.` or a #directive")
            if cname in BUILTINS:
                raise DomainError(f"{cname!r} is built in; choose another name")
            if cname in dom.signature:
                raise DomainError(f"{cname!r} is declared twice")
            ty = dom.parse(ty_text)
            if ty is not T.TYPE:
                checker.sort_of(ty, f"the type of {cname}")
            dom.signature[cname] = ty
        except (ParseError, KernelError, DomainError) as exc:
            raise DomainError(f"{source} line {line}: {exc}") from None
    return dom


def _directive(dom: Domain, checker: Checker, stmt: str) -> None:
    word, *names = stmt[1:].split()
    if word in USAGES:
        for n in names:
            ty = dom.signature.get(n)
            if ty is None:
                raise DomainError(f"#{word} {n}: declare {n} before its directive")
            if not checker.is_prop(ty):
                raise DomainError(f"#{word} {n}: {n} is not an axiom (its type is not a prop)")
            if word == "rewrite" and not is_eq(open_binders(ty)[1]):
                raise DomainError(f"#rewrite {n}: {n} does not conclude an equation")
            dom.usage.setdefault(n, set()).add(word)
    elif word == "eval":
        for n in names:
            if n not in dom.signature:
                raise DomainError(f"#eval {n}: unknown axiom")
            _eval_rule_ok(checker, n, dom.signature[n])
            _, concl, _ = open_binders(dom.signature[n])
            dom.eval_rules.append((concl.args[0], concl.args[1]))
    elif word == "numerals" and len(names) == 2:
        dom.numerals = Numerals(*names)
    elif word == "conjecture":
        dom.conjecture_types = [dom.parse(n) for n in names]
    else:
        raise DomainError(
            f"unknown directive #{word}; use #forward, #backward, #rewrite, "
            "#eval, #numerals <zero> <succ> or #conjecture <types>"
        )


def _eval_rule_ok(checker: Checker, name: str, ty: Term) -> None:
    """`eval` trusts its equations, so only unconditional ones that decide their right side:
    no proof premises, no variable on the right that the left does not bind."""
    if not checker.is_prop(ty):
        raise DomainError(f"#eval {name}: {name} is not an axiom")
    probe = ty
    while probe.tag == T.PI:
        if checker.is_prop(probe.dom):
            raise DomainError(
                f"#eval {name}: {name} has a premise; eval needs unconditional equations"
            )
        probe = T.nf(T.instantiate(probe.body, checker.fresh("_e", probe.dom)))
    _, concl, _ = open_binders(ty)
    if not is_eq(concl):
        raise DomainError(f"#eval {name}: {name} does not conclude an equation")
    lhs, rhs = concl.args
    if lhs.tag == T.META or not _metas(rhs) <= _metas(lhs):
        raise DomainError(f"#eval {name}: its left side must determine its right side")


def _metas(t: Term) -> set[int]:
    return {u.name for _, u, _ in T.subterms(t) if u.tag == T.META}


@cache
def load_domain(name: str) -> Domain:
    """A domain shipped with the package (`domains/<name>.p`)."""
    if name not in DOMAINS:
        raise DomainError(f"unknown domain {name!r}; available: {', '.join(DOMAINS)}")
    path = resources.files("aether.minimo") / "domains" / f"{name}.p"
    return parse_domain(path.read_text(), name, f"domains/{name}.p")


@dataclass(frozen=True)
class Theorem:
    name: str
    domain: str
    statement: Term
    text: str


_THEOREM = re.compile(r"theorem\s+(\S+)\s*:\s*(.*)", re.S)


def parse_evalset(text: str, domain: Domain, source: str = "<evalset>") -> list[Theorem]:
    out = []
    for line, stmt in _statements(text, source):
        m = _THEOREM.fullmatch(stmt)
        if m is None:
            raise DomainError(f"{source} line {line}: expected `theorem <name> : <prop>.`")
        try:
            statement = domain.proposition(m.group(2))
        except (ParseError, KernelError) as exc:
            raise DomainError(f"{source} line {line}: {exc}") from None
        out.append(Theorem(m.group(1), domain.name, statement, " ".join(m.group(2).split())))
    return out


@cache
def load_evalset(domain: str) -> tuple[Theorem, ...]:
    """The human-written theorems of a domain, each type-checked by the kernel on load."""
    dom = load_domain(domain)
    path = resources.files("aether.minimo") / "evalsets" / f"{domain}.p"
    return tuple(parse_evalset(path.read_text(), dom, f"evalsets/{domain}.p"))
