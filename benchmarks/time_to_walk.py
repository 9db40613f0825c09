"""Time to walk: wall-clock and env steps until a policy first "walks on rough ground".

    python -m benchmarks.time_to_walk [--preset cpu_rough] [key=value ...]     # train, then judge checkpoints
    python -m benchmarks.time_to_walk --from-run RUN_DIR                        # judge a finished run
    python -m benchmarks.time_to_walk --from-run RUN_DIR --quick                # 2 short episodes (smoke test)

The bar is ``configs/walk_bar.yaml`` (:class:`WalkBar`): over ``episodes`` seeded episodes of
``duration_s`` on ``model/world_train.xml`` with a fixed command, spawn bands used in turn,
the success rate (no fall) must reach ``min_success_rate`` and the mean forward speed
``min_speed_fraction`` of the commanded vx.

How: the run keeps every checkpoint (``run.keep_checkpoints=0``); each checkpoint, oldest first,
is exported (:func:`train.export.export_checkpoint`) and evaluated with
:func:`evaluation.suite_evaluation.evaluate_policy` on C MuJoCo. The first one that meets the bar gives
the time to walk: its env step and the run's wall-clock at that checkpoint (training time incl.
compilation, *excluding* this judging). The run's own gait is judged on the same episodes once, as
the reference (:func:`judge_reference`): the first checkpoint's export at action scale 0 (the
gait the policy corrects, with the run's env config: footholds, randomisation), or, for a run whose
zero action is not a gait (``direct``, ``torque``), the nominal gait of ``configs/*.yaml``.
Writes ``benchmarks/results/time_to_walk_<device>[_quick].json`` / ``.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from dataclasses import field
from typing import Any, Dict, List, Optional, Tuple

from benchmarks import cli
from benchmarks.env_throughput import RESULTS_DIR, _versions, device_name
from benchmarks.results_files import write_json
from model.simulation_config import REPO_ROOT
from model.yaml_config import ConfigError, load_dataclass, yaml_dataclass

DEFAULT_BAR = os.path.join(REPO_ROOT, "configs", "walk_bar.yaml")


@yaml_dataclass(DEFAULT_BAR)
class WalkBar:
    """The "walks" bar (``configs/walk_bar.yaml``, which holds the defaults: rough ground;
    ``configs/walk_bar_suite.yaml``: the terrain-suite tiles where the nominal gait fails). ``world``
    is ``rough`` (spawn ``bands``) or ``suite`` (episodes spread over the ``types`` x ``levels`` tiles
    of ``terrain_seed``). Units: s, m/s, rad/s."""

    world: str = field(metadata={"choices": ("rough", "suite")})
    episodes: int = field(metadata={"range": (1, 10_000)})
    duration_s: float = field(metadata={"range": (0.1, 600.0)})
    command: Tuple[float, float, float]
    bands: Tuple[int, ...]
    seed: int = field(metadata={"range": (0, 2**31 - 1)})
    min_success_rate: float = field(metadata={"range": (0.0, 1.0)})
    min_speed_fraction: float = field(metadata={"range": (0.0, 2.0)})
    types: Tuple[str, ...]
    levels: Tuple[int, ...]
    terrain_seed: int = field(metadata={"range": (0, 2**31 - 1)})

    def validate(self) -> None:
        from model.terrain import TERRAIN_TYPES

        if self.command[0] <= 0:
            raise ConfigError("key 'command' must have a positive forward speed vx (the bar is a fraction of it)")
        if self.world == "rough" and (not self.bands or any(b < 0 or b > 5 for b in self.bands)):
            raise ConfigError(f"key 'bands' must list spawn bands in 0..5, got {list(self.bands)}")
        if self.world == "suite":
            if not self.types or any(t not in TERRAIN_TYPES for t in self.types):
                raise ConfigError(
                    f"key 'types' must list suite terrain types of {list(TERRAIN_TYPES)}, got {list(self.types)}"
                )
            if not self.levels or any(lv < 0 for lv in self.levels):
                raise ConfigError(f"key 'levels' must list suite levels (>= 0), got {list(self.levels)}")
            n_tiles = len(self.types) * len(self.levels)
            if self.episodes % n_tiles:
                raise ConfigError(
                    f"key 'episodes' = {self.episodes} must be a multiple of the {n_tiles} tiles "
                    f"(types x levels), so that every tile gets as many episodes"
                )

    def where(self) -> str:
        """The bar's terrain, in words."""
        if self.world == "suite":
            return (
                f"terrain suite (seed {self.terrain_seed}), {', '.join(self.types)} levels "
                f"{', '.join(map(str, self.levels))}"
            )
        return f"`world_train.xml`, bands {list(self.bands)} in turn"


def load_walk_bar(path: Optional[str] = None) -> WalkBar:
    return load_dataclass(WalkBar, path or DEFAULT_BAR)


def judge(policy: Any, bar: WalkBar, processes: int = 1, action_scale: float = 1.0) -> Dict[str, Any]:
    """Evaluate ``policy`` (export path, loaded export, or None = nominal gait) against ``bar``, its
    action multiplied by ``action_scale`` (0: the gait of the policy's env)."""
    from evaluation.suite_evaluation import evaluate_policy

    if bar.world == "suite":  # bar.episodes in all, spread over the tiles
        n_tiles = len(bar.types) * len(bar.levels)
        where = dict(
            worlds=("suite",),
            levels=tuple(bar.levels),
            types=tuple(bar.types),
            suite_terrain_seed=bar.terrain_seed,
            episodes=bar.episodes // n_tiles,
        )
    else:
        where = dict(worlds=("rough",), bands=tuple(bar.bands), episodes=bar.episodes)
    report = evaluate_policy(
        policy,
        duration=bar.duration_s,
        seed=bar.seed,
        command=tuple(bar.command),
        include_nominal=False,
        processes=processes,
        action_scale=action_scale,
        **where,
    )
    controller = next(iter(report["results"]))
    s = report["results"][controller][bar.world]["summary"]
    speed_frac = (s["mean_forward_speed_mps"] or 0.0) / bar.command[0]
    return {
        "success_rate": s["success_rate"],
        "speed_fraction": speed_frac,
        "distance_m_mean": s["distance_m_mean"],
        "mean_forward_speed_mps": s["mean_forward_speed_mps"],
        "falls": s["falls"],
        "out_of_bounds": s["out_of_bounds"],
        "walks": bool(s["success_rate"] >= bar.min_success_rate and speed_frac >= bar.min_speed_fraction),
    }


def judge_reference(first_export: str, bar: WalkBar, processes: int = 1) -> Dict[str, Any]:
    """The bar's reference: the gait of the run (``first_export``, a checkpoint's export directory,
    at action scale 0: the env the policy trained in, footholds and randomisation included), or the
    nominal gait of ``configs/*.yaml`` when the run's zero action is not a gait. ``reference`` says
    which."""
    from mjx_envs.env_config import GAIT_ACTION_MODES

    with open(os.path.join(first_export, "meta.json")) as fh:
        mode = json.load(fh)["config"]["env"]["action_mode"]
    if mode in GAIT_ACTION_MODES:
        ref = judge(first_export, bar, processes, action_scale=0.0)
        ref["reference"] = "the run's gait (zero residual, the run's env config)"
    else:
        ref = judge(None, bar, processes)
        ref["reference"] = f"the nominal gait of configs/*.yaml (the run's action mode {mode!r} has no gait)"
    return ref


def judge_run(run_dir: str, bar: WalkBar, processes: int = 1, stop_at_first: bool = True, log=print) -> Dict[str, Any]:
    """Judge every checkpoint of ``run_dir`` (oldest first) and the run's gait
    (:func:`judge_reference`)."""
    from train.checkpoints import list_checkpoints, read_state
    from train.export import export_checkpoint

    ckpts = list_checkpoints(run_dir)
    if not ckpts:
        raise SystemExit(f"{run_dir}: no checkpoints to judge")
    rows, first = [], None
    with tempfile.TemporaryDirectory() as tmp:
        exports = {step: os.path.join(tmp, f"s{step}") for step, _ in ckpts}
        first_step = ckpts[0][0]
        nominal = judge_reference(export_checkpoint(run_dir, exports[first_step], first_step), bar, processes)
        log(
            f"{nominal['reference']}: success {nominal['success_rate']:.2f}, speed {nominal['speed_fraction']:.2f} of "
            f"command -> {'walks' if nominal['walks'] else 'does not meet the bar'}"
        )
        for step, path in ckpts:
            if step != first_step:
                export_checkpoint(run_dir, exports[step], step)
            j = judge(exports[step], bar, processes)
            j.update(step=step, wall_time_s=read_state(path).get("wall_time_s"))
            rows.append(j)
            log(
                f"step {step:>10,d}  wall {j['wall_time_s'] or 0:7.0f} s  success {j['success_rate']:.2f}  "
                f"speed {j['speed_fraction']:.2f} of command  distance {j['distance_m_mean']:.2f} m"
                f"{'  <- walks' if j['walks'] else ''}"
            )
            if j["walks"] and first is None:
                first = j
                if stop_at_first:
                    break
    return {
        "run_dir": os.path.abspath(run_dir),
        "nominal": nominal,
        "checkpoints": rows,
        "first_walking": first,
        "bar": dataclasses.asdict(bar),
        "where": bar.where(),
    }


def run_device(run_dir: str) -> Optional[str]:
    """The training device label a run recorded (``progress.jsonl`` "device" record), or None."""
    from train.progress import device_record

    return str(device_record(run_dir).get("device_name") or "") or None


def write(result: Dict[str, Any], stem: str, out_dir: str = RESULTS_DIR) -> None:
    path = write_json(result, out_dir, stem, indent=1)
    b, f, n = result["bar"], result["first_walking"], result["nominal"]
    lines = [
        f"# Time to walk on {'the hard suite tiles' if b.get('world') == 'suite' else 'rough ground'} "
        f"(trained on {result['device']})",
        "",
        f"Command: `{result['command']}`  ",
        f"Checkpoints judged on C MuJoCo on: {result['judged_on']}  ",
        f"Run: `{result['run_dir']}`  ",
        f"Versions: {result['versions']}",
        "",
        f"Bar: {b['episodes']} episodes × {b['duration_s']} s on "
        f"{result['where']}, "
        f"command {b['command']}; success ≥ {b['min_success_rate']}, mean forward speed ≥ "
        f"{b['min_speed_fraction']} × vx.",
        "",
        f"Reference, {n.get('reference', 'the nominal gait alone')}: success {n['success_rate']:.2f}, "
        f"speed {n['speed_fraction']:.2f} × vx, distance {n['distance_m_mean']:.2f} m → "
        f"{'meets' if n['walks'] else 'misses'} the bar.",
        "",
        "Speed = distance / episode time; an episode that walks off the terrain's edge ends there "
        "(out of bounds, not a fall), so its distance is shorter than 20 s of walking.",
        "",
        "| env steps | wall-clock (s) | success | speed / vx | distance (m) | off the edge | walks |",
        "|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in result["checkpoints"]:
        lines.append(
            f"| {r['step']:,d} | {r['wall_time_s'] or 0:.0f} | {r['success_rate']:.2f} | "
            f"{r['speed_fraction']:.2f} | {r['distance_m_mean']:.2f} | {r['out_of_bounds']} | "
            f"{'yes' if r['walks'] else 'no'} |"
        )
    lines += [
        "",
        (
            f"**Time to walk: {f['wall_time_s']:.0f} s wall-clock, {f['step']:,d} env steps.**"
            if f
            else "**The bar was not met by any checkpoint of this run.**"
        ),
        "",
    ]
    with open(path + ".md", "w") as fh:
        fh.write("\n".join(lines))
    print("\n".join(lines))


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    p = argparse.ArgumentParser(prog="python -m benchmarks.time_to_walk", description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="cpu_rough")
    p.add_argument("--from-run", default=None, metavar="RUN_DIR", help="judge this run's checkpoints; do not train")
    p.add_argument(
        "--bar",
        default=None,
        help="walk-bar YAML (default configs/walk_bar.yaml: rough ground; "
        "configs/walk_bar_suite.yaml: the suite tiles where the nominal gait fails)",
    )
    p.add_argument("--all", action="store_true", help="judge every checkpoint, not only up to the first that walks")
    p.add_argument("--processes", type=int, default=1)
    p.add_argument("--quick", action="store_true", help="2 episodes of 2 s (smoke test)")
    p.add_argument("--out", default=RESULTS_DIR, help="results directory")
    p.add_argument("--output-dir", default="runs/benchmarks", help="parent of the training run")
    p.add_argument(
        "--device-name",
        default=None,
        help="label of the machine that trained the run (default: read from the run's progress.jsonl, "
        "else this machine)",
    )
    p.add_argument("overrides", nargs="*")
    args = p.parse_args(argv)
    cli.check_output_dirs(args, "--out", *(() if args.from_run else ("--output-dir",)))
    bar = load_walk_bar(args.bar)
    if args.quick:  # one episode per tile on the suite
        bar = dataclasses.replace(
            bar, episodes=len(bar.types) * len(bar.levels) if bar.world == "suite" else 2, duration_s=2.0
        )
    command = "python -m benchmarks.time_to_walk " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.from_run:
        run_dir = args.from_run
    else:
        from train.__main__ import main as train_main

        res = train_main(
            [
                "--preset",
                args.preset,
                "--output-dir",
                args.output_dir,
                "--name",
                "time_to_walk",
                "run.keep_checkpoints=0",
                *args.overrides,
            ]
        )
        run_dir = res.run_dir
    t = time.time()
    result = judge_run(run_dir, bar, args.processes, stop_at_first=not args.all)
    device = args.device_name or run_device(run_dir) or device_name()
    result.update(
        device=device,
        judged_on=device_name(),
        versions=_versions(),
        command=command.strip(),
        judge_time_s=time.time() - t,
    )
    stem = "time_to_walk_" + ("suite_" if bar.world == "suite" else "") + result["device"]
    write(result, stem + ("_quick" if args.quick else ""), args.out)
    return result


if __name__ == "__main__":
    sys.exit(cli.run(main))
