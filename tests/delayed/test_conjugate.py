"""Each conjugate pair: exact marginal likelihood and posterior with delayed sampling on, and
the same likelihood estimated by plain Monte Carlo with it off."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from scipy import stats

from aether import delayed as ds


@dataclass
class Case:
    build: Callable  # () -> (parent, observed child node)
    y: object
    exact: float
    posterior: dict  # attribute of the parent's marginal -> value


CASES = {
    "normal-normal": Case(
        lambda: (x := ds.gaussian(1.0, 2.0), ds.gaussian(3.0 * x - 1.0, 0.5)),
        4.0,
        stats.norm.logpdf(4.0, 2.0, np.sqrt(18.5)),
        {"mean": (0.5 + 30.0) / 18.5, "cov": 1 / 18.5},
    ),
    "normal-inverse-gamma": Case(
        lambda: (s2 := ds.inverse_gamma(3.0, 2.0), ds.gaussian(1.0, 2.0 * s2)),
        2.5,
        stats.t.logpdf(2.5, 6.0, 1.0, np.sqrt(4.0 / 3.0)),
        {"alpha": 3.5, "beta": 2.0 + 1.5**2 / 4.0},
    ),
    "normal-inverse-gamma-gaussian": Case(
        lambda: (
            s2 := ds.inverse_gamma(3.0, 2.0),
            mu := ds.gaussian(1.0, 0.5 * s2),
            ds.gaussian(mu, s2),
        )[1:],
        2.5,
        stats.t.logpdf(2.5, 6.0, 1.0, 1.0),  # t(2a, m, b / a * (1 / lam + 1))
        {"mean": 1.5, "lam": 3.0, "alpha": 3.5, "beta": 2.75},
    ),
    "gamma-poisson": Case(
        lambda: (lam := ds.gamma(2.0, 1.5), ds.poisson(3.0 * lam)),
        4,
        stats.nbinom.logpmf(4, 2.0, 1 / 5.5),
        {"k": 6.0, "theta": 1.5 / 5.5},
    ),
    "gamma-exponential": Case(
        lambda: (lam := ds.gamma(2.0, 1.5), ds.exponential(lam * 3.0)),
        0.7,
        stats.lomax.logpdf(0.7, 2.0, scale=1 / 4.5),
        {"k": 3.0, "theta": 1.5 / (1 + 4.5 * 0.7)},
    ),
    "beta-bernoulli": Case(
        lambda: (rho := ds.beta(2.0, 3.0), ds.bernoulli(rho)),
        1,
        np.log(2 / 5),
        {"alpha": 3.0, "beta": 3.0},
    ),
    "beta-binomial": Case(
        lambda: (rho := ds.beta(2.0, 3.0), ds.binomial(10, rho)),
        4,
        stats.betabinom.logpmf(4, 10, 2.0, 3.0),
        {"alpha": 6.0, "beta": 9.0},
    ),
    "beta-negative-binomial": Case(
        lambda: (rho := ds.beta(2.0, 3.0), ds.negative_binomial(4, rho)),
        5,
        stats.betanbinom.logpmf(5, 4, 2.0, 3.0),
        {"alpha": 6.0, "beta": 8.0},
    ),
    "dirichlet-categorical": Case(
        lambda: (pi := ds.dirichlet([1.0, 2.0, 3.0]), ds.categorical(pi)),
        2,
        np.log(3 / 6),
        {"alpha": [1.0, 2.0, 4.0]},
    ),
    "dirichlet-multinomial": Case(
        lambda: (pi := ds.dirichlet([1.0, 2.0, 3.0]), ds.multinomial(5, pi)),
        np.array([1, 1, 3]),
        stats.dirichlet_multinomial.logpmf([1, 1, 3], [1.0, 2.0, 3.0], 5),
        {"alpha": [2.0, 3.0, 6.0]},
    ),
}


def run(case: Case, n: int, delay: bool, seed: int = 0):
    with ds.System(n, np.random.default_rng(seed), delay=delay) as system:
        parent, child = case.build()
        ds.observe(child, case.y)
    return parent, system.logw


@pytest.mark.parametrize("name", CASES)
def test_exact_marginal_and_posterior(name):
    case = CASES[name]
    parent, logw = run(case, 5, delay=True)
    np.testing.assert_allclose(logw, case.exact, rtol=1e-10)
    assert parent.state is ds.State.MARGINALIZED
    for attr, expected in case.posterior.items():
        got = np.asarray(getattr(parent.marginal, attr))
        np.testing.assert_allclose(got, np.broadcast_to(expected, got.shape), rtol=1e-10)


@pytest.mark.parametrize("name", CASES)
def test_delay_off_agrees_in_distribution(name):
    """40000 independent particles (each one a seed of the prior-sampling estimator)."""
    case = CASES[name]
    _, logw = run(case, 40_000, delay=False, seed=1)
    estimate = np.log(np.mean(np.exp(logw)))
    assert abs(estimate - case.exact) < 0.05


def test_normal_inverse_gamma_gaussian_moves_both_mean_and_variance():
    """Two observations: the second's predictive, then s2 given mu, all in closed form."""
    with ds.System(3, np.random.default_rng(0)) as system:
        s2 = ds.inverse_gamma(3.0, 2.0)
        mu = ds.gaussian(1.0, 0.5 * s2)
        ds.observe(ds.gaussian(mu, s2), 2.5)
        assert s2.marginal.alpha[0] == 3.5 and s2.marginal.beta[0] == 2.75
        ds.observe(ds.gaussian(mu, 2.0 * s2), 0.0)  # y ~ N(mu, c s2), c = 2
        # after y1: m 1.5, lam 3, a 3.5, b 2.75; y2's predictive is t(7, 1.5, b/a (1/3 + 2))
        second = stats.t.logpdf(0.0, 7.0, 1.5, np.sqrt(2.75 / 3.5 * (1 / 3 + 2)))
        first = stats.t.logpdf(2.5, 6.0, 1.0, 1.0)
        np.testing.assert_allclose(system.logw, first + second, rtol=1e-12)
        lam, mean = 3.5, (3.0 * 1.5 + 0.0 / 2.0) / 3.5
        beta = 2.75 + 1.5**2 / (2 * (1 / 3 + 2))
        np.testing.assert_allclose(mu.marginal.mean, mean)
        np.testing.assert_allclose(s2.marginal.beta, beta)
        m = ds.value(mu)  # realize mu: s2 | mu = IG(a + 1/2, b + lam (mu - m)^2 / 2)
        assert s2.state is ds.State.MARGINALIZED
        np.testing.assert_allclose(s2.marginal.alpha, 4.5)
        np.testing.assert_allclose(s2.marginal.beta, beta + lam * (m - mean) ** 2 / 2)
