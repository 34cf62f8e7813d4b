"""The numbers deck 3's exercise CNN, its training run and the dropout summary put on slides."""

import hashlib
from pathlib import Path

import jax
import numpy as np
import pytest
from flax import nnx

from demo_helpers import demo_runner, finite

DEMOS = Path(__file__).resolve().parent.parent / "demos" / "03_convolutional_networks"


load, run = demo_runner(DEMOS)


def digests(out: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir())}


@pytest.fixture(scope="module")
def exercise(tmp_path_factory):
    out = tmp_path_factory.mktemp("exercise_cnn")
    return out, run("exercise_cnn", out)


@pytest.fixture(scope="module")
def training(tmp_path_factory):
    out = tmp_path_factory.mktemp("train_cnn")
    return out, run("train_cnn", out)  # full budget: early stopping must trigger


@pytest.fixture(scope="module")
def dropout(tmp_path_factory):
    out = tmp_path_factory.mktemp("dropout_summary")
    return out, run("dropout_summary", out)


def test_exercise_cnn_shapes_and_counts(exercise):
    out, r = exercise
    assert finite(r)
    assert r["volumes"] == [[32, 32, 1], [28, 28, 10], [14, 14, 10], [10, 10, 25], [5, 5, 25],
                            [2, 2, 100], [1, 1, 100], [10]]
    assert r["labels"][1] == "28×28×10" and r["labels"][-1] == "10"
    # 5·5·1·10+10, 5·5·10·25+25, 4·4·25·100+100, 100·10+10: the Keras S6 numbers
    assert r["layer_params"] == [260, 6275, 40100, 1010]
    assert r["total"] == r["trainable"] == 47645 and r["non_trainable"] == 0
    assert sum(r["params"]) == 47645 and len(r["params"]) == len(r["rows"]) == 11
    assert r["module_params"] == r["sequential_params"] == 47645 and r["same_params"]
    assert r["module_output_shape"] == [10]
    text = (out / "summary.txt").read_text()
    assert "Total params: 47,645" in text and "(None, 1, 1, 100)" in text
    lines = text.splitlines()
    assert [lines[i - 1].split()[0] for i in r["summary_row_lines"]] == r["rows"]
    svg = (out / "cnn.svg").read_bytes()
    assert b"<svg" in svg[:2000]


def test_exercise_cnn_is_deterministic(exercise, tmp_path):
    out, _ = exercise
    run("exercise_cnn", tmp_path)
    assert digests(tmp_path) == digests(out)


def test_both_styles_have_the_same_layers():
    demo = load("exercise_cnn")
    seq = nnx.eval_shape(lambda: demo["cnn"](nnx.Rngs(0)))
    module = nnx.eval_shape(lambda: demo["CNN"](nnx.Rngs(0)))
    shapes = lambda m: sorted(leaf.shape for leaf in jax.tree.leaves(nnx.state(m, nnx.Param)))  # noqa: E731
    assert shapes(seq) == shapes(module)


def test_train_cnn_trains_the_exercise_model():
    """train_cnn.py repeats the exercise model: same parameter shapes, layer by layer."""
    a = nnx.eval_shape(lambda: load("exercise_cnn")["cnn"](nnx.Rngs(0)))
    b = nnx.eval_shape(lambda: load("train_cnn")["cnn"](nnx.Rngs(0)))
    shapes = lambda m: [leaf.shape for leaf in jax.tree.leaves(nnx.state(m, nnx.Param))]  # noqa: E731
    assert shapes(a) == shapes(b)
    assert [type(x).__name__ for x in a.layers] == [type(x).__name__ for x in b.layers]


def test_train_cnn_early_stopping_and_checkpoint(training):
    out, r = training
    assert finite(r)
    for name in ("cnn_training.svg", "filters.svg", "feature_maps.svg"):
        assert (out / name).stat().st_size > 0
    assert r["n_train"] + r["n_val"] + r["n_test"] == 1797
    assert (r["n_train"], r["n_val"], r["n_test"]) == (1007, 431, 359)
    # early stopping: ran PATIENCE epochs past the best one, before the budget
    assert r["stopped_early"] and r["epochs_run"] < r["max_epochs"]
    assert r["epochs_run"] == r["best_epoch"] + r["patience"]
    assert r["best_val_loss"] == min(r["val_loss"]) == r["val_loss"][r["best_epoch"] - 1]
    assert r["last_val_loss"] > r["best_val_loss"]
    # the kept model is the best epoch's: its reload gives the same predictions and val loss
    assert r["reload_max_abs_diff"] == 0.0
    assert r["restored_test_acc"] == r["test_acc"]
    assert r["restored_val_loss"] == pytest.approx(r["best_val_loss"], rel=1e-5)
    assert r["test_acc"] > 0.95 and r["best_val_acc"] > 0.95


def test_train_cnn_learning_rate_is_keras_decay(training):
    _, r = training
    demo = load("train_cnn")
    lr, decay, steps = demo["LEARNING_RATE"], demo["DECAY"], r["steps_per_epoch"]
    assert r["lr_start"] == pytest.approx(lr)
    # the rate of the last step of epoch k: lr / (1 + decay·t) with t = k·steps − 1
    expected = [lr / (1 + decay * (k * steps - 1)) for k in range(1, r["epochs_run"] + 1)]
    np.testing.assert_allclose(r["learning_rate"], expected, rtol=1e-5)
    assert r["lr_end"] == r["learning_rate"][-1] < r["lr_start"]


def test_train_cnn_filters_and_maps(training):
    _, r = training
    assert r["filter_shape"] == [5, 5, 1, 10]
    assert r["feature_map_shape"] == [28, 28, 10]
    assert 0 < r["zero_fraction"] < 1
    assert r["silent_filters"] == len(r["silent_filter_ids"]) <= r["zero_maps"] < 10
    assert r["filter_change"] > 0.1  # training moved the filters


def test_train_cnn_is_deterministic(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert run("train_cnn", a, epochs=1) == run("train_cnn", b, epochs=1)
    assert digests(a) == digests(b)


def test_dropout_summary(dropout):
    out, r = dropout
    assert finite(r)
    assert r["shapes"] == [[7, 7, 2], [7, 7, 2], [5, 5, 4], [5, 5, 4]]
    assert r["params"] == [20, 0, 76, 0]  # 3·3·1·2+2, 3·3·2·4+4
    assert r["total"] == r["trainable"] == 96 and r["non_trainable"] == 0
    assert r["rng_state_values"] == 4  # key + counter in each dropout layer, not counted
    text = (out / "summary.txt").read_text()
    assert "Total params: 96" in text and "dropout_2 (Dropout)" in text
