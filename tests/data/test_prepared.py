"""Each dataset's prepared form: shapes, known statistics, readers, and reproducibility."""

import json

import numpy as np
import pytest
import scipy.sparse as sp

from aether.data import (
    DATASETS,
    convert,
    read_corpus,
    read_counts,
    read_graph,
    read_matrix,
    read_table,
    read_tensor,
    read_theories,
)

# Numbers from the datasets' documentation where it gives them, else computed from the data
# once and pinned here; a change means the sources or the preprocessing changed.
EXPECTED = {
    "reuters": {"docs_train": 316, "docs_test": 79, "vocab_size": 4258, "tokens": 84010},
    # nyt.tokens lists 3,012 words; 3,002 of them occur (the documented V)
    "nyt": {"docs_train": 6758, "docs_test": 1689, "vocab_size": 3012, "vocab_used": 3002,
            "tokens": 1221626},
    "ap": {"docs_train": 1797, "docs_test": 449, "vocab_size": 10473, "tokens": 435838},
    "20news": {"docs_train": 11293, "docs_test": 7528, "labels": 20, "vocab_size": 73712,
               "tokens": 4967953},
    "cora": {"nodes": 2708, "features": 1433, "classes": 7, "edges": 5278,
             "adjacency_nnz": 10556, "self_loops": 0, "train": 140, "val": 500, "test": 1000},
    # citeseer: 15 isolated test nodes are padded with zero features and label -1
    "citeseer": {"nodes": 3327, "features": 3703, "classes": 6, "edges": 4552,
                 "self_loops": 124, "unlabelled": 15, "train": 120, "test": 1000},
    "pubmed": {"nodes": 19717, "classes": 3, "edges": 44324, "self_loops": 3, "train": 60},
    "ss_west0067": {"rows": 67, "cols": 67, "nnz": 294},
    "ss_bcsstk16": {"rows": 4884, "cols": 4884, "nnz": 290378},  # one triangle, expanded
    "ss_karate": {"rows": 34, "cols": 34, "nnz": 156},  # 78 symmetric entries, both ways
    "ss_lp_afiro": {"rows": 27, "cols": 51, "nnz": 102},
    "ss_groebner_id2003_aug": {"rows": 4967, "cols": 2456, "nnz": 173670},
    "ss_bcsstk13": {"rows": 2003, "cols": 2003, "nnz": 83883},
    "ss_lfat5": {"rows": 14, "cols": 14, "nnz": 46},
    "ss_bayer10": {"rows": 13436, "cols": 13436, "nnz": 94926},
    "ss_cryg2500": {"rows": 2500, "cols": 2500, "nnz": 12349},
    "ss_hangglider_2": {"rows": 1647, "cols": 1647, "nnz": 14754},
    "ss_jagmesh7": {"rows": 1138, "cols": 1138, "nnz": 7450},
    "ss_olm1000": {"rows": 1000, "cols": 1000, "nnz": 3996},
    "ss_rajat01": {"rows": 6833, "cols": 6833, "nnz": 43250},
    "ss_zenios": {"rows": 2873, "cols": 2873, "nnz": 27191},
    "dnn_n1024_l1": {"rows": 1024, "cols": 1024, "nnz": 32768},
    "dnn_n1024_l2": {"rows": 1024, "cols": 1024, "nnz": 32768},
    "dnn_images_1024": {"rows": 1200, "cols": 1024, "nnz": 122713},
    "jf17k3": {"order": 3, "nnz": 34544, "dim0": 104},
    "jf17k4": {"order": 4, "nnz": 9509, "dim0": 23},
    "iris": {"rows_train": 120, "rows_test": 30, "columns": 5},
    "wine": {"rows_train": 142, "rows_test": 36, "columns": 14},
    "breast_cancer": {"rows_train": 456, "rows_test": 113, "columns": 31},
    "heart_disease": {"rows_train": 242, "rows_test": 61, "columns": 14},
    "scone": {"rows_train": 6 * 1002, "rows_test": 6 * 200, "rows_nlg": 222},
    "hotpotqa": {"rows_train": 500, "rows_test": 1000},
    "hover": {"rows_train": 3200, "rows_dev": 800, "rows_test": 4000},
    "gsm8k": {"rows_train": 7473, "rows_test": 1319},
    "dengue": {"yap_dengue_weekly_total": 978, "yap_dengue_weekly_length": 28,
               "yap_dengue_daily_total": 978, "birch_yap_dengue_daily_total": 978,
               "birch_yap_zika_daily_total": 108, "birch_fais_dengue_daily_total": 155},
    "minimo_theories": {"theory_files": 6, "premise_files": 4, "declarations": 90,
                        "lemmas": 65, "premises": 34},
}  # fmt: skip


def test_every_dataset_has_expected_numbers() -> None:
    assert set(EXPECTED) == set(DATASETS)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_stats_and_meta(prepared, name: str) -> None:
    out, stats = prepared(name)
    assert {k: stats[k] for k in EXPECTED[name]} == EXPECTED[name]
    meta = json.loads((out / "meta.json").read_text())
    dataset = DATASETS[name]
    assert meta["name"] == name and meta["kind"] == dataset.kind
    assert meta["licence"] == dataset.licence and meta["source"] == dataset.source
    assert meta["sha256"] == {f.path: f.sha256 for f in dataset.files}
    assert meta["stats"] == stats
    assert (meta["seed"], meta["test_fraction"]) == (0, 0.2)


def test_corpus_reader(prepared) -> None:
    corpus = read_corpus(prepared("20news")[0])
    assert corpus.train.shape == (11293, len(corpus.vocab))
    assert corpus.train.dtype == np.int32 and isinstance(corpus.train, sp.csr_array)
    assert corpus.labels_train.shape == (11293,) and corpus.labels_test.shape == (7528,)
    assert len(corpus.label_names) == 20 and set(np.unique(corpus.labels_test)) == set(range(20))
    reuters = read_corpus(prepared("reuters")[0])
    assert reuters.labels_train is None and reuters.train.shape[1] == 4258
    assert reuters.vocab[:3] == ["church", "pope", "years"]  # ids index the source vocabulary


def test_graph_reader(prepared) -> None:
    cora = read_graph(prepared("cora")[0])
    assert cora.features.shape == (2708, 1433)
    assert (cora.adjacency != cora.adjacency.T).nnz == 0
    assert set(np.unique(cora.labels)) == set(range(7))
    assert list(cora.idx_val) == list(range(140, 640)) and len(cora.idx_test) == 1000
    pubmed_dir = prepared("pubmed")[0]
    assert read_graph(pubmed_dir).features is None
    assert "allx" in json.loads((pubmed_dir / "meta.json").read_text())["notes"]["features"]


def test_matrix_tensor_counts_theory_readers(prepared) -> None:
    karate = read_matrix(prepared("ss_karate")[0]).matrix
    assert karate.dtype == np.float64 and set(karate.data) == {1.0}  # pattern -> 1.0
    assert (karate != karate.T).nnz == 0
    tensor = read_tensor(prepared("jf17k4")[0])
    assert tensor.coords.shape == (9509, 4) and tensor.coords.min() == 0
    assert tensor.shape == tuple(int(m) + 1 for m in tensor.coords.max(axis=0))
    series = read_counts(prepared("dengue")[0])
    assert int(series["yap_dengue_weekly"]["cases"].sum()) == 978
    assert series["yap_dengue_daily"]["cases"].isna().sum() == 12  # nulls stay missing
    theories = read_theories(prepared("minimo_theories")[0])
    assert "natural_number_game" in theories.theories and "nat_ind" in theories.premises["nat-add"]


def test_table_reader(prepared) -> None:
    gsm8k = read_table(prepared("gsm8k")[0], "test")
    assert list(gsm8k.columns) == ["question", "answer", "answer_value"]
    assert gsm8k["answer_value"].iloc[0] == 18  # Janet's ducks
    iris_dir = prepared("iris")[0]
    train, test = read_table(iris_dir, "train"), read_table(iris_dir, "test")
    assert test["label"].value_counts().to_dict() == {"setosa": 10, "versicolor": 10,
                                                       "virginica": 10}  # fmt: skip
    assert len(train) + len(test) == 150
    heart = read_table(prepared("heart_disease")[0], "train")
    assert heart.isna().sum().sum() > 0 and heart["label"].between(0, 4).all()
    hover = read_table(prepared("hover")[0], "dev")
    assert set(hover["label"]) == {"SUPPORTED", "NOT_SUPPORTED"}
    assert hover["supporting_facts"].iloc[0][0].keys() == {"title", "sentence"}
    scone = read_table(prepared("scone")[0], "test")
    assert scone["category"].nunique() == 6 and set(scone["label"]) == {"entailment", "neutral"}
    with pytest.raises(FileNotFoundError, match="splits"):
        read_table(iris_dir, "dev")


def test_converting_twice_gives_identical_bytes(prepared, snapshot, tmp_path) -> None:
    for name in sorted(DATASETS):
        first, _ = prepared(name)
        raw = first.parent.parent / "raw"
        convert(name, raw, tmp_path)
        assert snapshot(tmp_path / name) == snapshot(first), name


def test_seed_changes_the_split(prepared, tmp_path) -> None:
    first, _ = prepared("reuters")
    convert("reuters", first.parent.parent / "raw", tmp_path, seed=1)
    assert (tmp_path / "reuters" / "train.npz").read_bytes() != (first / "train.npz").read_bytes()
