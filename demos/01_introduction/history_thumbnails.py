"""Thumbnails for the history table: a perceptron, the problems it can and cannot solve, digits.

Rosenblatt's perceptron rule (1957), jitted, runs 20 epochs on two seeded problems: two
Gaussian blobs of 20 points, which it separates (100% accuracy, the learned line is drawn),
and XOR, four blobs labelled by the sign of x·y, which no single line can split (Minsky &
Papert, 1969): no line gets more than three of the four blobs, 75%, right, and the rule's
best epoch reaches 65%. The digits grid shows real
8×8 scans from scikit-learn's `load_digits`, standing in for MNIST (1998).
"""

from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch

from handson.data import digits
from handson.demo import standalone
from handson.figures import save, style

SEED = 0  # one seed: the two toy problems and the digits' split
POINTS = 20  # points per blob (2 blobs for the linear problem, 4 for XOR)
EPOCHS = 20  # passes of the perceptron rule over the data
SPREAD = 0.35  # standard deviation of each blob around its centre
DIGITS_PER_CLASS = 2  # rows of the digits grid (one column per class 0..9)
TOY = (2.0, 0.95)  # inches: the two toy problems side by side, a table thumbnail
BLUE, RED = "#0368bb", "#c20d4f"  # the two classes


# --8<-- [start:perceptron]
@partial(jax.jit, static_argnames="epochs")
def perceptron(x, y, epochs: int = EPOCHS):
    """Rosenblatt's rule: on a mistake, w += y·x (labels ±1; x carries a constant 1 for the bias)."""
    def step(w, xy):
        xi, yi = xy
        mistake = yi * (xi @ w) <= 0
        return w + jnp.where(mistake, yi * xi, 0.0), None

    def epoch(w, _):
        w, _ = jax.lax.scan(step, w, (x, y))
        return w, jnp.mean(jnp.sign(x @ w) == y)  # accuracy after this epoch

    return jax.lax.scan(epoch, jnp.zeros(x.shape[1]), None, length=epochs)
# --8<-- [end:perceptron]


def blobs(rng, centres, labels) -> tuple[np.ndarray, np.ndarray]:
    """POINTS Gaussian points around each centre, with a constant 1 appended for the bias."""
    centres = np.asarray(centres, dtype=np.float32)
    x = (centres[:, None, :] + SPREAD * rng.standard_normal((len(centres), POINTS, 2))).reshape(-1, 2)
    y = np.repeat(np.asarray(labels, dtype=np.float32), POINTS)
    order = rng.permutation(len(x))  # classes mixed, as the perceptron rule sees them one by one
    return np.hstack([x, np.ones((len(x), 1))]).astype(np.float32)[order], y[order]


def scatter(ax, x, y, w) -> None:
    """The points by class, and the perceptron's line w·(x1, x2, 1) = 0."""
    x, y, w = np.asarray(x), np.asarray(y), np.asarray(w)
    for label, color in ((1, BLUE), (-1, RED)):
        ax.scatter(*x[y == label, :2].T, s=5, color=color)
    t = np.linspace(-2.2, 2.2, 2)
    ax.plot(t, -(w[0] * t + w[2]) / w[1], color="#333333", lw=2)
    ax.set(xlim=(-2.2, 2.2), ylim=(-2.2, 2.2), xticks=[], yticks=[], aspect="equal")
    ax.grid(False)
    for spine in ax.spines.values():  # a light frame on all four sides, not the plot axes
        spine.set(visible=True, color="#999999")


def diagram(path: Path) -> None:
    """Two inputs and a bias, weighted, summed, thresholded."""
    fig = Figure(figsize=(1.7, 1.06))  # drawn in data units: 2.4 × 1.5 of them
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set(xlim=(0, 2.4), ylim=(0, 1.5))
    ax.set_axis_off()
    node = {"fontsize": 13, "ha": "center", "va": "center"}  # 17 px on the slide
    for y, label in ((1.25, "x1"), (0.75, "x2"), (0.25, "1")):
        ax.add_patch(Circle((0.3, y), 0.23, facecolor="#dbe9f6", edgecolor="#333333"))
        ax.text(0.3, y, label, **node)
        ax.add_patch(FancyArrowPatch((0.53, y), (1.0, 0.75), arrowstyle="-|>", mutation_scale=12, lw=1.5))
    ax.add_patch(Circle((1.25, 0.75), 0.25, facecolor="#f6dde6", edgecolor="#333333"))
    ax.plot([1.13, 1.25, 1.25, 1.37], [0.65, 0.65, 0.85, 0.85], color="#333333", lw=2)  # the step
    ax.add_patch(FancyArrowPatch((1.5, 0.75), (1.95, 0.75), arrowstyle="-|>", mutation_scale=12, lw=1.5))
    ax.text(2.15, 0.75, "y", **node)
    save(fig, path)


def digit_grid(path: Path) -> list[int]:
    """DIGITS_PER_CLASS rows of real digits, one column per class; returns the labels shown."""
    (x, y), _ = digits(SEED, shape=(8, 8))
    picks = [np.flatnonzero(y == label)[:DIGITS_PER_CLASS] for label in range(10)]
    fig = Figure(figsize=(2.1, 0.24 * DIGITS_PER_CLASS))
    axes = fig.subplots(DIGITS_PER_CLASS, 10, gridspec_kw={"wspace": 0.08, "hspace": 0.08})
    for col, rows in enumerate(picks):
        for row, index in enumerate(rows):
            axes[row, col].imshow(x[index], cmap="gray_r", interpolation="nearest")
            axes[row, col].set_axis_off()
    save(fig, path)
    return [int(y[i]) for rows in picks for i in rows]


def main(out_dir: Path, epochs: int = EPOCHS) -> dict:
    rng = np.random.default_rng(SEED)
    x_lin, y_lin = blobs(rng, [(-1, -1), (1, 1)], [1, -1])
    x_xor, y_xor = blobs(rng, [(-1, -1), (1, 1), (-1, 1), (1, -1)], [1, 1, -1, -1])
    w_lin, acc_lin = perceptron(x_lin, y_lin, epochs)
    w_xor, acc_xor = perceptron(x_xor, y_xor, epochs)
    with style():
        diagram(out_dir / "perceptron.svg")
        fig = Figure(figsize=TOY)
        linear, xor = fig.subplots(1, 2, gridspec_kw={"wspace": 0.12})
        scatter(linear, x_lin, y_lin, w_lin)
        scatter(xor, x_xor, y_xor, w_xor)
        save(fig, out_dir / "toy_problems.svg")
        shown = digit_grid(out_dir / "digits.svg")
    return {
        "points_linear": int(x_lin.shape[0]),
        "points_xor": int(x_xor.shape[0]),
        "epochs": epochs,
        "linear_accuracy": float(acc_lin[-1]),
        "linear_first_perfect_epoch": int(np.argmax(np.asarray(acc_lin) == 1.0)) + 1,
        "xor_accuracy": float(acc_xor[-1]),
        "xor_best_accuracy": float(acc_xor.max()),
        "digits_shown": len(shown),
        "digit_labels": shown,
    }


if __name__ == "__main__":
    standalone(main, __file__)
