"""Sparse-compiler fixtures: an isolated kernel cache and a runtime that always compiles."""

from __future__ import annotations

import os

import numpy as np
import pytest

from aether.sparse import runtime


@pytest.fixture(scope="session", autouse=True)
def kernel_cache(tmp_path_factory):
    """Generated kernels go to a fresh directory: the suite sees a cold cache, as CI does."""
    path = tmp_path_factory.mktemp("kernels")
    old = os.environ.get("AETHER_SPARSE_CACHE")
    os.environ["AETHER_SPARSE_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("AETHER_SPARSE_CACHE", None)
    else:
        os.environ["AETHER_SPARSE_CACHE"] = old


@pytest.fixture(scope="session")
def always_sparse():
    """A runtime whose dense crossover is out of reach: every call compiles a kernel."""
    return runtime.Runtime(crossover=2.0)


@pytest.fixture
def frontend_sparse(monkeypatch):
    """The process-wide runtime (what `@` and the nn modules use), always compiling."""
    monkeypatch.setattr(runtime.RUNTIME, "crossover", 2.0)
    return runtime.RUNTIME


def _random_dense(rng: np.random.Generator, shape, density: float, dtype=np.float64):
    a = rng.standard_normal(shape).astype(dtype)
    a[rng.random(shape) >= density] = 0
    return a


@pytest.fixture(scope="session")
def random_dense():
    """``random_dense(rng, shape, density, dtype)``: a dense array with that many nonzeros."""
    return _random_dense
