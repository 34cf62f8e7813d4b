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

Compiled once per kind of call. jax.jit caches by function identity, and demos call fit many
times with new models, new `optax.adam(...)` and new lambdas (augmentation, playground, learning
curve, ...), so closures built per call were traced, lowered and compiled (or read back from the
persistent compile cache) at every call. `cached_steps` keys the jitted functions on what they
close over, compared by value (`static_key`: model structure, optimizer, loss function,
convolution path), and the data and the key are arguments. The shuffle is two programs: the
permutation (sorts: slow to compile) depends only on the number of examples, so calls on as many
examples share it whatever their shape. Measured with benchmarks/cold_demos.py (all 32 demos, a
cold compile cache, before and after run side by side on a busy 2-core machine): 1,086
compilations -> 1,033, CPU seconds 162.7 -> 153.5; playground 7.4 -> 4.8 s, augmentation 18.4 ->
15.1 s; outputs byte-identical (benchmarks/README.md).
"""

import collections
import dataclasses
import functools
import threading
import types
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from handson import progress
from handson.matmul_conv import lax_convs_left, use_im2col

CONVS = ("auto", "im2col", "lax")  # fit's convolution paths: see fit's docstring
DATA_AXIS = "data"  # the mesh axis of fit(devices=...): the batch is split along it
COMPILED_KEPT = 16  # compiled step sets kept per process (least recently used go first)
_compiled: collections.OrderedDict = collections.OrderedDict()  # static key -> Steps
_compiled_lock = threading.Lock()  # fit may run in several threads (a live presenter's)


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


def split_loss(loss_fn, mesh: Mesh):
    """`loss_fn` computed data-parallel: each device gets its rows of the batch and a copy of the
    model, computes its own loss; the mean of the devices' losses is returned.

    The devices communicate once per step: the gradient of the replicated model (an input that
    shard_map does not split) is summed over the devices after their backward passes, recurrent
    loops included. `loss_fn` must be a mean over the examples (equal shards: the mean of the
    shards' means is the batch mean).
    """
    def loss(model, x, y):
        graphdef, params, others = nnx.split(model, nnx.Param, ...)

        def local(params, others, x, y):  # on each device: its rows, the whole model
            model, before = nnx.merge(graphdef, params, others), jax.tree.leaves(others)
            value = loss_fn(model, x, y)
            after = jax.tree.leaves(nnx.state(model, nnx.Not(nnx.Param)))
            if any(a is not b for a, b in zip(after, before, strict=True)):
                raise ValueError("fit(devices=...): the loss changed variables of the model other than "
                                 "its parameters (batch statistics, random streams); data-parallel fit "
                                 "does not carry them back: train such a model on one device")
            return value[None]

        # check_vma=False: the loss may start scans from fresh zeros; shard_map then sums the
        # cotangents of its replicated inputs (the gradient) over the devices, once per step
        losses = jax.shard_map(local, mesh=mesh, in_specs=(P(), P(), P(DATA_AXIS), P(DATA_AXIS)),
                               out_specs=P(DATA_AXIS), check_vma=False)(params, others, x, y)
        return losses.mean()
    return loss


def accuracy(logits: jax.Array, y: jax.Array) -> jax.Array:
    """Fraction of correct labels: argmax over classes, or logit > 0 for one binary output."""
    pred = jnp.argmax(logits, -1) if logits.shape[-1] > 1 else (logits[..., 0] > 0)
    return jnp.mean(pred == y.reshape(pred.shape))


# The shuffle is two programs: the permutation (costly to compile: sorts) depends only on the
# number of examples, so every fit call on as many examples shares it, whatever their shape.
@functools.partial(jax.jit, static_argnames="n")
def epoch_order(key: jax.Array, epoch: int, n: int) -> jax.Array:
    """A new order of range(n) for each epoch, from `fold_in(key, epoch)`."""
    return jax.random.permutation(jax.random.fold_in(key, epoch), n)


@functools.partial(jax.jit, static_argnames=("steps", "batch_size"))
def batches(x: jax.Array, y: jax.Array, order: jax.Array, steps: int, batch_size: int) -> tuple:
    """x and y in `order`, cut into (steps, batch_size, ...); the last incomplete batch dropped."""
    index = order[:steps * batch_size].reshape(steps, batch_size)
    return x[index], y[index]


def fit(model: nnx.Module, tx: optax.GradientTransformation, loss_fn, train: tuple,
        val: tuple | None = None, *, epochs: int, key: jax.Array, batch_size: int = 32, scan_epoch: bool | str = "auto",
        patience: int | None = None, eval_train: bool = False, conv: str = "auto",
        on_epoch: Callable[[int, dict], None] | None = None,
        devices: Sequence[jax.Device] | None = None) -> History:
    """Train `model` in place with `loss_fn(model, x, y) -> scalar` and optimizer `tx`.

    Each epoch shuffles with `fold_in(key, epoch)` and drops the last incomplete batch (one batch
    shape, one compilation). `patience`: stop after that many epochs without a lower val loss and
    keep the best model (Keras EarlyStopping + ModelCheckpoint). `eval_train`: also measure the
    training-set accuracy after each epoch (one more forward pass).
    `conv`: how `nnx.Conv` layers compute while training: "im2col" (handson/matmul_conv.py),
    "lax" (XLA's convolutions) or "auto" (im2col on the CPU, lax elsewhere). `scan_epoch`: one
    `lax.scan` per epoch, or one call per step; "auto" scans unless XLA convolutions would run
    on the CPU. `on_epoch(epoch, logs)`: called after each epoch (1-based) with that epoch's
    numbers, the keys of History that were measured (train_loss, grad_norm, learning_rate,
    train_acc, val_loss, val_acc); `progress.report` gets the same plus `epoch` and `epochs`.
    Calls with alike models, optimizers and losses share their compiled steps (cached_steps).
    `devices`: data parallel over these devices (e.g. `jax.devices()`; None or one device: off).
    Each batch is split evenly over them, each holds a copy of the weights and computes the
    loss and gradients of its rows, and the gradients are summed once per step (split_loss).
    `loss_fn` must be a mean over the examples and may change no variable but the parameters
    (no BatchNorm in train mode, no dropout); the result equals one device's up to float
    rounding (sums in another order). On the CPU, XLA's host devices
    (`--xla_force_host_platform_device_count=2`, set before JAX starts) run on separate cores:
    that trains a recurrent model, whose small per-step products XLA keeps on one core, on two
    (the character LSTM 1.46x faster on 2 cores, benchmarks/README.md).
    """
    if conv not in CONVS:
        raise ValueError(f"fit(conv={conv!r}): expected one of {', '.join(map(repr, CONVS))}")
    x, y = map(jnp.asarray, train)  # on the device once, for the whole run
    val = None if val is None else tuple(map(jnp.asarray, val))
    classify = jnp.issubdtype(y.dtype, jnp.integer)
    batch_size = min(batch_size, len(x))
    steps = len(x) // batch_size
    on_cpu = jax.default_backend() == "cpu"
    im2col = conv == "im2col" or (conv == "auto" and on_cpu)
    if scan_epoch == "auto":  # the slow case: an XLA convolution inside a CPU loop
        scan_epoch = not (on_cpu and lax_convs_left(model, im2col=im2col))

    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    graphdef, state = nnx.split((model, optimizer))
    leaves, treedef = jax.tree.flatten(state)  # what jax.jit is fastest to pass around
    # optax.inject_hyperparams(...) keeps the current learning rate in the optimizer state
    paths = [jax.tree_util.keystr(path) for path, _ in jax.tree_util.tree_leaves_with_path(state)]
    lr_leaf = next((i for i, p in enumerate(paths) if "['hyperparams']['learning_rate']" in p), None)
    mesh = data_mesh(devices, batch_size)
    compiled = cached_steps(graphdef, treedef, loss_fn, im2col, bool(classify), mesh)
    if mesh is not None:  # the weights and the optimizer state on every device
        home = leaves[0].sharding
        leaves = jax.device_put(leaves, NamedSharding(mesh, P()))

    history, batch_index = History(), [jnp.asarray(i) for i in range(steps)]
    best_loss, best_leaves, waited = np.inf, leaves, 0
    for epoch in range(epochs):
        order = epoch_order(key, epoch, n=len(x))
        xs, ys = batches(x, y, order, steps=steps, batch_size=batch_size)
        if mesh is not None:  # (steps, batch, ...): each device gets its rows of every batch
            xs, ys = jax.device_put((xs, ys), NamedSharding(mesh, P(None, DATA_AXIS)))
        if scan_epoch:
            leaves, (losses, norms) = compiled.train_epoch(leaves, xs, ys)
        else:
            metrics = []
            for i in batch_index:
                leaves, step_metrics = compiled.train_batch(leaves, xs, ys, i)
                metrics.append(step_metrics)
            losses, norms = zip(*metrics)
        logs = {"train_loss": float(np.mean(np.asarray(losses, np.float64))),
                "grad_norm": float(np.mean(np.asarray(norms, np.float64)))}
        if lr_leaf is not None:
            logs["learning_rate"] = float(leaves[lr_leaf])
        if eval_train and classify:
            logs["train_acc"] = float(compiled.evaluate(leaves, x, y)[1])
        if val is not None:
            val_loss, val_acc = map(float, compiled.evaluate(leaves, *val))
            logs["val_loss"] = val_loss
            if classify:
                logs["val_acc"] = val_acc
        for name, value in logs.items():
            getattr(history, name).append(value)
        if on_epoch is not None:
            on_epoch(epoch + 1, dict(logs))
        progress.report(epoch=epoch + 1, epochs=epochs, **logs)
        if val is None:
            continue
        if val_loss < best_loss:
            best_loss, best_leaves, waited = val_loss, leaves, 0
        elif patience is not None and (waited := waited + 1) >= patience:
            break
    if patience is not None and val is not None:
        leaves = best_leaves
    if mesh is not None:  # back where the model was
        leaves = jax.device_put(leaves, home)
    nnx.update((model, optimizer), jax.tree.unflatten(treedef, leaves))
    return history



@dataclasses.dataclass(frozen=True)
class Steps:
    """fit's jitted functions for one model structure, optimizer and loss; data are arguments."""

    train_epoch: Callable  # (leaves, xs, ys) -> leaves, (losses, grad norms): one lax.scan
    train_batch: Callable  # (leaves, xs, ys, i) -> leaves, (loss, grad norm): batch i
    evaluate: Callable  # (leaves, x, y) -> (loss, accuracy or nan)


def data_mesh(devices, batch_size: int) -> Mesh | None:
    """fit's mesh for `devices=`: None for one device (or None), else a 1-D mesh on DATA_AXIS."""
    if devices is None or len(devices) <= 1:
        return None
    if len(set(devices)) != len(devices):
        raise ValueError(f"fit(devices=...): a device appears twice in {list(devices)}")
    if batch_size % len(devices):
        raise ValueError(f"fit(devices=...): batch_size {batch_size} does not split evenly over "
                         f"{len(devices)} devices")
    return Mesh(np.array(devices), (DATA_AXIS,))


def compile_steps(graphdef, treedef, loss_fn, im2col: bool, classify: bool,
                  mesh: Mesh | None = None) -> Steps:
    """Jit fit's functions for the flat state of (model, optimizer) described by graphdef/treedef.

    With a `mesh`, training computes the loss data-parallel (split_loss); evaluation does not
    (a validation set need not split evenly), it runs on every device of the weights.
    """
    train_loss = loss_fn if mesh is None else split_loss(loss_fn, mesh)

    def merge(leaves):  # the NNX objects, which exist only while tracing
        model, optimizer = nnx.merge(graphdef, jax.tree.unflatten(treedef, leaves))
        if im2col:
            use_im2col(model)  # convolutions as matrix products: see the module docstring
        return model, optimizer

    def step(leaves, x, y):  # train_step on the flat state
        model, optimizer = merge(leaves)
        model.train()  # dropout on, batch norm uses and updates batch statistics
        metrics = train_step(model, optimizer, train_loss, x, y)
        return jax.tree.leaves(nnx.state((model, optimizer))), metrics

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

    return Steps(train_epoch, train_batch, evaluate)


def cached_steps(graphdef, treedef, loss_fn, im2col: bool, classify: bool, mesh: Mesh | None = None) -> Steps:
    """compile_steps, reused by every fit call whose model, optimizer and loss are alike.

    jax.jit caches by function identity, and every fit call builds new closures (and demos
    build a new model, `optax.adam(...)` and lambdas for each run), so each call would trace
    and compile again. Here equal static keys share one set of jitted functions, which jax then
    reuses for every repeated shape.
    """
    key = static_key((graphdef, treedef, loss_fn, im2col, classify, mesh))
    with _compiled_lock:
        steps = _compiled.get(key)
        if steps is None:
            steps = _compiled[key] = compile_steps(graphdef, treedef, loss_fn, im2col, classify, mesh)
            while len(_compiled) > COMPILED_KEPT:
                _compiled.popitem(last=False)
        else:
            _compiled.move_to_end(key)
    return steps


class _Same:
    """A key part equal only to the same object (and keeping it alive, so its id is not reused)."""

    def __init__(self, obj):
        self.obj = obj

    def __eq__(self, other):
        return isinstance(other, _Same) and other.obj is self.obj

    def __hash__(self):
        return id(self.obj)


def static_key(obj, _seen: frozenset = frozenset()):
    """A hashable key, equal for objects that behave alike when traced.

    Functions compare by code, defaults, closure values and module (their globals are read
    when first traced, as with jax.jit); partials, tuples, lists, dicts and dataclasses (NNX
    graph definitions, optax transformations) by their parts; numbers by type and bits; other
    hashable objects by their own equality; anything else (arrays) by identity. Lists and dicts
    compare by their contents now: a closure over a list that grows gives a new key each time.
    """
    if type(obj) in (bool, int, str, bytes, type(None)):
        return type(obj), obj
    if type(obj) is float:  # -0.0 == 0.0 and nan != nan: compare the bits
        return float, obj.hex()
    if id(obj) in _seen:  # a cycle (a function in its own closure)
        return _Same(obj)
    seen = _seen | {id(obj)}
    if isinstance(obj, types.FunctionType):
        cells = tuple(static_key(c.cell_contents, seen) if _filled(c) else _Same(c)
                      for c in obj.__closure__ or ())
        return (types.FunctionType, obj.__code__, _Same(obj.__globals__), cells,
                static_key(obj.__defaults__, seen), static_key(obj.__kwdefaults__, seen))
    if isinstance(obj, functools.partial):
        return (type(obj), static_key(obj.func, seen), static_key(obj.args, seen),
                static_key(obj.keywords, seen))
    if type(obj) is types.MethodType:
        return types.MethodType, static_key(obj.__func__, seen), _Same(obj.__self__)
    if isinstance(obj, (tuple, list)):
        return type(obj), tuple(static_key(item, seen) for item in obj)
    if isinstance(obj, dict):
        return type(obj), tuple((static_key(k, seen), static_key(v, seen)) for k, v in obj.items())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type) and obj.__dataclass_params__.frozen:
        return type(obj), tuple(static_key(getattr(obj, f.name), seen) for f in dataclasses.fields(obj))
    try:
        hash(obj)
    except TypeError:
        return _Same(obj)
    return type(obj), obj


def _filled(cell) -> bool:
    try:
        cell.cell_contents
    except ValueError:  # a closure variable not assigned yet
        return False
    return True
