"""Planetoid citation graphs with Kipf & Welling's standard (GCN) preprocessing.

Prepared form: ``adjacency.npz`` (symmetric 0/1 CSR, float32, self-loops as in the source),
``features.npz`` (CSR float32; absent when the source lacks ``allx``), ``labels.npy`` (int64,
-1 where a node has no label) and ``splits.npz`` (``train``, ``val``, ``test`` node ids).
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from aether.data import safe_pickle
from aether.data._io import Stats, load_csr, save_arrays, save_csr
from aether.data.errors import MalformedDataError
from aether.data.registry import Dataset


@dataclass(frozen=True)
class Graph:
    adjacency: sp.csr_array
    features: sp.csr_array | None
    labels: np.ndarray
    idx_train: np.ndarray
    idx_val: np.ndarray
    idx_test: np.ndarray


def read_graph(directory: Path) -> Graph:
    """Load a graph prepared by `convert` (the ``out_dir/<name>`` folder)."""
    splits = np.load(directory / "splits.npz")
    features = directory / "features.npz"
    return Graph(
        adjacency=load_csr(directory / "adjacency.npz"),
        features=load_csr(features) if features.is_file() else None,
        labels=np.load(directory / "labels.npy"),
        idx_train=splits["train"],
        idx_val=splits["val"],
        idx_test=splits["test"],
    )


def build(
    dataset: Dataset, files: dict[str, Path], out: Path, *, seed: int, test_fraction: float
) -> tuple[Stats, dict[str, object]]:
    """Write the prepared graph; the split is Planetoid's fixed one (seed is not used)."""
    prefix = f"/ind.{dataset.name}."
    parts = {p.split(prefix, 1)[1]: f for p, f in files.items() if prefix in p}
    test_index = _read_index(parts["test.index"])
    test_sorted = np.sort(test_index)
    y, ty, ally = (np.asarray(safe_pickle.load(parts[s])) for s in ("y", "ty", "ally"))
    # Citeseer's test ids have gaps (isolated nodes missing from tx/ty): pad with zero rows so
    # row i of the padded block is node test_sorted.min() + i, as Kipf does.
    span = test_sorted.max() - test_sorted.min() + 1
    slots = test_sorted - test_sorted.min()
    ty_full = np.zeros((span, ty.shape[1]), dtype=ty.dtype)
    ty_full[slots] = ty
    onehot = np.vstack([ally, ty_full])
    onehot[test_index] = onehot[test_sorted]
    labels = np.where(onehot.any(axis=1), onehot.argmax(axis=1), -1).astype(np.int64)
    n_nodes = len(labels)

    stats: Stats = {"nodes": n_nodes, "classes": ty.shape[1]}
    notes: dict[str, object] = {
        "preprocessing": "Kipf & Welling (2017): features = allx stacked with tx reordered by "
        "test.index; labels = argmax of one-hot (-1 when all zero); idx_train = range(len(y)), "
        "idx_val = next 500, idx_test = sorted test.index"
    }
    if "allx" in parts:
        allx, tx = (sp.csr_array(safe_pickle.load(parts[s])) for s in ("allx", "tx"))
        place = sp.csr_array(
            (np.ones(len(slots), dtype=np.float32), (slots, np.arange(len(slots)))),
            shape=(span, len(slots)),
        )
        features = sp.vstack([allx, place @ tx]).tocsr().astype(np.float32)
        features = features[_permutation(n_nodes, test_index, test_sorted)]
        features.sort_indices()
        save_csr(out / "features.npz", features)
        stats["features"] = features.shape[1]
    else:
        notes["features"] = f"not prepared: the mirror has no ind.{dataset.name}.allx"

    adjacency = _adjacency(safe_pickle.load(parts["graph"]), n_nodes, parts["graph"])
    save_csr(out / "adjacency.npz", adjacency)
    np.save(out / "labels.npy", labels)
    train = np.arange(len(y))
    val = np.arange(len(y), len(y) + 500)
    save_arrays(out / "splits.npz", train=train, val=val, test=test_sorted)
    self_loops = int(adjacency.diagonal().sum())
    stats |= {
        "adjacency_nnz": adjacency.nnz,
        "edges": (adjacency.nnz - self_loops) // 2,
        "self_loops": self_loops,
        "unlabelled": int((labels < 0).sum()),
        "train": len(train),
        "val": len(val),
        "test": len(test_sorted),
    }
    cites = next((f for p, f in files.items() if p.endswith(".cites")), None)
    if cites is not None:
        stats["cites_lines"] = sum(1 for line in cites.read_text().split("\n") if line.strip())
        notes["cites"] = "the raw citation list (paper ids), kept with the raw files only"
    return stats, notes


def _read_index(path: Path) -> np.ndarray:
    try:
        return np.array(path.read_text().split(), dtype=np.int64)
    except ValueError as e:
        raise MalformedDataError(f"{path} should hold one node id per line: {e}") from None


def _permutation(n: int, test_index: np.ndarray, test_sorted: np.ndarray) -> np.ndarray:
    """Row order that applies ``rows[test_index] = rows[test_sorted]`` as an indexing array."""
    order = np.arange(n)
    order[test_index] = test_sorted
    return order


def _adjacency(graph: object, n_nodes: int, origin: Path) -> sp.csr_array:
    if not isinstance(graph, dict):
        raise MalformedDataError(f"{origin} should hold a dict of adjacency lists")
    src = np.repeat(np.fromiter(graph.keys(), dtype=np.int64), [len(v) for v in graph.values()])
    dst = np.fromiter((d for v in graph.values() for d in v), dtype=np.int64, count=len(src))
    if src.size and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= n_nodes):
        raise MalformedDataError(f"{origin} names nodes outside 0..{n_nodes - 1}")
    rows, cols = np.concatenate([src, dst]), np.concatenate([dst, src])
    adjacency = sp.coo_array(
        (np.ones(rows.size, dtype=np.float32), (rows, cols)), shape=(n_nodes, n_nodes)
    ).tocsr()
    adjacency.sum_duplicates()
    adjacency.data[:] = 1.0  # an edge listed twice (or both ways) is still one edge
    return adjacency
