"""Shift a digit and its feature map shifts with it; the global max does not change.

A handwritten 7 from scikit-learn's `load_digits`, upsampled from 8×8 to 32×32 and placed
on a 48×48 canvas, goes through one `nnx.Conv` layer with a fixed 3×3 vertical-edge (Sobel)
kernel. Shifting the input by (4, 8) pixels (down, right) shifts the feature map by exactly
(4, 8): the largest difference between the shifted map and the map of the shifted input is
0 (equivariance). A global max pool over the map gives the same value for both inputs
(invariance): where the 7 is does not matter, what it looks like does.
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from matplotlib.figure import Figure
from sklearn.datasets import load_digits

from handson.demo import standalone
from handson.figures import save, style

DIGIT = 7  # index in load_digits (its 8th sample, a 7)
SIZE = 32  # side of the upsampled digit, in pixels
MARGIN = 8  # blank border around it, so the shifted digit stays on the canvas
SHIFT = (4, 8)  # the shift: rows down, columns right
SOBEL = [[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]  # responds to vertical edges
CMAP_INPUT, CMAP_MAP = "Greys", "RdBu_r"  # digit in grey, feature map signed (blue <0, red >0)


def shift(image: jax.Array, dy: int, dx: int) -> jax.Array:
    """Move an (N, H, W, C) image down by dy and right by dx pixels, filling with zeros."""
    padded = jnp.pad(image, ((0, 0), (dy, 0), (dx, 0), (0, 0)))
    return padded[:, :image.shape[1], :image.shape[2], :]


# --8<-- [start:layer]
def edge_layer() -> nnx.Conv:
    """One 3×3 conv layer, its kernel set to a Sobel filter (no training needed)."""
    conv = nnx.Conv(1, 1, kernel_size=(3, 3), padding="SAME", use_bias=False,
                    rngs=nnx.Rngs(0))
    conv.kernel[...] = jnp.array(SOBEL).reshape(3, 3, 1, 1)  # (kh, kw, in, out)
    return conv


@nnx.jit
def features(conv: nnx.Conv, x: jax.Array) -> jax.Array:
    return conv(x)  # (N, H, W, 1): the same weights at every position
# --8<-- [end:layer]


def main(out_dir: Path) -> dict:
    digits = load_digits()
    assert digits.target[DIGIT] == 7
    image = jnp.asarray(digits.images[DIGIT] / 16.0, dtype=jnp.float32)  # (8, 8), in [0, 1]
    image = jax.jit(jax.image.resize, static_argnums=(1, 2))(image, (SIZE, SIZE), "linear")
    canvas = jnp.pad(image, MARGIN)[None, :, :, None]  # (1, 48, 48, 1)
    moved = shift(canvas, *SHIFT)
    assert float(jnp.abs(moved).sum()) == float(jnp.abs(canvas).sum())  # nothing fell off

    # --8<-- [start:check]
    conv = edge_layer()
    fmap, fmap_moved = features(conv, canvas), features(conv, moved)
    # equivariance: conv(shift(x)) = shift(conv(x))
    difference = shift(fmap, *SHIFT) - fmap_moved
    pooled, pooled_moved = fmap.max(), fmap_moved.max()  # invariance: global max
    # --8<-- [end:check]
    dy, dx = SHIFT
    interior = difference[:, dy + 1:-1, dx + 1:-1, :]  # away from the zero-filled border
    peak = np.unravel_index(int(jnp.argmax(fmap[0, :, :, 0])), fmap.shape[1:3])
    peak_moved = np.unravel_index(int(jnp.argmax(fmap_moved[0, :, :, 0])), fmap.shape[1:3])

    with style():
        save(draw(canvas, moved, fmap, fmap_moved, difference, peak, peak_moved),
             out_dir / "shift.svg")

    return {
        "digit": int(digits.target[DIGIT]),
        "digit_size": SIZE,
        "canvas_size": int(canvas.shape[1]),
        "shift": list(SHIFT),
        "max_abs_difference": float(jnp.abs(difference).max()),
        "max_abs_difference_interior": float(jnp.abs(interior).max()),
        "global_max": float(pooled),
        "global_max_shifted": float(pooled_moved),
        "global_max_difference": float(jnp.abs(pooled - pooled_moved)),
        "peak": [int(v) for v in peak],
        "peak_shifted": [int(v) for v in peak_moved],
        "peak_moved_by": [int(peak_moved[0] - peak[0]), int(peak_moved[1] - peak[1])],
    }


def draw(canvas, moved, fmap, fmap_moved, difference, peak, peak_moved) -> Figure:
    fig = Figure(figsize=(12, 4.8))
    axes = fig.subplots(1, 5)
    limit = float(jnp.abs(fmap).max())
    panels = [
        (canvas, CMAP_INPUT, (0, 1), "input"),
        (moved, CMAP_INPUT, (0, 1), f"shifted by {SHIFT}"),
        (fmap, CMAP_MAP, (-limit, limit), "feature map"),
        (fmap_moved, CMAP_MAP, (-limit, limit), "map of shifted"),
        (difference, CMAP_MAP, (-limit, limit), "shift(map) − map\nof shifted"),
    ]
    for ax, (array, cmap, (lo, hi), title) in zip(axes, panels):
        ax.imshow(np.asarray(array[0, :, :, 0]), cmap=cmap, vmin=lo, vmax=hi,
                  interpolation="nearest")
        ax.set_title(title, fontsize=18)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        for spine in ax.spines.values():  # frame the whole canvas, so the shift shows
            spine.set_visible(True)
            spine.set_color("#888888")
    for ax, array, (r, c) in ((axes[2], fmap, peak), (axes[3], fmap_moved, peak_moved)):
        ax.plot(c, r, marker="o", ms=16, mfc="none", mec="black", mew=2.5)
        ax.set_xlabel(f"max {float(array.max()):.2f} at {(int(r), int(c))}", fontsize=16)
    axes[4].set_xlabel(f"max |difference| = {float(jnp.abs(difference).max()):g}", fontsize=16)
    fig.tight_layout()
    return fig


if __name__ == "__main__":
    standalone(main, __file__)
