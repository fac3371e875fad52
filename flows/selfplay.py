"""The `selfplay` stage: Minimo's conjecture-proof self-play with hindsight relabeling, one
model per domain, evaluated after every iteration on the domain's human-written theorems."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger

from aether import params as P
from aether.minimo import selfplay
from aether.minimo.params import SelfplayParams
from flows import common
from tasks.record import record_stage
from tasks.selfplay import iteration_task, record_domain

CURVES = {  # plot name -> the per-iteration metric it draws
    "eval_fraction": "eval_fraction",
    "conjectures_proved": "conjectures_proved_fraction",
    "proof_logprob": "mean_proof_logprob",
}


@flow(name="selfplay")
def selfplay_flow(
    params_file: str = str(P.PARAMS_FILE),
    parent_run_id: str | None = None,
    data_dir: str = "data",
    reports_dir: str = "reports",
) -> dict:
    """Domains run in parallel; within a domain, iterations are a chain of tasks, each
    checkpointed to `data/selfplay/<domain>/iter_<k>.pt` (reused when the run restarts)."""
    params = P.load_as(SelfplayParams, "selfplay", Path(params_file))
    pipeline = P.load("pipeline", Path(params_file))
    get_run_logger().info("selfplay on %s, %d iterations", params.domains, params.iterations)
    raw = params.model_dump()

    chains = {}
    for domain in params.domains:
        out = Path(data_dir) / "selfplay" / domain
        selfplay.prune(out, params.iterations)
        previous, futures = [], []
        for k in range(params.iterations + 1):
            futures.append(iteration_task.submit(domain, k, raw, str(out), wait_for=previous))
            previous = [futures[-1]]
        chains[domain] = futures
    history = {d: [f.result() for f in futures] for d, futures in chains.items()}

    runs = {
        d: record_domain.submit(
            d,
            raw,
            history[d],
            str(selfplay.checkpoint_path(Path(data_dir) / "selfplay" / d, params.iterations)),
            parent_run_id,
            pipeline.experiment,
        )
        for d in params.domains
    }
    result = {
        d: {
            "eval_fraction_initial": h[0]["eval_fraction"],
            "eval_fraction_final": h[-1]["eval_fraction"],
            "conjectures_proved_fraction_final": h[-1]["conjectures_proved_fraction"],
            "mean_proof_logprob_final": h[-1]["mean_proof_logprob"],
            "mlflow_run_id": runs[d].result(),
        }
        for d, h in history.items()
    }
    plots = {  # long format: one series per domain (iteration 0 has no conjectures)
        name: [
            {"iteration": m["iteration"], "domain": d, name: m.get(key)}
            for d in params.domains
            for m in history[d]
        ]
        for name, key in CURVES.items()
    }
    record_stage(
        "selfplay",
        raw,
        result,
        plots=plots,
        parent_run_id=parent_run_id,
        experiment=pipeline.experiment,
        reports_dir=reports_dir,
    )
    return result


if __name__ == "__main__":
    common.main(selfplay_flow, __doc__)
