"""Batch normalisation: Keras-style parameter count of Conv -> BatchNorm -> ReLU, and a real layer's activations before and after BN.

Parameter count (Keras's `model.summary()` convention): Conv(1 -> 8, 3x3, no bias, 'VALID') on
9x9x1 has 3·3·1·8 = 72 weights; BatchNorm(8) holds 4C = 32 numbers, 16 trainable (scale gamma,
bias beta) and 16 non-trainable (running mean and variance): Total 104 / Trainable 88 /
Non-trainable 16. epsilon=1e-3 and momentum=0.99 are Keras's defaults (flax's epsilon is 1e-5).
The same layers with real weights on 128 real digits (8x8 -> 6x6x8): the conv channels come out
with different centres (means -0.29 to 0.80) and spreads (std 0.22 to 0.60); after BN in
training mode every channel has mean 0 (|mean| < 1e-7) and std 1 (within 0.01, epsilon makes it
slightly less). One training-mode batch moves the running mean only 1% of the way (momentum
0.99), so in evaluation mode the same batch still comes out almost unnormalised.
"""

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
BINS = 40  # histogram bins


# --8<-- [start:model]
def conv_bn(rngs: nnx.Rngs) -> nnx.Sequential:
    return nnx.Sequential(
        nnx.Conv(1, CHANNELS, (3, 3), padding="VALID",
                 use_bias=False, rngs=rngs),  # BN adds a bias
        nnx.BatchNorm(CHANNELS, epsilon=1e-3, momentum=0.99,
                      rngs=rngs),  # Keras's defaults
        nnx.relu,
    )
# --8<-- [end:model]


@nnx.jit
def forward(model: nnx.Sequential, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Conv output and BN output; in training mode BN also updates its running statistics."""
    conv, bn, _ = model.layers
    z = conv(x)  # (batch, 6, 6, CHANNELS)
    return z, bn(z)


def histograms(before: np.ndarray, after: np.ndarray, channels: list[int]) -> Figure:
    fig = Figure(figsize=(12, 3.8))
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
    axes[0].legend(loc="upper right", fontsize=13)
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
    data_key, model_key = jax.random.split(jax.random.key(SEED))
    x, _ = load_digits(return_X_y=True)
    index = np.asarray(jax.random.choice(data_key, len(x), (batch,), replace=False))
    x = jnp.asarray((x[index] / 16).astype(np.float32).reshape(-1, 8, 8, 1))
    model = conv_bn(nnx.Rngs(model_key))
    before, after = map(np.asarray, forward(model, x))  # training mode: batch statistics
    running_mean = np.asarray(model.layers[1].mean[...])
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
        "shown_channels": shown,
        "batch": batch,
        "before": moments(before),
        "after": moments(after),
        "after_eval": moments(after_eval),
        "max_abs_mean_after": float(np.abs(after.mean((0, 1, 2))).max()),
        "max_abs_std_after_minus_1": float(np.abs(after.std((0, 1, 2)) - 1).max()),
        "running_mean_ratio": float(np.abs(running_mean).sum() / np.abs(batch_mean).sum()),
    }


if __name__ == "__main__":
    standalone(main, __file__)
