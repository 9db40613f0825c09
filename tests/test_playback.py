"""python -m playback: policy/nominal playback on C MuJoCo, video output, command override, bad inputs."""

from __future__ import annotations

import os

import jax
import numpy as np
import pytest
from random_policy_export import write_random_export

from deploy.export_format import ExportError
from deploy.policy_loader import load_policy
from evaluation.episode import episode_key, roll_pitch_array, run_episode, set_command, zero_action
from evaluation.episode_metrics import aggregate, gravity, robot_mass, summarize_episode
from mjx_envs.observation import observation_layout
from mjx_envs.policy_env import (
    check_policy_matches_env,
    configs_from_meta,
    default_configs,
    make_env,
    meta_path,
    observation_mismatch,
)
from model import terrain
from playback import play as play_cli
from playback.video import frame_steps, offscreen_gl_problem


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    return write_random_export(str(tmp_path_factory.mktemp("run")))


@pytest.fixture(scope="module")
def flat_env():
    env = make_env(default_configs("flat"))
    yield env
    env.close()


def _needs_gl():
    problem = offscreen_gl_problem()
    if problem is not None:
        pytest.skip(problem)


@pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")  # the ffmpeg reader is a subprocess
def test_nominal_video_has_duration_times_fps_frames(tmp_path, capsys):
    _needs_gl()
    import imageio.v2 as iio2

    video = str(tmp_path / "nominal.mp4")
    rc = play_cli.main(
        ["--no-residual", "--duration", "0.4", "--fps", "10", "--width", "96", "--height", "64", "--video", video]
    )
    out = capsys.readouterr().out
    assert rc == 0
    assert os.path.getsize(video) > 0
    with iio2.get_reader(video, format="FFMPEG") as reader:
        assert reader.count_frames() == 4  # 0.4 s * 10 fps
        assert reader.get_data(0).shape == (64, 96, 3)
    for word in ("distance", "mean speed", "fell             no", video):
        assert word in out


def test_policy_gif_and_snapshot(export_dir, tmp_path, capsys):
    _needs_gl()
    import imageio.v3 as iio

    gif, png = str(tmp_path / "policy.gif"), str(tmp_path / "last.png")
    rc = play_cli.main(
        [
            "--policy",
            export_dir,
            "--duration",
            "0.3",
            "--fps",
            "20",
            "--width",
            "64",
            "--height",
            "48",
            "--video",
            gif,
            "--snapshot",
            png,
            "--action-scale",
            "0.5",
            "--vx",
            "0.2",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0, out
    frames = iio.imread(gif, index=None)
    assert frames.shape == (6, 48, 64, 3)  # 0.3 s * 20 fps
    assert frames.std() > 0  # not a blank picture
    assert iio.imread(png).shape == (48, 64, 3)
    assert "policy" in out and "action scale 0.5" in out and "vx +0.20" in out


def test_frame_schedule():
    np.testing.assert_array_equal(frame_steps(0.2, 25, 0.02), [0, 2, 4, 6, 8])
    np.testing.assert_array_equal(frame_steps(0.06, 100, 0.02), [0, 0, 1, 1, 2, 2])  # fps > 50 repeats
    with pytest.raises(ValueError, match="positive"):
        frame_steps(1.0, 0, 0.02)


COLLISION_ONLY = """<mujoco>
  <worldbody>
    <light pos="0 0 3" dir="0 0 -1"/>
    <geom name="floor" type="plane" size="0 0 0.05"/>
    <body name="post" pos="2 0 0.1"><geom size="0.05" group="4"/></body>
    <body name="base" pos="0 0 0.3">
      <freejoint/>
      <geom type="box" size="0.2 0.1 0.05" group="3"/>
      <geom type="sphere" size="0.05" pos="0.2 0 0" rgba="1 0 0 0"/>
      <body name="calf"><geom type="capsule" fromto="0 0 0 0 0 -0.2" size="0.02" group="5"/></body>
    </body>
  </worldbody>
</mujoco>"""
"""A robot drawn by no default geom group: collision geoms in groups 3 and 5, one invisible (alpha 0)
sphere in group 0; a static post in group 4 is not the robot's."""


def test_collision_only_robot_gets_its_geom_groups_shown(repo_root):
    import mujoco

    from model.robot_view import robot_geom_ids, robot_groups_to_show, show_robot_geoms

    m = mujoco.MjModel.from_xml_string(COLLISION_ONLY)
    assert sorted(robot_geom_ids(m)) == [2, 3, 4]  # base (box, sphere) and calf; not the floor or the post
    opt = mujoco.MjvOption()
    assert show_robot_geoms(m, opt) == (0, 3, 5)
    assert list(opt.geomgroup) == [1, 1, 1, 1, 0, 1]
    shipped = mujoco.MjModel.from_xml_path(os.path.join(repo_root, "model", "world.xml"))
    opt, default = mujoco.MjvOption(), list(mujoco.MjvOption().geomgroup)
    assert show_robot_geoms(shipped, opt) == () and list(opt.geomgroup) == default  # it has visible geoms
    visible = COLLISION_ONLY.replace('rgba="1 0 0 0"', 'rgba="1 0 0 1"')
    assert robot_groups_to_show(mujoco.MjModel.from_xml_string(visible)) == ()
    by_material = COLLISION_ONLY.replace(
        "<worldbody>", '<asset><material name="glass" rgba="1 1 1 0"/></asset><worldbody>'
    ).replace('rgba="1 0 0 0"', 'material="glass"')
    assert robot_groups_to_show(mujoco.MjModel.from_xml_string(by_material)) == (0, 3, 5)


def test_collision_only_robot_is_drawn_in_video_frames():
    """RobotRenderer draws the collision-only robot; MuJoCo's default groups show the floor only."""
    _needs_gl()
    import mujoco

    from model.robot_view import RobotRenderer

    m = mujoco.MjModel.from_xml_string(COLLISION_ONLY)
    d = mujoco.MjData(m)
    mujoco.mj_forward(m, d)
    with RobotRenderer(m, 64, 48) as frames:
        drawn = frames.render(d).astype(int)
        frames.option.geomgroup[:] = mujoco.MjvOption().geomgroup
        floor_only = frames.render(d).astype(int)
    assert np.abs(drawn - floor_only).sum(axis=2).astype(bool).mean() > 0.01  # the robot covers pixels


def test_command_override_reaches_observation_and_episode(flat_env):
    env = flat_env
    env.reset(options={"key": episode_key(0, 0)})
    obs = set_command(env, (0.1, -0.05, 0.2))
    cmd = next(c for c in env.observation_layout() if c["name"] == "command")
    np.testing.assert_allclose(obs[cmd["start"] : cmd["stop"]], 2.0 * np.array([0.1, -0.05, 0.2]), atol=1e-6)
    rec = run_episode(env, zero_action(), 5, episode_key(0, 0), command=(0.4, 0.0, -0.1))
    np.testing.assert_allclose(rec.command, [0.4, 0.0, -0.1], atol=1e-6)
    assert rec.steps == 5 and rec.trunk_pos.shape == (6, 3) and rec.foot_pos.shape == (6, 4, 3)
    np.testing.assert_allclose(rec.metric("vel_tracking_error")[-1] > 0, True)
    env.step(np.zeros(12))
    with pytest.raises(RuntimeError, match="right after reset"):
        set_command(env, (0.1, 0.0, 0.0))
    env.reset(options={"key": episode_key(0, 0)})
    with pytest.raises(ValueError, match="3 finite numbers"):
        set_command(env, (0.1, 0.0))


def test_roll_pitch_matches_the_env_convention():
    from mjx_envs.measurements import roll_pitch as env_roll_pitch

    rng = np.random.default_rng(0)
    q = rng.normal(size=(20, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    mine = roll_pitch_array(q)
    theirs = np.array([np.asarray(env_roll_pitch(jax.numpy.asarray(qi, jax.numpy.float32))) for qi in q])
    np.testing.assert_allclose(mine, theirs, atol=1e-5)


# ------------------------------------------------------------------------------------- bad inputs


def test_missing_export_exits_2_naming_the_path(tmp_path, capsys):
    missing = str(tmp_path / "no_such_run")
    assert play_cli.main(["--policy", missing, "--duration", "0.1"]) == 2
    err = capsys.readouterr().err
    assert "not found" in err and missing in err


def test_policy_or_no_residual_is_required(capsys):
    assert play_cli.main(["--duration", "0.1"]) == 2
    assert "--no-residual" in capsys.readouterr().err


def test_bad_video_suffix_and_band(capsys, export_dir):
    assert play_cli.main(["--no-residual", "--video", "out.avi"]) == 2
    assert "use .mp4 or .gif" in capsys.readouterr().err
    assert play_cli.main(["--no-residual", "--world", "rough", "--band", "9"]) == 2
    assert "--band must be in 0..5" in capsys.readouterr().err


def test_unwritable_video_directory_exits_2_before_the_episode(tmp_path, capsys, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("a regular file")

    def must_not_run(*args, **kwargs):
        raise AssertionError("nothing may run before the video's directory is checked")

    monkeypatch.setattr(play_cli, "play", must_not_run)
    for option, name in (("--video", "v.mp4"), ("--snapshot", "f.png")):
        assert play_cli.main(["--no-residual", option, str(afile / "sub" / name), "--duration", "0.1"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(
            f"error: {option} {afile / 'sub' / name}: cannot write into {afile / 'sub'} ({afile} "
            "is a file, not a directory); choose a path in a writable directory"
        ), err


def test_observation_layout_mismatch_is_named(tmp_path, capsys):
    bad = write_random_export(str(tmp_path / "terrain_run"), terrain_layout=True)
    assert play_cli.main(["--policy", bad, "--duration", "0.1"]) == 2
    err = capsys.readouterr().err
    assert "observation layout mismatch: export has terrain_height (20) but the env has none" in err
    assert "(export: 74 numbers, env: 54)" in err


def test_observation_mismatch_descriptions():
    env54, env74 = observation_layout(12, False), observation_layout(12, True)
    assert observation_mismatch(54, env54, 54, env54) is None
    assert "the env has terrain_height (20) but the export has none" in observation_mismatch(54, env54, 74, env74)
    wrong = [dict(c) for c in env54]
    wrong[1]["scale"] = 1.0
    assert "lin_vel is scaled by 1.0 in the export but by 2.0 in the env" in observation_mismatch(54, wrong, 54, env54)
    assert "export expects 50 numbers, the env gives 54" in observation_mismatch(50, None, 54, env54)
    swapped = [env54[1], env54[0]] + env54[2:]
    assert "channel order differs" in observation_mismatch(54, swapped, 54, env54)


def test_export_config_problems_are_export_errors(export_dir, flat_env):
    pol = load_policy(export_dir)
    check_policy_matches_env(pol.meta, flat_env)  # the fixture export fits the default env
    assert configs_from_meta(pol.meta, meta_path(pol)).env.action_mode == "residual"
    with pytest.raises(ExportError, match=r"carries its robot .*configs_from_meta\(policy\.meta, meta_path"):
        configs_from_meta(pol.meta)  # the bundled robot lies beside the meta file: its path is needed
    with pytest.raises(ExportError, match="no 'config' section"):
        configs_from_meta({k: v for k, v in pol.meta.items() if k != "config"})
    meta = {**pol.meta, "config": {**pol.meta["config"], "env": {**pol.meta["config"]["env"], "bogus": 1}}}
    with pytest.raises(ExportError, match="unknown key 'bogus'"):
        configs_from_meta(meta, meta_path(pol))
    meta = {**pol.meta, "action": {**pol.meta["action"], "mode": "direct"}}
    with pytest.raises(ExportError, match="action mode mismatch"):
        check_policy_matches_env(meta, flat_env)


# ------------------------------------------------------------------------- off the map, suite


def test_off_map_truncation_ends_the_episode_as_off_terrain_not_a_fall():
    """Rough world, spawned 0.05 m from the heightfield's +x edge (as in tests/test_curriculum.py):
    the env truncates the first step (off map); the playback episode ends there and counts it as
    off terrain, not a fall (success). The env's own time limit (here 0.1 s = 5 steps) is no end."""
    import jax.numpy as jnp
    import mujoco

    cfg = default_configs("rough")
    env = make_env(cfg._replace(env=cfg.env.replace(episode_length_s=0.1)))
    plain_reset = env.reset

    def reset_at_edge(**kw):
        _, info = plain_reset(**kw)
        d = env.data
        d.qpos[0], d.qpos[3:7] = 7.75, [1.0, 0.0, 0.0, 0.0]
        mujoco.mj_forward(env.model, d)
        xy = jnp.asarray(d.qpos[:2], jnp.float32)
        env.episode_info = {**env.episode_info, "last_xy": xy, "start_xy": xy, "cmd_xy": xy}
        return env.observe(), info

    try:
        env.reset = reset_at_edge
        rec = run_episode(env, zero_action(), 50, episode_key(0, 0), terrain_level=0)
        assert rec.steps == 1 and rec.off_map and not rec.terminated
        assert rec.metric("off_map")[-1] == 1.0 and rec.metric("fell")[-1] == 0.0
        s = summarize_episode(rec, robot_mass(env), gravity(env))
        assert s["out_of_bounds"] and s["off_map"] and not s["fell"] and not s["nan_physics"]
        agg = aggregate([s])
        assert agg["success_rate"] == 1.0 and agg["falls"] == 0 and agg["out_of_bounds"] == 1
        text = play_cli.format_summary({**s, "world": "rough", "terrain_seed": 0, "policy": None})
        assert "fell             no" in text and "left the terrain yes" in text
        env.reset = plain_reset
        rec = run_episode(env, zero_action(), 10, episode_key(0, 1), terrain_level=0)
        assert rec.steps == 10 and not rec.off_map and not rec.terminated  # past the env's 5-step time limit
    finally:
        env.close()


def test_suite_tile_arguments_are_validated(capsys):
    assert play_cli.main(["--no-residual", "--world", "suite", "--type", "lava", "--duration", "0.1"]) == 2
    err = capsys.readouterr().err
    assert "'lava'" in err and all(t in err for t in terrain.TERRAIN_TYPES), err
    assert play_cli.main(["--no-residual", "--world", "suite", "--level", "8", "--type", "rough"]) == 2
    assert "--level must be in 0..7" in capsys.readouterr().err
    assert play_cli.main(["--no-residual", "--type", "rough"]) == 2  # flat world
    assert "--world suite" in capsys.readouterr().err
    assert play_cli.main(["--no-residual", "--world", "suite", "--band", "2"]) == 2
    assert "--level" in capsys.readouterr().err


def test_play_one_suite_tile(capsys):
    rc = play_cli.main(
        [
            "--no-residual",
            "--world",
            "suite",
            "--level",
            "3",
            "--type",
            "stairs_down",
            "--duration",
            "0.2",
            "--terrain-seed",
            "5",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0
    assert "on the suite world (tile stairs_down level 3, terrain seed 5)" in out, out
