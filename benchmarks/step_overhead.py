"""Per-step cost of the ways to jit an NNX training step (chooses handson/training.py's default).

Run: `.venv/bin/python benchmarks/step_overhead.py`. Prints microseconds per training step
(best of REPEATS timed epochs, after one warm-up epoch that compiles; the variants take turns so
a busy machine slows them alike) and the ratio to the fastest variant. One epoch = 39 adam steps
on batches of 32 (1,258 digits // 32).
"""

import functools
import sys
import time
from pathlib import Path

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from handson.matmul_conv import use_im2col

SEED = 0  # one seed for the models and the data
BATCH = 32  # batch size
STEPS = 39  # steps per epoch
REPEATS = 9  # timed epochs per variant (best of)


def flatten(x):
    return x.reshape(x.shape[0], -1)


def mlp(rngs):  # the digits MLP, 64 -> 64 -> 10
    return nnx.Sequential(nnx.Linear(64, 64, rngs=rngs), nnx.relu, nnx.Linear(64, 10, rngs=rngs))


def small_cnn(rngs):  # CONTENT.md P1 on 8x8 digits
    return nnx.Sequential(
        lambda x: x.reshape(x.shape[0], 8, 8, 1),
        nnx.Conv(1, 16, (3, 3), rngs=rngs), nnx.relu,
        functools.partial(nnx.max_pool, window_shape=(2, 2), strides=(2, 2)),
        flatten, nnx.Linear(256, 10, rngs=rngs))


def exercise_cnn(rngs):  # CONTENT.md S6 on 32x32 (47,645 params), as exercise_cnn.py defines it
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "demos" / "03_convolutional_networks"))
    try:
        from exercise_cnn import cnn
    finally:
        sys.path.pop(0)
    return nnx.Sequential(lambda x: x.reshape(x.shape[0], 32, 32, 1), *cnn(rngs).layers)


def loss_fn(model, x, y):
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()


def train_step(model, optimizer, x, y):
    loss, grads = nnx.value_and_grad(loss_fn)(model, x, y)
    optimizer.update(model, grads)
    return loss


def setup(make, features):
    model = make(nnx.Rngs(SEED))
    optimizer = nnx.Optimizer(model, optax.adam(1e-3), wrt=nnx.Param)
    data_rng = np.random.default_rng(SEED)
    xs = jnp.asarray(data_rng.normal(size=(STEPS, BATCH, features)), jnp.float32)
    ys = jnp.asarray(data_rng.integers(0, 10, size=(STEPS, BATCH)), jnp.int32)
    index = [jnp.asarray(i) for i in range(STEPS)]  # device scalars: a python int costs ~10 us more
    return model, optimizer, xs, ys, index


def nnx_jit(make, features, **jit_kwargs):
    """nnx.jit on (model, optimizer); graph=False is NNX's 'tree mode'."""
    model, optimizer, xs, ys, index = setup(make, features)
    step = nnx.jit(lambda model, optimizer, xs, ys, i: train_step(model, optimizer, xs[i], ys[i]),
                   **jit_kwargs)
    return lambda: [step(model, optimizer, xs, ys, i) for i in index]


def nnx_cached_partial(make, features):
    model, optimizer, xs, ys, index = setup(make, features)
    step = nnx.cached_partial(
        nnx.jit(lambda model, optimizer, xs, ys, i: train_step(model, optimizer, xs[i], ys[i])),
        model, optimizer)
    return lambda: [step(xs, ys, i) for i in index]


def jax_jit(make, features, flat=False, scan=False, im2col=False):
    """jax.jit over nnx.split's state (or its flat list of arrays): NNX objects exist only while
    tracing. `im2col`: convolutions as matrix products (handson/matmul_conv.py), as fit does."""
    model, optimizer, xs, ys, index = setup(make, features)
    graphdef, state = nnx.split((model, optimizer))
    treedef = jax.tree.structure(state)
    state = jax.tree.leaves(state) if flat else state

    def step(state, x, y):
        model, optimizer = nnx.merge(graphdef, jax.tree.unflatten(treedef, state) if flat else state)
        if im2col:
            use_im2col(model)
        loss = train_step(model, optimizer, x, y)
        new_state = nnx.state((model, optimizer))
        return (jax.tree.leaves(new_state) if flat else new_state), loss

    if scan:
        run_epoch = jax.jit(lambda state, xs, ys: jax.lax.scan(lambda s, b: step(s, *b), state, (xs, ys)))
    else:
        run_step = jax.jit(lambda state, xs, ys, i: step(state, xs[i], ys[i]))

    def epoch():
        nonlocal state
        if scan:
            state, losses = run_epoch(state, xs, ys)
            return losses
        losses = []
        for i in index:
            state, loss = run_step(state, xs, ys, i)
            losses.append(loss)
        return losses
    return epoch


VARIANTS = {
    "nnx.jit (default, graph mode)": nnx_jit,
    "nnx.jit(graph=False) (tree mode)": functools.partial(nnx_jit, graph=False),
    "nnx.cached_partial(nnx.jit)": nnx_cached_partial,
    "jax.jit, nnx.split State": jax_jit,
    "jax.jit, flat list of arrays": functools.partial(jax_jit, flat=True),
    "jax.jit + lax.scan per epoch": functools.partial(jax_jit, flat=True, scan=True),
    "flat + im2col convolutions": functools.partial(jax_jit, flat=True, im2col=True),
    "flat + im2col + lax.scan (fit)": functools.partial(jax_jit, flat=True, scan=True, im2col=True),
}
WORKLOADS = [  # name, model, input features, variants (S6 is slow per step: four candidates only)
    ("MLP 64-64-10 (8x8 digits)", mlp, 64, list(VARIANTS)[:6]),
    ("CNN conv16-pool-linear (8x8)", small_cnn, 64, list(VARIANTS)),
    ("CNN S6, 47,645 params (32x32)", exercise_cnn, 1024, list(VARIANTS)[-4:]),
]


def us_per_step(epochs: dict) -> dict:
    for epoch in epochs.values():
        jax.block_until_ready(epoch())  # compile and warm up
    times = {label: [] for label in epochs}
    for _ in range(REPEATS):
        for label, epoch in epochs.items():
            start = time.perf_counter()
            jax.block_until_ready(epoch())
            times[label].append(time.perf_counter() - start)
    return {label: min(t) / STEPS * 1e6 for label, t in times.items()}


def main() -> None:
    print(f"jax {jax.__version__}, flax {flax.__version__} on {jax.devices()[0].platform}; "
          f"batch {BATCH}, {STEPS} steps/epoch, best of {REPEATS} epochs")
    for name, make, features, labels in WORKLOADS:
        micros = us_per_step({label: VARIANTS[label](make, features) for label in labels})
        best = min(micros.values())
        print(f"\n{name:34s} {'us/step':>8s} {'x fastest':>10s}")
        for label, us in micros.items():
            print(f"  {label:32s} {us:8.0f} {us / best:10.2f}")


if __name__ == "__main__":
    main()
