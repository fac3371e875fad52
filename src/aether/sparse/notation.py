"""Index notation: ``C(i,j) = A(i,k) * B(k,j)``, the compiler's input language.

An expression is a tree of tensor accesses joined by ``*`` (co-iterated as an intersection)
and ``+``/``-`` (a union). Index variables that appear on the right but not on the left are
summed over. ``parse`` reads the textual form; ``str`` prints it back.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass


class NotationError(ValueError):
    """An expression that cannot be parsed or is inconsistent (unknown tensor, bad indices)."""


@dataclass(frozen=True)
class Access:
    tensor: str
    indices: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.tensor}({','.join(self.indices)})"


@dataclass(frozen=True)
class Neg:
    operand: Expr

    def __str__(self) -> str:
        return f"-{_wrap(self.operand)}"


@dataclass(frozen=True)
class Add:
    left: Expr
    right: Expr

    def __str__(self) -> str:
        return f"{self.left} + {self.right}"


@dataclass(frozen=True)
class Mul:
    left: Expr
    right: Expr

    def __str__(self) -> str:
        return f"{_wrap(self.left)} * {_wrap(self.right)}"


Expr = Access | Neg | Add | Mul


def _wrap(e: Expr) -> str:
    return f"({e})" if isinstance(e, Add) else str(e)


@dataclass(frozen=True)
class Assignment:
    lhs: Access
    rhs: Expr

    def __str__(self) -> str:
        return f"{self.lhs} = {self.rhs}"

    def accesses(self) -> tuple[Access, ...]:
        return _accesses(self.rhs)

    def free(self) -> tuple[str, ...]:
        return self.lhs.indices

    def reduction(self) -> tuple[str, ...]:
        seen = dict.fromkeys(i for a in self.accesses() for i in a.indices)
        return tuple(i for i in seen if i not in self.lhs.indices)

    def variables(self) -> tuple[str, ...]:
        return self.free() + self.reduction()


def accesses(e: Expr):
    if isinstance(e, Access):
        yield e
    elif isinstance(e, Neg):
        yield from accesses(e.operand)
    else:
        yield from accesses(e.left)
        yield from accesses(e.right)


def product_factors(e: Expr) -> list[Access] | None:
    """The accesses of a pure product (no sums, no negation), or None."""
    if isinstance(e, Access):
        return [e]
    if isinstance(e, Mul):
        left, right = product_factors(e.left), product_factors(e.right)
        return None if left is None or right is None else left + right
    return None


def is_zero(e: Expr, absent: set[str]) -> bool:
    """Whether `e` is zero when the tensors in `absent` are zero here (the merge lattice)."""
    if isinstance(e, Access):
        return e.tensor in absent
    if isinstance(e, Neg):
        return is_zero(e.operand, absent)
    if isinstance(e, Mul):
        return is_zero(e.left, absent) or is_zero(e.right, absent)
    return is_zero(e.left, absent) and is_zero(e.right, absent)


@functools.lru_cache(maxsize=1024)
def _accesses(e: Expr) -> tuple[Access, ...]:
    """The accesses of an expression, memoized: the runtime asks on every call."""
    return tuple(accesses(e))


def variables(e: Expr) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i for acc in accesses(e) for i in acc.indices))


def split_reductions(a: Assignment) -> list[Assignment]:
    """Sum each reduction over the smallest subexpression that uses it (TACO's convention).

    ``C(i,j) = A(i,k) * B(k,j) + D(i,j)`` adds D once, not once per k: the product becomes a
    temporary ``T0(i,j)`` computed first. Returns the temporaries' assignments, then `a`'s.
    """
    temps: list[Assignment] = []

    def visit(e: Expr, outside: set[str]) -> Expr:
        if isinstance(e, Access):
            return e
        if isinstance(e, Neg):
            return Neg(visit(e.operand, outside))
        left_keep = outside | set(variables(e.right))
        right_keep = outside | set(variables(e.left))
        if isinstance(e, Mul):
            return Mul(visit(e.left, left_keep), visit(e.right, right_keep))
        parts = []
        for child, keep in ((e.left, left_keep), (e.right, right_keep)):
            child = visit(child, keep)
            if any(v not in keep for v in variables(child)):
                kept = tuple(v for v in variables(child) if v in keep)
                temp = Access(f"T{len(temps)}", kept)
                temps.append(Assignment(temp, child))
                child = temp
            parts.append(child)
        return Add(*parts)

    main = Assignment(a.lhs, visit(a.rhs, set(a.lhs.indices)))
    return [*temps, main]


_TOKEN = re.compile(r"\s*(?:([A-Za-z_]\w*)|(.))")


def parse(text: str) -> Assignment:
    """``"y(i) = A(i,j) * x(j)"`` -> Assignment; one error naming the problem otherwise."""
    tokens = [(m.group(1), m.group(2)) for m in _TOKEN.finditer(text) if m.group(0).strip()]
    parser = _Parser(tokens, text)
    lhs = parser.access()
    parser.expect("=")
    rhs = parser.sum()
    if parser.i != len(tokens):
        raise NotationError(f"unexpected {parser.peek()!r} in {text!r}")
    assignment = Assignment(lhs, rhs)
    check(assignment)
    return assignment


def check(a: Assignment) -> None:
    if len(set(a.lhs.indices)) != len(a.lhs.indices):
        raise NotationError(f"{a.lhs} repeats an index variable")
    rhs_vars = {i for acc in a.accesses() for i in acc.indices}
    missing = [i for i in a.lhs.indices if i not in rhs_vars]
    if missing:
        raise NotationError(f"{a}: output indices {missing} appear on no right-hand access")
    orders: dict[str, int] = {}
    for acc in a.accesses():
        if len(set(acc.indices)) != len(acc.indices):
            raise NotationError(f"{acc}: repeated indices (diagonals) are not supported")
        if orders.setdefault(acc.tensor, len(acc.indices)) != len(acc.indices):
            raise NotationError(f"{acc.tensor} is used with different orders in {a}")
    if a.lhs.tensor in orders:
        raise NotationError(f"{a.lhs.tensor} is both the output and an operand in {a}")


class _Parser:
    def __init__(self, tokens: list[tuple[str | None, str | None]], text: str) -> None:
        self.tokens, self.text, self.i = tokens, text, 0

    def peek(self) -> str | None:
        if self.i >= len(self.tokens):
            return None
        name, sym = self.tokens[self.i]
        return name or sym

    def take(self) -> str:
        tok = self.peek()
        if tok is None:
            raise NotationError(f"{self.text!r} ends too early")
        self.i += 1
        return tok

    def expect(self, sym: str) -> None:
        tok = self.take()
        if tok != sym:
            raise NotationError(f"expected {sym!r}, found {tok!r} in {self.text!r}")

    def name(self) -> str:
        tok = self.take()
        if not re.fullmatch(r"[A-Za-z_]\w*", tok):
            raise NotationError(f"expected a name, found {tok!r} in {self.text!r}")
        return tok

    def access(self) -> Access:
        tensor = self.name()
        self.expect("(")
        indices: list[str] = []
        while self.peek() != ")":
            indices.append(self.name())
            if self.peek() == ",":
                self.take()
        self.expect(")")
        return Access(tensor, tuple(indices))

    def sum(self) -> Expr:
        e = self.product()
        while self.peek() in ("+", "-"):
            op = self.take()
            right = self.product()
            e = Add(e, right if op == "+" else Neg(right))
        return e

    def product(self) -> Expr:
        e = self.factor()
        while self.peek() == "*":
            self.take()
            e = Mul(e, self.factor())
        return e

    def factor(self) -> Expr:
        if self.peek() == "-":
            self.take()
            return Neg(self.factor())
        if self.peek() == "(":
            self.take()
            e = self.sum()
            self.expect(")")
            return e
        return self.access()
