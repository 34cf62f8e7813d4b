"""Max pooling: each 2×2 block of the input keeps only its largest value.

`nnx.max_pool` with a 2×2 window and stride 2 turns [[1, 1, 2, 4], [5, 6, 7, 8],
[3, 2, 1, 0], [1, 2, 3, 4]] into [[6, 8], [3, 4]]: a quarter of the values, no parameters.
After a 'SAME' 3×3 conv on 8×8×1 (10 parameters) it halves the map to 4×4×1. A 3×3
non-overlapping max pool on a 98×98 map gives 32×32 with 'VALID' padding (the last 2 rows
are dropped) and 33×33 with 'SAME'. Without `strides`, Flax pools with stride 1: 8×8 → 7×7.
Also: ReLU, max(0, x), and its derivative by `jax.grad` (0 below zero, 1 above).
"""

from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Rectangle

from handson.demo import standalone
from handson.figures import save, style
from handson.summary import summary

SEED = 0  # seed for the conv layer of the summary
ARRAY = [[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]]  # the 4×4 input to pool
BIG_MAP = 98  # side of the feature map pooled 3×3 without overlap
QUADRANT_COLORS = ["#f6b8c8", "#b8d8f6", "#bfe8cf", "#f8dfa8"]  # one tint per 2×2 block
BLUE, GREEN, GREY = "#0368bb", "#0b794b", "#444444"  # function, derivative, lines
RELU_RANGE = (-2.0, 2.0)  # x range of the ReLU plot
N_POINTS = 401  # grid points of the ReLU plot (odd, so x = 0 is on the grid)


def main(out_dir: Path) -> dict:
    model_key = jax.random.key(SEED)
    # --8<-- [start:pool]
    x = jnp.array(ARRAY, dtype=jnp.float32).reshape(1, 4, 4, 1)  # NHWC
    # pass the strides: Flax's default is 1, Keras's is the window size
    pool = jax.jit(partial(nnx.max_pool, window_shape=(2, 2), strides=(2, 2)))
    pooled = pool(x)  # (1, 2, 2, 1)
    # --8<-- [end:pool]
    values = np.asarray(pooled[0, :, :, 0]).astype(int)
    assert values.tolist() == [[6, 8], [3, 4]]

    # --8<-- [start:model]
    layers = [
        nnx.Conv(1, 1, kernel_size=(3, 3), padding="SAME", rngs=nnx.Rngs(model_key)),
        partial(nnx.max_pool, window_shape=(2, 2), strides=(2, 2)),
    ]
    table = summary(layers, input_shape=(8, 8, 1))
    # --8<-- [end:model]
    (out_dir / "summary.txt").write_text(table.text, encoding="utf-8")

    # --8<-- [start:shapes]
    big = jax.ShapeDtypeStruct((1, 98, 98, 1), jnp.float32)
    pool3 = partial(nnx.max_pool, window_shape=(3, 3), strides=(3, 3))  # no overlap
    valid = jax.eval_shape(partial(pool3, padding="VALID"), big)
    same = jax.eval_shape(partial(pool3, padding="SAME"), big)
    # --8<-- [end:shapes]
    assert big.shape[1] == BIG_MAP
    no_strides = jax.eval_shape(partial(nnx.max_pool, window_shape=(2, 2)),
                                jax.ShapeDtypeStruct((1, 8, 8, 1), jnp.float32))
    (out_dir / "pool_shapes.txt").write_text(
        f"input          {big.shape}\n3×3 'VALID' -> {valid.shape}\n3×3 'SAME'  -> {same.shape}\n",
        encoding="utf-8")

    relu_x = jnp.linspace(*RELU_RANGE, N_POINTS)
    relu_y = jax.jit(jax.nn.relu)(relu_x)
    relu_grad = jax.jit(jax.vmap(jax.grad(jax.nn.relu)))(relu_x)
    with style():
        save(draw_pooling(np.asarray(ARRAY), values), out_dir / "pooling.svg")
        save(draw_relu(np.asarray(relu_x), np.asarray(relu_y), np.asarray(relu_grad)),
             out_dir / "relu.svg")

    return {
        "input": ARRAY,
        "pooled": values.tolist(),
        "pooled_shape": list(pooled.shape[1:]),
        "summary_shapes": [list(r.shape[1:]) for r in table.rows],
        "summary_params": [r.params for r in table.rows],
        "total_params": table.total,
        "big_map": BIG_MAP,
        "big_window": pool3.keywords["window_shape"][0],
        "big_stride": pool3.keywords["strides"][0],
        "valid_shape": list(valid.shape[1:3]),
        "same_shape": list(same.shape[1:3]),
        "valid_size": int(valid.shape[1]),
        "same_size": int(same.shape[1]),
        "no_strides_size": int(no_strides.shape[1]),
        "relu_grad_at_minus_1": float(relu_grad[jnp.argmin(jnp.abs(relu_x + 1))]),
        "relu_grad_at_1": float(relu_grad[jnp.argmin(jnp.abs(relu_x - 1))]),
    }


def _grid(ax, values: np.ndarray, x0: float, colors, block: int):
    """Draw a grid of numbers; cell (r, c) is tinted by its block; block maxima in bold."""
    n = values.shape[0]
    for r in range(n):
        for c in range(n):
            q = (r // block) * (n // block) + c // block
            ax.add_patch(Rectangle((x0 + c, n - 1 - r), 1, 1, facecolor=colors[q],
                                   edgecolor="white", lw=3))
            block_values = values[r // block * block:(r // block + 1) * block,
                                  c // block * block:(c // block + 1) * block]
            top = block > 1 and values[r, c] == block_values.max()
            ax.text(x0 + c + 0.5, n - 0.5 - r, str(values[r, c]), ha="center", va="center",
                    fontsize=24, fontweight="bold" if top else "normal",
                    color="black" if top or block == 1 else GREY)


def draw_pooling(array: np.ndarray, pooled: np.ndarray) -> Figure:
    fig = Figure(figsize=(8, 3.5))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    ax.set_aspect("equal")
    n, m = array.shape[0], pooled.shape[0]
    _grid(ax, array, 0.0, QUADRANT_COLORS, block=n // m)
    x_out = n + 3.2
    y_out = (n - m) / 2
    for r in range(m):  # the pooled map, centred vertically, same tints
        for c in range(m):
            ax.add_patch(Rectangle((x_out + c, y_out + m - 1 - r), 1, 1,
                                   facecolor=QUADRANT_COLORS[r * m + c], edgecolor="white", lw=3))
            ax.text(x_out + c + 0.5, y_out + m - 0.5 - r, str(pooled[r, c]), ha="center",
                    va="center", fontsize=24, fontweight="bold")
    ax.add_patch(FancyArrowPatch((n + 0.3, n / 2), (x_out - 0.3, n / 2), arrowstyle="-|>",
                                 mutation_scale=24, lw=2.5, color=GREY))
    ax.text((n + x_out) / 2, n / 2 + 0.35, "max pool\n2×2, stride 2", ha="center",
            va="bottom", fontsize=18)
    ax.text(n / 2, -0.35, f"{n}×{n}", ha="center", va="top", fontsize=18)
    ax.text(x_out + m / 2, y_out - 0.35, f"{m}×{m}", ha="center", va="top", fontsize=18)
    ax.set_xlim(-0.2, x_out + m + 0.2)
    ax.set_ylim(-1.2, n + 0.2)
    return fig


def draw_relu(x: np.ndarray, y: np.ndarray, dy: np.ndarray) -> Figure:
    fig = Figure(figsize=(4.6, 3.4))  # shown at half width
    ax = fig.add_subplot()
    ax.plot(x, y, color=BLUE, label="relu(x) = max(0, x)")
    ax.plot(x, dy, color=GREEN, ls="--", label="derivative (jax.grad)")
    ax.axhline(0, color=GREY, lw=1)
    ax.axvline(0, color=GREY, lw=1)
    ax.set_xlim(*RELU_RANGE)
    ax.set_ylim(-0.5, 2.1)
    ax.set_xlabel("x")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


if __name__ == "__main__":
    standalone(main, __file__)
