"""A neuron and a linear layer: a weighted sum plus a bias, then an activation.

One neuron is `nnx.Linear(3, 1)` followed by a sigmoid: f(x) = g(w·x + b). With the
layer's own weights w = (-0.36, 0.50, -0.16), bias b = -0.63 and input x = (-1, 1, -2) the
sum is z = 0.55 and the output g(z) = 0.63. Four neurons side by side are
`nnx.Linear(3, 4)`: a kernel of shape (3, 4) (12 edges) and a bias of shape (4,),
y = x·W + b = (0.18, -0.74, 1.39, 0.01), 3·4 + 4 = 16 parameters.
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, Rectangle

from handson.demo import standalone
from handson.figures import save, style

SEED = 0  # one seed for everything random in this demo
INPUT = (-1.0, 1.0, -2.0)  # concrete input x, simple so w·x + b can be checked by hand
BIAS_STD = 0.5  # std of the neuron's bias init (Flax's default bias is 0, which hides b)
BLUE, RED, GREY = "#0368bb", "#c20d4f", "#444444"  # positive weight, negative weight, lines


# --8<-- [start:layer]
def linear_layer(x: jax.Array, key) -> tuple[nnx.Linear, jax.Array]:
    # 4 neurons, each with 3 weights and a bias
    layer = nnx.Linear(3, 4, rngs=nnx.Rngs(key))
    y = layer(x)  # (3,) @ kernel (3, 4) + bias (4,) -> (4,)
    return layer, y
# --8<-- [end:layer]


def _node(ax, xy, text, radius=0.5, color=GREY, size=16):
    ax.add_patch(Circle(xy, radius, facecolor="white", edgecolor=color, lw=2.5, zorder=3))
    ax.text(*xy, text, ha="center", va="center", fontsize=size, zorder=4)


def _arrow(ax, start, end, color=GREY, lw=2.0, shrink=26, head=True):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>" if head else "-", mutation_scale=18,
                                 color=color, lw=lw, shrinkA=shrink, shrinkB=shrink, zorder=2))


def _label(ax, xy, text, color=GREY, size=16):
    ax.text(*xy, text, ha="center", va="center", fontsize=size, color=color, zorder=5,
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none"})


def draw_neuron(x, w, b, z, out) -> Figure:
    fig = Figure(figsize=(11, 4.8))
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_aspect("equal")
    ax.set_xlim(-1.4, 10.6)
    ax.set_ylim(-2.8, 2.6)
    sum_xy, act_xy, out_xy = (4.2, 0.0), (6.9, 0.0), (9.4, 0.0)
    for i, y in enumerate((1.6, 0.0, -1.6)):
        _node(ax, (0.0, y), f"{x[i]:.1f}")
        ax.text(-0.65, y, f"$x_{i + 1}$", ha="right", va="center", fontsize=18)
        _arrow(ax, (0.0, y), sum_xy, color=BLUE if w[i] >= 0 else RED, lw=1.5 + 3 * abs(w[i]))
        _label(ax, (0.42 * sum_xy[0], 0.58 * y), f"$w_{i + 1}$ = {w[i]:.2f}")
    _node(ax, sum_xy, "Σ", radius=0.6, size=24)
    ax.text(sum_xy[0], 0.9, f"z = {z:.2f}", ha="center", va="bottom", fontsize=16)
    _arrow(ax, (sum_xy[0], -2.2), sum_xy)
    _label(ax, (sum_xy[0], -2.3), f"b = {b:.2f}")
    # activation g = sigmoid: the glyph is the real curve, drawn in a box
    half = 0.6
    ax.add_patch(Rectangle((act_xy[0] - half, -half), 2 * half, 2 * half, facecolor="white",
                           edgecolor=GREY, lw=2.5, zorder=3))
    t = np.linspace(-6.0, 6.0, 61)
    s = np.asarray(jax.nn.sigmoid(jnp.asarray(t)))
    ax.plot(act_xy[0] + t / 6.0 * half * 0.8, (s - 0.5) * 2 * half * 0.8, color=BLUE, lw=2.5,
            zorder=4)
    ax.text(act_xy[0], 0.9, "g = σ", ha="center", va="bottom", fontsize=16)
    _arrow(ax, sum_xy, act_xy, shrink=30)
    _node(ax, out_xy, f"{out:.2f}", radius=0.55)
    ax.text(out_xy[0], 0.75, "g(z)", ha="center", va="bottom", fontsize=16)
    _arrow(ax, act_xy, out_xy, shrink=30)
    ax.text(act_xy[0] + 0.3, -2.0, r"$f(\mathbf{x}) = g(\mathbf{w}\cdot\mathbf{x} + b)$",
            ha="center", va="center", fontsize=22)
    return fig


def draw_layer(x, kernel, bias, y) -> Figure:
    n_in, n_out = kernel.shape  # the drawing follows the layer's kernel shape
    fig = Figure(figsize=(11, 5))
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_aspect("equal")
    in_y = 1.7 * (np.arange(n_in)[::-1] - (n_in - 1) / 2)
    out_y = 1.5 * (np.arange(n_out)[::-1] - (n_out - 1) / 2)
    x_in, x_out = 0.0, 4.5
    for i in range(n_in):
        for j in range(n_out):
            w = kernel[i, j]
            _arrow(ax, (x_in, in_y[i]), (x_out, out_y[j]), color=BLUE if w >= 0 else RED,
                   lw=1.0 + 3 * abs(w), head=False)
    for i in range(n_in):
        _node(ax, (x_in, in_y[i]), f"{x[i]:.1f}")
        ax.text(x_in - 0.65, in_y[i], f"$x_{i + 1}$", ha="right", va="center", fontsize=18)
    for j in range(n_out):
        _node(ax, (x_out, out_y[j]), f"{y[j]:.2f}", radius=0.55)
        ax.text(x_out + 0.75, out_y[j], f"$y_{j + 1}$", ha="left", va="center", fontsize=18)
    text_x = x_out + 2.3
    lines = [(r"$\mathbf{y} = \mathbf{x}\cdot W + \mathbf{b}$", 22, GREY),
             (f"kernel W: {tuple(kernel.shape)}", 18, GREY),
             (f"bias b: {tuple(bias.shape)}" + (", zeros" if not bias.any() else ""), 18, GREY),
             (f"{kernel.size} + {bias.size} = {kernel.size + bias.size} parameters", 18, GREY),
             ("w > 0", 16, BLUE), ("w < 0  (width ∝ |w|)", 16, RED)]
    for k, (text, size, color) in enumerate(lines):
        ax.text(text_x, 2.1 - 0.85 * k - (0.3 if k >= 4 else 0), text, ha="left", va="center",
                fontsize=size, color=color)
    ax.set_xlim(-1.4, text_x + 5.2)
    ax.set_ylim(out_y.min() - 0.7, out_y.max() + 0.7)
    return fig


def main(out_dir: Path) -> dict:
    neuron_key, layer_key = jax.random.split(jax.random.key(SEED))
    x = jnp.array(INPUT)  # (3,)

    # (a) one neuron: a Linear(3, 1) and an activation g
    neuron = nnx.Linear(3, 1, bias_init=nnx.initializers.normal(BIAS_STD),
                        rngs=nnx.Rngs(neuron_key))
    z = neuron(x)[0]  # w·x + b, a scalar
    out = jax.nn.sigmoid(z)  # g(z)
    w = np.asarray(neuron.kernel[...])[:, 0]  # (3, 1) -> (3,)
    b = float(neuron.bias[...][0])

    # (b) four neurons side by side: a Linear(3, 4)
    layer, y = linear_layer(x, layer_key)
    kernel, bias = np.asarray(layer.kernel[...]), np.asarray(layer.bias[...])
    n_params = sum(p.size for p in jax.tree.leaves(nnx.state(layer, nnx.Param)))

    with style():
        save(draw_neuron(np.asarray(x), w, b, float(z), float(out)), out_dir / "neuron.svg")
        save(draw_layer(np.asarray(x), kernel, bias, np.asarray(y)), out_dir / "linear_layer.svg")

    def r(v):  # rounded python floats (or nested lists of them) for the slides
        return np.round(np.asarray(v, dtype=np.float64), 4).tolist()

    return {
        "input": r(x),
        "neuron_weights": r(w),
        "neuron_bias": r(b),
        "neuron_z": r(z),
        "neuron_output": r(out),
        "layer_kernel_shape": list(kernel.shape),
        "layer_bias_shape": list(bias.shape),
        "layer_edges": int(kernel.shape[0] * kernel.shape[1]),
        "layer_params": int(n_params),
        "layer_kernel": r(kernel),
        "layer_bias": r(bias),
        "layer_output": r(y),
    }


if __name__ == "__main__":
    standalone(main, __file__)
