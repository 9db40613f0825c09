"""Flat vs rough world, side by side: trunk height, pitch, roll, forward position and foot heights.

For review, not an assertion: runs the nominal gait (and a residual policy when ``--policy`` is
given) on the flat and the rough world from the same reset key and command on C MuJoCo
(``ResidualWalkEnv``) and writes one PNG per quantity::

    python tests/compare_world_trajectories.py [--policy EXPORT] [--out DIR] [--duration 10]
                                              [--seed 0] [--band 2] [--vx 0.3]

Files in ``--out`` (default ``trajectory_comparison/``): ``trunk_height.png`` (trunk origin above
the terrain under it, m), ``pitch.png``, ``roll.png`` (rad, as the env defines them),
``forward_position.png`` (displacement along the initial heading, m), ``foot_heights.png``
(foot-sphere centre above the terrain under it, m, one panel per foot). The test
``tests/test_compare_world_trajectories.py`` runs it briefly.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Dict, List, Optional, Sequence

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:  # run as a plain script from a checkout
    sys.path.insert(0, REPO)

from evaluation.episode import EpisodeRecord, policy_controller, roll_pitch_array, run_episode, zero_action  # noqa: E402
from evaluation.nominal import trunk_yaw  # noqa: E402
from mjx_envs.policy_env import (  # noqa: E402
    check_policy_matches_env,
    configs_from_meta,
    default_configs,
    make_env,
    meta_path,
    with_world,
)
from model import robot_constants as rc  # noqa: E402

WORLDS = ("flat", "rough")
PLOTS = ("trunk_height", "pitch", "roll", "forward_position", "foot_heights")


def run_worlds(
    policy=None, duration: float = 10.0, seed: int = 0, band: int = 2, vx: float = 0.3
) -> Dict[str, Dict[str, EpisodeRecord]]:
    """{controller: {world: EpisodeRecord}} for ``nominal`` (and ``policy``), same key and command."""
    import jax

    configs = configs_from_meta(policy.meta, meta_path(policy)) if policy is not None else default_configs()
    controllers = {"nominal": None, **({"policy": policy} if policy is not None else {})}
    out: Dict[str, Dict[str, EpisodeRecord]] = {name: {} for name in controllers}
    for world in WORLDS:
        env = make_env(with_world(configs, world))
        try:
            if policy is not None:
                check_policy_matches_env(policy.meta, env, meta_path(policy))
            n_steps = int(round(duration / env.ctx.sim.control_dt))
            for name, pol in controllers.items():
                ctrl = policy_controller(pol) if pol is not None else zero_action(env.action_space.shape[0])
                out[name][world] = run_episode(
                    env, ctrl, n_steps, jax.random.PRNGKey(seed), band if world == "rough" else None, (vx, 0.0, 0.0)
                )
        finally:
            env.close()
    return out


def forward_position(rec: EpisodeRecord) -> np.ndarray:
    """(N + 1,) trunk displacement [m] along the initial heading (yaw of the reset pose)."""
    yaw0 = trunk_yaw(rec.trunk_quat[0])
    d = rec.trunk_pos[:, :2] - rec.trunk_pos[0, :2]
    return d[:, 0] * np.cos(yaw0) + d[:, 1] * np.sin(yaw0)


def _series(rec: EpisodeRecord, quantity: str) -> np.ndarray:
    if quantity == "trunk_height":
        return rec.trunk_pos[:, 2] - rec.trunk_ground
    if quantity == "pitch":
        return roll_pitch_array(rec.trunk_quat)[:, 1]
    if quantity == "roll":
        return roll_pitch_array(rec.trunk_quat)[:, 0]
    if quantity == "forward_position":
        return forward_position(rec)
    raise ValueError(quantity)


_LABELS = {
    "trunk_height": "trunk height above terrain (m)",
    "pitch": "pitch (rad)",
    "roll": "roll (rad)",
    "forward_position": "forward position (m, initial heading)",
}
_STYLE = {"nominal": "-", "policy": "--"}
_COLOR = {"flat": "tab:blue", "rough": "tab:orange"}


def write_plots(runs: Dict[str, Dict[str, EpisodeRecord]], out_dir: str, band: int) -> List[str]:
    """One PNG per quantity in ``PLOTS``; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    paths = []

    def label(name, world):
        return f"{name}, {world}" + (f" (band {band})" if world == "rough" else "")

    for quantity in PLOTS[:-1]:
        fig, ax = plt.subplots(figsize=(8, 3.5))
        for name, per in runs.items():
            for world, rec in per.items():
                ax.plot(
                    rec.time,
                    _series(rec, quantity),
                    _STYLE.get(name, ":"),
                    color=_COLOR[world],
                    label=label(name, world),
                    linewidth=1.2,
                )
        ax.set_xlabel("time (s)")
        ax.set_ylabel(_LABELS[quantity])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = os.path.join(out_dir, f"{quantity}.png")
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)

    fig, axes = plt.subplots(2, 2, figsize=(10, 6), sharex=True, sharey=True)
    for i, (ax, leg) in enumerate(zip(axes.ravel(), rc.LEG_NAMES)):
        for name, per in runs.items():
            for world, rec in per.items():
                ax.plot(
                    rec.time,
                    rec.foot_pos[:, i, 2] - rec.foot_ground[:, i],
                    _STYLE.get(name, ":"),
                    color=_COLOR[world],
                    label=label(name, world),
                    linewidth=1.0,
                )
        ax.set_title(f"{leg} foot")
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("time (s)")
    for ax in axes[:, 0]:
        ax.set_ylabel("foot centre above terrain (m)")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    path = os.path.join(out_dir, "foot_heights.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    paths.append(path)
    return paths


def main(argv: Optional[Sequence[str]] = None) -> List[str]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--policy", default=None, help="export (run dir or export dir) to compare as well")
    p.add_argument("--out", default="trajectory_comparison", help="output directory for the PNGs")
    p.add_argument("--duration", type=float, default=10.0, help="episode length [s]")
    p.add_argument("--seed", type=int, default=0, help="reset key jax.random.PRNGKey(seed)")
    p.add_argument("--band", type=int, default=2, help="rough-world spawn band 0..5")
    p.add_argument("--vx", type=float, default=0.3, help="forward velocity command [m/s]")
    args = p.parse_args(argv)
    policy = None
    if args.policy is not None:
        from deploy.policy_loader import load_policy

        policy = load_policy(args.policy)
    runs = run_worlds(policy, args.duration, args.seed, args.band, args.vx)
    paths = write_plots(runs, args.out, args.band)
    for name, per in runs.items():
        for world, rec in per.items():
            h = rec.trunk_pos[:, 2] - rec.trunk_ground
            rp = roll_pitch_array(rec.trunk_quat)
            print(
                f"{name:8s} {world:6s} {rec.time[-1]:5.2f} s  forward {forward_position(rec)[-1]:6.3f} m  "
                f"height {h.mean():.3f} m  |roll| max {np.abs(rp[:, 0]).max():.3f}  "
                f"|pitch| max {np.abs(rp[:, 1]).max():.3f} rad  ended early: {rec.terminated}"
            )
    print("wrote " + ", ".join(paths))
    return paths


if __name__ == "__main__":
    main()
