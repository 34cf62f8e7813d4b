"""A stack of dilated causal convolutions: which inputs the last output sees, by jax.grad.

Four causal convolutions with kernel size 2 and dilations 1, 2, 4, 8 (the WaveNet
pattern, van den Oord et al. 2016) over 20 time steps. The gradient of the last output
with respect to each layer's activations is non-zero at 2, 4, 8 and 16 positions: the
receptive field doubles with every layer and reaches 1 + sum of dilations = 16 inputs,
exactly the non-zero pattern of `jax.grad` with respect to the input. Frames reveal one
layer at a time, from the output down to the input.
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from matplotlib.figure import Figure

from handson.demo import standalone
from handson.figures import save, save_gif, style, to_rgb_array

SEED = 0  # one seed: the input signal and the kernels
DILATIONS = (1, 2, 4, 8)  # one causal convolution per dilation, as in WaveNet's first block
KERNEL = 2  # taps per convolution: the current step and one step `dilation` back
STEPS = 20  # time steps drawn: a few more than the receptive field, so its edge shows
FIGSIZE = (9.0, 3.9)  # inches: full slide width, with the layer names on the left
MS_PER_FRAME = 1200  # GIF: one layer per 1.2 s
GREY, LIGHT, RED, BLUE = "#bbbbbb", "#e6e6e6", "#c20d4f", "#0368bb"  # idle nodes, idle edges, output, path


def causal_conv(x, kernel, dilation: int):
    """x (batch, time, channels); pad only on the left, so step t never sees t + 1."""
    pad = dilation * (kernel.shape[0] - 1)
    return lax.conv_general_dilated(x, kernel, window_strides=(1,), padding=[(pad, 0)],
                                    rhs_dilation=(dilation,), dimension_numbers=("NWC", "WIO", "NWC"))


def stack(x, kernels, first: int = 0):
    """Layers first, first + 1, ... applied to x: tanh of each causal convolution."""
    for kernel, dilation in zip(kernels[first:], DILATIONS[first:]):
        x = jnp.tanh(causal_conv(x, kernel, dilation))
    return x


# --8<-- [start:grad]
def seen_by_last_output(h, kernels, layer: int):
    """Where d(last output) / d(activations entering `layer`) is non-zero."""
    grad = jax.grad(lambda h: stack(h, kernels, layer)[0, -1, 0])(h)
    return grad[0, :, 0] != 0
# --8<-- [end:grad]


def activations(x, kernels) -> list:
    """The input and every layer's output, (1, STEPS, 1) each."""
    out = [x]
    for kernel, dilation in zip(kernels, DILATIONS):
        out.append(jnp.tanh(causal_conv(out[-1], kernel, dilation)))
    return out


def draw(masks: list[np.ndarray], shown: int, steps: int):
    """Nodes and edges of the stack; the last `shown` layers of the dependency tree in colour."""
    layers = len(DILATIONS)
    fig = Figure(figsize=FIGSIZE)
    ax = fig.add_axes((0.17, 0.02, 0.82, 0.96))
    ax.set_xlim(-0.6, steps - 0.4)
    ax.set_ylim(-0.5, layers + 0.5)
    ax.set_axis_off()
    lit = [layer >= layers - shown for layer in range(layers + 1)]  # which rows are revealed
    for layer, dilation in enumerate(DILATIONS, start=1):  # edges into this layer
        for t in range(steps):
            for source in (t - dilation, t):
                if source < 0:
                    continue
                on = lit[layer - 1] and masks[layer][t] and masks[layer - 1][source]
                ax.plot([source, t], [layer - 1, layer], color=BLUE if on else LIGHT,
                        lw=2.2 if on else 1, zorder=2 if on else 1)
    for layer in range(layers + 1):
        on = masks[layer] & lit[layer]
        colors = [RED if layer == layers and o else BLUE if o else GREY for o in on]
        ax.scatter(range(steps), [layer] * steps, s=110, c=colors, zorder=3, edgecolors="white")
        name = "input" if layer == 0 else f"d = {DILATIONS[layer - 1]}"  # the top row is the output
        count = f" ({int(on.sum())})" if on.any() else ""
        fig.text(0.01, (layer + 0.5) / (layers + 1) * 0.96 + 0.02, name + count, fontsize=16, va="center",
                 color=BLUE if on.any() else "#444444")
    return fig


def main(out_dir: Path, steps: int = STEPS) -> dict:
    x_key, *kernel_keys = jax.random.split(jax.random.key(SEED), len(DILATIONS) + 1)
    x = jax.random.normal(x_key, (1, steps, 1))
    kernels = [jax.random.normal(k, (KERNEL, 1, 1)) for k in kernel_keys]
    hs = activations(x, kernels)
    seen = jax.jit(seen_by_last_output, static_argnums=2)
    masks = [np.asarray(seen(hs[layer], kernels, layer)) for layer in range(len(DILATIONS))]
    masks.append(np.arange(steps) == steps - 1)  # the output itself
    sizes = [int(m.sum()) for m in masks]  # input, layer 1, ..., output

    frames = []
    with style():
        for shown in range(len(DILATIONS) + 1):
            fig = draw(masks, shown, steps)
            save(fig, out_dir / f"dilated_conv_stack_{shown}.svg")
            frames.append(to_rgb_array(fig))
    save_gif(frames, out_dir / "dilated_conv_stack.gif", ms_per_frame=MS_PER_FRAME)

    field = np.flatnonzero(masks[0])
    return {
        "dilations": list(DILATIONS),
        "kernel_size": KERNEL,
        "steps": steps,
        "receptive_field": sizes[0],
        "formula": 1 + sum(d * (KERNEL - 1) for d in DILATIONS),
        "seen_per_layer": sizes,  # input first, output last
        "contiguous": bool(field[-1] - field[0] + 1 == field.size),
        "first_seen_step": int(field[0]),
        "last_seen_step": int(field[-1]),
        "frames": len(frames),
    }


if __name__ == "__main__":
    standalone(main, __file__)
