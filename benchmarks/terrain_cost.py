"""Cost of the terrain: MJX and C MuJoCo physics time per control step, `rough` vs `suite` world.

    python -m benchmarks.terrain_cost [--worlds rough suite] [--envs 64] [--steps 20] [--quick]

For each world: the robot standing (home keyframe, settled for 0.5 s in C MuJoCo) on a spawn
point of a hard tile (rough: band 5; suite: level 7 of stairs_up, in the flat start pad; contact
cost does not depend on the local shape: MJX collides each sphere with a fixed sub-grid of
hfield prisms around it), then
  * MJX on this machine's JAX device: ``jax.jit(jax.vmap(f))`` where ``f`` is ``n_substeps``
    (5) ``mjx.step`` calls, on ``--envs`` identical copies; timed after a warm-up call, median
    of ``--steps`` calls -> ms per batched control step and env control steps/s;
    all worlds are compiled first and then timed in 4 interleaved rounds (a shared machine's
    background load then affects every world alike);
  * C MuJoCo: ``mj_step`` x 5 on one MjData -> µs per control step and control steps/s;
plus load time (hfield generation included), hfield samples/bytes and the MJX sub-grid sizes.
Writes ``benchmarks/results/terrain_cost_<device>[_quick].json`` / ``.md`` and prints the table.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

from benchmarks import cli
from benchmarks.results_files import write_json

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def device_label() -> str:
    """``cpu-2core`` / ``nvidia-h200`` (same labels as the other benchmarks; no train import)."""
    import jax

    d = jax.devices()[0]
    if d.platform == "cpu":
        return f"cpu-{os.cpu_count()}core"
    return str(getattr(d, "device_kind", d.platform)).lower().replace(" ", "-")


def standing_data(world: str):
    """(MjModel, settled MjData, load seconds) with the robot standing on a hard tile's start."""
    import mujoco

    from model import loading, terrain
    from model.simulation_config import SimulationConfig

    sim = SimulationConfig(world=world)
    t = time.perf_counter()
    m = loading.load_mj_model(sim)
    load_s = time.perf_counter() - t
    d = mujoco.MjData(m)
    mujoco.mj_resetDataKeyframe(m, d, 0)
    heights = loading.terrain_heights(m)
    if world == "rough":
        x, y = terrain.band_spawn_xy(terrain.DEFAULT_TERRAIN.num_bands - 1, 0.5, 0.5)
        ground = float(terrain.footprint_max_height(heights, x, y))
    elif world == "suite":
        spec = terrain.default_suite_spec()
        x, y = terrain.suite_spawn_xy(spec.num_levels - 1, terrain.TERRAIN_TYPES.index("stairs_up"), 0.5, 0.5, spec)
        ground = float(terrain.footprint_max_height(heights, x, y, spec))
    else:
        x, y, ground = 0.0, 0.0, 0.0
    d.qpos[:3] = [x, y, ground + 0.29]
    for _ in range(int(round(0.5 / m.opt.timestep))):
        mujoco.mj_step(m, d)
    return m, d, load_s, sim.n_substeps


def hfield_info(m, world: str) -> dict:
    if m.nhfield == 0:
        return {"samples": 0, "mbytes": 0.0}
    info = {
        "nrow": int(m.hfield_nrow[0]),
        "ncol": int(m.hfield_ncol[0]),
        "samples": int(m.hfield_nrow[0] * m.hfield_ncol[0]),
        "mbytes": float(m.hfield_nrow[0] * m.hfield_ncol[0] * 4 / 1e6),
        "size": [float(v) for v in m.hfield_size[0]],
    }
    dx_ = 2 * m.hfield_size[0, 0] / (m.hfield_ncol[0] - 1)
    dy_ = 2 * m.hfield_size[0, 1] / (m.hfield_nrow[0] - 1)
    info["grid_m"] = [float(dx_), float(dy_)]
    # MJX's per-pair sub-grid: ceil(2 rbound / tick) + 1 samples per axis (collision_driver.py)
    grids = {}
    for g in range(m.ngeom):
        if m.geom_contype[g] and m.geom_type[g] == 2:  # robot collision spheres
            r = float(m.geom_rbound[g])
            grids.setdefault(r, (int(np.ceil(2 * r / dx_)) + 1, int(np.ceil(2 * r / dy_)) + 1, 0))
            a, b, n = grids[r]
            grids[r] = (a, b, n + 1)
    info["mjx_subgrids"] = [
        {"sphere_radius": r, "subgrid": [a, b], "spheres": n} for r, (a, b, n) in sorted(grids.items())
    ]
    return info


def _contact_slots(state):
    """Contact slots MJX allocates per env (every candidate sphere-hfield pair, active or not)."""
    impl = getattr(state, "_impl", state)
    contact = getattr(impl, "contact", None)
    return None if contact is None else int(np.asarray(contact.dist).shape[-1])


def compile_mjx(m, d, n_substeps: int, envs: int):
    """(compiled jit(vmap(control step)), batched state, compile seconds); state warmed up."""
    import jax
    import jax.numpy as jnp
    from mujoco import mjx

    mx = mjx.put_model(m)
    dx = mjx.put_data(m, d)
    batch = jax.tree_util.tree_map(
        lambda a: jnp.broadcast_to(a, (envs,) + a.shape) if isinstance(a, jax.Array) else a, dx
    )

    def control_step(state):
        return jax.lax.fori_loop(0, n_substeps, lambda i, s: mjx.step(mx, s), state)

    fn = jax.jit(jax.vmap(control_step))
    t = time.perf_counter()
    compiled = fn.lower(batch).compile()
    compile_s = time.perf_counter() - t
    state = compiled(batch)  # warm-up
    jax.block_until_ready(state)
    return compiled, state, compile_s


def time_mjx(compiled, state, calls: int):
    """Wall times (s) of ``calls`` batched control steps; returns (times, final state)."""
    import jax

    walls = []
    for _ in range(calls):
        t = time.perf_counter()
        state = compiled(state)
        jax.block_until_ready(state)
        walls.append(time.perf_counter() - t)
    return walls, state


def mjx_summary(walls, state, envs: int, compile_s: float) -> dict:
    wall = float(np.median(walls))
    return {
        "envs": envs,
        "compile_s": compile_s,
        "ms_per_control_step": 1e3 * wall,
        "env_steps_per_s": envs / wall,
        "ms_min": 1e3 * float(np.min(walls)),
        "calls": len(walls),
        "ncon_slots": _contact_slots(state),
        "trunk_z_after": float(np.mean(np.asarray(state.qpos[:, 2]))),
    }


def bench_mj_step(m, d, n_substeps: int, steps: int) -> dict:
    import mujoco

    d = mujoco.MjData(m) if d is None else d
    for _ in range(50):
        mujoco.mj_step(m, d)
    t = time.perf_counter()
    for _ in range(steps * n_substeps):
        mujoco.mj_step(m, d)
    wall = time.perf_counter() - t
    return {
        "us_per_control_step": 1e6 * wall / steps,
        "control_steps_per_s": steps / wall,
        "ncon": int(d.ncon),
        "trunk_z_after": float(d.qpos[2]),
    }


def write_results(result: dict, stem: str, out_dir: str = RESULTS_DIR) -> str:
    path = write_json(result, out_dir, stem)
    lines = [
        f"# Terrain cost — {result['device']}",
        "",
        f"Command: `{result['command']}`  ",
        f"Versions: {result['versions']}  ",
        f"MJX: `jit(vmap(5 x mjx.step))`, {result['envs']} identical envs, robot standing, median of "
        f"{result['steps']} calls after warm-up, worlds interleaved in 4 rounds. C MuJoCo: `mj_step` x 5, one MjData.",
        "",
        "| world | hfield (rows x cols, grid m) | samples | MB | load s | MJX ms / control step "
        f"({result['envs']} envs) | MJX env steps/s | MJX compile s | C mj_step µs / control step "
        "| C control steps/s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        h = r["hfield"]
        grid = f"{h['nrow']} x {h['ncol']}, {h['grid_m'][0]:.3f} x {h['grid_m'][1]:.3f}" if h["samples"] else "-"
        mj, c = r.get("mjx") or {}, r.get("c") or {}
        lines.append(
            f"| {r['world']} | {grid} | {h['samples']:,} | {h['mbytes']:.1f} | {r['load_s']:.2f} | "
            f"{mj.get('ms_per_control_step', float('nan')):.1f} | {mj.get('env_steps_per_s', float('nan')):.0f} | "
            f"{mj.get('compile_s', float('nan')):.1f} | {c.get('us_per_control_step', float('nan')):.0f} | "
            f"{c.get('control_steps_per_s', float('nan')):.0f} |"
        )
    lines += [
        "",
        "MJX hfield sub-grid per robot sphere (samples along x, y): "
        + "; ".join(
            f"{r['world']}: "
            + ", ".join(
                f"r {g['sphere_radius']:.3f} m x{g['spheres']} -> {g['subgrid'][0]}x{g['subgrid'][1]}"
                for g in r["hfield"].get("mjx_subgrids", [])
            )
            for r in result["rows"]
            if r["hfield"]["samples"]
        ),
    ]
    text = "\n".join(lines) + "\n"
    with open(path + ".md", "w") as fh:
        fh.write(text)
    return text


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--worlds", nargs="+", default=["rough", "suite"], choices=("flat", "rough", "suite"))
    p.add_argument("--envs", type=int, default=64)
    p.add_argument("--steps", type=int, default=20, help="timed MJX calls (control steps) per world")
    p.add_argument("--c-steps", type=int, default=1000, help="timed C MuJoCo control steps per world")
    p.add_argument("--quick", action="store_true", help="tiny sizes (smoke run)")
    p.add_argument("--out", default=RESULTS_DIR)
    args = p.parse_args(argv)
    cli.check_output_dirs(args, "--out")
    import jax
    import mujoco

    if args.quick:
        args.envs, args.steps, args.c_steps = 2, 2, 20
    label = device_label()
    stem = f"terrain_cost_{label}" + ("_quick" if args.quick else "")
    result = {
        "device": label,
        "envs": args.envs,
        "steps": args.steps,
        "command": "python -m benchmarks.terrain_cost " + " ".join(argv if argv is not None else sys.argv[1:]),
        "versions": {"python": platform.python_version(), "jax": jax.__version__, "mujoco": mujoco.__version__},
        "rows": [],
    }
    # The machine may be shared: compile every world first, then time them in interleaved rounds
    # (C MuJoCo and MJX), so background load hits all worlds alike; medians over the rounds.
    rounds = 4
    jobs = {}
    for world in args.worlds:
        m, d, load_s, n_sub = standing_data(world)
        row = {"world": world, "load_s": load_s, "hfield": hfield_info(m, world)}
        compiled, state, compile_s = compile_mjx(m, d, n_sub, args.envs)
        print(f"{world}: MJX compiled in {compile_s:.1f} s", flush=True)
        m2, d2, _, _ = standing_data(world)
        jobs[world] = dict(
            row=row, compiled=compiled, state=state, compile_s=compile_s, walls=[], m=m2, d=d2, n_sub=n_sub, c=[]
        )
    for r in range(rounds):
        for world, j in jobs.items():
            walls, j["state"] = time_mjx(j["compiled"], j["state"], max(args.steps // rounds, 1))
            j["walls"] += walls
            j["c"].append(bench_mj_step(j["m"], j["d"], j["n_sub"], max(args.c_steps // rounds, 1)))
            print(
                f"  round {r}: {world} MJX {1e3 * np.median(walls):.1f} ms, "
                f"C {j['c'][-1]['us_per_control_step']:.0f} µs",
                flush=True,
            )
    for world, j in jobs.items():
        row = j["row"]
        row["mjx"] = mjx_summary(j["walls"], j["state"], args.envs, j["compile_s"])
        us = [c["us_per_control_step"] for c in j["c"]]
        row["c"] = {
            "us_per_control_step": float(np.median(us)),
            "control_steps_per_s": 1e6 / float(np.median(us)),
            "us_rounds": us,
            "ncon": j["c"][-1]["ncon"],
            "trunk_z_after": j["c"][-1]["trunk_z_after"],
        }
        result["rows"].append(row)
    text = write_results(result, stem, args.out)
    print(text)
    return result


if __name__ == "__main__":
    sys.exit(cli.run(main))
