"""Named training tasks, as MuJoCo Playground registers its environments.

A *task* says what the robot must learn: the world, the curriculum, the action mode and the
evaluation world. A *preset* (``configs/ppo_residual.yaml``) says how big the run is. Each task is
one function returning the config sections that define it; :func:`train.config.task_config` builds the whole
validated :class:`train.config.TrainConfig` (base values, then the preset, then the task, then
``key=value`` overrides)::

    python -m train --task rough                 # the task at the default size (gpu / cpu_small)
    python -m train --task direct --preset gpu   # the direct-joint-target ablation, full size
    python -m train --list-tasks

==============  ========================================================================
``flat``        flat ground, joystick commands, no curriculum; evaluated on flat ground
``rough``       the 6-band rough world with the terrain curriculum; evaluated on the held-out
                rough seed
``suite``       the terrain suite (8 levels x 7 types) with the curriculum; evaluated on the
                held-out suite seed (the ``gpu`` preset's task)
``direct``      ``suite`` with direct joint targets (no gait, no IK): the residual ablation
``modulated``   ``suite`` with the foot residuals plus gait modulation (PMTG-style)
``footholds``   ``suite`` over the foothold gait, the height scan observed
``torque``      ``suite`` with joint torques through motors (no gait, no servo): the ablation's
                direct torque control
==============  ========================================================================

Commands and robustness are not part of a task: they come from the preset (or overrides).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List

from model.yaml_config import ConfigError


def flat() -> Dict[str, Any]:
    """Flat ground, no curriculum."""
    return {"simulation": {"world": "flat"}, "run": {"eval_world": "flat"}, "env": {"curriculum": {"enabled": False}}}


def rough() -> Dict[str, Any]:
    """The 6-band rough world (0-10 cm relief) with the terrain curriculum."""
    return {"simulation": {"world": "rough"}, "run": {"eval_world": "rough"}, "env": {"curriculum": {"enabled": True}}}


def suite() -> Dict[str, Any]:
    """The terrain suite (8 levels x 7 types) with the curriculum."""
    return {"simulation": {"world": "suite"}, "run": {"eval_world": "suite"}, "env": {"curriculum": {"enabled": True}}}


def direct() -> Dict[str, Any]:
    """``suite`` with direct joint targets around the home pose: the ablation baseline."""
    out = suite()
    out["env"] = {**out["env"], "action_mode": "direct"}
    return out


def footholds() -> Dict[str, Any]:
    """``suite`` over the foothold gait (``gait.footholds``: touchdowns moved onto safe ground, the
    trunk steered, swings lifted over what lies on their path) with the height scan observed."""
    out = suite()
    out["env"] = {**out["env"], "height_scan": {"enabled": True}}
    out["gait"] = {"footholds": {"enabled": True}}
    return out


def torque() -> Dict[str, Any]:
    """``suite`` with joint torques (the servos turned into motors; no gait, no IK, no servo): the
    ablation's direct torque control."""
    out = suite()
    out["env"] = {**out["env"], "action_mode": "torque"}
    return out


def modulated() -> Dict[str, Any]:
    """``suite`` with foot residuals plus step-frequency, swing-height and body-height modulation."""
    out = suite()
    out["env"] = {**out["env"], "action_mode": "modulated"}
    return out


TASKS: Dict[str, Callable[[], Dict[str, Any]]] = {
    "flat": flat,
    "rough": rough,
    "suite": suite,
    "direct": direct,
    "modulated": modulated,
    "footholds": footholds,
    "torque": torque,
}
"""The registry: task name -> function returning its config sections."""


def task_names() -> List[str]:
    """Registered task names, in registration order."""
    return list(TASKS)


def task_sections(name: str) -> Dict[str, Any]:
    """The config sections of task ``name``; :class:`ConfigError` lists the valid names."""
    if name not in TASKS:
        raise ConfigError(f"unknown task {name!r}; registered tasks: {', '.join(TASKS)}")
    return TASKS[name]()
