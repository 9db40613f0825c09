"""Where the time of one control step goes: physics, gait + IK, observation/reward/termination,
policy inference and the PPO update, per env step, for each physics back end and world.

    python -m benchmarks.profile_step                    # MJX and C MuJoCo, flat and rough, batch 256
    python -m benchmarks.profile_step --batch 8192       # a GPU's batch
    python -m benchmarks.profile_step --quick            # C MuJoCo, flat, batch 16 (CI: well-formed results)

Each part is its own compiled (``jax.jit`` of ``vmap``) function over a batch of ``--batch`` worlds,
timed warm (after its compilation) as the median of ``--repeats`` calls, and reported in µs per
env step (call time / batch):

* ``gait + IK``: ``episode_logic.pre_physics`` (command update, Bézier gait, residual, IK, safety
  clamp, pushes);
* ``physics``: the ``simulation.n_substeps`` MuJoCo steps of a control step (MJX: ``mjx.step`` in a
  scan; C MuJoCo: ``BatchedPhysics.step``, one ``mujoco.rollout`` call on the host, timed directly);
* ``obs + reward + done``: ``measure`` + ``episode_logic.post_physics``;
* ``full step``: the env's own ``step`` (all of the above in one program; for C MuJoCo the physics
  runs behind ``jax.pure_callback``) — the sum of the parts is shown next to it;
* ``policy``: the PPO policy network (the config's sizes, observation normaliser) on the batch;
* ``PPO update``: one minibatch gradient step (brax's PPO loss + Adam) on ``ppo.batch_size`` x
  ``ppo.unroll_length`` transitions, times ``ppo.num_updates_per_batch``, per env step it learns from.

Writes ``benchmarks/results/profile_step_<device>.{json,md}`` (``--out``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, Callable, Dict, List

import numpy as np

from benchmarks import cli
from benchmarks.results_files import write_json, write_markdown

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
PARTS = ("gait + IK", "physics", "obs + reward + done", "full step", "policy", "PPO update")


def _time(fn: Callable[[], Any], repeats: int) -> float:
    """Median seconds of ``fn()`` (its result blocked on), after one warm-up call (compilation)."""
    import jax

    jax.block_until_ready(fn())
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def profile_env(backend: str, world: str, batch: int, repeats: int) -> Dict[str, float]:
    """Seconds per call of the env parts at ``batch`` worlds: {part: s}."""
    import jax
    import jax.numpy as jnp

    from mjx_envs import episode_logic as logic
    from mjx_envs.backends import make_env
    from mjx_envs.measurements import measure
    from train.config import load_train_config

    cfg = load_train_config(preset="ci_tiny", overrides=[f"simulation.world={world}", f"simulation.backend={backend}"])
    env = make_env(cfg.simulation, cfg.env, cfg.gait)
    ctx = env.ctx
    keys = jax.random.split(jax.random.PRNGKey(0), batch)
    state = jax.jit(jax.vmap(env.reset))(keys)
    action = jnp.zeros((batch, env.action_size))
    pre = jax.jit(jax.vmap(lambda a, info: logic.pre_physics(ctx, a, info)))
    ctrl, kick, info, aux = pre(action, state.info)
    out = {"gait + IK": _time(lambda: pre(action, state.info), repeats)}
    if backend == "mjx":
        from mujoco import mjx

        model = env.mjx_model

        def substeps(data, c):
            data = data.replace(ctrl=c)
            return jax.lax.scan(lambda d, _: (mjx.step(model, d), None), data, None, length=ctx.sim.n_substeps)[0]

        phys = jax.jit(jax.vmap(substeps))
        out["physics"] = _time(lambda: phys(state.data, ctrl), repeats)
        data = phys(state.data, ctrl)
        q, v, sd = data.qpos, data.qvel, data.sensordata
        force = data.actuator_force
    else:
        ph = env.physics
        host_state = np.asarray(
            ph.forward(
                np.asarray(state.data.qpos, np.float64),
                np.asarray(state.data.qvel, np.float64),
                np.asarray(ctrl, np.float64),
                None,
            )[0]
        )
        c64 = np.asarray(ctrl, np.float64)
        out["physics"] = _time(lambda: ph.step(host_state, c64, None, None), repeats)
        q, v, sd, force = state.data.qpos, state.data.qvel, state.data.sensordata, None

    def post(q, v, sd, force, info, aux):
        meas = measure(ctx.idx, q, v, sd, force) if force is not None else measure(ctx.idx, q, v, sd)
        return logic.post_physics(ctx, meas, info, aux)

    post_j = jax.jit(jax.vmap(post, in_axes=(0, 0, 0, 0 if force is not None else None, 0, 0)))
    out["obs + reward + done"] = _time(lambda: post_j(q, v, sd, force, info, aux), repeats)
    step = jax.jit(jax.vmap(env.step))
    out["full step"] = _time(lambda: step(state, action), repeats)
    return out


def profile_learner(batch: int, repeats: int, obs_size: int, act_size: int, preset: str = "gpu") -> Dict[str, Any]:
    """Seconds of one policy forward pass at ``batch`` observations, and of one PPO minibatch
    update (``preset``'s network and minibatch shape), per env step learnt from."""
    import jax
    import jax.numpy as jnp
    import optax
    from brax.training import types
    from brax.training.acme import running_statistics, specs
    from brax.training.agents.ppo import losses as ppo_losses
    from brax.training.agents.ppo import networks as ppo_networks

    from train.config import load_train_config
    from train.ppo_setup import make_network_factory, observation_normalizer

    pcfg = load_train_config(preset=preset).ppo
    net = make_network_factory(pcfg)(obs_size, act_size, preprocess_observations_fn=observation_normalizer(pcfg))
    k = jax.random.PRNGKey(0)
    policy_params = net.policy_network.init(k)
    value_params = net.value_network.init(k)
    norm = running_statistics.init_state(specs.Array((obs_size,), jnp.float32))
    infer = ppo_networks.make_inference_fn(net)
    act = jax.jit(infer((norm, policy_params), deterministic=True))
    obs = jax.random.normal(k, (batch, obs_size))
    t_policy = _time(lambda: act(obs, k)[0], repeats)

    b, t = pcfg.batch_size, pcfg.unroll_length
    logits = net.policy_network.apply(norm, policy_params, jnp.zeros((b, t, obs_size)))  # the rollout's
    data = types.Transition(
        observation=jnp.zeros((b, t, obs_size)),
        action=jnp.zeros((b, t, act_size)),
        reward=jnp.zeros((b, t)),
        discount=jnp.ones((b, t)),
        next_observation=jnp.zeros((b, t, obs_size)),
        extras={
            "policy_extras": {
                "raw_action": jnp.zeros((b, t, act_size)),
                "log_prob": jnp.zeros((b, t)),
                "distribution_params": logits,
            },
            "state_extras": {"truncation": jnp.zeros((b, t))},
        },
    )
    params = ppo_losses.PPONetworkParams(policy=policy_params, value=value_params)
    opt = optax.adam(pcfg.learning_rate)
    opt_state = opt.init(params)

    def update(params, opt_state):
        grads = jax.grad(
            lambda p: ppo_losses.compute_ppo_loss(
                p,
                norm,
                data,
                k,
                net,
                entropy_cost=pcfg.entropy_cost,
                discounting=pcfg.discounting,
                reward_scaling=pcfg.reward_scaling,
                gae_lambda=pcfg.gae_lambda,
                clipping_epsilon=pcfg.clipping_epsilon,
            )[0]
        )(params)
        upd, opt_state = opt.update(grads, opt_state)
        return optax.apply_updates(params, upd), opt_state

    upd = jax.jit(update)
    t_update = _time(lambda: upd(params, opt_state), repeats)
    per_env_step = t_update * pcfg.num_updates_per_batch / (b * t)
    return {
        "policy_s": t_policy,
        "update_s": t_update,
        "update_per_env_step_s": per_env_step,
        "minibatch": f"{b} x {t} transitions, x{pcfg.num_updates_per_batch} epochs",
        "preset": preset,
        "network": f"policy {list(pcfg.policy_hidden_layer_sizes)}, value {list(pcfg.value_hidden_layer_sizes)}",
    }


def run(
    backends: List[str], worlds: List[str], batch: int, repeats: int, learner_preset: str = "gpu"
) -> Dict[str, Any]:
    import jax

    from train.config import load_train_config
    from train.ppo_setup import device_label

    rows = []
    learner = None
    for backend in backends:
        for world in worlds:
            t0 = time.time()
            parts = profile_env(backend, world, batch, repeats)
            if learner is None:
                from mjx_envs.backends import make_env

                cfg = load_train_config(preset="ci_tiny", overrides=["simulation.backend=cmujoco"])
                e = make_env(cfg.simulation, cfg.env, cfg.gait)
                learner = profile_learner(batch, repeats, e.observation_size, e.action_size, learner_preset)
            us = {k: 1e6 * v / batch for k, v in parts.items()}
            us["policy"] = 1e6 * learner["policy_s"] / batch
            us["PPO update"] = 1e6 * learner["update_per_env_step_s"]
            rows.append(
                {
                    "backend": backend,
                    "world": world,
                    "batch": batch,
                    "us_per_env_step": us,
                    "sum_of_parts_us": us["gait + IK"] + us["physics"] + us["obs + reward + done"],
                    "seconds": round(time.time() - t0, 1),
                }
            )
            print(f"{backend:8s} {world:6s} " + "  ".join(f"{k} {v:.2f}" for k, v in us.items()), flush=True)
    return {
        "device": device_label(),
        "jax_backend": jax.default_backend(),
        "batch": batch,
        "repeats": repeats,
        "rows": rows,
        "learner": learner,
        "command": "python -m benchmarks.profile_step " + " ".join(sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d"),
    }


def write(result: Dict[str, Any], out_dir: str, suffix: str = "") -> str:
    stem = write_json(result, out_dir, f"profile_step_{result['device']}{suffix}")
    lines = [
        f"# Where a control step's time goes — {result['device']} ({result['jax_backend']}), batch {result['batch']}",
        "",
        f"Command: `{result['command']}` ({result['date']}). µs per env step "
        f"(one call over the batch / batch), median of {result['repeats']} warm calls.",
        "",
        "| back end | world | " + " | ".join(PARTS) + " | parts 1-3 summed | physics share of full step |",
        "|---|---|" + "---:|" * (len(PARTS) + 2),
    ]
    for r in result["rows"]:
        u = r["us_per_env_step"]
        lines.append(
            f"| {r['backend']} | {r['world']} | "
            + " | ".join(f"{u[p]:.2f}" for p in PARTS)
            + f" | {r['sum_of_parts_us']:.2f} | {u['physics'] / u['full step']:.0%} |"
        )
    ln = result["learner"]
    lines += [
        "",
        f"policy: the `{ln['preset']}` preset's network ({ln['network']}); PPO update: one minibatch "
        f"gradient step ({ln['minibatch']}) = {1e3 * ln['update_s']:.1f} ms, per env step learnt from.",
        "The full step is one program; the parts are separate programs, so their sum also counts "
        "the launch and transfer costs the full step pays once.",
    ]
    return write_markdown(stem, lines)


def main(argv=None) -> Dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--backends", nargs="+", default=["mjx", "cmujoco"], choices=("mjx", "cmujoco"))
    p.add_argument("--worlds", nargs="+", default=["flat", "rough"], choices=("flat", "rough", "suite"))
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--learner-preset", default="gpu", help="preset whose network and minibatch are profiled")
    p.add_argument("--quick", action="store_true", help="C MuJoCo, flat, batch 16, 5 repeats, ci_tiny learner")
    p.add_argument("--out", default=RESULTS_DIR)
    args = p.parse_args(argv)
    cli.check_output_dirs(args, "--out")
    if args.quick:
        args.backends, args.worlds, args.batch, args.repeats = ["cmujoco"], ["flat"], 16, 5
        args.learner_preset = "ci_tiny"
    result = run(args.backends, args.worlds, args.batch, args.repeats, args.learner_preset)
    print(open(write(result, args.out, "_quick" if args.quick else "")).read())
    return result


if __name__ == "__main__":
    sys.exit(cli.run(main))
