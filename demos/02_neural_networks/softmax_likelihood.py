"""Softmax turns scores into probabilities; minimising cross-entropy maximises the likelihood.

Left: the logits z = (2, -1, 0.5) of a three-class example and their softmax
p_k = exp(z_k) / Σ_j exp(z_j) = (0.79, 0.04, 0.18); its cross-entropy for the label 0 is
-log p_0 = 0.24. Right: a model that ignores its input and keeps one logit per class is
trained with `fit` (softmax cross-entropy, plain SGD) on 20 observed labels, 12 of class 0,
6 of class 1 and 2 of class 2. The mean cross-entropy is -(1/N) log Π p(y_i), minus the
log-likelihood per example, so it falls exactly as the likelihood of the labels rises:
exp(-N·CE) equals the product of the predicted probabilities (relative gap below 1e-5).
Training ends at the maximum-likelihood answer, the observed frequencies (0.6, 0.3, 0.1),
and the loss at the floor, their entropy 0.898 (both within 1e-3).
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from matplotlib.figure import Figure

from handson.demo import standalone
from handson.figures import save, style
from handson.training import fit

SEED = 0  # one seed for everything random in this demo (the batch order)
LOGITS = (2.0, -1.0, 0.5)  # the three-class example of the left panel
LABEL = 0  # its true class
COUNTS = (12, 6, 2)  # observed labels per class for the maximum-likelihood fit
LEARNING_RATE = 0.5  # plain SGD step size on the logits (the loss is convex and smooth)
EPOCHS = 80  # full-batch steps at full budget
COLORS = ("#0368bb", "#c20d4f", "#0b794b")  # one colour per class


# --8<-- [start:model]
class Logits(nnx.Module):
    """One learned logit per class, whatever the input: the model is a distribution."""

    def __init__(self, classes: int):
        self.z = nnx.Param(jnp.zeros(classes))  # softmax(0) is uniform

    def __call__(self, x):  # (batch, 1) -> (batch, classes)
        return jnp.broadcast_to(self.z[...], (x.shape[0], self.z.shape[0]))


def loss_fn(model, x, y):  # mean cross-entropy = -(1/N) log-likelihood
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()
# --8<-- [end:model]


def draw(logits: np.ndarray, probs: np.ndarray, history, entropy: float, n: int) -> Figure:
    fig = Figure(figsize=(10, 4.3))
    left, right = fig.subplots(1, 2, width_ratios=(1, 1.35))
    k = np.arange(len(logits))
    width = 0.38
    left.bar(k - width / 2, logits, width, color="#999999", label="logit z")
    left.bar(k + width / 2, probs, width, color=COLORS, label="softmax p")
    for i, (z, p) in enumerate(zip(logits, probs)):
        left.text(i + width / 2, p + 0.05, f"{p:.2f}", ha="center", va="bottom", fontsize=16)
    left.axhline(0, color="#444444", lw=1)
    left.set_xticks(k, [f"class {i}" for i in k])
    left.set_ylim(-1.4, 2.5)
    left.legend(loc="upper right")
    left.set_title("scores → probabilities")
    epochs = np.arange(1, len(history.train_loss) + 1)
    right.plot(epochs, history.train_loss, color="#0368bb", label="cross-entropy (mean)")
    right.axhline(entropy, color="#0368bb", ls="--", lw=1.5, label=f"entropy of the labels {entropy:.3f}")
    right.set_xlabel("epoch (one full-batch step)")
    right.set_ylabel("cross-entropy")
    right.legend(loc="center right")
    likelihood = right.twinx()
    likelihood.plot(epochs, np.exp(-n * np.asarray(history.train_loss)), color="#c20d4f")
    likelihood.set_ylabel(f"likelihood of the {n} labels", color="#c20d4f")
    likelihood.set_yscale("log")
    likelihood.grid(False)
    likelihood.spines["right"].set_visible(True)
    right.set_title("training = maximising the likelihood")
    fig.tight_layout()
    return fig


def main(out_dir: Path, epochs: int = EPOCHS) -> dict:
    logits = jnp.asarray(LOGITS)
    probs = jax.nn.softmax(logits)
    example_loss = optax.softmax_cross_entropy_with_integer_labels(logits, jnp.asarray(LABEL))

    y = np.repeat(np.arange(len(COUNTS)), COUNTS).astype(np.int32)  # the observed labels
    x = np.ones((len(y), 1), np.float32)  # the model ignores its input
    model = Logits(len(COUNTS))
    # --8<-- [start:fit]
    history = fit(model, optax.sgd(LEARNING_RATE), loss_fn, train=(x, y),
                  epochs=epochs, batch_size=len(y), key=jax.random.key(SEED))
    # --8<-- [end:fit]
    fitted = np.asarray(jax.nn.softmax(model.z[...]), np.float64)
    final_loss = float(jax.jit(loss_fn)(model, jnp.asarray(x), jnp.asarray(y)))
    frequencies = np.asarray(COUNTS, np.float64) / len(y)
    entropy = float(-(frequencies * np.log(frequencies)).sum())
    likelihood = float(np.prod(fitted[y]))  # Π p(y_i), multiplied out
    from_loss = float(np.exp(-len(y) * final_loss))  # exp(-N · mean cross-entropy)

    with style():
        save(draw(np.asarray(logits), np.asarray(probs), history, entropy, len(y)),
             out_dir / "softmax_likelihood.svg")

    return {
        "logits": list(LOGITS),
        "label": LABEL,
        "probs": [float(p) for p in probs],
        "example_loss": float(example_loss),
        "counts": list(COUNTS),
        "n": len(y),
        "epochs": epochs,
        "learning_rate": LEARNING_RATE,
        "frequencies": frequencies.tolist(),
        "fitted_probs": fitted.tolist(),
        "max_prob_gap": float(np.abs(fitted - frequencies).max()),
        "initial_loss": history.train_loss[0],
        "final_loss": final_loss,
        "entropy": entropy,
        "likelihood": likelihood,
        "likelihood_from_loss": from_loss,
        "likelihood_max": float(np.prod(frequencies[y])),
        "likelihood_initial": float((1 / len(COUNTS)) ** len(y)),
    }


if __name__ == "__main__":
    standalone(main, __file__)
