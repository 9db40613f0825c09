"""Environment throughput: batched MJX env vs the Gymnasium/C-MuJoCo twin vs raw mj_step.

    python -m benchmarks.env_throughput [--world flat|rough] [--batch 1 16 256 1024 4096]
        [--worlds 16 64 256] [--threads 1 2] [--skip-mjx] [--quick]

Counts control steps of the full residual env (gait + IK + 5 physics substeps + observation +
reward + termination). Rows:
  * ``mjx``: ``jit(vmap(env.step))`` at each batch size, rolled with ``lax.scan`` (steps/s = batch
    x steps / wall time, after compilation);
  * ``gym xN``: ``ResidualWalkEnv`` in N worker processes stepping independently;
  * ``mj_step``: raw C MuJoCo ``mj_step`` x substeps, the floor reference (no controller);
  * ``cmujoco vec, T thr``: the batched C-MuJoCo back end (``ResidualWalkVectorEnv``) with N worlds
    and T physics threads, next to ``rollout (floor), T thr``: bare ``mujoco.rollout`` of the same
    worlds/threads/substeps, measured alternately in the same run (``ratio_to_rollout``);
  * ``gym single``: one ``ResidualWalkEnv`` vs its own substeps of bare ``mj_step`` (cost ratio);
  * ``cmujoco brax env``: the Brax training env on C MuJoCo (``jax.pure_callback``) under the
    training wrappers, in ``lax.scan`` (what ``python -m train`` steps on a CPU, without the policy).
Also the JIT compile time of ``reset`` and ``step`` (single env). Prints a table and writes
``benchmarks/results/<device>[_<world>][_quick].json`` / ``.md`` and a PNG of steps/s vs batch.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import sys
import time

import numpy as np

from benchmarks import cli
from benchmarks.results_files import write_json, write_markdown

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def _versions() -> dict:
    import brax
    import jax
    import mujoco

    return {
        "python": platform.python_version(),
        "jax": jax.__version__,
        "mujoco": mujoco.__version__,
        "brax": brax.__version__,
    }


def device_name() -> str:
    """File-name label of this machine's JAX device: :func:`train.ppo_setup.device_label` (imported
    lazily: spawned Gymnasium workers import this module and must not pull JAX in at import)."""
    from train.ppo_setup import device_label

    return device_label()


def bench_mjx(world: str, batches, steps: int) -> tuple[list, dict]:
    import jax
    import jax.numpy as jnp

    from mjx_envs.residual_walk import MjxResidualWalk
    from model.simulation_config import SimulationConfig

    env = MjxResidualWalk(SimulationConfig(world=world))
    t = time.perf_counter()
    reset = jax.jit(env.reset).lower(jax.random.PRNGKey(0)).compile()
    compile_reset = time.perf_counter() - t
    s0 = reset(jax.random.PRNGKey(0))
    t = time.perf_counter()
    jax.jit(env.step).lower(s0, jnp.zeros(12)).compile()
    compile_step = time.perf_counter() - t

    def make_roll(b):
        @jax.jit
        def roll(s):
            def body(c, _):
                return jax.vmap(env.step)(c, jnp.zeros((b, 12))), None

            return jax.lax.scan(body, s, None, length=steps)[0]

        return roll

    # Compile every batch size's rollout first; on a GPU concurrently (XLA compiles outside the GIL),
    # so a pass over 6 batch sizes does not pay 6 sequential compiles. compile_s is each one's own
    # wall time (while compiling alongside the others, on a GPU).
    def compile_one(b):
        states = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.PRNGKey(1), b))
        t0 = time.perf_counter()
        fn = make_roll(b).lower(states).compile()
        return b, states, fn, time.perf_counter() - t0

    from concurrent.futures import ThreadPoolExecutor

    t = time.perf_counter()
    # (on a CPU backend, compiling side by side only competes with XLA's own threads: one at a time)
    workers = 1 if jax.default_backend() == "cpu" else len(batches)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        compiled = list(pool.map(compile_one, batches))
    compile_all = time.perf_counter() - t
    print(
        f"  compiled {len(batches)} batched rollouts ({'one at a time' if workers == 1 else 'concurrently'}) "
        f"in {compile_all:.1f} s",
        flush=True,
    )
    rows = []
    for b, states, roll, compile_s in compiled:
        out = roll(states)  # warm-up run (first execution, memory allocation)
        jax.block_until_ready(out.obs)
        t = time.perf_counter()
        out = roll(out)
        jax.block_until_ready(out.obs)
        wall = time.perf_counter() - t
        rows.append(
            {"backend": "mjx", "envs": b, "steps_per_s": b * steps / wall, "wall_s": wall, "compile_s": compile_s}
        )
        print(f"  mjx batch {b:5d}: {b * steps / wall:10.0f} steps/s (compile {compile_s:.1f} s)", flush=True)
    return rows, {
        "compile_reset_s": compile_reset,
        "compile_step_s": compile_step,
        "compile_batched_rollouts_s": compile_all,
        "compile_batched_concurrently": workers > 1,
    }


def _gym_worker(args):
    world, steps = args
    os.environ["JAX_PLATFORMS"] = "cpu"  # the twin's shared JAX functions run on the worker's CPU, never the GPU
    from mjx_envs.gym_env import ResidualWalkEnv

    env = ResidualWalkEnv(world=world)
    env.reset(seed=0)
    a = np.zeros(12, np.float32)
    for _ in range(20):  # compile the jitted logic outside the timed part
        env.step(a)
    t = time.perf_counter()
    for _ in range(steps):
        _, _, term, trunc, _ = env.step(a)
        if term or trunc:
            env.reset()
    return steps, time.perf_counter() - t


def bench_gym(world: str, procs, steps: int) -> list:
    rows = []
    ctx = mp.get_context("spawn")
    for n in procs:
        with ctx.Pool(n) as pool:
            res = pool.map(_gym_worker, [(world, steps)] * n)
        rate = sum(s / w for s, w in res)
        rows.append({"backend": f"gym x{n}", "envs": n, "steps_per_s": rate})
        print(f"  gym {n} proc: {rate:10.0f} steps/s", flush=True)
    return rows


def bench_mj_step(world: str, steps: int) -> list:
    import mujoco

    from model import loading
    from model.simulation_config import SimulationConfig

    sim = SimulationConfig(world=world)
    m = loading.load_mj_model(sim)
    d = mujoco.MjData(m)
    mujoco.mj_resetDataKeyframe(m, d, 0)
    if world == "rough":
        d.qpos[1], d.qpos[2] = -3.75, 0.30
    t = time.perf_counter()
    for _ in range(steps * sim.n_substeps):
        mujoco.mj_step(m, d)
    wall = time.perf_counter() - t
    rate = steps / wall
    print(f"  raw mj_step x{sim.n_substeps}: {rate:10.0f} control steps/s", flush=True)
    return [{"backend": "mj_step (floor)", "envs": 1, "steps_per_s": rate}]


def bench_cmujoco(world: str, worlds, threads, steps: int) -> list:
    """The batched C-MuJoCo back end (``ResidualWalkVectorEnv``: logic + rollout physics) next to
    bare ``mujoco.rollout`` of the same worlds, threads and substeps (the floor: no controller),
    measured alternately in this process. Rows carry ``ratio_to_rollout`` (>= 0.75 is the target)."""
    import mujoco
    from mujoco import rollout

    from mjx_envs.vector_env import ResidualWalkVectorEnv

    rows = []
    for n in worlds:
        for th in threads:
            vec = ResidualWalkVectorEnv(n, world=world, nthread=th)
            vec.reset(seed=0)
            a = np.zeros((n, vec.ctx.action_size), np.float32)
            for _ in range(5):  # compile / warm up outside the timed part
                vec.step(a)
            ph = vec.physics
            m = vec.model
            state = np.ascontiguousarray(vec._state[:, : ph.nfull])
            warm = np.ascontiguousarray(vec._state[:, ph.warm_slice])
            ctrl = np.repeat(vec.qpos[:, None, 7 : 7 + m.nu], ph.n_substeps, axis=1)
            ro = rollout.Rollout(nthread=th if th > 1 else 0)
            datas = [mujoco.MjData(m) for _ in range(max(th, 1))]
            models = [m] * n

            def bare():
                ro.rollout(models, datas, state, ctrl, nstep=ph.n_substeps, initial_warmstart=warm)

            bare()
            t_vec = t_bare = 0.0
            for _ in range(3):  # alternate, so drifts of the machine's speed hit both alike
                t = time.perf_counter()
                for _ in range(steps):
                    vec.step(a)
                t_vec += time.perf_counter() - t
                t = time.perf_counter()
                for _ in range(steps):
                    bare()
                t_bare += time.perf_counter() - t
            ro.close()
            vec.close()
            r_vec, r_bare = 3 * n * steps / t_vec, 3 * n * steps / t_bare
            rows.append(
                {
                    "backend": f"cmujoco vec, {th} thr",
                    "envs": n,
                    "threads": th,
                    "steps_per_s": r_vec,
                    "ratio_to_rollout": r_vec / r_bare,
                }
            )
            rows.append({"backend": f"rollout (floor), {th} thr", "envs": n, "threads": th, "steps_per_s": r_bare})
            print(
                f"  cmujoco vec {n:4d} worlds {th} thr: {r_vec:9.0f} steps/s | bare rollout {r_bare:9.0f} "
                f"| ratio {r_vec / r_bare:.2f}",
                flush=True,
            )
    return rows


def bench_single(world: str, steps: int) -> list:
    """One ``ResidualWalkEnv`` (metrics off) vs its own ``n_substeps`` bare ``mj_step`` calls per
    control step, alternately in this process, from the same kind of state (a walking episode)."""
    import mujoco

    from mjx_envs.gym_env import ResidualWalkEnv

    env = ResidualWalkEnv(world=world)
    env.reset(seed=0)
    a = np.zeros(12, np.float32)
    for _ in range(20):
        env.step(a)
    m, d = env.model, env.data
    scratch = mujoco.MjData(m)
    t_env = t_raw = 0.0
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(steps):
            _, _, term, trunc, _ = env.step(a)
            if term or trunc:
                env.reset()
        t_env += time.perf_counter() - t
        mujoco.mj_copyData(scratch, m, d)
        t = time.perf_counter()
        for _ in range(steps * env.ctx.sim.n_substeps):
            mujoco.mj_step(m, scratch)
        t_raw += time.perf_counter() - t
    us_env, us_raw = 1e6 * t_env / (3 * steps), 1e6 * t_raw / (3 * steps)
    print(
        f"  single gym env: {us_env:.0f} us/step vs {env.ctx.sim.n_substeps} x mj_step {us_raw:.0f} us "
        f"-> ratio {us_env / us_raw:.2f} (target <= 1.5)",
        flush=True,
    )
    return [
        {
            "backend": "gym single (metrics off)",
            "envs": 1,
            "steps_per_s": 1e6 / us_env,
            "us_per_step": us_env,
            "ratio_to_mj_step": us_env / us_raw,
        },
        {
            "backend": f"mj_step x{env.ctx.sim.n_substeps} (same states)",
            "envs": 1,
            "steps_per_s": 1e6 / us_raw,
            "us_per_step": us_raw,
        },
    ]


def bench_brax_env(world: str, worlds, steps: int) -> list:
    """The Brax training env on the C-MuJoCo back end (``CMujocoResidualWalk`` under the training
    wrappers, ``lax.scan`` of ``steps`` steps, physics via ``jax.pure_callback``; no policy)."""
    import jax
    import jax.numpy as jnp

    from mjx_envs.cmujoco_env import CMujocoResidualWalk
    from mjx_envs.training_wrappers import wrap_for_training
    from model.simulation_config import SimulationConfig

    env = wrap_for_training(CMujocoResidualWalk(SimulationConfig(world=world)), episode_length=250)
    rows = []
    for n in worlds:
        a = jnp.zeros((n, env.action_size))
        roll = jax.jit(lambda s: jax.lax.scan(lambda c, _: (env.step(c, a), None), s, None, length=steps)[0])
        s = roll(jax.jit(env.reset)(jax.random.split(jax.random.PRNGKey(0), n)))
        jax.block_until_ready(s.obs)
        t = time.perf_counter()
        for _ in range(3):
            s = roll(s)
        jax.block_until_ready(s.obs)
        rate = 3 * n * steps / (time.perf_counter() - t)
        rows.append({"backend": "cmujoco brax env", "envs": n, "steps_per_s": rate})
        print(f"  cmujoco brax env {n:4d} worlds: {rate:9.0f} steps/s", flush=True)
    return rows


def write_results(result: dict, stem: str, out_dir: str = RESULTS_DIR) -> None:
    path = write_json(result, out_dir, stem)
    lines = [
        f"# Env throughput — {result['device']} — world `{result['world']}`",
        "",
        f"Command: `{result['command']}`  ",
        f"Versions: {result['versions']}  ",
        (
            f"JIT compile (single env): reset {result['compile']['compile_reset_s']:.1f} s, "
            f"step {result['compile']['compile_step_s']:.1f} s"
            if result["compile"].get("compile_step_s", 0) > 0
            else "MJX rows not run (--skip-mjx)"
        ),
        "",
        "| backend | envs | control steps/s | ratio to gym x1 |",
        "|---|---|---|---|",
    ]
    c = result["compile"]
    if "compile_batched_rollouts_s" in c:
        how = "concurrently" if c.get("compile_batched_concurrently") else "one at a time"
        lines.insert(
            -3,
            f"Batched rollouts ({', '.join(str(r['envs']) for r in result['rows'] if r['backend'] == 'mjx')} envs) "
            f"compiled {how} in {c['compile_batched_rollouts_s']:.1f} s  ",
        )
    if result.get("partial"):
        lines.insert(2, f"**Partial results: stopped before {result['partial']}.**  ")
    lines[-2:] = [
        "| backend | envs | control steps/s | ratio to gym x1 | ratio to its floor |",
        "|---|---|---|---|---|",
    ]
    base = next((r["steps_per_s"] for r in result["rows"] if r["backend"] == "gym x1"), None)
    for r in result["rows"]:
        ratio = f"{r['steps_per_s'] / base:.2f}" if base else "-"
        floor = "-"
        if "ratio_to_rollout" in r:
            floor = f"{r['ratio_to_rollout']:.2f} x rollout's throughput"
        elif "ratio_to_mj_step" in r:
            floor = f"{r['ratio_to_mj_step']:.2f} x the cost of mj_step x substeps"
        lines.append(f"| {r['backend']} | {r['envs']} | {r['steps_per_s']:.0f} | {ratio} | {floor} |")
    lines += [
        "",
        "Floors: `rollout (floor)` is bare `mujoco.rollout` of the same worlds, threads and substeps "
        "(no controller), measured alternately with the `cmujoco vec` row above it; the single env is "
        "compared with its own substeps of bare `mj_step` from the same states (cost ratio, lower is better).",
    ]
    write_markdown(path, lines)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mj = [r for r in result["rows"] if r["backend"] == "mjx"]
    gy = [r for r in result["rows"] if r["backend"].startswith("gym x")]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.loglog([r["envs"] for r in mj], [r["steps_per_s"] for r in mj], "o-", label="MJX batched (jit+vmap)")
    ax.loglog([r["envs"] for r in gy], [r["steps_per_s"] for r in gy], "s-", label="Gymnasium / C MuJoCo, N processes")
    for th in sorted({r["threads"] for r in result["rows"] if "threads" in r}):
        cv = [r for r in result["rows"] if r["backend"] == f"cmujoco vec, {th} thr"]
        ro = [r for r in result["rows"] if r["backend"] == f"rollout (floor), {th} thr"]
        ax.loglog([r["envs"] for r in cv], [r["steps_per_s"] for r in cv], "^-", label=f"batched C MuJoCo, {th} thr")
        ax.loglog([r["envs"] for r in ro], [r["steps_per_s"] for r in ro], "v:", label=f"bare rollout, {th} thr")
    bx = [r for r in result["rows"] if r["backend"] == "cmujoco brax env"]
    if bx:
        ax.loglog([r["envs"] for r in bx], [r["steps_per_s"] for r in bx], "d-", label="C MuJoCo Brax env")
    floor = [r for r in result["rows"] if r["backend"].startswith("mj_step")]
    if floor:
        ax.axhline(floor[0]["steps_per_s"], color="gray", ls="--", label="raw mj_step, 1 core (floor ref.)")
    ax.set_xlabel("environments")
    ax.set_ylabel("control steps / s")
    ax.set_title(f"Residual env throughput — {result['device']} — {result['world']}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path + ".png", dpi=110)
    plt.close(fig)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--world", default="flat", choices=("flat", "rough"))
    p.add_argument("--batch", type=int, nargs="+", default=None)
    p.add_argument("--procs", type=int, nargs="+", default=None)
    p.add_argument("--steps", type=int, default=None, help="control steps per timed rollout")
    p.add_argument("--worlds", type=int, nargs="+", default=None, help="worlds of the batched C-MuJoCo rows")
    p.add_argument("--threads", type=int, nargs="+", default=None, help="threads of the batched C-MuJoCo rows")
    p.add_argument("--skip-mjx", action="store_true", help="leave out the MJX rows (slow to compile on a CPU)")
    p.add_argument("--quick", action="store_true", help="tiny sizes (CI smoke run)")
    p.add_argument("--out", default=RESULTS_DIR, help="results directory (default benchmarks/results)")
    args = p.parse_args(argv)
    cli.check_output_dirs(args, "--out")
    import jax

    gpu = jax.devices()[0].platform != "cpu"
    batches = args.batch or (
        [2] if args.quick else ([1, 16, 256, 1024, 4096, 8192] if gpu else [1, 16, 256, 1024, 4096])
    )
    procs = args.procs or ([1] if args.quick else sorted({1, os.cpu_count() or 1}))
    steps = args.steps or (5 if args.quick else 50)
    print(f"device {device_name()}, world {args.world}, batches {batches}, steps {steps}", flush=True)
    stem = (
        device_name()
        + ("" if args.world == "flat" else "_rough")
        + ("_cmujoco" if args.skip_mjx else "")
        + ("_quick" if args.quick else "")
    )
    result = {
        "device": device_name(),
        "world": args.world,
        "versions": _versions(),
        "command": "python -m benchmarks.env_throughput " + " ".join(argv if argv is not None else sys.argv[1:]),
        "compile": {},
        "rows": [],
    }
    ncpu = os.cpu_count() or 1
    worlds = args.worlds or ([2] if args.quick else [16, 64, 256])
    threads = args.threads or ([1] if args.quick else sorted({1, ncpu}))
    # Results are rewritten after each stage, so a run stopped at a wall-clock cap keeps what it measured.
    if args.skip_mjx:
        result["compile"] = {}
    else:
        mjx_rows, result["compile"] = bench_mjx(args.world, batches, steps)
        result["rows"] += mjx_rows
    write_results(dict(result, partial="the batched C-MuJoCo rows"), stem, args.out)
    cm_steps = 5 if args.quick else 40
    result["rows"] += bench_cmujoco(args.world, worlds, threads, cm_steps)
    result["rows"] += bench_single(args.world, 20 if args.quick else 300)
    result["rows"] += bench_brax_env(args.world, worlds, 5 if args.quick else 20)
    write_results(dict(result, partial="the Gymnasium rows"), stem, args.out)
    result["rows"] += bench_gym(args.world, procs, max(steps * 20, 100))  # >= 1 s per worker at full size
    write_results(dict(result, partial="the raw mj_step row"), stem, args.out)
    result["rows"] += bench_mj_step(args.world, max(steps * 20, 100))
    write_results(result, stem, args.out)
    print(open(os.path.join(args.out, stem + ".md")).read())
    return result


if __name__ == "__main__":
    sys.exit(cli.run(main))
