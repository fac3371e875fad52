"""Chunks claimed from a shared counter: every chunk runs exactly once, for any thread count."""

import numba
import numpy as np
import pytest
from numba import njit, prange

from aether.topics import sched
from aether.topics.model import numba_threads
from aether.topics.pclda import prange_only


@njit(parallel=prange_only())
def _run_chunks(n_chunks):
    runs = np.zeros(n_chunks, dtype=np.int64)
    claimed = np.zeros(1, dtype=np.int64)
    for _lane in prange(sched.lanes(n_chunks)):
        c = sched.claim(claimed)
        while c < n_chunks:
            runs[c] += 1
            c = sched.claim(claimed)
    return runs


@pytest.mark.parametrize("threads", sorted({1, 2, numba.config.NUMBA_NUM_THREADS}))
@pytest.mark.parametrize("n_chunks", [1, 3, sched.LANES, 1000])
def test_every_chunk_runs_once(threads, n_chunks):
    with numba_threads(threads):
        assert np.array_equal(_run_chunks(n_chunks), np.ones(n_chunks, dtype=np.int64))


def test_lanes_never_exceed_chunks_nor_drop_to_zero():
    assert sched.lanes(0) == 1
    assert sched.lanes(5) == 5
    assert sched.lanes(10**6) == sched.LANES
