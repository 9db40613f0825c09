"""Can this process open the MuJoCo viewer? A check that fails with a Python error, not a crash.

``mujoco.viewer.launch_passive`` on a machine without a display prints "ERROR: could not
initialize GLFW" and ends the interpreter from C, so no ``except`` can catch it (Gymnasium's
``check_env`` renders and would abort). :func:`require_display` asks first: on Linux a display
must be named (``DISPLAY`` or ``WAYLAND_DISPLAY``) and GLFW must initialise (probed in a child
process, so a failing probe cannot take this one down); otherwise it raises
:class:`NoDisplayError` saying what to do instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Optional

_PROBE = "import glfw, sys; ok = glfw.init(); glfw.terminate() if ok else None; sys.exit(0 if ok else 1)"


class NoDisplayError(RuntimeError):
    """The MuJoCo viewer cannot open here (no display, or GLFW cannot initialise)."""


def display_problem() -> Optional[str]:
    """None when a viewer window can open, else the reason."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "no display (DISPLAY and WAYLAND_DISPLAY are unset)"
    try:
        r = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"could not probe GLFW ({type(e).__name__})"
    if r.returncode != 0:
        err = (r.stderr or b"").decode(errors="replace").strip().splitlines()
        return "GLFW cannot initialise" + (f" ({err[-1][:200]})" if err else "")
    return None


def require_display(what: str, instead: str) -> None:
    """Raise :class:`NoDisplayError` naming ``what`` needs the display and ``instead``, if none."""
    problem = display_problem()
    if problem is not None:
        raise NoDisplayError(
            f"{what} needs a display for the MuJoCo viewer: {problem}. On a headless machine {instead}"
        )
