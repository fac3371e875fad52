"""Corpora as token arrays, and bad input that fails with one clear message."""

import numpy as np
import pytest
import scipy.sparse as sp

from aether.data import MalformedDataError
from aether.data.corpus import read_ldac
from aether.topics import LDA, CorpusError, ModelError, corpus, from_arrays, from_counts


def test_counts_become_tokens_and_a_word_index():
    counts = sp.csr_array(np.array([[2, 0, 1], [0, 3, 0]]))
    tokens = from_counts(counts)
    assert tokens.doc_ptr.tolist() == [0, 3, 6]
    assert tokens.words.tolist() == [0, 0, 2, 1, 1, 1]
    assert tokens.word_ptr.tolist() == [0, 2, 5, 6]
    assert tokens.words[tokens.word_tokens].tolist() == [0, 0, 1, 1, 1, 2]


def test_split_halves_alternate_tokens():
    tokens = from_arrays(np.array([0, 3, 4]), np.array([0, 1, 2, 3]), 4)
    observed, held = corpus.split_halves(tokens)
    assert observed.words.tolist() == [0, 2, 3] and observed.doc_ptr.tolist() == [0, 2, 3]
    assert held.words.tolist() == [1] and held.doc_ptr.tolist() == [0, 1, 1]


def test_empty_documents_are_an_error_unless_dropped():
    counts = sp.csr_array(np.array([[1, 0], [0, 0], [0, 2]]))
    with pytest.raises(CorpusError, match=r"1 document\(s\) are empty \(first: 1\).*drop_empty"):
        from_counts(counts)
    assert from_counts(counts, drop_empty=True).n_docs == 2
    with pytest.raises(CorpusError, match="no non-empty documents"):
        from_counts(sp.csr_array((2, 3), dtype=np.int32), drop_empty=True)


def test_out_of_vocabulary_ids_are_an_error():
    with pytest.raises(CorpusError, match=r"word ids must lie in 0\.\.2, found 0\.\.5"):
        from_arrays(np.array([0, 2]), np.array([0, 5]), 3)
    with pytest.raises(CorpusError, match="doc_ptr"):
        from_arrays(np.array([0, 3]), np.array([0, 1]), 3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_topics": 0}, "n_topics must be >= 1"),
        ({"n_topics": 2, "alpha": -0.1}, "alpha and beta must be > 0"),
        ({"n_topics": 2, "beta": 0.0}, "alpha and beta must be > 0"),
        ({"n_topics": 2, "sampler": "gibbs"}, "unknown sampler 'gibbs'"),
        ({"n_topics": 2, "threads": 999}, "threads must be in 1.."),
    ],
)
def test_invalid_model_settings(kwargs, message):
    tokens = from_arrays(np.array([0, 2]), np.array([0, 1]), 2)
    with pytest.raises(ModelError, match=message):
        LDA(tokens, **kwargs)


def test_malformed_ldac_lines(tmp_path):
    bad = tmp_path / "bad.ldac"
    bad.write_text("2 0:1 1:2\n3 0:1\n")
    with pytest.raises(MalformedDataError, match=r"bad\.ldac:2 declares a different number"):
        read_ldac(bad, 3)
    bad.write_text("1 7:1\n")
    with pytest.raises(MalformedDataError, match=r"word ids outside 0\.\.2"):
        read_ldac(bad, 3)
