"""Particle filters over a model's program, the log marginal likelihood, and PMMH.

A model is an object with `steps` and two methods run on all particles at once:
`initial()` returns the state, `step(state, t)` advances it and observes y_t. With delayed
sampling on, the same filter is Rao-Blackwellized with locally optimal proposals wherever
the program's conjugacy allows; with it off it is the bootstrap filter.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from aether.delayed.errors import ModelError
from aether.delayed.graph import System, concat, take


class Model(Protocol):
    steps: int

    def initial(self) -> Any: ...

    def step(self, state: Any, t: int) -> Any: ...


def logsumexp(x: np.ndarray) -> float:
    """log(sum(exp(x))), -inf when every term is; plain numpy (scipy's is slow on small x)."""
    m = x.max()
    if not np.isfinite(m):
        return float(m)
    return float(m + np.log(np.exp(x - m).sum()))


def systematic(logw: np.ndarray, rng: np.random.Generator, m: int | None = None) -> np.ndarray:
    """Ancestors by one uniform offset on an evenly spaced grid (lowest variance here)."""
    m = len(logw) if m is None else m
    u = (rng.uniform() + np.arange(m)) / m
    return _inverse_cdf(logw, u)


def stratified(logw: np.ndarray, rng: np.random.Generator, m: int | None = None) -> np.ndarray:
    """Ancestors by one uniform per stratum [i/m, (i+1)/m)."""
    m = len(logw) if m is None else m
    return _inverse_cdf(logw, (rng.uniform(size=m) + np.arange(m)) / m)


def _inverse_cdf(logw: np.ndarray, u: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(np.exp(logw - logsumexp(logw)))
    return np.minimum(np.searchsorted(cdf, u * cdf[-1], side="right"), len(logw) - 1)


RESAMPLERS = {"systematic": systematic, "stratified": stratified}


def ess(logw: np.ndarray) -> float:
    """Effective sample size of (unnormalized) log-weights."""
    w = np.exp(logw - logsumexp(logw))
    return float(1.0 / (w**2).sum())


@dataclass
class FilterResult:
    log_z: float
    state: Any
    log_weights: np.ndarray  # normalized
    log_z_steps: list[float] = field(default_factory=list)  # cumulative, after each step
    ess_steps: list[float] = field(default_factory=list)
    trace: dict[str, list[float]] = field(default_factory=dict)
    resamples: int = 0
    proposals: int = 0  # particles proposed (alive filter: > steps * n when some die)

    def weighted_mean(self, x: np.ndarray) -> np.ndarray:
        w = np.exp(self.log_weights)
        return np.tensordot(w, np.asarray(x, dtype=float), axes=(0, 0))


def particle_filter(
    model: Model,
    n: int,
    *,
    seed: int | np.random.Generator = 0,
    delay: bool = True,
    method: Literal["bootstrap", "alive"] = "bootstrap",
    resampler: Literal["systematic", "stratified"] = "systematic",
    ess_threshold: float = 0.5,
    max_proposals: int = 1000,
    monitor: Callable[[Any], dict[str, np.ndarray]] | None = None,
) -> FilterResult:
    """Run the model on n particles and estimate log p(y_1:T).

    `bootstrap` resamples when ESS < ess_threshold * n. `alive` resamples every step and
    proposes until n + 1 particles have non-zero weight (Del Moral et al. 2015), so the
    estimate stays unbiased when observations can have zero likelihood; it gives up after
    `max_proposals * n` proposals in one step. `monitor(state)` returns per-particle arrays
    whose weighted means are recorded after every step.
    """
    if method not in ("bootstrap", "alive"):
        raise ModelError(f"method must be 'bootstrap' or 'alive', got {method!r}")
    if resampler not in RESAMPLERS:
        raise ModelError(f"resampler must be one of {sorted(RESAMPLERS)}, got {resampler!r}")
    if not 0.0 <= ess_threshold <= 1.0:
        raise ModelError(f"ess_threshold must be in [0, 1], got {ess_threshold}")
    rng = np.random.default_rng(seed)
    resample = RESAMPLERS[resampler]
    with System(n, rng, delay) as system:
        state = model.initial()
    logw = system.logw
    log_z = float(logsumexp(logw) - math.log(n))
    out = FilterResult(log_z, state, logw - logsumexp(logw))
    for t in range(model.steps):
        if method == "alive":
            state, logw, log_inc, proposed = _alive_step(
                model, state, out, t, n, rng, delay, max_proposals
            )
            norm = logsumexp(logw)
            out.proposals += proposed
            out.resamples += 1
        else:
            current_ess = out.ess_steps[-1] if out.ess_steps else ess(out.log_weights)
            if current_ess < ess_threshold * n:
                state = take(state, resample(out.log_weights, rng))
                out.log_weights = np.full(n, -math.log(n))
                out.resamples += 1
            with System(n, rng, delay) as system:
                state = model.step(state, t)
            logw = out.log_weights + system.logw
            log_inc = norm = logsumexp(logw)
            out.proposals += n
        out.log_z += log_inc
        out.state = state
        if not np.isfinite(out.log_z):
            out.log_z = -math.inf
            break
        out.log_weights = logw - norm
        out.log_z_steps.append(out.log_z)
        out.ess_steps.append(ess(out.log_weights))
        if monitor is not None:
            for key, x in monitor(state).items():
                out.trace.setdefault(key, []).append(float(out.weighted_mean(x)))
    return out


def _alive_step(model, state, out: FilterResult, t: int, n: int, rng, delay, max_proposals):
    """One step of the alive filter; returns (state, log-weights, log increment, proposals).

    Proposals form one sequence, run in batches: it stops at the (n + 1)-th live particle,
    trial T, and the increment is the sum of the first n live weights over T - 1.
    """
    probs = np.exp(out.log_weights)
    probs /= probs.sum()
    m, proposed, found, pieces = n + 1, 0, 0, []
    while True:
        ancestors = rng.choice(n, size=m, p=probs)
        with System(m, rng, delay) as system:
            proposal = model.step(take(state, ancestors), t)
        alive = np.flatnonzero(system.logw > -np.inf)
        need = n + 1 - found
        if len(alive) >= need:
            trials = proposed + alive[need - 1] + 1
            pieces.append((proposal, alive[: need - 1], system.logw))
            proposed += m
            break
        pieces.append((proposal, alive, system.logw))
        found, proposed = found + len(alive), proposed + m
        if proposed >= max_proposals * n:
            return state, np.full(n, -np.inf), -math.inf, proposed
        m = int(min(max_proposals * n, max(m, need * m / max(len(alive), 1) * 1.2)))
    kept = [(p, idx, logw[idx]) for p, idx, logw in pieces if len(idx)]
    logw = np.concatenate([w for _, _, w in kept])
    new_state = concat([take(p, idx) for p, idx, _ in kept])
    return new_state, logw, float(logsumexp(logw) - math.log(trials - 1)), proposed


@dataclass
class PMMHResult:
    samples: np.ndarray  # (iterations, dim)
    log_z: np.ndarray  # the estimate at each iteration's current parameter
    acceptance_rate: float


def pmmh(
    make_model: Callable[[np.ndarray], Model],
    log_prior: Callable[[np.ndarray], float],
    theta0,
    *,
    iterations: int,
    n: int,
    scale,
    seed: int = 0,
    delay: bool = True,
    method: Literal["bootstrap", "alive"] = "bootstrap",
) -> PMMHResult:
    """Particle-marginal Metropolis-Hastings with a Gaussian random walk on theta.

    The filter's unbiased likelihood estimate stands in for the likelihood; with delayed
    sampling it is less noisy, so the chain sticks less.
    """
    if iterations < 1 or n < 1:
        raise ModelError("pmmh needs iterations >= 1 and n >= 1")
    rng = np.random.default_rng(seed)
    theta = np.atleast_1d(np.asarray(theta0, dtype=float))
    scale = np.broadcast_to(np.asarray(scale, dtype=float), theta.shape)

    def target(th):
        lp = log_prior(th)
        if not np.isfinite(lp):
            return -math.inf, -math.inf
        ll = particle_filter(make_model(th), n, seed=rng, delay=delay, method=method).log_z
        return lp + ll, ll

    current_target, current_ll = target(theta)
    if not np.isfinite(current_target):
        raise ModelError(f"pmmh: theta0 = {theta} has zero prior or likelihood; start elsewhere")
    samples, lls, accepted = [], [], 0
    for _ in range(iterations):
        proposal = theta + scale * rng.standard_normal(theta.shape)
        prop_target, prop_ll = target(proposal)
        if math.log(rng.uniform()) < prop_target - current_target:
            theta, current_target, current_ll = proposal, prop_target, prop_ll
            accepted += 1
        samples.append(theta.copy())
        lls.append(current_ll)
    return PMMHResult(np.array(samples), np.array(lls), accepted / iterations)
