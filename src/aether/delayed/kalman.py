"""The exact Kalman-filter log-likelihood: the reference a Rao-Blackwellized filter must hit."""

from __future__ import annotations

import numpy as np


def kalman_log_likelihood(ys, F, Q, H, R, m0, P0) -> float:
    """log p(y_1:T) for x_1 ~ N(m0, P0), x_t = F x_t-1 + N(0, Q), y_t = H x_t + N(0, R).

    Matrices are 2-d (scalars are promoted); `ys` is (T,) or (T, k).
    """
    F, Q, H, R, P = (np.atleast_2d(np.asarray(a, dtype=float)) for a in (F, Q, H, R, P0))
    m = np.atleast_1d(np.asarray(m0, dtype=float))
    ys = np.asarray(ys, dtype=float).reshape(len(ys), -1)
    total = 0.0
    for t, y in enumerate(ys):  # loops over time, not particles: this is the reference
        if t > 0:
            m, P = F @ m, F @ P @ F.T + Q
        S = H @ P @ H.T + R
        r = y - H @ m
        _, logdet = np.linalg.slogdet(2 * np.pi * S)
        total -= 0.5 * (logdet + r @ np.linalg.solve(S, r))
        K = P @ H.T @ np.linalg.inv(S)
        m, P = m + K @ r, P - K @ H @ P
    return float(total)
