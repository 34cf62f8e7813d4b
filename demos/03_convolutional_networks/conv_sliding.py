"""A 3×3 kernel slides over a real digit, and the output map fills in one cell at a time.

A handwritten 0 from scikit-learn's `load_digits`, at its own 8×8 resolution with its integer
pixel values (0 to 16), and a vertical-edge (Sobel) kernel. Each frame moves the kernel to the
next position, multiplies the 9 pixels under it by the 9 weights and adds them up: that sum is
the next cell of the 6×6 output ('VALID': the kernel must fit inside, 8 − 3 + 1 = 6). The map
comes from one real `lax.conv_general_dilated` call; every cell equals the window-times-kernel
sum written out in NumPy (difference 0). Positive cells (red) are where the digit gets darker
from left to right (its left edge), negative cells (blue) where it gets lighter (its right
edge). 36 frames, one per output cell; two of them (the first row, then all 36 cells) are
also saved as numbered frames.
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.text import Text
from PIL import Image
from sklearn.datasets import load_digits

from handson.demo import standalone
from handson.figures import style

DIGIT = 0  # index in load_digits (its first sample, a 0)
SOBEL = ((-1, 0, 1), (-2, 0, 2), (-1, 0, 1))  # weights: responds to vertical edges
DPI = 80  # frames of 12 × 3.4 in = 960 × 272 px
MS_PER_FRAME = 600  # GIF speed
COLORS = 128  # GIF palette size
KEY_FRAMES = 2  # numbered frames saved for a step-by-step reveal: first row, all cells
RED = "#c20d4f"  # the window and the current output cell


# --8<-- [start:conv]
def conv(image: jax.Array, kernel: jax.Array) -> jax.Array:
    """(H, W) image, (k, k) kernel -> (H − k + 1, W − k + 1) map: the real 2-D convolution."""
    x = image[None, :, :, None]  # NHWC: a batch of one, one channel
    w = kernel[:, :, None, None]  # HWIO: one input channel, one filter
    y = lax.conv_general_dilated(x, w, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return y[0, :, :, 0]
# --8<-- [end:conv]


class Drawing:
    """Input, kernel and empty output drawn once; each frame adds one output cell on top (blit)."""

    def __init__(self, image: np.ndarray, kernel: np.ndarray, output: np.ndarray):
        self.output = output
        k, o = len(kernel), len(output)
        self.fig = Figure(figsize=(12, 3.4), dpi=DPI)
        axes = self.fig.subplots(1, 3, width_ratios=(8, 3, 6))
        self.fig.subplots_adjust(left=0.01, right=0.99, top=0.86, bottom=0.02, wspace=0.25)
        ax_in, ax_k, self.ax_out = axes
        ax_in.imshow(image, cmap="Greys", vmin=0, vmax=16)
        for (r, c), v in np.ndenumerate(image):
            ax_in.text(c, r, str(v), ha="center", va="center", fontsize=16,
                       color="white" if v > 9 else "#444444")
        ax_in.set_title(f"input {image.shape[0]}×{image.shape[1]} (pixel values)", fontsize=18)
        bound = np.abs(kernel).max()
        ax_k.imshow(kernel, cmap="RdBu_r", vmin=-2 * bound, vmax=2 * bound)
        for (r, c), v in np.ndenumerate(kernel):
            ax_k.text(c, r, f"{v:+d}" if v else "0", ha="center", va="center", fontsize=18)
        ax_k.set_title(f"kernel {k}×{k}", fontsize=18)
        self.ax_out.set_title(f"output {o}×{o}", fontsize=18)
        for ax, n in zip(axes, (image.shape[0], k, o)):
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            ax.set_xlim(-0.5, n - 0.5)
            ax.set_ylim(n - 0.5, -0.5)
            for spine in ax.spines.values():
                spine.set_visible(True)
        # what moves: the window on the input, the current cell on the output (drawn last)
        self.window = ax_in.add_patch(Rectangle((-0.5, -0.5), k, k, fill=False, edgecolor=RED,
                                                lw=4, animated=True))
        self.current = self.ax_out.add_patch(Rectangle((-0.5, -0.5), 1, 1, fill=False,
                                                       edgecolor=RED, lw=4, animated=True))
        self.cmap, self.scale = matplotlib.colormaps["RdBu_r"], np.abs(output).max()
        self.canvas = FigureCanvasAgg(self.fig)
        self.canvas.draw()
        self.background = self.canvas.copy_from_bbox(self.fig.bbox)  # the output cells so far

    def frame(self, r: int, c: int) -> np.ndarray:
        """Add output cell (r, c), then draw the window at (r, c) and the current cell."""
        self.canvas.restore_region(self.background)
        v = int(self.output[r, c])
        cell = Rectangle((c - 0.5, r - 0.5), 1, 1, animated=True,
                         facecolor=self.cmap(0.5 + v / (2 * self.scale)))
        text = Text(c, r, str(v), ha="center", va="center", fontsize=16, animated=True,
                    color="white" if abs(v) > 0.6 * self.scale else "#222222")
        for artist in (self.ax_out.add_patch(cell), self.ax_out.add_artist(text)):
            self.ax_out.draw_artist(artist)
        self.background = self.canvas.copy_from_bbox(self.fig.bbox)
        self.window.set_xy((c - 0.5, r - 0.5))
        self.current.set_xy((c - 0.5, r - 0.5))
        self.window.axes.draw_artist(self.window)
        self.ax_out.draw_artist(self.current)
        return np.asarray(self.canvas.buffer_rgba())[..., :3].copy()


def palette_frames(frames: list[np.ndarray]) -> list[Image.Image]:
    """One shared palette (from the first and last frames), no dithering: a small, stable GIF."""
    both = Image.fromarray(np.vstack([frames[0], frames[-1]]))
    palette = both.quantize(COLORS, method=Image.Quantize.MEDIANCUT)
    return [Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]


def main(out_dir: Path) -> dict:
    digits = load_digits()
    image = digits.images[DIGIT].astype(np.int64)  # (8, 8), integers 0..16
    kernel = np.asarray(SOBEL, np.int64)
    output = np.asarray(jax.jit(conv)(jnp.asarray(image, jnp.float32),
                                      jnp.asarray(kernel, jnp.float32)))
    k, o = len(kernel), output.shape[0]

    # every cell, written out: the k×k window at (r, c) times the kernel, summed
    by_hand = np.array([[(image[r:r + k, c:c + k] * kernel).sum() for c in range(o)]
                        for r in range(o)])

    with style():
        drawing = Drawing(image, kernel, output)
        frames = [drawing.frame(*divmod(index, o)) for index in range(o * o)]
    images = palette_frames(frames)
    images[0].save(out_dir / "conv_sliding.gif", save_all=True, append_images=images[1:],
                   duration=MS_PER_FRAME, loop=0, optimize=False)
    # numbered frames for a step-by-step reveal: the first row done, then every cell
    key = [o - 1, o * o - 1][:KEY_FRAMES]
    for number, index in enumerate(key):
        images[index].save(out_dir / f"conv_sliding_{number}.png", optimize=False)

    first = (image[:k, :k] * kernel)
    return {
        "digit": int(digits.target[DIGIT]),
        "image_size": image.shape[0],
        "image": image.tolist(),
        "kernel_size": k,
        "kernel": kernel.tolist(),
        "output_size": o,
        "frames": len(frames),
        "key_frames": [index + 1 for index in key],  # cells filled in each numbered frame
        "output": output.astype(int).tolist(),
        "max_abs_error": float(np.abs(output - by_hand).max()),
        "first_window": image[:k, :k].tolist(),
        "first_cell": int(first.sum()),
        "max_cell": int(output.max()),
        "min_cell": int(output.min()),
    }


if __name__ == "__main__":
    standalone(main, __file__)
