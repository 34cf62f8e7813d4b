"""Shared figure helpers: one style, explicit saving, byte-stable files."""

from collections.abc import Sequence
from pathlib import Path

import matplotlib
import matplotlib.style
from matplotlib.figure import Figure

from handson.paths import STYLE

matplotlib.use("agg")


def style():
    """Context manager applying the course style (`with style(): fig = Figure()`)."""
    return matplotlib.style.context(str(STYLE))


def save(fig: Figure, path: Path) -> Path:
    """Save `fig` to `path` (format from the suffix) without timestamps or tool versions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    # No date and no creator string: two runs must give the same bytes.
    metadata = {"svg": {"Date": None, "Creator": None},
                "png": {"Software": None},
                "pdf": {"CreationDate": None, "Creator": None, "Producer": None}}.get(suffix[1:])
    with style():  # savefig reads rcParams (svg.hashsalt, bbox) at save time
        fig.savefig(path, metadata=metadata)
    return path


def to_rgb_array(fig: Figure):
    """Render `fig` with Agg and return an (H, W, 3) uint8 array (for GIF frames)."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def save_gif(frames: Sequence, path: Path, ms_per_frame: int = 1000) -> Path:
    """Write RGB uint8 arrays as a looping GIF (Pillow; deterministic bytes)."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:],
                   duration=ms_per_frame, loop=0, optimize=False)
    return path
