"""The file parsers on small synthetic inputs, including the ways real files go wrong."""

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from aether.data import MalformedDataError
from aether.data.corpus import read_ldac
from aether.data.counts import read_series
from aether.data.matrix import read_mtx, read_triplets
from aether.data.tensor import read_tns


@settings(max_examples=50, deadline=None)
@given(
    dense=arrays(
        np.int32, st.tuples(st.integers(1, 6), st.integers(1, 8)), elements=st.integers(0, 5)
    )
)
def test_ldac_round_trip(dense: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> None:
    lines = []
    for row in dense:
        ids = np.flatnonzero(row)
        lines.append(" ".join([str(len(ids))] + [f"{i}:{row[i]}" for i in ids]))
    path = tmp_path_factory.mktemp("ldac") / "c.ldac"
    path.write_text("\n".join(lines) + "\n")
    matrix = read_ldac(path, dense.shape[1])
    assert matrix.dtype == np.int32 and (matrix.toarray() == dense).all()


@pytest.mark.parametrize(
    "text",
    ["2 0:1\n", "1 0:1\n\n1 1:1\n", "1 0:x\n", "1 9:1\n", "1 0:1 1:1\n"],
    ids=["too-few-pairs", "blank-line", "not-a-number", "id-out-of-range", "too-many-pairs"],
)
def test_ldac_errors(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.ldac"
    path.write_text(text)
    with pytest.raises(MalformedDataError, match=str(path)):
        read_ldac(path, 3)


def test_triplets_one_triangle_is_expanded(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("0 0 4\n1 0 -1\n1 1 4\n2 1 -1\n2 2 4\n")
    matrix, expanded = read_triplets(path)
    assert expanded
    assert matrix.toarray().tolist() == [[4, -1, 0], [-1, 4, -1], [0, -1, 4]]
    path.write_text("0 1 2\n1 0 3\n")
    general, expanded = read_triplets(path)
    assert not expanded and general.toarray().tolist() == [[0, 2], [3, 0]]


def test_triplets_errors(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("0 0 1\n1 1\n")
    with pytest.raises(MalformedDataError, match="incomplete"):
        read_triplets(path)


def test_mtx_pattern_symmetric_and_truncated(tmp_path: Path) -> None:
    path = tmp_path / "m.mtx"
    path.write_text("%%MatrixMarket matrix coordinate pattern symmetric\n3 3 2\n2 1\n3 3\n")
    matrix = read_mtx(path)
    assert isinstance(matrix, sp.csr_array) and matrix.dtype == np.float64
    assert matrix.toarray().tolist() == [[0, 1, 0], [1, 0, 0], [0, 0, 1]]
    path.write_text("%%MatrixMarket matrix coordinate real general\n3 3 3\n1 1 1.0\n2 2")
    with pytest.raises(MalformedDataError, match="truncated or garbled"):
        read_mtx(path)


def test_tns(tmp_path: Path) -> None:
    path = tmp_path / "t.tns"
    path.write_text("1 2 3 7\n2 1 1 8.5\n")
    tensor = read_tns(path)
    assert tensor.coords.tolist() == [[0, 1, 2], [1, 0, 0]]
    assert tensor.values.tolist() == [7.0, 8.5] and tensor.shape == (2, 2, 3)
    path.write_text("1 2 3 7\n0 1 1 8\n")
    with pytest.raises(MalformedDataError, match="1-based"):
        read_tns(path)
    path.write_text("1 2 3 7\n1 1 8\n")
    with pytest.raises(MalformedDataError, match="missing fields"):
        read_tns(path)


def test_count_series_layouts(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text("[{}, 1, null, 3]")
    assert read_series(path) == [1, None, 3]
    path.write_text('{"x": [0, 2]}')
    assert read_series(path) == [0, 2]
    path.write_text('{"x": [0, -2]}')
    with pytest.raises(MalformedDataError, match="non-negative"):
        read_series(path)
    path.write_text("[1, 2]")
    with pytest.raises(MalformedDataError, match="Birch"):
        read_series(path)
