"""Conjugate pairs, named prior-then-likelihood as in Birch, batched over particles.

A pair is the edge from a parent (the prior family) to a child. It holds the child's
conditional parameters and answers three questions:
  `given(u)`      the child's distribution once the parent is realized at u,
  `marginal(p)`   the child's distribution with the parent marginalized (p: parent's marginal),
  `update(p, x)`  the parent's marginal after the child is realized at x.
`family` is the child's own family, which decides whether the child can be a conjugate parent
in turn (a Gaussian can; a Student-t marginal cannot).
"""

from __future__ import annotations

import numpy as np

from aether.delayed import distributions as D


class Conjugate(D.Batched):
    family: type | None = None


class LinearGaussianGaussian(Conjugate):
    """x ~ N(m, P); y | x ~ N(A x + c, S): scalar or vector, an affine map of the parent.

    Chains of these are a Kalman filter: `marginal` is its predict, `update` its correct.
    A (k, d) and S (k, k) are shared by all particles unless given per particle, (N, k, d)
    and (N, k, k): a constant matrix then costs one broadcast, not N copies.
    """

    family = D.Gaussian

    def __init__(self, A: np.ndarray, c: np.ndarray, S: np.ndarray, scalar: bool):
        self.A, self.c, self.S, self.scalar = A, c, S, scalar

    def take(self, idx):
        return LinearGaussianGaussian(
            self.A[idx] if self.A.ndim == 3 else self.A,
            self.c[idx],
            self.S[idx] if self.S.ndim == 3 else self.S,
            self.scalar,
        )

    def concat(self, others):
        parts = (self, *others)

        def join(key):
            if all(getattr(x, key).ndim == 2 for x in parts):
                return getattr(self, key)
            return np.concatenate(
                [
                    np.broadcast_to(getattr(x, key), (len(x.c), *getattr(x, key).shape[-2:]))
                    for x in parts
                ]
            )

        c = np.concatenate([x.c for x in parts])
        return LinearGaussianGaussian(join("A"), c, join("S"), self.scalar)

    def given(self, u):
        u = u[:, None] if u.ndim == 1 else u
        mean = _apply(self.A, u) + self.c
        return D.Gaussian(mean, np.broadcast_to(self.S, (*mean.shape, mean.shape[-1])), self.scalar)

    def _predict(self, p: D.Gaussian):
        """A P, the innovation covariance A P A' + S and the predicted mean; kept for `update`.

        With a shared A each product is one matrix multiply over all particles at once.
        """
        if getattr(self, "_cache", (None,))[0] is not p:
            A, (n, d) = self.A, p.mean.shape
            if A.ndim == 2:
                k = A.shape[0]
                AP = (p.cov.reshape(n * d, d) @ A.T).reshape(n, d, k).swapaxes(1, 2)  # P = P'
                APAt = (np.ascontiguousarray(AP).reshape(n * k, d) @ A.T).reshape(n, k, k)
            else:
                AP = A @ p.cov
                APAt = AP @ A.swapaxes(-1, -2)
            self._cache = (p, AP, APAt + self.S, _apply(A, p.mean) + self.c)
        return self._cache[1:]

    def marginal(self, p: D.Gaussian) -> D.Gaussian:
        _, innovation, mean = self._predict(p)
        return D.Gaussian(mean, innovation, self.scalar)

    def update(self, p: D.Gaussian, x) -> D.Gaussian:
        x = x[:, None] if x.ndim == 1 else x
        AP, innovation, mean = self._predict(p)
        if innovation.shape[-1] == 1:  # a scalar observation: no solve, outer products
            gain = AP[:, 0, :] / innovation[:, 0, :]
            return D.Gaussian(
                p.mean + gain * (x - mean), p.cov - gain[:, :, None] * AP[:, 0, None, :], p.scalar
            )
        gain = np.linalg.solve(innovation, AP).swapaxes(-1, -2)
        new_mean = p.mean + (gain @ (x - mean)[..., None])[..., 0]
        return D.Gaussian(new_mean, p.cov - gain @ AP, p.scalar)


def _apply(A: np.ndarray, x: np.ndarray) -> np.ndarray:
    """A x for every particle: A shared (k, d) or per particle (N, k, d); x (N, d)."""
    return x @ A.T if A.ndim == 2 else (A @ x[..., None])[..., 0]


class InverseGammaGaussian(Conjugate):
    """s2 ~ InverseGamma(a, b); y | s2 ~ N(mu, a2 * s2) (Birch's normal-inverse-gamma).

    y's marginal is a Student's t; it is kept as a NormalInverseGamma so that a Gaussian
    child of y with variance s2 can be conjugate to both (NormalInverseGammaGaussian).
    """

    def __init__(self, mu: np.ndarray, a2: np.ndarray):
        self.mu, self.a2 = mu, a2

    def given(self, s2):
        return D.Gaussian(self.mu[:, None], (self.a2 * s2)[:, None, None], True)

    def marginal(self, p: D.InverseGamma) -> D.NormalInverseGamma:
        return D.NormalInverseGamma(self.mu, 1 / self.a2, p.alpha, p.beta)

    def update(self, p: D.InverseGamma, x) -> D.InverseGamma:
        return D.InverseGamma(p.alpha + 0.5, p.beta + (x - self.mu) ** 2 / (2 * self.a2))


class NormalInverseGammaGaussian(Conjugate):
    """(mu, s2) ~ NormalInverseGamma(m, lam, a, b); y | mu, s2 ~ N(mu, c * s2) (Birch's
    NormalInverseGammaGaussian): unknown mean and variance, both updated by y.

    `sigma2` is the variance's node: the update of mu's joint law also moves s2's marginal
    (the graph does that, see `graph.realize`), and once mu is realized alone, y needs s2.
    """

    def __init__(self, c: np.ndarray, sigma2):
        self.c, self.sigma2 = c, sigma2

    def given(self, mu):
        s2 = self.sigma2.value()  # mu realized first: y | mu is Gaussian only given s2
        return D.Gaussian(mu[:, None], (self.c * s2)[:, None, None], True)

    def marginal(self, p):
        if isinstance(p, D.NormalInverseGamma):
            return D.StudentT(2 * p.alpha, p.mean, p.beta / p.alpha * (1 / p.lam + self.c))
        var = p.cov[:, 0, 0] + self.c * self.sigma2.realized  # s2 was realized before mu
        return D.Gaussian(p.mean, var[:, None, None], True)

    def update(self, p, x):
        if isinstance(p, D.NormalInverseGamma):
            lam = p.lam + 1 / self.c
            mean = (p.lam * p.mean + x / self.c) / lam
            beta = p.beta + (x - p.mean) ** 2 / (2 * (1 / p.lam + self.c))
            return D.NormalInverseGamma(mean, lam, p.alpha + 0.5, beta)
        var = p.cov[:, 0, 0]
        gain = var / (var + self.c * self.sigma2.realized)
        mean = p.mean[:, 0] + gain * (x - p.mean[:, 0])
        return D.Gaussian(mean[:, None], ((1 - gain) * var)[:, None, None], True)


class GammaPoisson(Conjugate):
    """lam ~ Gamma(k, theta); y | lam ~ Poisson(a * lam)."""

    def __init__(self, a: np.ndarray):
        self.a = a

    def given(self, lam):
        return D.Poisson(self.a * lam)

    def marginal(self, p: D.Gamma) -> D.NegativeBinomial:
        return D.NegativeBinomial(p.k, 1 / (1 + self.a * p.theta))

    def update(self, p: D.Gamma, x) -> D.Gamma:
        return D.Gamma(p.k + x, p.theta / (1 + self.a * p.theta))


class GammaExponential(Conjugate):
    """lam ~ Gamma(k, theta); y | lam ~ Exponential(a * lam)."""

    def __init__(self, a: np.ndarray):
        self.a = a

    def given(self, lam):
        return D.Exponential(self.a * lam)

    def marginal(self, p: D.Gamma) -> D.Lomax:
        return D.Lomax(1 / (self.a * p.theta), p.k)

    def update(self, p: D.Gamma, x) -> D.Gamma:
        return D.Gamma(p.k + 1, p.theta / (1 + self.a * p.theta * x))


class BetaBernoulli(Conjugate):
    """rho ~ Beta(a, b); y | rho ~ Bernoulli(rho)."""

    def given(self, rho):
        return D.Bernoulli(rho)

    def marginal(self, p: D.Beta) -> D.Bernoulli:
        return D.Bernoulli(p.alpha / (p.alpha + p.beta))

    def update(self, p: D.Beta, x) -> D.Beta:
        return D.Beta(p.alpha + x, p.beta + 1 - x)


class BetaBinomial(Conjugate):
    """rho ~ Beta(a, b); y | rho ~ Binomial(n, rho)."""

    def __init__(self, trials: np.ndarray):
        self.trials = trials

    def given(self, rho):
        return D.Binomial(self.trials, rho)

    def marginal(self, p: D.Beta) -> D.BetaBinomial:
        return D.BetaBinomial(self.trials, p.alpha, p.beta)

    def update(self, p: D.Beta, x) -> D.Beta:
        return D.Beta(p.alpha + x, p.beta + self.trials - x)


class BetaNegativeBinomial(Conjugate):
    """rho ~ Beta(a, b); y | rho ~ NegativeBinomial(k, rho) (failures before k successes)."""

    def __init__(self, k: np.ndarray):
        self.k = k

    def given(self, rho):
        return D.NegativeBinomial(self.k, rho)

    def marginal(self, p: D.Beta) -> D.BetaNegativeBinomial:
        return D.BetaNegativeBinomial(self.k, p.alpha, p.beta)

    def update(self, p: D.Beta, x) -> D.Beta:
        return D.Beta(p.alpha + self.k, p.beta + x)


class DirichletCategorical(Conjugate):
    """pi ~ Dirichlet(alpha); y | pi ~ Categorical(pi)."""

    def given(self, pi):
        return D.Categorical(pi)

    def marginal(self, p: D.Dirichlet) -> D.Categorical:
        return D.Categorical(p.alpha / p.alpha.sum(-1, keepdims=True))

    def update(self, p: D.Dirichlet, x) -> D.Dirichlet:
        onehot = np.arange(p.alpha.shape[-1]) == np.asarray(x, dtype=np.int64)[:, None]
        return D.Dirichlet(p.alpha + onehot)


class DirichletMultinomial(Conjugate):
    """pi ~ Dirichlet(alpha); y | pi ~ Multinomial(n, pi)."""

    def __init__(self, trials: np.ndarray):
        self.trials = trials

    def given(self, pi):
        return D.Multinomial(self.trials, pi)

    def marginal(self, p: D.Dirichlet) -> D.DirichletMultinomial:
        return D.DirichletMultinomial(self.trials, p.alpha)

    def update(self, p: D.Dirichlet, x) -> D.Dirichlet:
        return D.Dirichlet(p.alpha + x)
