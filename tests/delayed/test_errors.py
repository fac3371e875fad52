"""Bad input is one clear error, never a silent NaN."""

import numpy as np
import pytest

from aether import delayed as ds
from aether import params as P
from aether.delayed.params import DelayedParams


@pytest.fixture
def system():
    with ds.System(4, np.random.default_rng(0)) as s:
        yield s


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: ds.gaussian(0.0, -1.0), "gaussian variance must be > 0"),
        (lambda: ds.gaussian(np.nan, 1.0), "gaussian mean is NaN"),
        (lambda: ds.gaussian(np.zeros(3), 1.0), r"gaussian mean has shape \(3,\)"),
        (lambda: ds.multivariate_gaussian(np.zeros(2), -np.eye(2)), "positive definite"),
        (lambda: ds.multivariate_gaussian(np.zeros(2), np.eye(3)), r"covariance has shape"),
        (lambda: ds.beta(0.0, 1.0), "beta alpha must be > 0"),
        (lambda: ds.binomial(2.5, 0.5), "binomial trials must be non-negative integers"),
        (lambda: ds.bernoulli(1.5), "p must be a probability"),
        (lambda: ds.categorical([0.5, 0.6]), "sum to 1"),
        (lambda: ds.uniform(1.0, 0.0), "high > low"),
    ],
)
def test_invalid_parameters(system, make, match):
    with pytest.raises(ds.ModelError, match=match):
        make()


@pytest.mark.parametrize(
    ("make", "y", "match"),
    [
        (lambda: ds.poisson(ds.gamma(1.0, 1.0)), -1, "non-negative integers"),
        (lambda: ds.binomial(5, ds.beta(1.0, 1.0)), 1.5, "non-negative integers"),
        (lambda: ds.bernoulli(ds.beta(1.0, 1.0)), 2, "0 or 1"),
        (lambda: ds.categorical(ds.dirichlet([1.0, 1.0])), 2, r"in 0\.\.1"),
        (lambda: ds.gaussian(0.0, 1.0), np.nan, "NaN"),
        (lambda: ds.gaussian(0.0, 1.0), np.zeros(3), r"shape \(3,\)"),
        (lambda: ds.exponential(ds.gamma(1.0, 1.0)), -0.5, ">= 0"),
    ],
)
def test_observations_outside_the_support(system, make, y, match):
    with pytest.raises(ds.ModelError, match=match):
        ds.observe(make(), y)
    assert np.isfinite(system.logw).all()


def test_parameter_dependent_support_is_zero_weight_not_error(system):
    ds.observe(ds.binomial(3, ds.beta(1.0, 1.0)), 5)  # 5 of 3 trials: impossible here only
    assert (system.logw == -np.inf).all()


def test_shape_mismatch_in_an_affine_map(system):
    x = ds.multivariate_gaussian(np.zeros(3), np.eye(3))
    with pytest.raises(ds.ModelError, match="cannot multiply a vector of length 3"):
        np.ones((2, 2)) @ x


def test_observing_a_realized_variable(system):
    x = ds.gaussian(0.0, 1.0)
    x.value()
    with pytest.raises(ds.ModelError, match="already realized"):
        ds.observe(x, 0.0)


def test_filter_arguments():
    from aether.delayed.models.pedagogical import GaussianChain

    with pytest.raises(ds.ModelError, match="number of particles"):
        ds.particle_filter(GaussianChain(0.0), 0)
    with pytest.raises(ds.ModelError, match="method must be"):
        ds.particle_filter(GaussianChain(0.0), 4, method="guided")


def test_params_errors_name_the_key(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("delayed:\n  particles: [0]\n")
    with pytest.raises(P.ParamsError, match=r"delayed\.particles"):
        P.load_as(DelayedParams, "delayed", path)
    path.write_text("delayed:\n  models: [nope]\n")
    with pytest.raises(P.ParamsError, match=r"delayed\.models\.0"):
        P.load_as(DelayedParams, "delayed", path)
