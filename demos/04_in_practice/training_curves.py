"""Training curves of a small CNN on the 8x8 digits: loss, accuracy and a dashboard from one run.

One real run: a seeded 70/30 split of scikit-learn's 1,797 digits (1,258 to train on, 539 held
out), a CNN Conv(1 -> 16, 3x3, SAME) -> ReLU -> 2x2 max pool -> Linear(256 -> 10), adam whose
learning rate warms up linearly for 3 epochs, then decays along a cosine to zero (2,730
parameters, 30 epochs). The validation loss falls from 2.2 to about 0.13 in the first 10 epochs,
then slowly to about 0.08; the train loss ends lower (about 0.04). Accuracy ends near 99% on
the training digits and near 97.5% on the held-out ones. The dashboard shows the same run's
logs side by side: both losses, the gradient norm (falls about 4x) and the learning rate the
optimizer really used.
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
from handson.summary import summary
from handson.training import fit

SEED = 0  # one seed for everything random in this demo
FILTERS = 16  # channels of the convolution
PEAK_LR = 3e-3  # learning rate at the end of the warmup
WARMUP_EPOCHS = 3  # epochs of linear warmup from 0 to PEAK_LR
BATCH_SIZE = 32  # digits per gradient step
EPOCHS = 30  # passes over the training digits at full budget


def max_pool(x: jax.Array) -> jax.Array:
    return nnx.max_pool(x, window_shape=(2, 2), strides=(2, 2))  # halves height and width


def flatten(x: jax.Array) -> jax.Array:
    return x.reshape(x.shape[0], -1)  # (batch, h, w, c) -> (batch, h * w * c)


# --8<-- [start:model]
def cnn(rngs: nnx.Rngs) -> nnx.Sequential:
    return nnx.Sequential(
        # (8, 8, 1) -> (8, 8, 16)
        nnx.Conv(1, FILTERS, (3, 3), padding="SAME",
                 rngs=rngs),
        nnx.relu,
        max_pool,  # -> (4, 4, 16)
        flatten,  # -> (256,)
        nnx.Linear(4 * 4 * FILTERS, 10, rngs=rngs),
    )
# --8<-- [end:model]


def loss_fn(model: nnx.Module, x: jax.Array, y: jax.Array) -> jax.Array:
    logits = model(x)  # (batch, 10)
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def plot_loss(epochs, history, best_epoch: int) -> Figure:
    fig = Figure(figsize=(5.2, 4.4))
    ax = fig.add_subplot()
    ax.plot(epochs, history.train_loss, label="train loss")
    ax.plot(epochs, history.val_loss, label="validation loss")
    ax.plot(best_epoch, history.val_loss[best_epoch - 1], "o", color="C1", ms=9,
            label=f"lowest validation\nloss (epoch {best_epoch})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy")
    ax.set_yscale("log")
    ax.legend()
    return fig


def plot_accuracy(epochs, history) -> Figure:
    fig = Figure(figsize=(5.2, 4.4))
    ax = fig.add_subplot()
    ax.plot(epochs, history.train_acc, label="train accuracy")
    ax.plot(epochs, history.val_acc, label="validation accuracy")
    best = int(np.argmax(history.val_acc))
    ax.plot(epochs[best], history.val_acc[best], "o", color="C1", ms=9,
            label=f"best validation\naccuracy (epoch {epochs[best]})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.set_ylim(np.floor(min(history.train_acc + history.val_acc) * 10) / 10, 1.01)
    ax.legend(loc="lower right")
    return fig


def plot_dashboard(epochs, history) -> Figure:
    """Four panels, one logged scalar each, like a TensorBoard 'Scalars' page."""
    fig = Figure(figsize=(10.5, 5.6))
    panels = [("loss", history.train_loss, "C0"),
              ("val_loss", history.val_loss, "C1"),
              ("grad_norm", history.grad_norm, "C2"),
              ("learning_rate (×1e-3)", np.asarray(history.learning_rate) * 1e3, "C3")]
    axes = fig.subplots(2, 2, sharex=True)
    for ax, (name, values, color) in zip(axes.flat, panels):
        ax.plot(epochs, values, color=color)
        ax.set_title(name, loc="left", fontsize=16)
        if name in ("loss", "val_loss"):
            ax.set_yscale("log")
    for ax in axes[1]:
        ax.set_xlabel("epoch")
    fig.tight_layout()
    return fig


def main(out_dir: Path, epochs: int = EPOCHS) -> dict:
    model_key, train_key = jax.random.split(jax.random.key(SEED))
    train, val = digits(SEED, shape=(8, 8, 1))
    model = cnn(nnx.Rngs(model_key))
    table = summary(model, input_shape=(8, 8, 1))
    table.write(out_dir / "summary.txt")
    steps_per_epoch = len(train[0]) // BATCH_SIZE
    warmup_epochs = min(WARMUP_EPOCHS, epochs - 1)  # shorter for tiny test runs

    # --8<-- [start:optimizer]
    schedule = optax.warmup_cosine_decay_schedule(
        init_value=0.0, peak_value=PEAK_LR,
        warmup_steps=warmup_epochs * steps_per_epoch,
        decay_steps=epochs * steps_per_epoch)
    # the learning rate in use is kept in the optimizer
    # state, where fit() reads and logs it
    tx = optax.inject_hyperparams(optax.adam)(
        learning_rate=schedule)
    # --8<-- [end:optimizer]

    # --8<-- [start:fit]
    history = fit(model, tx, loss_fn, train=train, val=val,
                  epochs=epochs, batch_size=BATCH_SIZE,
                  key=train_key, eval_train=True)
    # --8<-- [end:fit]

    best_epoch = history.best_epoch
    epoch_axis = np.arange(1, len(history.train_loss) + 1)
    with style():
        save(plot_loss(epoch_axis, history, best_epoch), out_dir / "loss.svg")
        save(plot_accuracy(epoch_axis, history), out_dir / "accuracy.svg")
        save(plot_dashboard(epoch_axis, history), out_dir / "dashboard.svg")

    return {
        "epochs": len(history.train_loss),
        "n_train": len(train[0]),
        "n_val": len(val[0]),
        "params": table.total,
        "steps_per_epoch": steps_per_epoch,
        "peak_lr": PEAK_LR,
        "filters": FILTERS,
        "warmup_epochs": warmup_epochs,
        "first_val_loss": history.val_loss[0],
        "first_val_acc": history.val_acc[0],
        "final_train_loss": history.train_loss[-1],
        "final_val_loss": history.val_loss[-1],
        "final_train_acc": history.train_acc[-1],
        "final_val_acc": history.val_acc[-1],
        "best_epoch": best_epoch,
        "best_val_loss": history.val_loss[best_epoch - 1],
        "best_val_acc": max(history.val_acc),
        "best_val_acc_epoch": int(np.argmax(history.val_acc)) + 1,
        "max_lr": max(history.learning_rate),
        "final_lr": history.learning_rate[-1],
        "first_grad_norm": history.grad_norm[0],
        "final_grad_norm": history.grad_norm[-1],
        "train_loss": history.train_loss,
        "val_loss": history.val_loss,
        "train_acc": history.train_acc,
        "val_acc": history.val_acc,
        "grad_norm": history.grad_norm,
        "learning_rate": history.learning_rate,
    }


if __name__ == "__main__":
    standalone(main, __file__)
