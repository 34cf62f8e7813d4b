"""Backpropagation through a 3-4-4-1 network: forward values, then backward cotangents.

A real Flax MLP (3 inputs, two hidden layers of 4 tanh units, 1 linear output; seeded weights,
biases start at 0) gets one input x and the target y = 1, with the loss L = ½(q − y)². The
first four frames run the forward pass one layer at a time and write each unit's value on
it (blue). The next four run the backward pass: each layer's `jax.vjp` pullback turns the
cotangent coming from above into δ = ∂L/∂z for that layer (red) and ∂L/∂x at the input. The
weight gradients ∂L/∂W = aᵀδ taken from the same pullbacks equal `jax.grad` of the loss with
respect to the model's parameters (max abs difference 0 on CPU, below 1e-6 in any case),
and so does the hand-written recursion δˡ = (δˡ⁺¹ Wˡ⁺¹ᵀ) ⊙ tanh'(zˡ). The cotangents get
smaller towards the input (norms 0.77 at the output, then 0.48, 0.16 and 0.08 at x): tanh' ≤ 1
and the small initial weights damp them layer by layer.
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from matplotlib.figure import Figure
from matplotlib.patches import Circle

from handson.demo import standalone
from handson.figures import save, save_gif, style, to_rgb_array

SEED = 0  # one seed for everything random in this demo (input and weights)
TARGET = 1.0  # the target y of the one training example
DECIMALS = 1  # the input x is rounded to this many decimals so it reads cleanly
MS_PER_FRAME = 1000  # GIF speed: one second per frame
BLUE, RED, GREY = "#0368bb", "#c20d4f", "#444444"  # forward values, backward cotangents, rest
NAMES = ["input x", "hidden 1", "hidden 2", "output q"]  # column labels


def mlp(rngs: nnx.Rngs) -> nnx.Sequential:
    return nnx.Sequential(
        nnx.Linear(3, 4, rngs=rngs), nnx.tanh,  # 3 inputs -> 4 hidden units
        nnx.Linear(4, 4, rngs=rngs), nnx.tanh,  # -> 4 hidden units
        nnx.Linear(4, 1, rngs=rngs),  # -> 1 output, no activation
    )


def dense(kernel, bias, a):
    return a @ kernel + bias


def squared_error(q, y):
    return 0.5 * jnp.sum((q - y) ** 2)


ACTIVATIONS = (jnp.tanh, jnp.tanh, lambda z: z)  # g for each layer (the output is linear)


# --8<-- [start:vjp]
@jax.jit
def backprop(layers: list, x: jax.Array, y: jax.Array):
    """Forward, keeping each layer's pullback; then backward."""
    a, activations, pullbacks = x, [x], []
    for (kernel, bias), g in zip(layers, ACTIVATIONS):
        z, dense_vjp = jax.vjp(dense, kernel, bias, a)  # a W + b
        a, g_vjp = jax.vjp(g, z)  # a = g(z)
        activations.append(a)
        pullbacks.append((dense_vjp, g_vjp))
    loss, loss_vjp = jax.vjp(lambda q: squared_error(q, y), a)

    ct = loss_vjp(jnp.ones_like(loss))[0]  # cotangent ∂L/∂q
    deltas, grads = [], []
    for dense_vjp, g_vjp in reversed(pullbacks):
        delta = g_vjp(ct)[0]  # δ = ∂L/∂z of this layer
        dW, db, ct = dense_vjp(delta)  # ct: ∂L/∂a below
        deltas.insert(0, delta)
        grads.insert(0, (dW, db))
    return loss, activations, deltas, ct, grads  # ct = ∂L/∂x
# --8<-- [end:vjp]


# --8<-- [start:delta]
@jax.jit
def hand_backprop(layers: list, activations: list, y):
    """The δ recursion written out (tanh hidden layers)."""
    delta = activations[-1] - y  # δ³ = q − y
    grads = []
    for l in reversed(range(len(layers))):  # W^(l+1)
        a = activations[l]  # a^l, the input of W^(l+1)
        grads.insert(0, (jnp.outer(a, delta), delta))
        if l > 0:  # δ^l = (δ^(l+1) W^(l+1)ᵀ) ⊙ tanh'(z^l)
            delta = (delta @ layers[l][0].T) * (1 - a**2)
    return grads
# --8<-- [end:delta]


# --8<-- [start:grad]
def loss_fn(model: nnx.Module, x: jax.Array, y: jax.Array) -> jax.Array:
    return 0.5 * jnp.sum((model(x) - y) ** 2)  # not backprop()'s


@jax.jit
def autodiff(graphdef, params, x, y):
    def loss(params):
        return loss_fn(nnx.merge(graphdef, params), x, y)
    return jax.grad(loss)(params)  # the same tree as params
# --8<-- [end:grad]


def fmt(value: float) -> str:
    return f"{value:.2f}".replace("-", "\u2212")  # a real minus sign


CAPTIONS = [
    r"forward: the input $x$",
    r"forward: $a^1 = \tanh(x\,W^1 + b^1)$",
    r"forward: $a^2 = \tanh(a^1 W^2 + b^2)$",
    r"forward: $q = a^2 W^3 + b^3$,  $L = \frac{1}{2}(q - y)^2$",
    r"backward: $\delta^3 = \partial L/\partial q = q - y$",
    r"backward: $\delta^2 = (\delta^3 W^{3\top}) \odot \tanh'(z^2)$",
    r"backward: $\delta^1 = (\delta^2 W^{2\top}) \odot \tanh'(z^1)$",
    r"backward: $\partial L/\partial x = \delta^1 W^{1\top}$",
]


def draw(frame: int, activations: list, backward: list, kernel_norms: list, loss: float,
         y: float) -> Figure:
    """Frame 0..3: forward values up to column `frame`; 4..7: cotangents from the output down."""
    sizes = [len(a) for a in activations]
    n_cols = len(sizes)
    gap, spacing, radius = 3.7, 1.5, 0.68
    ys = [[spacing * ((n - 1) / 2 - i) for i in range(n)] for n in sizes]
    fig = Figure(figsize=(9.6, 5.92))  # 960 x 592 GIF frames, one data unit = 0.64 inch
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    ax.set_xlim(-1.3, 13.7)
    ax.set_ylim(-4.45, 4.8)
    ax.set_aspect("equal")
    forward_cols = range(min(frame, n_cols - 1) + 1)
    back_cols = range(2 * n_cols - 1 - frame, n_cols) if frame >= n_cols else range(0)
    current = frame if frame < n_cols else 2 * n_cols - 1 - frame
    going_back = frame >= n_cols
    for k in range(n_cols - 1):  # edges of layer k + 1, coloured while it is being computed
        active = (not going_back and k + 1 == current) or (going_back and k == current)
        color = (RED if going_back else BLUE) if active else GREY
        for y0 in ys[k]:
            for y1 in ys[k + 1]:
                ax.plot([k * gap, (k + 1) * gap], [y0, y1], color=color, lw=2 if active else 1,
                        alpha=0.8 if active else 0.35, zorder=1)
        if going_back and k + 1 >= current:  # δ of layer k + 1 known, so is ∂L/∂W
            ax.text((k + 0.5) * gap, 3.45, rf"$\|\partial L/\partial W^{k + 1}\|$ = "
                    + fmt(kernel_norms[k]), ha="center", va="center", fontsize=17, color=RED)
    for k, column in enumerate(ys):
        for i, y_node in enumerate(column):
            if k in back_cols:
                text, color = fmt(backward[k][i]), RED
            elif k in forward_cols:
                text, color = fmt(activations[k][i]), BLUE
            else:
                text, color = "", GREY
            ax.add_patch(Circle((k * gap, y_node), radius, facecolor=color if k == current else "white",
                                edgecolor=color, alpha=1, lw=3 if k == current else 2, zorder=3))
            ax.text(k * gap, y_node, text, ha="center", va="center", fontsize=15, zorder=4,
                    color="white" if k == current else color, fontweight="bold")
        ax.text(k * gap, -3.35, NAMES[k], ha="center", va="center", fontsize=17, color=GREY)
    out_x = (n_cols - 1) * gap + 0.9
    if frame >= n_cols - 1:
        ax.text(out_x, 0.45, f"y = {fmt(y)}", ha="left", va="center", fontsize=17, color=GREY)
        ax.text(out_x, -0.45, f"L = {loss:.3f}", ha="left", va="center", fontsize=17, color=BLUE)
    ax.text(-1.1, 4.4, CAPTIONS[frame], ha="left", va="center", fontsize=19)
    ax.text(13.5, 4.4, f"{'backward' if going_back else 'forward'} {frame % n_cols + 1}/{n_cols}",
            ha="right", va="center", fontsize=17, color=RED if going_back else BLUE)
    ax.text(-1.1, -4.1, r"blue: values $a$ (forward)    red: cotangents $\delta = \partial L/\partial z$"
            r" (backward)", ha="left", va="center", fontsize=17, color=GREY)
    return fig


def main(out_dir: Path) -> dict:
    data_key, model_key = jax.random.split(jax.random.key(SEED))
    x = jnp.round(jax.random.normal(data_key, (3,)), DECIMALS)
    y = jnp.array([TARGET])
    model = mlp(nnx.Rngs(model_key))
    linears = [layer for layer in model.layers if isinstance(layer, nnx.Linear)]
    layers = [(layer.kernel[...], layer.bias[...]) for layer in linears]

    loss, activations, deltas, dx, grads = backprop(layers, x, y)
    hand = hand_backprop(layers, activations, y)
    graphdef, params = nnx.split(model, nnx.Param)
    auto = autodiff(graphdef, params, x, y)
    auto = [(auto["layers"][i]["kernel"][...], auto["layers"][i]["bias"][...])
            for i, layer in enumerate(model.layers) if isinstance(layer, nnx.Linear)]

    def max_diff(a, b):
        return max(float(jnp.max(jnp.abs(u - v))) for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)))

    diff_auto, diff_hand = max_diff(grads, auto), max_diff(hand, auto)
    kernel_norms = [float(jnp.linalg.norm(g[0])) for g in grads]
    backward = [dx] + deltas  # what the backward frames write on each column
    act = [np.asarray(a).tolist() for a in activations]
    back = [np.asarray(b).tolist() for b in backward]

    norms = [f"{'gradient':<10}{'vjp chain':>12}{'by hand':>12}{'jax.grad':>12}  (Frobenius norms)"]
    for l, (g, h, a) in enumerate(zip(grads, hand, auto), start=1):
        for name, i in (("W", 0), ("b", 1)):
            norms.append(f"{f'dL/d{name}{l}':<10}" + "".join(
                f"{float(jnp.linalg.norm(t[i])):>12.6f}" for t in (g, h, a)))
    (out_dir / "backprop_norms.txt").write_text("\n".join(norms) + "\n", encoding="utf-8")  # on a slide
    lines = [f"x = {[round(float(v), 6) for v in x]}, y = {TARGET}, loss = {float(loss):.6f}", "",
             *norms, "", f"max |vjp chain - jax.grad| = {diff_auto:.1e}",
             f"max |by hand - jax.grad|   = {diff_hand:.1e}"]
    (out_dir / "backprop.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")

    frames = []
    with style():
        for frame in range(2 * len(act)):
            fig = draw(frame, act, back, kernel_norms, float(loss), TARGET)
            save(fig, out_dir / f"backprop_{frame}.svg")
            frames.append(to_rgb_array(fig))
    save_gif(frames, out_dir / "backprop.gif", MS_PER_FRAME)

    return {
        "frames": len(frames),
        "layers": [int(linears[0].kernel.shape[0])] + [int(l.kernel.shape[1]) for l in linears],
        "input": [round(float(v), 6) for v in x],
        "target": TARGET,
        "output": float(activations[-1][0]),
        "loss": float(loss),
        "cotangent_norms": {name: float(jnp.linalg.norm(b))
                            for name, b in zip(["input", "hidden1", "hidden2", "output"], backward)},
        "kernel_grad_norms": {f"W{l}": n for l, n in enumerate(kernel_norms, start=1)},
        "max_abs_diff": diff_auto,
        "max_abs_diff_hand": diff_hand,
    }


if __name__ == "__main__":
    standalone(main, __file__)
