"""Deck 3's exercise CNN, its training run and the dropout summary, as published."""

import numpy as np
import pytest

from published import outputs, results


def test_exercise_cnn_solution():
    r = results("exercise_cnn")
    convs, (din, dout) = r["kernel_shapes"], r["dense_kernel_shape"]
    # the solution slide: (k·k·c_in + 1)·c_out per convolution, (n + 1)·m for the dense layer
    assert r["layer_params"] == [(kh * kw * cin + 1) * cout for kh, kw, cin, cout in convs] + [(din + 1) * dout]
    assert r["total"] == r["trainable"] == sum(r["params"]) == 47645 and r["non_trainable"] == 0
    assert r["module_params"] == r["sequential_params"] == r["total"]
    # the volumes: 'VALID' convolutions, then pools that stride by their window
    assert r["paddings"] == ["VALID"] * len(convs) and r["pool_window"] == r["pool_strides"]
    side, volumes = r["input_shape"][0], [r["input_shape"]]
    for kh, _, _, cout in convs:
        side = side - kh + 1
        volumes.append([side, side, cout])
        side //= r["pool_window"][0]
        volumes.append([side, side, cout])
    assert r["volumes"] == volumes + [[dout]] and side * side * convs[-1][3] == din
    assert r["labels"] == ["×".join(map(str, v)) for v in r["volumes"]]
    lines = (outputs("exercise_cnn") / "summary.txt").read_text().splitlines()
    assert [lines[i - 1].split()[0] for i in r["summary_row_lines"]] == r["rows"]
    assert "Total params: 47,645" in lines
    compact = (outputs("exercise_cnn") / "summary_compact.txt").read_text().splitlines()
    assert compact == [line for k, line in enumerate(lines) if k == 0 or not line.startswith("_")]


def test_train_cnn_trains_the_exercise_model():
    """The trained network is the exercise's: same weight shapes, layer by layer."""
    exercise, trained = results("exercise_cnn"), results("train_cnn")
    assert trained["kernel_shapes"] == exercise["kernel_shapes"] + [exercise["dense_kernel_shape"]]
    assert trained["params"] == exercise["total"]


def test_data_split():
    r = results("train_cnn")
    n = r["n_train"] + r["n_val"] + r["n_test"]
    assert n == 1797
    assert r["n_test"] == round(r["test_fraction"] * n)
    assert r["n_val"] == round(r["val_fraction"] * (n - r["n_test"]))
    # "steps_per_epoch steps per epoch": the optimizer's step count t, read back from the
    # learning rate lr_start / (1 + decay·t) it held at the end of each epoch, grows by that much
    t = (r["lr_start"] / np.array(r["learning_rate"]) - 1) / r["decay"] + 1  # steps taken
    np.testing.assert_allclose(t, r["steps_per_epoch"] * np.arange(1, len(t) + 1), atol=0.01)
    assert r["steps_per_epoch"] * r["batch_size"] <= r["n_train"]  # batches of distinct digits


def test_early_stopping_and_checkpoint():
    r = results("train_cnn")
    assert r["stopped_early"] and r["epochs_run"] < r["max_epochs"]
    assert r["epochs_run"] == r["best_epoch"] + r["patience"]  # "stop after PATIENCE epochs"
    assert r["best_val_loss"] == min(r["val_loss"]) == r["val_loss"][r["best_epoch"] - 1]
    assert r["last_val_loss"] > r["best_val_loss"]
    assert r["reload_max_abs_diff"] == 0.0 and r["restored_test_acc"] == r["test_acc"]
    assert r["restored_val_loss"] == pytest.approx(r["best_val_loss"], rel=1e-5)
    assert r["test_acc"] > 0.95 and r["best_val_acc"] > 0.95


def test_learning_rate_follows_the_decay_formula():
    """η_t = η_0 / (1 + d·t), t in steps: the rate read back from the optimizer state at the
    last step of each epoch."""
    r = results("train_cnn")
    lr, decay, steps = r["lr_start"], r["decay"], r["steps_per_epoch"]
    expected = [lr / (1 + decay * (k * steps - 1)) for k in range(1, r["epochs_run"] + 1)]
    np.testing.assert_allclose(r["learning_rate"], expected, rtol=1e-5)
    assert r["lr_end"] == r["learning_rate"][-1] < lr


def test_confusion_matrix():
    r = results("train_cnn")
    m = np.array(r["confusion"])
    assert m.shape == (10, 10) and m.sum() == r["n_test"]
    assert np.trace(m) / m.sum() == pytest.approx(r["test_acc"], abs=1e-6)
    off = m - np.diag(np.diag(m))
    assert off.sum() == r["test_errors"] and off.max() == r["max_pair_errors"]
    assert sorted(map(tuple, r["error_pairs"])) == sorted(
        (t, p, off[t, p]) for t, p in zip(*np.nonzero(off)))


def test_silent_filters():
    """Silent on every test and training digit, not at initialisation, and no gradient."""
    r = results("train_cnn")
    assert r["filter_shape"][3] == 10 and r["feature_map_shape"][2] == r["filter_shape"][3]
    assert r["silent_filters"] == len(r["silent_filter_ids"]) <= r["zero_maps"]
    assert 0 < r["silent_on_train"] <= r["silent_filters"]
    assert r["silent_at_init"] == 0
    assert r["dead_grad_max"] == 0.0 < r["live_grad_min"]
    assert r["filter_change"] > 0.1  # training moved the filters


def test_dropout_summary():
    r = results("dropout_summary")
    assert r["params"] == [20, 0, 76, 0]  # 3·3·1·2 + 2, 3·3·2·4 + 4, dropout none
    assert r["total"] == r["trainable"] == sum(r["params"]) and r["non_trainable"] == 0
    assert r["rng_state_values"] > 0  # the dropout layers hold random-number state, not counted
    text = (outputs("dropout_summary") / "summary.txt").read_text()
    assert f"Total params: {r['total']}" in text and "dropout_2 (Dropout)" in text
