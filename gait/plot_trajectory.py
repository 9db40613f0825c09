"""Plot the nominal foot trajectory of the Bézier gait (writes ``docs/img/foot_trajectory.png``).

Usage::

    python -m gait.plot_trajectory [--vx 0.3] [--out docs/img/foot_trajectory.png]

Left: the FR foot path in its hip frame (x forward, z up) [m] over one gait cycle, with the
swing-curve control points scaled by L and the clearance.  Right: foot height of all four
legs over two gait periods (trot timing), with the scheduled stance intervals shaded.
"""

from __future__ import annotations

import argparse
import os
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from gait.bezier_gait import SWING_X_POINTS, SWING_Z_POINTS, GaitState, half_steps_from_command, nominal_foot_targets
from gait.gait_config import GaitConfig, load_gait_config
from ik.leg_geometry import DEFAULT_GEOMETRY, LEG_NAMES

DEFAULT_OUT = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "img", "foot_trajectory.png"
)


def plot_foot_trajectory(config: GaitConfig, vx: float = 0.3, out: str = DEFAULT_OUT) -> str:
    """Render the figure for ``config`` at forward command ``vx`` [m/s] to ``out``; returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    config = config.for_robot(DEFAULT_GEOMETRY)
    command = jnp.array([vx, 0.0, 0.0])
    phases = jnp.linspace(0.0, 2.0, 801)
    feet = np.asarray(
        jax.jit(jax.vmap(lambda p: nominal_foot_targets(GaitState.create(p), command, config)))(phases)
    )  # (T, 4, 3)
    half = float(half_steps_from_command(command, config)[0, 0])
    z0 = -(config.body_height - 0.02)

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [1.1, 1.4]})
    one = phases < 1.0
    duty = config.duty_factor
    stance = np.asarray(phases % 1.0 < duty) & np.asarray(one)
    swing = ~np.asarray(phases % 1.0 < duty) & np.asarray(one)
    ax0.plot(feet[swing, 0, 0], feet[swing, 0, 2], "C0-", lw=2, label="swing (12-point Bézier)")
    ax0.plot(feet[stance, 0, 0], feet[stance, 0, 2], "C3-", lw=2, label="stance (−δ cos(πx/2L))")
    cx = config.foot_x_offset + half * np.asarray(SWING_X_POINTS)
    cz = z0 + config.swing_height * np.asarray(SWING_Z_POINTS)
    ax0.plot(cx, cz, "o--", color="0.6", ms=4, lw=0.8, label="control points (×L, ×clearance)")
    ax0.axhline(z0, color="0.8", lw=0.8)
    ax0.set_xlabel("x in hip frame [m]")
    ax0.set_ylabel("z in hip frame [m]")
    ax0.set_title(f"FR foot, vx = {vx} m/s: L = {half * 1000:.1f} mm, clearance {config.swing_height * 1000:.0f} mm")
    ax0.set_aspect("equal", adjustable="datalim")
    ax0.legend(loc="upper left", fontsize=8)

    t = np.asarray(phases) * config.period
    for i, name in enumerate(LEG_NAMES):
        base = 0.1 * (3 - i)
        ax1.plot(t, feet[:, i, 2] - z0 + base, color=f"C{i}", lw=1.8)
        # scheduled stance: leg phase (phase + offset) mod 1 < duty
        in_stance = ((np.asarray(phases) + config.phase_offsets[i]) % 1.0) < duty
        ax1.fill_between(t, base - 0.022, base - 0.012, where=in_stance, color=f"C{i}", alpha=0.4, lw=0)
    ax1.set_ylim(-0.03, 0.39)
    ax1.set_yticks([0.1 * (3 - i) for i in range(4)], LEG_NAMES)
    ax1.set_xlabel("time [s]")
    ax1.set_ylabel("foot height above stance line (rows offset 0.1 m)")
    ax1.set_title(f"{config.gait}: T = {config.period} s, duty {duty}; bars = scheduled stance")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def main(argv: Optional[list] = None) -> None:
    parser = argparse.ArgumentParser(description="Plot the nominal Bezier foot trajectory.")
    parser.add_argument("--vx", type=float, default=0.3, help="forward velocity command [m/s]")
    parser.add_argument("--gait-config", default=None, help="GaitConfig YAML (default configs/gait.yaml)")
    parser.add_argument("--out", default=DEFAULT_OUT, help="output PNG path")
    args = parser.parse_args(argv)
    print(plot_foot_trajectory(load_gait_config(args.gait_config), args.vx, args.out))


if __name__ == "__main__":
    main()
