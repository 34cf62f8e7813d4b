"""Plain vs residual: two 30-hidden-layer ReLU MLPs trained on digits, validation curves.

Same depth (30 hidden layers of 64 units), same data (1,258 digits to train on, 539 held out),
same adam (1e-3), same batches, 20 epochs. Two things differ, and they go together: the skip
connection h <- h + relu(W h + b) instead of h <- relu(W h + b), and the initial weights of the
hidden layers: He's variance 2/n_in for the plain net, 2/(30 n_in) for the residual branches.
Each net gets the one that keeps its signal at scale: at initialisation the last hidden layer's
std on the training digits is 0.29 (plain) and 2.9 (residual), while swapping the
initialisations makes the residual net's explode (2.4e6) and the plain net's vanish (0 in
float32). Trained, the
residual net learns much faster: validation loss 0.88 after one epoch (plain: 1.94), lowest
0.16 at epoch 14 (97% accuracy); the plain net's lowest, 0.30 (94%), comes at its last epoch.
Second figure: the block, drawn from the model's own sizes.
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

    def __init__(self, residual: bool, hidden_init, rngs: nnx.Rngs):
        he = nnx.initializers.he_normal()
        self.inp = nnx.Linear(64, WIDTH, kernel_init=he, rngs=rngs)
        self.hidden = nnx.List([nnx.Linear(WIDTH, WIDTH, kernel_init=hidden_init, rngs=rngs)
                                for _ in range(DEPTH)])
        self.out = nnx.Linear(WIDTH, 10, kernel_init=he, rngs=rngs)
        self.residual = residual

    def features(self, x):
        """The last hidden layer's output."""
        h = nnx.relu(self.inp(x))
        for layer in self.hidden:
            f = nnx.relu(layer(h))
            h = h + f if self.residual else f  # the skip connection
        return h

    def __call__(self, x):
        return self.out(self.features(x))


# --8<-- [start:inits]
HE = nnx.initializers.he_normal()  # variance 2 / n_in: keeps a plain ReLU stack at scale
# a residual branch starts small (variance 2 / (DEPTH n_in)): each block adds to the sum,
# which would otherwise double its variance at every block
SMALL = nnx.initializers.variance_scaling(2 / DEPTH, "fan_in", "normal")
NETS = {"plain": (False, HE), "residual": (True, SMALL)}  # name -> (skip connection, init)
# --8<-- [end:inits]
SWAPPED = {"plain_small_init": (False, SMALL), "residual_he_init": (True, HE)}  # controls


@nnx.jit
def signal_std(model: DeepMLP, x: jax.Array) -> jax.Array:
    return model.features(x).std()


def loss_fn(model: nnx.Module, x: jax.Array, y: jax.Array) -> jax.Array:
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()


def plot_curves(runs: dict) -> Figure:
    fig = Figure(figsize=(11, 3.4))
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
    # 1. at initialisation: the std of the last hidden layer, each net with each initialisation
    init_std = {name: float(signal_std(DeepMLP(*net, rngs=nnx.Rngs(model_key)), train[0]))
                for name, net in {**NETS, **SWAPPED}.items()}
    # 2. trained: each net with the initialisation that keeps its signal at scale
    runs = {}
    for name, net in NETS.items():
        model = DeepMLP(*net, rngs=nnx.Rngs(model_key))  # same key for both
        runs[name] = fit(model, optax.adam(LEARNING_RATE), loss_fn, train=train, val=val,
                         epochs=epochs, batch_size=BATCH_SIZE, key=train_key)

    with style():
        save(plot_curves(runs), out_dir / "residual.svg")
        save(plot_block(model.hidden[0]), out_dir / "residual_block.svg")

    result = {"depth": DEPTH, "width": WIDTH, "epochs": len(runs["plain"].val_loss),
              "learning_rate": LEARNING_RATE, "init_std": init_std}
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
            "val_loss": history.val_loss,
        }
    return result


if __name__ == "__main__":
    standalone(main, __file__)
