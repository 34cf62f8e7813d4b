"""Three convolutional layers: volumes of 32×32×3 → 30×30×15 → 14×14×16 → 12×12×32.

Each `nnx.Conv` slides its filters over the whole depth of its input: a 3×3 filter on a
32×32×3 image has 3·3·3 weights and a bias, so 15 filters make (27 + 1)·15 = 420
parameters, then (3·3·15 + 1)·16 = 2,176 and (3·3·16 + 1)·32 = 4,640: 7,236 in all, as in
Keras. 'VALID' padding trims 2 pixels per layer (32 → 30, 16 → 14 after the stride-2
layer's ⌊(30 − 3)/2⌋ + 1 = 14). The shapes in the drawing are computed by `jax.eval_shape`.
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Polygon

from handson.demo import standalone
from handson.figures import save, style
from handson.summary import summary

SEED = 0  # seed for the layers' weights and the test input
INPUT_SHAPE = (32, 32, 3)  # height, width, channels (channels last, batch excluded)
HEIGHT_SCALE = 0.11  # drawing units per pixel of height
DEPTH_SCALE = 0.055  # drawing units per pixel of width (drawn as depth, obliquely)
CHANNEL_SCALE = 0.06  # drawing units per channel
SKEW = np.array([0.62, 0.42])  # direction of the oblique (width) axis
GAP = 2.6  # space between two volumes, for the arrow and its label
COLORS = ["#268bd2", "#2aa198", "#2aa198", "#2aa198"]  # input blue, feature maps cyan
EDGE, KERNEL = "#002b36", "#c20d4f"  # outline colour, the highlighted filter
NARROW = (14, 16, 8)  # summary columns for a half-column slide at 4:3: 38 characters


# --8<-- [start:model]
def conv_layers(rngs: nnx.Rngs) -> nnx.Sequential:
    # Flax pads 'SAME' by default; Keras's Conv2D default is 'valid', so say it
    return nnx.Sequential(
        nnx.Conv(3, 15, kernel_size=(3, 3), strides=1, padding="VALID", rngs=rngs),
        nnx.Conv(15, 16, kernel_size=(3, 3), strides=2, padding="VALID", rngs=rngs),
        nnx.Conv(16, 32, kernel_size=(3, 3), padding="VALID", rngs=rngs),
    )
# --8<-- [end:model]


# --8<-- [start:activation]
def conv_relu(rngs: nnx.Rngs) -> list:
    conv = nnx.Conv(1, 1, (3, 3),
                    padding="VALID",
                    rngs=rngs)
    # Keras: Conv2D(activation="relu")
    return [conv, nnx.relu]
# --8<-- [end:activation]


def _box(ax, x0: float, shape: tuple, color: str, z: int = 2, y0: float = 0.0):
    """A volume H×W×C: front face C wide and H tall, W drawn as oblique depth."""
    h, w, c = shape
    height, thick, depth = h * HEIGHT_SCALE, c * CHANNEL_SCALE, w * DEPTH_SCALE * SKEW
    front = np.array([(x0, y0), (x0 + thick, y0), (x0 + thick, y0 + height), (x0, y0 + height)])
    top = np.array([front[3], front[2], front[2] + depth, front[3] + depth])
    side = np.array([front[1], front[1] + depth, front[2] + depth, front[2]])
    for face, shade in ((front, 1.0), (top, 0.8), (side, 0.65)):
        ax.add_patch(Polygon(face, facecolor=_shade(color, shade), edgecolor=EDGE, lw=1.5,
                             zorder=z))
    return front, top, side


def _shade(color: str, factor: float) -> tuple:
    """A darker tone of a hex colour, for the faces of a box turned away from the light."""
    rgb = np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)]) / 255
    return tuple(rgb * factor)


def draw(shapes: list[tuple], kernels: list[tuple], strides: list[int]) -> Figure:
    fig = Figure(figsize=(14, 4.6))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    ax.set_aspect("equal")
    x = 0.0
    right_edges = []
    for index, (shape, color) in enumerate(zip(shapes, COLORS)):
        front, top, side = _box(ax, x, shape, color)
        h, w, c = shape
        center = x + c * CHANNEL_SCALE / 2
        ax.text(center, -0.3, f"{h}×{w}×{c}", ha="center", va="top", fontsize=18)
        ax.text(center, -0.95, "input" if index == 0 else f"conv {index}", ha="center",
                va="top", fontsize=16, color="#586e75")
        if index:  # the arrow from the previous volume, labelled with the layer
            kh, kw, cin, cout = kernels[index - 1]
            start, end = right_edges[-1], x - 0.15
            y = 1.2
            ax.add_patch(FancyArrowPatch((start, y), (end, y), arrowstyle="-|>",
                                         mutation_scale=22, lw=2, color=EDGE, zorder=1))
            label = f"{cout} filters\n{kh}×{kw}×{cin}"
            if strides[index - 1] != 1:
                label += f"\nstride {strides[index - 1]}"
            ax.text((start + end) / 2, y + 0.35, label, ha="center", va="bottom", fontsize=16,
                    linespacing=1.2)
        right_edges.append(side[1, 0])
        x = side[1, 0] + GAP
    # one filter of the first layer (kh×kw×cin, top corner of the input) and the column of
    # cout outputs it feeds at one position (1×1×cout, top corner of the first feature map)
    kh, kw, cin, cout = kernels[0]
    _, k_top, _ = _box(ax, 0.0, (kh, kw, cin), KERNEL, z=3,
                       y0=(shapes[0][0] - kh) * HEIGHT_SCALE)
    x1 = right_edges[0] + GAP
    _, c_top, _ = _box(ax, x1, (1, 1, cout), KERNEL, z=3, y0=(shapes[1][0] - 1) * HEIGHT_SCALE)
    for a, b in ((k_top[1], c_top[0]), (k_top[2], c_top[3])):
        ax.plot([a[0], b[0]], [a[1], b[1]], color=KERNEL, lw=1.5, ls="--", zorder=4)
    ax.set_xlim(-0.8, x - GAP + 0.8)
    ax.set_ylim(-1.6, shapes[0][0] * HEIGHT_SCALE + shapes[0][1] * DEPTH_SCALE * SKEW[1] + 0.4)
    return fig


def main(out_dir: Path) -> dict:
    model_key, data_key, relu_key = jax.random.split(jax.random.key(SEED), 3)
    model = conv_layers(nnx.Rngs(model_key))

    # shapes without running anything: one abstract evaluation per layer
    shapes = [INPUT_SHAPE]
    x = jax.ShapeDtypeStruct((1, *INPUT_SHAPE), jnp.float32)
    for layer in model.layers:
        x = nnx.eval_shape(lambda layer, x: layer(x), layer, x)
        shapes.append(tuple(x.shape[1:]))
    kernels = [tuple(layer.kernel.shape) for layer in model.layers]
    strides = [layer.strides if isinstance(layer.strides, int) else layer.strides[0]
               for layer in model.layers]

    # --8<-- [start:summary]
    table = summary(model, input_shape=(32, 32, 3))
    # --8<-- [end:summary]
    (out_dir / "summary.txt").write_text(table.text, encoding="utf-8")
    relu_table = summary(conv_relu(nnx.Rngs(relu_key)), input_shape=(5, 5, 1), widths=NARROW)
    (out_dir / "activation_summary.txt").write_text(relu_table.text, encoding="utf-8")

    # the real forward pass agrees with the abstract shapes
    images = jax.random.normal(data_key, (2, *INPUT_SHAPE))
    y = nnx.jit(lambda model, x: model(x))(model, images)
    assert y.shape == (2, *shapes[-1])
    assert [tuple(r.shape[1:]) for r in table.rows] == shapes[1:]

    with style():
        save(draw(shapes, kernels, strides), out_dir / "conv_layers.svg")

    return {
        "input_shape": list(INPUT_SHAPE),
        "shapes": [list(s) for s in shapes[1:]],
        "kernel_shapes": [list(k) for k in kernels],
        "strides": strides,
        "layer_params": [r.params for r in table.rows],
        "total_params": table.total,
        "trainable_params": table.trainable,
        "activation_shape": list(relu_table.rows[-1].shape[1:]),
        "activation_params": relu_table.total,
    }


if __name__ == "__main__":
    standalone(main, __file__)
