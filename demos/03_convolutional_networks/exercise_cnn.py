"""The exercise CNN: 32×32×1 → conv → pool → conv → pool → conv → pool → dense → 10 classes.

Three 'VALID' convolutions (5×5 → 10 filters, 5×5 → 25, 4×4 → 100), each followed by a ReLU
and a 2×2 max pool with stride 2, then a linear layer to 10 outputs. The volumes shrink
32×32×1 → 28×28×10 → 14×14×10 → 10×10×25 → 5×5×25 → 2×2×100 → 1×1×100 → 10; every label of
the drawing comes from `jax.eval_shape` on the model, not typed. Parameters:
5·5·1·10 + 10 = 260, 5·5·10·25 + 25 = 6,275, 4·4·25·100 + 100 = 40,100, 100·10 + 10 = 1,010,
47,645 in all; the summary's rows for ReLU, pooling and flatten (plain functions) show 0. The
same network written as an `nnx.Module` subclass has the same 47,645.
"""

from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from matplotlib.figure import Figure
from matplotlib.patches import Polygon, Rectangle

from handson.demo import standalone
from handson.figures import save, style
from handson.summary import summary

SEED = 0  # seed of the (abstract) initial weights; only shapes are used here
INPUT_SHAPE = (32, 32, 1)  # height, width, channels of one image (channels last, as Keras)
CLASSES = 10  # outputs of the last layer
COLORS = {"input": "#444444", "conv": "#0368bb", "pool": "#0b794b", "dense": "#c20d4f"}  # per kind
DEPTH_SCALE = 0.09  # drawn thickness of a volume (inches) per log2(channels + 1)
SIDE_SCALE = 0.08  # drawn height of a volume (inches) per pixel of its side
UNIT = 0.16  # drawn side of one output unit of the dense layer
SLANT = (0.35, 0.3)  # oblique projection of the width axis (x, y per unit of width)


# --8<-- [start:helpers]
def flatten(x):  # (batch, 1, 1, 100) -> (batch, 100)
    return x.reshape(x.shape[0], -1)


# Flax's strides default to 1 (overlapping windows): give them
pool = partial(nnx.max_pool, window_shape=(2, 2), strides=(2, 2))
# --8<-- [end:helpers]


# --8<-- [start:sequential]
def cnn(rngs: nnx.Rngs) -> nnx.Sequential:
    # Flax pads 'SAME' by default; Keras's 'valid' is no padding
    conv = partial(nnx.Conv, padding="VALID", rngs=rngs)
    return nnx.Sequential(
        conv(1, 10, (5, 5)), nnx.relu, pool,
        conv(10, 25, (5, 5)), nnx.relu, pool,
        conv(25, 100, (4, 4)), nnx.relu, pool,
        flatten,
        nnx.Linear(100, CLASSES, rngs=rngs),
    )
# --8<-- [end:sequential]


# --8<-- [start:module]
class CNN(nnx.Module):
    def __init__(self, rngs: nnx.Rngs):
        conv = partial(nnx.Conv, padding="VALID", rngs=rngs)
        self.conv1 = conv(1, 10, (5, 5))
        self.conv2 = conv(10, 25, (5, 5))
        self.conv3 = conv(25, 100, (4, 4))
        self.dense = nnx.Linear(100, CLASSES, rngs=rngs)

    def __call__(self, x):  # (batch, 32, 32, 1)
        x = pool(nnx.relu(self.conv1(x)))  # (b, 14, 14, 10)
        x = pool(nnx.relu(self.conv2(x)))  # (b, 5, 5, 25)
        x = pool(nnx.relu(self.conv3(x)))  # (b, 1, 1, 100)
        return self.dense(x.reshape(x.shape[0], -1))  # (b, 10)
# --8<-- [end:module]


def n_params(model: nnx.Module) -> int:
    return sum(p.size for p in jax.tree.leaves(nnx.state(model, nnx.Param)))


# --8<-- [start:shapes]
def volumes(model: nnx.Sequential) -> list[tuple]:
    """The shape after each conv, pool and dense layer (no compute)."""
    x = jax.ShapeDtypeStruct((1, *INPUT_SHAPE), jnp.float32)  # a batch of one image
    shapes = [x.shape[1:]]
    for layer in model.layers:
        if isinstance(layer, nnx.Module):
            x = nnx.eval_shape(lambda layer, x: layer(x), layer, x)
        else:
            x = jax.eval_shape(layer, x)
        if layer is not nnx.relu and layer is not flatten:  # same shape / a reshape
            shapes.append(x.shape[1:])
    return shapes
# --8<-- [end:shapes]


def box(ax, x: float, side: float, thick: float, color: str) -> None:
    """A volume: front face thick × side (channels × height), receding by the width (slanted)."""
    dx, dy = SLANT[0] * side, SLANT[1] * side
    y = -side / 2 - dy / 2
    faces = [[(x, y), (x + thick, y), (x + thick, y + side), (x, y + side)],  # front
             [(x, y + side), (x + thick, y + side), (x + thick + dx, y + side + dy),
              (x + dx, y + side + dy)],  # top
             [(x + thick, y), (x + thick + dx, y + dy), (x + thick + dx, y + side + dy),
              (x + thick, y + side)]]  # side
    for face, alpha in zip(faces, (0.9, 0.6, 0.45)):
        ax.add_patch(Polygon(face, closed=True, facecolor=color, alpha=alpha, edgecolor="white",
                             lw=1))


def draw(shapes: list[tuple], ops: list[str], kinds: list[str]) -> Figure:
    """One box per volume (height ∝ side, thickness ∝ log2(channels + 1)), its shape below it,
    and the operation between two volumes on the arrow that joins them."""
    step = 1.25  # inches between volume centres: one data unit is one inch
    xlim, ylim = (-0.8, (len(shapes) - 1) * step + 0.8), (-2.3, 2.75)
    fig = Figure(figsize=(xlim[1] - xlim[0], ylim[1] - ylim[0]))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    for i, (shape, kind) in enumerate(zip(shapes, kinds)):
        centre = i * step
        ax.text(centre, -1.75, "×".join(map(str, shape)), ha="center", va="top", fontsize=16)
        if len(shape) == 3:  # (height, width, channels): a box
            side = max(SIDE_SCALE * shape[0], 0.06)
            thick = DEPTH_SCALE * np.log2(shape[2] + 1)
            box(ax, centre - (thick + SLANT[0] * side) / 2, side, thick, COLORS[kind])
        else:  # the dense output: a column of units, one square each
            for k in range(shape[0]):
                ax.add_patch(Rectangle((centre - UNIT / 2, (k - shape[0] / 2) * UNIT), UNIT, UNIT,
                                       facecolor=COLORS[kind], edgecolor="white", lw=1))
    for i, op in enumerate(ops):  # arrow from volume i to volume i + 1
        left, right = i * step + 0.3, (i + 1) * step - 0.3
        ax.annotate("", (right, 1.95), (left, 1.95),
                    arrowprops=dict(arrowstyle="-|>", color=COLORS[kinds[i + 1]], lw=2))
        ax.text((left + right) / 2, 2.05, op, ha="center", va="bottom", fontsize=15,
                color=COLORS[kinds[i + 1]])
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    return fig


def main(out_dir: Path) -> dict:
    # --8<-- [start:abstract]
    model = nnx.eval_shape(lambda: cnn(nnx.Rngs(SEED)))  # abstract
    # --8<-- [end:abstract]
    module = nnx.eval_shape(lambda: CNN(nnx.Rngs(SEED)))  # abstract models: weight shapes only

    # --8<-- [start:summary]
    table = summary(model, input_shape=INPUT_SHAPE)  # like Keras's model.summary()
    # --8<-- [end:summary]
    table.write(out_dir / "summary.txt")
    # the same table without the rules between rows, short enough for one slide
    compact = [line for k, line in enumerate(table.lines) if k == 0 or not line.startswith("_")]
    (out_dir / "summary_compact.txt").write_text("".join(compact))

    shapes = volumes(model)
    kinds = ["input"] + ["conv", "pool"] * 3 + ["dense"]
    convs = [layer for layer in model.layers if isinstance(layer, nnx.Conv)]
    window = "{}×{}".format(*pool.keywords["window_shape"])
    ops = []  # the operation written on each arrow, kernel sizes read from the model
    for conv in convs:
        ops += ["conv {}×{}\n+ ReLU".format(*conv.kernel.shape[:2]), f"max pool\n{window}"]
    ops.append("dense")
    with style():
        save(draw(shapes, ops, kinds), out_dir / "cnn.svg")

    x = jax.ShapeDtypeStruct((1, *INPUT_SHAPE), jnp.float32)
    module_out = nnx.eval_shape(lambda m, x: m(x), module, x)
    param_rows = [row for row in table.rows if row.params]
    return {
        "volumes": [list(s) for s in shapes],
        "labels": ["×".join(map(str, s)) for s in shapes],
        "rows": [row.name for row in table.rows],
        "params": [row.params for row in table.rows],
        "layer_params": [row.params for row in param_rows],
        "total": table.total,
        "trainable": table.trainable,
        "non_trainable": table.non_trainable,
        "module_params": n_params(module),
        "sequential_params": n_params(model),
        "same_params": n_params(module) == n_params(model),
        "module_output_shape": list(module_out.shape[1:]),
        "summary_row_lines": table.row_lines,
        # the exercise's wording, read from the model: (k, k, c_in, c_out) per convolution
        "input_shape": list(INPUT_SHAPE),
        "kernel_shapes": [list(conv.kernel.shape) for conv in convs],
        "paddings": [conv.padding for conv in convs],
        "pool_window": list(pool.keywords["window_shape"]),
        "pool_strides": list(pool.keywords["strides"]),
        "dense_kernel_shape": list(model.layers[-1].kernel.shape),
    }


if __name__ == "__main__":
    standalone(main, __file__)
