"""Gradient descent, momentum and Adam on the same 2-D loss surface, from the same start.

The loss is a long, narrow valley tilted by 20°: L(θ) = ½ θᵀHθ with curvature 1 along the
valley and 100 across it, minimum at 0; the start has L = 38. Plain gradient descent must keep
its learning rate below 2/100 to stay stable; at 0.018 it bounces from wall to wall, then
crawls along the flat floor: loss 0.006 after 200 steps, below 1e-3 only at step 248.
Momentum 0.9 with the same learning rate gathers speed along the valley, overshoots the
minimum and swings back, and gets below 1e-3 at step 94; Adam (step size 0.3) scales each
coordinate by its own gradient history and gets there at step 79. Each run is 300 optax
updates in one jitted `lax.scan`. The exercise: at learning rate 0.021, just above 2/100, each
step multiplies the distance across the valley by |1 − 0.021·100| = 1.1, so the loss grows
×1.21 per step (1.1e18 after 200 steps): gradient descent diverges.
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from handson.demo import standalone
from handson.figures import save, style

ANGLE = np.pi / 9  # tilt of the valley's long axis (radians)
CURVATURES = (1.0, 100.0)  # second derivatives along and across the valley
START = (-3.5, -2.1)  # starting point θ0, the same for every optimizer
LEARNING_RATE = 0.018  # gradient descent and momentum (stable below 2 / 100)
LARGER_LEARNING_RATE = 0.021  # the exercise: gradient descent just above the limit 2 / 100
MOMENTUM = 0.9  # optax.sgd(momentum=...)
ADAM_LEARNING_RATE = 0.3  # Adam's step size, in parameter units
STEPS = 300  # optimizer steps per run at full budget
AT_STEP = 200  # the step at which the slide compares the three losses
THRESHOLD = 1e-3  # "converged": the first step with a loss below this
WINDOW = ((-4.5, 2.0), (-2.6, 1.4))  # plotted θ1 and θ2 ranges
COLORS = {"gradient descent": "#0368bb", "momentum": "#c20d4f", "Adam": "#0b794b"}  # per path
# What a speaker may change live (`make present`, docs/CONTRACTS.md): past 2/100 gradient descent diverges.
KNOBS = {
    "learning_rate": {"type": "float", "min": 0.001, "max": 0.021},
    "steps": {"type": "int", "min": 20, "max": 300},
}


def loss_surface():
    """L(θ) = ½ θᵀ H θ with H rotated by ANGLE: a tilted valley with its minimum at 0."""
    c, s = np.cos(ANGLE), np.sin(ANGLE)
    rotation = np.array([[c, -s], [s, c]])
    hessian = jnp.asarray(rotation @ np.diag(CURVATURES) @ rotation.T, jnp.float32)

    def loss_fn(params: jax.Array) -> jax.Array:
        return 0.5 * params @ hessian @ params

    return loss_fn


def optimizers(learning_rate: float = LEARNING_RATE) -> dict:
    return {
        "gradient descent": optax.sgd(learning_rate),
        "momentum": optax.sgd(learning_rate, momentum=MOMENTUM),
        "Adam": optax.adam(ADAM_LEARNING_RATE),
    }


# --8<-- [start:loop]
def descend(loss_fn, tx, steps: int):
    """Jitted: `steps` optax updates in one lax.scan."""

    def step(carry, _):
        params, state = carry
        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, state = tx.update(grads, state, params)
        params = optax.apply_updates(params, updates)
        return (params, state), (params, loss)

    @jax.jit
    def run(start):
        carry = (start, tx.init(start))
        _, (path, losses) = jax.lax.scan(step, carry,
                                         length=steps)
        return path, losses  # θ after, L before each step

    return run
# --8<-- [end:loop]


def plot_paths(loss_fn, paths: dict) -> Figure:
    (x0, x1), (y0, y1) = WINDOW
    fig = Figure(figsize=(9.4, 4.6))  # shown full width, under the slide's text
    ax = fig.add_subplot()
    u, v = np.meshgrid(np.linspace(x0, x1, 261), np.linspace(y0, y1, 161))
    grid = jnp.stack([u.ravel(), v.ravel()], axis=1)
    z = np.asarray(jax.jit(jax.vmap(loss_fn))(grid)).reshape(u.shape)
    z = np.maximum(z, 1e-3)  # the log colour scale needs z > 0 at the minimum
    levels = np.logspace(-2, 3, 16)  # 3 levels per decade
    ax.contourf(u, v, z, levels=levels, norm=LogNorm(), cmap="Greys_r", alpha=0.55, extend="both",
                rasterized=True)  # as an image, not thousands of polygons: the SVG is 2.4x smaller
    ax.contour(u, v, z, levels=levels, colors="#777777", linewidths=0.6)
    for name, path in paths.items():
        ax.plot(path[:, 0], path[:, 1], "-o", color=COLORS[name], ms=3, lw=1.6, label=name)
    ax.plot(*START, "ko", ms=9)
    ax.annotate("start", START, xytext=(8, -18), textcoords="offset points", fontsize=16)
    ax.plot(0, 0, "*", color="#e08a00", ms=18, mec="k", zorder=5)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_xlabel(r"$\theta_1$")
    ax.set_ylabel(r"$\theta_2$")
    ax.grid(False)
    ax.legend(loc="center left", bbox_to_anchor=(1.03, 0.5), frameon=False)  # off the paths
    return fig


def plot_losses(losses: dict, hits: dict) -> Figure:
    fig = Figure(figsize=(8, 4))
    ax = fig.add_subplot()
    for name, curve in losses.items():
        ax.plot(np.arange(len(curve)), curve, color=COLORS[name], label=f"{name} ({hits[name]} steps)")
    ax.axhline(THRESHOLD, color="#444444", lw=1.2, ls="--")
    ax.text(len(next(iter(losses.values()))) - 1, THRESHOLD * 1.4, f"loss {THRESHOLD:g}",
            ha="right", va="bottom", fontsize=14, color="#444444")
    ax.set_yscale("log")
    ax.set_ylim(1e-6, 1e4)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend(title="steps to reach the dashed line", loc="upper right")
    return fig


def plot_larger(losses: dict) -> Figure:
    """Gradient descent at the two learning rates of the exercise, loss against step."""
    fig = Figure(figsize=(10, 3.8))
    ax = fig.add_subplot()
    for (rate, curve), color in zip(losses.items(), ("#0368bb", "#c20d4f")):
        ax.plot(np.arange(len(curve)), curve, color=color, lw=2.5, label=f"learning rate {rate:g}")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend(loc="center left")
    fig.tight_layout()
    return fig


def main(out_dir: Path, steps: int = STEPS, learning_rate: float = LEARNING_RATE) -> dict:
    loss_fn = loss_surface()
    start = jnp.array(START, jnp.float32)
    paths, losses, hits = {}, {}, {}
    for name, tx in optimizers(learning_rate).items():
        path, loss = descend(loss_fn, tx, steps)(start)
        paths[name] = np.concatenate([np.asarray(start)[None], np.asarray(path)])
        losses[name] = np.asarray(loss)
        below = np.flatnonzero(losses[name] < THRESHOLD)
        hits[name] = int(below[0]) if below.size else steps  # `steps` = not reached
    with style():
        save(plot_paths(loss_fn, paths), out_dir / "optimizer_paths.svg")
        save(plot_losses(losses, hits), out_dir / "optimizer_losses.svg")

    # the exercise: the same gradient descent with a learning rate above 2 / largest curvature
    _, larger = descend(loss_fn, optax.sgd(LARGER_LEARNING_RATE), steps)(start)
    larger = np.asarray(larger, np.float64)
    with style():
        save(plot_larger({learning_rate: losses["gradient descent"], LARGER_LEARNING_RATE: larger}),
             out_dir / "larger_learning_rate.svg")

    keys = {"gradient descent": "gd", "momentum": "momentum", "Adam": "adam"}
    final = {keys[n]: float(loss_fn(jnp.asarray(p[-1]))) for n, p in paths.items()}
    return {
        "steps": steps,
        "threshold": THRESHOLD,
        "start_loss": float(loss_fn(start)),
        "final_loss": final,
        "steps_to_threshold": {keys[n]: hits[n] for n in hits},
        "reached": {keys[n]: bool(hits[n] < steps) for n in hits},
        "at_step": min(AT_STEP, steps - 1),
        "loss_at_step": {keys[n]: float(losses[n][min(AT_STEP, steps - 1)]) for n in losses},
        "learning_rate": learning_rate,
        "momentum": MOMENTUM,
        "adam_learning_rate": ADAM_LEARNING_RATE,
        "curvatures": list(CURVATURES),
        "stable_below": 2 / max(CURVATURES),
        "larger": {
            "learning_rate": LARGER_LEARNING_RATE,
            "factor": abs(1 - LARGER_LEARNING_RATE * max(CURVATURES)),  # per step, across the valley
            "loss_at_step": float(larger[min(AT_STEP, steps - 1)]),
            "growth_per_step": float(larger[-1] / larger[-2]),  # measured, at the last step
        },
    }


if __name__ == "__main__":
    standalone(main, __file__)
