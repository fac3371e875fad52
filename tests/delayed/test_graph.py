"""The graph operations step by step on a tree, as the paper defines them, and resampling."""

import gc

import numpy as np
import pytest

from aether import delayed as ds
from aether.delayed.graph import State, graft, take

INIT, M, R = State.INITIALIZED, State.MARGINALIZED, State.REALIZED


def states(*nodes):
    return [v.state for v in nodes]


def test_graft_prune_realize_on_a_tree():
    """x1 -> {x2, x3}, x3 -> x4, all Gaussian with unit variance: the paper's operations."""
    with ds.System(4, np.random.default_rng(0)):
        x1 = ds.gaussian(0.0, 1.0)
        x2 = ds.gaussian(x1, 1.0)
        x3 = ds.gaussian(x1, 1.0)
        x4 = ds.gaussian(x3, 1.0)
        assert states(x1, x2, x3, x4) == [INIT, INIT, INIT, INIT]  # nothing computed yet

        graft(x4)  # marginalizes the path root -> x4: the M-path is x1 -> x3 -> x4
        assert states(x1, x2, x3, x4) == [M, INIT, M, M]
        assert x1.child is x3 and x3.child is x4 and x4.child is None
        np.testing.assert_allclose(x4.marginal.cov[:, 0, 0], 3.0)

        v2 = x2.value()  # graft(x2) must prune x3 (x1's marginalized child), x4 first
        assert states(x1, x2, x3, x4) == [M, R, R, R]
        assert x1.child is None  # x2 was realized and conditioned x1
        v3, v4 = x3.realized, x4.realized
        # x1 | x3, x2 in closed form: precision 1 + 1 + 1, mean (v3 + v2) / 3.
        np.testing.assert_allclose(x1.marginal.mean[:, 0], (v3 + v2) / 3)
        np.testing.assert_allclose(x1.marginal.cov[:, 0, 0], 1 / 3)
        assert v4.shape == (4,)


def test_observation_conditions_the_whole_path():
    with ds.System(3, np.random.default_rng(1)) as system:
        x1 = ds.gaussian(1.0, 2.0)
        x2 = ds.gaussian(3.0 * x1 - 1.0, 0.5)
        ds.observe(ds.gaussian(x2, 0.25), 4.0)
        assert states(x1, x2) == [M, M] and x1.child is x2
        # y ~ N(3 * 1 - 1, 9 * 2 + 0.5 + 0.25)
        expected = -0.5 * (np.log(2 * np.pi * 18.75) + (4.0 - 2.0) ** 2 / 18.75)
        np.testing.assert_allclose(system.logw, expected)


def test_dropped_parents_are_freed_and_not_conditioned():
    with ds.System(2, np.random.default_rng(2)):
        x = ds.gaussian(0.0, 1.0)
        for _ in range(50):
            x = ds.gaussian(0.9 * x, 1.0)
            ds.observe(ds.gaussian(x, 1.0), 0.5)
        gc.collect()
        alive = [o for o in gc.get_objects() if isinstance(o, ds.Node)]
        assert len(alive) <= 3  # a Kalman filter keeps only the current state


def test_take_copies_the_graph_and_leaves_the_original():
    with ds.System(3, np.random.default_rng(3)):
        x1 = ds.gaussian(np.array([0.0, 1.0, 2.0]), 1.0)
        x2 = ds.gaussian(x1, 1.0)
        graft(x2)
        state = {"x1": x1, "x2": x2, "w": np.array([10.0, 11.0, 12.0])}
        new = take(state, np.array([2, 2, 0]))
        assert new["x2"].parent is new["x1"] and new["x1"].child is new["x2"]
        np.testing.assert_allclose(new["x1"].marginal.mean[:, 0], [2.0, 2.0, 0.0])
        np.testing.assert_allclose(new["w"], [12.0, 12.0, 10.0])
        np.testing.assert_allclose(x1.marginal.mean[:, 0], [0.0, 1.0, 2.0])  # untouched


def test_delay_off_samples_from_the_prior():
    with ds.System(2, np.random.default_rng(4), delay=False):
        x1 = ds.gaussian(0.0, 1.0)
        x2 = ds.gaussian(x1, 1.0)
        assert x1.state is R and x2.parent is None  # the parent was needed by value


def test_without_a_system_the_error_says_how():
    with pytest.raises(ds.ModelError, match="no particle system is active"):
        ds.gaussian(0.0, 1.0)


def test_a_realized_coefficient_keeps_the_gaussian_symbolic():
    """Spike and slab: z * x with z Bernoulli samples z, and x stays marginalized."""
    with ds.System(6, np.random.default_rng(5)) as system:
        z = ds.bernoulli(0.5)
        x = ds.gaussian(0.0, 4.0)
        ds.observe(ds.gaussian(z * x, 0.25), 1.0)
        assert z.state is R and x.state is M
        var = z.realized * 4.0 + 0.25
        np.testing.assert_allclose(system.logw, -0.5 * (np.log(2 * np.pi * var) + 1.0 / var))


def test_a_tree_is_reduced_to_a_chain_by_realizing_the_older_branch():
    """Birch's documented example: x ~ Gamma, y ~ Poisson(x), z ~ Poisson(x).

    Grafting z onto the marginalized x would make a tree of marginalized nodes, so y (x's
    marginalized child) is pruned: realized, and x conditioned on it; then z joins the M-path.
    """
    with ds.System(5, np.random.default_rng(3)):
        x = ds.gamma(2.0, 1.0)
        y = ds.poisson(x)
        z = ds.poisson(x)
        assert states(x, y, z) == [INIT, INIT, INIT]
        graft(y)
        assert states(x, y, z) == [M, M, INIT] and x.child is y
        graft(z)
        assert states(x, y, z) == [M, R, M] and x.child is z
        # x | y is Gamma(2 + y, scale 1 / (1 + 1)): conditioned on the realized branch.
        np.testing.assert_allclose(x.marginal.k, 2.0 + y.realized)
        np.testing.assert_allclose(x.marginal.theta, 0.5)
