"""Text corpora as document-term count matrices (topic models consume bags of words).

Prepared form: ``train.npz``/``test.npz`` (CSR, int32 counts, documents x vocabulary),
``vocab.txt`` (one word per line, row = column id), and for labelled corpora
``labels_train.npy``/``labels_test.npy`` (int codes) with ``label_names.txt``.
"""

import gzip
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from aether.data._io import Stats, load_csr, save_csr
from aether.data.errors import MalformedDataError
from aether.data.registry import Dataset


@dataclass(frozen=True)
class Corpus:
    train: sp.csr_array
    test: sp.csr_array
    vocab: list[str]
    labels_train: np.ndarray | None = None
    labels_test: np.ndarray | None = None
    label_names: list[str] | None = None


def read_corpus(directory: Path) -> Corpus:
    """Load a corpus prepared by `convert` (the ``out_dir/<name>`` folder)."""
    labelled = (directory / "labels_train.npy").is_file()
    return Corpus(
        train=load_csr(directory / "train.npz"),
        test=load_csr(directory / "test.npz"),
        vocab=_read_lines(directory / "vocab.txt"),
        labels_train=np.load(directory / "labels_train.npy") if labelled else None,
        labels_test=np.load(directory / "labels_test.npy") if labelled else None,
        label_names=_read_lines(directory / "label_names.txt") if labelled else None,
    )


def build(
    dataset: Dataset, files: dict[str, Path], out: Path, *, seed: int, test_fraction: float
) -> tuple[Stats, dict[str, object]]:
    """Write the prepared corpus into `out`; LDA-C corpora are split at random by `seed`."""
    if dataset.name == "20news":
        corpus = _newsgroups(files)
        notes: dict[str, object] = {
            "split": "the source's own train/test files; test words not in the train "
            "vocabulary are dropped",
            "vocabulary": "sorted whitespace tokens of the training documents",
        }
    else:
        counts_path = next(f for p, f in files.items() if p.endswith((".ldac", ".dat")))
        vocab_path = next(f for p, f in files.items() if p.endswith((".tokens", "vocab.txt")))
        vocab = [w.strip() for w in _read_lines(vocab_path)]
        if not all(vocab):
            raise MalformedDataError(f"{vocab_path} has an empty line; expected one word per line")
        counts = read_ldac(counts_path, len(vocab))
        test = _split(counts.shape[0], seed, test_fraction)
        corpus = Corpus(counts[~test], counts[test], vocab)
        notes = {"split": f"documents split at random: test_fraction={test_fraction}, seed={seed}"}

    save_csr(out / "train.npz", corpus.train)
    save_csr(out / "test.npz", corpus.test)
    (out / "vocab.txt").write_text("".join(w + "\n" for w in corpus.vocab))
    used = (corpus.train.sum(axis=0) + corpus.test.sum(axis=0)) > 0
    stats: Stats = {
        "docs_train": corpus.train.shape[0],
        "docs_test": corpus.test.shape[0],
        "vocab_size": len(corpus.vocab),
        "vocab_used": int(used.sum()),
        "tokens_train": int(corpus.train.sum()),
        "tokens_test": int(corpus.test.sum()),
    }
    stats["tokens"] = stats["tokens_train"] + stats["tokens_test"]
    if corpus.label_names is not None:
        np.save(out / "labels_train.npy", corpus.labels_train)
        np.save(out / "labels_test.npy", corpus.labels_test)
        (out / "label_names.txt").write_text("".join(n + "\n" for n in corpus.label_names))
        stats["labels"] = len(corpus.label_names)
    return stats, notes


def read_ldac(path: Path, vocab_size: int) -> sp.csr_array:
    """Parse LDA-C (``N id:count ...`` per document, 0-based ids) into a CSR count matrix."""
    heads, rests = [], []
    for lineno, line in enumerate(_read_lines(path), 1):
        parts = line.split(None, 1)
        if not parts:
            raise MalformedDataError(f"{path}:{lineno} is blank; expected 'N id:count ...'")
        heads.append(parts[0])
        rests.append(parts[1] if len(parts) > 1 else "")
    try:
        declared = np.array(heads, dtype=np.int64)
        numbers = np.array(" ".join(rests).replace(":", " ").split(), dtype=np.int64)
    except ValueError as e:
        raise MalformedDataError(f"{path} is not LDA-C ('N id:count ...' per line): {e}") from None
    found = np.array([r.count(":") for r in rests], dtype=np.int64)
    bad = np.flatnonzero(found != declared)
    if bad.size or numbers.size != 2 * declared.sum():
        line = bad[0] + 1 if bad.size else "?"
        raise MalformedDataError(
            f"{path}:{line} declares a different number of id:count pairs than it holds; "
            "the file is truncated or garbled"
        )
    ids, counts = numbers[0::2], numbers[1::2]
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size or counts.min() < 0):
        raise MalformedDataError(
            f"{path} has word ids outside 0..{vocab_size - 1} or negative counts; "
            "check that it matches its vocabulary file"
        )
    indptr = np.concatenate([[0], np.cumsum(declared)])
    matrix = sp.csr_array(
        (counts.astype(np.int32), ids.astype(np.int32), indptr), shape=(len(declared), vocab_size)
    )
    matrix.sum_duplicates()
    return matrix


def _split(n: int, seed: int, test_fraction: float) -> np.ndarray:
    """A boolean test mask over `n` documents; document order is kept within each side."""
    test = np.zeros(n, dtype=bool)
    test[np.random.default_rng(seed).permutation(n)[: round(n * test_fraction)]] = True
    return test


def _newsgroups(files: dict[str, Path]) -> Corpus:
    train_path = next(f for p, f in files.items() if p.endswith("-train.tab.gz"))
    test_path = next(f for p, f in files.items() if p.endswith("-test.tab.gz"))
    train_labels, train_docs = _read_tab(train_path)
    test_labels, test_docs = _read_tab(test_path)
    vocab = sorted(set(chain.from_iterable(train_docs)))
    names = sorted(set(train_labels))
    codes = pd.Index(names)
    if (codes.get_indexer(test_labels) < 0).any():
        raise MalformedDataError(f"{test_path} has categories that {train_path} lacks")
    return Corpus(
        _count_matrix(train_docs, vocab),
        _count_matrix(test_docs, vocab),
        vocab,
        codes.get_indexer(train_labels).astype(np.int64),
        codes.get_indexer(test_labels).astype(np.int64),
        names,
    )


def _read_tab(path: Path) -> tuple[list[str], list[list[str]]]:
    """Orange ``.tab`` (3 header lines, then ``category<TAB>text``), gzipped or not."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":  # the mirror stores it gzipped, the package does not
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise MalformedDataError(f"{path} is a damaged gzip file: {e}") from None
    lines = raw.decode("utf-8").split("\n")
    labels, docs = [], []
    for lineno, line in enumerate(lines[3:], 4):
        if not line.strip():
            continue
        label, tab, text = line.partition("\t")
        if not tab:
            raise MalformedDataError(f"{path}:{lineno} has no TAB; expected 'category<TAB>text'")
        labels.append(label)
        docs.append(text.split())
    return labels, docs


def _count_matrix(docs: list[list[str]], vocab: list[str]) -> sp.csr_array:
    """Documents' tokens as counts over `vocab`; tokens outside it are dropped."""
    ids = pd.Index(vocab).get_indexer(list(chain.from_iterable(docs)))
    rows = np.repeat(np.arange(len(docs)), [len(d) for d in docs])
    keep = ids >= 0
    matrix = sp.coo_array(
        (np.ones(keep.sum(), dtype=np.int32), (rows[keep], ids[keep])),
        shape=(len(docs), len(vocab)),
    ).tocsr()
    matrix.sum_duplicates()
    return matrix


def _read_lines(path: Path) -> list[str]:
    """Lines split on newlines only (str.splitlines would also split on rarer separators)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines
