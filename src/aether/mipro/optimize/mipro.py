"""MIPRO (Opsahl-Ong et al. 2024): bootstrap demo sets, propose grounded instructions, then
Bayesian search (Optuna TPE) over every module's (instruction, demo-set) choice.

Search scores configurations on stochastic minibatches of the validation set; every
`full_eval_every` trials the configuration with the best mean minibatch score so far is
scored on the whole validation set, and the result is the best *fully* evaluated one.
Beyond DSPy's MIPROv2:
- minibatch and full-evaluation scores are kept apart: full scores are study attributes,
  never trials, so TPE's surrogate models one objective (the minibatch score);
- `rounds > 1` is the paper's meta-optimization: later rounds propose new instructions
  seeing earlier ones with their mean minibatch scores;
- the study (and its candidates) lives in SQLite: an interrupted run resumes where it stopped;
- a hard budget in LM calls (`CachedLM`'s `Usage.max_calls`): with `budget` given, search
  stops before a trial whose minibatch plus a full evaluation (plus `reserve`, the calls kept
  for what follows compile, e.g. the test set) could overspend, so the budget ends the search
  instead of aborting the run; exact seeds (0 included).
Each is a switch (`use_history`, `separate_full_scores`, `threads`, `storage`, `budget`), so
each can be measured against DSPy's behaviour (`separate_full_scores=False` adds full scores
to the study as trials, as MIPROv2 does).
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import optuna
from optuna.distributions import CategoricalDistribution

from aether.mipro.errors import BudgetExceededError
from aether.mipro.lm.base import LM, Usage
from aether.mipro.optimize.bootstrap import DemoSets, demo_candidates, require
from aether.mipro.optimize.evaluate import Example, Metric, evaluate
from aether.mipro.optimize.propose import GroundedProposer, program_summary
from aether.mipro.program.module import Module

optuna.logging.set_verbosity(optuna.logging.WARNING)

Config = dict[str, tuple[int, int]]  # predictor -> (instruction index, demo-set index)


def _key(config: Config) -> str:
    return json.dumps({k: list(v) for k, v in sorted(config.items())})


@dataclass
class MIPRO:
    metric: Metric
    lm: LM
    prompt_lm: LM | None = None
    num_candidates: int = 6
    num_trials: int = 20
    rounds: int = 1
    minibatch_size: int = 25
    full_eval_every: int = 5
    max_bootstrapped: int = 3
    max_labeled: int = 3
    seed: int = 0
    storage: Path | str | None = None
    study_name: str = "mipro"
    use_history: bool = True
    use_tip: bool = True
    separate_full_scores: bool = True
    threads: int = 1
    budget: Usage | None = None
    reserve: int = 0
    on_trial: Callable[[dict], None] | None = None
    history: list[dict] = field(default_factory=list)

    # -- the contract ---------------------------------------------------------------------
    def compile(
        self, student: Module, trainset: Sequence[Example], valset: Sequence[Example]
    ) -> Module:
        require(trainset, "training set")
        require(valset, "validation set")
        proposer = GroundedProposer(
            self.prompt_lm or self.lm, use_history=self.use_history, use_tip=self.use_tip
        )
        demos: DemoSets | None = None
        summary: str | None = None
        instructions: dict[str, list[str]] = {n: [] for n, _ in student.named_predictors()}
        best: tuple[float, Config] | None = None
        self.history = []
        self.stopped_by_budget = False
        for r in range(self.rounds):
            if self.stopped_by_budget:
                break
            study = self._study(r)
            if "candidates" in study.user_attrs:  # resumed: reuse exactly what was searched
                cand = study.user_attrs["candidates"]
                demos, instructions = cand["demos"], cand["instructions"]
            else:
                if demos is None:
                    demos = self.bootstrap(student, trainset)
                if summary is None:
                    summary = proposer.dataset_summary(trainset)
                instructions = self.propose(proposer, student, demos, summary, instructions, r)
                study.set_user_attr("candidates", {"demos": demos, "instructions": instructions})
            full = self.search(study, student, valset, instructions, demos, r)
            for key, score in full.items():
                if best is None or score > best[0]:
                    best = (score, {k: tuple(v) for k, v in json.loads(key).items()})
        if best is None:
            raise BudgetExceededError(
                f"LM call budget of {self.budget.max_calls if self.budget else None} calls "
                "leaves no room for one trial and a full evaluation after bootstrapping and "
                "proposing; raise mipro.max_lm_calls or shrink the candidate and trial counts"
            )
        assert demos is not None
        self.best_score = best[0]
        return self.apply(student, best[1], instructions, demos)

    # -- step 1 ---------------------------------------------------------------------------
    def bootstrap(self, student: Module, trainset: Sequence[Example]) -> DemoSets:
        return demo_candidates(
            student,
            trainset,
            self.metric,
            self.lm,
            n=self.num_candidates,
            max_bootstrapped=self.max_bootstrapped,
            max_labeled=self.max_labeled,
            seed=self.seed,
        )

    # -- step 2 ---------------------------------------------------------------------------
    def propose(
        self,
        proposer: GroundedProposer,
        student: Module,
        demos: DemoSets,
        summary: str,
        earlier: dict[str, list[str]],
        r: int,
    ) -> dict[str, list[str]]:
        scored = self._instruction_scores() if r else {}
        out: dict[str, list[str]] = {}
        for name, predictor in student.named_predictors():
            new = proposer.propose(
                name,
                predictor,
                n=self.num_candidates,
                seed=self.seed * 100 + r,
                summary=summary,
                program=program_summary(student),
                demos=demos[name],
                history=scored.get(name, []),
            )
            out[name] = list(dict.fromkeys([*earlier.get(name, []), *new]))
        return out

    def _instruction_scores(self) -> dict[str, list[tuple[str, float]]]:
        by: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for trial in self.history:
            for name, text in trial["instructions"].items():
                by[name][text].append(trial["score"])
        return {n: [(t, sum(s) / len(s)) for t, s in d.items()] for n, d in by.items()}

    # -- step 3 ---------------------------------------------------------------------------
    def _study(self, r: int) -> optuna.Study:
        storage = None
        if self.storage is not None:
            Path(self.storage).parent.mkdir(parents=True, exist_ok=True)
            storage = f"sqlite:///{Path(self.storage).resolve()}"
        sampler = optuna.samplers.TPESampler(
            seed=self.seed + r,
            multivariate=True,
            n_startup_trials=min(10, max(2, self.num_trials // 3)),
        )
        return optuna.create_study(
            study_name=f"{self.study_name}-r{r}",
            storage=storage,
            sampler=sampler,
            direction="maximize",
            load_if_exists=True,
        )

    def search(
        self,
        study: optuna.Study,
        student: Module,
        valset: Sequence[Example],
        instructions: dict[str, list[str]],
        demos: DemoSets,
        r: int,
    ) -> dict[str, float]:
        """TPE over configurations on minibatches; returns full scores by config key."""
        names = [n for n, _ in student.named_predictors()]
        full: dict[str, float] = dict(study.user_attrs.get("full", {}))
        done = [
            t
            for t in study.trials
            if t.state == optuna.trial.TrialState.COMPLETE and not t.user_attrs.get("full")
        ]
        for t in done:
            self._record(t.number, t.user_attrs["config"], t.value, instructions, r, replay=True)
        if not study.trials:  # start from the program as written: original instruction, no demos
            study.enqueue_trial(
                {f"{n}.instruction": 0 for n in names} | {f"{n}.demos": 0 for n in names}
            )
        self._retry_interrupted(study)
        per_example = len(names)  # each predictor is called once per example
        for _ in range(len(done), self.num_trials):
            if not self._affordable(per_example * (len(valset) + self.minibatch_size)):
                self.stopped_by_budget = True
                break
            trial = study.ask()
            config = {
                n: (
                    trial.suggest_categorical(
                        f"{n}.instruction", list(range(len(instructions[n])))
                    ),
                    trial.suggest_categorical(f"{n}.demos", list(range(len(demos[n])))),
                )
                for n in names
            }
            trial.set_user_attr("config", _key(config))
            draw = trial.user_attrs.get("batch", trial.number)  # a retry keeps its minibatch
            rng = random.Random(f"{self.seed}:{r}:{draw}")
            batch = rng.sample(list(valset), min(self.minibatch_size, len(valset)))
            try:
                score = evaluate(
                    self.apply(student, config, instructions, demos),
                    batch,
                    self.metric,
                    self.lm,
                    threads=self.threads,
                ).score
            except BaseException:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                raise
            study.tell(trial, score)
            self._record(trial.number, _key(config), score, instructions, r)
            if (len(done) + 1) % self.full_eval_every == 0:
                self._full_eval(study, full, student, valset, instructions, demos)
            done.append(trial)
        if done:
            self._full_eval(study, full, student, valset, instructions, demos)
        return full

    @staticmethod
    def _retry_interrupted(study: optuna.Study) -> None:
        """Queue again, with its configuration and minibatch, a trial a stop cut short (failed,
        or left running by a kill), so the resumed run pays none of its calls twice."""
        retried = {t.user_attrs.get("batch") for t in study.trials}
        for t in study.trials:
            cut = t.state in (optuna.trial.TrialState.FAIL, optuna.trial.TrialState.RUNNING)
            if cut and t.params and t.number not in retried:
                study.enqueue_trial(t.params, user_attrs={"batch": t.number})

    def _affordable(self, calls: int) -> bool:
        """Whether `calls` more paid calls (an upper bound) still fit the hard budget."""
        if self.budget is None or self.budget.max_calls is None:
            return True
        return self.budget.calls + calls + self.reserve <= self.budget.max_calls

    def _full_eval(self, study, full, student, valset, instructions, demos) -> None:
        """Score on the whole valset the best-by-mean-minibatch config not yet scored so."""
        means: dict[str, list[float]] = defaultdict(list)
        for t in study.trials:
            if t.state == optuna.trial.TrialState.COMPLETE and not t.user_attrs.get("full"):
                means[t.user_attrs["config"]].append(t.value)
        pending = [(sum(v) / len(v), k) for k, v in means.items() if k not in full]
        if not pending:
            return
        _, key = max(pending)
        config = {k: tuple(v) for k, v in json.loads(key).items()}
        score = evaluate(
            self.apply(student, config, instructions, demos),
            valset,
            self.metric,
            self.lm,
            threads=self.threads,
        ).score
        full[key] = score
        study.set_user_attr("full", full)
        if not self.separate_full_scores:  # MIPROv2's way: the full score joins the study
            study.add_trial(
                optuna.trial.create_trial(
                    params={
                        f"{n}.{part}": i
                        for n, ids in config.items()
                        for part, i in zip(("instruction", "demos"), ids, strict=True)
                    },
                    distributions={
                        f"{n}.instruction": CategoricalDistribution(
                            list(range(len(instructions[n])))
                        )
                        for n in config
                    }
                    | {
                        f"{n}.demos": CategoricalDistribution(list(range(len(demos[n]))))
                        for n in config
                    },
                    value=score,
                    user_attrs={"config": key, "full": True},
                )
            )
        if self.history:
            self.history[-1]["full_score"] = score
            self.history[-1]["full_config"] = key

    def _record(self, number, key, score, instructions, r, replay=False) -> None:
        config = json.loads(key)
        entry = {
            "round": r,
            "trial": number,
            "score": score,
            "config": key,
            "resumed": replay,
            "instructions": {n: instructions[n][i] for n, (i, _) in config.items()},
        }
        self.history.append(entry)
        if self.on_trial and not replay:
            self.on_trial(entry)

    @staticmethod
    def apply(
        student: Module, config: Config, instructions: dict[str, list[str]], demos: DemoSets
    ) -> Module:
        program = student.deepcopy()
        for name, predictor in program.named_predictors():
            i, d = config[name]
            predictor.signature = predictor.signature.with_instruction(instructions[name][i])
            predictor.demos = [dict(x) for x in demos[name][d]]
        return program
