"""The samplers are exact, recover known topics, and give one chain whatever the thread count."""

import itertools

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from scipy.special import gammaln

from aether.topics import corpus, synthetic
from aether.topics.model import LDA, SAMPLERS

ALPHA, BETA = 0.5, 0.3


def _exact_posterior(docs: list[list[int]], n_words: int, n_topics: int) -> np.ndarray:
    """p(z | w) over every assignment, by enumeration of the collapsed joint."""
    words = np.concatenate(docs)
    doc_of = np.repeat(np.arange(len(docs)), [len(d) for d in docs])
    logp = []
    for z in itertools.product(range(n_topics), repeat=len(words)):
        z = np.array(z)
        ndk = np.zeros((len(docs), n_topics))
        nwk = np.zeros((n_words, n_topics))
        np.add.at(ndk, (doc_of, z), 1)
        np.add.at(nwk, (words, z), 1)
        lp = (gammaln(ndk + ALPHA) - gammaln(ndk.sum(1, keepdims=True) + n_topics * ALPHA)).sum()
        lp += (gammaln(nwk + BETA).sum(0) - gammaln(nwk.sum(0) + n_words * BETA)).sum()
        logp.append(lp)
    p = np.exp(np.array(logp) - max(logp))
    return p / p.sum()


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_stationary_distribution_matches_enumeration(sampler):
    """Partial collapsing and MH steps must not bias: the z-histogram of a long chain on a
    tiny corpus (V=3, K=2, 7 tokens: 128 states) matches p(z | w) exactly enumerated.

    States are compared up to label switching (z and 1 - z are equally probable), which the
    chain crosses only slowly: folding them keeps the Monte Carlo error small."""
    docs = [[0, 0, 1], [1, 2], [2, 2]]
    n_words, n_topics, n_iter = 3, 2, 40000
    exact = _exact_posterior(docs, n_words, n_topics)
    ptr = np.cumsum([0] + [len(d) for d in docs])
    tokens = corpus.from_arrays(ptr, np.concatenate(docs), n_words)
    model = LDA(tokens, n_topics, alpha=ALPHA, beta=BETA, sampler=sampler, seed=11)
    weights = n_topics ** np.arange(tokens.n_tokens)[::-1]
    states = []
    model.train(
        n_iter, every=n_iter, callback=lambda m: states.append(int((m.z ^ m.z[0]) @ weights))
    )
    freq = np.bincount(states, minlength=exact.size) / n_iter
    half = exact.size // 2  # the states with z_0 = 0, each paired with its flip
    folded = exact[:half] + exact[half:][::-1]
    assert 0.5 * np.abs(freq[:half] - folded).sum() < 0.025  # total variation: about 0.01 expected
    assert np.abs(freq[:half] - folded).max() < 0.01


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_recovers_synthetic_topics(sampler):
    counts, phi = synthetic.draw_corpus(300, 200, 10, 100, alpha=0.1, beta=0.05, seed=1)
    model = LDA(corpus.from_counts(counts), 10, alpha=0.1, beta=0.05, sampler=sampler, seed=3)
    initial = model.log_joint()
    model.train(150, every=50)
    est = model.topic_word()
    cos = (est / np.linalg.norm(est, axis=1, keepdims=True)) @ (
        phi / np.linalg.norm(phi, axis=1, keepdims=True)
    ).T
    rows, cols = linear_sum_assignment(-cos)
    assert cos[rows, cols].mean() > 0.9
    assert model.log_joint_trace[-1] > initial + 1.0


@pytest.mark.parametrize("sampler", ["pclda", "pclda_light"])
def test_bit_identical_across_thread_counts(sampler):
    counts, _ = synthetic.draw_corpus(400, 300, 20, 60, alpha=0.2, beta=0.05, seed=5)
    tokens = corpus.from_counts(counts)
    runs = []
    for threads in (1, 2, 1):
        model = LDA(tokens, 20, sampler=sampler, seed=7, threads=threads)
        model.train(10)
        runs.append(model)
    for other in runs[1:]:
        assert np.array_equal(runs[0].z, other.z)
        assert np.array_equal(runs[0].phi, other.phi)
        assert runs[0].log_joint_trace == other.log_joint_trace


def test_seed_changes_the_chain_and_only_the_seed():
    counts, _ = synthetic.draw_corpus(50, 40, 5, 30, alpha=0.2, beta=0.1, seed=2)
    tokens = corpus.from_counts(counts)

    def run(seed):
        model = LDA(tokens, 5, sampler="sparselda", seed=seed)
        model.train(5)
        return model.z

    assert np.array_equal(run(1), run(1))
    assert not np.array_equal(run(1), run(2))
