"""train/runner.py: the plateau rule and the parts of a TrainingRun that need no compilation
(building a run is cheap: envs, networks and the evaluator are traced only when they first run).
The whole run, kill and resume included, is exercised end to end in tests/test_train_brax.py."""

import dataclasses
import json
import os

import pytest

from train.config import load_train_config
from train.run_start import resumed_levels
from train.runner import EarlyStop, EarlyStopping, TrainingRun


def test_plateau_rule_counts_patience_after_min_evals():
    es = EarlyStopping(enabled=True, patience=2, min_delta=0.5, min_evals=4)
    # 10 (best), 10.3 (not > 10.5: no improvement), 12 (best), 12.2, 12.4 -> 2 without improvement
    assert [es.update(r, s) for s, r in enumerate([10.0, 10.3, 12.0, 12.2, 12.4])] == [False] * 4 + [True]
    assert (es.best, es.best_step, es.since_best) == (12.0, 2, 2)
    restored = EarlyStopping(True, 2, 0.5, 4)
    restored.load(es.state())  # a resumed run continues the count
    assert restored.state() == es.state()
    off = EarlyStopping(enabled=False, patience=1, min_delta=0.0)
    assert not any(off.update(1.0) for _ in range(5))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    cfg = load_train_config(
        preset="ci_tiny",
        overrides=[
            "run.early_stopping.enabled=true",
            "run.early_stopping.patience=1",
            "run.early_stopping.min_evals=1",
            "run.early_stopping.min_delta=0.0",
        ],
    )
    lines = []
    r = TrainingRun(cfg, str(tmp_path_factory.mktemp("runs") / "r"), console=lines.append)
    r.lines = lines
    yield r
    r.logger.close()


def test_a_new_run_announces_itself_and_records_its_config(run):
    assert os.path.isfile(os.path.join(run.run_dir, "config.yaml"))
    assert (run.start_step, run.step, run.remaining_epochs, run.final_target) == (0, 0, 3, 480)
    assert run.num_devices >= 1 and run.is_main
    assert any(line.startswith("JAX device:") for line in run.lines)
    assert any("training 3 epoch(s) of 160 env steps" in line for line in run.lines)


def test_early_stop_part_stops_once_the_reward_plateaus_and_says_so(run):
    assert run.check_early_stop(0, 5.0) is False  # the first evaluation sets the best
    assert run.check_early_stop(160, 4.0) is True  # patience 1: one evaluation without improvement
    assert any(line.startswith("early stopping at step 160") for line in run.lines), run.lines
    with open(os.path.join(run.run_dir, "progress.jsonl")) as fh:
        rows = [json.loads(x) for x in fh]
    assert [r["step"] for r in rows if r["kind"] == "early_stop"] == [160]
    # at the last step of the run there is nothing left to stop
    assert run.check_early_stop(run.final_target, 3.0) is False


def test_wall_clock_budget_stops_at_the_next_evaluation(run, monkeypatch):
    cfg = run.cfg
    run.cfg = cfg.replace(run=dataclasses.replace(cfg.run, max_wall_clock_s=100.0))
    run.stopper = EarlyStopping(False, 1, 0.0, 1)
    try:
        monkeypatch.setattr(run, "clock", lambda: 99.0)
        assert run.check_early_stop(160, 1.0) is False  # within the budget
        monkeypatch.setattr(run, "clock", lambda: 101.0)
        assert run.check_early_stop(320, 1.0) is True
        assert any(line.startswith("stopping at step 320: the wall-clock budget") for line in run.lines)
        assert run.check_early_stop(run.final_target, 1.0) is False  # nothing left to stop at the end
    finally:
        run.cfg = cfg


def test_on_progress_raises_early_stop_after_checkpointing(run, monkeypatch):
    """brax's progress callback: the epoch's evaluation is logged, counted, checkpointed, and then
    EarlyStop ends training (the run still exports, in ``run()``)."""
    saved = []
    monkeypatch.setattr(run, "checkpoint", lambda step: saved.append(step))
    run.stopper = EarlyStopping(True, 1, 0.0, 1)
    run.stopper.update(10.0, 0)
    run.evals.append({"step": 160, "reward": 9.0, "reward_std": 1.0, "episode_length": 50.0})
    run._pending_eval = run.evals[-1]
    with pytest.raises(EarlyStop):
        run.on_progress(160, {"training/policy_loss": 0.1})
    assert saved == [160] and run.stopped_early


def test_a_resumed_curriculum_starts_from_its_level_distribution(run, monkeypatch):
    """The level distribution of the training episodes is tracked from brax's training logs, stored
    in every checkpoint's run state, and a resume draws the training envs' first levels from it
    (from the checkpoint's state, else from the last one progress.jsonl logged by the checkpoint's
    step); the eval env keeps spreading its episodes over every level."""
    from train.ppo_setup import make_envs

    cfg = run.cfg
    rough = cfg.replace(
        simulation=cfg.simulation.replace(world="rough"), run=dataclasses.replace(cfg.run, eval_world="rough")
    )
    episode = {"episode/length": 50.0, "episode/sum_reward": 1.0}
    levels = {f"episode/terrain_level_{k}_per_step": f for k, f in enumerate([0.0, 0.0, 0.0, 0.25, 0.0, 0.75])}
    run.on_progress(3, {**episode, **levels})  # brax's training-episode logger: env step 3
    assert run.level_fractions == [0.0, 0.0, 0.0, 0.25, 0.0, 0.75]
    saved = {}
    monkeypatch.setattr("train.runner.save_checkpoint", lambda *a, **k: saved.update(state=a[4]) or "ckpt")
    run.checkpoint(160)
    assert saved["state"]["terrain_level_fractions"] == [0.0, 0.0, 0.0, 0.25, 0.0, 0.75]
    monkeypatch.setattr(run, "cfg", rough)
    monkeypatch.setattr(run, "resume", True)
    monkeypatch.setattr(run, "start_step", 160)
    assert resumed_levels(run, {"terrain_level_fractions": [0.5, 0.5]}) == [0.5, 0.5]
    assert "mean level 0.50" in run.lines[-1]
    assert resumed_levels(run, {}) == [0.0, 0.0, 0.0, 0.25, 0.0, 0.75]  # older checkpoints: the log
    monkeypatch.setattr(run, "start_step", 2)  # logged after this step: not the checkpoint's
    assert resumed_levels(run, {}) is None and "start again from levels 0-" in run.lines[-1]
    monkeypatch.setattr(run, "cfg", cfg)  # no curriculum on the flat world
    monkeypatch.setattr(run, "start_step", 160)
    assert resumed_levels(run, {"terrain_level_fractions": [0.5, 0.5]}) is None
    _, eval_env, raw = make_envs(rough, [0.0, 0.0, 0.0, 0.25, 0.0, 0.75])
    assert raw.ctx.env.curriculum.initial_level_weights == (0.0, 0.0, 0.0, 0.25, 0.0, 0.75)
    assert eval_env.ctx.env.curriculum.initial_level_weights == ()
