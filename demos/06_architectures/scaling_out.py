"""Scaling out: the same training step, data-parallel over 1, 2, 4 and 8 devices.

The digits MLP trains with the course's one NNX step (handson.training.train_step) under
`jax.jit`; only the placement of the arrays changes. A mesh of n devices splits each batch of
256 images into n shards of 256 / n rows, the weights are copied to every device, and XLA
inserts the all-reduce that sums the gradients (it appears in the compiled program as soon as
n > 1). After 40 steps the weights on 8 devices equal those on one to about 1e-7 (float32
sums in another order). Here the 8 devices are simulated on the CPU (XLA's host platform
device count, set by ENV for this demo's own process): they share the same 2 cores, so the
throughput does not grow with n. On a machine with several GPUs, `jax.devices()` lists them and
the same code spreads the batch over them.
"""

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
from matplotlib.figure import Figure

from handson.data import digits
from handson.demo import standalone
from handson.figures import save, style
from handson.training import train_step

# The runner starts this demo in a fresh process with these variables: 8 simulated CPU devices.
ENV = {"XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
SEED = 0  # one seed for the weights
DEVICE_COUNTS = (1, 2, 4, 8)  # mesh sizes compared
GLOBAL_BATCH = 256  # images per step, split across the devices
STEPS = 40  # training steps per device count (after one warm-up step that compiles)
TIMINGS = 3  # the timed steps run this many times; the fastest counts (the machine is shared)
LEARNING_RATE = 1e-3  # adam's step size
HIDDEN = 128  # hidden units of the MLP


def loss_fn(model, x, y):
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()


# --8<-- [start:shard]
def data_parallel(n_devices: int, graphdef, state):
    """A jitted train step on n devices: the batch split, the weights copied."""
    devices = jax.devices()[:n_devices]
    mesh = jax.make_mesh((n_devices,), ("data",), devices=devices)
    rows = NamedSharding(mesh, P("data"))  # the batch split over "data"
    everywhere = NamedSharding(mesh, P())  # a full copy on every device

    @jax.jit
    def step(state, x, y):
        model, optimizer = nnx.merge(graphdef, state)
        loss, _ = train_step(model, optimizer, loss_fn, x, y)  # the one NNX step
        return nnx.state((model, optimizer)), loss  # XLA adds the all-reduce

    return step, jax.device_put(state, everywhere), rows
# --8<-- [end:shard]


def run(n_devices: int, graphdef, state, batches) -> dict:
    step, state, rows = data_parallel(n_devices, graphdef, state)
    batches = [tuple(jax.device_put(a, rows) for a in batch) for batch in batches]
    hlo = step.lower(state, *batches[0]).compile().as_text()
    state, loss = step(state, *batches[0])  # warm-up: compiles (not timed)
    first = jax.tree.leaves(state)
    jax.block_until_ready(loss)
    seconds = []
    for _ in range(TIMINGS):  # the same steps again from the same start: best time
        timed = state
        start = time.perf_counter()
        for x, y in batches[1:]:
            timed, loss = step(timed, x, y)
        jax.block_until_ready(timed)
        seconds.append(time.perf_counter() - start)
    state, seconds = timed, min(seconds)
    return {"state": state, "first": first, "loss": float(loss),
            "images_per_s": (len(batches) - 1) * GLOBAL_BATCH / seconds,
            "shard_rows": int(batches[0][0].addressable_shards[0].data.shape[0]),
            "shards": len(batches[0][0].addressable_shards),
            "all_reduces": hlo.count("all-reduce-start") + hlo.count(" all-reduce(")}


def largest_difference(a, b) -> float:
    return max(float(jnp.max(jnp.abs(np.asarray(u) - np.asarray(v))))
               for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def plot_throughput(counts, rates, platform: str) -> Figure:
    fig = Figure(figsize=(5.0, 3.8))
    ax = fig.add_subplot()
    ax.plot(counts, rates, marker="o", ms=9)
    ax.set_xscale("log", base=2)
    ax.set_xticks(counts, [str(n) for n in counts])
    ax.set_xlabel(f"{platform} devices")
    ax.set_ylabel("images per second")
    ax.set_ylim(0, max(rates) * 1.15)
    return fig


def main(out_dir: Path, device_counts: tuple = DEVICE_COUNTS, steps: int = STEPS) -> dict:
    available = jax.device_count()
    counts = [n for n in device_counts if n <= available]
    if not counts:
        raise RuntimeError(f"scaling_out: asked for {device_counts} devices, JAX sees {available}")
    (x, y), _ = digits(SEED)
    shuffled = np.random.default_rng(SEED).permutation(len(x))
    index = np.resize(shuffled, (steps + 1) * GLOBAL_BATCH).reshape(steps + 1, GLOBAL_BATCH)
    batches = [(x[i], y[i]) for i in index]  # the same batches for every device count
    model = nnx.Sequential(nnx.Linear(64, HIDDEN, rngs=nnx.Rngs(SEED)), nnx.relu,
                           nnx.Linear(HIDDEN, 10, rngs=nnx.Rngs(SEED + 1)))
    graphdef, state = nnx.split((model, nnx.Optimizer(model, optax.adam(LEARNING_RATE), wrt=nnx.Param)))

    runs = {n: run(n, graphdef, state, batches) for n in counts}
    one = runs[counts[0]]
    platform = jax.devices()[0].platform
    with style():
        save(plot_throughput(counts, [runs[n]["images_per_s"] for n in counts], platform.upper()),
             out_dir / "throughput.svg")
    return {
        "platform": platform, "devices_available": available, "device_counts": counts,
        "global_batch": GLOBAL_BATCH, "steps": steps,
        "images_per_s": [runs[n]["images_per_s"] for n in counts],
        "shard_rows": [runs[n]["shard_rows"] for n in counts],
        "shards": [runs[n]["shards"] for n in counts],
        "all_reduces": [runs[n]["all_reduces"] for n in counts],
        "final_loss": [runs[n]["loss"] for n in counts],
        # against the first device count (1): after one step, and after all of them
        "diff_first_step": [largest_difference(runs[n]["first"], one["first"]) for n in counts],
        "diff_final": [largest_difference(runs[n]["state"], one["state"]) for n in counts],
        "diff_max": max(largest_difference(runs[n]["state"], one["state"]) for n in counts),
        "speedup_largest": runs[counts[-1]]["images_per_s"] / one["images_per_s"],
    }


if __name__ == "__main__":
    standalone(main, __file__)
