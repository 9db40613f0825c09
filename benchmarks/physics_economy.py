"""Physics economy, measured: solver iterations, line-search iterations and the collision set vs
speed, MJX-vs-C-MuJoCo parity and the nominal gait's walking.

    python -m benchmarks.physics_economy                      # the default sweep, flat and rough
    python -m benchmarks.physics_economy --quick              # 2 settings, flat, small batch (CI)
    python -m benchmarks.physics_economy --settings 4/8/all 1/5/feet --batch 1024

A setting is ``iterations/ls_iterations/collision`` (``simulation.solver_iterations``,
``simulation.ls_iterations``, ``simulation.collision``; today's model is ``4/8/all``: 16 collision
spheres; MuJoCo Playground's Go1 uses ``1/5`` with the feet only). For each setting and world:

* **MJX steps/s**: ``jit(vmap(env.step))`` over ``--batch`` worlds, warm, median of 5 runs of
  ``--steps`` control steps (the full env: gait, IK, physics, reward);
* **C MuJoCo steps/s**: the batched C-MuJoCo physics alone (``BatchedPhysics.step``) on the same batch;
* **parity**: MJX and C MuJoCo from the same ``--parity-envs`` reset keys under the nominal gait
  (zero residual), 2 s: the trunk's horizontal drift between the twins (mean, max) and the
  relative difference of the summed reward;
* **nominal gait** (C MuJoCo, ``--walk-envs`` episodes of 8 s, forward commands 0.2-0.5 m/s, rough:
  every band): success (no fall) and mean distance walked.

Tolerances the adopted setting must keep (docs/benchmarks.md): trunk drift ≤ 2 cm (flat) and
≤ 10 cm (rough) after 2 s, reward within 2 %, nominal success and distance within 5 % of ``4/8/all``.
Writes ``benchmarks/results/physics_economy_<device>.{json,md}`` (``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Dict, List, Tuple

import numpy as np

from benchmarks import cli
from benchmarks.results_files import write_json, write_markdown

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
DEFAULT_SETTINGS = ["4/8/all", "2/4/all", "1/5/all", "4/8/feet", "1/5/feet"]
TOLERANCES = {"drift_flat_m": 0.02, "drift_rough_m": 0.10, "reward_rel": 0.02, "walk_rel": 0.05}
FORWARD = [
    "env.command.vx=[0.2, 0.5]",
    "env.command.vy=[0.0, 0.0]",
    "env.command.yaw_rate=[0.0, 0.0]",
    "env.command.zero_probability=0.0",
    "env.command.resample=false",
]


def parse_setting(text: str) -> Tuple[int, int, str]:
    it, ls, col = text.split("/")
    return int(it), int(ls), col


def _configs(setting: str, world: str, backend: str):
    from train.config import load_train_config

    it, ls, col = parse_setting(setting)
    cfg = load_train_config(
        preset="ci_tiny",
        overrides=[
            f"simulation.world={world}",
            f"simulation.backend={backend}",
            f"simulation.solver_iterations={it}",
            f"simulation.ls_iterations={ls}",
            f"simulation.collision={col}",
            "env.episode_length_s=20.0",
            *FORWARD,
        ],
    )
    return cfg


def measure_setting(
    setting: str, world: str, batch: int, steps: int, parity_envs: int, walk_envs: int
) -> Dict[str, Any]:
    """Speed, parity and the nominal walk of one setting on one world (see the module docstring)."""
    import jax
    import jax.numpy as jnp

    from mjx_envs.cmujoco_env import CMujocoResidualWalk
    from mjx_envs.cmujoco_physics import BatchedPhysics
    from mjx_envs.residual_walk import MjxResidualWalk

    cfg = _configs(setting, world, "mjx")
    dt = cfg.simulation.control_dt
    parity_steps, walk_steps = int(round(2.0 / dt)), int(round(8.0 / dt))
    n_mjx = max(batch, parity_envs)
    keys = jax.random.split(jax.random.PRNGKey(7), max(n_mjx, walk_envs))
    out: Dict[str, Any] = {}

    env = MjxResidualWalk(cfg.simulation, cfg.env, cfg.gait)  # MJX: one reset and one step program
    reset, step = jax.jit(jax.vmap(env.reset)), jax.jit(jax.vmap(env.step))
    zero = jnp.zeros((n_mjx, env.action_size))
    s = jax.block_until_ready(step(reset(keys[:n_mjx]), zero))
    ts = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(steps):
            s = step(s, zero)
        jax.block_until_ready(s)
        ts.append(time.perf_counter() - t)
    out["mjx_steps_per_s"] = n_mjx * steps / float(np.median(ts))
    trunks, rewards = {}, {}
    s = reset(keys[:n_mjx])
    total = np.zeros(n_mjx)
    for _ in range(parity_steps):
        s = step(s, zero)
        total += np.asarray(s.reward)
    trunks["mjx"], rewards["mjx"] = np.asarray(s.data.qpos[:parity_envs, :2]), total[:parity_envs].copy()

    n = max(parity_envs, walk_envs)  # C MuJoCo: parity, then the 8 s walk
    cenv = CMujocoResidualWalk(cfg.simulation, cfg.env, cfg.gait)
    s = jax.jit(jax.vmap(cenv.reset))(keys[:n])
    cstep = jax.jit(jax.vmap(cenv.step))
    zero = jnp.zeros((n, cenv.action_size))
    x0 = np.asarray(s.data.qpos[:, :2])
    total, alive = np.zeros(n), np.ones(n, bool)
    for k in range(walk_steps):
        s = cstep(s, zero)
        total += np.asarray(s.reward) * alive
        alive &= ~((np.asarray(s.done) > 0) & (np.asarray(s.info["fell"]) > 0))
        if k + 1 == parity_steps:
            trunks["cmujoco"] = np.asarray(s.data.qpos[:parity_envs, :2])
            rewards["cmujoco"] = total[:parity_envs].copy()
    dist = np.linalg.norm(np.asarray(s.data.qpos[:, :2]) - x0, axis=1)
    out["walk_success"] = float(alive[:walk_envs].mean())
    out["walk_distance_m"] = float(dist[:walk_envs].mean())

    ph = BatchedPhysics(cenv.ctx, cfg.simulation.threads)  # C MuJoCo physics alone, the same batch
    q = np.repeat(np.asarray(ph.model.qpos0, np.float64)[None], n_mjx, axis=0)
    q[:, 2] = cenv.ctx.home_trunk_height + 0.01
    ctrl = np.repeat(np.asarray(cenv.ctx.home_joints, np.float64)[None], n_mjx, axis=0)
    q[:, 7:] = ctrl
    st = ph.forward(q, np.zeros((n_mjx, ph.model.nv)), ctrl, None)[0]
    ph.step(st, ctrl, None, None)
    t, calls = time.perf_counter(), 0
    while calls < steps or time.perf_counter() - t < 1.0:  # at least a second of stepping
        st = ph.step(st, ctrl, None, None)[0]
        calls += 1
    out["cmujoco_physics_steps_per_s"] = n_mjx * calls / (time.perf_counter() - t)
    ph.close()

    drift = np.linalg.norm(trunks["mjx"] - trunks["cmujoco"], axis=1)
    out["drift_mean_m"], out["drift_max_m"] = float(drift.mean()), float(drift.max())
    out["reward_rel"] = float(
        np.abs(rewards["mjx"].sum() - rewards["cmujoco"].sum()) / max(abs(rewards["cmujoco"].sum()), 1e-9)
    )
    return out


def sweep(
    settings: List[str], worlds: List[str], batch: int, steps: int, parity_envs: int, walk_envs: int
) -> Dict[str, Any]:
    import jax

    from train.ppo_setup import device_label

    rows = []
    for world in worlds:
        for setting in settings:
            t0 = time.time()
            row = {"setting": setting, "world": world}
            row.update(measure_setting(setting, world, batch, steps, parity_envs, walk_envs))
            row["seconds"] = round(time.time() - t0, 1)
            rows.append(row)
            print(json.dumps(row), flush=True)
    judge(rows, settings[0])
    return {
        "device": device_label(),
        "jax_backend": jax.default_backend(),
        "batch": batch,
        "steps": steps,
        "fastest_keeping": fastest_keeping(rows),
        "parity_envs": parity_envs,
        "walk_envs": walk_envs,
        "tolerances": TOLERANCES,
        "rows": rows,
        "command": "python -m benchmarks.physics_economy " + " ".join(sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d"),
    }


def judge(rows: List[Dict[str, Any]], baseline: str) -> None:
    """Add to each row its MJX speed-up over ``baseline`` (same world) and the pass/fail of each
    tolerance (``checks``, ``keeps_parity_and_walking``)."""
    base = {r["world"]: r for r in rows if r["setting"] == baseline}
    for r in rows:
        b = base[r["world"]]
        r["mjx_speedup"] = r["mjx_steps_per_s"] / b["mjx_steps_per_s"]
        tol_drift = TOLERANCES["drift_flat_m" if r["world"] == "flat" else "drift_rough_m"]
        r["checks"] = {
            "parity_drift": r["drift_max_m"] <= tol_drift,
            "parity_reward": r["reward_rel"] <= TOLERANCES["reward_rel"],
            "walk_success": r["walk_success"] >= b["walk_success"] * (1 - TOLERANCES["walk_rel"]),
            "walk_distance": r["walk_distance_m"] >= b["walk_distance_m"] * (1 - TOLERANCES["walk_rel"]),
        }
        r["keeps_parity_and_walking"] = all(r["checks"].values())


def fastest_keeping(rows: List[Dict[str, Any]]) -> Dict[str, str]:
    """Per world, the setting with the highest MJX steps/s among those that keep parity and walking."""
    best: Dict[str, Dict[str, Any]] = {}
    for r in rows:
        if r["keeps_parity_and_walking"] and (
            r["world"] not in best or r["mjx_steps_per_s"] > best[r["world"]]["mjx_steps_per_s"]
        ):
            best[r["world"]] = r
    return {w: r["setting"] for w, r in best.items()}


def write(result: Dict[str, Any], out_dir: str, suffix: str = "") -> str:
    stem = write_json(result, out_dir, f"physics_economy_{result['device']}{suffix}")
    t = result["tolerances"]
    lines = [
        f"# Physics economy — {result['device']} ({result['jax_backend']})",
        "",
        f"Command: `{result['command']}` ({result['date']}). MJX: full env, batch {result['batch']}, "
        f"{result['steps']} control steps per call; parity: {result['parity_envs']} envs, 2 s of the nominal "
        f"gait; walk: {result['walk_envs']} C-MuJoCo episodes of 8 s, forward commands 0.2-0.5 m/s.",
        "",
        "| world | iterations/ls/collision | MJX steps/s | × | C-MuJoCo physics steps/s | drift mean / max (m) "
        "| reward diff | nominal success | distance (m) | keeps parity and walking |",
        "|---|---|---:|---:|---:|---|---:|---:|---:|---|",
    ]
    for r in result["rows"]:
        c = r.get("cmujoco_physics_steps_per_s")
        lines.append(
            f"| {r['world']} | {r['setting']} | {r['mjx_steps_per_s']:,.0f} | {r['mjx_speedup']:.2f} | "
            f"{(f'{c:,.0f}' if c else '-')} | {r['drift_mean_m']:.4f} / {r['drift_max_m']:.4f} | "
            f"{r['reward_rel']:.2%} | {r['walk_success']:.0%} | {r['walk_distance_m']:.2f} | "
            + (
                "yes"
                if r["keeps_parity_and_walking"]
                else "no: " + ", ".join(k for k, v in r["checks"].items() if not v)
            )
            + " |"
        )
    lines += [
        "",
        "Fastest setting that keeps parity and walking: "
        + ", ".join(f"{w}: `{x}`" for w, x in result["fastest_keeping"].items())
        + ".",
        "",
        f"Tolerances: drift ≤ {t['drift_flat_m']} m flat / {t['drift_rough_m']} m rough after 2 s, summed "
        f"reward within {t['reward_rel']:.0%}, nominal success and distance within {t['walk_rel']:.0%} of the "
        f"first setting.",
    ]
    return write_markdown(stem, lines)


def main(argv=None) -> Dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--settings", nargs="+", default=DEFAULT_SETTINGS)
    p.add_argument("--worlds", nargs="+", default=["flat", "rough"], choices=("flat", "rough", "suite"))
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--parity-envs", type=int, default=8)
    p.add_argument("--walk-envs", type=int, default=24)
    p.add_argument("--quick", action="store_true", help="4/8/all and 1/5/feet, flat, batch 16")
    p.add_argument("--out", default=RESULTS_DIR)
    p.add_argument("--from-json", default=None, help="re-judge and rewrite the tables of a results JSON")
    args = p.parse_args(argv)
    cli.check_output_dirs(args, "--out")
    if args.from_json:
        with open(args.from_json) as fh:
            result = json.load(fh)
        judge(result["rows"], result["rows"][0]["setting"])
        result["fastest_keeping"] = fastest_keeping(result["rows"])
        print(open(write(result, args.out, "_quick" if result["batch"] <= 16 else "")).read())
        return result
    if args.quick:
        args.settings, args.worlds, args.batch, args.steps = ["4/8/all", "1/5/feet"], ["flat"], 16, 5
        args.parity_envs, args.walk_envs = 4, 4
    for s in args.settings:
        parse_setting(s)
    result = sweep(args.settings, args.worlds, args.batch, args.steps, args.parity_envs, args.walk_envs)
    print(open(write(result, args.out, "_quick" if args.quick else "")).read())
    return result


if __name__ == "__main__":
    sys.exit(cli.run(main))
