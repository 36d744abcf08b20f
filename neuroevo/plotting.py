"""matplotlib set-up for every plot the project draws: headless (Agg), imported only when a plot is
drawn, saved atomically. Needs the ``plots`` extra."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from neuroevo.files import atomic_write


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the headless Agg backend.

    Raises:
        ImportError: matplotlib is not installed (with the command that installs it).
    """
    try:
        import matplotlib
    except ImportError as error:
        raise ImportError("plots need matplotlib: pip install 'neuroevo[plots]'") from error
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure: Any, path: str | os.PathLike, *, dpi: int = 120) -> Path:
    """Write ``figure`` as a PNG to ``path`` atomically and close it. Returns the path."""
    plt = pyplot()
    try:
        return atomic_write(path, lambda tmp: figure.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight"))
    finally:
        plt.close(figure)
