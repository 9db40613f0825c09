"""The robot loop's footholds (deploy/robot_footholds.py, fed by a TerrainInput) against the stack's
(gait/footholds.py in the env, mjx_envs/terrain_footholds.py).

Parity: the shipped export's policy, its meta with ``gait.footholds.enabled``, drives (a) the
Gymnasium twin on the held-out suite's stepping stones and (b) the robot loop on its own MjData of
the same world, its terrain input read from the heightfield and the trunk sensors
(``deploy.robot_loop.sim_terrain``). Measured (2-core CPU, 2026-12-07, 150 steps = 3 s, command
(0.4, 0, 0.15) starting from standing, gait.footholds defaults incl. steering): 22 lift-offs, 4 onto
shifted footholds, steering up to 0.20 m/s; max differences: servo targets 7.5e-6 rad, obs 1.5e-5,
trunk position 1.6e-6 m, foothold shifts 0 (the same cells every time), steering 7e-9 m/s, ground
heights 1e-15 m, foothold targets 2.4e-6 m, extra apex 0 (none on the stones).
Asserted: ctrl <= 5e-5 rad, obs <= 5e-5, trunk <= 1e-4 m, shifts equal, the rest <= 1e-4 m (m/s).
Cells or steering offsets of equal cost (sums of squared grid offsets: common) tie exactly on both
sides, as both planners round the costs (``COST_DECIMALS``) before taking the first cheapest.
"""

import copy
import json
import os

import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from deploy import robot_controller as rc
from deploy import robot_footholds as rf
from deploy import robot_loop as rl
from deploy.policy_loader import load_policy
from evaluation.episode import set_command
from gait import footholds as jf
from gait.bezier_gait import half_steps_from_command
from gait.controller import BezierController
from gait.gait_config import GaitConfig
from mjx_envs.policy_env import configs_from_meta, make_env, with_world
from mjx_envs.termination import terrain_height
from model.terrain.suite import TERRAIN_TYPES
from model.yaml_config import to_dict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPORT = os.path.join(ROOT, "policies", "quad12_rough_h200")
STEPS = 150
FIELDS = jf.FootholdState.__dataclass_fields__  # the JAX state's fields (steer: with gait.footholds.steer_*)


def _meta_with_footholds():
    meta = json.loads(json.dumps(load_policy(EXPORT).meta))
    meta["config"]["gait"]["footholds"] = {**to_dict(GaitConfig())["footholds"], "enabled": True}
    return meta


def test_loop_footholds_match_twin_on_stepping_stones():
    policy = load_policy(EXPORT)
    meta = _meta_with_footholds()
    env = make_env(with_world(configs_from_meta(meta), "suite", 1000))
    stones = TERRAIN_TYPES.index("stepping_stones")
    env.reset(options={"key": jax.random.PRNGKey(0), "terrain_level": 1, "terrain_type": stones})
    set_command(env, (0.4, 0.0, 0.15))
    info = env.episode_info  # start standing: the gait's activity ramps up (lift-offs below 1/2 keep footholds)
    env.episode_info = {**info, "gait": info["gait"].replace(activity=jnp.zeros_like(info["gait"].activity))}
    obs = env.observe()
    m = copy.deepcopy(env.model)
    d = mujoco.MjData(m)
    d.qpos[:], d.qvel[:], d.ctrl[:] = env.data.qpos, env.data.qvel, env.data.ctrl
    mujoco.mj_forward(m, d)
    robot = rc.Robot(m)
    terrain = rl.sim_terrain(m, d, robot)

    # the terrain input's height map is the env's: the same points (float32), measured <= 8.3e-5 m on stone
    # edges (the env's float32 grid coordinate ~1000 cells from the border is off by ~1e-4 cells), else 1e-15
    pts = np.random.default_rng(0).uniform(-2.0, 2.0, (500, 2)).astype(np.float32) + d.qpos[:2].astype(np.float32)
    ref = np.asarray(terrain_height(env.ctx, pts[:, 0], pts[:, 1]))
    assert np.abs(terrain.height(pts[:, 0].astype(float), pts[:, 1].astype(float)) - ref).max() <= 2e-4
    assert rl.heightfield_height(rl.load_world(meta, EXPORT, "flat"))(np.ones(3), 2.0).tolist() == [0.0] * 3

    with np.testing.assert_raises_regex(SystemExit, "gait.footholds.enabled.*terrain=TerrainInput"):
        rc.Controller(meta, robot, policy.act, (0.4, 0.0, 0.0))
    info = env.episode_info
    ctl = rc.Controller(
        meta,
        robot,
        policy.act,
        np.asarray(info["command"], float),
        phase=float(info["gait"].phase),
        activity=0.0,
        terrain=terrain,
        gait_command=np.asarray(info["gait"].command, float),
    )
    assert np.abs(ctl.observe(d.sensordata) - obs).max() <= 1e-6
    errs, lifts, shifted, steered = [], 0, 0, 0.0
    for k in range(STEPS):
        obs, _, term, trunc, _ = env.step(policy.act(obs))
        d.ctrl[:] = ctl.act()
        for _ in range(env.ctx.sim.n_substeps):
            mujoco.mj_step(m, d)
        before = ctl.footholds.state.target
        mine = ctl.after_physics(d.sensordata)
        assert not (term or trunc), f"the twin's episode ended at step {k}"
        ref, got = env.episode_info["footholds"], ctl.footholds.state
        planned = np.any(got.target != before, axis=-1)  # legs that lifted off (with activity >= 1/2)
        lifts += int(np.sum(planned))
        shifted += int(np.sum(planned & np.any(got.shift != 0.0, axis=-1)))
        steered = max(steered, float(np.abs(got.steer).max()))
        np.testing.assert_array_equal(got.shift, np.asarray(ref.shift, float))  # the same cells
        errs.append(
            (
                np.abs(mine - obs).max(),
                np.abs(d.ctrl - env.data.ctrl).max(),
                np.abs(d.qpos[:3] - env.data.qpos[:3]).max(),
                np.abs(got.ground - np.asarray(ref.ground)).max(),
                np.abs(got.target - np.asarray(ref.target)).max(),
                np.abs(got.extra_clearance - np.asarray(ref.extra_clearance)).max(),
                np.abs(got.steer - np.asarray(getattr(ref, "steer", np.zeros(2)))).max(),
            )
        )
    env.close()
    e = np.array(errs).max(axis=0)
    print(
        f"{lifts} lift-offs, {shifted} onto shifted footholds, max |steer| {steered}; "
        f"max errs obs, ctrl, trunk, ground, target, extra, steer: {e}"
    )
    assert shifted >= 2  # lift-offs onto shifted footholds actually happened (measured: 4 of 22)
    if meta["config"]["gait"]["footholds"].get("steer_window", 0.0) > 0.0:
        assert steered > 0.0  # and the trunk's path was steered (measured: up to 0.06 m/s)
    assert e[0] <= 5e-5 and e[1] <= 5e-5 and e[2] <= 1e-4  # obs, servo targets [rad], trunk [m]
    assert max(e[3:]) <= 1e-4  # foothold ground, target, extra apex [m], steering [m/s]


def test_planner_matches_jax_on_synthetic_terrain():
    """Gap and step height maps, a turning trunk and command, random foothold states: the numpy
    planner picks the JAX planner's cells, and its heights, apexes and foot offsets agree."""
    meta = _meta_with_footholds()
    gait_cfg = configs_from_meta(meta).gait
    ctl_jax = BezierController(config=gait_cfg)
    cfg = meta["config"]["gait"]["footholds"]
    gait = rc.Gait(meta["config"]["gait"], rc.Robot(rl.load_world(meta, EXPORT, "flat")))
    command = np.array([0.5, 0.1, 0.4])
    half = np.asarray(half_steps_from_command(jnp.asarray(command, jnp.float32), gait_cfg, ctl_jax.geometry))
    np.testing.assert_allclose(gait.half_steps(command), half, atol=1e-7)
    trunk, yaw = np.array([0.3, -0.2]), 0.4

    def terrains(mod):
        gap = lambda x, y: mod.where((x > 0.45) & (x < 0.6), -0.3, 0.0)  # noqa: E731
        step = lambda x, y: mod.where(x + 0.3 * y > 0.45, 0.12, 0.0)  # noqa: E731
        return gap, step

    plan = jax.jit(
        lambda s, lift, rem, fn_index: jax.lax.switch(
            fn_index,
            [
                lambda h=h: jf.plan_footholds(
                    s, lift, rem, trunk, yaw, half, command, ctl_jax.config, ctl_jax.geometry, h
                )
                for h in terrains(jnp)
            ],
        )
    )
    rng = np.random.default_rng(1)
    moved, raised, ties = 0, 0, 0
    for i in range(6):
        fn_index = i % 2
        h_np = terrains(np)[fn_index]
        state = rf.FootholdState(
            rng.uniform(-0.1, 0.1, (4, 2)), rng.uniform(-0.05, 0.1, 4), np.zeros((4, 2)), np.zeros(4), np.zeros(4),
            np.zeros((4, 2)),
        )  # fmt: skip
        lifting = rng.uniform(size=4) < 0.7
        remaining = rng.uniform(0.05, 1.0, 4) * (1.0 - gait.cfg["duty_factor"]) * gait.cfg["period"]
        state_jax = jf.FootholdState(**{f: jnp.asarray(getattr(state, f), jnp.float32) for f in FIELDS})
        ref = plan(state_jax, jnp.asarray(lifting), jnp.asarray(remaining, jnp.float32), fn_index)
        got = rf.plan_footholds(state, lifting, remaining, trunk, yaw, half, command, gait, cfg, h_np)
        np.testing.assert_allclose(got.shift, np.asarray(ref.shift), atol=1e-7)
        np.testing.assert_allclose(got.ground, np.asarray(ref.ground), atol=1e-6)
        np.testing.assert_allclose(got.extra_clearance, np.asarray(ref.extra_clearance), atol=1e-5)
        np.testing.assert_allclose(got.target, np.asarray(ref.target), atol=1e-5)
        if cfg.get("steer_window", 0.0) > 0.0 and lifting.any():
            # the costs are sums of squares of grid offsets: equal ones are common; both planners round
            # them (COST_DECIMALS) before the argmin, so a tie goes to the same (first) offset on both
            td = rf.predicted_touchdowns(half, command, remaining, gait)
            _, total = rf.steer_costs(td, np.asarray(command)[:2] - state.steer, trunk, yaw, cfg, h_np)
            ties += int(np.sum(np.round(total, rf.COST_DECIMALS) == np.round(total, rf.COST_DECIMALS).min()) > 1)
            np.testing.assert_allclose(got.steer, np.asarray(ref.steer), atol=1e-6)
        phases = rng.uniform(size=4)
        off = rf.foothold_offsets(got, phases, gait.cfg["duty_factor"])
        ref_off = jf.foothold_offsets(ref, jnp.asarray(phases, jnp.float32), gait_cfg.duty_factor)
        np.testing.assert_allclose(off, np.asarray(ref_off), atol=1e-5)
        moved += int(np.sum(np.any(got.shift != state.shift, axis=-1) & lifting & np.any(got.shift != 0, axis=-1)))
        raised += int(np.sum(got.extra_clearance > 0))
    print(f"{moved} feet moved, {raised} swings raised, {ties} steering ties (both took the same offset)")
    assert moved >= 3 and raised >= 1, (moved, raised)  # the gap moved feet, the step raised a swing
