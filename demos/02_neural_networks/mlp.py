"""A 3-4-4-1 multilayer perceptron in Flax NNX and its Keras-style summary (41 parameters).

Three `nnx.Linear` layers, as the original Keras `Dense(4, input_dim=3)`, `Dense(4)`, `Dense(1)`
(no activation yet: that comes next). Each layer holds a kernel W of shape (in, out) and a bias b
of shape (out,) (not (4, 1)): (3+1)·4 = 16, (4+1)·4 = 20 and (4+1)·1 = 5 parameters, 41 in
total, all trainable. The diagram's node counts and shapes are read from the model's kernels.
The summary is also written cut into one file per row (summary_step_1.txt, ...), so a slide
can reveal it row by row and stays in step with the model.
"""

from pathlib import Path

import jax
from flax import nnx
from matplotlib.figure import Figure
from matplotlib.patches import Circle

from handson.demo import standalone
from handson.figures import save, style
from handson.summary import summary

SEED = 0  # one seed for everything random in this demo (the initial weights)
COLORS = {"input": "#0368bb", "hidden": "#0b794b", "output": "#c20d4f"}  # node colour per role
GREY = "#444444"  # edges and annotations


# --8<-- [start:model]
def mlp(rngs: nnx.Rngs) -> nnx.Sequential:
    return nnx.Sequential(
        nnx.Linear(3, 4, rngs=rngs),  # 3 inputs -> 4 units
        nnx.Linear(4, 4, rngs=rngs),  # -> 4 units
        nnx.Linear(4, 1, rngs=rngs),  # -> 1 output
    )
# --8<-- [end:model]


def draw(sizes: list[int], kernels: list[tuple], biases: list[tuple]) -> Figure:
    """Nodes per layer from `sizes`, every edge of each kernel, W and b shapes between columns."""
    fig = Figure(figsize=(9, 5))
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_aspect("equal")
    gap, spacing, radius = 3.4, 1.25, 0.38
    ys = [[spacing * ((n - 1) / 2 - i) for i in range(n)] for n in sizes]
    roles = ["input"] + ["hidden"] * (len(sizes) - 2) + ["output"]
    top = max(max(y) for y in ys)
    for k in range(len(sizes) - 1):  # all in x out edges of kernel k
        for y0 in ys[k]:
            for y1 in ys[k + 1]:
                ax.plot([k * gap, (k + 1) * gap], [y0, y1], color=GREY, lw=1.2, alpha=0.6, zorder=1)
        ax.text((k + 0.5) * gap, top + 1.25, f"W {kernels[k]}", ha="center", va="bottom",
                fontsize=17, color=GREY)
        ax.text((k + 0.5) * gap, top + 0.65, f"b {biases[k]}", ha="center", va="bottom",
                fontsize=17, color=GREY)
    for k, (role, column) in enumerate(zip(roles, ys)):
        for y in column:
            ax.add_patch(Circle((k * gap, y), radius, facecolor=COLORS[role], edgecolor="white",
                                lw=2, zorder=3))
        ax.text(k * gap, -top - 0.8, f"{role}\n{sizes[k]}", ha="center", va="top", fontsize=17,
                color=COLORS[role])
    ax.set_xlim(-0.9, (len(sizes) - 1) * gap + 0.9)
    ax.set_ylim(-top - 2.3, top + 2.0)
    return fig


def reveal_steps(table) -> list[str]:
    """The summary cut into one piece per row: header + row 1, then rule + row k, the last
    piece with the totals. Joined, they are the whole table."""
    cuts = [0, *table.row_lines[:-1], len(table.lines)]  # row k ends on line row_lines[k - 1]
    return ["".join(table.lines[a:b]) for a, b in zip(cuts, cuts[1:])]


def main(out_dir: Path) -> dict:
    model_key = jax.random.key(SEED)
    model = mlp(nnx.Rngs(model_key))

    # --8<-- [start:summary]
    table = summary(model, input_shape=(3,))  # like Keras's model.summary()
    # --8<-- [end:summary]
    table.write(out_dir / "summary.txt")
    steps = reveal_steps(table)
    for k, text in enumerate(steps, start=1):  # the slide shows one more file at each step
        (out_dir / f"summary_step_{k}.txt").write_text(text)

    kernels = [tuple(layer.kernel.shape) for layer in model.layers]  # (in, out) per layer
    biases = [tuple(layer.bias.shape) for layer in model.layers]  # (out,)
    sizes = [kernels[0][0]] + [shape[1] for shape in kernels]  # nodes per column
    with style():
        save(draw(sizes, kernels, biases), out_dir / "mlp.svg")

    return {
        "layers": sizes,
        "names": [row.name for row in table.rows],
        "params": [row.params for row in table.rows],
        "total": table.total,
        "trainable": table.trainable,
        "non_trainable": table.non_trainable,
        "kernel_shapes": [list(shape) for shape in kernels],
        "bias_shapes": [list(shape) for shape in biases],
        "summary_row_lines": table.row_lines,
        "summary_steps": len(steps),  # summary_step_1.txt ... summary_step_<n>.txt
    }


if __name__ == "__main__":
    standalone(main, __file__)
