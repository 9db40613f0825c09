"""Watching a policy or the nominal gait: the MuJoCo viewer and headless videos (``python -m playback``).

Evaluation and reports live in ``evaluation/``; the robot-side loop in ``deploy/``.
"""
