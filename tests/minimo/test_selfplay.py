"""The self-play loop on a tiny configuration: checkpoints, resume after a crash, the flow."""

import json
from pathlib import Path

import pytest
import torch
from mlflow.tracking import MlflowClient

from aether.minimo import selfplay
from aether.minimo.params import SelfplayParams

TINY = {
    "domains": ["propositional_logic"],
    "iterations": 2,
    "conjectures": 6,
    "conjecture_budget": 30,
    "eval_budget": 20,
    "train_steps": 3,
    "batch_size": 4,
    "d_model": 16,
    "n_layers": 1,
    "n_heads": 2,
    "context": 64,
}


def test_resume_after_a_crash_continues_without_redoing_iterations(tmp_path, monkeypatch):
    params = SelfplayParams(**TINY)
    straight = selfplay.run("propositional_logic", params, tmp_path / "straight")

    out = tmp_path / "crashed"
    real = selfplay.iterate
    calls = []

    def crash_in_iteration_two(state, domain, p):
        calls.append(state["iteration"] + 1)
        if state["iteration"] + 1 == 2:
            raise RuntimeError("simulated crash")
        return real(state, domain, p)

    monkeypatch.setattr(selfplay, "iterate", crash_in_iteration_two)
    with pytest.raises(RuntimeError, match="simulated crash"):
        selfplay.run("propositional_logic", params, out)
    assert sorted(p.name for p in out.iterdir()) == ["iter_0.pt", "iter_1.pt"]  # no partial file
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}

    monkeypatch.setattr(
        selfplay, "iterate", lambda *a: (calls.append(a[0]["iteration"] + 1), real(*a))[1]
    )
    resumed = selfplay.run("propositional_logic", params, out)
    assert calls == [1, 2, 2]  # iteration 2 ran again, iterations 0 and 1 did not
    assert {p: out.joinpath(p).stat().st_mtime_ns for p in stamps} == stamps
    assert resumed == straight  # the same numbers as the run that never crashed
    state = selfplay.load(out / "iter_2.pt")
    assert state["iteration"] == 2 and len(state["metrics"]) == 3

    # checkpoints made under other params are not resumed from
    changed = SelfplayParams(**{**TINY, "seed": 1})
    assert selfplay.finished(out, 2, changed) is None


def test_params_reject_bad_values():
    with pytest.raises(ValueError, match="unknown domain"):
        SelfplayParams(domains=["topology"])
    with pytest.raises(ValueError, match="n_heads"):
        SelfplayParams(d_model=30, n_heads=4)


@pytest.mark.usefixtures("prefect_api")
def test_selfplay_flow_writes_checkpoints_metrics_plots_and_runs(set_params, mlflow_uri):
    from flows.selfplay import selfplay_flow

    set_params(selfplay=TINY)
    result = selfplay_flow(params_file="params.yaml")

    out = Path("data/selfplay/propositional_logic")
    assert sorted(p.name for p in out.glob("iter_*.pt")) == ["iter_0.pt", "iter_1.pt", "iter_2.pt"]
    assert torch.load(out / "iter_2.pt", weights_only=True)["iteration"] == 2
    metrics = json.loads(Path("reports/selfplay/metrics.json").read_text())
    assert metrics == json.loads(json.dumps(result))
    domain = metrics["propositional_logic"]
    assert 0.0 <= domain["eval_fraction_final"] <= 1.0
    for name in ("eval_fraction", "conjectures_proved", "proof_logprob"):
        lines = Path(f"reports/selfplay/plots/{name}.csv").read_text().splitlines()
        assert lines[0] == f"iteration,domain,{name}" and len(lines) == 4

    client = MlflowClient(mlflow_uri)
    run = client.get_run(domain["mlflow_run_id"])
    assert run.info.run_name == "selfplay-propositional_logic"
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "eval_fraction")]
    assert steps == [0, 1, 2]
    assert [a.path for a in client.list_artifacts(run.info.run_id, "model")] == ["model/iter_2.pt"]

    # a rerun finds every iteration finished and only records again
    before = (out / "iter_2.pt").stat().st_mtime_ns
    assert (
        selfplay_flow(params_file="params.yaml")["propositional_logic"]["eval_fraction_final"]
        == (domain["eval_fraction_final"])
    )
    assert (out / "iter_2.pt").stat().st_mtime_ns == before


def test_difficulty_ties_at_the_top_are_trivial_never_hard():
    # most proofs of log-probability 0 (one possible step each): none of them is "hard"
    lps = [0.0, 0.0, 0.0, 0.0, -0.5, -3.0]
    thresholds = selfplay.difficulty(lps)
    assert [selfplay.tag(lp, thresholds) for lp in lps] == ["trivial"] * 4 + ["hard", "hard"]
    all_trivial = selfplay.difficulty([0.0] * 5)
    assert selfplay.tag(0.0, all_trivial) == "trivial"
    spread = selfplay.difficulty([-1.0, -2.0, -3.0, -4.0, -5.0, -6.0])
    tags = [selfplay.tag(lp, spread) for lp in [-1.0, -2.0, -3.0, -4.0, -5.0, -6.0]]
    assert tags == ["trivial", "trivial", "easy", "easy", "hard", "hard"]


def test_hindsight_theorems_are_distinct_likeliest_and_not_conjectures():
    from aether.minimo.domain import load_domain
    from aether.minimo.hindsight import Relabeled

    dom = load_domain("propositional_logic")
    a = "[('x0 : prop) -> 'x0 -> 'x0]"
    b = "[('x1 : prop) -> 'x1 -> 'x1]"  # the same statement, other binder names
    c = "[false -> false]"
    played = [
        selfplay.Played(c, True, None, 0.0, [], [], [Relabeled(a, "p1", -2.0)]),
        selfplay.Played("false", False, None, None, [], [], [Relabeled(b, "p2", -1.0)]),
        selfplay.Played("false", False, None, None, [], [], [Relabeled(c, "p3", -0.5)]),
    ]
    assert selfplay.distinct(dom, played) == [Relabeled(b, "p2", -1.0)]
    # one learned in an earlier iteration (under any binder names) is not learned again
    assert selfplay.distinct(dom, played, frozenset({selfplay.key(dom, a)})) == []


def test_play_learns_rewrite_facts_only_with_hindsight():
    from aether.minimo.hindsight import rewrite_facts
    from aether.minimo.search import UniformScorer, prove

    stmt = "[('a : G) -> ('b : G) -> (= (op (op 'a 'b) (inv 'b)) 'a)]"
    on = selfplay.play("groups", stmt, 150, UniformScorer(), hindsight=True, limit=4)
    off = selfplay.play("groups", stmt, 150, UniformScorer(), hindsight=False, limit=4)
    facts = rewrite_facts(
        prove("groups", stmt, 150), UniformScorer(), 4
    )  # the search is deterministic
    assert not on.proved and len(facts) == 4
    assert on.relabeled[-4:] == [f.theorem for f in facts] and off.relabeled == []
    taught = {g for g, _, _ in on.policy}
    assert {g for f in facts for g, _, _ in f.policy} <= taught and len(taught) == len(on.policy)
    assert len(on.policy) > len(off.policy)
    assert {g for f in facts for g, _ in f.value} <= {g for g, v in on.value if v == 1}


def test_novel_conjectures_leave_out_what_earlier_iterations_proved(tmp_path):
    import numpy as np

    from aether.minimo.conjecture import CompletionEngine, uniform_logits
    from aether.minimo.domain import load_domain

    dom = load_domain("propositional_logic")
    engine = CompletionEngine(dom, 2)
    first = selfplay.conjecture(engine, uniform_logits(engine), 8, np.random.default_rng(0))
    known = frozenset(selfplay.key(dom, t) for t in first[:4])
    again = selfplay.conjecture(
        engine, uniform_logits(engine), 8, np.random.default_rng(0), exclude=known
    )
    assert again and not {selfplay.key(dom, t) for t in again} & known
    assert set(first[4:]) <= set(again)  # the same draws, less the excluded ones

    # in a run: what iteration 1 proved is recorded and not conjectured in iteration 2
    params = SelfplayParams(**{**TINY, "eval_every": 2})
    selfplay.run("propositional_logic", params, tmp_path)
    one, two = (selfplay.load(tmp_path / f"iter_{k}.pt") for k in (1, 2))
    proven_before = set(one["data"]["proven"])
    assert proven_before and proven_before <= set(two["data"]["proven"])
    new = two["data"]["proven"][len(one["data"]["proven"]) :]
    assert new and not set(new) & proven_before


def test_conjecturing_draws_again_until_distinct_and_evaluation_schedule():
    import numpy as np

    from aether.minimo.conjecture import CompletionEngine, uniform_logits, vacuous
    from aether.minimo.domain import load_domain

    engine = CompletionEngine(load_domain("propositional_logic"), 2)
    drawn = selfplay.conjecture(engine, uniform_logits(engine), 5, np.random.default_rng(0))
    assert len(drawn) == len(set(drawn)) == 5
    groups = CompletionEngine(load_domain("groups"), 3)
    rng = np.random.default_rng(0)
    quantified = selfplay.conjecture(groups, uniform_logits(groups), 20, rng, quantified=True)
    assert len(quantified) == 20
    for text in quantified:  # each about every object it names, none about `id` alone
        statement = groups.domain.proposition(text)
        assert text.startswith("[('x0 : G) ->")
        assert not vacuous(statement, groups.binder_types)

    every = SelfplayParams(**TINY)
    assert [selfplay.evaluated(k, every) for k in range(3)] == [True, True, True]
    last = SelfplayParams(**{**TINY, "iterations": 5, "eval_every": 2})
    assert [selfplay.evaluated(k, last) for k in range(6)] == [
        False,
        False,
        True,
        False,
        True,
        True,
    ]
