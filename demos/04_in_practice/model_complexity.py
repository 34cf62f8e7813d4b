"""Model complexity: polynomial fits of degree 1 to 15, train and test error vs degree.

Synthetic 1-D data (seeded): y = sin(2 pi x) + Gaussian noise (standard deviation 0.25), 30
training points and 200 test points on [0, 1]. Each degree is an exact least-squares fit (a
Legendre basis keeps the float32 solve well conditioned). The training error can only go down
as the degree grows; the test error falls, bottoms out at a middle degree, then climbs by
orders of magnitude: degree 1 underfits, degree 15 threads every noisy training point.
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure

from handson.demo import standalone
from handson.figures import save, style

SEED = 0  # one seed for everything random in this demo
N_TRAIN = 30  # training points
N_TEST = 200  # test points, from the same distribution
NOISE = 0.25  # standard deviation of the noise added to sin(2 pi x)
MAX_DEGREE = 15  # fit every degree from 1 to this one
GRID = 400  # points on which the fitted curves are drawn


def truth(x: jax.Array) -> jax.Array:
    return jnp.sin(2 * jnp.pi * x)


def legendre_features(x: jax.Array, degree: int) -> jax.Array:
    """(n,) points in [0, 1] -> (n, degree + 1) Legendre polynomials P_0..P_degree of 2x - 1."""
    t = 2 * x - 1
    columns = [jnp.ones_like(t), t]
    for k in range(1, degree):  # Bonnet's recursion: (k+1) P_{k+1} = (2k+1) t P_k - k P_{k-1}
        columns.append(((2 * k + 1) * t * columns[k] - k * columns[k - 1]) / (k + 1))
    return jnp.stack(columns[:degree + 1], axis=1)


# --8<-- [start:fit]
def fit_polynomial(x, y, degree, max_degree: int) -> jax.Array:
    """Least-squares coefficients w = argmin |features(x) @ w - y|^2 of one degree.

    Columns above `degree` are zeroed (their coefficients come out 0), so every degree has
    the same shapes and one compiled function fits them all.
    """
    keep = jnp.arange(max_degree + 1) <= degree
    w, *_ = jnp.linalg.lstsq(legendre_features(x, max_degree) * keep, y)
    return w


@jax.jit(static_argnames="max_degree")
def fit_all(x, y, x_test, y_test, max_degree: int):
    degrees = jnp.arange(1, max_degree + 1)
    w = jax.vmap(fit_polynomial, (None, None, 0, None))(x, y, degrees, max_degree)
    train_mse = jnp.mean((legendre_features(x, max_degree) @ w.T - y[:, None]) ** 2, 0)
    test_mse = jnp.mean((legendre_features(x_test, max_degree) @ w.T - y_test[:, None]) ** 2, 0)
    return w, train_mse, test_mse  # (degrees, max_degree + 1), (degrees,), (degrees,)
# --8<-- [end:fit]


def make_data(key: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
    x_key, noise_key = jax.random.split(key)
    x = jax.random.uniform(x_key, (n,))
    return x, truth(x) + NOISE * jax.random.normal(noise_key, (n,))


def plot(degrees, train_mse, test_mse, shown, fits, train, grid) -> Figure:
    fig = Figure(figsize=(10, 5.8))
    grid_spec = fig.add_gridspec(2, 3, height_ratios=(1.15, 1))
    ax = fig.add_subplot(grid_spec[0, :])
    ax.plot(degrees, train_mse, "o-", label=f"train error ({len(train[0])} points)")
    ax.plot(degrees, test_mse, "o-", label="test error (new points)")
    ax.axhline(NOISE ** 2, color="0.4", ls=":", lw=1.5, label="noise level")
    for degree, name, ha in zip(shown, ("underfit", "good fit", "overfit"), ("left", "center", "right")):
        ax.annotate(name, (degree, test_mse[degree - 1]), xytext=(0, 14),
                    textcoords="offset points", ha=ha, fontsize=14)
    ax.set_yscale("log")
    ax.set_xlabel("polynomial degree (model complexity)")
    ax.set_ylabel("mean squared error")
    ax.set_xticks(degrees)
    ax.set_ylim(top=max(test_mse) * 8)
    ax.legend(loc="upper left", ncols=3)
    x, y = train
    for i, (degree, curve) in enumerate(zip(shown, fits)):
        ax = fig.add_subplot(grid_spec[1, i])
        ax.plot(grid, truth(grid), color="0.6", lw=1.5)
        ax.plot(x, y, "o", color="C0", ms=5)
        ax.plot(grid, curve, color="C1")
        ax.set_ylim(-1.9, 1.9)
        ax.set_title(f"degree {degree}", fontsize=16)
        ax.set_xlabel("x")
        if i > 0:
            ax.set_yticklabels([])
    fig.tight_layout()
    return fig


def main(out_dir: Path, max_degree: int = MAX_DEGREE) -> dict:
    train_key, test_key = jax.random.split(jax.random.key(SEED))
    x, y = make_data(train_key, N_TRAIN)
    x_test, y_test = make_data(test_key, N_TEST)

    degrees = list(range(1, max_degree + 1))
    w, train_mse, test_mse = fit_all(x, y, x_test, y_test, max_degree)
    train_mse, test_mse = train_mse.tolist(), test_mse.tolist()
    best = degrees[int(np.argmin(test_mse))]
    shown = [degrees[0], best, degrees[-1]]  # underfit, good fit, overfit

    grid = jnp.linspace(0, 1, GRID)
    fits = [legendre_features(grid, max_degree) @ w[d - 1] for d in shown]
    with style():
        save(plot(degrees, train_mse, test_mse, shown, fits, (x, y), grid),
             out_dir / "complexity.svg")

    return {
        "n_train": N_TRAIN,
        "n_test": N_TEST,
        "noise_mse": NOISE ** 2,
        "degrees": degrees,
        "train_mse": train_mse,
        "test_mse": test_mse,
        "best_degree": best,
        "best_test_mse": test_mse[best - 1],
        "shown_degrees": shown,
        "underfit_degree": shown[0],
        "overfit_degree": shown[-1],
        "underfit_test_mse": test_mse[0],
        "overfit_test_mse": test_mse[-1],
        "overfit_train_mse": train_mse[-1],
        "params_overfit": degrees[-1] + 1,
    }


if __name__ == "__main__":
    standalone(main, __file__)
