"""Figure handling shared by the command-grid and push-recovery plots: a headless pyplot and saving."""

from __future__ import annotations

from typing import Any


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg back end (PNG files, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str, **savefig_options: Any) -> str:
    """Save ``fig`` to ``path`` at 100 dpi (plus ``savefig_options``), close it, return ``path``."""
    fig.savefig(path, dpi=100, **savefig_options)
    pyplot().close(fig)
    return path
