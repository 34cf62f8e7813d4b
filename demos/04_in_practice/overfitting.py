"""Overfitting: an oversized MLP on 150 digits, train loss falls while validation loss turns up.

One real run: an MLP 64 -> 512 -> 512 -> 10 (301,066 parameters, about 2,000 per training
digit) trained with adam on only 150 digits (a seeded subset of the training split) for 200
epochs, and evaluated after every epoch on the 539 held-out digits. The validation loss reaches
its minimum near epoch 25 (about 0.27: the sweet spot, marked) and then climbs again, about 18%
by epoch 200, while the training loss keeps falling to about 1e-4 and training accuracy reaches
100%. Held-out accuracy stays near 92%: past the minimum the network memorises its 150 digits
and grows more confident on the ones it gets wrong. Stopping at the minimum gives the lowest
validation loss, not the best accuracy: 92.0% there against 92.2% at epoch 200.
Second run, the same one with `fit(..., patience=10)`: it stops 10 epochs after the minimum
(epoch 34) and returns the weights of the minimum, with the same validation loss as the
minimum of the long run.
"""

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
from handson.summary import summary
from handson.training import fit

SEED = 0  # one seed for everything random in this demo
N_TRAIN = 150  # training digits actually used: far too few for the model
HIDDEN = 512  # units in each of the two hidden layers
LEARNING_RATE = 1e-3  # adam's step size
BATCH_SIZE = 32  # digits per gradient step
EPOCHS = 200  # passes over the 150 training digits at full budget
PATIENCE = 10  # early stopping: epochs without a lower validation loss before the run stops
# What a speaker may change live (`make present`, docs/CONTRACTS.md): more digits, less overfitting.
KNOBS = {
    "n_train": {"type": "int", "min": 50, "max": 1258, "label": "training digits"},
    "epochs": {"type": "int", "min": 1, "max": 200, "warm": 1},
}


# --8<-- [start:model]
def big_mlp(rngs: nnx.Rngs) -> nnx.Sequential:
    return nnx.Sequential(
        nnx.Linear(64, HIDDEN, rngs=rngs), nnx.relu,
        nnx.Linear(HIDDEN, HIDDEN, rngs=rngs), nnx.relu,
        nnx.Linear(HIDDEN, 10, rngs=rngs),
    )
# --8<-- [end:model]


def loss_fn(model: nnx.Module, x: jax.Array, y: jax.Array) -> jax.Array:
    logits = model(x)  # (batch, 10)
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


@nnx.jit
def evaluate(model: nnx.Module, x: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Validation loss and accuracy of the weights `fit` returned."""
    return loss_fn(model, x, y), jnp.mean(jnp.argmax(model(x), -1) == y)


def plot(history, best_epoch: int, n_train: int, n_val: int) -> Figure:
    """Left: both losses (log scale). Right: the validation loss alone, zoomed in."""
    epochs = np.arange(1, len(history.train_loss) + 1)
    val_loss = np.asarray(history.val_loss)
    best = val_loss[best_epoch - 1]
    fig = Figure(figsize=(11, 4.2))
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": (1.25, 1)})
    left.plot(epochs, history.train_loss, label=f"train ({n_train} digits)")
    left.plot(epochs, val_loss, label=f"validation ({n_val} held out)")
    left.set_yscale("log")
    left.set_ylabel("cross-entropy")
    left.legend(loc="lower left")
    # zoom: from just below the minimum to the loss a few epochs in
    right.plot(epochs, val_loss, color="C1")
    right.set_ylim(best - 0.02, best + 2.5 * (val_loss[-1] - best) + 0.02)
    right.set_title("validation loss, zoomed", fontsize=16)
    for ax in (left, right):
        ax.axvspan(best_epoch, epochs[-1], color="C1", alpha=0.08, lw=0)
        ax.axvline(best_epoch, color="0.3", ls="--", lw=1.5)
        ax.plot(best_epoch, best, "o", color="C1", ms=10, zorder=3)
        ax.set_xlim(0, epochs[-1] + 1)
        ax.set_xlabel("epoch")
    right.annotate(f"sweet spot: epoch {best_epoch}", (best_epoch, best), xytext=(25, -5),
                   textcoords="offset points", va="top", fontsize=15)
    right.text(0.97, 0.92, "overfitting", transform=right.transAxes, ha="right", va="top",
               color="C1")
    fig.tight_layout()
    return fig


def main(out_dir: Path, epochs: int = EPOCHS, n_train: int = N_TRAIN) -> dict:
    model_key, train_key = jax.random.split(jax.random.key(SEED))
    train, val = digits(SEED, n_train)
    model = big_mlp(nnx.Rngs(model_key))
    params = summary(model, input_shape=(64,)).total

    # --8<-- [start:fit]
    history = fit(model, optax.adam(LEARNING_RATE), loss_fn, train=train, val=val,
                  epochs=epochs, batch_size=BATCH_SIZE, key=train_key, eval_train=True)
    # --8<-- [end:fit]

    # the same run again (same initial weights, same batches), with early stopping
    model = big_mlp(nnx.Rngs(model_key))
    # --8<-- [start:early]
    stopped = fit(model, optax.adam(LEARNING_RATE), loss_fn, train=train, val=val,
                  epochs=epochs, batch_size=BATCH_SIZE, key=train_key,
                  patience=PATIENCE)  # stop, and keep the best weights
    # --8<-- [end:early]
    kept_loss, kept_acc = map(float, evaluate(model, *val))

    best_epoch = history.best_epoch
    with style():
        save(plot(history, best_epoch, len(train[0]), len(val[0])), out_dir / "overfitting.svg")

    return {
        "epochs": len(history.train_loss),
        "n_train": len(train[0]),
        "n_val": len(val[0]),
        "params": params,
        "params_per_digit": params / len(train[0]),
        "best_epoch": best_epoch,
        "best_val_loss": history.val_loss[best_epoch - 1],
        "best_val_acc": history.val_acc[best_epoch - 1],
        "train_loss_at_best": history.train_loss[best_epoch - 1],
        "final_val_loss": history.val_loss[-1],
        "final_val_acc": history.val_acc[-1],
        "final_train_loss": history.train_loss[-1],
        "final_train_acc": history.train_acc[-1],
        "val_loss_rise": history.val_loss[-1] / history.val_loss[best_epoch - 1] - 1,
        "patience": PATIENCE,
        "stopped_epochs": len(stopped.val_loss),  # epochs the early-stopped run trained
        "stopped_best_epoch": stopped.best_epoch,
        "kept_val_loss": kept_loss,  # the weights it returned, measured again
        "kept_val_acc": kept_acc,
        "learning_rate": LEARNING_RATE,
        "hidden": HIDDEN,
        "train_loss": history.train_loss,
        "val_loss": history.val_loss,
    }


if __name__ == "__main__":
    standalone(main, __file__)
