"""``python -m train.sb3``: Stable-Baselines3 PPO on the Gymnasium twin (C MuJoCo, CPU).

    python -m train.sb3                              # preset cpu_small
    python -m train.sb3 --preset ci_tiny --name smoke
    python -m train.sb3 sb3.n_envs=4 ppo.learning_rate=1e-4
    python -m train.sb3 --resume runs/residual_sb3/20260101_1200

The same training YAML as ``python -m train`` drives it (``configs/ppo_residual.yaml``): the
``simulation``, ``gait`` and ``env`` sections build :class:`mjx_envs.gym_env.ResidualWalkEnv`,
the shared PPO keys come from ``ppo`` (learning_rate, discounting, gae_lambda,
clipping_epsilon, entropy_cost, num_updates_per_batch, max_grad_norm, normalize_advantage,
network sizes, activation, init_noise_std, normalize_observations, seed) and the SB3-only keys
from ``sb3`` (n_envs, total_timesteps, n_steps, batch_size, normalize_reward, checkpoints).

Run directory ``<sb3.output_dir>/YYYYMMDD_HHMM[_name]/``: ``config.yaml``, ``tensorboard/``
(SB3's own logs plus ``env_reward_terms/<term>`` and ``env/<metric>`` per step, and the curriculum
level), ``checkpoints/ppo_<steps>_steps.zip`` + ``ppo_vecnormalize_<steps>_steps.pkl``,
``final_model.zip`` + ``vecnormalize.pkl``, and ``export/`` in the same format as the Brax
export (:func:`deploy.policy_loader.load_policy` reads both; kernels are transposed from torch's layout).

Environments: one :class:`train.sb3_vec_env.BatchedSB3VecEnv` (an SB3 ``VecEnv``) over one
:class:`mjx_envs.vector_env.ResidualWalkVectorEnv` — the ``sb3.n_envs`` worlds are stepped
together in this process, the physics by one multi-threaded ``mujoco.rollout`` (``sb3.threads``,
0 = every core) and the episode logic by one batched jitted call; no worker processes. World i
reproduces a single ``ResidualWalkEnv`` seeded ``ppo.seed + i`` bit for bit, with SB3's
conventions (``terminal_observation``, ``TimeLimit.truncated``). ``VecMonitor`` and
``VecNormalize`` sit on top. The metric callback reads the adapter's batched arrays
(``last_metrics``, ``last_terrain_level``) instead of N info dicts. torch runs on
``sb3.torch_threads`` (default 1) CPU threads. Needs the ``sb3`` extra: ``pip install -e ".[sb3]"``.
"""

from __future__ import annotations

import argparse
import glob
import math
import os
import re
import time
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from train.config import TrainConfig
from train.run_dir import CHECKPOINT_SUBDIR, CONFIG_FILE

FINAL_MODEL = "final_model.zip"
FINAL_VECNORM = "vecnormalize.pkl"
_CKPT = re.compile(r"^ppo_(\d+)_steps\.zip$")

TORCH_ACTIVATIONS = {"relu": "ReLU", "tanh": "Tanh", "swish": "SiLU", "elu": "ELU"}
"""Config activation name (``train.config.ACTIVATIONS``) -> ``torch.nn`` class name."""


def _require_sb3():
    try:
        import stable_baselines3  # noqa: F401
        import torch  # noqa: F401
    except ImportError as e:  # pragma: no cover - depends on the install
        from model.yaml_config import ConfigError

        raise ConfigError(
            f"the SB3 path needs the 'sb3' extra ({e}); install it with: pip install -e \".[sb3]\""
        ) from None


def make_gym_env(cfg: TrainConfig, world: Optional[str] = None, metrics: bool = False):
    """One :class:`ResidualWalkEnv` for ``cfg`` (the single twin: export probe, tests, playback)."""
    from mjx_envs.gym_env import ResidualWalkEnv

    sim = cfg.simulation if world is None else cfg.simulation.replace(world=world)
    return ResidualWalkEnv(sim=sim, env=cfg.env, gait=cfg.gait, metrics=metrics)


def make_batched_env(cfg: TrainConfig, n_envs: Optional[int] = None, world: Optional[str] = None):
    """:class:`train.sb3_vec_env.BatchedSB3VecEnv` of ``n_envs`` (default ``sb3.n_envs``) worlds
    on the batched C-MuJoCo back end (``sb3.threads`` physics threads), metrics on, unseeded."""
    from mjx_envs.vector_env import ResidualWalkVectorEnv
    from train.sb3_vec_env import BatchedSB3VecEnv, host_device

    sim = cfg.simulation if world is None else cfg.simulation.replace(world=world)
    n = int(n_envs or cfg.sb3.n_envs)
    with host_device():  # the episode logic's jitted calls run on the CPU next to C MuJoCo
        venv = ResidualWalkVectorEnv(
            n, sim=sim, env=cfg.env, gait=cfg.gait, nthread=cfg.sb3.threads or None, metrics=True
        )
    return BatchedSB3VecEnv(venv)


def make_vec_env(cfg: TrainConfig, n_envs: Optional[int] = None):
    """``VecMonitor(BatchedSB3VecEnv)`` of ``n_envs`` (default ``sb3.n_envs``) worlds, world i
    seeded ``ppo.seed + i`` (= a single ``ResidualWalkEnv`` reset with that seed)."""
    from stable_baselines3.common.vec_env import VecMonitor

    venv = make_batched_env(cfg, n_envs)
    venv.seed(cfg.ppo.seed)
    return VecMonitor(venv)


def policy_kwargs(cfg: TrainConfig) -> Dict[str, Any]:
    import torch

    p = cfg.ppo
    return {
        "net_arch": {"pi": list(p.policy_hidden_layer_sizes), "vf": list(p.value_hidden_layer_sizes)},
        "activation_fn": getattr(torch.nn, TORCH_ACTIVATIONS[p.activation]),
        "log_std_init": float(math.log(p.init_noise_std)),
    }


def make_callbacks(cfg: TrainConfig, run_dir: str, venv_norm):
    """Checkpoints (model + VecNormalize stats) and per-step env-metric logging."""
    from stable_baselines3.common.callbacks import BaseCallback, CallbackList, CheckpointCallback

    class EnvMetricsCallback(BaseCallback):
        """Logs the env's named metrics (reward terms, saturation, falls, terrain level) as
        per-step means over each rollout: ``env/<metric>``, ``env_reward_terms/<term>``.

        Reads the batched arrays of :class:`train.sb3_vec_env.BatchedSB3VecEnv`
        (``last_metrics``, ``last_terrain_level``) once per step; with another VecEnv it falls
        back to the per-env ``infos`` (``metrics`` dicts, ``terrain_level``)."""

        def __init__(self):
            super().__init__()
            self._sums: Dict[str, float] = {}
            self._n = 0
            self._levels: List[int] = []
            self._batched = None
            self._msum: Optional[np.ndarray] = None
            self._lsum, self._ln = 0.0, 0

        def _on_training_start(self) -> None:
            from train.sb3_vec_env import BatchedSB3VecEnv

            inner = self.training_env.unwrapped if self.training_env is not None else None
            self._batched = inner if isinstance(inner, BatchedSB3VecEnv) else None

        def _on_step(self) -> bool:
            b = self._batched
            if b is not None:
                if b.last_metrics is not None:
                    s = b.last_metrics.sum(axis=0, dtype=np.float64)
                    self._msum = s if self._msum is None else self._msum + s
                    self._n += b.last_metrics.shape[0]
                if b.last_terrain_level is not None:
                    self._lsum += float(b.last_terrain_level.sum())
                    self._ln += int(b.last_terrain_level.size)
                return True
            for info in self.locals.get("infos", []):
                for k, v in info.get("metrics", {}).items():
                    self._sums[k] = self._sums.get(k, 0.0) + float(v)
                if "terrain_level" in info:
                    self._levels.append(int(info["terrain_level"]))
                self._n += 1
            return True

        def _on_rollout_end(self) -> None:
            if self._batched is not None and self._msum is not None:
                self._sums = dict(zip(self._batched.metric_names, self._msum.tolist()))
            if self._ln:
                self._levels = [self._lsum / self._ln]
            if self._n:
                for k, s in self._sums.items():
                    tag = f"env_reward_terms/{k[len('reward/') :]}" if k.startswith("reward/") else f"env/{k}_per_step"
                    self.logger.record(tag, s / self._n)
            if self._levels:
                self.logger.record("env/terrain_level_mean", float(np.mean(self._levels)))
            self._sums, self._n, self._levels = {}, 0, []
            self._msum, self._lsum, self._ln = None, 0.0, 0

    every = max(cfg.sb3.checkpoint_every_steps // max(cfg.sb3.n_envs, 1), 1)
    ckpt = CheckpointCallback(
        save_freq=every, save_path=os.path.join(run_dir, CHECKPOINT_SUBDIR), name_prefix="ppo", save_vecnormalize=True
    )
    return CallbackList([ckpt, EnvMetricsCallback()])


def latest_sb3_checkpoint(run_dir: str) -> Tuple[int, str, str]:
    """``(steps, model.zip, vecnormalize.pkl)`` of the newest SB3 checkpoint in ``run_dir``."""
    from train.checkpoints import CheckpointError

    root = os.path.join(run_dir, CHECKPOINT_SUBDIR)
    found = []
    for path in glob.glob(os.path.join(root, "ppo_*_steps.zip")):
        m = _CKPT.match(os.path.basename(path))
        if m:
            found.append((int(m.group(1)), path))
    if not found:
        raise CheckpointError(f"no SB3 checkpoint (ppo_<steps>_steps.zip) in {root}; nothing to resume from")
    steps, path = max(found)
    vn = os.path.join(root, f"ppo_vecnormalize_{steps}_steps.pkl")
    if not os.path.isfile(vn):
        raise CheckpointError(f"checkpoint {path} has no VecNormalize statistics ({vn} missing)")
    return steps, path, vn


def sb3_policy_layers(model) -> List[Tuple[np.ndarray, np.ndarray]]:
    """``[(kernel (in, out), bias)]`` of an SB3 ``MlpPolicy`` actor: policy_net Linear layers + action_net."""
    import torch

    layers = [m for m in model.policy.mlp_extractor.policy_net if isinstance(m, torch.nn.Linear)]
    layers.append(model.policy.action_net)
    return [
        (m.weight.detach().cpu().numpy().T.astype(np.float32), m.bias.detach().cpu().numpy().astype(np.float32))
        for m in layers
    ]


def export_sb3_policy(export_dir: str, model, vec_normalize, cfg: TrainConfig, training: Dict[str, Any]) -> str:
    """Write an SB3 PPO model + its VecNormalize statistics in the common export format."""
    from train.export import _common_meta, package_versions, write_export

    probe = make_gym_env(cfg)
    try:
        layout, obs_size, act_size = (
            probe.observation_layout(),
            probe.observation_space.shape[0],
            probe.action_space.shape[0],
        )
    finally:
        probe.close()
    if vec_normalize is not None and vec_normalize.norm_obs:
        rms = vec_normalize.obs_rms
        mean = np.asarray(rms.mean, np.float32)
        std = np.sqrt(np.asarray(rms.var, np.float64) + vec_normalize.epsilon).astype(np.float32)
        count, clip = float(rms.count), float(vec_normalize.clip_obs)
    else:
        mean, std, count, clip = np.zeros(obs_size, np.float32), np.ones(obs_size, np.float32), 0.0, None
    meta = _common_meta(cfg, layout, obs_size, act_size, training)
    meta.update(
        backend="sb3",
        versions=package_versions(("stable-baselines3", "torch", "gymnasium")),
        value_hidden_layer_sizes=list(cfg.ppo.value_hidden_layer_sizes),
        distribution="normal",
        normalize_observations=bool(vec_normalize is not None and vec_normalize.norm_obs),
    )
    return write_export(
        export_dir,
        layers=sb3_policy_layers(model),
        activation=cfg.ppo.activation,
        output="clip_mean",
        obs_mean=mean,
        obs_std=std,
        obs_count=count,
        meta=meta,
        obs_clip=clip,
    )


def train_sb3(cfg: TrainConfig, run_dir: str, resume: bool = False, console=print) -> Dict[str, Any]:
    """Train (or resume) SB3 PPO on the Gymnasium twin under ``run_dir``; returns a summary dict
    with ``run_dir``, ``export_dir``, ``model``, ``vec_normalize``, ``num_timesteps``, ``wall_time_s``."""
    _require_sb3()
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecNormalize

    from train.export import EXPORT_SUBDIR
    from train.ppo_setup import describe_device
    from train.run_dir import record_config

    t0 = time.time()
    run_dir = os.path.abspath(run_dir)  # once; every path of the run derives from it
    s, p = cfg.sb3, cfg.ppo
    # physics and torch take turns in this one process (sb3.torch_threads: why 1 by default)
    torch.set_num_threads(s.torch_threads or max(os.cpu_count() or 1, 1))
    total = int(s.total_timesteps or p.num_timesteps)
    if (s.n_steps * s.n_envs) % s.batch_size != 0:
        console(
            f"note: n_steps * n_envs = {s.n_steps * s.n_envs} is not a multiple of batch_size {s.batch_size}; "
            "SB3 truncates the last minibatch"
        )
    venv = make_vec_env(cfg)
    start = 0
    try:
        if resume:
            start, model_path, vn_path = latest_sb3_checkpoint(run_dir)
            venv_n = VecNormalize.load(vn_path, venv)
            venv_n.training = True
            model = PPO.load(
                model_path, env=venv_n, device=s.device, tensorboard_log=os.path.join(run_dir, "tensorboard")
            )
            console(f"resuming SB3 run {run_dir} from {model_path} ({start:,d} steps)")
            record_config(
                run_dir,
                cfg,
                start,
                header=f"Resolved SB3 training config (source: {cfg.source}), "
                f"resumed at env step {start}.\n"
                f"Resume with: python -m train.sb3 --resume {run_dir}",
            )
        else:
            os.makedirs(run_dir, exist_ok=True)
            record_config(
                run_dir,
                cfg,
                0,
                header=f"Resolved SB3 training config (source: {cfg.source}).\n"
                f"Resume with: python -m train.sb3 --resume {run_dir}",
            )
            venv_n = VecNormalize(
                venv,
                norm_obs=p.normalize_observations,
                norm_reward=s.normalize_reward,
                gamma=p.discounting,
                clip_obs=10.0,
            )
            model = PPO(
                "MlpPolicy",
                venv_n,
                learning_rate=p.learning_rate,
                n_steps=s.n_steps,
                batch_size=s.batch_size,
                n_epochs=p.num_updates_per_batch,
                gamma=p.discounting,
                gae_lambda=p.gae_lambda,
                clip_range=p.clipping_epsilon,
                ent_coef=p.entropy_cost,
                max_grad_norm=p.max_grad_norm if p.max_grad_norm is not None else 1e9,
                normalize_advantage=p.normalize_advantage,
                policy_kwargs=policy_kwargs(cfg),
                tensorboard_log=os.path.join(run_dir, "tensorboard"),
                seed=p.seed,
                device=s.device,
                verbose=0,
            )
        console(
            f"SB3 PPO on {s.n_envs} world(s) (world '{cfg.simulation.world}', batched C MuJoCo, "
            f"{venv.unwrapped.venv.physics.nthread} physics thread(s)), "
            f"torch on {s.device}; JAX for the shared env functions: {describe_device()}"
        )
        console(f"run dir: {run_dir}; {max(total - start, 0):,d} env steps to go")
        remaining = max(total - start, 0)
        if remaining > 0:
            model.learn(
                total_timesteps=remaining,
                callback=make_callbacks(cfg, run_dir, venv_n),
                reset_num_timesteps=not resume,
                tb_log_name="ppo",
                progress_bar=False,
            )
        model.save(os.path.join(run_dir, FINAL_MODEL))
        venv_n.save(os.path.join(run_dir, FINAL_VECNORM))
        ep = [e["r"] for e in model.ep_info_buffer] if model.ep_info_buffer else []
        training = {
            "env_steps": int(model.num_timesteps),
            "target_steps": total,
            "n_envs": s.n_envs,
            "episode_length": cfg.episode_length,
            "wall_time_s": time.time() - t0,
            "recent_episode_reward": float(np.mean(ep)) if ep else None,
            "preset": cfg.preset,
            "run_dir": run_dir,
            "train_world": cfg.simulation.world,
        }
        export_dir = export_sb3_policy(os.path.join(run_dir, EXPORT_SUBDIR), model, venv_n, cfg, training)
        from train.onnx_export import export_onnx_if_available

        export_onnx_if_available(export_dir, log=console)  # policy.onnx, or one line saying why not
    finally:
        venv.close()
    return {
        "run_dir": run_dir,
        "export_dir": export_dir,
        "model": model,
        "vec_normalize": venv_n,
        "num_timesteps": int(model.num_timesteps),
        "wall_time_s": time.time() - t0,
        "recent_episode_reward": training["recent_episode_reward"],
    }


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m train.sb3",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", default=None, help="training YAML (default: configs/ppo_residual.yaml)")
    p.add_argument("--preset", default="cpu_small", help="preset of the config file (default: cpu_small)")
    p.add_argument("--name", default=None, help="suffix of the run directory name")
    p.add_argument("--output-dir", default=None, help="parent directory of runs (default: sb3.output_dir)")
    p.add_argument("--resume", default=None, metavar="RUN_DIR", help="continue the SB3 run in RUN_DIR")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. sb3.n_envs=4")
    return p


def main(argv: Optional[List[str]] = None, console=print) -> Dict[str, Any]:
    from model.yaml_config import ConfigError
    from train.checkpoints import CheckpointError
    from train.config import load_train_config
    from train.interrupts import install_interrupt_handler
    from train.output_paths import ensure_writable_dir
    from train.run_dir import make_run_dir, resolve_run_dir, resume_config

    args = build_parser().parse_args(argv)
    install_interrupt_handler()
    _require_sb3()
    if args.resume:
        run_dir = resolve_run_dir(args.resume)
        cfg_path = os.path.join(run_dir, CONFIG_FILE)
        if not os.path.isfile(cfg_path):
            raise CheckpointError(f"{cfg_path} not found: {run_dir} is not an SB3 run directory")
        cfg = resume_config(cfg_path, args.overrides)
        latest_sb3_checkpoint(run_dir)
    else:
        cfg = load_train_config(args.config, preset=args.preset, overrides=args.overrides)
        out_dir = args.output_dir or cfg.sb3.output_dir
        ensure_writable_dir(out_dir, "--output-dir" if args.output_dir else "sb3.output_dir")
        run_dir = make_run_dir(out_dir, args.name if args.name is not None else cfg.run.name)
    if cfg.sb3.device != "cpu" and not cfg.sb3.device.startswith("cuda"):
        raise ConfigError(f"key 'sb3.device' = {cfg.sb3.device!r}: use 'cpu' or 'cuda[:N]'")
    try:
        out = train_sb3(cfg, run_dir, resume=bool(args.resume), console=console)
    except KeyboardInterrupt:
        from train.cli_errors import Interrupted

        raise Interrupted(run_dir, fresh=not args.resume, command="python -m train.sb3") from None
    console(f"run dir: {os.path.abspath(out['run_dir'])}")
    console(f"export:  {os.path.abspath(out['export_dir'])}")
    console(f"TensorBoard: tensorboard --logdir {os.path.abspath(out['run_dir'])}/tensorboard")
    return out


def cli(argv: Optional[List[str]] = None) -> int:
    """Command-line entry: exit status 0, or 2 with ``error: ...`` for bad input (train/cli_errors.py)."""
    from train.cli_errors import run_cli

    return run_cli(main, argv)


if __name__ == "__main__":
    from train.cli_errors import exit_process

    exit_process(cli())
