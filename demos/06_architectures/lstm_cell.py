"""The LSTM cell: a memory line that gates decide to erase, write and read.

Drawn for the cell the character LSTM trains (`nnx.OptimizedLSTMCell(16, 64)`, sizes read
from its kernels): the memory c runs along the top and changes only by an elementwise product
with the forget gate f and a sum with the gated candidate i * g; the output h = o * tanh(c).
Each of the four gates is a dense layer on [x_t, h_(t-1)]: (16 + 64) x 64 weights and 64
biases, 4 x 5,184 = 20,736 parameters in all, the count `nnx.state` gives.
"""

from pathlib import Path

import jax
from flax import nnx
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

from handson.demo import standalone
from handson.figures import save, style

SEED = 0  # seed of the (unused) initial weights
INPUTS, HIDDEN = 16, 64  # the character LSTM's embedding size and memory cells
BLUE, RED, GREEN, GREY = "#0368bb", "#c20d4f", "#0b794b", "#444444"  # gates, memory, output, lines


def draw(ax, n_in: int, n_hidden: int) -> None:
    def line(points, color=GREY, lw=2.2, head=False):
        """A polyline; with `head`, its last segment ends in an arrow."""
        xs, ys = zip(*points)
        if not head:
            ax.plot(xs, ys, color=color, lw=lw, solid_capstyle="round")
            return
        ax.plot(xs[:-1], ys[:-1], color=color, lw=lw)
        ax.add_patch(FancyArrowPatch(points[-2], points[-1], arrowstyle="-|>", mutation_scale=18,
                                     lw=lw, color=color, shrinkA=0, shrinkB=0))

    def op(x, y, text, color=GREY):
        ax.add_patch(Circle((x, y), 0.32, fc="white", ec=color, lw=2.2, zorder=3))
        ax.text(x, y, text, ha="center", va="center", fontsize=20, color=color, zorder=4)

    def gate(x, name, fn, color=BLUE):
        ax.add_patch(FancyBboxPatch((x - 0.5, 2.6), 1.0, 0.8, boxstyle="round,pad=0.05",
                                    fc="#dbe9f6", ec=color, lw=2, zorder=3))
        ax.text(x, 3.0, fn, ha="center", va="center", fontsize=18, zorder=4)
        ax.text(x, 2.15, name, ha="center", va="center", fontsize=16, color=color, zorder=4,
                bbox=dict(fc="white", ec="none", pad=1))

    # the memory line c, the input x and the previous output h
    line([(0.2, 6), (11.6, 6)], RED, lw=3.2, head=True)
    ax.text(0.2, 6.45, "$c_{t-1}$", fontsize=20, color=RED)
    ax.text(11.1, 6.45, "$c_t$", fontsize=20, color=RED)
    line([(0.2, 1.2), (1.6, 1.2)])
    line([(1.6, 0.1), (1.6, 1.2)])
    ax.text(0.2, 0.7, "$h_{t-1}$", fontsize=20)
    ax.text(1.8, 0.1, "$x_t$", fontsize=20)
    line([(1.6, 1.2), (7.8, 1.2)])
    gates = {"forget f": (2.6, "σ"), "input i": (4.3, "σ"), "candidate g": (5.9, "tanh"),
             "output o": (7.8, "σ")}
    for name, (x, fn) in gates.items():
        line([(x, 1.2), (x, 2.55)], head=True)
        gate(x, name, fn)
    # forget: c * f;  write: + i * g
    line([(2.6, 3.45), (2.6, 5.68)], head=True)
    op(2.6, 6, "×", RED)
    line([(4.3, 3.45), (4.3, 4.6), (5.58, 4.6)], head=True)
    line([(5.9, 3.45), (5.9, 4.28)], head=True)
    op(5.9, 4.6, "×")
    line([(5.9, 4.92), (5.9, 5.68)], head=True)
    op(5.9, 6, "+", RED)
    # read: h = o * tanh(c)
    line([(9.6, 6), (9.6, 5.0)], head=True)
    ax.add_patch(FancyBboxPatch((9.0, 4.3), 1.2, 0.65, boxstyle="round,pad=0.05", fc="white",
                                ec=GREEN, lw=2, zorder=3))
    ax.text(9.6, 4.62, "tanh", ha="center", va="center", fontsize=17, zorder=4)
    line([(9.6, 4.25), (9.6, 3.32)], head=True)
    line([(7.8, 3.45), (7.8, 3.0), (9.28, 3.0)], head=True)
    op(9.6, 3.0, "×", GREEN)
    line([(9.6, 2.68), (9.6, 1.2), (11.6, 1.2)], GREEN, head=True)
    ax.text(11.1, 0.65, "$h_t$", fontsize=20, color=GREEN)


def main(out_dir: Path) -> dict:
    cell = nnx.OptimizedLSTMCell(INPUTS, HIDDEN, rngs=nnx.Rngs(SEED))
    n_in, four_h = cell.dense_i.kernel.shape  # (16, 4 * 64): the four gates side by side
    n_hidden = four_h // 4
    fig = Figure(figsize=(10.5, 5.7))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 12)
    ax.set_ylim(-0.2, 6.8)
    ax.axis("off")
    with style():
        draw(ax, n_in, n_hidden)
        save(fig, out_dir / "lstm_cell.svg")
    params = int(sum(p.size for p in jax.tree.leaves(nnx.state(cell, nnx.Param))))
    return {"inputs": int(n_in), "hidden": int(n_hidden), "params": params,
            "per_gate": (int(n_in) + int(n_hidden)) * int(n_hidden) + int(n_hidden)}


if __name__ == "__main__":
    standalone(main, __file__)
