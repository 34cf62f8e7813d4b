"""XOR: no straight line separates it, one hidden layer of two units does.

The four points (0, 0), (1, 1) of class 0 and (0, 1), (1, 0) of class 1, trained with `fit`
(adam, sigmoid cross-entropy, the four points as one batch). Without a hidden layer the model
is a single line, p = σ(w·x + b): the best it can do is to predict 0.5 everywhere (weights
→ 0), so its loss stays at ln 2 = 0.693 and no point is classified with confidence. With one
hidden layer of two tanh units each unit draws a line and the output combines them: the loss
falls below 0.01 and all four points are right.
"""

from pathlib import Path

import jax
import numpy as np
import optax
from flax import nnx
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure

from handson.demo import standalone
from handson.figures import save, style
from handson.training import accuracy, fit

SEED = 0  # one seed for everything random in this demo (initial weights)
POINTS = ((0, 0), (0, 1), (1, 0), (1, 1))  # the four inputs
LABELS = (0, 1, 1, 0)  # XOR of the two coordinates
HIDDEN = 2  # hidden units of the second model
LEARNING_RATE = 0.1  # adam's step size, both models
EPOCHS = 250  # full-batch steps at full budget
GRID = 101  # pixels per side of the probability image
COLORS = ("#0368bb", "#c20d4f")  # class 0, class 1
CMAP = LinearSegmentedColormap.from_list("xor", ["#9cc3e6", "#ffffff", "#eba3bd"])  # p = 0, ½, 1


# --8<-- [start:models]
def linear(rngs: nnx.Rngs) -> nnx.Linear:
    return nnx.Linear(2, 1, rngs=rngs)  # one line: no hidden layer


def hidden(rngs: nnx.Rngs) -> nnx.Sequential:
    return nnx.Sequential(
        nnx.Linear(2, HIDDEN, rngs=rngs), nnx.tanh,  # each unit: one line
        nnx.Linear(HIDDEN, 1, rngs=rngs),  # combines the lines
    )
# --8<-- [end:models]


def loss_fn(model, x, y):
    return optax.sigmoid_binary_cross_entropy(model(x)[:, 0], y).mean()


def draw(panels: list[dict], x: np.ndarray, y: np.ndarray) -> Figure:
    fig = Figure(figsize=(9, 4.3))
    axes = fig.subplots(1, len(panels))
    u = np.linspace(-0.5, 1.5, GRID)
    for ax, panel in zip(axes, panels):
        image = ax.imshow(panel["probability"], origin="lower", extent=(-0.5, 1.5, -0.5, 1.5),
                          cmap=CMAP, vmin=0, vmax=1)
        if np.ptp(panel["probability"]) > 0.1:  # the p = ½ boundary, where there is one
            ax.contour(u, u, panel["probability"], levels=[0.5], colors="#444444", linewidths=1.5)
        for label in (0, 1):
            ax.scatter(*x[y == label].T, s=260, color=COLORS[label], edgecolor="white", lw=2,
                       zorder=3, label=f"class {label}")
        ax.set_title(f"{panel['title']}\nloss {panel['loss']:.3f}\n{panel['verdict']}", fontsize=16)
        ax.set_xticks([0, 1])
        ax.set_yticks([0, 1])
        ax.grid(False)
    fig.colorbar(image, ax=axes, label="predicted p(class 1)", shrink=0.85)
    return fig


def main(out_dir: Path, epochs: int = EPOCHS) -> dict:
    linear_key, hidden_key, train_key = jax.random.split(jax.random.key(SEED), 3)
    x = np.asarray(POINTS, np.float32)
    y = np.asarray(LABELS, np.float32)
    u = np.linspace(-0.5, 1.5, GRID, dtype=np.float32)
    grid = np.stack(np.meshgrid(u, u), -1).reshape(-1, 2)  # (GRID * GRID, 2)

    panels, results = [], {}
    for name, title, model in (("linear", "no hidden layer", linear(nnx.Rngs(linear_key))),
                               ("hidden", f"{HIDDEN} hidden units", hidden(nnx.Rngs(hidden_key)))):
        fit(model, optax.adam(LEARNING_RATE), loss_fn, train=(x, y), epochs=epochs,
            batch_size=len(x), key=train_key)
        logits = model(x)
        loss = float(loss_fn(model, x, y))
        acc = float(accuracy(logits, y))
        p = np.asarray(jax.nn.sigmoid(logits[:, 0]))
        probability = np.asarray(jax.nn.sigmoid(model(grid)[:, 0])).reshape(GRID, GRID)
        spread = float(np.abs(p - 0.5).max())
        verdict = ("p = 0.50 at every point" if spread < 0.01
                   else f"{round(acc * len(x))} of {len(x)} right")
        panels.append({"title": title, "loss": loss, "verdict": verdict, "probability": probability})
        results[name] = {"loss": loss, "accuracy": acc, "probabilities": p.tolist(),
                         "max_distance_from_half": spread}
    with style():
        save(draw(panels, x, y), out_dir / "xor.svg")

    return {
        "points": [list(p) for p in POINTS],
        "labels": list(LABELS),
        "hidden_units": HIDDEN,
        "epochs": epochs,
        "ln2": float(np.log(2)),
        **results,
    }


if __name__ == "__main__":
    standalone(main, __file__)
