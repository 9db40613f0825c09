"""``python -m model.check PATH.xml``: does a robot MJCF have what the stack needs?

    python -m model.check model/robot.xml
    python -m model.check model/robots/quad12_long/robot.xml

Compiles the file (a robot on its own or a world that includes it) and derives
:class:`model.robot_spec.RobotSpec` from it: four legs FR, FL, RR, RL, each abduction (x) → hip
(y) → knee (y) → foot sphere; twelve position actuators in that order; the sensors the envs read;
feet that collide. On success it prints the table of what it derived (link lengths, hip offsets,
ranges, home pose, mass) and exits 0; otherwise one line per problem, naming the body, joint,
actuator or sensor, and exits 2. To train, play or evaluate with a robot that passes, set
``simulation.robot_xml: PATH`` (docs/model.md, "Bring your own robot").
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from model.robot_spec import RobotModelError, load_robot_spec

check = load_robot_spec
"""``check(path)``: the :class:`RobotSpec` of the MJCF at ``path``, or :class:`RobotModelError`."""


def main(argv: Optional[List[str]] = None, out=print) -> int:
    p = argparse.ArgumentParser(prog="python -m model.check", description=__doc__.split("\n\n")[0])
    p.add_argument("path", help="robot MJCF (or a world MJCF that includes it)")
    args = p.parse_args(argv)
    try:
        spec = check(args.path)
    except RobotModelError as e:
        out(f"FAIL {e}")
        return 2
    out(f"OK {args.path}: the stack can use this robot (simulation.robot_xml: {args.path})")
    out(spec.table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
