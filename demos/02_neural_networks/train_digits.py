"""Training an MLP on scikit-learn's 8x8 digits: train and validation loss per epoch.

One real run: 1,797 digits, a seeded 70/30 split (1,258 to train on, 539 held out), pixels
scaled to [0, 1], an MLP 64 -> 64 -> 10 (4,810 parameters), adam (learning rate 1e-3), softmax
cross-entropy, batches of 32, 50 epochs. Both losses fall fast in the first 10 epochs and
then slowly; the held-out accuracy ends near 96% (train: 99%). The train loss keeps falling
below the validation loss, which flattens out: the model fits the digits it trains on better
than new ones.
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
HIDDEN = 64  # hidden units
LEARNING_RATE = 1e-3  # adam's step size
BATCH_SIZE = 32  # digits per gradient step
EPOCHS = 50  # passes over the training digits at full budget
# What a speaker may change live (`make present`, docs/CONTRACTS.md): "what if the step were 10x larger?"
KNOBS = {
    "learning_rate": {"type": "float", "min": 1e-4, "max": 1.0, "log": True, "warm_extra": [1e-2, 1e-4]},
    "epochs": {"type": "int", "min": 1, "max": 100, "warm": 1},
}


# --8<-- [start:model]
def mlp(rngs: nnx.Rngs) -> nnx.Sequential:
    return nnx.Sequential(
        nnx.Linear(64, HIDDEN, rngs=rngs),  # 8x8 pixels -> hidden
        nnx.relu,
        nnx.Linear(HIDDEN, 10, rngs=rngs),  # -> one logit per class
    )
# --8<-- [end:model]


# --8<-- [start:loss]
def loss_fn(model: nnx.Module, x: jax.Array, y: jax.Array) -> jax.Array:
    logits = model(x)  # (batch, 10)
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
# --8<-- [end:loss]


def plot(history, best_epoch: int) -> tuple[Figure, Figure]:
    epochs = np.arange(1, len(history.train_loss) + 1)
    loss_fig = Figure(figsize=(5.4, 3.8))  # shown at half width
    ax = loss_fig.add_subplot()
    ax.plot(epochs, history.train_loss, label="train loss")
    ax.plot(epochs, history.val_loss, label="validation loss")
    ax.plot(best_epoch, history.val_loss[best_epoch - 1], "o", color="C1", ms=9,
            label=f"lowest validation loss (epoch {best_epoch})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy")
    ax.set_yscale("log")
    ax.legend()
    acc_fig = Figure()
    ax = acc_fig.add_subplot()
    ax.plot(epochs, history.train_acc, label="train accuracy")
    ax.plot(epochs, history.val_acc, label="validation accuracy")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0.5, 1.005)
    ax.legend(loc="lower right")
    return loss_fig, acc_fig


def main(out_dir: Path, epochs: int = EPOCHS, learning_rate: float = LEARNING_RATE) -> dict:
    model_key, train_key = jax.random.split(jax.random.key(SEED))
    train, val = digits(SEED)
    model = mlp(nnx.Rngs(model_key))
    table = summary(model, input_shape=(64,))
    table.write(out_dir / "summary.txt")

    # --8<-- [start:fit]
    history = fit(model, optax.adam(learning_rate), loss_fn,
                  train=train, val=val, epochs=epochs,
                  batch_size=BATCH_SIZE, key=train_key,
                  eval_train=True)
    # --8<-- [end:fit]

    best_epoch = history.best_epoch
    with style():
        loss_fig, acc_fig = plot(history, best_epoch)
        save(loss_fig, out_dir / "loss.svg")
        save(acc_fig, out_dir / "accuracy.svg")

    return {
        "epochs": len(history.train_loss),
        "n_train": len(train[0]),
        "n_val": len(val[0]),
        "image_side": int(np.sqrt(train[0].shape[1])),  # 64 pixels = 8×8
        "layers": [int(model.layers[0].kernel.shape[0])]
        + [int(layer.kernel.shape[1]) for layer in model.layers if isinstance(layer, nnx.Linear)],
        "params": table.total,
        "steps_per_epoch": len(train[0]) // BATCH_SIZE,
        "final_train_loss": history.train_loss[-1],
        "final_val_loss": history.val_loss[-1],
        "final_train_acc": history.train_acc[-1],
        "final_val_acc": history.val_acc[-1],
        "best_val_loss": history.val_loss[best_epoch - 1],
        "best_epoch": best_epoch,
        "first_val_loss": history.val_loss[0],
        "first_val_acc": history.val_acc[0],
    }


if __name__ == "__main__":
    standalone(main, __file__)
