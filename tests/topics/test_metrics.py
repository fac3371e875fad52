"""Metrics: inefficiency of a known process, coherence bounds, held-out likelihood sanity."""

import numpy as np
import scipy.sparse as sp

from aether.topics import corpus, metrics, rng, synthetic
from aether.topics.likelihood import log_joint_counts
from aether.topics.model import LDA


def test_inefficiency_of_an_ar1_chain():
    """For AR(1) with coefficient a, τ = (1 + a) / (1 - a): 3 for a = 0.5."""
    gen = np.random.default_rng(0)
    x = np.zeros(100_000)
    noise = gen.standard_normal(x.size)
    for t in range(1, x.size):
        x[t] = 0.5 * x[t - 1] + noise[t]
    assert abs(metrics.inefficiency(x) - 3.0) < 0.2
    assert abs(metrics.inefficiency(noise) - 1.0) < 0.1
    assert abs(metrics.effective_sample_size(noise) - noise.size) < 0.1 * noise.size


def test_gamma_draws_have_the_right_moments():
    """Both Gamma paths (shape < 1 for zero counts, >= 1 otherwise): mean = var = shape."""
    for shape in (0.01, 0.3, 1.0, 7.5):
        stream, counter, draws = rng.key(1, 9, 0, 0), 0, []
        for _ in range(40_000):
            x, counter = rng.gamma(shape, stream, counter)
            draws.append(x)
        draws = np.array(draws)
        assert abs(draws.mean() - shape) < 5 * np.sqrt(shape / draws.size)
        assert abs(draws.var() / shape - 1) < 0.15


def test_npmi_is_one_for_words_that_always_co_occur():
    counts = sp.csr_array(np.array([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]]))
    topic_word = np.array([[0.5, 0.5, 0.0, 0.0], [0.5, 0.0, 0.5, 0.0]])
    scores = metrics.npmi_coherence(topic_word, counts, n=2)
    assert scores[0] == 1.0 and scores[1] == -1.0


def test_trained_topics_predict_held_out_words_better_than_uniform():
    counts, phi = synthetic.draw_corpus(240, 150, 8, 80, alpha=0.1, beta=0.05, seed=4)
    train, test = corpus.from_counts(counts[:200]), corpus.from_counts(counts[200:])
    model = LDA(train, 8, alpha=0.1, beta=0.05, sampler="sparselda", seed=1)
    model.train(60, every=60)
    fitted = metrics.heldout_log_likelihood(model.topic_word(), test, 0.1, sweeps=20, burn=5)
    truth = metrics.heldout_log_likelihood(phi, test, 0.1, sweeps=20, burn=5)
    assert fitted > -np.log(150) + 1.0  # far better than a uniform distribution over words
    assert abs(fitted - truth) < 0.15
    assert fitted == metrics.heldout_log_likelihood(
        model.topic_word(), test, 0.1, sweeps=20, burn=5
    )


def test_log_joint_from_counts_matches_the_compiled_one():
    """Peers' states are scored with log_joint_counts: it must agree with the samplers' own."""
    counts, _ = synthetic.draw_corpus(50, 40, 5, 30, alpha=0.2, beta=0.1, seed=2)
    tokens = corpus.from_counts(counts)
    model = LDA(tokens, 5, alpha=0.2, beta=0.1, sampler="pclda")
    model.train(3)
    docs = np.repeat(np.arange(tokens.n_docs), tokens.doc_lengths)
    ndk = np.zeros((tokens.n_docs, 5))
    np.add.at(ndk, (docs, model.z), 1.0)
    total = log_joint_counts(ndk, model.nwk.astype(float), 0.2, 0.1)
    assert np.isclose(total / tokens.n_tokens, model.log_joint_trace[-1], rtol=1e-12)
