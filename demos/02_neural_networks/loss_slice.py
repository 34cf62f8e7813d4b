"""Deep vs shallow: the training loss along the straight line between two trained solutions.

Two models on the digits' 1,258 training examples, each trained twice from different random
starts with `fit` (adam, 20 epochs). Softmax regression (no hidden layer) has a convex loss:
both runs end at nearly the same loss (0.107 and 0.107), and on the segment
θ(α) = (1 − α)·θA + α·θB between them the loss never rises above the higher end. An MLP with
one hidden layer of 32 ReLU units ends twice at a low loss (0.012 and 0.016 per example), but
halfway between the two solutions the loss is 0.41: a ridge, so the loss is not convex. The
runs are stopped, not converged: the MLP's loss still falls a little past either end. A third
curve joins
solution A to itself with its hidden units shuffled (a permutation of 32): the network
computes the same function and has the same loss (to float32 rounding), yet the path between
the two copies also climbs (0.23 halfway). Every permutation gives such a twin: 32! ≈ 2.6e35 equivalent
minima.
"""

import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from matplotlib.figure import Figure

from handson.data import digits
from handson.demo import standalone
from handson.figures import save, style
from handson.training import fit

SEED = 0  # one seed for everything random in this demo
HIDDEN = 32  # hidden units of the MLP
LEARNING_RATE = 1e-2  # adam's step size, every run
BATCH_SIZE = 32  # digits per gradient step
EPOCHS = 20  # passes over the training digits at full budget, every run
ALPHAS = np.linspace(-0.25, 1.25, 61)  # positions along the line, 0 = solution A, 1 = B
COLORS = {"softmax regression (A → B)": "#0368bb", "MLP (A → B)": "#c20d4f",
          "MLP (A → A, hidden units shuffled)": "#0b794b"}  # one colour per curve


def softmax_regression(rngs: nnx.Rngs) -> nnx.Linear:
    return nnx.Linear(64, 10, rngs=rngs)  # no hidden layer: a convex loss


def mlp(rngs: nnx.Rngs) -> nnx.Sequential:
    return nnx.Sequential(nnx.Linear(64, HIDDEN, rngs=rngs), nnx.relu,
                          nnx.Linear(HIDDEN, 10, rngs=rngs))


def loss_fn(model, x, y):
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()


# --8<-- [start:slice]
@jax.jit(static_argnums=0)
def loss_along(graphdef, theta_a, theta_b, x, y, alphas):
    """The loss at θ(α) = (1 − α)·θA + α·θB for every α (vmapped)."""

    def loss_at(alpha):
        theta = jax.tree.map(lambda a, b: (1 - alpha) * a + alpha * b, theta_a, theta_b)
        return loss_fn(nnx.merge(graphdef, theta), x, y)

    return jax.vmap(loss_at)(alphas)
# --8<-- [end:slice]


def shuffle_hidden(theta: nnx.State, order: np.ndarray) -> nnx.State:
    """The same MLP with its hidden units reordered: rows and columns move together."""
    theta = jax.tree.map(lambda v: v, theta)  # a copy
    first, last = theta["layers"][0], theta["layers"][2]
    first["kernel"][...] = first["kernel"][...][:, order]
    first["bias"][...] = first["bias"][...][order]
    last["kernel"][...] = last["kernel"][...][order, :]
    return theta


def trained(make, key_a, key_b, train, epochs: int) -> tuple:
    """Two runs of the same model from two random starts: its graphdef and both weight states."""
    states = []
    for key in (key_a, key_b):
        init_key, order_key = jax.random.split(key)
        model = make(nnx.Rngs(init_key))
        fit(model, optax.adam(LEARNING_RATE), loss_fn, train=train, epochs=epochs,
            batch_size=BATCH_SIZE, key=order_key)
        states.append(nnx.state(model, nnx.Param))
    return nnx.graphdef(model), states


def plot(curves: dict) -> Figure:
    fig = Figure(figsize=(10, 3.7))
    ax = fig.add_subplot()
    for label, losses in curves.items():
        ax.plot(ALPHAS, losses, color=COLORS[label], lw=2.5, label=label.replace(", ", ",\n"))
    for alpha, name in ((0, "A"), (1, "B or shuffled A")):
        ax.axvline(alpha, color="#888888", lw=1, ls=":")
        ax.text(alpha, 1.04, name, transform=ax.get_xaxis_transform(), ha="center", fontsize=16)
    ax.set_yscale("log")
    ax.set_xlabel("α: position on the line θ(α) = (1 − α)·θA + α·θB")
    ax.set_ylabel("training loss")
    # beside the plot, where it covers no curve
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=15, frameon=False,
              labelspacing=0.8)
    fig.tight_layout()
    return fig


def main(out_dir: Path, epochs: int = EPOCHS) -> dict:
    linear_keys, mlp_keys = jax.random.split(jax.random.key(SEED), 2)
    train, _ = digits(SEED)  # the training loss: what fit minimises
    x, y = map(jnp.asarray, train)
    alphas = jnp.asarray(ALPHAS, jnp.float32)

    linear, (linear_a, linear_b) = trained(softmax_regression, *jax.random.split(linear_keys),
                                           train, epochs)
    deep, (mlp_a, mlp_b) = trained(mlp, *jax.random.split(mlp_keys), train, epochs)
    order = np.random.default_rng(SEED).permutation(HIDDEN)
    mlp_twin = shuffle_hidden(mlp_a, order)

    curves = {
        "softmax regression (A → B)": loss_along(linear, linear_a, linear_b, x, y, alphas),
        "MLP (A → B)": loss_along(deep, mlp_a, mlp_b, x, y, alphas),
        "MLP (A → A, hidden units shuffled)": loss_along(deep, mlp_a, mlp_twin, x, y, alphas),
    }
    curves = {k: np.asarray(v, np.float64) for k, v in curves.items()}
    with style():
        save(plot(curves), out_dir / "loss_slice.svg")

    inside = (ALPHAS >= 0) & (ALPHAS <= 1)
    middle = int(np.argmin(np.abs(ALPHAS - 0.5)))

    def summary(losses: np.ndarray) -> dict:
        ends = losses[[int(np.argmin(np.abs(ALPHAS))), int(np.argmin(np.abs(ALPHAS - 1)))]]
        return {"loss_a": float(ends[0]), "loss_b": float(ends[1]),
                "loss_middle": float(losses[middle]),
                "max_inside": float(losses[inside].max()),
                "barrier": float(losses[inside].max() - ends.max())}  # rise above the higher end

    ends = dict(zip(("linear", "mlp", "mlp_shuffled"), map(summary, curves.values())))
    return {
        "n_train": len(train[0]),
        "hidden": HIDDEN,
        "epochs": epochs,
        **ends,
        "linear_params": int(sum(v.size for v in jax.tree.leaves(linear_a))),
        "mlp_params": int(sum(v.size for v in jax.tree.leaves(mlp_a))),
        "permutations": float(math.factorial(HIDDEN)),
        "alpha_range": [float(ALPHAS[0]), float(ALPHAS[-1])],
    }


if __name__ == "__main__":
    standalone(main, __file__)
