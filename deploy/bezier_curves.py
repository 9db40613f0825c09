"""The gait's Bézier swing curves for the robot loop (NumPy and the standard library only): the
control points of ``gait/bezier_gait.py`` (``SWING_X_POINTS``, ``SWING_Z_POINTS``) and their
evaluation, shared by :mod:`deploy.robot_controller` and :mod:`deploy.robot_footholds`.

``SWING_X``: the swing's forward profile in units of the half step (-1 at lift-off, +1 at
touchdown); ``SWING_Z``: its height profile divided by the curve's peak, so that the peak is
exactly the gait's ``swing_height``.
"""

from __future__ import annotations

import math

import numpy as np

SWING_X = np.array([-1.0, -1.4, -1.5, -1.5, -1.5, 0.0, 0.0, 0.0, 1.5, 1.5, 1.4, 1.0])
SWING_Z_RAW = np.array([0.0, 0.0, 0.9, 0.9, 0.9, 0.9, 0.9, 1.1, 1.1, 1.1, 0.0, 0.0])


def bezier(points: np.ndarray, u: float) -> float:
    """De Casteljau evaluation of a 1-D Bézier curve at u in [0, 1]."""
    p = np.array(points, float)
    for _ in range(len(p) - 1):
        p = (1.0 - u) * p[:-1] + u * p[1:]
    return float(p[0])


def _curve_peak(points: np.ndarray) -> float:
    n = len(points) - 1  # power-basis polynomial, max over its stationary points and the ends
    c = np.zeros(n + 1)
    for k, pk in enumerate(points):
        for j in range(n - k + 1):
            c[k + j] += pk * math.comb(n, k) * math.comb(n - k, j) * (-1.0) ** j
    poly = np.polynomial.Polynomial(c)
    roots = [r.real for r in poly.deriv().roots() if abs(r.imag) < 1e-9 and 0.0 <= r.real <= 1.0]
    return float(max(poly(u) for u in [0.0, 1.0] + roots))


SWING_Z = SWING_Z_RAW / _curve_peak(SWING_Z_RAW)
