"""Datasets: a registry of sources, verified fetching, and reproducible prepared forms.

``prepare(name, raw_dir, out_dir)`` fetches a dataset (mirror first, then its canonical
source) and converts it into ``out_dir/<name>/``; the ``read_*`` functions load that form.
"""

from aether.data.corpus import Corpus, read_corpus
from aether.data.counts import read_counts
from aether.data.errors import (
    ChecksumMismatchError,
    DataError,
    MalformedDataError,
    MissingSourceError,
    UnknownDatasetError,
)
from aether.data.fetch import fetch, fetch_file, mirror_dir
from aether.data.graph import Graph, read_graph
from aether.data.matrix import Matrix, read_matrix
from aether.data.prepare import convert, prepare
from aether.data.registry import DATASETS, Dataset, SourceFile, get
from aether.data.table import read_table
from aether.data.tensor import SparseTensor, read_tensor
from aether.data.theory import Theories, read_theories

__all__ = [
    "DATASETS",
    "ChecksumMismatchError",
    "Corpus",
    "DataError",
    "Dataset",
    "Graph",
    "MalformedDataError",
    "Matrix",
    "MissingSourceError",
    "SourceFile",
    "SparseTensor",
    "Theories",
    "UnknownDatasetError",
    "convert",
    "fetch",
    "fetch_file",
    "get",
    "mirror_dir",
    "prepare",
    "read_corpus",
    "read_counts",
    "read_graph",
    "read_matrix",
    "read_table",
    "read_tensor",
    "read_theories",
]
