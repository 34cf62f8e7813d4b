"""Combining neurons: decision regions of MLPs with 1, 2, 3 and 8 hidden units on moons and circles.

Each hidden ReLU unit cuts the plane along one line; the output unit combines those cuts.
Training accuracy rises with the number of units. Circles: 64% with one unit (a single line
cannot enclose anything), 80% with two (a band), 100% with three (a closed polygon around the
inner circle) and with eight. Moons: 86%, 87%, 89%, then 99% with eight units, enough to
bend the boundary around both tips. Same data (300 seeded points each, noise 0.15 and 0.1),
same optimizer (adam, learning rate 0.05, batches of 32, 150 epochs) for all eight models;
only the number of hidden units changes.
"""

from pathlib import Path

import jax
import numpy as np
import optax
from flax import nnx
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from sklearn.datasets import make_circles, make_moons

from handson.demo import standalone
from handson.figures import save, style
from handson.training import accuracy, fit

SEED = 2  # one seed for everything random in this demo (data, initial weights, batch order)
POINTS = 300  # points per data set
MOONS_NOISE = 0.15  # std of the Gaussian noise added to the moons
CIRCLES_NOISE = 0.1  # std of the noise added to the circles
CIRCLES_FACTOR = 0.5  # radius of the inner circle relative to the outer one
HIDDEN = (1, 2, 3, 8)  # hidden units, one column of the figure each
LEARNING_RATE = 0.05  # adam's step size
BATCH_SIZE = 32  # points per gradient step
EPOCHS = 150  # passes over the points at full budget
GRID = 200  # pixels per side of the decision-region image
COLORS = ("#0368bb", "#c20d4f")  # class 0, class 1
REGION_COLORS = ("#cddff0", "#f3d0dc")  # light versions for the regions
# What a speaker may change live (`make present`, docs/CONTRACTS.md): fewer epochs, another step size.
KNOBS = {
    "epochs": {"type": "int", "min": 1, "max": 150, "warm": 1},
    "learning_rate": {"type": "float", "min": 1e-3, "max": 1.0, "log": True, "warm_extra": [0.5, 0.005]},
}


# --8<-- [start:model]
def mlp(hidden: int, rngs: nnx.Rngs) -> nnx.Sequential:
    return nnx.Sequential(
        nnx.Linear(2, hidden, rngs=rngs),  # each hidden unit: one line in the plane
        nnx.relu,
        nnx.Linear(hidden, 1, rngs=rngs),  # one logit: class 1 where it is > 0
    )
# --8<-- [end:model]


def loss_fn(model: nnx.Module, x: jax.Array, y: jax.Array) -> jax.Array:
    logits = model(x)[:, 0]  # (batch,)
    return optax.sigmoid_binary_cross_entropy(logits, y).mean()


def datasets(seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Standardised 2-D points (float32) and 0/1 labels (int32), seeded."""
    sets = {
        "moons": make_moons(POINTS, noise=MOONS_NOISE, random_state=seed),
        "circles": make_circles(POINTS, noise=CIRCLES_NOISE, factor=CIRCLES_FACTOR, random_state=seed),
    }
    out = {}
    for name, (x, y) in sets.items():
        x = (x - x.mean(0)) / x.std(0)
        out[name] = (x.astype(np.float32), y.astype(np.int32))
    return out


@nnx.jit
def predict(model: nnx.Module, points: jax.Array) -> jax.Array:
    """Class-1 decision (logit > 0) for each point."""
    return model(points)[:, 0] > 0


@nnx.jit
def train_accuracy(model: nnx.Module, x: jax.Array, y: jax.Array) -> jax.Array:
    return accuracy(model(x), y)


def draw(panels: list[dict], extent: tuple) -> Figure:
    fig = Figure(figsize=(14, 7.2))
    axes = fig.subplots(2, len(panels) // 2, sharex=True, sharey=True, squeeze=False)
    for ax, panel in zip(axes.flat, panels):
        ax.imshow(panel["regions"].astype(np.int8), origin="lower", extent=extent, aspect="auto",
                  cmap=ListedColormap(REGION_COLORS), vmin=0, vmax=1, interpolation="nearest")
        x, y = panel["data"]
        for label in (0, 1):
            ax.scatter(*x[y == label].T, s=10, color=COLORS[label], linewidths=0)
        ax.set_title(f"{panel['hidden']} hidden: {panel['accuracy']:.0%}", fontsize=18)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        for side in ("top", "right"):
            ax.spines[side].set_visible(True)
    for ax, name in zip(axes[:, 0], ("moons", "circles")):
        ax.set_ylabel(name, fontsize=18)
    fig.subplots_adjust(wspace=0.06, hspace=0.22)
    return fig


def main(out_dir: Path, epochs: int = EPOCHS, hidden_units: tuple = HIDDEN,
         learning_rate: float = LEARNING_RATE) -> dict:
    data_key, model_key, train_key = jax.random.split(jax.random.key(SEED), 3)
    sets = datasets(SEED)
    extent = (-2.5, 2.5, -2.5, 2.5)  # the data are standardised
    u = np.linspace(extent[0], extent[1], GRID, dtype=np.float32)
    grid = np.stack(np.meshgrid(u, u), -1).reshape(-1, 2)  # (GRID * GRID, 2) pixel centres

    panels, results = [], {}
    for name, (x, y) in sets.items():
        results[name] = []
        for hidden in hidden_units:
            model = mlp(hidden, nnx.Rngs(model_key))
            # --8<-- [start:fit]
            fit(model, optax.adam(learning_rate), loss_fn, train=(x, y),
                epochs=epochs, batch_size=BATCH_SIZE, key=train_key)
            # --8<-- [end:fit]
            acc = float(train_accuracy(model, x, y))
            regions = np.asarray(predict(model, grid)).reshape(GRID, GRID)
            panels.append({"hidden": hidden, "accuracy": acc, "data": (x, y), "regions": regions})
            results[name].append(acc)
    with style():
        save(draw(panels, extent), out_dir / "decision_regions.svg")

    return {
        "hidden": list(hidden_units),
        "moons_acc": results["moons"],
        "circles_acc": results["circles"],
        "points": POINTS,
        "epochs": epochs,
    }


if __name__ == "__main__":
    standalone(main, __file__)
