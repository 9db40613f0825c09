"""The gait's footholds (``gait.footholds``) for the robot loop: float64 NumPy, stdlib, no JAX.

A line-for-line mirror of ``gait/footholds.py`` (the planner) and of the env's update after each
control step (``mjx_envs/terrain_footholds.py``); ``tests/test_robot_footholds.py`` checks both
against the stack. :class:`deploy.robot_controller.Controller` builds a :class:`Footholds` when the
export's ``meta["config"]["gait"]["footholds"]["enabled"]`` is true and feeds it the robot's
:class:`~deploy.robot_controller.TerrainInput` (height map and trunk pose, in the robot's map frame).

Frames and units: *map* = the terrain input's frame (x, y horizontal [m], z up [m]); *body-yaw*
= x along the trunk's heading, y to its left, origin at the trunk [m]; *hip* = each leg's hip frame
(trunk axes) [m]. Legs FR, FL, RR, RL. When a leg's phase enters swing while the gait's activity is
>= 1/2, its touchdown (predicted from the command, body-yaw frame) moves to the cheapest cell of a
grid around it (level ring, no pit, close to the nominal touchdown; see ``FootholdConfig`` in
``gait/gait_config.py``), its swing apex rises over what lies on its path, and its stance height
follows the ground there; with ``steer_window`` > 0 the gait also steps sideways towards safer
ground (:func:`plan_steer`). Costs are rounded to ``COST_DECIMALS`` before the cheapest cell is
taken, as in the JAX planner, so that cells of equal cost tie exactly there and here (the first wins).
Uses :mod:`deploy.bezier_curves` and the loop's ``Gait`` (:mod:`deploy.robot_controller`, which imports this module).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable, Dict, Tuple

import numpy as np

from deploy.bezier_curves import SWING_X, SWING_Z, bezier

if TYPE_CHECKING:
    from deploy.robot_controller import Gait

COST_DECIMALS = 5
"""Decimals costs are rounded to before the argmin (``gait.footholds.COST_DECIMALS``)."""

OBSTACLE_HEIGHT = 0.01
"""Ground this much [m] above the swing's base line counts as something to step over."""

HeightFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""Ground height [m, map z] at map (x, y) [m], elementwise over arrays of any shape."""


class FootholdState:
    """Each leg's foothold between control steps (legs FR, FL, RR, RL; ``gait.footholds.FootholdState``).

    shift (4, 2): foothold minus nominal touchdown [m, body-yaw frame]; ground (4,): ground height
    there [m, map z]; start_shift, start_ground: the same for the stance the swing foot left;
    extra_clearance (4,): swing apex above the nominal swing height [m]; target (4, 2): the
    foothold in the map (x, y) [m]; steer (2,): velocity added to the command to move the trunk's
    path sideways onto safe ground [m/s, body frame] (zero without ``steer_window``)."""

    def __init__(self, shift, ground, start_shift, start_ground, extra_clearance, target, steer=(0.0, 0.0)):
        self.shift, self.ground = np.asarray(shift, float), np.asarray(ground, float)
        self.start_shift, self.start_ground = np.asarray(start_shift, float), np.asarray(start_ground, float)
        self.extra_clearance, self.target = np.asarray(extra_clearance, float), np.asarray(target, float)
        self.steer = np.asarray(steer, float)


def yaw_rotate(xy: np.ndarray, yaw) -> np.ndarray:
    """Body-yaw-frame vectors ``xy`` (..., 2) turned by ``yaw`` [rad] (broadcasts) into the map frame."""
    c, s = np.cos(yaw), np.sin(yaw)
    return np.stack([c * xy[..., 0] - s * xy[..., 1], s * xy[..., 0] + c * xy[..., 1]], axis=-1)


def smoothstep(x) -> np.ndarray:
    """Cubic ease 3x^2 - 2x^3 of ``x`` clipped to [0, 1]."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _curve(points: np.ndarray, u) -> np.ndarray:
    """A Bézier curve (:func:`deploy.bezier_curves.bezier`) at each swing progress in ``u``."""
    u = np.asarray(u, float)
    return np.array([bezier(points, float(v)) for v in u.ravel()]).reshape(u.shape)


def initial_footholds(trunk_xy, yaw: float, gait: Gait, height: HeightFn) -> FootholdState:
    """Footholds of a robot standing on its nominal stance points (trunk at map ``trunk_xy`` [m],
    heading ``yaw`` [rad]): zero shifts, the ground under each foot."""
    feet = np.asarray(trunk_xy, float) + yaw_rotate(gait.feet_in_body(), yaw)
    ground = np.asarray(height(feet[:, 0], feet[:, 1]), float)
    zero = np.zeros((4, 2))
    return FootholdState(zero, ground, zero, ground, np.zeros(4), feet)


def steered_command(command, state: FootholdState) -> np.ndarray:
    """(3,) the command the gait steps to: ``command`` (vx, vy, yaw rate) + the steering velocity."""
    return np.asarray(command, float) + np.concatenate([state.steer, [0.0]])


def _ring(radius: float) -> np.ndarray:
    return radius * np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])


def candidate_offsets(cfg: Dict) -> np.ndarray:
    """(n, 2) offsets of the search cells from the nominal touchdown [m, body-yaw frame]: every
    ``resolution`` within ``+-window_x`` by ``+-window_y``, x fastest. Rounded to float32 like the
    trained gait's, so that cells of exactly equal cost are the same cells (argmin takes the first)."""

    ox, oy = np.meshgrid(_axis(cfg, cfg["window_x"]), _axis(cfg, cfg["window_y"]))
    return np.stack([ox.ravel(), oy.ravel()], axis=-1)


def _axis(cfg: Dict, half: float, step: float | None = None) -> np.ndarray:
    """Offsets [m] ``0, +-step, ...`` up to ``+-half`` (``step``: ``resolution``; float32-rounded, see above)."""
    step = cfg["resolution"] if step is None else step
    n = int(math.floor(half / step + 1e-6))
    return np.array([step * k for k in range(-n, n + 1)], np.float32).astype(float)


def cell_costs(centres: np.ndarray, yaw: float, offsets: np.ndarray, cfg: Dict, height: HeightFn):
    """(cost (..., n), height (..., n)) of the cells at map ``centres`` (..., n, 2) [m] whose offsets
    from the nominal touchdown are ``offsets`` (n, 2) [m, body-yaw]: squared offset (sideways times
    ``lateral_weight``) + ``roughness_weight`` x ring roughness^2, + 1 + violation when unsafe."""
    ring = yaw_rotate(_ring(cfg["edge_radius"]), yaw)  # (4, 2) map
    rims = yaw_rotate(_ring(cfg["pit_radius"]), yaw)
    pts = centres[..., None, :] + np.concatenate([np.zeros((1, 2)), ring, rims])  # (..., n, 9, 2)
    h = np.asarray(height(pts[..., 0], pts[..., 1]), float)
    h0 = h[..., 0]
    rough = np.max(np.abs(h[..., 1:5] - h0[..., None]), axis=-1)
    rim = h[..., 5:9] - h0[..., None]  # +x, -x, +y, -y
    pit = np.maximum(np.minimum(rim[..., 0], rim[..., 1]), np.minimum(rim[..., 2], rim[..., 3]))
    violation = np.maximum(rough - cfg["edge_height"], 0.0) + np.maximum(pit - cfg["pit_depth"], 0.0)
    unsafe = (rough > cfg["edge_height"]) | (pit > cfg["pit_depth"])
    weights = np.array([1.0, cfg["lateral_weight"]])
    cost = np.sum(weights * offsets * offsets, axis=-1) + cfg["roughness_weight"] * rough * rough
    return cost + np.where(unsafe, 1.0 + violation, 0.0), h0


def predicted_touchdowns(half_steps: np.ndarray, command, remaining: np.ndarray, gait: Gait) -> np.ndarray:
    """(4, 2) where each foot would land unshifted, relative to the trunk now [m, body-yaw]: its
    nominal stance point + ``half_steps`` (4, 2) [m], in the trunk frame reached after ``remaining``
    (4,) [s] at the command ``(vx [m/s], vy [m/s], yaw rate [rad/s])``."""
    command = np.asarray(command, float)
    turned = yaw_rotate(gait.feet_in_body() + half_steps, command[2] * remaining)
    return remaining[:, None] * command[None, :2] + turned


def steer_costs(touchdown: np.ndarray, velocity: np.ndarray, trunk_xy, yaw: float, cfg: Dict, height: HeightFn):
    """(dy (ny,), total (ny,)): the sideways trunk path offsets ``+-steer_window`` [m] (every
    ``resolution``) and their cost: the sum over the legs and over ``steer_samples`` points (the
    touchdowns ``touchdown`` (4, 2) [m, body-yaw], then moved by the commanded ``velocity`` (2,)
    [m/s] for up to ``steer_lookahead`` s) of each leg's cheapest cell along the heading
    (``+-window_x`` every ``steer_resolution``), all moved by ``dy``; + ``steer_weight dy^2``."""
    dy = _axis(cfg, cfg["steer_window"])
    gx, gy = np.meshgrid(_axis(cfg, cfg["window_x"], cfg["steer_resolution"]), dy)  # (ny, nx)
    grid, along = np.stack([gx, gy], axis=-1), np.stack([gx, np.zeros_like(gy)], axis=-1)
    times = np.linspace(0.0, cfg["steer_lookahead"], int(cfg["steer_samples"]))
    ahead = touchdown[None] + times[:, None, None] * np.asarray(velocity, float)[None, None, :]  # (k, 4, 2)
    centres = np.asarray(trunk_xy, float) + yaw_rotate(ahead[:, :, None, None, :] + grid, yaw)
    cost, _ = cell_costs(centres, yaw, along, cfg, height)  # (k, 4, ny, nx)
    return dy, np.sum(np.min(cost, axis=-1), axis=(0, 1)) + cfg["steer_weight"] * dy**2


def plan_steer(touchdown: np.ndarray, velocity: np.ndarray, trunk_xy, yaw: float, cfg: Dict, height: HeightFn):
    """(2,) sideways steering velocity [m/s, body frame]: the cheapest offset of :func:`steer_costs`,
    closed in ``steer_time`` (speed capped at ``steer_speed``)."""
    dy, total = steer_costs(touchdown, velocity, trunk_xy, yaw, cfg, height)
    best = dy[np.argmin(np.round(total, COST_DECIMALS))]
    return np.array([0.0, np.clip(best / cfg["steer_time"], -cfg["steer_speed"], cfg["steer_speed"])])


def plan_footholds(
    state: FootholdState,
    lifting: np.ndarray,
    remaining: np.ndarray,
    trunk_xy,
    yaw: float,
    half_steps: np.ndarray,
    command,
    gait: Gait,
    cfg: Dict,
    height: HeightFn,
) -> FootholdState:
    """The footholds after a control step: legs ``lifting`` (4,) get a new foothold, the others keep
    theirs. ``remaining`` (4,): swing time left [s]; trunk at map ``trunk_xy`` (2,) [m] facing ``yaw``
    [rad]; ``half_steps`` (4, 2) [m] times the gait's activity; ``command`` (3,) body frame."""
    trunk_xy = np.asarray(trunk_xy, float)
    lifting = np.asarray(lifting, bool)
    touchdown = predicted_touchdowns(half_steps, command, remaining, gait)  # (4, 2)
    steer = state.steer
    if cfg.get("steer_window", 0.0) > 0.0 and np.any(lifting):  # along the command, without the steering
        steer = plan_steer(touchdown, np.asarray(command, float)[:2] - state.steer, trunk_xy, yaw, cfg, height)
    liftoff = gait.feet_in_body() - half_steps + state.shift
    offsets = candidate_offsets(cfg)  # (n, 2)
    centres = trunk_xy + yaw_rotate(touchdown[:, None, :] + offsets[None], yaw)  # (4, n, 2) map
    cost, h = cell_costs(centres, yaw, offsets, cfg, height)
    best = np.argmin(np.round(cost, COST_DECIMALS), axis=-1)
    shift = offsets[best]
    ground = h[np.arange(4), best]
    # the swing path, along the swing curve's own forward profile, from lift-off to the foothold
    k = int(cfg["path_samples"])
    u = (np.arange(k, dtype=float) + 1.0) / (k + 1.0)
    frac = (_curve(SWING_X, u) + 1.0) / 2.0  # (k,)
    lift_w = trunk_xy + yaw_rotate(liftoff, yaw)  # (4, 2)
    land_w = trunk_xy + yaw_rotate(touchdown + shift, yaw)
    path = lift_w[:, None] + frac[None, :, None] * (land_w - lift_w)[:, None]  # (4, k, 2)
    under = np.asarray(height(path[..., 0], path[..., 1]), float)
    base = state.ground[:, None] + smoothstep(u)[None] * (ground - state.ground)[:, None]
    lift = _curve(SWING_Z, u)
    above = under - base  # ground above the swing's base line: something to step over
    need = np.where(above > OBSTACLE_HEIGHT, (above + cfg["swing_margin"]) / np.maximum(lift, 0.2)[None], 0.0)
    extra = np.maximum(np.max(need, axis=-1) - gait.cfg["swing_height"], 0.0)
    return FootholdState(
        shift=np.where(lifting[:, None], shift, state.shift),
        ground=np.where(lifting, ground, state.ground),
        start_shift=np.where(lifting[:, None], state.shift, state.start_shift),
        start_ground=np.where(lifting, state.ground, state.start_ground),
        extra_clearance=np.where(lifting, extra, state.extra_clearance),
        target=np.where(lifting[:, None], land_w, state.target),
        steer=steer,
    )


def foothold_offsets(state: FootholdState, leg_phases: np.ndarray, duty_factor: float) -> np.ndarray:
    """(4, 3) offsets [m, hip frames] added to the nominal foot targets at ``leg_phases`` (4,): the
    shift (xy) and the ground relative to the four legs' mean, both blended over each swing by a
    smoothstep of its progress, plus the extra apex height times the unit swing curve (z)."""
    in_swing = leg_phases >= duty_factor
    u = np.clip((leg_phases - duty_factor) / (1.0 - duty_factor), 0.0, 1.0)
    w = np.where(in_swing, smoothstep(u), 1.0)
    shift = state.start_shift + w[:, None] * (state.shift - state.start_shift)
    ground = state.start_ground + w * (state.ground - state.start_ground)
    lift = np.where(in_swing, _curve(SWING_Z, u), 0.0)
    z = ground - np.mean(ground) + state.extra_clearance * lift
    return np.concatenate([shift, z[:, None]], axis=-1)


def lifting_legs(phases_before: np.ndarray, phases_after: np.ndarray, duty_factor: float) -> np.ndarray:
    """(4,) bool: legs whose phase entered swing between the two (4,) leg phases."""
    return (phases_before < duty_factor) & (phases_after >= duty_factor)


class Footholds:
    """The Controller's footholds: the state, its offsets to the foot targets and its update after
    each control step, in the env's order (``mjx_envs/episode_logic.py`` ``advance``).

    ``cfg``: ``meta["config"]["gait"]["footholds"]``; ``gait``: the loop's :class:`Gait`;
    ``height``: the robot's height map [m] at map (x, y) [m]; ``pose``: trunk (x [m], y [m], yaw
    [rad]) in the map frame where the robot stands now (the reset footholds)."""

    def __init__(self, cfg: Dict, gait: Gait, height: HeightFn, pose: Tuple[float, float, float]):
        self.cfg, self.gait, self.height = cfg, gait, height
        self.duty = float(gait.cfg["duty_factor"])
        self.state = initial_footholds(pose[:2], float(pose[2]), gait, height)

    def command(self, command) -> np.ndarray:
        """(3,) the command the gait's feet step to (``command`` + the steering velocity)."""
        return steered_command(command, self.state)

    def offsets(self, phase: float) -> np.ndarray:
        """(4, 3) offsets [m, hip frames] to add to the gait's foot targets at gait ``phase``."""
        return foothold_offsets(self.state, self.gait.leg_phases(phase), self.duty)

    def after_step(self, phase_before: float, phase: float, activity: float, command, pose) -> np.ndarray:
        """New footholds for the legs the clock put into swing (``phase_before`` -> ``phase``) while
        ``activity`` (after the advance) >= 1/2, planned from the trunk's ``pose`` (x, y, yaw) [m, rad]
        in the map frame after the physics and the step's ``command`` steered; returns their (4,) bool."""
        after = self.gait.leg_phases(phase)
        lifting = lifting_legs(self.gait.leg_phases(phase_before), after, self.duty) & (activity >= 0.5)
        swing_duration = (1.0 - self.duty) * float(self.gait.cfg["period"])
        remaining = (1.0 - (after - self.duty) / (1.0 - self.duty)) * swing_duration
        command = self.command(command)
        half = self.gait.half_steps(command) * activity
        self.state = plan_footholds(
            self.state, lifting, remaining, pose[:2], float(pose[2]), half, command, self.gait, self.cfg, self.height
        )
        return lifting
