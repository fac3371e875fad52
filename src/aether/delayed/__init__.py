"""Delayed sampling and automatic Rao-Blackwellization (Murray et al. 2018) for Python.

A model is ordinary Python over batched particles; `particle_filter(model, n, delay=...)`
runs it with the delayed-sampling graph on (Rao-Blackwellized, locally optimal proposals)
or off (bootstrap).
"""

from aether.delayed.api import (
    bernoulli,
    beta,
    binomial,
    categorical,
    dirichlet,
    exponential,
    gamma,
    gaussian,
    inverse_gamma,
    multinomial,
    multivariate_gaussian,
    negative_binomial,
    observe,
    poisson,
    shared,
    uniform,
    value,
)
from aether.delayed.errors import ModelError
from aether.delayed.graph import Node, State, System
from aether.delayed.kalman import kalman_log_likelihood
from aether.delayed.smc import FilterResult, particle_filter, pmmh, stratified, systematic

__all__ = [
    "FilterResult",
    "ModelError",
    "Node",
    "State",
    "System",
    "bernoulli",
    "beta",
    "binomial",
    "categorical",
    "dirichlet",
    "exponential",
    "gamma",
    "gaussian",
    "inverse_gamma",
    "kalman_log_likelihood",
    "multinomial",
    "multivariate_gaussian",
    "negative_binomial",
    "observe",
    "particle_filter",
    "pmmh",
    "poisson",
    "shared",
    "stratified",
    "systematic",
    "uniform",
    "value",
]
