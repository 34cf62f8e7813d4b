"""Learning curve on 8x8 digits: held-out accuracy vs number of training images, CNN vs logistic regression.

One seeded 70/30 split of scikit-learn's digits (1,258 to train on, 539 held out); nested seeded
subsets of n = 50, 100, 200, 400, 800 and 1,258 training images. At each n a small CNN
(conv 16 3x3 -> ReLU -> 2x2 max pool -> linear, 2,730 parameters, adam, about 600 gradient
steps whatever n) and scikit-learn's logistic regression are trained on the same images and
scored on the same 539. Both curves climb steeply up to a few hundred images, then flatten:
CNN 84.4% -> 95.4%, logistic regression 79.2% -> 95.4%. The CNN is ahead by 5 points at
n = 50 and the two meet from n = 400 on (equal at 800 and 1,258), so on 8x8 digits this data
set does not show the stylised picture of a deep model pulling away from an older method as
data grows.
"""

from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from matplotlib.figure import Figure
from matplotlib.ticker import MultipleLocator, PercentFormatter
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from handson.data import digits
from handson.demo import standalone
from handson.figures import save, style
from handson.training import fit

SEED = 0  # one seed for everything random in this demo
SIZES = (50, 100, 200, 400, 800, 1258)  # training-set sizes n (1,258 = the whole training split)
STEPS = 600  # at least this many gradient steps per CNN run, whatever n (small n: more epochs)
LEARNING_RATE = 1e-3  # adam's step size
BATCH_SIZE = 32  # images per gradient step
MAX_ITER = 5000  # logistic regression solver iterations (enough to converge)


# --8<-- [start:model]
def flatten(x: jax.Array) -> jax.Array:
    return x.reshape(x.shape[0], -1)


def cnn(rngs: nnx.Rngs) -> nnx.Sequential:
    return nnx.Sequential(
        nnx.Conv(1, 16, (3, 3), padding="SAME", rngs=rngs),  # (n, 8, 8, 16)
        nnx.relu,
        partial(nnx.max_pool, window_shape=(2, 2), strides=(2, 2)),  # (n, 4, 4, 16)
        flatten,  # (n, 256)
        nnx.Linear(256, 10, rngs=rngs),  # one logit per class
    )
# --8<-- [end:model]


def loss_fn(model: nnx.Module, x: jax.Array, y: jax.Array) -> jax.Array:
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()


@nnx.jit
def accuracy(model: nnx.Module, x: jax.Array, y: jax.Array) -> jax.Array:
    return jnp.mean(jnp.argmax(model(x), -1) == y)


def plot(sizes: list[int], cnn_acc: list[float], logreg_acc: list[float]) -> Figure:
    fig = Figure(figsize=(6.5, 5.5))
    ax = fig.add_subplot()
    ax.plot(sizes, cnn_acc, "o-", label="small CNN (JAX)")
    ax.plot(sizes, logreg_acc, "s--", label="logistic regression (scikit-learn)")
    ax.set_xscale("log")
    ax.set_xticks(sizes, [str(n) for n in sizes])
    ax.minorticks_off()
    ax.set_xlabel("training images n (log scale)")
    ax.set_ylabel("held-out accuracy")
    ax.yaxis.set_major_locator(MultipleLocator(0.05))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.legend(loc="lower right")
    return fig


def main(out_dir: Path, sizes: tuple = SIZES, steps: int = STEPS) -> dict:
    subset_key, model_key, train_key = jax.random.split(jax.random.key(SEED), 3)
    (x_train, y_train), val = digits(SEED, shape=(8, 8, 1))
    # nested subsets: the first n images of one seeded order, so a larger n only adds images
    order = np.asarray(jax.random.permutation(subset_key, len(x_train)))
    cnn_acc, logreg_acc = [], []
    for n in sizes:
        x, y = x_train[order[:n]], y_train[order[:n]]
        # --8<-- [start:compare]
        model = cnn(nnx.Rngs(model_key))
        epochs = -(-steps // (n // BATCH_SIZE))  # at least `steps` steps for every n
        fit(model, optax.adam(LEARNING_RATE), loss_fn, train=(x, y), epochs=epochs,
            batch_size=BATCH_SIZE, key=train_key)
        with threadpool_limits(1):  # BLAS threads only fight JAX's for a small CPU
            logreg = LogisticRegression(max_iter=MAX_ITER).fit(x.reshape(n, -1), y)
        # --8<-- [end:compare]
        cnn_acc.append(float(accuracy(model, *val)))
        logreg_acc.append(float(logreg.score(val[0].reshape(len(val[0]), -1), val[1])))

    with style():
        save(plot(list(sizes), cnn_acc, logreg_acc), out_dir / "learning_curve.svg")
    gaps = [c - l for c, l in zip(cnn_acc, logreg_acc)]
    return {
        "sizes": [int(n) for n in sizes],
        "n_val": len(val[0]),
        "steps": steps,
        "cnn_acc": cnn_acc,
        "logreg_acc": logreg_acc,
        "gap": gaps,  # CNN minus logistic regression, per n
        "max_abs_gap": float(max(abs(g) for g in gaps)),
        "params": int(sum(p.size for p in jax.tree.leaves(nnx.state(model, nnx.Param)))),
    }


if __name__ == "__main__":
    standalone(main, __file__)
