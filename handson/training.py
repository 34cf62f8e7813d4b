"""The one training loop of the course: `history = fit(model, tx, loss_fn, train=(x, y), ...)`.

Every training demo uses it, so every demo trains with the same NNX step:
`loss, grads = nnx.value_and_grad(loss_fn)(model, x, y)`, then `optimizer.update(model, grads)`.

How it is compiled. Tiny models spend more time in dispatch than in arithmetic, so we measured
(benchmarks/step_overhead.py, one run: 2-core CPU, jax 0.10.2, flax 0.12.8, adam, batch 32;
microseconds per step, best of 9 epochs):
                                        MLP 64-64-10   CNN conv16 (8x8)   CNN S6 (32x32)
    nnx.jit (default graph mode)            1069            1215
    nnx.jit(graph=False) (tree mode)         403             583
    nnx.cached_partial(nnx.jit(...))         335             597
    jax.jit on nnx.split's State             126             507
    jax.jit on its flat list of arrays        62             449            11310
    the same + lax.scan over an epoch         32             697            39994
    flat + convolutions as im2col             -              420             7856
    flat + im2col + lax.scan (what fit does)  -              343             7897
So the state goes through `jax.jit` as a flat list of arrays (NNX objects exist only while
tracing), and an epoch is one `lax.scan`. XLA's CPU convolutions are slow to differentiate, and
slower still inside a loop (jax-ml/jax#12868: the lax.scan row), so on the CPU `fit` traces every
`nnx.Conv` as patches times a matrix (handson/matmul_conv.py); then conv models scan too. With
it the exercise CNN trains faster than Keras and PyTorch do (benchmarks/train_speed.py).
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from handson.matmul_conv import lax_convs_left, use_im2col


@dataclasses.dataclass
class History:
    """Per-epoch logs as plain floats; a list stays empty when it was not measured."""

    train_loss: list[float] = dataclasses.field(default_factory=list)  # mean batch loss of the epoch
    val_loss: list[float] = dataclasses.field(default_factory=list)  # whole validation set, eval mode
    val_acc: list[float] = dataclasses.field(default_factory=list)  # integer labels only
    train_acc: list[float] = dataclasses.field(default_factory=list)  # with eval_train=True
    grad_norm: list[float] = dataclasses.field(default_factory=list)  # mean global gradient norm
    learning_rate: list[float] = dataclasses.field(default_factory=list)  # optax.inject_hyperparams

    @property
    def best_epoch(self) -> int:
        """1-based epoch of the lowest validation loss."""
        return int(np.argmin(self.val_loss)) + 1


# --8<-- [start:step]
def train_step(model, optimizer, loss_fn, x, y):
    """One gradient step, the same in every demo: the loss and its gradients, then the update."""
    loss, grads = nnx.value_and_grad(loss_fn)(model, x, y)
    optimizer.update(model, grads)
    return loss, optax.tree.norm(grads)
# --8<-- [end:step]


def accuracy(logits: jax.Array, y: jax.Array) -> jax.Array:
    """Fraction of correct labels: argmax over classes, or logit > 0 for one binary output."""
    pred = jnp.argmax(logits, -1) if logits.shape[-1] > 1 else (logits[..., 0] > 0)
    return jnp.mean(pred == y.reshape(pred.shape))


def fit(model: nnx.Module, tx: optax.GradientTransformation, loss_fn, train: tuple,
        val: tuple | None = None, *, epochs: int, key: jax.Array, batch_size: int = 32, scan_epoch: bool | str = "auto",
        patience: int | None = None, eval_train: bool = False) -> History:
    """Train `model` in place with `loss_fn(model, x, y) -> scalar` and optimizer `tx`.

    Each epoch shuffles with `fold_in(key, epoch)` and drops the last incomplete batch (one batch
    shape, one compilation). `patience`: stop after that many epochs without a lower val loss and
    keep the best model (Keras EarlyStopping + ModelCheckpoint). `eval_train`: also measure the
    training-set accuracy after each epoch (one more forward pass).
    """
    x, y = map(jnp.asarray, train)  # on the device once, for the whole run
    val = None if val is None else tuple(map(jnp.asarray, val))
    classify = jnp.issubdtype(y.dtype, jnp.integer)
    batch_size = min(batch_size, len(x))
    steps = len(x) // batch_size
    on_cpu = jax.default_backend() == "cpu"
    if scan_epoch == "auto":  # the slow case: an XLA convolution inside a CPU loop
        scan_epoch = not (on_cpu and lax_convs_left(model))

    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    graphdef, state = nnx.split((model, optimizer))
    leaves, treedef = jax.tree.flatten(state)  # what jax.jit is fastest to pass around
    # optax.inject_hyperparams(...) keeps the current learning rate in the optimizer state
    paths = [jax.tree_util.keystr(path) for path, _ in jax.tree_util.tree_leaves_with_path(state)]
    lr_leaf = next((i for i, p in enumerate(paths) if "['hyperparams']['learning_rate']" in p), None)

    def merge(leaves):  # the NNX objects, which exist only while tracing
        model, optimizer = nnx.merge(graphdef, jax.tree.unflatten(treedef, leaves))
        if on_cpu:
            use_im2col(model)  # convolutions as matrix products: see the docstring
        return model, optimizer

    def step(leaves, x, y):  # train_step on the flat state
        model, optimizer = merge(leaves)
        model.train()  # dropout on, batch norm uses and updates batch statistics
        metrics = train_step(model, optimizer, loss_fn, x, y)
        return jax.tree.leaves(nnx.state((model, optimizer))), metrics

    @jax.jit
    def shuffle(epoch, x, y):  # a new order each epoch, cut into (steps, batch_size, ...) batches
        order = jax.random.permutation(jax.random.fold_in(key, epoch), len(x))
        index = order[:steps * batch_size].reshape(steps, batch_size)
        return x[index], y[index]

    @jax.jit
    def train_epoch(leaves, xs, ys):  # the whole epoch in one call
        return jax.lax.scan(lambda leaves, batch: step(leaves, *batch), leaves, (xs, ys))

    @jax.jit
    def train_batch(leaves, xs, ys, i):  # one step per call
        return step(leaves, xs[i], ys[i])

    @jax.jit
    def evaluate(leaves, x, y):  # -> (loss, accuracy) on a whole set
        model, _ = merge(leaves)
        model.eval()  # dropout off, batch norm uses its running averages
        return loss_fn(model, x, y), accuracy(model(x), y) if classify else jnp.nan

    history, batch_index = History(), [jnp.asarray(i) for i in range(steps)]
    best_loss, best_leaves, waited = np.inf, leaves, 0
    for epoch in range(epochs):
        xs, ys = shuffle(epoch, x, y)
        if scan_epoch:
            leaves, (losses, norms) = train_epoch(leaves, xs, ys)
        else:
            metrics = []
            for i in batch_index:
                leaves, step_metrics = train_batch(leaves, xs, ys, i)
                metrics.append(step_metrics)
            losses, norms = zip(*metrics)
        history.train_loss.append(float(np.mean(np.asarray(losses, np.float64))))
        history.grad_norm.append(float(np.mean(np.asarray(norms, np.float64))))
        if lr_leaf is not None:
            history.learning_rate.append(float(leaves[lr_leaf]))
        if eval_train and classify:
            history.train_acc.append(float(evaluate(leaves, x, y)[1]))
        if val is None:
            continue
        val_loss, val_acc = map(float, evaluate(leaves, *val))
        history.val_loss.append(val_loss)
        if classify:
            history.val_acc.append(val_acc)
        if val_loss < best_loss:
            best_loss, best_leaves, waited = val_loss, leaves, 0
        elif patience is not None and (waited := waited + 1) >= patience:
            break
    if patience is not None and val is not None:
        leaves = best_leaves
    nnx.update((model, optimizer), jax.tree.unflatten(treedef, leaves))
    return history
