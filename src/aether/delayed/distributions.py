"""Distributions batched over particles: every parameter array has a leading particle axis.

Each class has the same few operations as Birch's: `simulate(rng)`, `logpdf(x)` and
`check(x)`. `check` rejects values that no parameter could make possible (a negative count,
a non-integer, a wrong shape): that is bad input, an error. A value that only these
parameters rule out (8 successes of 5 trials) has log density -inf, which the particle
filter handles as a zero weight.
"""

from __future__ import annotations

import copy

import numpy as np
from scipy.special import betaln, gammaln, xlog1py, xlogy

from aether.delayed.errors import ModelError


class Batched:
    """Arrays with a leading particle axis; `take` selects particles (resampling)."""

    def take(self, idx: np.ndarray) -> Batched:
        out = copy.copy(self)
        for key, value in vars(self).items():
            if isinstance(value, np.ndarray):
                setattr(out, key, value[idx])
        return out

    def concat(self, others: list[Batched]) -> Batched:
        """`self` followed by `others` along the particle axis (same structure)."""
        out = copy.copy(self)
        for key, value in vars(self).items():
            if isinstance(value, np.ndarray):
                setattr(out, key, np.concatenate([value, *(getattr(o, key) for o in others)]))
        return out


def batch(x, n: int, event: tuple[int, ...] = (), name: str = "parameter") -> np.ndarray:
    """`x` broadcast to (n, *event) as float; NaN is an error, never a silent result."""
    arr = np.asarray(x, dtype=float)
    if arr.shape != (n, *event):
        try:
            arr = np.full((n, *event), arr)
        except ValueError:
            raise ModelError(
                f"{name} has shape {np.shape(x)}; expected a scalar, {event or '()'} or "
                f"{(n, *event)} (one per particle)"
            ) from None
    if np.isnan(arr).any():
        raise ModelError(f"{name} is NaN")
    return arr


def positive(x, n: int, name: str, event: tuple[int, ...] = ()) -> np.ndarray:
    arr = batch(x, n, event, name)
    if not (arr > 0).all():
        raise ModelError(f"{name} must be > 0, got min {arr.min()}")
    return arr


def probability(x, n: int, name: str) -> np.ndarray:
    arr = batch(x, n, (), name)
    if not ((arr >= 0) & (arr <= 1)).all():
        raise ModelError(f"{name} must be a probability in [0, 1]")
    return arr


def counts(x, n: int, name: str, event: tuple[int, ...] = ()) -> np.ndarray:
    arr = batch(x, n, event, name)
    if not ((arr >= 0) & (arr == np.floor(arr))).all():
        raise ModelError(f"{name} must be non-negative integers")
    return arr


def _value(x, n: int, event: tuple[int, ...], what: str) -> np.ndarray:
    if isinstance(x, float) and not event:  # the common case, an observed number: no checks
        if x != x:
            raise ModelError(f"observed {what} is NaN")
        return np.full(n, x)
    arr = np.asarray(x, dtype=float)
    if arr.shape not in (event, (n, *event)):
        raise ModelError(
            f"observed {what} has shape {arr.shape}; expected {event} or {(n, *event)}"
        )
    if np.isnan(arr).any():
        raise ModelError(f"observed {what} is NaN")
    return arr if arr.ndim == len(event) + 1 else np.full((n, *event), arr)


def _check_counts(x: np.ndarray, what: str) -> None:
    if not ((x >= 0) & (x == np.floor(x))).all():
        raise ModelError(f"observed {what} must be non-negative integers, got {x.ravel()[:5]}")


class Distribution(Batched):
    event: tuple[int, ...] = ()

    @property
    def n(self) -> int:
        return len(next(v for v in vars(self).values() if isinstance(v, np.ndarray)))

    def check(self, x) -> np.ndarray:
        return _value(x, self.n, self.event, type(self).__name__)


class Gaussian(Distribution):
    """N(mean, cov) over d dimensions; `scalar` ones present values as (N,) not (N, 1).

    The modelling functions check covariances; conjugate updates keep them positive.
    """

    def __init__(self, mean: np.ndarray, cov: np.ndarray, scalar: bool):
        self.mean, self.cov, self.scalar = mean, cov, scalar

    @property
    def n(self) -> int:
        return len(self.mean)

    @property
    def event(self) -> tuple[int, ...]:
        return () if self.scalar else (self.mean.shape[-1],)

    def take(self, idx: np.ndarray) -> Gaussian:
        return Gaussian(self.mean[idx], self.cov[idx], self.scalar)

    def simulate(self, rng: np.random.Generator) -> np.ndarray:
        z = rng.standard_normal(self.mean.shape)
        if self.mean.shape[-1] == 1:
            x = self.mean + np.sqrt(self.cov[..., 0]) * z
        else:
            x = self.mean + (np.linalg.cholesky(self.cov) @ z[..., None])[..., 0]
        return x[:, 0] if self.scalar else x

    def logpdf(self, x: np.ndarray) -> np.ndarray:
        x = x[:, None] if self.scalar else x
        r = x - self.mean
        d = r.shape[-1]
        if d == 1:
            var = self.cov[:, 0, 0]
            return -0.5 * (np.log(2 * np.pi * var) + r[:, 0] ** 2 / var)
        chol = np.linalg.cholesky(self.cov)
        z = np.linalg.solve(chol, r[..., None])[..., 0]
        logdet = 2 * np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(-1)
        return -0.5 * (d * np.log(2 * np.pi) + logdet + (z**2).sum(-1))


class StudentT(Distribution):
    """Student's t(nu, loc, scale^2): the marginal of a Gaussian with inverse-gamma variance."""

    def __init__(self, nu, loc, scale2):
        self.nu, self.loc, self.scale2 = nu, loc, scale2

    def simulate(self, rng):
        return self.loc + np.sqrt(self.scale2) * rng.standard_t(self.nu)

    def logpdf(self, x):
        nu, z2 = self.nu, (x - self.loc) ** 2 / self.scale2
        return (
            gammaln((nu + 1) / 2)
            - gammaln(nu / 2)
            - 0.5 * np.log(nu * np.pi * self.scale2)
            - (nu + 1) / 2 * np.log1p(z2 / nu)
        )


class NormalInverseGamma(StudentT):
    """mu | s2 ~ N(mean, s2 / lam), s2 ~ InverseGamma(alpha, beta), as the law of mu alone.

    That law is Student's t(2 alpha, mean, beta / (alpha lam)); the parameters are kept so
    that a Gaussian child of mu with variance s2 is conjugate to (mu, s2) jointly (Birch's
    NormalInverseGamma).
    """

    def __init__(self, mean, lam, alpha, beta):
        self.mean, self.lam, self.alpha, self.beta = mean, lam, alpha, beta
        super().__init__(2 * alpha, mean, beta / (alpha * lam))


class Gamma(Distribution):
    """Gamma(shape k, scale theta)."""

    def __init__(self, k, theta):
        self.k, self.theta = k, theta

    def simulate(self, rng):
        return rng.gamma(self.k, self.theta)

    def check(self, x):
        x = Distribution.check(self, x)
        if not (x > 0).all():
            raise ModelError("observed Gamma value must be > 0")
        return x

    def logpdf(self, x):
        return xlogy(self.k - 1, x) - x / self.theta - gammaln(self.k) - self.k * np.log(self.theta)


class InverseGamma(Distribution):
    """InverseGamma(shape alpha, scale beta): the conjugate prior of a Gaussian variance."""

    def __init__(self, alpha, beta):
        self.alpha, self.beta = alpha, beta

    def simulate(self, rng):
        return self.beta / rng.gamma(self.alpha)

    def check(self, x):
        x = Distribution.check(self, x)
        if not (x > 0).all():
            raise ModelError("observed InverseGamma value must be > 0")
        return x

    def logpdf(self, x):
        a, b = self.alpha, self.beta
        return a * np.log(b) - gammaln(a) - (a + 1) * np.log(x) - b / x


class Beta(Distribution):
    def __init__(self, alpha, beta):
        self.alpha, self.beta = alpha, beta

    def simulate(self, rng):
        return rng.beta(self.alpha, self.beta)

    def check(self, x):
        x = Distribution.check(self, x)
        if not ((x >= 0) & (x <= 1)).all():
            raise ModelError("observed Beta value must be in [0, 1]")
        return x

    def logpdf(self, x):
        a, b = self.alpha, self.beta
        return xlogy(a - 1, x) + xlog1py(b - 1, -x) - betaln(a, b)


class Dirichlet(Distribution):
    def __init__(self, alpha):
        self.alpha = alpha
        self.event = (alpha.shape[-1],)

    def simulate(self, rng):
        g = rng.gamma(self.alpha)
        return g / g.sum(-1, keepdims=True)

    def check(self, x):
        x = Distribution.check(self, x)
        if not ((x >= 0).all() and np.allclose(x.sum(-1), 1)):
            raise ModelError("observed Dirichlet value must be non-negative and sum to 1")
        return x

    def logpdf(self, x):
        a = self.alpha
        return (xlogy(a - 1, x)).sum(-1) + gammaln(a.sum(-1)) - gammaln(a).sum(-1)


class Poisson(Distribution):
    def __init__(self, rate):
        self.rate = rate

    def simulate(self, rng):
        return rng.poisson(self.rate).astype(float)

    def check(self, x):
        x = Distribution.check(self, x)
        _check_counts(x, "Poisson value")
        return x

    def logpdf(self, x):
        return xlogy(x, self.rate) - self.rate - gammaln(x + 1)


class Exponential(Distribution):
    def __init__(self, rate):
        self.rate = rate

    def simulate(self, rng):
        return rng.exponential(1 / self.rate)

    def check(self, x):
        x = Distribution.check(self, x)
        if not (x >= 0).all():
            raise ModelError("observed Exponential value must be >= 0")
        return x

    def logpdf(self, x):
        return np.log(self.rate) - self.rate * x


class Lomax(Distribution):
    """Lomax(scale lam, shape k): the marginal of an exponential with a gamma rate."""

    def __init__(self, lam, k):
        self.lam, self.k = lam, k

    def simulate(self, rng):
        return self.lam * (rng.uniform(size=self.lam.shape) ** (-1 / self.k) - 1)

    check = Exponential.check

    def logpdf(self, x):
        return np.log(self.k / self.lam) - (self.k + 1) * np.log1p(x / self.lam)


class Bernoulli(Distribution):
    def __init__(self, p):
        self.p = p

    def simulate(self, rng):
        return (rng.uniform(size=self.p.shape) < self.p).astype(float)

    def check(self, x):
        x = Distribution.check(self, x)
        if not np.isin(x, (0, 1)).all():
            raise ModelError("observed Bernoulli value must be 0 or 1")
        return x

    def logpdf(self, x):
        return xlogy(x, self.p) + xlog1py(1 - x, -self.p)


class Binomial(Distribution):
    def __init__(self, trials, p):
        self.trials, self.p = trials, p

    def simulate(self, rng):
        return rng.binomial(self.trials.astype(np.int64), self.p).astype(float)

    check = Poisson.check

    def logpdf(self, x):
        n = self.trials
        out = (
            gammaln(n + 1)
            - gammaln(x + 1)
            - gammaln(np.maximum(n - x, 0) + 1)
            + xlogy(x, self.p)
            + xlog1py(n - x, -self.p)
        )
        return np.where(x <= n, out, -np.inf)


class NegativeBinomial(Distribution):
    """Failures before the k-th success, success probability p (k may be real)."""

    def __init__(self, k, p):
        self.k, self.p = k, p

    def simulate(self, rng):
        return rng.poisson(rng.gamma(self.k, (1 - self.p) / self.p)).astype(float)

    check = Poisson.check

    def logpdf(self, x):
        k = self.k
        return gammaln(x + k) - gammaln(k) - gammaln(x + 1) + xlogy(k, self.p) + xlog1py(x, -self.p)


class BetaBinomial(Distribution):
    def __init__(self, trials, alpha, beta):
        self.trials, self.alpha, self.beta = trials, alpha, beta

    def simulate(self, rng):
        p = rng.beta(self.alpha, self.beta)
        return rng.binomial(self.trials.astype(np.int64), p).astype(float)

    check = Poisson.check

    def logpdf(self, x):
        n, a, b = self.trials, self.alpha, self.beta
        m = np.maximum(n - x, 0)
        out = gammaln(n + 1) - gammaln(x + 1) - gammaln(m + 1) + betaln(x + a, m + b) - betaln(a, b)
        return np.where(x <= n, out, -np.inf)


class BetaNegativeBinomial(Distribution):
    def __init__(self, k, alpha, beta):
        self.k, self.alpha, self.beta = k, alpha, beta

    def simulate(self, rng):
        p = rng.beta(self.alpha, self.beta)
        return rng.poisson(rng.gamma(self.k, (1 - p) / p)).astype(float)

    check = Poisson.check

    def logpdf(self, x):
        k, a, b = self.k, self.alpha, self.beta
        return gammaln(x + k) - gammaln(k) - gammaln(x + 1) + betaln(a + k, b + x) - betaln(a, b)


class Categorical(Distribution):
    """Categories 0..K-1 with probabilities p (rows sum to 1)."""

    def __init__(self, p):
        self.p = p

    def simulate(self, rng):
        u = rng.uniform(size=(len(self.p), 1))
        return (np.cumsum(self.p, -1) < u).sum(-1).clip(0, self.p.shape[-1] - 1).astype(float)

    def check(self, x):
        x = Distribution.check(self, x)
        if not ((x >= 0) & (x < self.p.shape[-1]) & (x == np.floor(x))).all():
            raise ModelError(f"observed Categorical value must be in 0..{self.p.shape[-1] - 1}")
        return x

    def logpdf(self, x):
        return np.log(np.take_along_axis(self.p, x.astype(np.int64)[:, None], -1)[:, 0])


class Multinomial(Distribution):
    def __init__(self, trials, p):
        self.trials, self.p = trials, p
        self.event = (p.shape[-1],)

    def simulate(self, rng):
        return rng.multinomial(self.trials.astype(np.int64), self.p).astype(float)

    def check(self, x):
        x = Distribution.check(self, x)
        _check_counts(x, "Multinomial value")
        return x

    def logpdf(self, x):
        out = gammaln(self.trials + 1) - gammaln(x + 1).sum(-1) + xlogy(x, self.p).sum(-1)
        return np.where(x.sum(-1) == self.trials, out, -np.inf)


class DirichletMultinomial(Distribution):
    def __init__(self, trials, alpha):
        self.trials, self.alpha = trials, alpha
        self.event = (alpha.shape[-1],)

    def simulate(self, rng):
        g = rng.gamma(self.alpha)
        return rng.multinomial(self.trials.astype(np.int64), g / g.sum(-1, keepdims=True)).astype(
            float
        )

    check = Multinomial.check

    def logpdf(self, x):
        a, n = self.alpha, self.trials
        a0 = a.sum(-1)
        out = (
            gammaln(n + 1)
            + gammaln(a0)
            - gammaln(n + a0)
            + (gammaln(x + a) - gammaln(x + 1) - gammaln(a)).sum(-1)
        )
        return np.where(x.sum(-1) == n, out, -np.inf)


class Uniform(Distribution):
    def __init__(self, low, high):
        self.low, self.high = low, high

    def simulate(self, rng):
        return rng.uniform(self.low, self.high)

    def logpdf(self, x):
        inside = (x >= self.low) & (x <= self.high)
        return np.where(inside, -np.log(self.high - self.low), -np.inf)
