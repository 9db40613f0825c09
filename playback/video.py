"""Headless video of an episode: which control steps to render, the frames, and an mp4/gif writer.

Offscreen rendering needs an OpenGL back end: on a headless machine ``MUJOCO_GL=osmesa``
(``apt-get install libosmesa6``) or ``MUJOCO_GL=egl`` (GPU). :func:`offscreen_gl_problem`
says, without crashing, whether it works here.

The frames themselves come from :class:`model.robot_view.RobotRenderer` (which draws a robot that
has no visible geom of its own by its collision geoms).
"""

from __future__ import annotations

import os
import warnings
from typing import Optional

import numpy as np

VIDEO_SUFFIXES = (".mp4", ".gif")


def frame_steps(duration: float, fps: float, control_dt: float) -> np.ndarray:
    """Control-step index (0 = the reset state) shown by each video frame.

    ``round(duration * fps)`` frames at times k / fps [s]; frame k shows the state after
    ``floor(k / fps / control_dt)`` control steps (frames repeat when ``fps`` > 1 / control_dt).
    """
    if fps <= 0 or duration <= 0 or control_dt <= 0:
        raise ValueError(f"duration ({duration} s), fps ({fps}) and control_dt ({control_dt} s) must be positive")
    n = int(round(duration * fps))
    return np.floor(np.arange(n) / fps / control_dt + 1e-9).astype(np.int64)


def check_video_path(path: str) -> str:
    """``path`` if its suffix is a supported video format (``.mp4``, ``.gif``), else ValueError."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in VIDEO_SUFFIXES:
        raise ValueError(f"video file {path!r}: unsupported format {suffix or '(no suffix)'}; use .mp4 or .gif")
    return path


class VideoWriter:
    """Streams RGB frames (H, W, 3) uint8 to an ``.mp4`` (H.264 via imageio-ffmpeg) or ``.gif``.

    Use as a context manager; ``frames`` counts what was written. GIFs keep every frame in
    memory until closed: use them for short clips.
    """

    def __init__(self, path: str, fps: float):
        import imageio.v2 as iio2
        import imageio.v3 as iio3

        self.path = check_video_path(path)
        self.fps = float(fps)
        self.frames = 0
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        if path.lower().endswith(".gif"):
            self._gif = iio3.imopen(path, "w", plugin="pillow")
            self._mp4 = None
        else:
            self._gif = None
            self._mp4 = iio2.get_writer(
                path,
                format="FFMPEG",
                mode="I",
                fps=self.fps,
                codec="libx264",
                quality=7,
                macro_block_size=2,
                ffmpeg_log_level="error",
            )

    def append(self, frame: np.ndarray) -> None:
        frame = np.asarray(frame, np.uint8)
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"video frame must be (H, W, 3) uint8, got {frame.shape}")
        if self._gif is not None:
            self._gif.write(frame, duration=1000.0 / self.fps, loop=0)
        else:
            with warnings.catch_warnings():  # ffmpeg starts (fork + exec) on the first frame: harmless
                warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called")
                self._mp4.append_data(frame)
        self.frames += 1

    def close(self) -> None:
        if self._gif is not None:
            self._gif.close()
            self._gif = None
        if self._mp4 is not None:
            self._mp4.close()
            self._mp4 = None

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def prefer_headless_gl() -> Optional[str]:
    """Set ``MUJOCO_GL=osmesa`` when it is unset, there is no display and OSMesa is installed.

    Must run before ``mujoco`` is first imported (MuJoCo picks its GL back end on import).
    Returns the back end now in ``MUJOCO_GL`` (None: MuJoCo's default).
    """
    import ctypes.util

    if "MUJOCO_GL" not in os.environ and not os.environ.get("DISPLAY") and ctypes.util.find_library("OSMesa"):
        os.environ["MUJOCO_GL"] = "osmesa"
    return os.environ.get("MUJOCO_GL")


def offscreen_gl_problem() -> Optional[str]:
    """None if MuJoCo can render offscreen here, else a sentence saying why not and what to do."""
    import mujoco

    try:
        m = mujoco.MjModel.from_xml_string(
            "<mujoco><worldbody><geom size='1 1 0.1' type='plane'/></worldbody></mujoco>"
        )
        r = mujoco.Renderer(m, 8, 8)
        try:
            r.update_scene(mujoco.MjData(m))
            r.render()
        finally:
            r.close()
    except Exception as e:  # GL back ends fail with many exception types (ImportError, RuntimeError, ...)
        return (
            f"offscreen rendering is unavailable ({type(e).__name__}: {e}); on a headless machine install "
            f"libosmesa6 and set MUJOCO_GL=osmesa (MUJOCO_GL is {os.environ.get('MUJOCO_GL', 'unset')!r})"
        )
    return None
