"""PC-LDA sharded over real Dask worker processes gives the threaded chain, bit for bit."""

import numpy as np
import pytest
from distributed import Client, LocalCluster

from aether.topics import corpus, sharded, synthetic
from aether.topics.model import LDA, ModelError
from aether.topics.sharded import ShardedLDA


@pytest.fixture(scope="module")
def client():
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def tokens():
    counts, _ = synthetic.draw_corpus(400, 300, 20, 60, alpha=0.2, beta=0.05, seed=5)
    return corpus.from_counts(counts)


@pytest.mark.parametrize("sampler", ["pclda", "pclda_light"])
@pytest.mark.parametrize("n_shards", [None, 3])
def test_sharded_chain_is_the_threaded_chain(client, tokens, sampler, n_shards):
    threaded = LDA(tokens, 20, sampler=sampler, seed=7, threads=2)
    threaded.train(6)
    model = ShardedLDA(tokens, 20, client=client, sampler=sampler, seed=7, n_shards=n_shards)
    model.train(6)
    assert len(model._shards) == (n_shards or 2)
    assert np.array_equal(threaded.z, model.z)
    assert np.array_equal(threaded.nwk, model.nwk)
    assert np.array_equal(threaded.phi, model.phi)
    assert threaded.log_joint_trace == model.log_joint_trace
    np.testing.assert_array_equal(threaded.doc_topic(), model.doc_topic())


def test_split_keeps_every_document_once(tokens):
    chunk_ptr = np.array([0, 50, 100, 200, 300, 400])
    shards = sharded.split(tokens, chunk_ptr, 3)
    assert [s.doc_offset for s in shards] == sorted(s.doc_offset for s in shards)
    assert np.array_equal(np.concatenate([s.words for s in shards]), tokens.words)
    assert sum(len(s.doc_ptr) - 1 for s in shards) == tokens.n_docs


def test_only_pclda_shards(client, tokens):
    with pytest.raises(ModelError, match="only PC-LDA"):
        ShardedLDA(tokens, 20, client=client, sampler="sparselda")
