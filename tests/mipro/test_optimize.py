"""Optimizer plumbing on a scripted LM whose answers depend on the instruction and demos
(no quality claim): bootstrapping, baselines, MIPRO, resume, seeds and bad input."""

from __future__ import annotations

import optuna
import pytest

from aether.mipro import BudgetExceededError, EmptyTrainsetError, MetricError
from aether.mipro.lm import CachedLM, CallCache, ScriptedLM, Usage
from aether.mipro.optimize import (
    MIPRO,
    BootstrapFewShot,
    BootstrapRandomSearch,
    ZeroShot,
    evaluate,
)
from aether.mipro.optimize.bootstrap import bootstrap, demo_candidates


def test_bootstrap_keeps_only_passing_traces(task):
    program, metric, train, _ = task
    # Right on "good"/"bad" reviews only, and only because a demo-free sentiment instruction
    program.predict.signature = program.predict.signature.with_instruction("Sentiment?")

    def script(prompt, d, r):
        text = prompt.rsplit("Text:", 1)[1]
        return " positive" if "good" in text else " negative" if "bad" in text else " meh"

    demos = bootstrap(program, train, metric, ScriptedLM(script), max_bootstrapped=4)
    kept = demos["predict"]
    assert len(kept) == 4
    assert all(("good" in d["text"]) or ("bad" in d["text"]) for d in kept)
    assert all(set(d) == {"text", "label"} for d in kept)


def test_a_bootstrap_with_no_passing_trace_is_topped_up_with_labels(task, scripted):
    program, metric, train, _ = task
    # "Answer." never passes: the bootstrapped candidate was left empty (a second zero-shot set,
    # as on ScoNe with SmolLM2) when its top-up was counted from the traces sought, not found.
    sets = demo_candidates(
        program, train, metric, scripted, n=3, max_bootstrapped=2, max_labeled=2, seed=0
    )["predict"]
    assert sets[0] == [] and len(sets[1]) == 2 and len(sets[2]) == 2
    assert all(set(d) == {"text", "label"} for d in sets[2])
    # Traces found count against the labelled top-up: never more than max_labeled demos.
    program.predict.signature = program.predict.signature.with_instruction("Sentiment?")
    found = bootstrap(program, train, metric, scripted, max_bootstrapped=1, max_labeled=2)
    assert len(found["predict"]) == 2


def test_baselines_and_mipro_improve_an_instruction_sensitive_task(task, scripted, tmp_path):
    program, metric, train, val = task
    lm = CachedLM(scripted, CallCache(tmp_path / "calls.sqlite"))
    zero = ZeroShot(metric, lm).compile(program, train, val)
    assert evaluate(zero, val, metric, lm).score == 0.0
    # Labelled demos show the label set, so random search over demo sets finds them.
    brs = BootstrapRandomSearch(metric, lm, num_candidates=3, seed=0).compile(program, train, val)
    assert evaluate(brs, val, metric, lm).score == 1.0
    mipro = MIPRO(
        metric,
        lm,
        num_candidates=4,
        num_trials=12,
        minibatch_size=6,
        full_eval_every=3,
        max_labeled=0,
        seed=0,
        storage=tmp_path / "s.db",
    )
    best = mipro.compile(program, train, val)
    assert evaluate(best, val, metric, lm).score == 1.0
    assert "sentiment" in best.predict.signature.instruction.lower()
    assert program.predict.signature.instruction == "Answer."  # the student is untouched
    trials = [h for h in mipro.history]
    assert len(trials) == 12 and trials[0]["instructions"]["predict"] == "Answer."
    assert any("full_score" in h for h in trials)


def test_bootstrap_few_shot_with_no_passing_trace_gives_no_demos(task, scripted):
    program, metric, train, val = task
    out = BootstrapFewShot(metric, scripted, max_bootstrapped=2).compile(program, train, val)
    assert out.predict.demos == []  # zero-shot "Answer." never passes: nothing to keep


def test_mipro_is_seeded_exactly(task, scripted, tmp_path):
    program, metric, train, val = task

    def run(seed, name):
        m = MIPRO(
            metric,
            scripted,
            num_candidates=3,
            num_trials=6,
            minibatch_size=4,
            full_eval_every=2,
            seed=seed,
            storage=tmp_path / f"{name}.db",
        )
        out = m.compile(program, train, val)
        return out.to_json(), [(h["config"], h["score"]) for h in m.history]

    assert run(0, "a") == run(0, "b")
    assert run(1, "e") == run(1, "f")


def test_parallel_evaluation_threads_change_nothing_but_speed(task, scripted, tmp_path):
    program, metric, train, val = task

    def run(threads):
        m = MIPRO(
            metric,
            scripted,
            num_candidates=3,
            num_trials=5,
            minibatch_size=4,
            full_eval_every=2,
            storage=tmp_path / f"t{threads}.db",
            threads=threads,
        )
        out = m.compile(program, train, val)
        return out.to_json(), [(h["config"], h["score"], h.get("full_score")) for h in m.history]

    assert run(1) == run(3)


def test_interrupted_study_resumes_without_repeating_trials(task, scripted, tmp_path):
    program, metric, train, val = task
    cache = CallCache(tmp_path / "calls.sqlite")
    store = tmp_path / "study.db"

    def mipro(lm):
        return MIPRO(
            metric,
            lm,
            num_candidates=4,
            num_trials=10,
            minibatch_size=5,
            full_eval_every=4,
            seed=0,
            storage=store,
        )

    # "Kill" midway: a budget that runs out during the search.
    with pytest.raises(BudgetExceededError):
        mipro(CachedLM(scripted, cache, Usage(max_calls=45))).compile(program, train, val)
    study = optuna.load_study(study_name="mipro-r0", storage=f"sqlite:///{store}")
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert 0 < len(done) < 10
    first_numbers = {t.number for t in done}

    resumed = mipro(CachedLM(scripted, cache))
    resumed.compile(program, train, val)
    fresh = [h for h in resumed.history if not h["resumed"]]
    replayed = [h for h in resumed.history if h["resumed"]]
    assert {h["trial"] for h in replayed} == first_numbers
    assert not {h["trial"] for h in fresh} & first_numbers
    assert len(replayed) + len(fresh) == 10


def test_a_trial_cut_short_is_retried_with_its_config_and_minibatch(task, scripted, tmp_path):
    program, metric, train, val = task
    cache, store = CallCache(tmp_path / "calls.sqlite"), tmp_path / "s.db"
    kw = dict(num_candidates=4, num_trials=10, minibatch_size=5, full_eval_every=4, seed=0)

    def mipro(usage):
        return MIPRO(metric, CachedLM(scripted, cache, usage), storage=store, **kw)

    with pytest.raises(BudgetExceededError):  # stops midway through a trial's minibatch
        mipro(Usage(max_calls=40)).compile(program, train, val)
    study = optuna.load_study(study_name="mipro-r0", storage=f"sqlite:///{store}")
    (cut,) = [t for t in study.trials if t.state == optuna.trial.TrialState.FAIL]
    paid_before = len(cache)
    resumed = Usage()
    run = mipro(resumed)
    run.compile(program, train, val)
    retry = next(h for h in run.history if not h["resumed"])
    assert retry["config"] == cut.user_attrs["config"]
    study = optuna.load_study(study_name="mipro-r0", storage=f"sqlite:///{store}")
    (again,) = [t for t in study.trials if t.user_attrs.get("batch") == cut.number]
    assert again.state == optuna.trial.TrialState.COMPLETE
    assert resumed.cache_hits > 0 and len(cache) == paid_before + resumed.calls
    # A later rerun finds nothing cut short: every trial is replayed, none retried again.
    rerun = mipro(Usage())
    rerun.compile(program, train, val)
    assert all(h["resumed"] for h in rerun.history)


def test_empty_sets_and_raising_metric_are_clear_errors(task, scripted, tmp_path):
    program, metric, train, val = task
    for optimizer in (
        BootstrapFewShot(metric, scripted),
        BootstrapRandomSearch(metric, scripted),
        MIPRO(metric, scripted),
    ):
        with pytest.raises(EmptyTrainsetError, match="training set is empty"):
            optimizer.compile(program, [], val)
    with pytest.raises(EmptyTrainsetError, match="validation set is empty"):
        MIPRO(metric, scripted).compile(program, train, [])

    def broken(example, prediction):
        return {"label": 1}[prediction["label"]]

    store = tmp_path / "s.db"
    with pytest.raises(MetricError, match=r"metric 'broken' raised KeyError.*example 0"):
        MIPRO(broken, scripted, num_trials=3, storage=store).compile(program, train, val)


@pytest.mark.parametrize("use_history", [True, False])
def test_second_round_proposals_see_scored_history(task, scripted, tmp_path, use_history):
    program, metric, train, val = task
    mipro = MIPRO(
        metric,
        scripted,
        num_candidates=3,
        num_trials=4,
        rounds=2,
        minibatch_size=4,
        full_eval_every=2,
        seed=0,
        storage=tmp_path / "s.db",
        use_history=use_history,
    )
    mipro.compile(program, train, val)
    proposals = [p for p in scripted.calls if p.startswith("Write an instruction")]
    with_history = [p for p in proposals if "Earlier instructions and their scores" in p]
    assert bool(with_history) is use_history
    if use_history:
        assert "0.00: Answer." in with_history[0]
    assert {h["round"] for h in mipro.history} == {0, 1}


def test_hard_budget_ends_the_search_and_keeps_the_reserve(task, scripted, tmp_path):
    program, metric, train, val = task
    usage = Usage(max_calls=60)
    lm = CachedLM(scripted, CallCache(tmp_path / "calls.sqlite"), usage)
    mipro = MIPRO(
        metric,
        lm,
        num_candidates=4,
        num_trials=50,
        minibatch_size=5,
        full_eval_every=3,
        seed=0,
        storage=tmp_path / "s.db",
        budget=usage,
        reserve=10,
    )
    best = mipro.compile(program, train, val)
    assert mipro.stopped_by_budget and 0 < len(mipro.history) < 50
    assert usage.calls + 10 <= 60  # the reserve is still there for the test set
    # The result is a fully evaluated configuration, so its validation score is free now.
    before = usage.calls
    assert evaluate(best, val, metric, lm).score == mipro.best_score
    assert usage.calls == before


def test_a_budget_with_no_room_for_one_trial_is_a_clear_error(task, scripted, tmp_path):
    program, metric, train, val = task
    usage = Usage(max_calls=60)
    lm = CachedLM(scripted, CallCache(tmp_path / "calls.sqlite"), usage)
    mipro = MIPRO(metric, lm, num_candidates=4, num_trials=5, budget=usage, reserve=55)
    with pytest.raises(BudgetExceededError, match="no room for one trial"):
        mipro.compile(program, train, val)


@pytest.mark.parametrize("separate", [True, False])
def test_full_scores_join_the_study_only_when_not_kept_apart(task, scripted, tmp_path, separate):
    program, metric, train, val = task
    store = tmp_path / "s.db"
    kw = dict(num_candidates=3, num_trials=6, minibatch_size=4, full_eval_every=2, seed=0)
    mipro = MIPRO(metric, scripted, storage=store, separate_full_scores=separate, **kw)
    mipro.compile(program, train, val)
    study = optuna.load_study(study_name="mipro-r0", storage=f"sqlite:///{store}")
    full = [t for t in study.trials if t.user_attrs.get("full")]
    assert len(study.trials) - len(full) == 6  # the minibatch trials, either way
    assert bool(full) is not separate
    assert {t.value for t in full} <= set(study.user_attrs["full"].values())
    # A rerun resumes: the full-score trials are not counted as searched minibatch trials.
    again = MIPRO(metric, scripted, storage=store, separate_full_scores=separate, **kw)
    again.compile(program, train, val)
    assert all(h["resumed"] for h in again.history)


def test_a_study_resumes_only_for_the_same_knobs_examples_and_code(
    task, scripted, tmp_path, monkeypatch
):
    from aether.mipro import run
    from aether.mipro.params import MiproParams
    from aether.mipro.tasks import Task

    program, metric, train, val = task
    params = MiproParams(
        n_train=12, n_val=8, n_test=4, num_candidates=2, num_trials=3, minibatch_size=3,
        full_eval_every=2, cache=str(tmp_path / "calls.sqlite"),
        studies=str(tmp_path / "studies.sqlite"),
    )  # fmt: skip

    def studies(t: Task) -> set[str]:
        run.run_optimizer(t, "mipro", params, scripted)
        names = optuna.get_all_study_names(f"sqlite:///{tmp_path / 'studies.sqlite'}")
        return {n.rsplit("-", 1)[0] for n in names}

    first = studies(Task("t", program, metric, train, val[:8], val[8:12]))
    assert len(first) == 1
    assert studies(Task("t", program, metric, train, val[:8], val[8:12])) == first  # resumed
    other = studies(Task("t", program, metric, train, val[1:9], val[8:12]))
    assert len(other) == 2  # other validation examples: a study of its own
    monkeypatch.setattr(run, "code_digest", lambda: "changed")
    assert len(studies(Task("t", program, metric, train, val[:8], val[8:12]))) == 3
