"""The paper's pedagogical examples, each with its exact log marginal likelihood."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.stats import multivariate_normal, norm

from aether import delayed as ds
from aether.delayed.kalman import kalman_log_likelihood


@dataclass
class GaussianChain:
    """x_1 ~ N(0, 1), x_k ~ N(x_k-1, 1) for k <= length, y ~ N(x_length, 1) observed."""

    y: float
    length: int = 5
    steps = 0

    def initial(self):
        x = ds.gaussian(0.0, 1.0)
        for _ in range(self.length - 1):
            x = ds.gaussian(x, 1.0)
        ds.observe(ds.gaussian(x, 1.0), self.y)
        return {"x": x}

    def exact_log_z(self) -> float:
        return float(norm.logpdf(self.y, 0.0, np.sqrt(self.length + 1.0)))


@dataclass
class IidGaussians:
    """mu ~ N(0, prior_var), y_i ~ N(mu, 1): one step per observation."""

    ys: np.ndarray
    prior_var: float = 4.0

    @property
    def steps(self) -> int:
        return len(self.ys)

    def initial(self):
        return {"mu": ds.gaussian(0.0, self.prior_var)}

    def step(self, state, t):
        ds.observe(ds.gaussian(state["mu"], 1.0), self.ys[t])
        return state

    def exact_log_z(self) -> float:
        k = len(self.ys)
        cov = self.prior_var * np.ones((k, k)) + np.eye(k)
        return float(multivariate_normal.logpdf(self.ys, np.zeros(k), cov))


@dataclass
class ScalarKalman:
    """x_1 ~ N(0, p0), x_t ~ N(a x_t-1, q), y_t ~ N(x_t, r): a Kalman filter falls out."""

    ys: np.ndarray
    a: float = 0.9
    q: float = 0.5
    r: float = 1.0
    p0: float = 1.0

    @property
    def steps(self) -> int:
        return len(self.ys)

    def initial(self):
        return {"x": None}

    def step(self, state, t):
        x = ds.gaussian(0.0, self.p0) if t == 0 else ds.gaussian(self.a * state["x"], self.q)
        ds.observe(ds.gaussian(x, self.r), self.ys[t])
        return {"x": x}

    def exact_log_z(self) -> float:
        return kalman_log_likelihood(self.ys, self.a, self.q, 1.0, self.r, 0.0, self.p0)


@dataclass
class SpikeAndSlab:
    """rho ~ Beta(1, 1); per observation z ~ Bernoulli(rho), x ~ N(0, slab), y ~ N(z x, noise).

    With delayed sampling rho is marginalized (beta-Bernoulli), each z is drawn from its
    predictive, and x is integrated out given z (Gaussian with a per-particle coefficient).
    """

    ys: np.ndarray
    slab: float = 4.0
    noise: float = 0.25

    @property
    def steps(self) -> int:
        return len(self.ys)

    def initial(self):
        return {"rho": ds.beta(1.0, 1.0)}

    def step(self, state, t):
        z = ds.bernoulli(state["rho"])
        x = ds.gaussian(0.0, self.slab)
        ds.observe(ds.gaussian(z * x, self.noise), self.ys[t])
        return state

    def exact_log_z(self) -> float:
        """Sum over every z in {0, 1}^T; rho integrates to a beta function ratio."""
        from scipy.special import betaln

        total = []
        for zs in itertools.product((0, 1), repeat=len(self.ys)):
            zs = np.array(zs)
            lp = betaln(1 + zs.sum(), 1 + len(zs) - zs.sum()) - betaln(1, 1)
            var = zs * self.slab + self.noise
            total.append(lp + norm.logpdf(self.ys, 0.0, np.sqrt(var)).sum())
        return float(np.logaddexp.reduce(total))
