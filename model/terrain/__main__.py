"""``python -m model.terrain``: see :mod:`model.terrain.cli`."""

from model.terrain.cli import main

main()
