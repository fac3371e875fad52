"""Terms of the type theory: interned, locally nameless (bound variables are de Bruijn indices,
hypotheses are named free variables), so alpha-equivalent terms share one skeleton object and
conversion is a pointer comparison after beta normalisation."""

from __future__ import annotations

from collections.abc import Iterator

SORT, CONST, BVAR, FVAR, META, APP, PI, LAM = range(8)

_TABLE: dict[tuple, Term] = {}


class Term:
    """One interned node. `sk` is the same term without binder names (alpha-invariant)."""

    __slots__ = (
        "__weakref__",
        "args",
        "body",
        "dom",
        "head",
        "hint",
        "loose",
        "metas",
        "name",
        "size",
        "sk",
        "tag",
    )

    tag: int
    name: str | int | None
    head: Term | None
    args: tuple[Term, ...]
    dom: Term | None
    body: Term | None
    hint: str
    loose: int  # 1 + the largest loose de Bruijn index (0: locally closed)
    size: int  # number of nodes
    metas: bool
    sk: Term

    def __repr__(self) -> str:
        from aether.minimo.syntax import show

        return f"Term({show(self)})"


def _intern(tag: int, name, head, args, dom, body, hint: str) -> Term:
    key = (tag, name, head, args, dom, body, hint)
    t = _TABLE.get(key)
    if t is not None:
        return t
    t = Term()
    t.tag, t.name, t.head, t.args, t.dom, t.body, t.hint = tag, name, head, args, dom, body, hint
    t.size = 1
    if tag == BVAR:
        t.loose, t.metas = name + 1, False
    elif tag == APP:
        t.size = 1 + head.size + sum(a.size for a in args)
        t.loose = max(head.loose, *(a.loose for a in args))
        t.metas = head.metas or any(a.metas for a in args)
    elif tag in (PI, LAM):
        t.size = 1 + dom.size + body.size
        t.loose = max(dom.loose, body.loose - 1, 0)
        t.metas = dom.metas or body.metas
    else:
        t.loose, t.metas = 0, tag == META
    if hint:
        t.sk = _intern(tag, name, head, args, dom.sk, body.sk, "")
    elif tag == APP:
        sk_head, sk_args = head.sk, tuple(a.sk for a in args)
        same = sk_head is head and all(x is y for x, y in zip(sk_args, args, strict=True))
        t.sk = t if same else _intern(APP, None, sk_head, sk_args, None, None, "")
    elif tag in (PI, LAM) and (dom.sk is not dom or body.sk is not body):
        t.sk = _intern(tag, None, None, (), dom.sk, body.sk, "")
    else:
        t.sk = t
    return _TABLE.setdefault(key, t)  # atomic: threads racing to intern get one object


def sort(name: str = "type") -> Term:
    return _intern(SORT, name, None, (), None, None, "")


def const(name: str) -> Term:
    return _intern(CONST, name, None, (), None, None, "")


def bvar(i: int) -> Term:
    return _intern(BVAR, i, None, (), None, None, "")


def fvar(name: str) -> Term:
    return _intern(FVAR, name, None, (), None, None, "")


def meta(i: int) -> Term:
    return _intern(META, i, None, (), None, None, "")


def app(head: Term, *args: Term) -> Term:
    """Application, kept flat: (f a) b is (f a b)."""
    if not args:
        return head
    if head.tag == APP:
        return _intern(APP, None, head.head, head.args + args, None, None, "")
    return _intern(APP, None, head, tuple(args), None, None, "")


def pi(hint: str, dom: Term, body: Term) -> Term:
    """[(hint : dom) -> body]; `body` refers to the bound variable as bvar(0)."""
    return _intern(PI, None, None, (), dom, body, hint or "_")


def lam(hint: str, dom: Term, body: Term) -> Term:
    return _intern(LAM, None, None, (), dom, body, hint or "_")


TYPE = sort("type")
PROP = const("prop")
EQ = const("=")


def lift(t: Term, by: int, cutoff: int = 0) -> Term:
    """Shift loose de Bruijn indices >= cutoff by `by` (to move a term under binders)."""
    if t.loose <= cutoff or by == 0:
        return t
    if t.tag == BVAR:
        return bvar(t.name + by)
    if t.tag == APP:
        return app(lift(t.head, by, cutoff), *(lift(a, by, cutoff) for a in t.args))
    make = pi if t.tag == PI else lam
    return make(t.hint, lift(t.dom, by, cutoff), lift(t.body, by, cutoff + 1))


def instantiate(body: Term, value: Term, depth: int = 0) -> Term:
    """body[value / bvar(depth)], lowering the indices above it (beta's substitution)."""
    if body.loose <= depth:
        return body
    if body.tag == BVAR:
        if body.name == depth:
            return lift(value, depth)
        return bvar(body.name - 1) if body.name > depth else body
    if body.tag == APP:
        return app(
            instantiate(body.head, value, depth), *(instantiate(a, value, depth) for a in body.args)
        )
    make = pi if body.tag == PI else lam
    return make(
        body.hint, instantiate(body.dom, value, depth), instantiate(body.body, value, depth + 1)
    )


def abstract(t: Term, target: Term, depth: int = 0) -> Term:
    """Replace every occurrence of `target` (a locally closed term, usually an fvar) by
    bvar(depth): the inverse of `instantiate`, used to close a binder over a hypothesis."""
    if t is target:
        return bvar(depth)
    if t.tag == APP:
        return app(abstract(t.head, target, depth), *(abstract(a, target, depth) for a in t.args))
    if t.tag in (PI, LAM):
        make = pi if t.tag == PI else lam
        return make(t.hint, abstract(t.dom, target, depth), abstract(t.body, target, depth + 1))
    return t


_NF: dict[Term, Term] = {}


def nf(t: Term) -> Term:
    """Beta normal form (memoised: terms are interned)."""
    r = _NF.get(t)
    if r is not None:
        return r
    if t.tag == APP:
        head, args = nf(t.head), [nf(a) for a in t.args]
        while head.tag == LAM and args:
            head = nf(instantiate(head.body, args.pop(0)))
        r = app(head, *args)
    elif t.tag in (PI, LAM):
        r = (pi if t.tag == PI else lam)(t.hint, nf(t.dom), nf(t.body))
    else:
        r = t
    _NF[t] = r
    return r


def conv(a: Term, b: Term) -> bool:
    """Definitional equality: alpha-beta."""
    return a.sk is b.sk or nf(a).sk is nf(b).sk


def occurs(t: Term, x: Term) -> bool:
    if t is x:
        return True
    if t.tag == APP:
        return occurs(t.head, x) or any(occurs(a, x) for a in t.args)
    if t.tag in (PI, LAM):
        return occurs(t.dom, x) or occurs(t.body, x)
    return False


def uses_bvar(t: Term, i: int = 0) -> bool:
    """Does bvar(i) occur loose in `t` (is a binder's variable used in its body)?"""
    if t.loose <= i:
        return False
    if t.tag == BVAR:
        return t.name == i
    if t.tag == APP:
        return uses_bvar(t.head, i) or any(uses_bvar(a, i) for a in t.args)
    return uses_bvar(t.dom, i) or uses_bvar(t.body, i + 1)


def fvars(t: Term) -> set[Term]:
    out: set[Term] = set()
    stack = [t]
    while stack:
        u = stack.pop()
        if u.tag == FVAR:
            out.add(u)
        elif u.tag == APP:
            stack.append(u.head)
            stack.extend(u.args)
        elif u.tag in (PI, LAM):
            stack += [u.dom, u.body]
    return out


def subterms(t: Term, depth: int = 0) -> Iterator[tuple[int, Term, int]]:
    """(position, subterm, binder depth) in pre-order; positions number the nodes of `t`."""
    pos = 0
    stack = [(t, depth)]
    while stack:
        u, d = stack.pop()
        yield pos, u, d
        pos += 1
        if u.tag == APP:
            stack.extend((a, d) for a in reversed(u.args))
            stack.append((u.head, d))
        elif u.tag in (PI, LAM):
            stack += [(u.body, d + 1), (u.dom, d)]


def replace_at(t: Term, position: int, make) -> Term:
    """`t` with the subterm at pre-order `position` (as numbered by `subterms`) replaced by
    make(binder depth); walks one path, skipping whole subtrees by their size."""
    if position == 0:
        return make(0)
    return _replace(t, position, make, 0)


def _replace(u: Term, k: int, make, d: int) -> Term:
    if k == 0:
        return make(d)
    k -= 1
    if u.tag == APP:
        parts = [u.head, *u.args]
        for i, part in enumerate(parts):
            if k < part.size:
                parts[i] = _replace(part, k, make, d)
                return app(parts[0], *parts[1:])
            k -= part.size
    elif u.tag in (PI, LAM):
        make_b = pi if u.tag == PI else lam
        if k < u.dom.size:
            return make_b(u.hint, _replace(u.dom, k, make, d), u.body)
        return make_b(u.hint, u.dom, _replace(u.body, k - u.dom.size, make, d + 1))
    raise IndexError(f"position {k} is outside the term")


def subst_metas(t: Term, assignment: dict[int, Term]) -> Term:
    """Replace assigned metavariables (by values that are locally closed), then beta-normalise."""
    if not t.metas:
        return t

    def go(u: Term) -> Term:
        if not u.metas:
            return u
        if u.tag == META:
            return assignment.get(u.name, u)
        if u.tag == APP:
            return app(go(u.head), *(go(a) for a in u.args))
        return (pi if u.tag == PI else lam)(u.hint, go(u.dom), go(u.body))

    return nf(go(t))
