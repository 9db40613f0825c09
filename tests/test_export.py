"""The policy export format (deploy/export_format.py), its loader (deploy/policy_loader.py) and the
brax side of train/export.py (fast; no training).

The end-to-end check (a trained brax policy, exported and reloaded, gives the in-memory policy's
actions) is in tests/test_train_brax.py; the SB3 one in tests/test_train_sb3.py.
"""

import json
import os
import shutil

import numpy as np
import pytest

from deploy import export_format as fmt
from deploy.policy_loader import load_policy
from train import export as ex

OBS, ACT = 10, 4


def _write(tmp_path, output="clip_mean", activation="swish", clip=None, obs=OBS, act=ACT, seed=0):
    rng = np.random.default_rng(seed)
    out_width = 2 * act if output == "tanh_mean" else act
    sizes = [obs, 8, 6, out_width]
    layers = [
        (rng.normal(size=(a, b)).astype(np.float32), rng.normal(size=b).astype(np.float32))
        for a, b in zip(sizes[:-1], sizes[1:])
    ]
    mean = rng.normal(size=obs).astype(np.float32)
    std = rng.uniform(0.5, 2.0, size=obs).astype(np.float32)
    d = str(tmp_path / "export")
    fmt.write_export(
        d,
        layers=layers,
        activation=activation,
        output=output,
        obs_mean=mean,
        obs_std=std,
        obs_count=123.0,
        meta={
            "observation_size": obs,
            "action_size": act,
            "observation_layout": [{"name": "x", "start": 0, "size": obs}],
        },
        obs_clip=clip,
    )
    return d, layers, mean, std


def _reference(obs, layers, mean, std, act_fn, output, clip=None, act=ACT):
    x = (obs - mean) / std
    if clip is not None:
        x = np.clip(x, -clip, clip)
    for i, (k, b) in enumerate(layers):
        x = x @ k + b
        if i < len(layers) - 1:
            x = act_fn(x)
    return np.tanh(x[..., :act]) if output == "tanh_mean" else np.clip(x, -1, 1)


@pytest.mark.parametrize(
    "output,activation,clip",
    [("clip_mean", "swish", None), ("tanh_mean", "relu", None), ("clip_mean", "tanh", 5.0), ("clip_mean", "elu", None)],
)
def test_roundtrip_matches_reference(tmp_path, output, activation, clip):
    d, layers, mean, std = _write(tmp_path, output, activation, clip)
    pol = load_policy(d)
    acts = {
        "swish": lambda x: x / (1 + np.exp(-x)),
        "relu": lambda x: np.maximum(x, 0),
        "tanh": np.tanh,
        "elu": lambda x: np.where(x > 0, x, np.exp(np.minimum(x, 0)) - 1),
    }
    obs = np.random.default_rng(1).normal(size=(7, OBS)).astype(np.float32) * 3
    want = _reference(obs, layers, mean, std, acts[activation], output, clip)
    got = pol.act(obs)
    assert got.shape == (7, ACT) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=1e-5)
    np.testing.assert_allclose(pol.act(obs[0]), want[0], atol=1e-5)  # unbatched
    assert np.all(np.abs(got) <= 1.0)


def test_load_accepts_run_dir_and_file(tmp_path):
    d, *_ = _write(tmp_path)
    for p in (str(tmp_path), d, os.path.join(d, fmt.META_FILE)):  # run dir (has export/), export dir, a file
        assert load_policy(p).observation_size == OBS


def test_missing_export_errors_name_the_path(tmp_path):
    with pytest.raises(fmt.ExportError, match="not found"):
        load_policy(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(fmt.ExportError, match="no export in"):
        load_policy(str(tmp_path / "empty"))
    d, *_ = _write(tmp_path)
    os.remove(os.path.join(d, fmt.NORMALIZER_FILE))
    with pytest.raises(fmt.ExportError, match="normalizer.npz"):
        load_policy(d)


@pytest.mark.parametrize("victim", [fmt.POLICY_FILE, fmt.NORMALIZER_FILE, fmt.META_FILE])
def test_corrupt_files_raise_export_error(tmp_path, victim):
    d, *_ = _write(tmp_path)
    with open(os.path.join(d, victim), "wb") as fh:
        fh.write(b"\x00garbage\xff" * 7)
    with pytest.raises(fmt.ExportError, match="corrupt") as e:
        load_policy(d)
    assert victim in str(e.value)


def test_inconsistent_meta_and_observation_mismatch(tmp_path):
    d, *_ = _write(tmp_path)
    meta_path = os.path.join(d, fmt.META_FILE)
    meta = json.load(open(meta_path))
    with pytest.raises(fmt.ExportError, match="observation size mismatch.*expects 10"):
        load_policy(d, observation_size=54)
    meta["observation_size"] = 11
    json.dump(meta, open(meta_path, "w"))
    with pytest.raises(fmt.ExportError, match="expected input width 11"):
        load_policy(d)
    meta["observation_size"] = OBS
    meta["action_size"] = 5
    json.dump(meta, open(meta_path, "w"))
    with pytest.raises(fmt.ExportError, match="does not match action_size 5"):
        load_policy(d)
    meta["action_size"] = ACT
    meta["format_version"] = fmt.FORMAT_VERSION + 1
    json.dump(meta, open(meta_path, "w"))
    with pytest.raises(fmt.ExportError, match="newer than this loader"):
        load_policy(d)


def test_wrong_observation_shape_is_refused(tmp_path):
    d, *_ = _write(tmp_path)
    pol = load_policy(d)
    with pytest.raises(ValueError, match=r"expects \(\.\.\., 10\)"):
        pol.act(np.zeros(9))


def test_nonfinite_normalizer_is_corrupt(tmp_path):
    d, *_ = _write(tmp_path)
    path = os.path.join(d, fmt.NORMALIZER_FILE)
    np.savez(path, mean=np.full(OBS, np.nan, np.float32), std=np.ones(OBS, np.float32), count=1.0)
    with pytest.raises(fmt.ExportError, match="non-finite"):
        load_policy(d)


def test_brax_normal_layers_flatten_trunk_and_mean():
    rng = np.random.default_rng(0)
    mk = lambda a, b: {"kernel": rng.normal(size=(a, b)), "bias": rng.normal(size=b)}  # noqa: E731
    params = {
        "params": {"MLP_0": {"hidden_0": mk(5, 7), "hidden_1": mk(7, 3)}, "Dense_0": mk(3, 2), "log_std": np.zeros(2)}
    }
    layers = ex.brax_policy_layers(params, "normal")
    assert [k.shape for k, _ in layers] == [(5, 7), (7, 3), (3, 2)]
    with pytest.raises(fmt.ExportError, match="MLP_0"):
        ex.brax_policy_layers({"params": {"hidden_0": mk(5, 2)}}, "normal")


def test_interrupted_reexport_leaves_previous_export_intact(tmp_path, monkeypatch):
    """A re-export killed between its files (simulated: the second file write raises) leaves the
    previous export whole and loadable, with no temp files in its place."""
    d, layers, mean, std = _write(tmp_path, seed=0)
    obs = np.random.default_rng(2).normal(size=(5, OBS)).astype(np.float32)
    before = load_policy(d).act(obs)
    real_open = open
    calls = {"n": 0}

    def failing_open(path, mode="r", *a, **k):
        if "w" in mode and ".tmp-" in os.fspath(path):
            calls["n"] += 1
            if os.path.basename(os.fspath(path)) == fmt.NORMALIZER_FILE:  # killed after policy.msgpack
                raise KeyboardInterrupt("simulated kill")
        return real_open(path, mode, *a, **k)

    monkeypatch.setattr("builtins.open", failing_open)
    with pytest.raises(KeyboardInterrupt):
        _write(tmp_path, seed=1)
    monkeypatch.setattr("builtins.open", real_open)
    assert calls["n"] >= 2
    assert sorted(os.listdir(d)) == sorted([fmt.POLICY_FILE, fmt.NORMALIZER_FILE, fmt.META_FILE, fmt.ROBOT_SUBDIR])
    np.testing.assert_array_equal(load_policy(d).act(obs), before)
    # a completed re-export replaces all three files together
    _write(tmp_path, seed=1)
    assert not np.allclose(load_policy(d).act(obs), before)
    assert not [n for n in os.listdir(tmp_path) if ".tmp-" in n or ".old-" in n]


def test_mixed_export_files_are_refused(tmp_path):
    """The loader checks that policy.msgpack and normalizer.npz are the ones meta.json was written
    with (SHA-256 in meta.json): a normaliser from another export is refused, naming the file."""
    a, *_ = _write(tmp_path / "a", seed=0)
    b, *_ = _write(tmp_path / "b", seed=1)
    meta = json.load(open(os.path.join(a, fmt.META_FILE)))
    assert meta["format_version"] == 2 and set(meta["files"]["sha256"]) == {fmt.POLICY_FILE, fmt.NORMALIZER_FILE}
    with (
        open(os.path.join(b, fmt.NORMALIZER_FILE), "rb") as src,
        open(os.path.join(a, fmt.NORMALIZER_FILE), "wb") as dst,
    ):
        dst.write(src.read())
    with pytest.raises(fmt.ExportError, match="do not belong together.*normalizer.npz"):
        load_policy(a)


def test_interrupted_swap_is_named(tmp_path):
    """If a kill lands between the two renames, the loader names the intact previous export."""
    d, *_ = _write(tmp_path, seed=0)
    os.rename(d, d + ".old-12345")
    with pytest.raises(fmt.ExportError, match=r"export\.old-12345 holds the previous export"):
        load_policy(str(tmp_path))


def test_export_checkpoint_sizes_the_network_from_the_runs_config(tmp_path):
    """A checkpoint of a ``modulated`` run (15 actions, not 12) exports with the right input and
    output widths; before, ``export_checkpoint`` assumed 12 actions and refused the run's own
    checkpoints (found by the ablation's smoke run)."""
    from random_policy_export import write_brax_checkpoints

    from mjx_envs.observation import observation_size
    from train.config import task_config

    cfg = task_config("modulated", preset="ci_tiny")
    act = cfg.env.action_size
    obs = observation_size(act, cfg.env.terrain_observation)
    assert act == 15
    run = write_brax_checkpoints(str(tmp_path / "run"), cfg, steps=(160,))
    pol = load_policy(ex.export_checkpoint(run, str(tmp_path / "out"), 160))
    assert (pol.observation_size, pol.action_size) == (obs, 15)
    assert pol.act(np.zeros((2, obs), np.float32)).shape == (2, 15)


# ----------------------------------------------------------------------------- the robot it carries


def _robot_in(directory) -> str:
    """A copy of the shipped robot MJCF in ``directory`` (a user's robot outside the repository)."""
    from model.simulation_config import REPO_ROOT

    os.makedirs(directory, exist_ok=True)
    path = os.path.join(str(directory), "my_robot.xml")
    shutil.copy(os.path.join(REPO_ROOT, "model", "robot.xml"), path)
    return path


def test_export_plays_after_its_robot_file_is_removed(tmp_path):
    """The moved robot file: an export trained with ``simulation.robot_xml`` in a temporary
    directory still builds its env (C-MuJoCo model) after that directory is deleted."""
    from random_policy_export import write_random_export

    from mjx_envs.policy_env import configs_from_meta, meta_path
    from model.loading import load_mj_model
    from train.config import load_train_config

    robot = _robot_in(tmp_path / "robot_src")
    cfg = load_train_config(overrides=[f"simulation.robot_xml={robot}"])
    run = write_random_export(str(tmp_path / "run"), cfg=cfg)
    shutil.rmtree(tmp_path / "robot_src")
    pol = load_policy(run)
    configs = configs_from_meta(pol.meta, meta_path(pol))
    assert configs.simulation.robot_path.startswith(os.path.join(pol.export_dir, fmt.ROBOT_SUBDIR) + os.sep)
    m = load_mj_model(configs.simulation)
    assert m.nu == 12 and m.key("home") is not None


def test_every_export_carries_its_robot_and_refuses_a_changed_copy(tmp_path):
    """An export of the default robot (``robot_xml: null``) bundles ``model/robot.xml``; editing the
    copy afterwards is refused by name when the env is rebuilt."""
    from mjx_envs.policy_env import configs_from_meta, meta_path
    from model.simulation_config import REPO_ROOT

    d, *_ = _write(tmp_path)
    pol = load_policy(d)
    record = pol.meta["robot"]
    assert record["entry"] == "robot.xml" and record["source"] == os.path.join(REPO_ROOT, "model", "robot.xml")
    copy = os.path.join(d, fmt.ROBOT_SUBDIR, "robot.xml")
    assert fmt.export_robot_path(d, pol.meta) == copy
    assert fmt.export_robot_path(d, {k: v for k, v in pol.meta.items() if k != "robot"}) is None  # older exports
    with open(copy, "a") as fh:
        fh.write("<!-- edited -->\n")
    with pytest.raises(fmt.ExportError, match=r"changed after export: .*export/robot/robot\.xml"):
        fmt.export_robot_path(d, pol.meta)
    meta = {**pol.meta, "config": {"simulation": {}, "env": {}, "gait": {}}}
    with pytest.raises(fmt.ExportError, match=r"robot/robot\.xml"):
        configs_from_meta(meta, meta_path(pol))


def test_the_old_names_reach_deploy():
    """Code written against train.export / train.onnx_export / train.exported_policy keeps working:
    those names are deploy's objects (one ExportError class, whichever module raises it)."""
    import deploy.exported_policy
    import deploy.onnx_policy
    import train.exported_policy
    from train import onnx_export as ox

    for name in ("ExportError", "write_export", "resolve_export_dir", "export_robot_path", "POLICY_FILE", "META_FILE"):
        assert getattr(ex, name) is getattr(fmt, name), name
    assert ex.load_policy is load_policy and ex.ExportedPolicy is deploy.exported_policy.ExportedPolicy
    for name in ("OnnxPolicy", "load_onnx_policy", "build_model", "verify", "random_observations", "ONNX_FILE"):
        assert getattr(ox, name) is getattr(deploy.onnx_policy, name), name
    assert train.exported_policy is deploy.exported_policy
