"""BM25 retrieval over a passage pool (bm25s: sparse-matrix BM25, no model weights)."""

from __future__ import annotations

from collections.abc import Sequence


class BM25Retriever:
    """Top-k passages for a query. Shared, not copied, when a program is deep-copied: the index
    is data, not a parameter an optimizer changes."""

    def __init__(self, passages: Sequence[str], k: int = 3) -> None:
        import bm25s

        self._bm25s = bm25s
        self.passages = list(dict.fromkeys(passages))
        self.k = k
        self._index = bm25s.BM25()
        tokens = bm25s.tokenize(self.passages, stopwords="en", show_progress=False)
        self._index.index(tokens, show_progress=False)

    def __call__(self, query: str, k: int | None = None) -> list[str]:
        k = min(k or self.k, len(self.passages))
        tokens = self._bm25s.tokenize([query or " "], stopwords="en", show_progress=False)
        if not tokens.vocab:  # nothing but stopwords: no evidence rather than an error
            return []
        docs, _ = self._index.retrieve(tokens, k=k, show_progress=False)
        return [self.passages[i] for i in docs[0]]

    def __deepcopy__(self, memo: dict) -> BM25Retriever:
        return self
