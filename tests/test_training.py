"""handson.training.fit on tiny synthetic problems: it learns, it is deterministic, scan == loop,
its options, and repeated calls reuse compiled steps."""

import functools
import math
import types
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jax import lax

from handson import training
from handson.matmul_conv import im2col_conv, lax_convs_left, use_im2col
from handson.training import History, accuracy, compile_steps, fit, static_key, train_step

EPOCHS = 8
BATCH = 16


def data(n=96, seed=0):
    """3 linearly separable classes in 4-D: (x, y) with y = argmax(x @ w)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    w = np.random.default_rng(123).normal(size=(4, 3))
    return x, np.argmax(x @ w, axis=1).astype(np.int32)


def mlp(seed=0):
    rngs = nnx.Rngs(seed)
    return nnx.Sequential(nnx.Linear(4, 16, rngs=rngs), nnx.relu, nnx.Linear(16, 3, rngs=rngs))


def cross_entropy(model, x, y):
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()


def params(model):
    return [np.asarray(leaf) for leaf in jax.tree.leaves(nnx.state(model, nnx.Param))]


def run(scan_epoch, **kwargs):
    model = mlp()
    history = fit(model, optax.adam(0.01), cross_entropy, train=data(), val=data(48, seed=1),
                  epochs=EPOCHS, batch_size=BATCH, key=jax.random.key(0), scan_epoch=scan_epoch,
                  **kwargs)
    return model, history


@pytest.fixture(scope="module")
def scanned():
    return run(scan_epoch=True, eval_train=True)


@pytest.fixture(scope="module")
def looped():
    return run(scan_epoch=False, eval_train=True)


def test_loss_decreases_and_accuracy_rises(scanned):
    _, h = scanned
    assert h.train_loss[-1] < 0.5 * h.train_loss[0]
    assert h.val_loss[-1] < h.val_loss[0]
    assert h.val_acc[-1] > 0.8 and h.train_acc[-1] > 0.8


def test_history_lengths_and_types(scanned):
    _, h = scanned
    for name in ("train_loss", "val_loss", "val_acc", "train_acc", "grad_norm"):
        values = getattr(h, name)
        assert len(values) == EPOCHS, name
        assert all(type(v) is float and math.isfinite(v) for v in values), name
    assert h.learning_rate == []  # a plain optax.adam has no learning rate in its state
    assert 1 <= h.best_epoch <= EPOCHS
    assert all(0.0 <= a <= 1.0 for a in h.val_acc)


def test_deterministic(scanned):
    model, h = run(scan_epoch=True, eval_train=True)
    assert h == scanned[1]
    assert all(np.array_equal(a, b) for a, b in zip(params(model), params(scanned[0])))


def test_scan_and_loop_agree(scanned, looped):
    (m1, h1), (m2, h2) = scanned, looped
    for name in ("train_loss", "val_loss", "val_acc", "train_acc", "grad_norm"):
        np.testing.assert_allclose(getattr(h1, name), getattr(h2, name), rtol=1e-4, atol=1e-6)
    for a, b in zip(params(m1), params(m2)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_model_trained_in_place(scanned):
    model, h = scanned
    x_val, y_val = data(48, seed=1)
    model.eval()
    assert float(cross_entropy(model, x_val, y_val)) == pytest.approx(h.val_loss[-1], rel=1e-4)
    assert params(model)[0].shape == (16,) and not np.array_equal(params(model)[1], params(mlp())[1])


def test_early_stopping_keeps_the_best_model():
    """Validation labels shifted by one class: val loss rises as the model learns the train set."""
    x, y = data()
    model = mlp()
    h = fit(model, optax.adam(0.01), cross_entropy, train=(x, y), val=(x, (y + 1) % 3),
            epochs=50, batch_size=BATCH, key=jax.random.key(0), patience=2)
    assert len(h.val_loss) == h.best_epoch + 2 < 50
    model.eval()
    assert float(cross_entropy(model, x, (y + 1) % 3)) == pytest.approx(min(h.val_loss), rel=1e-4)


def test_regression_with_dropout_batch_norm_and_schedule():
    """Float targets: no accuracy. Train/eval modes, batch statistics and the learning rate log."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]]) + 3.0).astype(np.float32)
    rngs = nnx.Rngs(0)
    model = nnx.Sequential(nnx.Linear(3, 8, rngs=rngs), nnx.BatchNorm(8, rngs=rngs), nnx.relu,
                           nnx.Dropout(0.1, rngs=rngs), nnx.Linear(8, 1, rngs=rngs))
    schedule = optax.linear_schedule(0.05, 0.01, transition_steps=4 * 4)
    tx = optax.inject_hyperparams(optax.adam)(learning_rate=schedule)

    def mse(model, x, y):
        return jnp.mean((model(x) - y) ** 2)

    h = fit(model, tx, mse, train=(x, y), val=(x[:16], y[:16]), epochs=6, batch_size=BATCH,
            key=jax.random.key(1), eval_train=True)
    assert h.val_acc == [] and h.train_acc == []
    assert h.train_loss[-1] < 0.5 * h.train_loss[0]
    # 4 steps per epoch: the last step of epoch e is step 4e - 1
    expected = [float(schedule(4 * epoch - 1)) for epoch in range(1, 7)]
    np.testing.assert_allclose(h.learning_rate, expected, rtol=1e-6)
    assert not np.allclose(model.layers[1].mean[...], 0.0)  # running mean updated in training
    assert all(math.isfinite(v) for v in h.train_loss + h.val_loss + h.grad_norm)


def test_small_dataset_and_no_validation():
    x, y = data(10)
    h = fit(mlp(), optax.sgd(0.1), cross_entropy, train=(x, y), epochs=3, batch_size=32,
            key=jax.random.key(0))
    assert len(h.train_loss) == 3 and h.val_loss == [] and h.val_acc == []


def test_train_step_is_the_nnx_step():
    model = mlp()
    optimizer = nnx.Optimizer(model, optax.sgd(0.1), wrt=nnx.Param)
    x, y = data(16)
    step = nnx.jit(train_step, static_argnums=2)
    loss, norm = step(model, optimizer, cross_entropy, x, y)
    assert float(step(model, optimizer, cross_entropy, x, y)[0]) < float(loss) and float(norm) > 0


def test_helpers():
    assert float(accuracy(jnp.array([[0.1, 0.9], [0.8, 0.2]]), jnp.array([1, 1]))) == 0.5
    assert float(accuracy(jnp.array([[2.0], [-1.0]]), jnp.array([1, 1]))) == 0.5  # binary logit
    assert History().train_loss == []


@pytest.mark.parametrize("shape, kernel, strides, padding", [
    ((2, 7, 7, 1), (3, 3, 1, 1), (1, 1), "VALID"),  # the conv-arithmetic cases of deck 3
    ((2, 5, 5, 1), (3, 3, 1, 1), (1, 1), "SAME"),
    ((2, 5, 5, 1), (3, 3, 1, 1), (2, 2), "SAME"),
    ((3, 32, 32, 1), (5, 5, 1, 10), (1, 1), "VALID"),  # first layer of the exercise CNN
    ((2, 9, 8, 3), (4, 2, 3, 5), (2, 3), ((1, 2), (0, 1))),  # odd sizes, explicit pads
    ((2, 11, 4), (3, 4, 6), (2,), "SAME"),  # 1-D
])
def test_im2col_conv_matches_lax(shape, kernel, strides, padding):
    kx, kw = jax.random.split(jax.random.key(0))
    x, w = jax.random.normal(kx, shape), jax.random.normal(kw, kernel)
    dims = ("NHWC", "HWIO", "NHWC") if len(shape) == 4 else ("NWC", "WIO", "NWC")

    def loss(conv, x, w):  # a scalar whose gradients reach both operands
        return jnp.sum(jnp.sin(conv(x, w, strides, padding, dimension_numbers=dims)))

    ours, theirs = (jax.value_and_grad(loss, argnums=(1, 2))(conv, x, w)
                    for conv in (im2col_conv, lax.conv_general_dilated))
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs)):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-4)


def test_use_im2col_switches_plain_convs_only():
    rngs = nnx.Rngs(0)
    plain = nnx.Conv(1, 2, (3, 3), rngs=rngs)
    dilated = nnx.Conv(2, 2, (3, 3), kernel_dilation=2, rngs=rngs)
    model = nnx.Sequential(plain, nnx.relu)
    assert not lax_convs_left(model) and not lax_convs_left(mlp())
    assert lax_convs_left(model, im2col=False) and not lax_convs_left(mlp(), im2col=False)
    assert lax_convs_left(nnx.Sequential(plain, dilated))  # dilations stay with lax: no scan
    assert lax_convs_left(nnx.Sequential(nnx.ConvTranspose(1, 1, (3, 3), rngs=rngs)))
    use_im2col(model)
    assert plain.conv_general_dilated is im2col_conv


def test_fit_trains_a_cnn_and_leaves_its_convolution_alone():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6, 6, 1)).astype(np.float32)
    y = (x[:, :3].sum(axis=(1, 2, 3)) > x[:, 3:].sum(axis=(1, 2, 3))).astype(np.int32)  # top vs bottom

    def cnn():
        rngs = nnx.Rngs(0)
        return nnx.Sequential(nnx.Conv(1, 4, (3, 3), padding="VALID", rngs=rngs), nnx.relu,
                              lambda h: h.reshape(len(h), -1), nnx.Linear(64, 2, rngs=rngs))

    runs = []
    for scan_epoch in (True, False):
        model = cnn()
        h = fit(model, optax.adam(1e-2), cross_entropy, train=(x, y), val=(x, y), epochs=30,
                batch_size=16, key=jax.random.key(0), scan_epoch=scan_epoch)
        runs.append((h, params(model)))
        assert model.layers[0].conv_general_dilated is lax.conv_general_dilated
        assert h.val_acc[-1] >= 0.9 and h.train_loss[-1] < h.train_loss[0] / 2
    (scanned, p_scan), (looped, p_loop) = runs
    np.testing.assert_allclose(scanned.train_loss, looped.train_loss, rtol=1e-4)
    for a, b in zip(p_scan, p_loop):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_on_epoch_gets_each_epoch_numbers():
    calls = []
    x, y = data()
    h = fit(mlp(), optax.adam(0.01), cross_entropy, train=(x, y), val=(x, (y + 1) % 3), epochs=50,
            batch_size=BATCH, key=jax.random.key(0), patience=2, eval_train=True,
            on_epoch=lambda epoch, logs: calls.append((epoch, logs)))
    assert [epoch for epoch, _ in calls] == list(range(1, len(h.val_loss) + 1))  # 1-based, early stop
    for name in ("train_loss", "val_loss", "val_acc", "train_acc", "grad_norm"):
        assert [logs[name] for _, logs in calls] == getattr(h, name), name
    assert "learning_rate" not in calls[0][1]  # not measured: not reported


def test_on_epoch_reports_the_learning_rate():
    calls = []
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=optax.linear_schedule(0.1, 0.0, 12))
    h = fit(mlp(), tx, cross_entropy, train=data(), epochs=2, batch_size=BATCH, key=jax.random.key(0),
            on_epoch=lambda epoch, logs: calls.append(logs))
    assert [logs["learning_rate"] for logs in calls] == h.learning_rate
    assert set(calls[0]) == {"train_loss", "grad_norm", "learning_rate"}  # no validation set


@pytest.mark.parametrize("conv, im2col", [("auto", True), ("im2col", True), ("lax", False)])
def test_conv_option_chooses_the_convolution_path(monkeypatch, conv, im2col):
    seen = []
    real = training.cached_steps
    monkeypatch.setattr(training, "cached_steps",
                        lambda *args: seen.append(args[3]) or real(*args))  # args[3]: im2col
    x = np.random.default_rng(0).normal(size=(32, 6, 6, 1)).astype(np.float32)
    model = nnx.Sequential(nnx.Conv(1, 2, (3, 3), rngs=nnx.Rngs(0)), lambda h: h.reshape(len(h), -1),
                           nnx.Linear(72, 2, rngs=nnx.Rngs(1)))
    fit(model, optax.sgd(0.1), cross_entropy, train=(x, np.zeros(32, np.int32)), epochs=1,
        batch_size=16, key=jax.random.key(0), conv=conv)
    assert seen == [im2col]  # on this CPU, "auto" is im2col
    with pytest.raises(ValueError, match="conv='fft'"):
        fit(model, optax.sgd(0.1), cross_entropy, train=(x, np.zeros(32, np.int32)), epochs=1,
            key=jax.random.key(0), conv="fft")


@pytest.mark.parametrize("im2col", [True, False])
def test_compiled_steps_use_the_chosen_convolution(im2col):
    model = nnx.Sequential(nnx.Conv(1, 2, (3, 3), rngs=nnx.Rngs(0)))
    graphdef, state = nnx.split((model, nnx.Optimizer(model, optax.sgd(0.1), wrt=nnx.Param)))
    leaves, treedef = jax.tree.flatten(state)
    steps = compile_steps(graphdef, treedef, lambda m, x, y: jnp.mean(m(x)), im2col, False)
    jaxpr = str(jax.make_jaxpr(steps.train_batch)(leaves, jnp.ones((2, 4, 5, 5, 1)), jnp.ones((2, 4)), 0))
    assert ("conv_general_dilated" in jaxpr) is not im2col


def test_repeated_fits_reuse_their_compiled_steps():
    """New models, new optax.adam(...) and new lambdas of the same kind: traced once, not per call."""
    log = types.SimpleNamespace(traced=[])  # compared by identity: its contents may change

    def loss(model, x, y):  # runs only while jax traces
        log.traced.append(x.shape)
        return cross_entropy(model, x, y)

    def model(seed):
        rngs = nnx.Rngs(seed)
        return nnx.Sequential(nnx.Linear(4, 5, rngs=rngs), lambda h: nnx.relu(h), nnx.Linear(5, 3, rngs=rngs))

    def train(seed, lr=0.01, n=96):
        net = model(seed)
        fit(net, optax.adam(lr), loss, train=data(n), val=data(48, seed=1), epochs=2, batch_size=BATCH,
            key=jax.random.key(seed))
        return params(net)

    first = train(0)
    count = len(log.traced)
    assert count > 0
    assert not np.array_equal(train(1)[0], first[0])  # other weights, other key: same programs
    assert len(log.traced) == count
    train(0, lr=0.02)  # another learning rate is another program
    assert len(log.traced) > count
    count = len(log.traced)
    train(0, n=64)  # other shapes: jax traces the same functions again
    assert len(log.traced) > count


def test_reuse_tells_closures_apart():
    """Losses with the same code but another captured value must not share compiled steps."""
    def scaled(scale):
        def loss(model, x, y):
            return scale * cross_entropy(model, x, y)
        return loss

    one, two = (fit(mlp(), optax.adam(0.01), scaled(s), train=data(), epochs=2, batch_size=BATCH,
                    key=jax.random.key(0)) for s in (1.0, 2.0))
    np.testing.assert_allclose(two.train_loss, 2 * np.array(one.train_loss), rtol=1e-3)


def test_static_key():
    def closure(value):
        return lambda: value

    assert static_key(closure(1.0)) == static_key(closure(1.0))
    assert static_key(closure(1.0)) != static_key(closure(2.0))
    assert static_key(closure(1)) != static_key(closure(1.0)) != static_key(closure(True))
    assert static_key(0.0) != static_key(-0.0) and static_key(math.nan) == static_key(math.nan)
    assert static_key(optax.adam(1e-3)) == static_key(optax.adam(1e-3))
    assert static_key(optax.adam(1e-3)) != static_key(optax.sgd(1e-3))
    a = np.zeros(3)
    assert static_key([a]) == static_key([a]) and static_key([a]) != static_key([np.zeros(3)])
    hash(static_key({"f": closure([1, 2]), "g": functools.partial(print, sep="")}))

    def recursive(n):  # a function in its own closure
        return n and recursive(n - 1)
    hash(static_key(recursive))


def test_the_exercise_cnn_is_defined_once():
    """Its last convolution, 4x4 from 25 to 100 channels, is written only in exercise_cnn.py;
    train_cnn.py and the benchmarks import it."""
    root = Path(__file__).resolve().parent.parent
    files = [*root.glob("demos/*/*.py"), *root.glob("benchmarks/*.py")]
    defining = {p.relative_to(root).as_posix() for p in files if "(25, 100, (4, 4))" in p.read_text()}
    assert defining == {"demos/03_convolutional_networks/exercise_cnn.py"}
    assert "from exercise_cnn import cnn" in (root / "demos/03_convolutional_networks/train_cnn.py").read_text()
