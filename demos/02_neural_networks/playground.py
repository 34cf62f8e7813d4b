"""A small MLP learning a two-arm spiral: its decision regions every 20 epochs.

An MLP 2 -> 16 -> 16 -> 1 with tanh units (337 parameters), adam (learning rate 0.005),
batches of 32, on 300 seeded points of two interleaved spiral arms (1.75 turns each). The
untrained model splits the plane with a nearly straight boundary (45% right); for the first
40 epochs it stays a gently bent line (60-70%), then it bends around the centre and follows
the arms: 86% at epoch 100, 99% from epoch 220 to 300. Every frame is the state of ONE
training run after that many epochs: `fit` starts a new optimizer at each call, so instead of
resuming adam across calls (which would reset its moment estimates) each frame retrains from
the same seed up to its epoch count. `fit` shuffles epoch e with `fold_in(key, e)`, so these
runs follow the same path exactly. After TensorFlow Playground (playground.tensorflow.org).
"""

from pathlib import Path

import jax
import numpy as np
import optax
from flax import nnx
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from handson.demo import standalone
from handson.figures import save, save_gif, style, to_rgb_array
from handson.training import accuracy, fit

SEED = 0  # one seed for everything random in this demo
POINTS_PER_ARM = 150  # points on each of the two spiral arms
TURNS = 1.75  # turns of each arm around the centre
NOISE = 0.06  # std of the Gaussian noise added to each point
HIDDEN = 16  # units in each of the two hidden layers
LEARNING_RATE = 0.005  # adam's step size
BATCH_SIZE = 32  # points per gradient step
EPOCHS_PER_FRAME = 20  # epochs between two frames
FRAMES = 15  # trained frames (plus the untrained model first): 300 epochs at full budget
MS_PER_FRAME = 500  # GIF frame duration
GRID = 120  # pixels per side of the decision-region image
EXTENT = 2.6  # the plot shows [-EXTENT, EXTENT] on both axes
COLORS = ("#0368bb", "#c20d4f")  # arm 0, arm 1
REGION_COLORS = ("#cddff0", "#f3d0dc")  # light versions for the regions
# What a speaker may change live (`make present`, docs/CONTRACTS.md): a larger step size, fewer frames.
KNOBS = {
    "learning_rate": {"type": "float", "min": 1e-4, "max": 0.1, "log": True, "warm_extra": [0.05, 0.0005]},
    "frames": {"type": "int", "min": 1, "max": 15, "warm": 1},
    "epochs_per_frame": {"type": "int", "min": 1, "max": 40, "warm": 1},
}


def spiral(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spiral arms: points (2 * POINTS_PER_ARM, 2) float32, labels 0/1 int32."""
    rng = np.random.default_rng(seed)
    radius = np.sqrt(rng.uniform(0.0, 1.0, (2, POINTS_PER_ARM)))  # sqrt: even density along arms
    x, y = [], []
    for arm in (0, 1):
        angle = 2 * np.pi * TURNS * radius[arm] + arm * np.pi  # arm 1 is arm 0 turned by 180°
        points = radius[arm, :, None] * np.stack([np.cos(angle), np.sin(angle)], -1)
        x.append(2 * points + rng.normal(0.0, NOISE, points.shape))  # radius up to 2
        y.append(np.full(POINTS_PER_ARM, arm))
    return np.concatenate(x).astype(np.float32), np.concatenate(y).astype(np.int32)


# --8<-- [start:model]
def mlp(rngs: nnx.Rngs) -> nnx.Sequential:
    return nnx.Sequential(
        nnx.Linear(2, HIDDEN, rngs=rngs), nnx.tanh,
        nnx.Linear(HIDDEN, HIDDEN, rngs=rngs), nnx.tanh,
        nnx.Linear(HIDDEN, 1, rngs=rngs),  # one logit
    )
# --8<-- [end:model]


def loss_fn(model: nnx.Module, x: jax.Array, y: jax.Array) -> jax.Array:
    return optax.sigmoid_binary_cross_entropy(model(x)[:, 0], y).mean()


@nnx.jit
def evaluate(model: nnx.Module, x: jax.Array, y: jax.Array, grid: jax.Array):
    """Training accuracy and the class-1 decision on every grid point."""
    return accuracy(model(x), y), model(grid)[:, 0] > 0


def draw(regions: np.ndarray, x: np.ndarray, y: np.ndarray, epoch: int, acc: float,
         dpi: int = 80) -> Figure:
    fig = Figure(figsize=(5.2, 5.4), dpi=dpi)
    ax = fig.add_axes((0.02, 0.02, 0.96, 0.86))
    ax.imshow(regions.astype(np.int8), origin="lower", extent=(-EXTENT, EXTENT, -EXTENT, EXTENT),
              cmap=ListedColormap(REGION_COLORS), vmin=0, vmax=1, interpolation="nearest")
    for label in (0, 1):
        ax.scatter(*x[y == label].T, s=9, color=COLORS[label], linewidths=0)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for side in ("top", "right"):
        ax.spines[side].set_visible(True)
    fig.suptitle(f"epoch {epoch:3d}   accuracy {acc:.0%}", y=0.955, fontsize=20, family="monospace")
    return fig


def main(out_dir: Path, frames: int = FRAMES, epochs_per_frame: int = EPOCHS_PER_FRAME,
         learning_rate: float = LEARNING_RATE) -> dict:
    model_key, train_key = jax.random.split(jax.random.key(SEED))
    x, y = spiral(SEED)
    u = np.linspace(-EXTENT, EXTENT, GRID, dtype=np.float32)
    grid = np.stack(np.meshgrid(u, u), -1).reshape(-1, 2)  # (GRID * GRID, 2) pixel centres

    images, accuracies, epochs = [], [], []
    for frame in range(frames + 1):
        epoch = frame * epochs_per_frame
        # --8<-- [start:frame]
        model = mlp(nnx.Rngs(model_key))  # the same initial weights every frame
        if epoch > 0:  # the first `epoch` epochs of one seeded run
            fit(model, optax.adam(learning_rate), loss_fn, train=(x, y),
                epochs=epoch, batch_size=BATCH_SIZE, key=train_key)
        acc, regions = evaluate(model, x, y, grid)
        # --8<-- [end:frame]
        regions = np.asarray(regions).reshape(GRID, GRID)
        accuracies.append(float(acc))
        epochs.append(epoch)
        with style():
            fig = draw(regions, x, y, epoch, float(acc))
            images.append(to_rgb_array(fig))
    save_gif(images, out_dir / "playground.gif", ms_per_frame=MS_PER_FRAME)
    with style():
        save(draw(regions, x, y, epochs[-1], accuracies[-1], dpi=100), out_dir / "playground_final.svg")

    params = sum(p.size for p in jax.tree.leaves(nnx.state(model, nnx.Param)))
    kernels = [layer.kernel.shape for layer in model.layers if isinstance(layer, nnx.Linear)]
    return {
        "frames": len(images),
        "epochs": epochs,
        "accuracy": accuracies,
        "final_epoch": epochs[-1],
        "final_acc": accuracies[-1],
        "initial_acc": accuracies[0],
        "points": len(x),
        "params": int(params),
        "layers": [kernels[0][0]] + [k[1] for k in kernels],  # units per layer, input first
    }


if __name__ == "__main__":
    standalone(main, __file__)
