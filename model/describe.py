"""Print Markdown tables describing the robot (bodies, joints, actuators, sensors) from the MJCF.

``python -m model.describe`` — the tables in docs/model.md are this command's output, and
tests/test_model.py checks that the sensor indices there are still the real ones.
"""

from __future__ import annotations

import mujoco
import numpy as np

from model import loading
from model import robot_constants as rc
from model.simulation_config import SimulationConfig

_SENSOR_UNITS = {
    mujoco.mjtSensor.mjSENS_FRAMEQUAT: ("quaternion (w, x, y, z), world <- body", "-"),
    mujoco.mjtSensor.mjSENS_GYRO: ("angular velocity, body frame", "rad/s"),
    mujoco.mjtSensor.mjSENS_ACCELEROMETER: ("linear acceleration incl. gravity, body frame", "m/s^2"),
    mujoco.mjtSensor.mjSENS_VELOCIMETER: ("linear velocity, body frame", "m/s"),
    mujoco.mjtSensor.mjSENS_FRAMEPOS: ("position, world frame", "m"),
    mujoco.mjtSensor.mjSENS_FRAMELINVEL: ("linear velocity, world frame", "m/s"),
    mujoco.mjtSensor.mjSENS_JOINTPOS: ("joint angle", "rad"),
    mujoco.mjtSensor.mjSENS_JOINTVEL: ("joint velocity", "rad/s"),
    mujoco.mjtSensor.mjSENS_TOUCH: ("summed normal contact force in the site zone", "N"),
}


def tables(m: mujoco.MjModel) -> str:
    lines = ["### Bodies", "", "| body | mass (kg) | inertia diag (kg m^2) |", "|---|---|---|"]
    for i in range(1, m.nbody):
        lines.append(
            f"| `{m.body(i).name}` | {m.body_mass[i]:.3f} | {', '.join(f'{v:.2e}' for v in m.body_inertia[i])} |"
        )
    lines += [
        "",
        f"Total mass: {m.body_subtreemass[1]:.2f} kg.",
        "",
        "### Joints and actuators",
        "",
        "| # | joint = actuator | axis | range (rad) | kp (N m/rad) | kv (N m s/rad) | torque limit (N m) "
        "| damping | armature |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for a in range(m.nu):
        j = m.actuator_trnid[a, 0]
        lines.append(
            f"| {a} | `{m.actuator(a).name}` | {tuple(int(v) for v in m.jnt_axis[j])} | "
            f"[{m.jnt_range[j, 0]:.2f}, {m.jnt_range[j, 1]:.2f}] | {m.actuator_gainprm[a, 0]:g} | "
            f"{-m.actuator_biasprm[a, 2]:g} | {m.actuator_forcerange[a, 1]:g} | "
            f"{m.dof_damping[m.jnt_dofadr[j]]:g} | {m.dof_armature[m.jnt_dofadr[j]]:g} |"
        )
    lines += ["", "### Sensors (`data.sensordata`)", "", "| sensor | indices | quantity | unit |", "|---|---|---|---|"]
    for name, sl in loading.sensor_slices_of(m).items():
        what, unit = _SENSOR_UNITS.get(m.sensor(name).type[0], ("", ""))
        if m.sensor(name).type[0] == mujoco.mjtSensor.mjSENS_ACTUATORFRC:
            joint = m.actuator(int(m.sensor(name).objid[0])).name
            what, unit = (
                f"force of the actuator driving `{joint}` (`actuatorfrc`: equals `data.actuator_force`; "
                "the C-MuJoCo back end reads it here)",
                "N·m",
            )
        if name.startswith(rc.BODY_PROBE_PREFIX):
            geom = name[len(rc.BODY_PROBE_PREFIX) :]
            what = f"centre of the probe sphere `{geom}`, world frame (only with `collision: feet`)"
            unit = "m"
        lines.append(f"| `{name}` | {sl.start}:{sl.stop} | {what} | {unit} |")
    lines += ["", f"`nsensordata` = {m.nsensordata}."]
    return "\n".join(lines)


def main() -> None:
    m = loading.load_mj_model(SimulationConfig())
    np.set_printoptions(precision=3)
    print(tables(m))


if __name__ == "__main__":
    main()
