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
