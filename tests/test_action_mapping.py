"""mjx_envs/action_mapping.py (and the model it drives): the gait steps to a ramped command, and
``action_mode: torque`` drives the joints with motors. Both on the C-MuJoCo twin."""

import dataclasses

import jax.numpy as jnp
import numpy as np

from evaluation.episode import episode_key, set_command
from evaluation.safety_measures import StepRecorder
from gait.gait_config import GaitConfig
from mjx_envs.env_config import EnvConfig
from mjx_envs.gym_env import ResidualWalkEnv


def test_gait_ramps_a_reversed_command_without_saturating_the_servos():
    """A joystick flicked from -0.6 to +1.0 m/s: taken at once, the stance feet jump a full step
    and a hip servo hits its torque limit (measured 1.00 of it); ramped at the gait's 2 m/s^2 the
    peak stays at 0.64 of the limit (bound 0.75). The C-MuJoCo twin, zero action, flat ground."""
    peaks = {}
    for acc in (0.0, 2.0):
        gait = dataclasses.replace(GaitConfig(), max_acceleration=acc, max_yaw_acceleration=2.0 * acc)
        g = ResidualWalkEnv(gait=gait)
        g.reset(options={"key": episode_key(0, 0)})
        set_command(g, (-0.6, 0.0, 0.0))
        rec = StepRecorder(g)
        for k in range(150):
            if k == 75:
                g.episode_info = {**g.episode_info, "command": jnp.asarray([1.0, 0.0, 0.0], jnp.float32)}
            g.step(np.zeros(12, np.float32))
            rec.capture(g)
        peaks[acc] = float((np.abs(np.array(rec.tau[76:])) / rec.force_limit).max())
        np.testing.assert_allclose(np.asarray(g.episode_info["gait"].command), [1.0, 0.0, 0.0], atol=1e-6)
    assert peaks[0.0] >= 0.99 and peaks[2.0] <= 0.75, peaks


def test_torque_mode_drives_the_joints_with_motors():
    """``action_mode: torque``: the servos become motors (gain 1, no bias, ctrl limited to the
    torque limit) and the action is torque: half an action on one knee is half its 36 N·m, the
    others feel none; no torque lets the robot collapse (falls within 0.5 s); a PD law written as
    torques and held for each 0.02 s control step (kp 60, kv 1) holds it up for 2 s (trunk within
    4 cm of its start height; measured 2.9 cm lower). With the MJCF's servo gains (kp 80, kv 2) the
    held torques oscillate and it falls after 1.5 s: torques held for a 50 Hz control step need
    softer gains than the servos, which act at every 4 ms physics step."""
    g = ResidualWalkEnv(env=EnvConfig(action_mode="torque"))
    m = g.model
    np.testing.assert_array_equal(m.actuator_gainprm[:, 0], 1.0)
    np.testing.assert_array_equal(m.actuator_biasprm[:, :3], 0.0)
    np.testing.assert_array_equal(m.actuator_ctrlrange, m.actuator_forcerange)
    limit = m.actuator_forcerange[:, 1]
    jid = m.actuator_trnid[:, 0]
    qadr, dadr = m.jnt_qposadr[jid], m.jnt_dofadr[jid]
    home = np.array(m.key("home").qpos[7:19])

    g.reset(seed=0)
    action = np.zeros(12, np.float32)
    action[2] = 0.5
    g.step(action)
    np.testing.assert_allclose(g.data.actuator_force, 0.5 * limit * (np.arange(12) == 2), atol=1e-6)
    fell = [g.step(np.zeros(12, np.float32))[2] for _ in range(25)]
    assert any(fell)

    g.reset(seed=0)
    z0 = g.data.qpos[2]
    for _ in range(100):
        tau = 60.0 * (home - g.data.qpos[qadr]) - 1.0 * g.data.qvel[dadr]
        _, _, term, _, _ = g.step(np.clip(tau / limit, -1, 1).astype(np.float32))
        assert not term
    assert abs(g.data.qpos[2] - z0) < 0.04, (z0, g.data.qpos[2])
