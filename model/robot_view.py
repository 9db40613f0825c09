"""Which geom groups draw a robot: its collision geoms when it has no visible geom of its own.

MuJoCo draws geom groups 0-2 and hides 3-5 by default; many robot files keep their collision
geoms in group 3 and their meshes in 0-2. A robot with no visible geom (only collision geoms, e.g.
a model whose meshes were removed) would be drawn as an empty floor: :func:`show_robot_geoms`
turns on the groups that hold its geoms in a ``mujoco.MjvOption`` (an offscreen renderer's scene
option, the passive viewer's ``opt``, the Gymnasium twin's renderer).
"""

from __future__ import annotations

import mujoco
import numpy as np

from model.robot_mapping import subtree, trunk_body

DEFAULT_VISIBLE_GROUPS = (0, 1, 2)
"""Geom groups MuJoCo's default ``MjvOption`` draws (3, 4 and 5 are hidden)."""
N_GEOM_GROUPS = 6
"""Geom groups a ``MjvOption`` can switch (``mujoco.mjNGROUP``)."""
TRACKING_CAMERA = (1.6, -20.0, 120.0)
"""Camera of rendered frames: distance to the trunk [m], elevation [deg], azimuth [deg], looking at
the trunk origin ``qpos[:3]`` (playback videos and the Gymnasium twin's ``rgb_array``)."""


def robot_geom_ids(m) -> np.ndarray:
    """Ids of the robot's geoms in ``m`` (a ``mujoco.MjModel``): those on the body of the first free
    joint and on every body below it. Empty when the model has no free joint."""
    if not np.any(np.asarray(m.jnt_type) == mujoco.mjtJoint.mjJNT_FREE):
        return np.zeros(0, np.int64)
    return np.flatnonzero(np.isin(np.asarray(m.geom_bodyid), subtree(m, trunk_body(m))))


def geom_alpha(m) -> np.ndarray:
    """Alpha each geom of ``m`` is drawn with: its own ``rgba`` unless that is MuJoCo's default
    (0.5, 0.5, 0.5, 1) and it has a material, then the material's (MuJoCo's visualiser rule)."""
    rgba = np.asarray(m.geom_rgba, np.float64).reshape(-1, 4)
    matid = np.asarray(m.geom_matid)
    default = np.all(rgba == np.array([0.5, 0.5, 0.5, 1.0]), axis=1)
    alpha = rgba[:, 3].copy()
    use_mat = default & (matid >= 0)
    alpha[use_mat] = np.asarray(m.mat_rgba, np.float64).reshape(-1, 4)[matid[use_mat], 3]
    return alpha


def robot_groups_to_show(m) -> tuple:
    """Geom groups to switch on so that the robot of ``m`` is drawn: ``()`` when one of its geoms
    sits in a group MuJoCo draws by default (0-2) with alpha > 0, else the groups (of 0-5) that
    hold its geoms, sorted (e.g. ``(3,)`` for a robot with collision geoms only)."""
    ids = robot_geom_ids(m)
    groups = np.asarray(m.geom_group)[ids]
    visible = (geom_alpha(m)[ids] > 0) & np.isin(groups, DEFAULT_VISIBLE_GROUPS)
    if np.any(visible):
        return ()
    return tuple(sorted({int(g) for g in groups if 0 <= g < N_GEOM_GROUPS}))


def show_robot_geoms(m, option) -> tuple:
    """Switch on in ``option`` (a ``mujoco.MjvOption``: an offscreen renderer's scene option or the
    passive viewer's ``handle.opt``, changed under ``handle.lock()``) the groups
    :func:`robot_groups_to_show` names; returns them (``()``: ``option`` is unchanged)."""
    groups = robot_groups_to_show(m)
    for g in groups:
        option.geomgroup[g] = 1
    return groups


class RobotRenderer:
    """Offscreen frames (H, W, 3) uint8 of a model, seen from :data:`TRACKING_CAMERA` following the
    trunk, with the robot's geoms drawn even when it has no visible ones (:func:`show_robot_geoms`).

    Needs offscreen GL (:func:`offscreen_gl_problem`). Use as a context manager or call ``close``.
    """

    def __init__(self, model, width: int, height: int):
        self._renderer = mujoco.Renderer(model, height, width)
        self.camera = mujoco.MjvCamera()
        self.camera.distance, self.camera.elevation, self.camera.azimuth = TRACKING_CAMERA
        self.option = mujoco.MjvOption()
        self.shown_groups = show_robot_geoms(model, self.option)

    def render(self, data) -> np.ndarray:
        """The frame of ``data`` (a ``mujoco.MjData`` of the model), camera centred on ``qpos[:3]``."""
        self.camera.lookat[:] = data.qpos[:3]
        self._renderer.update_scene(data, camera=self.camera, scene_option=self.option)
        return self._renderer.render()

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def __enter__(self) -> "RobotRenderer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
