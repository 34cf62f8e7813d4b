"""Plain vs residual: two 30-hidden-layer ReLU MLPs trained on digits, validation curves.

Same depth (30 hidden layers of 64 units), same data (1,258 digits to train on, 539 held out),
same adam (1e-3), same batches, 20 epochs; the only change is the skip connection
h <- h + relu(W h + b) instead of h <- relu(W h + b). The residual net learns much faster: its
validation loss is 0.88 after one epoch (plain: 1.94) and reaches its lowest, 0.17, at epoch 7
(96% accuracy), after which it starts to overfit. The plain net is still improving after 20
epochs, with a bumpy lowest validation loss of 0.33 (95%). Second figure: the block, drawn
from the model's own sizes.
"""

from pathlib import Path

import jax
import numpy as np
import optax
from flax import nnx
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

from handson.data import digits
from handson.demo import standalone
from handson.figures import save, style
from handson.training import fit

SEED = 0  # one seed for everything random in this demo
DEPTH = 30  # hidden layers in both nets
WIDTH = 64  # units per hidden layer
LEARNING_RATE = 1e-3  # adam's step size
BATCH_SIZE = 32  # digits per gradient step
EPOCHS = 20  # passes over the training digits at full budget


class DeepMLP(nnx.Module):
    """64 pixels -> DEPTH hidden ReLU layers of WIDTH units -> 10 logits."""

    def __init__(self, residual: bool, rngs: nnx.Rngs):
        he = nnx.initializers.he_normal()
        # a residual branch starts small (variance / DEPTH): the sum must not blow up
        scaled = nnx.initializers.variance_scaling(2 / DEPTH, "fan_in", "normal")
        self.inp = nnx.Linear(64, WIDTH, kernel_init=he, rngs=rngs)
        self.hidden = nnx.List([
            nnx.Linear(WIDTH, WIDTH, kernel_init=scaled if residual else he, rngs=rngs)
            for _ in range(DEPTH)])
        self.out = nnx.Linear(WIDTH, 10, kernel_init=he, rngs=rngs)
        self.residual = residual

    # --8<-- [start:forward]
    def __call__(self, x):
        h = nnx.relu(self.inp(x))
        for layer in self.hidden:
            f = nnx.relu(layer(h))
            h = h + f if self.residual else f  # the skip connection
        return self.out(h)
    # --8<-- [end:forward]


def loss_fn(model: nnx.Module, x: jax.Array, y: jax.Array) -> jax.Array:
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()


def plot_curves(runs: dict) -> Figure:
    fig = Figure(figsize=(12, 3.6))
    loss_ax, acc_ax = fig.subplots(1, 2)
    for name, history in runs.items():
        epochs = np.arange(1, len(history.val_loss) + 1)
        loss_ax.plot(epochs, history.val_loss, marker="o", ms=4, label=name)
        acc_ax.plot(epochs, history.val_acc, marker="o", ms=4, label=name)
    loss_ax.set_yscale("log")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("validation loss")
    loss_ax.legend()
    acc_ax.set_xlabel("epoch")
    acc_ax.set_ylabel("validation accuracy")
    acc_ax.set_ylim(0, 1)
    acc_ax.legend(loc="lower right")
    return fig


def plot_block(layer: nnx.Linear) -> Figure:
    """x -> Linear -> ReLU -> (+) with the identity path around them, sizes read from `layer`."""
    n_in, n_out = layer.kernel.shape
    fig = Figure(figsize=(5, 6))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 12)
    ax.axis("off")
    boxes = {"linear": (6.0, f"Linear {n_in}→{n_out}"), "relu": (3.6, "ReLU")}
    for y, text in boxes.values():
        ax.add_patch(FancyBboxPatch((2.2, y), 4.6, 1.4, boxstyle="round,pad=0.1",
                                    fc="#dbe9f6", ec="#0368bb", lw=2))
        ax.text(4.5, y + 0.7, text, ha="center", va="center", fontsize=18)
    ax.add_patch(Circle((4.5, 2.0), 0.5, fc="white", ec="#c20d4f", lw=2.5))
    ax.text(4.5, 2.0, "+", ha="center", va="center", fontsize=24, color="#c20d4f")
    ax.text(4.5, 11.2, "x", ha="center", va="center", fontsize=22)
    ax.text(4.5, 0.3, "x + f(x)", ha="center", va="center", fontsize=20)
    ax.text(1.3, 4.8, "f(x)", ha="center", va="center", fontsize=20, color="#0368bb")
    ax.text(8.5, 5.8, "identity", ha="center", va="center", fontsize=18, rotation=90,
            color="#c20d4f")

    def arrow(start, end, color="black"):
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=22, lw=2,
                                     shrinkA=0, shrinkB=0, color=color))

    arrow((4.5, 10.8), (4.5, 7.5))
    arrow((4.5, 6.0), (4.5, 5.1))
    arrow((4.5, 3.6), (4.5, 2.5))
    arrow((4.5, 1.5), (4.5, 0.7))
    ax.plot([4.5, 7.8, 7.8], [9.6, 9.6, 2.0], color="#c20d4f", lw=2)  # the skip path
    ax.plot([4.5], [9.6], "o", color="#c20d4f", ms=7)
    arrow((7.8, 2.0), (5.0, 2.0), color="#c20d4f")
    return fig


def main(out_dir: Path, epochs: int = EPOCHS) -> dict:
    model_key, train_key = jax.random.split(jax.random.key(SEED))
    train, val = digits(SEED)
    runs = {}
    for name, residual in [("plain", False), ("residual", True)]:
        model = DeepMLP(residual, rngs=nnx.Rngs(model_key))  # same key for both
        runs[name] = fit(model, optax.adam(LEARNING_RATE), loss_fn, train=train, val=val,
                         epochs=epochs, batch_size=BATCH_SIZE, key=train_key)

    with style():
        save(plot_curves(runs), out_dir / "residual.svg")
        save(plot_block(model.hidden[0]), out_dir / "residual_block.svg")

    result = {"depth": DEPTH, "width": WIDTH, "epochs": len(runs["plain"].val_loss)}
    for name, history in runs.items():
        best = history.best_epoch
        result[name] = {
            "first_val_loss": history.val_loss[0],
            "final_val_loss": history.val_loss[-1],
            "final_val_acc": history.val_acc[-1],
            "best_val_loss": history.val_loss[best - 1],
            "best_epoch": best,
            "best_val_acc": max(history.val_acc),
            "final_train_loss": history.train_loss[-1],
        }
    return result


if __name__ == "__main__":
    standalone(main, __file__)
