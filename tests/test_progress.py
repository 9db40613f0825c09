"""train/progress.py: the progress line's env steps/s, elapsed time and ETA (fast, no training)."""

import pytest

from train.progress import ProgressLogger, read_progress


@pytest.fixture
def logger(tmp_path):
    lines = []
    lg = ProgressLogger(
        str(tmp_path), total_steps=100_000, console=lines.append, tensorboard=False, tick_interval_s=10.0
    )
    lg.t0 = 1000.0  # process start; training's first step arrives 40 s later (compilation)
    yield lg, lines
    lg.close()


def test_rate_and_eta_exclude_compilation(logger):
    lg, lines = logger
    assert lg.tick(10_000, now=1040.0) is None  # first step: starts the rate clock, nothing to print yet
    assert lg.rate(10_000, now=1040.0) is None and lg.eta_s(10_000, now=1040.0) is None
    line = lg.tick(30_000, now=1050.0)  # 20,000 steps in 10 s
    assert lg.rate(30_000, now=1050.0) == pytest.approx(2000.0)
    assert lg.eta_s(30_000, now=1050.0) == pytest.approx(35.0)  # 70,000 steps left at 2,000/s
    assert line is not None and lines == [line]
    assert "step 30,000/100,000 (30.0%)" in line and "2,000 env steps/s" in line
    assert "elapsed 0m50s" in line and "ETA 0m35s" in line


def test_ticks_are_throttled(logger):
    lg, lines = logger
    lg.tick(0, now=1010.0)  # step 0 (before compilation) does not start the clock
    lg.tick(1_000, now=1040.0)
    assert lg.tick(10_000, now=1045.0) is not None  # the first printable line is printed
    assert lg.tick(12_000, now=1050.0) is None  # 5 s later: throttled (interval 10 s)
    assert lg.tick(20_000, now=1055.1) is not None
    assert len(lines) == 2


def test_eval_line_carries_eta_and_resets_the_throttle(logger):
    lg, lines = logger
    lg.mark_step(1, now=lg.t0)
    summary = {
        "reward": 10.0,
        "reward_std": 1.0,
        "episode_length": 250.0,
        "fall_rate": 0.0,
        "vel_tracking_error_per_step": 0.05,
    }
    line = lg.log_eval(50_000, summary, 1, 2)
    assert "ETA" in line and "vel err 0.050 m/s" in line
    assert read_progress(lg.run_dir, "eval")[0]["step"] == 50_000
    final = lg.log_eval(100_000, summary, 2, 2)
    assert "ETA" not in final  # nothing left
