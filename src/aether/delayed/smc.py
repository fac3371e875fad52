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
    group_log_z: np.ndarray | None = None  # groups > 1: each group's own estimate

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
    groups: int = 1,
) -> FilterResult:
    """Run the model on n particles and estimate log p(y_1:T).

    `bootstrap` resamples when ESS < ess_threshold * n. `alive` resamples every step and
    proposes until n + 1 particles have non-zero weight (Del Moral et al. 2015), so the
    estimate stays unbiased when observations can have zero likelihood; it gives up after
    `max_proposals * n` proposals in one step. `monitor(state)` returns per-particle arrays
    whose weighted means are recorded after every step.

    `groups` > 1 is the random-weight (pseudo-marginal) importance sampler of the paper's
    dengue experiment: `groups` independent filters of n particles each run side by side in
    one batch, each on its own draw of the variables `initial()` marks `shared`, and
    log_z is the log of the average of their estimates. A group that dies only loses its
    importance weight, and the shared variables are never left to the filter to degenerate.
    """
    if method not in ("bootstrap", "alive"):
        raise ModelError(f"method must be 'bootstrap' or 'alive', got {method!r}")
    if resampler not in RESAMPLERS:
        raise ModelError(f"resampler must be one of {sorted(RESAMPLERS)}, got {resampler!r}")
    if not 0.0 <= ess_threshold <= 1.0:
        raise ModelError(f"ess_threshold must be in [0, 1], got {ess_threshold}")
    if groups < 1:
        raise ModelError(f"groups must be >= 1, got {groups}")
    if groups > 1 and method != "alive":
        raise ModelError("groups > 1 (the importance sampler) runs the alive filter in each group")
    rng = np.random.default_rng(seed)
    resample = RESAMPLERS[resampler]
    with System(n * groups, rng, delay, groups=groups) as system:
        state = model.initial()
    logw = system.logw
    if groups > 1:
        out = FilterResult(0.0, state, logw)
        out.group_log_z = _group_logsumexp(logw, groups) - math.log(n)
        live = np.flatnonzero(np.isfinite(out.group_log_z))  # dead groups leave the batch
        state = out.state = take(state, (live[:, None] * n + np.arange(n)).ravel())
        logw = logw.reshape(groups, n)[live].ravel()
        out.log_z, out.log_weights = _pooled(logw, out.group_log_z, live, groups)
    else:
        log_z = float(logsumexp(logw) - math.log(n))
        out = FilterResult(log_z, state, logw - logsumexp(logw))
    for t in range(model.steps):
        if method == "alive":
            live = live if groups > 1 else np.zeros(1, dtype=np.int64)
            state, logw, log_inc, proposed = _alive_step(
                model, state, out.log_weights, t, n, len(live), rng, delay, max_proposals
            )
            out.proposals += proposed
            out.resamples += 1
            if groups > 1:
                out.group_log_z[live] += log_inc
                live = live[np.isfinite(log_inc)]
                log_z, norm_w = _pooled(logw, out.group_log_z, live, groups)
                log_inc, norm = log_z - out.log_z, None
            else:
                log_inc, norm = float(log_inc[0]), logsumexp(logw)
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
        out.log_weights = norm_w if norm is None else logw - norm
        out.log_z_steps.append(out.log_z)
        w = np.exp(out.log_weights)  # normalized: the ESS needs no second logsumexp
        out.ess_steps.append(float(1.0 / np.dot(w, w)))
        if monitor is not None:
            for key, x in monitor(state).items():
                out.trace.setdefault(key, []).append(float(out.weighted_mean(x)))
    return out


def _group_logsumexp(logw: np.ndarray, groups: int) -> np.ndarray:
    w = logw.reshape(groups, -1)
    m = w.max(1)
    safe = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        return safe + np.log(np.exp(w - safe[:, None]).sum(1))


def _pooled(logw: np.ndarray, group_z: np.ndarray, live: np.ndarray, groups: int):
    """The importance sampler's log Z (the mean of all groups' estimates, dead ones zero) and
    the live particles' weights: normalized within the group, times the group's share."""
    if not len(live):
        return -math.inf, logw
    z = group_z[live]
    within = logw.reshape(len(live), -1) - _group_logsumexp(logw, len(live))[:, None]
    return float(logsumexp(z) - math.log(groups)), (within + (z - logsumexp(z))[:, None]).ravel()


def _alive_step(model, state, log_weights, t: int, n: int, groups: int, rng, delay, max_proposals):
    """One step of the alive filter in each (live) group; returns the state and log-weights of
    the groups that survive it, every group's log increment (-inf: died) and the proposals.

    Each group's proposals form one sequence, run in batches: it stops at the (n + 1)-th live
    particle, trial T, and the increment is the sum of the first n live weights over T - 1.
    A group dies when it gives up after max_proposals * n proposals; it leaves the batch.
    """
    G = groups
    lw = log_weights.reshape(G, n)
    probs = np.exp(lw - lw.max(1)[:, None])
    cdf = np.cumsum(probs, 1)
    cdf /= cdf[:, -1:]
    cdf += np.arange(G)[:, None]  # one increasing sequence: group g's cdf lies in (g, g + 1]
    flat_cdf = cdf.ravel()
    need = np.full(G, n + 1)
    proposed = np.zeros(G, dtype=np.int64)
    trials = np.zeros(G, dtype=np.int64)
    done = np.zeros(G, dtype=bool)
    m, total, pieces = n + 1, 0, []
    while not done.all():
        active = np.flatnonzero(~done)
        u = (rng.uniform(size=(len(active), m)) + active[:, None]).ravel()
        ancestors = np.minimum(np.searchsorted(flat_cdf, u, side="right"), G * n - 1)
        with System(len(ancestors), rng, delay) as system:
            proposal = model.step(take(state, ancestors), t)
        alive = np.isfinite(system.logw).reshape(len(active), m)
        count = np.cumsum(alive, 1)
        want = need[active][:, None]
        finished = count[:, -1] >= want[:, 0]
        keep = alive & (count < want)  # the first need - 1 live ones (all, if unfinished)
        trials[active[finished]] = (
            proposed[active[finished]] + np.argmax(count[finished] >= want[finished], 1) + 1
        )
        rows, cols = np.nonzero(keep)
        pieces.append((proposal, rows * m + cols, active[rows], system.logw))
        need[active] -= np.where(finished, need[active], count[:, -1])
        proposed[active] += m
        total += len(ancestors)
        done[active[finished]] = True
        gave_up = ~done & (proposed >= max_proposals * n)
        done |= gave_up
        if not done.all():
            rate = count[~done[active], -1].min() / m
            m = int(min(max_proposals * n, max(m, need[~done].max() / max(rate, 1.0 / m) * 1.2)))
    ok = trials > 0
    inc = np.full(G, -np.inf)
    if not ok.any():
        return state, log_weights, inc, total
    parts, labels, weights = [], [], []
    for proposal, idx, group, logw in pieces:
        sel = ok[group]
        if sel.any():
            parts.append(take(proposal, idx[sel]))
            labels.append(group[sel])
            weights.append(logw[idx[sel]])
    labels = np.concatenate(labels)
    order = np.argsort(labels, kind="stable")
    new_state = take(concat(parts), order) if len(parts) > 1 else take(parts[0], order)
    new_logw = np.concatenate(weights)[order]
    inc[ok] = _group_logsumexp(new_logw, int(ok.sum())) - np.log(trials[ok] - 1)
    return new_state, new_logw, inc, total


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
