"""Command-grid, push-recovery and stand-still evaluations (``python -m evaluation.evaluate --mode ...``).

Three tests of a controller on C MuJoCo (the Gymnasium twin ``ResidualWalkEnv``), flat world by
default, each run for the policy and the nominal gait (the same env with a zero action) on the
same episodes (same reset keys: spawn, heading noise, joint noise, gait phase):

* **command grid** (:mod:`evaluation.command_grid`, :func:`run_command_grid`): one episode per
  command of two grids, vx x yaw rate (vy = 0) and vx x vy (yaw rate = 0), the command fixed for
  the whole episode. Per cell the mean over the control steps after ``settle_s`` of the env's
  ``vel_tracking_error`` (‖v_xy,cmd − v_xy‖, body frame, m/s) and ``yaw_rate_error``
  (|ω_z,cmd − ω_z|, rad/s), whether it fell, and the achieved heading-frame velocity. Files:
  ``command_grid.{json,md}``, ``command_grid_vx_yaw.png``, ``command_grid_vx_vy.png``.
* **push recovery** (:mod:`evaluation.push_recovery`, :func:`run_push_recovery`): a forward
  command; at ``kick_time_s`` a horizontal velocity kick (m/s) is added to the trunk's free-joint
  linear velocity (``env.data.qvel[0:2]``, world frame), in direction ``heading + 2π i / episodes``
  for episode i (0 = forward, π/2 = to the robot's left). Success = the episode runs to the end
  without the env terminating it (fall, NaN physics). Files: ``push_recovery.{json,md,png}``.
* **stand still** (:mod:`evaluation.stand_still`, :func:`run_stand_still`): command (0, 0, 0);
  drift = horizontal distance of the trunk between the reset and the end (m), the largest yaw
  change (rad), falls. Files: ``stand_still.{json,md}``. Nothing is assumed about what the gait
  does at zero command.

What they share: :mod:`evaluation.mode_runs` (settings checks, the plan run batched by
:mod:`evaluation.runner`, :func:`evaluation.mode_runs.run_mode`), :mod:`evaluation.mode_markdown`
(the reports' header and footer) and :mod:`evaluation.mode_reports` (:data:`RUNNERS`, :func:`write_mode_report`,
:func:`summary_lines` by mode name). This module re-exports their public names.

The env's own random pushes (``env.pushes``) are switched off in these tests
(:func:`mode_configs`); everything else comes from the export's config (or ``configs/*.yaml``).
Commands outside the config's command ranges run like the others; the report notes them.

Units: m, s, rad, m/s, rad/s. Angles of kicks are relative to the trunk's heading at the kick.
"""

from __future__ import annotations

from evaluation.command_grid import (
    ACHIEVED_KEYS,
    AXIS_LABELS,
    GRID_VX,
    GRID_VY,
    GRID_YAW_RATE,
    GRIDS,
    CommandGrid,
    GridCell,
    command_grid_markdown,
    grid_cell_numbers,
    grid_matrix,
    grid_summary,
    grid_summary_table,
    plot_command_grid,
    run_command_grid,
    tracking_after_settle,
)
from evaluation.mode_reports import (
    FILE_STEMS,
    MODE_ENTRIES,
    MODES,
    RUNNERS,
    ModeEntry,
    summary_lines,
    write_mode_report,
)
from evaluation.mode_runs import (
    DEFINITIONS,
    MODE_WORLDS,
    NOMINAL,
    POLICY,
    cached_env,
    episode_row,
    mode_configs,
    mode_plan,
    outside_command_ranges,
    run_mode,
)
from evaluation.push_recovery import (
    KICK_SIZES,
    PUSH_COMMAND,
    PushTest,
    kick_angles,
    kick_callback,
    plot_push_recovery,
    push_episode,
    push_numbers,
    push_recovery_markdown,
    push_table,
    run_push_recovery,
)
from evaluation.stand_still import (
    StandTest,
    run_stand_still,
    stand_numbers,
    stand_still_markdown,
    stand_summary,
)

__all__ = [
    "ACHIEVED_KEYS",
    "AXIS_LABELS",
    "DEFINITIONS",
    "FILE_STEMS",
    "GRIDS",
    "GRID_VX",
    "GRID_VY",
    "GRID_YAW_RATE",
    "KICK_SIZES",
    "MODES",
    "MODE_ENTRIES",
    "MODE_WORLDS",
    "NOMINAL",
    "POLICY",
    "PUSH_COMMAND",
    "RUNNERS",
    "CommandGrid",
    "GridCell",
    "ModeEntry",
    "PushTest",
    "StandTest",
    "cached_env",
    "command_grid_markdown",
    "episode_row",
    "grid_cell_numbers",
    "grid_matrix",
    "grid_summary",
    "grid_summary_table",
    "kick_angles",
    "kick_callback",
    "mode_configs",
    "mode_plan",
    "outside_command_ranges",
    "plot_command_grid",
    "plot_push_recovery",
    "push_episode",
    "push_numbers",
    "push_recovery_markdown",
    "push_table",
    "run_command_grid",
    "run_mode",
    "run_push_recovery",
    "run_stand_still",
    "stand_numbers",
    "stand_still_markdown",
    "stand_summary",
    "summary_lines",
    "tracking_after_settle",
    "write_mode_report",
]
