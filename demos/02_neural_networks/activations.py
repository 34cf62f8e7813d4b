"""Activation functions and their derivatives, differentiated by `jax.grad`.

Sigmoid, tanh and ReLU (blue) with the derivative JAX computes for them (green, dashed):
sigma'(0) = 0.25, tanh'(0) = 1, relu'(1) = 1 and relu'(-1) = 0. Over the plotted grid the
autodiff derivative matches the closed forms sigma(1 - sigma), 1 - tanh^2 and the step
function to float32 rounding (max abs error below 1e-7).
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MultipleLocator

from handson.demo import standalone
from handson.figures import save, style

N_POINTS = 401  # grid points per panel (odd, so x = 0 is on the grid)
Y_LIM = (-1.5, 1.5)  # the same y range for every panel
BLUE, GREEN = "#0368bb", "#0b794b"  # function, derivative


# --8<-- [start:grad]
def derivative(f):
    """f'(x) at every point of an array x."""
    return jax.jit(jax.vmap(jax.grad(f)))  # grad of a scalar f, mapped over x
# --8<-- [end:grad]


def activations() -> dict:
    """name -> (function, x range of its panel, closed-form derivative)."""
    return {
        "sigmoid": (jax.nn.sigmoid, (-5.0, 5.0),
                    lambda x: jax.nn.sigmoid(x) * (1 - jax.nn.sigmoid(x))),
        "tanh": (jnp.tanh, (-5.0, 5.0), lambda x: 1 - jnp.tanh(x) ** 2),
        "ReLU": (jax.nn.relu, (-2.0, 2.0), lambda x: jnp.where(x > 0, 1.0, 0.0)),
    }


def main(out_dir: Path) -> dict:
    errors = {}
    with style():
        fig = Figure(figsize=(10, 3.6))
        axes = fig.subplots(1, 3)
        for ax, (name, (f, (lo, hi), closed_form)) in zip(axes, activations().items()):
            x = jnp.linspace(lo, hi, N_POINTS)
            y, dy = jax.jit(f)(x), derivative(f)(x)
            errors[name] = float(jnp.max(jnp.abs(dy - jax.jit(closed_form)(x))))
            ax.plot(np.asarray(x), np.asarray(y), color=BLUE, label="f(x)")
            ax.plot(np.asarray(x), np.asarray(dy), color=GREEN, ls="--", label="f'(x)")
            ax.set_title(name)
            ax.set_xlim(lo, hi)
            ax.xaxis.set_major_locator(MultipleLocator(1 if hi <= 2 else 2))
            ax.set_ylim(*Y_LIM)
            ax.set_xlabel("x")
            ax.axhline(0, color="#444444", lw=1)
            ax.axvline(0, color="#444444", lw=1)
        axes[0].legend(loc="upper left")
        fig.tight_layout()
        save(fig, out_dir / "activations.svg")

    points = jnp.array([0.0, 1.0, -1.0])
    d_sigmoid = derivative(jax.nn.sigmoid)(points)
    d_tanh = derivative(jnp.tanh)(points)
    d_relu = derivative(jax.nn.relu)(points)
    results = {
        "sigmoid_grad_at_0": float(d_sigmoid[0]),
        "tanh_grad_at_0": float(d_tanh[0]),
        "relu_grad_at_1": float(d_relu[1]),
        "relu_grad_at_minus_1": float(d_relu[2]),
        "max_abs_error_sigmoid": errors["sigmoid"],
        "max_abs_error_tanh": errors["tanh"],
        "max_abs_error_relu": errors["ReLU"],
        "max_abs_error": max(errors.values()),
    }
    return results


if __name__ == "__main__":
    standalone(main, __file__)
