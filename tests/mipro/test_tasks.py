"""Tasks built from the project's prepared data: seeded splits, programs and metrics."""

from __future__ import annotations

from pathlib import Path

import pytest

import aether.data
from aether.mipro.lm import ScriptedLM
from aether.mipro.optimize import evaluate
from aether.mipro.program import Env
from aether.mipro.tasks import load_task


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    for name in ("scone", "gsm8k", "hotpotqa", "hover"):
        aether.data.prepare(name, root / "raw", root / "prepared")
    return root / "prepared"


def test_splits_are_seeded_and_disjoint(prepared):
    a = load_task("scone_no_negation", prepared, n_train=10, n_val=5, n_test=5, seed=0)
    b = load_task("scone_no_negation", prepared, n_train=10, n_val=5, n_test=5, seed=0)
    c = load_task("scone_no_negation", prepared, n_train=10, n_val=5, n_test=5, seed=1)
    assert a.train == b.train and a.test == b.test and a.train != c.train
    assert not {r["premise"] + r["hypothesis"] for r in a.train} & {
        r["premise"] + r["hypothesis"] for r in a.val
    }
    assert "The label is one of: entailment, neutral." in a.program.classify.render(a.train[0])


def test_gsm8k_extract_hides_the_answer_line(prepared):
    t = load_task("gsm8k_extract", prepared, n_train=3, n_val=3, n_test=3, seed=0)
    for ex in t.train:
        assert "####" not in ex["solution"] and "<<" not in ex["solution"]
    lm = ScriptedLM(lambda p, d, r: " " + t.train[0]["answer"])
    assert evaluate(t.program, t.train[:1], t.metric, lm).score == 1.0


def test_hotpotqa_two_hops_retrieve_gold_evidence(prepared):
    t = load_task("hotpotqa", prepared, n_train=4, n_val=2, n_test=2, seed=0)
    ex = t.train[0]
    assert [n for n, _ in t.program.named_predictors()] == ["queries.0", "queries.1", "answer"]
    # Queries that are the question itself: BM25 should surface a gold passage.
    lm = ScriptedLM(
        lambda p, d, r: " " + ex["question"] if "Search Query:" in p[-15:] else " " + ex["answer"]
    )
    trace: list = []
    out = t.program(Env(lm, trace=trace), question=ex["question"])
    assert out["answer"] == ex["answer"] and len(trace) == 3
    context = trace[-1][1]["context"]
    assert any(gold[:60] in context for gold in ex["evidence"])
    assert t.program.deepcopy().retrieve is t.program.retrieve  # the index is shared


def test_hover_verifies_claims_over_retrieved_passages(prepared):
    t = load_task("hover", prepared, n_train=4, n_val=2, n_test=3, seed=0)
    assert [n for n, _ in t.program.named_predictors()] == ["queries.0", "queries.1", "verify"]
    assert {ex["label"] for ex in t.train + t.val + t.test} <= {"SUPPORTED", "NOT_SUPPORTED"}
    ex = t.test[0]  # the labelled dev release, not the unlabelled test release
    lm = ScriptedLM(
        lambda p, d, r: " a query" if p.endswith("Search Query:") else " " + ex["label"]
    )
    trace: list = []
    out = t.program(Env(lm, trace=trace), claim=ex["claim"])
    assert len(trace) == 3 and trace[-1][1]["context"]  # two hops, then the verdict
    assert t.metric(ex, out) == 1.0
    wrong = "SUPPORTED" if ex["label"] == "NOT_SUPPORTED" else "NOT_SUPPORTED"
    assert t.metric(ex, {"label": wrong}) == 0.0
