"""Corpora as flat token arrays: what the samplers iterate over.

Document d's tokens are ``words[doc_ptr[d]:doc_ptr[d + 1]]`` (int32 word ids); the word index
(``word_ptr``, ``word_tokens``) lists each word's tokens, so topic-word counts can be rebuilt
in parallel over words with no two threads writing the same row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp


class CorpusError(ValueError):
    """A corpus the samplers cannot use: empty documents, bad word ids, no tokens."""


@dataclass(frozen=True)
class Tokens:
    doc_ptr: np.ndarray  # int64, n_docs + 1
    words: np.ndarray  # int32, n_tokens
    n_words: int  # vocabulary size V
    word_ptr: np.ndarray = field(repr=False)  # int64, V + 1
    word_tokens: np.ndarray = field(repr=False)  # int64, tokens grouped by word

    @property
    def n_docs(self) -> int:
        return len(self.doc_ptr) - 1

    @property
    def n_tokens(self) -> int:
        return len(self.words)

    @property
    def doc_lengths(self) -> np.ndarray:
        return np.diff(self.doc_ptr)


def from_arrays(doc_ptr: np.ndarray, words: np.ndarray, n_words: int) -> Tokens:
    """Validate flat arrays and add the word index."""
    doc_ptr = np.ascontiguousarray(doc_ptr, dtype=np.int64)
    words = np.ascontiguousarray(words, dtype=np.int32)
    if n_words < 1:
        raise CorpusError(f"vocabulary size must be >= 1, got {n_words}")
    if doc_ptr.ndim != 1 or len(doc_ptr) < 2 or doc_ptr[0] != 0 or doc_ptr[-1] != len(words):
        raise CorpusError("doc_ptr must start at 0 and end at the number of tokens")
    lengths = np.diff(doc_ptr)
    if (lengths <= 0).any():
        empty = np.flatnonzero(lengths <= 0)
        raise CorpusError(
            f"{empty.size} document(s) are empty (first: {empty[0]}); drop them before "
            "sampling (from_counts(..., drop_empty=True))"
        )
    if words.min() < 0 or words.max() >= n_words:
        raise CorpusError(
            f"word ids must lie in 0..{n_words - 1}, found {words.min()}..{words.max()}: "
            "the corpus does not match its vocabulary"
        )
    order = np.argsort(words, kind="stable")
    word_ptr = np.zeros(n_words + 1, dtype=np.int64)
    np.cumsum(np.bincount(words, minlength=n_words), out=word_ptr[1:])
    return Tokens(doc_ptr, words, int(n_words), word_ptr, order.astype(np.int64))


def from_counts(counts: sp.sparray | sp.spmatrix, *, drop_empty: bool = False) -> Tokens:
    """Expand a documents x vocabulary count matrix (CSR) into token arrays.

    Empty documents are an error unless `drop_empty`: LDA's likelihood is unaffected by them,
    but silently renumbering documents would misalign θ with the caller's rows.
    """
    csr = sp.csr_array(counts)
    csr.sum_duplicates()
    if csr.nnz and csr.data.min() < 0:
        raise CorpusError("the count matrix has negative counts")
    lengths = np.asarray(csr.sum(axis=1)).ravel().astype(np.int64)
    if drop_empty:
        csr = csr[lengths > 0]
        lengths = lengths[lengths > 0]
    if csr.shape[0] == 0:
        raise CorpusError("the corpus has no non-empty documents")
    words = np.repeat(csr.indices.astype(np.int32), csr.data.astype(np.int64))
    doc_ptr = np.concatenate([[0], np.cumsum(lengths)])
    return from_arrays(doc_ptr, words, csr.shape[1])


def split_halves(tokens: Tokens) -> tuple[Tokens, Tokens]:
    """Each document's even-position tokens and odd-position tokens (document completion).

    Documents of one token keep it in the first half and have an empty second half, so the
    second half may hold empty documents; it is only scored, never sampled.
    """
    pos = np.arange(tokens.n_tokens) - np.repeat(tokens.doc_ptr[:-1], tokens.doc_lengths)
    first = pos % 2 == 0
    n_first = (tokens.doc_lengths + 1) // 2
    ptr1 = np.concatenate([[0], np.cumsum(n_first)])
    ptr2 = np.concatenate([[0], np.cumsum(tokens.doc_lengths - n_first)])
    w1, w2 = tokens.words[first], tokens.words[~first]
    observed = from_arrays(ptr1, w1, tokens.n_words)
    held_out = Tokens(ptr2, w2, tokens.n_words, np.zeros(1, np.int64), np.zeros(0, np.int64))
    return observed, held_out
