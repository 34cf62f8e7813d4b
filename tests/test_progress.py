"""handson.progress: reports reach the listeners of the moment, and fit reports every epoch."""

import threading

import jax
import numpy as np
import optax
import pytest
from flax import nnx

from handson import progress
from handson.training import fit


def test_report_without_listeners_does_nothing():
    progress.report(epoch=1, loss=0.5)  # no error, nothing kept
    assert progress._listeners == []


def test_listen_receives_reports_until_the_block_ends():
    outer, inner = [], []
    with progress.listen(outer.append):
        progress.report(epoch=1)
        with progress.listen(inner.append):
            progress.report(epoch=2, loss=0.25)
        progress.report(epoch=3)
    progress.report(epoch=4)
    assert outer == [{"epoch": 1}, {"epoch": 2, "loss": 0.25}, {"epoch": 3}]
    assert inner == [{"epoch": 2, "loss": 0.25}]
    assert progress._listeners == []


def test_listeners_get_their_own_copy():
    got = []
    with progress.listen(lambda fields: fields.update(epoch=99)), progress.listen(got.append):
        progress.report(epoch=1)
    assert got == [{"epoch": 1}]


def test_process_wide_reports_from_another_thread():
    got = []
    with progress.listen(got.append):
        worker = threading.Thread(target=progress.report, kwargs={"epoch": 7})
        worker.start()
        worker.join()
    assert got == [{"epoch": 7}]


def test_a_listener_error_stops_the_reporter_and_unregisters():
    def stop(fields):
        raise KeyboardInterrupt("stop the demo")

    with pytest.raises(KeyboardInterrupt):
        with progress.listen(stop):
            progress.report(epoch=1)
    assert progress._listeners == []


def model():
    rngs = nnx.Rngs(0)
    return nnx.Sequential(nnx.Linear(4, 8, rngs=rngs), nnx.relu, nnx.Linear(8, 3, rngs=rngs))


def loss_fn(model, x, y):
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()


def test_fit_reports_each_epoch():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = np.argmax(x[:, :3], axis=1).astype(np.int32)
    reports = []
    with progress.listen(reports.append):
        history = fit(model(), optax.adam(0.01), loss_fn, train=(x, y), val=(x[:16], y[:16]),
                      epochs=3, batch_size=16, key=jax.random.key(0))
    assert [r["epoch"] for r in reports] == [1, 2, 3] and {r["epochs"] for r in reports} == {3}
    assert [r["train_loss"] for r in reports] == history.train_loss
    assert [r["val_acc"] for r in reports] == history.val_acc
    assert set(reports[0]) == {"epoch", "epochs", "train_loss", "grad_norm", "val_loss", "val_acc"}


def test_a_listener_can_stop_fit():
    x = np.random.default_rng(0).normal(size=(32, 4)).astype(np.float32)
    y = np.zeros(32, np.int32)

    def stop_at_two(fields):
        if fields["epoch"] == 2:
            raise KeyboardInterrupt

    epochs = []
    with pytest.raises(KeyboardInterrupt), progress.listen(stop_at_two), \
            progress.listen(lambda fields: epochs.append(fields["epoch"])):
        fit(model(), optax.sgd(0.1), loss_fn, train=(x, y), epochs=5, batch_size=16, key=jax.random.key(0))
    assert epochs == [1]  # the listener registered first stops the run before the second hears epoch 2
