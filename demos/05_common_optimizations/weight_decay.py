"""Weight decay: adamw without and with decay on 150 training digits, validation loss and weights.

An MLP 64 -> 256 -> 256 -> 10 (85,002 parameters) on only 150 digits overfits: its validation
loss is lowest at epoch 43 (0.252) and then creeps back up (0.283 at epoch 120) while the
training loss goes to 0.001. With `optax.adamw(1e-3, weight_decay=1.0)` every step also shrinks
each weight by a factor 1 - 1e-3 x 1.0, pulling the weights the data does not push back towards
0: they end smaller (global norm 19 instead of 26; the right panel shows the 256 x 256 hidden
kernel) and the validation loss creeps up less (0.265 at epoch 120). The lowest validation loss
barely changes (0.256): here decay slows overfitting more than it improves the best model.
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
N_TRAIN = 150  # training digits: few, so the MLP overfits
HIDDEN = 256  # units in each of the two hidden layers
LEARNING_RATE = 1e-3  # adamw's step size
WEIGHT_DECAYS = (0.0, 1.0)  # adamw's weight_decay: off, on
BATCH_SIZE = 32  # digits per gradient step
EPOCHS = 120  # passes over the 150 training digits
BINS = 60  # histogram bins


def mlp(rngs: nnx.Rngs) -> nnx.Sequential:
    return nnx.Sequential(nnx.Linear(64, HIDDEN, rngs=rngs), nnx.relu,
                          nnx.Linear(HIDDEN, HIDDEN, rngs=rngs), nnx.relu,
                          nnx.Linear(HIDDEN, 10, rngs=rngs))


def loss_fn(model: nnx.Module, x: jax.Array, y: jax.Array) -> jax.Array:
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()


def main(out_dir: Path, epochs: int = EPOCHS) -> dict:
    model_key, train_key = jax.random.split(jax.random.key(SEED))
    train, val = digits(SEED, N_TRAIN)
    runs, models = {}, {}
    for decay in WEIGHT_DECAYS:
        model = mlp(nnx.Rngs(model_key))  # same initial weights for both runs
        # --8<-- [start:adamw]
        # each step: w <- w - lr * (adam step + weight_decay * w)
        tx = optax.adamw(LEARNING_RATE, weight_decay=decay)
        # --8<-- [end:adamw]
        runs[decay] = fit(model, tx, loss_fn, train=train, val=val, epochs=epochs,
                          batch_size=BATCH_SIZE, key=train_key)
        models[decay] = model

    with style():
        fig = Figure(figsize=(11, 3.4))
        loss_ax, hist_ax = fig.subplots(1, 2)
        kernels = {d: np.asarray(m.layers[2].kernel[...], np.float64) for d, m in models.items()}
        limit = max(np.abs(k).max() for k in kernels.values())
        edges = np.linspace(-limit, limit, BINS + 1)
        for decay, history in runs.items():
            label = f"weight_decay={decay:g}"
            epochs_axis = np.arange(1, len(history.val_loss) + 1)
            loss_ax.plot(epochs_axis, history.val_loss, label=label)
            hist_ax.hist(kernels[decay].ravel(), bins=edges, histtype="step", lw=2.5, label=label)
        loss_ax.set_xlabel("epoch")
        loss_ax.set_ylabel("validation loss")
        loss_ax.set_yscale("log")
        loss_ax.legend(loc="upper right")
        hist_ax.set_yscale("log")
        hist_ax.set_ylim(0.5, 2e5)  # room for the legend above the peak (~1e4)
        hist_ax.set_xlabel(f"hidden kernel value ({HIDDEN}×{HIDDEN}), after training")
        hist_ax.set_ylabel("count")
        hist_ax.legend(loc="upper right")
    save(fig, out_dir / "weight_decay.svg")

    result = {"n_train": len(train[0]), "epochs": len(runs[WEIGHT_DECAYS[0]].val_loss),
              "params": sum(p.size for p in jax.tree.leaves(nnx.state(models[0.0], nnx.Param))),
              "weight_decays": [float(d) for d in WEIGHT_DECAYS], "learning_rate": LEARNING_RATE,
              "hidden": HIDDEN,
              # adamw shrinks every weight by learning_rate * weight_decay per step
              "shrink_per_step": LEARNING_RATE * max(WEIGHT_DECAYS)}
    for decay, history in runs.items():
        name = "no_decay" if decay == 0 else "decay"
        best = history.best_epoch
        result[name] = {
            "weight_decay": float(decay),
            "best_val_loss": history.val_loss[best - 1],
            "best_epoch": best,
            "final_val_loss": history.val_loss[-1],
            "final_val_acc": history.val_acc[-1],
            "final_train_loss": history.train_loss[-1],
            "weight_norm": float(optax.tree.norm(nnx.state(models[decay], nnx.Param))),
            "hidden_kernel_std": float(kernels[decay].std()),
        }
    return result


if __name__ == "__main__":
    standalone(main, __file__)
