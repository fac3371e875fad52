"""The surface syntax: a tokenizer, a parser that resolves names (binders, then hypotheses, then
the domain's constants) and reports errors with their position, and a printer whose output
parses back to the same term.

    [('n : nat) -> (= (+ z 'n) 'n)]      a dependent arrow, its binder used in the body
    [P -> Q]                             a non-dependent arrow
    (lambda ('x : P) x)                  a proof term
    3                                    a numeral, when the domain declares `#numerals`
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from aether.minimo import terms as T
from aether.minimo.terms import Term

_TOKEN = re.compile(r"\s*(?:(/\*.*?\*/)|([()\[\]])|([^\s()\[\]]+))", re.S)
BUILTINS = frozenset({"type", "prop", "=", "eq_refl", "eq_symm", "rewrite", "eval"})


class ParseError(ValueError):
    """A formula that does not parse or names something unknown; says where and how to fix."""


@dataclass(frozen=True)
class Token:
    text: str
    offset: int


def tokenize(text: str) -> list[Token]:
    out, i = [], 0
    while i < len(text):
        m = _TOKEN.match(text, i)
        if m is None or m.end() == i:
            break
        if m.group(2) or m.group(3):
            start = m.start(2) if m.group(2) else m.start(3)
            out.append(Token(m.group(2) or m.group(3), start))
        i = m.end()
    return out


def where(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"line {line}, column {col}"


@dataclass(frozen=True)
class Numerals:
    """Numerals n stand for (succ ... (succ zero)), n times."""

    zero: str
    succ: str


class _Parser:
    def __init__(self, text, constants, local, numerals):
        self.text, self.toks, self.i = text, tokenize(text), 0
        self.constants, self.local, self.numerals = constants, local, numerals

    def error(self, msg: str, tok: Token | None = None) -> ParseError:
        tok = tok or (self.toks[self.i] if self.i < len(self.toks) else None)
        at = where(self.text, tok.offset) if tok else "the end of the input"
        return ParseError(f"{msg} at {at} in {self.text.strip()!r}")

    def peek(self, k: int = 0) -> str | None:
        j = self.i + k
        return self.toks[j].text if j < len(self.toks) else None

    def take(self, expected: str | None = None) -> Token:
        if self.i >= len(self.toks):
            raise self.error(
                f"unexpected end of input{f', expected {expected!r}' if expected else ''}"
            )
        tok = self.toks[self.i]
        if expected is not None and tok.text != expected:
            raise self.error(f"expected {expected!r}, found {tok.text!r}")
        self.i += 1
        return tok

    def term(self, scope: list[str]) -> Term:
        tok = self.take()
        if tok.text == "(":
            if self.peek() == "lambda":
                self.take()
                self.take("(")
                name, dom = self.binder(scope)
                body = self.term([*scope, name])
                self.take(")")
                return T.lam(name, dom, body)
            if self.peek(1) == ":":
                raise self.error("a binder ('x : T) is only allowed inside [ ... -> ... ]", tok)
            head = self.term(scope)
            args = []
            while self.peek() != ")":
                if self.peek() is None:
                    raise self.error("unclosed '('", tok)
                args.append(self.term(scope))
            self.take(")")
            return T.app(head, *args)
        if tok.text == "[":
            return self.arrow(scope, tok)
        if tok.text in (")", "]", "->", ":"):
            raise self.error(f"unexpected {tok.text!r}", tok)
        return self.name(tok, scope)

    def binder(self, scope: list[str]) -> tuple[str, Term]:
        name = self.take()
        if name.text in "()[]:" or name.text == "->":
            raise self.error(f"expected a variable name, found {name.text!r}", name)
        self.take(":")
        dom = self.term(scope)
        self.take(")")
        return name.text, dom

    def arrow(self, scope: list[str], opener: Token) -> Term:
        pieces: list[tuple[str, Term]] = []
        inner = list(scope)
        while True:
            if self.peek() == "(" and self.peek(2) == ":":
                self.take("(")
                name, dom = self.binder(inner)
            else:
                name, dom = "", self.term(inner)
            pieces.append((name, dom))
            inner.append(name)
            nxt = self.peek()
            if nxt == "->":
                self.take()
                continue
            if nxt == "]":
                self.take()
                break
            raise self.error(
                "expected '->' or ']'" if nxt else "unclosed '['", None if nxt else opener
            )
        *binders, (last_name, result) = pieces
        if last_name:
            raise self.error("an arrow must end in a type, not a binder", opener)
        for name, dom in reversed(binders):
            result = T.pi(name, dom, result)
        return result

    def name(self, tok: Token, scope: list[str]) -> Term:
        s = tok.text
        for k in range(len(scope) - 1, -1, -1):
            if scope[k] == s:
                return T.bvar(len(scope) - 1 - k)
        if s in self.local:
            return self.local[s]
        if s.isdigit() and self.numerals:
            t = T.const(self.numerals.zero)
            for _ in range(int(s)):
                t = T.app(T.const(self.numerals.succ), t)
            return t
        if s == "type":
            return T.TYPE
        if s in self.constants or s in BUILTINS:
            return T.const(s)
        raise self.error(f"unknown constant {s!r} (declare it in the domain, or bind it)", tok)


def parse(
    text: str,
    constants: Collection[str] = (),
    local: Mapping[str, Term] | None = None,
    numerals: Numerals | None = None,
) -> Term:
    """Parse one term; names resolve to binders, then `local` hypotheses, then `constants`."""
    p = _Parser(text, constants, local or {}, numerals)
    if not p.toks:
        raise ParseError(f"empty formula {text!r}: write a term such as (= z z)")
    t = p.term([])
    if p.i != len(p.toks):
        raise p.error(f"trailing input {p.peek()!r} after a complete term")
    return t


def _numeral(t: Term, numerals: Numerals | None) -> int | None:
    if numerals is None:
        return None
    n = 0
    while t.tag == T.APP and len(t.args) == 1 and t.head.name == numerals.succ:
        n, t = n + 1, t.args[0]
    return n if t.tag == T.CONST and t.name == numerals.zero else None


_SHOWN: dict[tuple[Term, Numerals | None], str] = {}


def show(t: Term, numerals: Numerals | None = None) -> str:
    """The surface text of `t`; `parse(show(t))` gives `t` back (up to binder names).
    Memoised: a closed term prints the same wherever it occurs."""
    key = (t, numerals)
    text = _SHOWN.get(key)
    if text is None:
        text = _SHOWN[key] = _show(t, numerals)
    return text


def _show(t: Term, numerals: Numerals | None) -> str:
    taken: set[str] | None = None

    def fresh(hint: str, names: list[str]) -> str:
        nonlocal taken
        if taken is None:
            taken = {f.name for f in T.fvars(t)}
        base = hint if hint != "_" else "'x"
        name, k = base, 0
        while name in names or name in taken or name in BUILTINS:
            k += 1
            name = f"{base}{k}"
        return name

    def go(u: Term, names: list[str]) -> str:
        tag = u.tag
        if u is not t and not u.loose and tag in (T.APP, T.PI, T.LAM):
            return show(u, numerals)
        if tag == T.APP:
            n = _numeral(u, numerals)
            if n is not None:
                return str(n)
            return "(" + " ".join([go(u.head, names), *(go(a, names) for a in u.args)]) + ")"
        if tag == T.PI:
            parts, cur, inner = [], u, list(names)
            while cur.tag == T.PI:
                if T.uses_bvar(cur.body):
                    name = fresh(cur.hint, inner)
                    parts.append(f"({name} : {go(cur.dom, inner)})")
                else:
                    name = "_"
                    parts.append(go(cur.dom, inner))
                inner = [*inner, name]
                cur = cur.body
            parts.append(go(cur, inner))
            return "[" + " -> ".join(parts) + "]"
        if tag == T.LAM:
            name = fresh(u.hint, names)
            return f"(lambda ({name} : {go(u.dom, names)}) {go(u.body, [*names, name])})"
        if tag == T.BVAR:
            return names[len(names) - 1 - u.name]
        if tag == T.META:
            return f"?{u.name}"
        if tag == T.CONST:
            n = _numeral(u, numerals)
            return str(n) if n is not None else u.name
        return str(u.name)

    return go(t, [])
