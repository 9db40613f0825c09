"""``python -m playback``: play an exported policy or the nominal gait (see :mod:`playback.play`)."""

import sys

from playback.video import prefer_headless_gl

prefer_headless_gl()  # before mujoco is imported: headless machines render with OSMesa

from playback.play import main  # noqa: E402

sys.exit(main())
