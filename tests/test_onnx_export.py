"""policy.onnx: the graph and its loader (deploy/onnx_policy.py), written and verified at export time
(train/onnx_export.py: recorded episodes, onnxruntime vs the numpy policy).

Fast (< 60 s): one short recorded episode (200 observations) of the shipped policy is shared by
every parity check; the tiny exports cover every activation and both output rules.
"""

import json
import os
import shutil
import sys

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from deploy import export_format as fmt  # noqa: E402
from deploy import onnx_policy as op  # noqa: E402
from deploy.exported_policy import ACTIVATIONS, OUTPUT_RULES  # noqa: E402
from deploy.policy_loader import load_policy  # noqa: E402
from train import export as ex  # noqa: E402
from train import onnx_export as ox  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = os.path.join(REPO, "policies", "quad12_rough_h200")
N_RECORDED = 200


def _copy_shipped(dst) -> str:
    d = os.path.join(str(dst), "export")
    os.makedirs(d)
    for name in (fmt.META_FILE, fmt.POLICY_FILE, fmt.NORMALIZER_FILE):
        shutil.copy(os.path.join(SHIPPED, name), d)
    return d


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """A copy of the shipped export with policy.onnx written by export_onnx (records its own episode)."""
    d = _copy_shipped(tmp_path_factory.mktemp("shipped"))
    check = ox.export_onnx(d, n_random=1000, n_recorded=N_RECORDED)
    return d, check


@pytest.fixture(scope="module")
def recorded(shipped):
    """Observations the shipped policy sees in a playback episode (flat world, C MuJoCo twin)."""
    return ox.record_observations(load_policy(shipped[0]), N_RECORDED, seed=3)


def test_shipped_policy_parity_and_check_file(shipped):
    d, check = shipped
    assert os.path.isfile(os.path.join(d, op.ONNX_FILE))
    assert check["n_random"] == 1000 and check["n_recorded"] == N_RECORDED
    assert check["max_abs_diff_random"] <= 1e-5 and check["max_abs_diff_recorded"] <= 1e-5
    assert check["n_random_full_range"] == 1000 and "max_abs_diff_random_full_range" in check  # reported
    on_disk = json.load(open(os.path.join(d, op.CHECK_FILE)))
    assert on_disk["passed"] and on_disk["opset"] == op.OPSET == 17
    assert on_disk["onnxruntime_version"] and on_disk["sha256"] == op._file_sha256(os.path.join(d, op.ONNX_FILE))
    assert not [f for f in os.listdir(d) if ".tmp-" in f]
    import onnx

    m = onnx.load(os.path.join(d, op.ONNX_FILE))
    props = {p.key: p.value for p in m.metadata_props}
    assert props["observation_size"] == "54" and props["action_size"] == "12"
    assert props["input_name"] == "obs" and props["output_name"] == "action"
    assert props["sha256.policy.msgpack"] == op._file_sha256(os.path.join(d, fmt.POLICY_FILE))
    assert m.opset_import[0].version == 17 and "opset 17" in m.graph.doc_string
    dims = [d_.dim_param or d_.dim_value for d_ in m.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 54]


def test_loader_matches_flax_path(shipped, recorded):
    d, _ = shipped
    flax_pol, onnx_pol = load_policy(d), load_policy(os.path.join(d, op.ONNX_FILE))
    assert isinstance(onnx_pol, op.OnnxPolicy)
    assert onnx_pol.meta == flax_pol.meta and onnx_pol.export_dir == flax_pol.export_dir
    assert (onnx_pol.observation_size, onnx_pol.action_size) == (54, 12)
    assert onnx_pol.load_path.endswith(".onnx")  # where it was read from
    obs = np.concatenate([recorded, op.random_observations(100, 54, seed=5)])
    np.testing.assert_allclose(onnx_pol.act(obs), flax_pol.act(obs), atol=1e-5)
    np.testing.assert_allclose(onnx_pol(obs[7]), flax_pol.act(obs[7]), atol=1e-5)
    assert onnx_pol.act(obs[7]).shape == (12,) and onnx_pol.act(obs).dtype == np.float32
    with pytest.raises(ValueError, match="expects"):
        onnx_pol.act(np.zeros(53))
    with pytest.raises(fmt.ExportError, match="observation size mismatch"):
        load_policy(os.path.join(d, op.ONNX_FILE), observation_size=74)


def _tiny_export(tmp_path, activation, output, clip=None, seed=0, obs=54, act=12):
    rng = np.random.default_rng(seed)
    sizes = [obs, 16, 8, 2 * act if output == "tanh_mean" else act]
    layers = [
        (rng.normal(size=(a, b)).astype(np.float32) / np.sqrt(a), rng.normal(size=b).astype(np.float32) * 0.1)
        for a, b in zip(sizes[:-1], sizes[1:])
    ]
    d = str(tmp_path / f"export_{activation}_{output}_{clip}")
    fmt.write_export(
        d,
        layers=layers,
        activation=activation,
        output=output,
        obs_mean=rng.normal(size=obs).astype(np.float32),
        obs_std=rng.uniform(0.5, 2.0, size=obs).astype(np.float32),
        obs_count=10.0,
        meta={
            "observation_size": obs,
            "action_size": act,
            "observation_layout": [{"name": "x", "start": 0, "size": obs}],
        },
        obs_clip=clip,
    )
    return d


@pytest.mark.parametrize("output", OUTPUT_RULES)
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_every_activation_and_output_rule(tmp_path, recorded, activation, output):
    d = _tiny_export(tmp_path, activation, output, clip=5.0 if activation == "tanh" else None)
    check = ox.export_onnx(d, n_random=1000, recorded_obs=recorded)
    assert check["max_abs_diff_random"] <= 1e-5 and check["max_abs_diff_recorded"] <= 1e-5
    assert check["n_recorded"] == N_RECORDED
    pol = load_policy(os.path.join(d, op.ONNX_FILE))
    obs = op.random_observations(50, 54, seed=9)
    np.testing.assert_allclose(pol.act(obs), load_policy(d).act(obs), atol=1e-5)


def test_random_observations_stay_in_the_env_clip_and_normaliser_bound():
    mean = np.array([0.0, 0.5, -3.0], np.float32)
    std = np.array([1.0, 1e-6, 0.01], np.float32)
    obs = op.random_observations(500, 3, mean=mean, std=std, bound=op.NORMALISED_BOUND)
    assert np.all(np.abs(obs) <= op.OBS_RANGE)
    assert np.all(np.abs((obs - mean) / std) <= op.NORMALISED_BOUND * (1 + 1e-4))
    assert obs[:, 0].min() < -9 and obs[:, 0].max() > 9  # an ordinary channel keeps the whole ±10
    full = op.random_observations(500, 3)
    assert np.all(full[0] == 0) and full.min() < -9 and full.max() > 9


def test_failed_verification_refuses_to_write(tmp_path, recorded, monkeypatch):
    d = _tiny_export(tmp_path, "swish", "clip_mean")
    real_build = ox.build_model

    def broken_build(policy):  # a graph whose first bias is off by 0.01: onnxruntime no longer matches
        from onnx import numpy_helper

        m = real_build(policy)
        for init in m.graph.initializer:
            if init.name == "hidden_0_bias":
                init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) + np.float32(0.01), init.name))
        return m

    monkeypatch.setattr(ox, "build_model", broken_build)
    with pytest.raises(fmt.ExportError, match=r"verification failed.*random observations.*recorded") as e:
        ox.export_onnx(d, n_random=200, recorded_obs=recorded)
    assert "tolerance 1e-05" in str(e.value)
    assert sorted(os.listdir(d)) == sorted([fmt.META_FILE, fmt.POLICY_FILE, fmt.NORMALIZER_FILE, fmt.ROBOT_SUBDIR])

    monkeypatch.setattr(ox, "build_model", real_build)
    fake = lambda *a, **k: {
        "max_abs_diff_random": 0.0,
        "max_abs_diff_recorded": 3e-4,
        "n_random": 200,  # noqa: E731
        "n_recorded": 200,
    }
    with pytest.raises(fmt.ExportError, match=r"0.0003 on 200 recorded"):
        ox.export_onnx(d, n_random=200, recorded_obs=recorded, verifier=fake)
    assert not os.path.exists(os.path.join(d, op.ONNX_FILE))


def test_corrupt_and_mismatched_onnx_files(tmp_path, shipped):
    d = _copy_shipped(tmp_path)
    data = open(os.path.join(shipped[0], op.ONNX_FILE), "rb").read()
    bad = os.path.join(d, op.ONNX_FILE)
    open(bad, "wb").write(data[: len(data) // 2])
    with pytest.raises(fmt.ExportError, match="corrupt") as e:
        load_policy(bad)
    assert bad in str(e.value)
    # a graph from another export (other sizes / other weights) beside this meta.json
    other = _tiny_export(tmp_path, "relu", "clip_mean", obs=20)
    open(bad, "wb").write(op.build_model(load_policy(other)).SerializeToString())
    with pytest.raises(fmt.ExportError, match="observation size mismatch.*20"):
        load_policy(bad)
    other = _tiny_export(tmp_path, "relu", "clip_mean", obs=54)
    open(bad, "wb").write(op.build_model(load_policy(other)).SerializeToString())
    with pytest.raises(fmt.ExportError, match="another export"):
        load_policy(bad)
    os.remove(os.path.join(d, fmt.META_FILE))
    with pytest.raises(fmt.ExportError, match="meta.json"):
        load_policy(bad)


def test_evaluate_refuses_onnx_with_wrong_observation_size(tmp_path, capsys):
    from random_policy_export import write_random_export

    from evaluation import evaluate

    run = write_random_export(str(tmp_path / "run"), terrain_layout=True)  # 74 numbers; the env gives 54
    export_dir = os.path.join(run, "export")
    onnx_path = os.path.join(export_dir, op.ONNX_FILE)
    open(onnx_path, "wb").write(op.build_model(load_policy(export_dir)).SerializeToString())
    code = evaluate.main(
        [
            "--policy",
            onnx_path,
            "--episodes",
            "1",
            "--duration",
            "0.1",
            "--worlds",
            "flat",
            "--processes",
            "1",
            "--out",
            str(tmp_path / "eval"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "observation layout mismatch" in err and "74" in err
    assert not os.path.exists(tmp_path / "eval")


def test_cli_onnx_only_and_trainer_hook(tmp_path, monkeypatch, capsys):
    from random_policy_export import write_random_export

    run = write_random_export(str(tmp_path / "run"))
    export_dir = os.path.join(run, "export")
    # (no recorded observations here: this export's env would be one more env build; the shipped
    # fixture covers the recording path)
    assert ex.main([run, "--onnx-only", "--onnx-random", "100", "--onnx-recorded", "0"]) == 0
    assert "max abs diff" in capsys.readouterr().out
    check = json.load(open(os.path.join(export_dir, op.CHECK_FILE)))
    assert check["n_random"] == 100 and check["n_recorded"] == 0 and check["passed"]
    assert isinstance(load_policy(os.path.join(run, "export", op.ONNX_FILE)), op.OnnxPolicy)
    again = ox.export_onnx(os.path.join(export_dir, op.ONNX_FILE), n_random=10, n_recorded=0)  # re-export from its path
    assert again["passed"] and again["sha256"] == check["sha256"]
    # the trainers' hook without onnxruntime: one line naming the extra, nothing raised
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    lines = []
    assert ox.export_onnx_if_available(export_dir, log=lines.append) is None
    assert len(lines) == 1 and "pip install -e .[deploy]" in lines[0]
    with pytest.raises(fmt.ExportError, match=r"pip install -e \.\[deploy\]"):
        load_policy(os.path.join(export_dir, op.ONNX_FILE))
