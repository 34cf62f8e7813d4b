"""Batch normalisation: Keras-style parameter count of Conv -> BatchNorm -> ReLU, and a real layer's activations before and after BN.

Parameter count (Keras's `model.summary()` convention): Conv(1 -> 8, 3x3, no bias, 'VALID') on
9x9x1 has 3·3·1·8 = 72 weights; BatchNorm(8) holds 4C = 32 numbers, 16 trainable (scale gamma,
bias beta) and 16 non-trainable (running mean and variance): Total 104 / Trainable 88 /
Non-trainable 16. epsilon=1e-3 and momentum=0.99 are Keras's defaults (flax's epsilon is 1e-5).
The same layers with real weights on 128 real digits (8x8 -> 6x6x8): the conv channels come out
with different centres (means -0.29 to 0.80) and spreads (std 0.22 to 0.60); after BN in
training mode, at initialisation (scale gamma = 1, bias beta = 0), every channel has mean 0
(|mean| < 1e-7) and std 1 (within 0.01, epsilon makes it slightly less). Adding a bias to the
convolution changes nothing after BN (at most 3e-6, float32 rounding): the mean subtraction
removes any constant per channel, which is why the conv has no bias. One training-mode batch
moves the running mean only 1% of the way (momentum 0.99): 459 batches are needed to close 99%
of the gap, so in evaluation mode the same batch still comes out almost unnormalised.
"""

import inspect
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from matplotlib.figure import Figure
from sklearn.datasets import load_digits

from handson.demo import standalone
from handson.figures import save, style
from handson.summary import summary

SEED = 0  # one seed for everything random in this demo
CHANNELS = 8  # filters of the convolution, normalised by the batch norm
INPUT_SHAPE = (9, 9, 1)  # the summary's input (height, width, channels), as in the Keras slide
BATCH = 128  # real digits in the batch whose activations are plotted
SHOWN = 4  # channels drawn: the two narrowest and the two widest before BN
EPSILON = 1e-3  # added to the variance before the square root (Keras's default; Flax's is 1e-5)
MOMENTUM = 0.99  # running average <- MOMENTUM * running average + (1 - MOMENTUM) * batch value
BIAS_SCALE = 1.0  # size of the random conv bias that BN must cancel
BINS = 40  # histogram bins


# --8<-- [start:model]
def conv_bn(rngs: nnx.Rngs) -> nnx.Sequential:
    return nnx.Sequential(
        nnx.Conv(1, CHANNELS, (3, 3), padding="VALID",
                 use_bias=False, rngs=rngs),  # BN cancels a bias
        nnx.BatchNorm(CHANNELS, epsilon=EPSILON,
                      momentum=MOMENTUM, rngs=rngs),
        nnx.relu,
    )
# --8<-- [end:model]


@nnx.jit
def forward(model: nnx.Sequential, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Conv output and BN output; in training mode BN also updates its running statistics."""
    conv, bn, _ = model.layers
    z = conv(x)  # (batch, 6, 6, CHANNELS)
    return z, bn(z)


@nnx.jit
def bias_effect(model: nnx.Sequential, x: jax.Array, bias: jax.Array) -> jax.Array:
    """Largest change of BN's training-mode output when the conv gets a bias per channel."""
    conv, bn, _ = model.layers
    z = conv(x)
    return jnp.abs(bn(z + bias) - bn(z)).max()


def histograms(before: np.ndarray, after: np.ndarray, channels: list[int]) -> Figure:
    fig = Figure(figsize=(11, 3.2))
    axes = fig.subplots(1, 2)
    for ax, values, title in [(axes[0], before, "conv output (before BN)"),
                              (axes[1], after, "after BN (training mode)")]:
        edges = np.linspace(values[..., channels].min(), values[..., channels].max(), BINS + 1)
        for i, c in enumerate(channels):
            ax.hist(values[..., c].ravel(), bins=edges, histtype="step", lw=2, color=f"C{i}",
                    label=f"channel {c}")
        ax.set_title(title)
        ax.set_xlabel("activation")
        ax.set_yticks([])
        ax.grid(False)
    axes[1].axvline(0, color="#444444", lw=1)
    axes[0].set_ylabel("count")
    axes[0].legend(loc="upper right")
    return fig


def main(out_dir: Path, batch: int = BATCH) -> dict:
    # 1. the parameter count, on an abstract model (shapes only, no weights computed)
    abstract = nnx.eval_shape(lambda: conv_bn(nnx.Rngs(0)))
    # --8<-- [start:summary]
    table = summary(abstract, input_shape=INPUT_SHAPE)
    # --8<-- [end:summary]
    table.write(out_dir / "summary.txt")
    bn = abstract.layers[1]
    trainable = {name: int(getattr(bn, name).size) for name in ("scale", "bias")}
    statistics = {name: int(getattr(bn, name).size) for name in ("mean", "var")}

    # 2. the same layers with real weights on a batch of real digits (8x8 -> 6x6x8)
    data_key, model_key, bias_key = jax.random.split(jax.random.key(SEED), 3)
    x, _ = load_digits(return_X_y=True)
    index = np.asarray(jax.random.choice(data_key, len(x), (batch,), replace=False))
    x = jnp.asarray((x[index] / 16).astype(np.float32).reshape(-1, 8, 8, 1))
    model = conv_bn(nnx.Rngs(model_key))
    before, after = map(np.asarray, forward(model, x))  # training mode: batch statistics
    running_mean = np.asarray(model.layers[1].mean[...])
    bias = BIAS_SCALE * jax.random.normal(bias_key, (CHANNELS,))
    bias_change = float(bias_effect(nnx.clone(model), x, bias))
    model.eval()  # evaluation mode: the running averages, barely moved after one batch
    _, after_eval = map(np.asarray, forward(model, x))
    with style():
        order = np.argsort(before.std((0, 1, 2)))
        shown = sorted(int(c) for c in [*order[:SHOWN // 2], *order[-(SHOWN // 2):]])
        save(histograms(before, after, shown), out_dir / "batch_norm.svg")

    def moments(values: np.ndarray) -> dict:
        axes = tuple(range(values.ndim - 1))  # all but channels
        return {"mean": [float(v) for v in values.mean(axes)],
                "std": [float(v) for v in values.std(axes)]}

    batch_mean = before.mean((0, 1, 2))
    flax_defaults = inspect.signature(nnx.BatchNorm.__init__).parameters
    return {
        "total": table.total,
        "trainable": table.trainable,
        "non_trainable": table.non_trainable,
        "params": [row.params for row in table.rows],
        "names": [row.name for row in table.rows],
        "output_shapes": [[d for d in row.shape if d is not None] for row in table.rows],
        "bn_trainable": trainable,
        "bn_statistics": statistics,
        "channels": CHANNELS,
        "input_shape": list(INPUT_SHAPE),
        "conv_kernel_shape": list(abstract.layers[0].kernel.shape),  # (h, w, in, out)
        "shown_channels": shown,
        "batch": batch,
        "before": moments(before),
        "after": moments(after),
        "after_eval": moments(after_eval),
        "max_abs_mean_after": float(np.abs(after.mean((0, 1, 2))).max()),
        "max_abs_std_after_minus_1": float(np.abs(after.std((0, 1, 2)) - 1).max()),
        "running_mean_ratio": float(np.abs(running_mean).sum() / np.abs(batch_mean).sum()),
        "epsilon": EPSILON,
        "momentum": MOMENTUM,
        "flax_epsilon": flax_defaults["epsilon"].default,
        "flax_momentum": flax_defaults["momentum"].default,
        # batches of the same statistics until the running average closes 99% of the gap
        "steps_to_99pct": int(np.ceil(np.log(0.01) / np.log(MOMENTUM))),
        "bias_scale": BIAS_SCALE,
        "bias_max_change": bias_change,
        "max_abs_bias": float(jnp.abs(bias).max()),
    }


if __name__ == "__main__":
    standalone(main, __file__)
