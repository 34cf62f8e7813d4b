"""A 3-4-1 network with its activations: every hidden unit adds a bias, then applies a sigmoid.

The terms of the trade on one drawing: input layer, hidden layer, output layer, weights W
(kernel shapes (3, 4) and (4, 1), read from the model), bias units (+1) and an activation in
every unit (the glyphs are the real curves of `jax.nn.sigmoid` and of the identity, plotted by
the demo). In Flax NNX an activation is a plain function, so it can be written in two ways:
called on a layer's output inside a module (`Dense(3, 4, activation=nnx.sigmoid)` computes
`nnx.sigmoid(self.linear(x))`, like Keras's `Dense(4, activation='sigmoid')`), or put as a
step of its own in an `nnx.Sequential` (`nnx.Linear(3, 4), nnx.tanh`, like Keras's `Dense` +
`Activation('tanh')`). Either way the layer has 16 parameters, (3 + 1)·4; the function's own
summary row has 0.
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from matplotlib.figure import Figure
from matplotlib.patches import Circle

from handson.demo import standalone
from handson.figures import save, style
from handson.summary import summary

SEED = 0  # one seed for everything random in this demo (the initial weights)
COLORS = {"input": "#0368bb", "hidden": "#0b794b", "output": "#c20d4f"}  # node colour per role
GREY = "#444444"  # edges, bias units and annotations
GLYPH_RANGE = 5.0  # the activation glyphs plot g(z) for z in [-5, 5]
SUMMARY_WIDTHS = (18, 13, 7)  # summary columns: 38 characters, two tables side by side at 4:3


# --8<-- [start:argument]
class Dense(nnx.Module):  # a linear layer that applies its activation
    def __init__(self, din, dout, activation, rngs):
        self.linear = nnx.Linear(din, dout, rngs=rngs)
        self.activation = activation  # a function

    def __call__(self, x):
        return self.activation(self.linear(x))


def argument_style(rngs: nnx.Rngs) -> Dense:
    return Dense(3, 4, activation=nnx.sigmoid, rngs=rngs)
# --8<-- [end:argument]


# --8<-- [start:layer]
def layer_style(rngs: nnx.Rngs) -> nnx.Sequential:
    return nnx.Sequential(
        nnx.Linear(3, 4, rngs=rngs),
        nnx.tanh,  # a step of its own, like Keras's Activation
    )
# --8<-- [end:layer]


def network(rngs: nnx.Rngs) -> nnx.Sequential:
    """The drawn network: 3 inputs -> 4 sigmoid units -> 1 linear output."""
    return nnx.Sequential(nnx.Linear(3, 4, rngs=rngs), nnx.sigmoid, nnx.Linear(4, 1, rngs=rngs))


def glyph(ax, center, radius, curve: np.ndarray, color):
    """Draw the curve (values of g on [-5, 5]) inside the node at `center`."""
    z = np.linspace(-GLYPH_RANGE, GLYPH_RANGE, len(curve))
    lo, hi = min(curve.min(), 0.0), max(curve.max(), 1.0)
    u = center[0] + 0.6 * radius * z / GLYPH_RANGE
    v = center[1] + 0.6 * radius * (2 * (curve - lo) / (hi - lo) - 1)
    ax.plot(u, v, color=color, lw=2.2, zorder=5, solid_capstyle="round")


def draw(sizes: list[int], kernels: list[tuple], sigmoid: np.ndarray, identity: np.ndarray) -> Figure:
    fig = Figure(figsize=(9, 5.2))
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_aspect("equal")
    gap, spacing, radius = 4.4, 1.3, 0.45
    roles = ["input", "hidden", "output"]
    notes = ["", "\nactivation σ", "\nidentity"]  # the function each layer applies
    ys = [[spacing * ((n - 1) / 2 - i) for i in range(n)] for n in sizes]
    top = max(max(y) for y in ys)
    bias_y = top + 1.4  # the bias units (+1) sit above the input and hidden columns
    for k in range(len(sizes) - 1):
        for y0 in ys[k]:
            for y1 in ys[k + 1]:
                ax.plot([k * gap, (k + 1) * gap], [y0, y1], color=GREY, lw=1.2, alpha=0.55, zorder=1)
        for y1 in ys[k + 1]:  # bias edges, dashed
            ax.plot([k * gap, (k + 1) * gap], [bias_y, y1], color=GREY, lw=1.2, ls="--", alpha=0.55,
                    zorder=1)
        ax.add_patch(Circle((k * gap, bias_y), 0.38, facecolor="white", edgecolor=GREY, lw=2, zorder=3))
        ax.text(k * gap, bias_y, "+1", ha="center", va="center", fontsize=15, color=GREY, zorder=4)
        ax.text((k + 0.5) * gap, -top - 1.9, f"W$_{k + 1}$ {kernels[k]}", ha="center", va="top",
                fontsize=17, color=GREY)
    ax.text(-0.7, bias_y, "bias", ha="right", va="center", fontsize=17, color=GREY)
    ax.text(-0.7, -top - 1.9, "weights", ha="right", va="top", fontsize=17, color=GREY)
    for k, (role, column) in enumerate(zip(roles, ys)):
        for y in column:
            ax.add_patch(Circle((k * gap, y), radius, facecolor="white", edgecolor=COLORS[role],
                                lw=2.5, zorder=3))
            if role != "input":
                glyph(ax, (k * gap, y), radius, sigmoid if role == "hidden" else identity, COLORS[role])
        ax.text(k * gap, min(column) - 0.65, f"{role} layer{notes[k]}", ha="center", va="top",
                fontsize=17, color=COLORS[role], linespacing=1.2)
    ax.set_xlim(-2.4, 2 * gap + 1.6)
    ax.set_ylim(-top - 2.7, bias_y + 0.6)
    return fig


def main(out_dir: Path) -> dict:
    argument_key, layer_key, network_key = jax.random.split(jax.random.key(SEED), 3)
    # Shapes and counts only: abstract models, no weights computed.
    with_argument = nnx.eval_shape(lambda: argument_style(nnx.Rngs(argument_key)))
    with_layer = nnx.eval_shape(lambda: layer_style(nnx.Rngs(layer_key)))

    # --8<-- [start:summaries]
    argument_table = summary([with_argument], input_shape=(3,), widths=SUMMARY_WIDTHS)
    layer_table = summary(with_layer, input_shape=(3,), widths=SUMMARY_WIDTHS)
    # --8<-- [end:summaries]
    argument_table.write(out_dir / "summary_argument.txt")
    layer_table.write(out_dir / "summary_layer.txt")

    drawn = nnx.eval_shape(lambda: network(nnx.Rngs(network_key)))
    linears = [layer for layer in drawn.layers if isinstance(layer, nnx.Linear)]
    kernels = [tuple(layer.kernel.shape) for layer in linears]  # (in, out) per layer
    sizes = [kernels[0][0]] + [shape[1] for shape in kernels]
    z = jnp.linspace(-GLYPH_RANGE, GLYPH_RANGE, 101)
    sigmoid = np.asarray(jax.jit(nnx.sigmoid)(z))
    with style():
        save(draw(sizes, kernels, sigmoid, np.asarray(z)), out_dir / "network.svg")

    return {
        "argument_kernel_shape": list(with_argument.linear.kernel.shape),  # (in, out)
        "argument_params": argument_table.total,
        "layer_params": layer_table.total,
        "argument_rows": [[row.name, row.type, row.params] for row in argument_table.rows],
        "layer_rows": [[row.name, row.type, row.params] for row in layer_table.rows],
        "activation_row_params": layer_table.rows[-1].params,
        "network_sizes": sizes,
        "network_params": sum((i + 1) * o for i, o in kernels),
    }


if __name__ == "__main__":
    standalone(main, __file__)
