"""Input normalisation: validation loss with raw vs standardised inputs, on digits and on wine.

The same MLP (inputs -> 64 -> classes), adam 1e-3, trained twice per data set: on the raw
features, and on features standardised with the training set's mean and std. Digits' 64 pixels
all share one scale (0..16), so raw pixels mostly act as a larger step size: the raw run is a
little noisier but both end near the same validation loss (0.13 raw, 0.12 standardised). Scikit-learn's wine data (178 wines, 13 chemical
measurements, 3 cultivars) mixes scales: the standard deviations of its features range from
0.12 (nonflavanoid phenols) to 310 (proline). On raw features the first epoch's validation loss
is 109 and the run ends at 0.68 (79% accuracy); standardised, the loss falls smoothly from 1.15
to 0.06 (98%).
"""

from pathlib import Path

import jax
import numpy as np
import optax
from flax import nnx
from matplotlib.figure import Figure
from sklearn.datasets import load_digits, load_wine

from handson.data import split
from handson.demo import standalone
from handson.figures import save, style
from handson.training import fit

SEED = 0  # one seed for everything random in this demo
HIDDEN = 64  # hidden units
LEARNING_RATE = 1e-3  # adam's step size
BATCH_SIZE = 16  # examples per gradient step (wine has only 125 to train on)
EPOCHS = 40  # passes over the training set per run
DATASETS = {"digits": load_digits, "wine": load_wine}  # scikit-learn loaders, shipped offline


# --8<-- [start:standardise]
def standardise(train_x, x):
    """(x - mean) / std per feature, with the training set's statistics."""
    mean, std = train_x.mean(axis=0), train_x.std(axis=0)
    std = np.where(std > 0, std, 1)  # some border pixels are always 0
    return (x - mean) / std
# --8<-- [end:standardise]


def mlp(n_in: int, n_out: int, rngs: nnx.Rngs) -> nnx.Sequential:
    return nnx.Sequential(nnx.Linear(n_in, HIDDEN, rngs=rngs), nnx.relu,
                          nnx.Linear(HIDDEN, n_out, rngs=rngs))


def loss_fn(model: nnx.Module, x: jax.Array, y: jax.Array) -> jax.Array:
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()


def main(out_dir: Path, epochs: int = EPOCHS) -> dict:
    model_key, train_key = jax.random.split(jax.random.key(SEED))
    runs, stds = {}, {}
    for data, load in DATASETS.items():
        bunch = load()
        x, y = bunch.data.astype(np.float32), bunch.target.astype(np.int32)
        (x_train, y_train), (x_val, y_val) = split(x, y, SEED)
        stds[data] = dict(zip(bunch.feature_names, x_train.std(axis=0).tolist()))
        inputs = {"raw": (x_train, x_val),
                  "standardised": (standardise(x_train, x_train), standardise(x_train, x_val))}
        for how, (xt, xv) in inputs.items():
            model = mlp(x.shape[1], int(y.max()) + 1, nnx.Rngs(model_key))
            runs[data, how] = fit(model, optax.adam(LEARNING_RATE), loss_fn, train=(xt, y_train),
                                  val=(xv, y_val), epochs=epochs, batch_size=BATCH_SIZE,
                                  key=train_key)

    with style():
        fig = Figure(figsize=(11, 3.1))
        for ax, data in zip(fig.subplots(1, 2), DATASETS):
            for how in ("raw", "standardised"):
                history = runs[data, how]
                ax.plot(np.arange(1, len(history.val_loss) + 1), history.val_loss, label=how)
            ax.set_yscale("log")
            ax.set_title(data)
            ax.set_xlabel("epoch")
            ax.set_ylabel("validation loss")
            ax.legend(loc="upper right")
    save(fig, out_dir / "normalisation.svg")

    result = {"epochs": len(runs["digits", "raw"].val_loss)}
    for (data, how), history in runs.items():
        result.setdefault(data, {})[how] = {
            "first_val_loss": history.val_loss[0],
            "max_val_loss": max(history.val_loss),
            "final_val_loss": history.val_loss[-1],
            "final_val_acc": history.val_acc[-1],
        }
    for data, std in stds.items():  # how different the features' scales are (training set)
        spread = {name: value for name, value in std.items() if value > 0}
        low, high = min(spread, key=spread.get), max(spread, key=spread.get)
        result[data].update(features=len(std), smallest_std_feature=low, largest_std_feature=high,
                            smallest_std=spread[low], largest_std=spread[high],
                            std_ratio=spread[high] / spread[low])
    return result


if __name__ == "__main__":
    standalone(main, __file__)
