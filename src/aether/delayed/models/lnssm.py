"""The linear-nonlinear state-space model (paper section 5.2) and a hand-written RBPF for it.

xn_1 ~ N(0, 1), xl_1 ~ N(0, I3); xn_t ~ N(atan(xn_t-1) + B xl_t-1, 0.01);
xl_t ~ N(A xl_t-1, 0.01 I3); yn_t ~ N(0.1 sign(xn_t) xn_t^2, 0.1); yl_t ~ N(C xl_t, 0.1).
With delayed sampling xl stays a Gaussian (a Kalman filter per particle) and only xn is
sampled: the program becomes a Rao-Blackwellized particle filter without being written as one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from aether import delayed as ds
from aether.delayed.smc import ess, logsumexp, systematic

A = np.array([[1.0, 0.3, 0.0], [0.0, 0.92, -0.3], [0.0, 0.3, 0.92]])
B = np.array([1.0, 0.0, 0.0])
C = np.array([1.0, -1.0, 1.0])
Q, R = 0.01, 0.1
Q3, I3 = Q * np.eye(3), np.eye(3)


def simulate(steps: int, seed: int) -> np.ndarray:
    """Observations (steps, 2) = (yn, yl) simulated from the model."""
    rng = np.random.default_rng(seed)
    xn, xl = rng.normal(), rng.normal(size=3)
    ys = np.empty((steps, 2))
    for t in range(steps):  # one trajectory: a loop over time, not particles
        if t > 0:
            xn, xl = (
                rng.normal(math.atan(xn) + B @ xl, math.sqrt(Q)),
                A @ xl + rng.normal(0, math.sqrt(Q), 3),
            )
        ys[t] = (
            rng.normal(0.1 * np.sign(xn) * xn**2, math.sqrt(R)),
            rng.normal(C @ xl, math.sqrt(R)),
        )
    return ys


@dataclass
class LinearNonlinear:
    ys: np.ndarray

    @property
    def steps(self) -> int:
        return len(self.ys)

    def initial(self):
        return {}

    def step(self, state, t):
        if t == 0:
            xn = ds.gaussian(0.0, 1.0)
            xl = ds.multivariate_gaussian(np.zeros(3), I3)
        else:
            xn = ds.gaussian(np.arctan(state["xn"]) + B @ state["xl"], Q)
            xl = ds.multivariate_gaussian(A @ state["xl"], Q3)
        v = ds.value(xn)
        ds.observe(ds.gaussian(0.1 * np.sign(v) * v**2, R), self.ys[t, 0])
        ds.observe(ds.gaussian(C @ xl, R), self.ys[t, 1])
        return {"xn": v, "xl": xl}


def handwritten_rbpf(ys: np.ndarray, n: int, seed: int = 0, ess_threshold: float = 0.5) -> float:
    """The same filter written by hand for this model: the baseline for the graph's overhead.

    It draws random numbers in the same order as `particle_filter(LinearNonlinear(ys), ...)`,
    so the two estimates agree to rounding.
    """
    rng = np.random.default_rng(seed)
    eye = np.eye(3)
    log_w = np.full(n, -math.log(n))
    m, P = np.zeros((n, 3)), np.broadcast_to(eye, (n, 3, 3))
    xn = np.empty(n)
    log_z = 0.0
    for t, (yn, yl) in enumerate(ys):
        if t == 0:
            xn = rng.standard_normal((n, 1))[:, 0]
        else:
            if ess(log_w) < ess_threshold * n:
                a = systematic(log_w, rng)
                xn, m, P, log_w = xn[a], m[a], P[a], np.full(n, -math.log(n))
            mean, var = np.arctan(xn) + m[:, 0], P[:, 0, 0] + Q
            xn = mean + np.sqrt(var) * rng.standard_normal((n, 1))[:, 0]
            gain = P[:, :, 0] / var[:, None]  # condition xl_t-1 on xn_t
            m = m + gain * (xn - mean)[:, None]
            P = P - gain[:, :, None] * P[:, None, 0, :]
            # predict xl_t; A P A' as two matrix multiplies over all particles (P symmetric)
            AP = (P.reshape(3 * n, 3) @ A.T).reshape(n, 3, 3).swapaxes(1, 2)
            P = (np.ascontiguousarray(AP).reshape(3 * n, 3) @ A.T).reshape(n, 3, 3) + Q * eye
            m = m @ A.T
        mu_n = 0.1 * np.sign(xn) * xn**2
        inc = -0.5 * (np.log(2 * np.pi * R) + (yn - mu_n) ** 2 / R)
        s = np.einsum("i,nij,j->n", C, P, C) + R
        r = yl - m @ C
        inc += -0.5 * (np.log(2 * np.pi * s) + r**2 / s)
        gain = (P @ C) / s[:, None]
        m, P = m + gain * r[:, None], P - gain[:, :, None] * (C @ P)[:, None, :]
        total = log_w + inc
        step = logsumexp(total)
        log_z, log_w = log_z + step, total - step
    return float(log_z)
