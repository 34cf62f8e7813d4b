"""Backpropagation: the chain rule by hand gives the same gradients as `jax.grad`.

Two tiny networks with the loss L = ½(y − output)². The linear chain z = w1·x, q = w2·z
gives dL/dw2 = (q − y)·z = -0.078 and dL/dw1 = (q − y)·w2·x = -0.312. The two-neuron net
z1 = w1·x + b1, a1 = σ(z1), z2 = w2·a1 + b2 has z1 = 0, so σ'(z1) = 0.25, and the backward
pass gives dL/dz2 = -0.6, dL/da1 = 0.48, dL/dz1 = 0.12, hence dL/dw1 = 0.06, dL/db1 = 0.12,
dL/dw2 = -0.3, dL/db2 = -0.6. Hand formulas and `jax.grad` agree to float32 rounding
(max abs difference < 1e-6; 0.0 on CPU).
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from handson.demo import standalone
from handson.figures import save, style

SEED = 1  # seed for x, y and the parameters (this one gives z1 = 0, so σ'(z1) = 0.25)
DECIMALS = 1  # round the drawn numbers so the chain rule can be followed by hand
BLUE, RED, GREY = "#0368bb", "#c20d4f", "#444444"  # forward values, gradients, boxes
FONT, BOX_FONT = 13, 15  # points: labels and box text (the figure is shown at its own size)
UNIT = 0.84  # inches per layout unit (in step with FONT): 730 x 410 px, labels at 17.3 px


# --8<-- [start:tiny]
def tiny_loss(params: dict, x, y):
    z = params["w1"] * x
    q = params["w2"] * z
    return 0.5 * (y - q) ** 2


@jax.jit
def tiny_grads(params: dict, x, y):
    z = params["w1"] * x
    q = params["w2"] * z
    dq = q - y  # dL/dq, L = ½(y − q)²
    # dL/dw1 = dL/dq · dq/dz · dz/dw1
    dw1 = dq * params["w2"] * x
    dw2 = dq * z  # dL/dq · dq/dw2
    return {"w1": dw1, "w2": dw2}
# --8<-- [end:tiny]


# --8<-- [start:hand]
@jax.jit
def forward(params: dict, x, y) -> dict:
    """The forward pass, keeping every intermediate value for the backward pass."""
    z1 = params["w1"] * x + params["b1"]
    a1 = jax.nn.sigmoid(z1)
    z2 = params["w2"] * a1 + params["b2"]
    return {"z1": z1, "a1": a1, "z2": z2, "loss": 0.5 * (y - z2) ** 2}


@jax.jit
def backward(params: dict, x, y, v: dict) -> dict:
    """dL/d(every node), from the loss back: one local derivative per step."""
    dz2 = v["z2"] - y  # L = ½(y − z2)²
    da1 = dz2 * params["w2"]  # z2 = w2·a1 + b2
    dz1 = da1 * v["a1"] * (1 - v["a1"])  # a1 = σ(z1), σ' = σ(1 − σ)
    return {"z2": dz2, "a1": da1, "z1": dz1,
            "w2": dz2 * v["a1"], "b2": dz2, "w1": dz1 * x, "b1": dz1}
# --8<-- [end:hand]


# --8<-- [start:autodiff]
def loss_fn(params: dict, x, y):
    z1 = params["w1"] * x + params["b1"]
    a1 = jax.nn.sigmoid(z1)
    z2 = params["w2"] * a1 + params["b2"]
    return 0.5 * (y - z2) ** 2


@jax.jit
def autodiff_grads(params: dict, x, y) -> dict:
    return jax.grad(loss_fn)(params, x, y)  # a dict with the same keys as params
# --8<-- [end:autodiff]


def table(title: str, hand: dict, auto: dict) -> str:
    rows = [title, f"{'parameter':<10}{'hand':>11}{'jax.grad':>11}{'|diff|':>10}"]
    for name in hand:
        diff = abs(float(hand[name]) - float(auto[name]))
        rows.append(f"{name:<10}{float(hand[name]):>11.6f}{float(auto[name]):>11.6f}{diff:>10.1e}")
    return "\n".join(rows)


def _box(ax, xy, text, half):
    ax.add_patch(FancyBboxPatch((xy[0] - half, xy[1] - 0.4), 2 * half, 0.8,
                                boxstyle="round,pad=0.05", facecolor="white", edgecolor=GREY,
                                lw=2, zorder=3))
    ax.text(*xy, text, ha="center", va="center", fontsize=BOX_FONT, zorder=4)


def _arrow(ax, start, end, path=()):
    """An arrow from `start` to `end`, through the corners in `path` (drawn as a plain line)."""
    points = [start, *path]
    if path:
        ax.plot(*zip(*points, points[-1]), color=GREY, lw=1.6, zorder=2, solid_joinstyle="round")
    ax.add_patch(FancyArrowPatch(points[-1], end, arrowstyle="-|>", mutation_scale=16,
                                 color=GREY, lw=1.6, zorder=2, shrinkA=0))


def _edge(ax, x0, x1, y, forward, backward=None):
    """The arrow between two boxes, its forward value above and its gradient below."""
    _arrow(ax, (x0, y), (x1, y))
    ax.text((x0 + x1) / 2, y + 0.55, forward, ha="center", va="center", fontsize=FONT, color=BLUE)
    if backward:
        ax.text((x0 + x1) / 2, y - 0.55, backward, ha="center", va="center", fontsize=FONT,
                color=RED)


def _inputs(ax, box_x, y, side, entries):
    """Parameters (value in blue, gradient in red) entering a box from above (side 1) or below."""
    for dx, name, value, grad in entries:
        _arrow(ax, (box_x + dx, y + 0.85 * side), (box_x + 0.4 * np.sign(dx), y + 0.45 * side))
        lines = [(f"${name}$ = {value:.2f}", BLUE)]
        if grad is not None:
            lines.append((rf"$\partial L/\partial {name}$ = {grad:.2f}", RED))
        if side > 0:  # from above: the value on top, the gradient next to the arrow
            lines.reverse()
        for k, (text, color) in enumerate(lines):
            ax.text(box_x + dx, y + (1.05 + 0.36 * k) * side, text, ha="center", va="center",
                    fontsize=FONT, color=color)


def draw_graph(x, y, params, v, d) -> Figure:
    """Computational graph in two rows: forward values above the arrows (blue), gradients below
    (red); parameters enter the first row from above and the second from below."""
    width, height = 8.7, 4.85  # in layout units (one unit = UNIT inches)
    fig = Figure(figsize=(width * UNIT, height * UNIT))
    ax = fig.add_axes((0, 0, 1, 1))  # data units are layout units: text sizes are predictable
    ax.set_axis_off()
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    top, bottom = 3.15, 1.45  # centre lines of the two rows
    # row 1: x -> w1 x + b1 -> sigma -> (a1, down to row 2)
    _box(ax, (0.45, top), "$x$", 0.35)
    _box(ax, (2.95, top), r"$w_1 x + b_1$", 0.85)
    _box(ax, (5.85, top), r"$\sigma$", 0.35)
    _edge(ax, 0.85, 2.05, top, f"$x$ = {x:.2f}")
    _edge(ax, 3.85, 5.45, top, f"$z_1$ = {v['z1']:.2f}", rf"$\partial L/\partial z_1$ = {d['z1']:.2f}")
    _inputs(ax, 2.95, top, 1, [(-0.95, "w_1", params["w1"], d["w1"]),
                               (0.95, "b_1", params["b1"], d["b1"])])
    # a1 leaves row 1 on the right and comes back on the left of row 2
    right, turn, left = 8.2, (top + bottom) / 2, 0.3
    ax.text(7.2, top + 0.55, f"$a_1$ = {v['a1']:.2f}", ha="center", va="center", fontsize=FONT,
            color=BLUE)
    ax.text(7.2, top - 0.55, rf"$\partial L/\partial a_1$ = {d['a1']:.2f}", ha="center",
            va="center", fontsize=FONT, color=RED)
    _arrow(ax, (6.25, top), (1.2, bottom), [(right, top), (right, turn), (left, turn), (left, bottom)])
    # row 2: w2 a1 + b2 -> ½(y - z2)² -> L
    _box(ax, (2.1, bottom), r"$w_2 a_1 + b_2$", 0.85)
    _box(ax, (5.8, bottom), r"$\frac{1}{2}(y - z_2)^2$", 0.95)
    _edge(ax, 3.0, 4.8, bottom, f"$z_2$ = {v['z2']:.2f}", rf"$\partial L/\partial z_2$ = {d['z2']:.2f}")
    _arrow(ax, (6.8, bottom), (7.3, bottom))
    ax.text(7.4, bottom, f"$L$ = {v['loss']:.3f}", ha="left", va="center", fontsize=BOX_FONT,
            color=BLUE)
    _inputs(ax, 2.1, bottom, -1, [(-0.95, "w_2", params["w2"], d["w2"]),
                                  (0.95, "b_2", params["b2"], d["b2"])])
    _inputs(ax, 5.8, bottom, -1, [(0.0, "y", y, None)])
    ax.text(width - 0.1, top + 1.41, "forward values", ha="right", va="center", fontsize=FONT,
            color=BLUE)
    ax.text(width - 0.1, top + 1.05, r"gradients $\partial L/\partial\cdot$ (backward)", ha="right",
            va="center", fontsize=FONT, color=RED)
    return fig


def main(out_dir: Path) -> dict:
    data_key, model_key = jax.random.split(jax.random.key(SEED))
    x, y = jnp.round(jax.random.normal(data_key, (2,)), DECIMALS)
    w1, b1, w2, b2 = jnp.round(jax.random.normal(model_key, (4,)), DECIMALS)
    params = {"w1": w1, "b1": b1, "w2": w2, "b2": b2}

    # 1. the linear chain z = w1·x, q = w2·z (same x, y, w1, w2)
    tiny_params = {"w1": w1, "w2": w2}
    tiny_hand = tiny_grads(tiny_params, x, y)
    tiny_jax = jax.jit(jax.grad(tiny_loss))(tiny_params, x, y)
    z = w1 * x
    q = w2 * z

    # 2. the two-neuron net with a sigmoid
    v = forward(params, x, y)
    d = backward(params, x, y, v)
    hand = {name: d[name] for name in params}
    auto = autodiff_grads(params, x, y)

    diffs = [abs(float(tiny_hand[k]) - float(tiny_jax[k])) for k in tiny_params]
    diffs += [abs(float(hand[k]) - float(auto[k])) for k in params]
    two_neuron = table("z1 = w1·x + b1, a1 = σ(z1), z2 = w2·a1 + b2, L = ½(y − z2)²\n"
                       + ", ".join(f"{k} = {float(p):.1f}" for k, p in params.items()), hand, auto)
    (out_dir / "two_neuron.txt").write_text(two_neuron + "\n", encoding="utf-8")  # on a slide
    (out_dir / "chain_rule.txt").write_text(
        table(f"z = w1·x, q = w2·z, L = ½(y − q)²   (x = {x:.1f}, y = {y:.1f})",
              tiny_hand, tiny_jax) + "\n\n" + two_neuron + "\n", encoding="utf-8")
    with style():
        fig = draw_graph(float(x), float(y), {k: float(p) for k, p in params.items()},
                         {k: float(val) for k, val in v.items()},
                         {k: float(g) for k, g in d.items()})
        save(fig, out_dir / "chain_rule.svg")

    def r(tree):  # python floats rounded to 6 decimals (float32 noise removed) for the slides
        return jax.tree.map(lambda a: round(float(a), 6), tree)

    return {
        "x": r(x), "y": r(y), "params": r(params),
        "tiny_forward": r({"z": z, "q": q, "loss": jax.jit(tiny_loss)(tiny_params, x, y)}),
        "tiny_grads_hand": r(tiny_hand), "tiny_grads_jax": r(tiny_jax),
        "forward": r(v),
        "cotangents": r({k: d[k] for k in ("z2", "a1", "z1")}),
        "grads_hand": r(hand), "grads_jax": r(auto),
        "max_abs_diff": max(diffs),
    }


if __name__ == "__main__":
    standalone(main, __file__)
