"""Weight initialisation: three initialisers' kernels, and the signal through 10 ReLU layers.

Left: the values of one 256 -> 256 kernel drawn by `nnx.initializers.lecun_normal` (Flax's
default, std sqrt(1/256) = 0.0625), `glorot_uniform` (Keras's default, uniform on +-0.108, the
same std 0.0625 for a square layer) and `he_normal` (std sqrt(2/256) = 0.088); both normals are
truncated at two standard deviations. Right: the std of
the activations of 1,000 standard-normal inputs after each of 10 Linear + ReLU layers. ReLU
zeroes half of each layer's input, so with a variance of 1/fan_in the signal shrinks by about
sqrt(2) per layer (0.58 after one layer, 0.027 after 10, for LeCun and Glorot alike); He's 2/fan_in compensates and the std stays
near 0.8 at every depth.
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from matplotlib.figure import Figure

from handson.demo import standalone
from handson.figures import save, style

SEED = 0  # one seed for everything random in this demo
WIDTH = 256  # fan-in = fan-out of every layer
LAYERS = 10  # Linear + ReLU layers the signal goes through
SAMPLES = 1000  # standard-normal inputs pushed through the stack
BINS = 60  # histogram bins

# --8<-- [start:inits]
INITS = {  # kernel variance, for n_in inputs and n_out outputs
    "lecun_normal": nnx.initializers.lecun_normal(),  # 1/n_in
    "glorot_uniform": nnx.initializers.glorot_uniform(),  # 2/(n_in+n_out)
    "he_normal": nnx.initializers.he_normal(),  # 2/n_in
}
# --8<-- [end:inits]


@jax.jit
def activation_stds(kernels: jax.Array, x: jax.Array) -> jax.Array:
    """Std of the ReLU outputs after each layer; kernels (LAYERS, WIDTH, WIDTH), x (SAMPLES, WIDTH)."""
    def layer(h, kernel):
        h = jax.nn.relu(h @ kernel)  # biases start at 0, so they are left out
        return h, jnp.std(h)
    return jax.lax.scan(layer, x, kernels)[1]  # (LAYERS,)


def main(out_dir: Path, samples: int = SAMPLES) -> dict:
    init_key, data_key = jax.random.split(jax.random.key(SEED))
    x = jax.random.normal(data_key, (samples, WIDTH))
    layer_keys = jax.random.split(init_key, LAYERS)  # same keys for every initialiser
    kernels, stds = {}, {}
    for name, init in INITS.items():
        stack = jnp.stack([init(k, (WIDTH, WIDTH)) for k in layer_keys])  # (LAYERS, WIDTH, WIDTH)
        kernels[name] = np.asarray(stack[0], np.float64)
        stds[name] = np.asarray(activation_stds(stack, x), np.float64)

    with style():
        fig = Figure(figsize=(11, 3.0))
        hist_ax, std_ax = fig.subplots(1, 2)
        edges = np.linspace(-0.25, 0.25, BINS + 1)
        peak = 0
        for (name, kernel), ls in zip(kernels.items(), ["-", "--", "-"]):
            counts = hist_ax.hist(kernel.ravel(), bins=edges, histtype="step", lw=2.5, label=name)[0]
            peak = max(peak, counts.max())
            std_ax.plot(np.arange(1, LAYERS + 1), stds[name], ls=ls, marker="o", ms=5, label=name)
        hist_ax.set_ylim(0, 1.45 * peak)  # room for the legend
        hist_ax.set_xlabel(f"kernel value ({WIDTH}→{WIDTH} layer)")
        hist_ax.set_ylabel("count")
        hist_ax.legend(loc="upper left")
        std_ax.set_yscale("log")
        std_ax.set_xlabel("layer (Linear + ReLU)")
        std_ax.set_ylabel("activation std")
        std_ax.set_xticks(range(1, LAYERS + 1))
        std_ax.legend(loc="lower left")
    save(fig, out_dir / "init.svg")

    return {
        "width": WIDTH,
        "layers": LAYERS,
        "kernel_std": {name: float(k.std()) for name, k in kernels.items()},
        "kernel_max_abs": {name: float(np.abs(k).max()) for name, k in kernels.items()},
        "first_std": {name: float(s[0]) for name, s in stds.items()},
        "final_std": {name: float(s[-1]) for name, s in stds.items()},
        "stds": {name: [float(v) for v in s] for name, s in stds.items()},
    }


if __name__ == "__main__":
    standalone(main, __file__)
