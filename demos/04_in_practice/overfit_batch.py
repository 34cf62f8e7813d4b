"""Overfit one batch first: a correct model drives the loss on 32 digits to almost 0, a buggy one cannot.

Before a long run, train on a single batch of 32 training digits, one step after another. The
digits MLP (64 -> 64 -> 10, adam 0.01) with a correct loss gets that batch's loss below 0.01
within 45 steps and reaches 100% accuracy on it: the pipeline can learn. The same model with a
classic bug, a softmax applied before optax's cross-entropy (which expects logits and applies
its own), also gets every digit of the batch right but its loss stalls at 1.46: with outputs
squeezed into [0, 1] it cannot go below log(1 + 9/e) = 1.46 for 10 classes. The check takes a
second and catches the bug before any real training run.
"""

from pathlib import Path

import jax
import numpy as np
import optax
from flax import nnx
from matplotlib.figure import Figure

from handson.data import digits
from handson.demo import standalone
from handson.figures import save, style
from handson.training import fit

SEED = 0  # one seed for everything random in this demo
BATCH = 32  # the one batch of training digits
STEPS = 200  # gradient steps on that batch
HIDDEN = 64  # hidden units of the digits MLP
LEARNING_RATE = 1e-2  # adam's step size
CLASSES = 10  # digits 0-9
TARGET = 0.01  # "almost 0": the loss a correct pipeline should get below


def mlp(rngs: nnx.Rngs) -> nnx.Sequential:
    return nnx.Sequential(nnx.Linear(64, HIDDEN, rngs=rngs), nnx.relu,
                          nnx.Linear(HIDDEN, CLASSES, rngs=rngs))


# --8<-- [start:loss]
def loss_fn(model, x, y):
    logits = model(x)
    return optax.softmax_cross_entropy_with_integer_labels(
        logits, y).mean()
# --8<-- [end:loss]


# --8<-- [start:buggy]
def buggy_loss_fn(model, x, y):
    probs = jax.nn.softmax(model(x))
    return optax.softmax_cross_entropy_with_integer_labels(
        probs, y).mean()
# --8<-- [end:buggy]


def plot(runs: dict, floor: float | None) -> Figure:
    """Left: the loss on the batch (log scale); right: the accuracy on it."""
    fig = Figure(figsize=(10, 3.3))
    loss_ax, acc_ax = fig.subplots(1, 2)
    for (name, history), color in zip(runs.items(), ("C0", "C1")):
        steps = np.arange(1, len(history.train_loss) + 1)
        loss_ax.plot(steps, history.train_loss, color=color, label=name)
        acc_ax.plot(steps, history.train_acc, color=color, label=name)
    if floor is not None:
        loss_ax.axhline(floor, color="0.3", ls=":", lw=2, label=f"log(1 + {CLASSES - 1}/e)")
    loss_ax.set_yscale("log")
    loss_ax.set_ylabel("loss on the batch")
    loss_ax.legend(loc="lower left")
    acc_ax.set_ylabel("accuracy on the batch")
    acc_ax.set_ylim(0, 1.05)
    for ax in (loss_ax, acc_ax):
        ax.set_xlabel("step (the same batch)")
    fig.tight_layout()
    return fig


def main(out_dir: Path, steps: int = STEPS) -> dict:
    model_key, train_key = jax.random.split(jax.random.key(SEED))
    (x, y), _ = digits(SEED, n_train=BATCH)  # the first 32 digits of the training split
    runs = {}
    for name, loss in [("correct loss", loss_fn), ("softmax twice", buggy_loss_fn)]:
        model = mlp(nnx.Rngs(model_key))  # same initial weights for both
        # --8<-- [start:check]
        # one batch, many steps: the loss must go to ~0
        history = fit(model, optax.adam(LEARNING_RATE), loss,
                      train=(x, y), epochs=steps,
                      batch_size=BATCH, key=train_key,
                      eval_train=True)
        # --8<-- [end:check]
        runs[name] = history
    floor = float(np.log1p((CLASSES - 1) / np.e))  # correct output 1, the others 0, as logits
    with style():
        save(plot({"correct loss": runs["correct loss"]}, None), out_dir / "one_batch.svg")
        save(plot(runs, floor), out_dir / "one_batch_bug.svg")

    good, bad = runs["correct loss"], runs["softmax twice"]
    below = np.flatnonzero(np.asarray(good.train_loss) < TARGET)
    return {
        "batch": BATCH,
        "steps": len(good.train_loss),
        "hidden": HIDDEN,
        "learning_rate": LEARNING_RATE,
        "target": TARGET,
        "first_loss": good.train_loss[0],
        "final_loss": good.train_loss[-1],
        "steps_to_target": int(below[0]) + 1 if len(below) else None,
        "final_acc": good.train_acc[-1],
        "bug_final_loss": bad.train_loss[-1],
        "bug_min_loss": min(bad.train_loss),
        "bug_final_acc": bad.train_acc[-1],
        "floor": floor,
        "classes": CLASSES,
        "others": CLASSES - 1,  # the wrong classes of a digit, each given probability 0 at best
        "chance_loss": float(np.log(CLASSES)),  # a classifier that knows nothing: uniform output
        "train_loss": good.train_loss,
        "bug_train_loss": bad.train_loss,
    }


if __name__ == "__main__":
    standalone(main, __file__)
