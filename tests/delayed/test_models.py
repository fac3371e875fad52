"""The linear-nonlinear model against its hand-written RBPF, and the dengue model on real data."""

import numpy as np
import pytest

import aether.data
from aether import delayed as ds
from aether.delayed.models import dengue, lnssm


def test_lnssm_equals_the_handwritten_rbpf():
    """Same random stream, same filter: the graph adds no approximation."""
    ys = lnssm.simulate(30, seed=1)
    for n in (1, 16, 64):
        generic = ds.particle_filter(lnssm.LinearNonlinear(ys), n, seed=n).log_z
        assert abs(generic - lnssm.handwritten_rbpf(ys, n, seed=n)) < 1e-6 * abs(generic)


def test_lnssm_delayed_sampling_cuts_variance_tenfold():
    model = lnssm.LinearNonlinear(lnssm.simulate(30, seed=2))
    on = [ds.particle_filter(model, 64, seed=s).log_z for s in range(30)]
    off = [ds.particle_filter(model, 64, seed=s, delay=False).log_z for s in range(30)]
    assert np.var(off) > 10 * np.var(on)


@pytest.fixture(scope="module")
def yap(tmp_path_factory):
    root = tmp_path_factory.mktemp("dengue")
    aether.data.prepare("dengue", root / "raw", root / "prepared")
    series = aether.data.read_counts(root / "prepared" / "dengue")
    return dengue.cases_from(series["yap_dengue_weekly"])


def test_dengue_marginalizes_every_rate_and_fits(yap):
    model = dengue.YapDengue(yap[:8], days_per_step=7)
    result = ds.particle_filter(model, 64, seed=0, method="alive", monitor=model.monitor)
    assert np.isfinite(result.log_z)
    theta = result.state["theta"]
    assert all(v.state is ds.State.MARGINALIZED for v in theta.values())  # never sampled
    summary = dengue.parameter_summary(result.state, result.log_weights)
    assert set(summary) == set(dengue.PRIORS)
    assert all(0 < s["mean"] < 1 and s["sd"] > 0 for s in summary.values())
    assert len(result.trace["expected_cases"]) == 8


def test_dengue_delayed_sampling_reduces_variance(yap):
    model = dengue.YapDengue(yap[:6], days_per_step=7)
    on = [ds.particle_filter(model, 32, seed=s, method="alive").log_z for s in range(12)]
    off = [
        ds.particle_filter(model, 32, seed=s, method="alive", delay=False).log_z for s in range(12)
    ]
    assert np.isfinite(on).all()
    off = np.array(off)[np.isfinite(off)]
    assert np.var(off) > 2 * np.var(on)


def test_dengue_whole_series_survives_under_the_importance_sampler(yap):
    """28 weeks: one draw of the initial conditions per group of 4 particles (8 draws)."""
    model = dengue.YapDengue(yap, days_per_step=7)
    for seed in range(2):
        result = ds.particle_filter(model, 4, seed=seed, method="alive", groups=8)
        assert np.isfinite(result.log_z) and len(result.log_z_steps) == len(yap) == 28
        assert (result.state["h"].sum(-1) == model.population).all()  # humans are conserved
    summary = dengue.parameter_summary(result.state, result.log_weights)
    assert all(0 < s["mean"] < 1 for s in summary.values())


def test_dengue_series_must_have_counts():
    import pandas as pd

    with pytest.raises(ds.ModelError, match="columns t and cases"):
        dengue.cases_from(pd.DataFrame({"x": [1]}))
