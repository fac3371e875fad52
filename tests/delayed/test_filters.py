"""Linear-Gaussian models are exact for any N; resampling, the alive filter and PMMH."""

from dataclasses import dataclass

import numpy as np
import pytest
from scipy import stats

from aether import delayed as ds
from aether.delayed.models.pedagogical import (
    GaussianChain,
    IidGaussians,
    ScalarKalman,
    SpikeAndSlab,
)

F = np.array([[0.9, 0.2], [-0.1, 0.8]])
Q = np.array([[0.3, 0.05], [0.05, 0.2]])
H = np.array([[1.0, 0.5], [0.0, 1.0], [1.0, -1.0]])
R = np.diag([0.5, 0.4, 0.3])


@dataclass
class VectorKalman:
    ys: np.ndarray

    @property
    def steps(self):
        return len(self.ys)

    def initial(self):
        return {"x": None}

    def step(self, state, t):
        if t == 0:
            x = ds.multivariate_gaussian(np.zeros(2), np.eye(2))
        else:
            x = ds.multivariate_gaussian(F @ state["x"], Q)
        ds.observe(ds.multivariate_gaussian(H @ x + 1.0, R), self.ys[t])
        return {"x": x}


@pytest.mark.parametrize("n", [1, 2, 64])
def test_linear_gaussian_log_z_is_exact_for_any_n(n):
    ys = np.random.default_rng(0).normal(size=(40, 3))
    exact = ds.kalman_log_likelihood(ys - 1.0, F, Q, H, R, np.zeros(2), np.eye(2))
    assert abs(ds.particle_filter(VectorKalman(ys), n, seed=n).log_z - exact) < 1e-8
    scalar = ScalarKalman(ys[:, 0])
    assert abs(ds.particle_filter(scalar, n, seed=n).log_z - scalar.exact_log_z()) < 1e-8


@pytest.mark.parametrize(
    "model", [GaussianChain(0.7), IidGaussians(np.array([0.3, -1.2, 2.0, 0.8]))]
)
def test_pedagogical_gaussians_exact(model):
    assert abs(ds.particle_filter(model, 1, seed=0).log_z - model.exact_log_z()) < 1e-8


def test_spike_and_slab_unbiased_and_less_variable_with_delay():
    model = SpikeAndSlab(np.array([0.1, 2.0, -1.5]))
    exact = model.exact_log_z()
    on = np.array([ds.particle_filter(model, 32, seed=s).log_z for s in range(200)])
    off = np.array([ds.particle_filter(model, 32, seed=s, delay=False).log_z for s in range(200)])
    assert abs(np.log(np.mean(np.exp(on - exact)))) < 0.05  # Z-hat is unbiased
    assert np.var(on) * 5 < np.var(off)


@pytest.mark.parametrize("resampler", [ds.systematic, ds.stratified])
def test_resamplers_keep_expected_counts(resampler):
    w = np.array([0.5, 0.25, 0.125, 0.125])
    counts = np.bincount(resampler(np.log(w), np.random.default_rng(0), 800), minlength=4)
    assert np.all(np.abs(counts - 800 * w) <= 1)


@dataclass
class Thinning:
    """Zero likelihood is common: y_t ~ Binomial(x_t, 0.5) with x_t ~ Poisson(2) iid."""

    ys: np.ndarray

    @property
    def steps(self):
        return len(self.ys)

    def initial(self):
        return {}

    def step(self, state, t):
        ds.observe(ds.binomial(ds.poisson(2.0), 0.5), self.ys[t])
        return state


def test_alive_filter_is_unbiased_where_bootstrap_dies():
    ys = np.array([3, 4, 2, 5])
    exact = stats.poisson.logpmf(ys, 1.0).sum()  # thinning a Poisson(2) by 0.5
    results = [ds.particle_filter(Thinning(ys), 8, seed=s, method="alive") for s in range(300)]
    log_z = np.array([r.log_z for r in results])
    assert np.isfinite(log_z).all()
    assert abs(np.log(np.mean(np.exp(log_z - exact)))) < 0.1
    assert all(r.proposals > 8 * len(ys) for r in results)
    dead = [ds.particle_filter(Thinning(ys), 8, seed=s).log_z for s in range(50)]
    assert -np.inf in dead


def test_pmmh_with_exact_likelihood_finds_the_posterior():
    """Unknown Kalman transition coefficient a; N = 1 suffices since delay makes it exact."""
    truth = 0.7
    rng = np.random.default_rng(5)
    x, ys = 0.0, []
    for _ in range(40):
        x = truth * x + rng.normal(0, np.sqrt(0.5))
        ys.append(x + rng.normal())
    ys = np.array(ys)
    grid = np.linspace(-0.99, 0.99, 100)
    logpost = np.array([ScalarKalman(ys, a=a).exact_log_z() for a in grid])
    post = np.exp(logpost - logpost.max())
    mean = (grid * post).sum() / post.sum()

    result = ds.pmmh(
        lambda th: ScalarKalman(ys, a=float(th[0])),
        lambda th: 0.0 if abs(th[0]) < 1 else -np.inf,
        [0.0],
        iterations=500,
        n=1,
        scale=0.15,
        seed=1,
    )
    assert 0.2 < result.acceptance_rate < 0.9
    assert abs(result.samples[100:, 0].mean() - mean) < 0.05


@dataclass
class SharedMean:
    """mu ~ N(0, 1) drawn once per group (the importance sampler's outer draw); y_t ~ N(mu, 1)."""

    ys: np.ndarray

    @property
    def steps(self):
        return len(self.ys)

    def initial(self):
        return {"mu": ds.shared(ds.value(ds.gaussian(0.0, 1.0)))}

    def step(self, state, t):
        ds.observe(ds.gaussian(state["mu"], 1.0), self.ys[t])
        return state


def test_importance_sampler_is_unbiased_and_shares_its_outer_draws():
    ys = np.array([0.5, 1.5, 1.0])
    exact = stats.multivariate_normal.logpdf(ys, np.zeros(3), np.eye(3) + 1.0)
    results = [
        ds.particle_filter(SharedMean(ys), 2, seed=s, method="alive", groups=16, delay=False)
        for s in range(120)
    ]
    mu = results[0].state["mu"].reshape(16, 2)
    assert (mu[:, 0] == mu[:, 1]).all() and len(np.unique(mu[:, 0])) == 16
    log_z = np.array([r.log_z for r in results])
    assert abs(np.log(np.mean(np.exp(log_z - exact)))) < 0.1
    thinning = np.array([3, 4, 2, 5])
    exact = stats.poisson.logpmf(thinning, 1.0).sum()
    log_z = [
        ds.particle_filter(Thinning(thinning), 4, seed=s, method="alive", groups=2).log_z
        for s in range(300)
    ]
    assert abs(np.log(np.mean(np.exp(np.array(log_z) - exact)))) < 0.1


def test_importance_sampler_needs_the_alive_filter():
    with pytest.raises(ds.ModelError, match="groups"):
        ds.particle_filter(SharedMean(np.zeros(2)), 2, groups=2)
