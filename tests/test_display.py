"""mjx_envs/display.py: the MuJoCo viewer on a machine without a display raises a Python error
(GLFW would otherwise end the interpreter from C, with no exception to catch)."""

import subprocess
import sys

import pytest

from mjx_envs.display import NoDisplayError, display_problem, require_display


def test_no_display_is_reported(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    if not sys.platform.startswith("linux"):
        pytest.skip("DISPLAY only decides on Linux")
    assert "no display" in display_problem()
    with pytest.raises(NoDisplayError, match="needs a display.*--video"):
        require_display("--viewer", "write a video: --video out.mp4")


def test_unreachable_display_is_reported(monkeypatch):
    """DISPLAY names a server that is not there: the GLFW probe (in a child process) fails."""
    if not sys.platform.startswith("linux"):
        pytest.skip("X11 display names are a Linux matter here")
    monkeypatch.setenv("DISPLAY", ":97")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    problem = display_problem()
    assert problem is not None and "GLFW" in problem


def test_gym_human_render_headless_raises_not_aborts():
    """gym.make(render_mode="human") + reset() on a headless machine: a clear exception, and the
    interpreter lives on (run in a child process: a regression would kill it, not fail an assert)."""
    code = (
        "import os, gymnasium as gym, mjx_envs\n"
        "os.environ.pop('DISPLAY', None); os.environ.pop('WAYLAND_DISPLAY', None)\n"
        "from mjx_envs.display import NoDisplayError\n"
        "try:\n"
        "    env = gym.make('Quad12ResidualWalk-v0', render_mode='human'); env.reset(seed=0)\n"
        "    print('NO ERROR')\n"
        "except NoDisplayError as e:\n"
        "    print('RAISED', e)\n"
        "print('ALIVE')\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    if not sys.platform.startswith("linux"):
        pytest.skip("headless behaviour checked on Linux")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "RAISED" in r.stdout and "render_mode" in r.stdout and "ALIVE" in r.stdout, r.stdout + r.stderr
