"""The stage's experiment: models x {delayed on, off} x particle counts, repeated runs.

Shared by the stage flow and the benchmark, so both measure the same thing.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from aether.delayed.kalman import kalman_log_likelihood
from aether.delayed.models import dengue, lnssm
from aether.delayed.models.pedagogical import ScalarKalman
from aether.delayed.params import DelayedParams
from aether.delayed.smc import Model, particle_filter

# One method per model: the alive filter where observations can have zero likelihood.
METHOD = {"kalman": "bootstrap", "lnssm": "bootstrap", "dengue": "alive"}


def build_model(name: str, p: DelayedParams, prepared: Path) -> Model:
    """The named model on its data: simulated with p.seed, or the prepared dengue series."""
    if name == "kalman":
        rng = np.random.default_rng(p.seed)
        x, ys = rng.normal(), []
        for _ in range(p.kalman_steps):
            x = 0.9 * x + rng.normal(0, np.sqrt(0.5))
            ys.append(x + rng.normal())
        return ScalarKalman(np.array(ys))
    if name == "lnssm":
        return lnssm.LinearNonlinear(lnssm.simulate(p.lnssm_steps, p.seed))
    if name == "dengue":
        from aether.data import DataError, read_counts

        series = read_counts(prepared / "dengue")
        if p.dengue_series not in series:
            raise DataError(
                f"{prepared / 'dengue'} has no {p.dengue_series}.csv: run the prepare stage "
                "with `dengue` in prepare.datasets"
            )
        cases = dengue.cases_from(series[p.dengue_series], p.dengue_steps)
        return dengue.YapDengue(cases, 7 if p.dengue_series.endswith("weekly") else 1)
    raise ValueError(f"unknown model {name!r}")


def exact_log_z(name: str, model: Model) -> float | None:
    """The exact log-likelihood where one exists (linear-Gaussian models)."""
    if name == "kalman":
        return kalman_log_likelihood(model.ys, model.a, model.q, 1.0, model.r, 0.0, model.p0)
    return None


def groups(name: str, n: int, p: DelayedParams) -> tuple[int, int]:
    """(particles per group, groups) for n particles in all.

    Dengue runs the random-weight importance sampler: n / dengue_group_size draws of the
    initial conditions, each with its own alive filter of dengue_group_size particles.
    """
    if name != "dengue" or p.dengue_group_size == 1:
        return n, 1
    if n % p.dengue_group_size:
        raise ValueError(f"{n} particles do not split into groups of {p.dengue_group_size}")
    return p.dengue_group_size, n // p.dengue_group_size


def run_config(model: Model, name: str, delay: bool, n: int, p: DelayedParams) -> dict:
    """`p.runs` independent filters (seeds p.seed + 1000 * n + run) and their timings."""
    log_z, seconds = [], []
    size, count = groups(name, n, p)
    for run in range(p.runs):
        start = time.perf_counter()
        result = particle_filter(
            model,
            size,
            seed=p.seed + 1000 * n + run,
            delay=delay,
            method=METHOD[name],
            resampler=p.resampler,
            ess_threshold=p.ess_threshold,
            max_proposals=p.max_proposals,
            groups=count,
        )
        seconds.append(time.perf_counter() - start)
        log_z.append(result.log_z)
    return {"model": name, "delay": delay, "particles": n, "log_z": log_z, "seconds": seconds}


def summarize(row: dict, exact: float | None = None) -> dict:
    """Variance of the finite estimates, how many died (-inf), median time per run."""
    z = np.asarray(row["log_z"], dtype=float)
    finite = z[np.isfinite(z)]
    out = {
        "model": row["model"],
        "delay": row["delay"],
        "particles": row["particles"],
        "runs": len(z),
        "failed": int(len(z) - len(finite)),
        "mean_log_z": float(finite.mean()) if len(finite) else None,
        "var_log_z": float(finite.var(ddof=1)) if len(finite) > 1 else None,
        "median_seconds": float(np.median(row["seconds"])),
    }
    if exact is not None and len(finite) == len(z):
        out["max_abs_error"] = float(np.max(np.abs(z - exact)))
    return out


def variance_reduction(summaries: list[dict], model: str, n: int) -> float | None:
    """var(off) / var(on) at n particles (both over finite runs), if both were run."""
    by = {s["delay"]: s for s in summaries if s["model"] == model and s["particles"] == n}
    if set(by) != {True, False} or None in (by[True]["var_log_z"], by[False]["var_log_z"]):
        return None
    if by[True]["var_log_z"] == 0:
        return None  # delayed sampling is exact here: the ratio is undefined
    return float(by[False]["var_log_z"] / by[True]["var_log_z"])


def dengue_fit(model: dengue.YapDengue, n: int, p: DelayedParams) -> dict:
    """One delayed run: parameter posteriors and the expected vs observed counts."""
    size, count = groups("dengue", n, p)
    result = particle_filter(
        model,
        size,
        seed=p.seed,
        method="alive",
        max_proposals=p.max_proposals,
        monitor=model.monitor,
        groups=count,
    )
    fitted = result.trace.get("expected_cases", [])
    rows = [
        {"t": t + 1, "observed": float(y), "expected": fitted[t] if t < len(fitted) else None}
        for t, y in enumerate(model.cases)
    ]
    summary = dengue.parameter_summary(result.state, result.log_weights)
    return {"log_z": result.log_z, "parameters": summary, "fit": rows}
