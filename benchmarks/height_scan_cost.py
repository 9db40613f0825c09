"""Cost of the terrain inputs per env control step: no terrain input vs the per-foot samples
(20 heights) vs the height scan (176 heights by default) vs the gait's foothold planner
(``gait.footholds``: 169 cells x 9 heights + 6 path heights per foot), on the suite world.

    python -m benchmarks.height_scan_cost [--envs 64] [--steps 40] [--skip-mjx] [--quick]

Each variant is the whole environment step (episode logic + physics + observation) with zero
actions:
  * C MuJoCo: :class:`mjx_envs.vector_env.ResidualWalkVectorEnv` with ``--envs`` worlds on every
    core, ms per batched step (median of ``--steps`` steps after a warm-up);
  * MJX: ``jax.jit(jax.vmap(env.step))`` of :class:`mjx_envs.residual_walk.MjxResidualWalk` on
    ``--envs`` envs on this machine's JAX device (median of ``--steps`` calls after a warm-up).
The variants are timed in interleaved rounds, so a shared machine's load affects them alike; the
table gives each variant's time and its ratio to "none". Writes
``benchmarks/results/height_scan_cost_<device>[_quick].json`` / ``.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import time

import numpy as np

from benchmarks.results_files import write_json, write_markdown

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
VARIANTS = ("none", "foot_samples", "height_scan", "footholds")


def gait_config(variant: str):
    """The default ``GaitConfig``, with footholds on for the ``footholds`` variant."""
    from gait.gait_config import GaitConfig, with_footholds

    return with_footholds(GaitConfig(), variant == "footholds")


def env_config(variant: str):
    """The default ``EnvConfig`` with the terrain observation of ``variant``."""
    from mjx_envs.env_config import EnvConfig

    env = EnvConfig()
    if variant == "foot_samples":
        return env.replace(terrain_observation=True)
    if variant == "height_scan":
        return env.replace(height_scan=dataclasses.replace(env.height_scan, enabled=True))
    return env


def cmujoco_stepper(variant: str, envs: int):
    """A function doing one batched C-MuJoCo env step, warmed up."""
    from mjx_envs.vector_env import ResidualWalkVectorEnv
    from model.simulation_config import SimulationConfig

    vec = ResidualWalkVectorEnv(
        envs, sim=SimulationConfig(world="suite"), env=env_config(variant), gait=gait_config(variant)
    )
    vec.reset(seed=0)
    action = np.zeros((envs, vec.single_action_space.shape[0]), np.float32)
    vec.step(action)
    return lambda: vec.step(action)


def mjx_stepper(variant: str, envs: int):
    """A function doing one jitted, vmapped MJX env step (blocking until done), warmed up."""
    import jax
    import jax.numpy as jnp

    from mjx_envs.residual_walk import MjxResidualWalk
    from model.simulation_config import SimulationConfig

    env = MjxResidualWalk(SimulationConfig(world="suite"), env_config(variant), gait_config(variant))
    state = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.PRNGKey(0), envs))
    step = jax.jit(jax.vmap(env.step))
    action = jnp.zeros((envs, env.action_size))
    holder = {"state": step(state, action)}
    jax.block_until_ready(holder["state"])

    def one():
        holder["state"] = step(holder["state"], action)
        jax.block_until_ready(holder["state"].obs)

    return one


def time_rounds(steppers, steps: int, rounds: int = 4):
    """{variant: median seconds per call}, the variants interleaved over ``rounds`` rounds."""
    times = {k: [] for k in steppers}
    per_round = max(1, steps // rounds)
    for _ in range(rounds):
        for k, fn in steppers.items():
            for _ in range(per_round):
                t = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t)
    return {k: float(np.median(v)) for k, v in times.items()}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(prog="python -m benchmarks.height_scan_cost", description=__doc__.split("\n\n")[0])
    p.add_argument("--envs", type=int, default=64, help="envs (worlds) per batched step")
    p.add_argument("--steps", type=int, default=40, help="timed steps per variant and back end")
    p.add_argument("--skip-mjx", action="store_true", help="leave out MJX (minutes of compilation on a CPU)")
    p.add_argument("--quick", action="store_true", help="tiny sizes (smoke run)")
    p.add_argument("--out", default=RESULTS_DIR)
    args = p.parse_args(argv)
    if args.quick:
        args.envs, args.steps = 4, 8
    from benchmarks.terrain_cost import device_label
    from mjx_envs.env_config import EnvConfig

    rows = []
    backends = [("cmujoco", cmujoco_stepper)] + ([] if args.skip_mjx else [("mjx", mjx_stepper)])
    for backend, make in backends:
        steppers = {v: make(v, args.envs) for v in VARIANTS}
        med = time_rounds(steppers, args.steps)
        for v in VARIANTS:
            rows.append(
                dict(
                    backend=backend,
                    variant=v,
                    envs=args.envs,
                    ms_per_batched_step=1e3 * med[v],
                    env_steps_per_s=args.envs / med[v],
                    ratio_to_none=med[v] / med["none"],
                )
            )
    scan = EnvConfig().height_scan
    result = dict(
        benchmark="height_scan_cost",
        device=device_label(),
        machine=platform.processor() or platform.machine(),
        cpu_count=os.cpu_count(),
        world="suite",
        envs=args.envs,
        steps=args.steps,
        scan_points=scan.points,
        foot_samples=20,
        quick=bool(args.quick),
        command=" ".join(["python -m benchmarks.height_scan_cost", *(argv or [])]),
        rows=rows,
    )
    name = f"height_scan_cost_{result['device']}{'_quick' if args.quick else ''}"
    stem = write_json(result, args.out, name)
    lines = [
        f"# Terrain observations: cost per env step ({result['device']}, suite world, {args.envs} envs)",
        "",
        f"Command: `{result['command']}`. Zero actions, medians of {args.steps} steps per variant, variants "
        "interleaved. `foot_samples`: 5 heights around each foot (20); `height_scan`: the "
        f"{scan.points}-point grid of `configs/env.yaml`; `footholds`: the gait's foothold planner "
        "(`gait.footholds`, `configs/gait.yaml`), no terrain observation.",
        "",
        "| back end | variant | ms per batched step | env steps/s | vs none |",
        "|---|---|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['backend']} | {r['variant']} | {r['ms_per_batched_step']:.2f} | {r['env_steps_per_s']:,.0f} | "
            f"{r['ratio_to_none']:.2f}x |"
        )
    write_markdown(stem, lines)
    print("\n".join(lines))
    return result


if __name__ == "__main__":
    main()
