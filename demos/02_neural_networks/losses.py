"""Squared error and cross-entropy against the prediction q for a true label y = 1, with gradients.

Left: both losses as functions of the predicted probability q = σ(z) of class 1. Right: the
gradient each sends back to the logit z (by `jax.grad`). When the prediction is confidently
wrong (q = 0.01) the cross-entropy is 4.61 and its gradient -0.99, a full-size push; the
squared error L = ½(y − q)² is at most 0.5 there and its gradient (q − y)·q(1 − q) is -0.0098:
the sigmoid's flat tail nearly cancels it, so a saturated unit hardly learns. At q = 0.5 the
gradients are -0.5 and -0.125; at q = 0.99 both are small (-0.01 and -0.0001). Each
hand-written loss matches optax's to 1e-6.
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from matplotlib.figure import Figure

from handson.demo import standalone
from handson.figures import save, style

PROBABILITIES = (0.01, 0.5, 0.99)  # predictions q at which the numbers are quoted
POINTS = 199  # points per curve, q in (0, 1)
Q_MIN = 0.005  # the curves stop here (cross-entropy grows without bound as q -> 0)
LOGITS = (2.0, -1.0, 0.5)  # a three-class example for the softmax cross-entropy
LABEL = 0  # its true class


# --8<-- [start:math]
def squared_error(q: jax.Array, y: jax.Array) -> jax.Array:
    return 0.5 * (y - q) ** 2  # L = ½ (y − q)², smallest when q = y


def binary_cross_entropy(q: jax.Array, y: jax.Array) -> jax.Array:
    return -(y * jnp.log(q) + (1 - y) * jnp.log(1 - q))
# --8<-- [end:math]


# --8<-- [start:optax]
def optax_losses(z: jax.Array, y: jax.Array) -> dict:
    """The same losses from the logit z, where q = sigmoid(z)."""
    q = jax.nn.sigmoid(z)
    return {  # optax's squared error is (q - y)^2, without the 1/2
        "squared_error": 0.5 * optax.squared_error(q, y),
        "cross_entropy": optax.sigmoid_binary_cross_entropy(z, y),
    }


def softmax_loss(logits: jax.Array, label: jax.Array) -> jax.Array:
    # -log softmax(logits)[label]: many classes, an integer label
    return optax.softmax_cross_entropy_with_integer_labels(logits, label)
# --8<-- [end:optax]


# --8<-- [start:grad]
def loss_of_logit(z, y, loss):  # what the network's last linear layer sees
    return loss(jax.nn.sigmoid(z), y)


dloss_dz = jax.jit(jax.vmap(jax.grad(loss_of_logit), (0, None, None)), static_argnums=2)
# --8<-- [end:grad]


def logit(q: np.ndarray) -> np.ndarray:
    return np.log(q) - np.log1p(-q)


def draw(q, losses: dict, grads: dict, marks: dict) -> Figure:
    fig = Figure(figsize=(10.5, 4.2))
    left, right = fig.subplots(1, 2)
    names = {"cross_entropy": "cross-entropy", "squared_error": "squared error ½(y − q)²"}
    for i, key in enumerate(names):
        color = f"C{i}"
        left.plot(q, losses[key], color=color, label=names[key])
        right.plot(q, grads[key], color=color, label=names[key])
        right.plot(marks["q"], marks[key], "o", color=color, ms=8)
    left.set_xlabel("predicted probability q of the true class")
    left.set_ylabel("loss for y = 1")
    left.set_ylim(0, 5)
    left.legend(loc="upper right")
    right.set_xlabel("predicted probability q of the true class")
    right.set_ylabel("gradient dL/dz at the logit")
    right.set_ylim(-1.08, 0.08)
    right.axhline(0, color="#444444", lw=1)
    wrong = (marks["q"][0], marks["cross_entropy"][0])  # q = 0.01 for y = 1
    right.annotate("confidently wrong:\ncross-entropy still\npushes hard", wrong,
                   xytext=(0.45, -1.02), va="bottom", fontsize=15,
                   arrowprops={"arrowstyle": "->", "color": "#444444"})
    fig.subplots_adjust(wspace=0.3)
    return fig


def main(out_dir: Path, points: int = POINTS) -> dict:
    y = jnp.float32(1.0)
    q = np.linspace(Q_MIN, 1 - Q_MIN, points, dtype=np.float32)
    z = jnp.asarray(logit(q))
    hand = {"squared_error": squared_error, "cross_entropy": binary_cross_entropy}
    losses = {k: np.asarray(jax.jit(f)(jnp.asarray(q), y)) for k, f in hand.items()}
    grads = {k: np.asarray(dloss_dz(z, y, f)) for k, f in hand.items()}

    # The quoted points, and a check of the hand-written losses against optax.
    zq = jnp.asarray(logit(np.array(PROBABILITIES, np.float32)))
    at = {k: [float(v) for v in jax.jit(f)(jax.nn.sigmoid(zq), y)] for k, f in hand.items()}
    grad_at = {k: [float(v) for v in dloss_dz(zq, y, f)] for k, f in hand.items()}
    reference = jax.jit(optax_losses)(zq, jnp.ones_like(zq))  # optax wants equal shapes
    optax_gap = max(float(jnp.max(jnp.abs(reference[k] - jnp.asarray(at[k])))) for k in hand)
    logits = jnp.asarray(LOGITS)
    softmax = float(jax.jit(softmax_loss)(logits, jnp.asarray(LABEL)))
    softmax_hand = float(-jax.nn.log_softmax(logits)[LABEL])

    with style():
        save(draw(q, losses, grads, {"q": PROBABILITIES, **grad_at}), out_dir / "losses.svg")

    return {
        "q": list(PROBABILITIES),
        "squared_error": at["squared_error"],
        "cross_entropy": at["cross_entropy"],
        "grad_squared_error": grad_at["squared_error"],
        "grad_cross_entropy": grad_at["cross_entropy"],
        "optax_max_abs_diff": optax_gap,
        "softmax_logits": list(LOGITS),
        "softmax_label": LABEL,
        "softmax_cross_entropy": softmax,
        "softmax_cross_entropy_hand": softmax_hand,
    }


if __name__ == "__main__":
    standalone(main, __file__)
