"""The modelling interface: draw variables, transform them, observe data.

    x = gaussian(0.0, 1.0)
    y = gaussian(2.0 * x + 1.0, 0.5)    # affine in x: a conjugate child, x stays symbolic
    observe(poisson(3.0 * lam), 4)      # lam ~ gamma(...): gamma-Poisson with scaling

Each function looks at its arguments: a parameter that is a not-yet-realized variable of the
matching family (and, for Gaussians, an affine function of one) makes the new variable its
conjugate child; anything else is used by value, which samples a symbolic argument first.
"""

from __future__ import annotations

import functools

import numpy as np

from aether.delayed import conjugate as C
from aether.delayed import distributions as D
from aether.delayed.errors import ModelError
from aether.delayed.graph import Node, Random, State, _v, condition, current, make_node


def _of(x, family: type) -> Node | None:
    return x if isinstance(x, Node) and x.family is family else None


def value(x):
    """The value of x, sampled now if x is still symbolic."""
    return x.value() if isinstance(x, Random) else x


def shared(x) -> np.ndarray:
    """x with one value per group of particles: each group's first value, repeated.

    Under `particle_filter(..., groups=G)` these are the importance sampler's outer draws.
    """
    system = current()
    x = np.asarray(value(x))
    first = x.reshape(system.groups, -1, *x.shape[1:])[:, 0]
    return np.repeat(first, system.n // system.groups, axis=0)


def observe(x: Node, y) -> np.ndarray:
    """Condition on x = y; the particles' log-weights grow by log p(y | everything so far)."""
    if not isinstance(x, Node):
        raise ModelError(f"observe needs a random variable, got {type(x).__name__}")
    loglik = condition(x, y)
    current().logw += loglik
    return loglik


@functools.lru_cache(maxsize=256)
def _variance(var: float) -> np.ndarray:
    out = np.full((1, 1), var)
    out.flags.writeable = False
    return out


def gaussian(mean, var) -> Node:
    n = current().n
    e = mean._affine() if isinstance(mean, Random) else None
    scaled = var._scaled() if isinstance(var, Random) else None
    if (
        scaled is not None
        and isinstance(mean, Node)
        and mean.family is D.NormalInverseGamma
        and mean.state is not State.REALIZED
        and mean.parent is scaled.node
    ):  # y ~ N(mu, c s2) with mu ~ N(m, s2 / lam): conjugate to (mu, s2) jointly
        link = C.NormalInverseGammaGaussian(scaled.a, scaled.node)
        return make_node(None, parent=mean, conditional=link)
    if scaled is not None and scaled.node.family is D.InverseGamma and e is None:
        mu = D.batch(_v(mean), n, (), "gaussian mean")
        link = C.InverseGammaGaussian(mu, scaled.a)
        return make_node(D.NormalInverseGamma, parent=scaled.node, conditional=link)
    if isinstance(var, float):  # the common case, a number: one comparison, a cached matrix
        if not var > 0:
            raise ModelError(f"gaussian variance must be > 0, got {var}")
        var = _variance(var)
    else:
        var = np.asarray(_v(var), dtype=float)
        var = var.reshape(1, 1) if var.ndim == 0 else var
        var = D.positive(var, n, "gaussian variance")[:, None, None] if var.ndim == 1 else var
        if not (var > 0).all():
            raise ModelError(f"gaussian variance must be > 0, got {var.min()}")
    if e is not None:
        if not e.scalar:
            raise ModelError("gaussian mean is a vector; use multivariate_gaussian")
        return make_node(
            D.Gaussian, parent=e.node, conditional=C.LinearGaussianGaussian(e.A, e.c, var, True)
        )
    mean = D.batch(_v(mean), n, (), "gaussian mean")
    return make_node(D.Gaussian, prior=D.Gaussian(mean[:, None], np.full((n, 1, 1), var), True))


_SPD: dict[tuple, bool] = {}


def _check_spd(cov: np.ndarray) -> None:
    """A Cholesky factorization proves it; a shared (d, d) matrix is checked once, not per step."""
    key = (*cov.shape, cov.tobytes()) if cov.ndim == 2 else None
    if key is not None and key in _SPD:
        return
    try:
        np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise ModelError("covariance must be symmetric positive definite") from None
    if key is not None and len(_SPD) < 1024:
        _SPD[key] = True


def multivariate_gaussian(mean, cov) -> Node:
    n = current().n
    e = mean._affine() if isinstance(mean, Random) else None
    if e is not None and e.scalar:
        raise ModelError("multivariate_gaussian mean is a scalar; use gaussian")
    d = e.c.shape[-1] if e is not None else np.shape(_v(mean))[-1]
    cov = np.asarray(_v(cov), dtype=float)
    if cov.shape not in ((d, d), (n, d, d)):
        raise ModelError(f"covariance has shape {cov.shape}; expected {(d, d)} or {(n, d, d)}")
    _check_spd(cov)
    if e is not None:
        link = C.LinearGaussianGaussian(e.A, e.c, cov, False)
        return make_node(D.Gaussian, parent=e.node, conditional=link, scalar=False)
    mean = D.batch(_v(mean), n, (d,), "multivariate_gaussian mean")
    cov = D.batch(cov, n, (d, d), "covariance")
    return make_node(D.Gaussian, prior=D.Gaussian(mean, cov, False), scalar=False)


def gamma(shape, scale) -> Node:
    n = current().n
    prior = D.Gamma(
        D.positive(_v(shape), n, "gamma shape"), D.positive(_v(scale), n, "gamma scale")
    )
    return make_node(D.Gamma, prior=prior)


def inverse_gamma(shape, scale) -> Node:
    n = current().n
    a = D.positive(_v(shape), n, "inverse_gamma shape")
    return make_node(D.InverseGamma, prior=D.InverseGamma(a, D.positive(_v(scale), n, "scale")))


def beta(alpha, beta_) -> Node:
    n = current().n
    a = D.positive(_v(alpha), n, "beta alpha")
    return make_node(D.Beta, prior=D.Beta(a, D.positive(_v(beta_), n, "beta beta")))


def dirichlet(alpha) -> Node:
    n = current().n
    alpha = np.asarray(_v(alpha), dtype=float)
    a = D.positive(alpha, n, "dirichlet alpha", (alpha.shape[-1],))
    return make_node(D.Dirichlet, prior=D.Dirichlet(a), scalar=False)


def uniform(low, high) -> Node:
    n = current().n
    low, high = D.batch(_v(low), n, (), "uniform low"), D.batch(_v(high), n, (), "uniform high")
    if not (high > low).all():
        raise ModelError("uniform needs high > low")
    return make_node(D.Uniform, prior=D.Uniform(low, high))


def _rate(rate, link: type, dist: type) -> Node:
    n = current().n
    scaled = rate._scaled() if isinstance(rate, Random) else None
    if scaled is not None and scaled.node.family is D.Gamma:
        return make_node(dist, parent=scaled.node, conditional=link(scaled.a))
    rate = D.batch(_v(rate), n, (), f"{dist.__name__.lower()} rate")
    if not (rate >= 0).all():
        raise ModelError(f"{dist.__name__.lower()} rate must be >= 0")
    return make_node(dist, prior=dist(rate))


def poisson(rate) -> Node:
    return _rate(rate, C.GammaPoisson, D.Poisson)


def exponential(rate) -> Node:
    return _rate(rate, C.GammaExponential, D.Exponential)


def bernoulli(p) -> Node:
    if (rho := _of(p, D.Beta)) is not None:
        return make_node(D.Bernoulli, parent=rho, conditional=C.BetaBernoulli())
    return make_node(D.Bernoulli, prior=D.Bernoulli(D.probability(_v(p), current().n, "p")))


def binomial(trials, p) -> Node:
    n = current().n
    trials = D.counts(_v(trials), n, "binomial trials")
    if (rho := _of(p, D.Beta)) is not None:
        return make_node(D.Binomial, parent=rho, conditional=C.BetaBinomial(trials))
    return make_node(D.Binomial, prior=D.Binomial(trials, D.probability(_v(p), n, "p")))


def negative_binomial(k, p) -> Node:
    n = current().n
    k = D.positive(_v(k), n, "negative_binomial k")
    if (rho := _of(p, D.Beta)) is not None:
        return make_node(D.NegativeBinomial, parent=rho, conditional=C.BetaNegativeBinomial(k))
    return make_node(D.NegativeBinomial, prior=D.NegativeBinomial(k, D.probability(_v(p), n, "p")))


def _simplex(p, n: int) -> np.ndarray:
    p = np.asarray(_v(p), dtype=float)
    p = D.batch(p, n, (p.shape[-1],), "probabilities")
    if not ((p >= 0).all() and np.allclose(p.sum(-1), 1)):
        raise ModelError("probabilities must be non-negative and sum to 1")
    return p


def categorical(p) -> Node:
    if (pi := _of(p, D.Dirichlet)) is not None:
        return make_node(D.Categorical, parent=pi, conditional=C.DirichletCategorical())
    return make_node(D.Categorical, prior=D.Categorical(_simplex(p, current().n)))


def multinomial(trials, p) -> Node:
    n = current().n
    trials = D.counts(_v(trials), n, "multinomial trials")
    if (pi := _of(p, D.Dirichlet)) is not None:
        link = C.DirichletMultinomial(trials)
        return make_node(D.Multinomial, parent=pi, conditional=link, scalar=False)
    prior = D.Multinomial(trials, _simplex(p, n))
    return make_node(D.Multinomial, prior=prior, scalar=False)
