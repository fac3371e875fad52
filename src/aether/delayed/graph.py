"""The delayed-sampling graph (Murray et al. 2018, section 3), batched over particles.

Every particle runs the same program, so the graph's shape and each node's state are shared
by all particles; only the numbers differ, and they are arrays with a leading particle axis.
A node is initialized (I: its conditional distribution given its parent is known),
marginalized (M: its distribution given every observation so far is known) or realized
(R: it has a value). The marginalized nodes with a marginalized child form the M-path.

Ownership follows Birch: a parent holds its marginalized child strongly (the M-path), a
child holds its parent strongly only while initialized (it still needs the parent to
marginalize) and weakly after. A variable the program has dropped is then freed at once,
and its descendants stop conditioning it: nobody can read it any more.
"""

from __future__ import annotations

import contextvars
import copy
import enum
import functools
import weakref
from typing import Any

import numpy as np

from aether.delayed import distributions as D
from aether.delayed.conjugate import Conjugate
from aether.delayed.errors import ModelError

_CURRENT: contextvars.ContextVar[System] = contextvars.ContextVar("delayed_system")


class System:
    """The particles one program runs on: their number, random stream and log-weights.

    With `delay=False` every variable is sampled from its prior when first used (the
    bootstrap particle filter); the model code is the same either way.
    """

    def __init__(self, n: int, rng: np.random.Generator, delay: bool = True, groups: int = 1):
        if n < 1:
            raise ModelError(f"number of particles must be >= 1, got {n}")
        if n % groups:
            raise ModelError(f"{n} particles do not split into {groups} equal groups")
        self.n, self.rng, self.delay, self.groups = n, rng, delay, groups
        self.logw = np.zeros(n)

    def __enter__(self) -> System:
        self._token = _CURRENT.set(self)
        return self

    def __exit__(self, *exc) -> None:
        _CURRENT.reset(self._token)


def current() -> System:
    try:
        return _CURRENT.get()
    except LookupError:
        raise ModelError(
            "no particle system is active: run the model in a particle filter or inside "
            "`with System(n, rng):`"
        ) from None


class State(enum.Enum):
    INITIALIZED = "I"
    MARGINALIZED = "M"
    REALIZED = "R"


class Random:
    """Arithmetic on random variables: affine where a conjugacy can use it, else values."""

    def value(self) -> np.ndarray:
        raise NotImplementedError

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.value(), dtype=dtype)

    def _affine(self) -> Affine | None:
        return None

    def _scaled(self) -> Scaled | None:
        return None

    def __add__(self, b):
        e = self._affine()
        if e is None and isinstance(b, Random) and (eb := b._affine()) is not None:
            return eb.shift(self.value())  # keep the other operand symbolic
        return e.shift(b) if e is not None else self.value() + _v(b)

    def __radd__(self, b):
        return self.__add__(b)

    def __sub__(self, b):
        e = self._affine()
        return e.shift(-_v(b)) if e is not None else self.value() - _v(b)

    def __rsub__(self, b):
        e = self._affine()
        return e.times(-1.0).shift(b) if e is not None else _v(b) - self.value()

    def __neg__(self):
        e = self._affine()
        return e.times(-1.0) if e is not None else -self.value()

    def __mul__(self, b):
        e = self._affine() or self._scaled()
        if e is None and isinstance(b, Random) and (eb := b._affine() or b._scaled()) is not None:
            return eb.times(self.value())  # z * x with z Bernoulli: x stays symbolic
        return e.times(b) if e is not None else self.value() * _v(b)

    def __rmul__(self, b):
        return self.__mul__(b)

    def __truediv__(self, b):
        return self.__mul__(1.0 / _v(b))

    def __rtruediv__(self, b):
        return _v(b) / self.value()

    def __rmatmul__(self, M):
        e = self._affine()
        return e.map(M) if e is not None else (_v(M) @ self.value()[..., None])[..., 0]

    def __pow__(self, b):
        return self.value() ** _v(b)

    def __lt__(self, b):
        return self.value() < _v(b)

    def __gt__(self, b):
        return self.value() > _v(b)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """`ndarray * x` and `A @ x` stay affine; any other ufunc (`np.arctan(x)`) realizes x."""
        if method == "__call__" and not kwargs and len(inputs) == 2 and inputs[1] is self:
            if ufunc in _REFLECTED:
                return getattr(self, _REFLECTED[ufunc])(inputs[0])
            if ufunc is np.subtract:
                return self.__rsub__(inputs[0])
        return getattr(ufunc, method)(*(_v(x) for x in inputs), **kwargs)


_REFLECTED = {np.add: "__radd__", np.multiply: "__rmul__", np.matmul: "__rmatmul__"}


def _v(x):
    return x.value() if isinstance(x, Random) else x


class Node(Random):
    """A random variable: a vertex of the graph."""

    def __init__(
        self,
        family: type | None,
        prior: D.Distribution | None = None,
        parent: Node | None = None,
        conditional: Conjugate | None = None,
        scalar: bool = True,
    ):
        self.family, self.scalar = family, scalar
        self.prior, self.conditional = prior, conditional
        self._parent, self._parent_ref = parent, None
        self.child: Node | None = None
        self.marginal: D.Distribution | None = None
        self.realized: np.ndarray | None = None
        self.state = State.INITIALIZED

    @property
    def parent(self) -> Node | None:
        if self._parent is not None:
            return self._parent
        return self._parent_ref() if self._parent_ref is not None else None

    def value(self) -> np.ndarray:
        """The variable's value, sampling it now (after grafting) if it has none yet."""
        if self.state is not State.REALIZED:
            graft(self)
            realize(self)
        return self.realized

    def _affine(self):
        if self.family is D.Gaussian and self.state is not State.REALIZED:
            d = 1 if self.scalar else self.marginal_dim()
            e = Affine(self, _eye(d), np.zeros((current().n, d)), self.scalar)
            e.identity = True
            return e
        return None

    def _scaled(self):
        if self.family in (D.Gamma, D.InverseGamma) and self.state is not State.REALIZED:
            return Scaled(self, np.ones(current().n))
        return None

    def marginal_dim(self) -> int:
        dist = self.marginal or self.prior
        if dist is not None:
            return dist.mean.shape[-1]
        return self.conditional.c.shape[-1]

    def __repr__(self) -> str:
        return f"Node({getattr(self.family, '__name__', None)}, {self.state.value})"


@functools.cache
def _eye(d: int) -> np.ndarray:
    eye = np.eye(d)
    eye.flags.writeable = False
    return eye


class Affine(Random):
    """A x + c over a Gaussian node x: A is (k, d) shared or (N, k, d) per particle, c (N, k)."""

    identity = False  # A = I and c = 0: the node itself, so a map needs no products

    def __init__(self, node: Node, A: np.ndarray, c: np.ndarray, scalar: bool):
        self.node, self.A, self.c, self.scalar = node, A, c, scalar

    def _affine(self):
        return self

    def value(self):
        x = self.node.value()
        x = x[:, None] if x.ndim == 1 else x
        out = (self.A @ x[..., None])[..., 0] + self.c
        return out[:, 0] if self.scalar else out

    def shift(self, b) -> Affine:
        b = D.batch(_v(b), len(self.c), () if self.scalar else self.c.shape[1:], "offset")
        return Affine(self.node, self.A, self.c + (b[:, None] if self.scalar else b), self.scalar)

    def times(self, b) -> Affine:
        b = np.asarray(_v(b), dtype=float)
        if b.ndim == 0:
            return Affine(self.node, self.A * b, self.c * b, self.scalar)
        b = D.batch(b, len(self.c), (), "coefficient")
        return Affine(self.node, self.A * b[:, None, None], self.c * b[:, None], self.scalar)

    def map(self, M) -> Affine:
        M = np.asarray(_v(M), dtype=float)
        scalar = M.ndim == 1  # a row vector: a dot product; (k, d) or (N, k, d): a matrix
        M = M[None, :] if scalar else M
        if M.shape[-1] != self.A.shape[-2]:
            raise ModelError(
                f"matrix of shape {M.shape} cannot multiply a vector of length {self.A.shape[-2]}"
            )
        if self.identity:
            return Affine(self.node, M, np.zeros((len(self.c), M.shape[-2])), scalar)
        c = self.c @ M.T if M.ndim == 2 else (M @ self.c[..., None])[..., 0]
        return Affine(self.node, M @ self.A, c, scalar)

    def take(self, idx, memo) -> Affine:
        A = self.A[idx] if self.A.ndim == 3 else self.A
        return Affine(_copy(self.node, idx, memo), A, self.c[idx], self.scalar)


class Scaled(Random):
    """a * x over a gamma (a rate) or inverse-gamma (a variance) node x, a > 0."""

    def __init__(self, node: Node, a: np.ndarray):
        self.node, self.a = node, a

    def _scaled(self):
        return self

    def value(self):
        return self.a * self.node.value()

    def times(self, b) -> Scaled:
        b = D.batch(_v(b), len(self.a), (), "scale")
        if not (b > 0).all():
            return self.value() * b
        return Scaled(self.node, self.a * b)

    def take(self, idx, memo) -> Scaled:
        return Scaled(_copy(self.node, idx, memo), self.a[idx])


def make_node(
    family: type | None,
    *,
    prior: D.Distribution | None = None,
    parent: Node | None = None,
    conditional: Conjugate | None = None,
    scalar: bool = True,
) -> Node:
    """A new initialized node; without delayed sampling its parent is realized first."""
    if parent is not None and (parent.state is State.REALIZED or not current().delay):
        prior, parent, conditional = conditional.given(parent.value()), None, None
    return Node(family, prior=prior, parent=parent, conditional=conditional, scalar=scalar)


# The operations on the graph, as the paper defines them.


def graft(v: Node) -> None:
    """Make v the terminal node of an M-path: marginalize it (and its ancestors) or prune."""
    if v.state is State.MARGINALIZED:
        if v.child is not None:
            prune(v.child)
    elif v.state is State.INITIALIZED:
        if v.parent is not None:
            graft(v.parent)
        marginalize(v)


def marginalize(v: Node) -> None:
    """I -> M: the parent is marginalized and terminal, or realized, or absent."""
    p = v.parent
    if p is None:
        v.marginal = v.prior
    elif p.state is State.REALIZED:
        v.marginal, v._parent, v.conditional = v.conditional.given(p.realized), None, None
    else:
        v.marginal = v.conditional.marginal(p.marginal)
        p.child = v
        v._parent, v._parent_ref = None, weakref.ref(p)
    v.prior = None
    v.state = State.MARGINALIZED


def prune(v: Node) -> None:
    """Realize v and, first, the rest of the M-path below it."""
    if v.child is not None:
        prune(v.child)
    realize(v)


def realize(v: Node, x: np.ndarray | None = None) -> np.ndarray | None:
    """M -> R by sampling (x None) or by conditioning on x; then condition the parent on it.

    Returns the log-likelihood of x under v's marginal when x is given.
    """
    if v.state is not State.MARGINALIZED or v.child is not None:
        raise ModelError(f"{v} must be a terminal marginalized node to realize; graft it first")
    loglik = None
    if x is None:
        x = v.marginal.simulate(current().rng)
    else:
        x = np.array(v.marginal.check(x))
        loglik = v.marginal.logpdf(x)
    v.realized, v.state = x, State.REALIZED
    p = v.parent
    if p is not None and p.child is v:
        p.marginal = v.conditional.update(p.marginal, x)
        p.child = None
        if isinstance(p.marginal, D.NormalInverseGamma):
            _joint(p)
    v.marginal = v.conditional = v._parent = v._parent_ref = None
    return loglik


def _joint(mu: Node) -> None:
    """mu's law is a NormalInverseGamma, joint with its parent s2: a child of both updated it,
    so s2's marginal and the s2 -> mu edge take the new (mean, lam, alpha, beta) too."""
    from aether.delayed.conjugate import InverseGammaGaussian

    s2, law = mu.parent, mu.marginal
    s2.marginal = D.InverseGamma(law.alpha, law.beta)
    mu.conditional = InverseGammaGaussian(law.mean, 1 / law.lam)


def condition(v: Node, x) -> np.ndarray:
    """Observe v = x: graft, realize at x, and return the log-likelihood per particle."""
    if v.state is State.REALIZED:
        raise ModelError(f"{v} is already realized; observe a variable before using its value")
    graft(v)
    return realize(v, x)


# Resampling: copy the live graph, selecting particles.


def _copy(v: Node, idx: np.ndarray, memo: dict) -> Node:
    if id(v) in memo:
        return memo[id(v)][1]
    w = Node.__new__(Node)  # a shallow copy, without copy.copy's generic protocol
    w.__dict__.update(v.__dict__)
    memo[id(v)] = (v, w)
    for key in ("prior", "conditional", "marginal"):
        dist = getattr(v, key)
        setattr(w, key, None if dist is None else dist.take(idx))
    w.realized = None if v.realized is None else v.realized[idx]
    w.child = None if v.child is None else _copy(v.child, idx, memo)
    w._parent = None if v._parent is None else _copy(v._parent, idx, memo)
    return w


def take(state: Any, idx: np.ndarray) -> Any:
    """`state` with particles `idx`: every array's first axis and every reachable node.

    The original is left untouched (the alive filter proposes from it more than once).
    Arrays in a state are per particle; put constants elsewhere (on the model).
    """
    memo: dict[int, tuple[Node, Node]] = {}

    def walk(x):
        if isinstance(x, Node):
            return _copy(x, idx, memo)
        if isinstance(x, (Affine, Scaled)):
            return x.take(idx, memo)
        if isinstance(x, np.ndarray) and x.ndim >= 1:
            return x[idx]
        if isinstance(x, dict):
            return {k: walk(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return type(x)(walk(v) for v in x)
        return x

    out = walk(state)
    for old, new in list(memo.values()):
        p = old._parent_ref() if old._parent_ref is not None else None
        new._parent_ref = weakref.ref(memo[id(p)][1]) if p is not None and id(p) in memo else None
    return out


def concat(states: list[Any]) -> Any:
    """Particle systems run by the same program, joined along the particle axis.

    Their graphs have the same shape, so nodes correspond by position and are merged.
    """
    memo: dict[int, tuple[list[Node], Node]] = {}

    def node(vs: list[Node]) -> Node:
        if id(vs[0]) in memo:
            return memo[id(vs[0])][1]
        w = copy.copy(vs[0])
        memo[id(vs[0])] = (vs, w)
        for key in ("prior", "conditional", "marginal"):
            dist = getattr(vs[0], key)
            rest = [getattr(v, key) for v in vs[1:]]
            setattr(w, key, None if dist is None else dist.concat(rest))
        if vs[0].realized is not None:
            w.realized = np.concatenate([v.realized for v in vs])
        w.child = None if vs[0].child is None else node([v.child for v in vs])
        w._parent = None if vs[0]._parent is None else node([v._parent for v in vs])
        return w

    def walk(xs: list):
        x = xs[0]
        if isinstance(x, Node):
            return node(xs)
        if isinstance(x, Affine):
            k, d = x.A.shape[-2:]
            A = np.concatenate([np.broadcast_to(e.A, (len(e.c), k, d)) for e in xs])
            c = np.concatenate([e.c for e in xs])
            return Affine(node([e.node for e in xs]), A, c, x.scalar)
        if isinstance(x, Scaled):
            return Scaled(node([e.node for e in xs]), np.concatenate([e.a for e in xs]))
        if isinstance(x, np.ndarray) and x.ndim >= 1:
            return np.concatenate(xs)
        if isinstance(x, dict):
            return {k: walk([e[k] for e in xs]) for k in x}
        if isinstance(x, (list, tuple)):
            return type(x)(walk(list(es)) for es in zip(*xs, strict=True))
        return x

    out = walk(states)
    for vs, new in list(memo.values()):
        p = vs[0]._parent_ref() if vs[0]._parent_ref is not None else None
        new._parent_ref = weakref.ref(memo[id(p)][1]) if p is not None and id(p) in memo else None
    return out
