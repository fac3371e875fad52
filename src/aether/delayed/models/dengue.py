"""The vector-borne disease model of the 2011 Yap dengue outbreak (paper section 5.3).

Humans (SEIR) and mosquitoes (SEI) move between compartments by daily binomial transfers
whose probabilities have beta priors; new human cases are reported with probability rho.
Structure and priors follow Birch's VectorBorneDisease example (Funk et al. 2016). Every
transfer is a binomial child of a beta parameter, so with delayed sampling all six
parameters stay marginalized (beta-binomial) and are never sampled.

The initial conditions (infectious, exposed and immune humans, mosquito population) cannot be
marginalized. Run under `particle_filter(..., groups=G)` they are the outer draws of the
paper's random-weight importance sampler, one per group: a filter whose particles each carry
their own would collapse onto a few of them by resampling and then die on the full series.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from aether import delayed as ds
from aether.delayed import distributions as D
from aether.delayed.errors import ModelError
from aether.delayed.graph import Node, State, current

PRIORS = {
    "h_lambda": (1.0, 1.0),  # human exposure probability per contact
    "h_delta": (1.0 + 2.0 / 4.4, 3.0 - 2.0 / 4.4),  # human incubation: mean 4.4 days
    "h_gamma": (1.0 + 2.0 / 4.5, 3.0 - 2.0 / 4.5),  # human recovery: mean 4.5 days
    "m_lambda": (1.0, 1.0),  # mosquito exposure probability per contact
    "m_delta": (1.0 + 2.0 / 6.5, 3.0 - 2.0 / 6.5),  # mosquito incubation: mean 6.5 days
    "rho": (1.0, 1.0),  # reporting probability
}
MOSQUITO_SURVIVAL, MOSQUITO_BIRTH = 6.0 / 7.0, 1.0 / 7.0


def cases_from(frame: pd.DataFrame, days: int | None = None) -> np.ndarray:
    """Daily counts (NaN = not observed) from a prepared `dengue` series."""
    if not {"t", "cases"} <= set(frame.columns):
        raise ModelError("dengue series needs columns t and cases; re-run the prepare stage")
    cases = frame.sort_values("t")["cases"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    return cases[:days] if days else cases


@dataclass
class YapDengue:
    cases: np.ndarray  # (T,), NaN where not observed
    days_per_step: int = 1  # 7 for weekly counts: a step simulates 7 days, observes their sum
    population: int = 7370
    initial_conditions: dict[str, float] | None = None  # fixed (i, e, r, m); None: the prior

    @property
    def steps(self) -> int:
        return len(self.cases)

    def initial(self):
        theta = {name: ds.beta(a, b) for name, (a, b) in PRIORS.items()}
        n = self.population
        ic = self.initial_conditions or sample_initial_conditions(n)
        if current().groups > 1:  # the importance sampler's outer draws: one per group
            ic = {k: ds.shared(v) for k, v in ic.items()}
        i, e, r, m = (np.full(current().n, ic[k], dtype=float) for k in "ierm")
        human = np.stack([n - e - i - r, e, i, r], axis=1)
        zero = np.zeros_like(m)
        mosquito = np.stack([m, zero, zero], axis=1)
        return {"theta": theta, "h": human, "m": mosquito, "z": i, "fit": zero}

    def step(self, state, t):
        for _ in range(self.days_per_step):
            state = self.day(state)
        z, fit = state["z"], state["fit"]
        if not np.isnan(self.cases[t]):
            fit = z * posterior_moments(state["theta"]["rho"])[0]
            ds.observe(ds.binomial(z, state["theta"]["rho"]), self.cases[t])
            z = np.zeros_like(z)
        return {**state, "z": z, "fit": fit}

    def day(self, state):
        """One day of binomial transfers between compartments."""
        th = state["theta"]
        (hs, he, hi, hr), (ms, me, mi) = state["h"].T, state["m"].T
        nh = hs + he + hi + hr
        # Susceptibles in contact with an infectious individual of the other species.
        contacts_h = ds.value(ds.binomial(hs, -np.expm1(-mi / nh)))
        contacts_m = ds.value(ds.binomial(ms, -np.expm1(-hi / nh)))

        de = ds.value(ds.binomial(contacts_h, th["h_lambda"]))
        di = ds.value(ds.binomial(he, th["h_delta"]))
        dr = ds.value(ds.binomial(hi, th["h_gamma"]))
        human = np.stack([hs - de, he + de - di, hi + di - dr, hr + dr], axis=1)

        dme = ds.value(ds.binomial(contacts_m, th["m_lambda"]))
        dmi = ds.value(ds.binomial(me, th["m_delta"]))
        alive = [
            ds.value(ds.binomial(x, MOSQUITO_SURVIVAL))
            for x in (ms - dme, me + dme - dmi, mi + dmi)
        ]
        alive[0] = alive[0] + ds.value(ds.binomial(ms + me + mi, MOSQUITO_BIRTH))
        mosquito = np.stack(alive, axis=1)

        return {**state, "h": human, "m": mosquito, "z": state["z"] + di}

    @staticmethod
    def monitor(state) -> dict[str, np.ndarray]:
        return {"expected_cases": state["fit"]}


def sample_initial_conditions(population: int = 7370) -> dict[str, np.ndarray]:
    """The prior on the initial state (Birch's VectorBorneDisease): infectious, exposed,
    immune humans and the mosquito population, one draw per particle of the active system."""
    i = 1 + ds.value(ds.poisson(5.0))
    e = ds.value(ds.poisson(5.0))
    r = np.floor(ds.value(ds.uniform(0.0, population - i - e)))
    m = np.floor(population * 10.0 ** ds.value(ds.uniform(-1.0, 2.0)))
    return {"i": i, "e": e, "r": r, "m": m}


def posterior_moments(x: Node) -> tuple[np.ndarray, np.ndarray]:
    """Per-particle mean and variance of a beta parameter: exact if marginalized."""
    if x.state is State.REALIZED:
        return x.realized, np.zeros_like(x.realized)
    dist = x.marginal if x.state is State.MARGINALIZED else x.prior
    if not isinstance(dist, D.Beta):
        raise ModelError(f"{x} has no beta marginal to summarize")
    a, b = dist.alpha, dist.beta
    return a / (a + b), a * b / ((a + b) ** 2 * (a + b + 1))


def parameter_summary(state, log_weights: np.ndarray) -> dict[str, dict[str, float]]:
    """Posterior mean and standard deviation of each parameter, mixing over particles."""
    w = np.exp(log_weights)
    out = {}
    for name, node in state["theta"].items():
        mean, var = posterior_moments(node)
        m = float(w @ mean)
        out[name] = {"mean": m, "sd": float(np.sqrt(max(w @ (var + mean**2) - m**2, 0.0)))}
    return out
