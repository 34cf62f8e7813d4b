"""The claims of deck 2's activation_layer, decision_regions, playground and losses demos."""

import hashlib
from pathlib import Path

import jax
import numpy as np
import optax
import pytest
from flax import nnx
from PIL import Image

from handson.training import fit

from demo_helpers import demo_runner, finite

DEMOS = Path(__file__).resolve().parent.parent / "demos" / "02_neural_networks"


load, _ = demo_runner(DEMOS)


def test_activation_layer(tmp_path):
    r = load("activation_layer")["main"](tmp_path)
    assert finite(r)
    # Dense(3, 4, activation=nnx.sigmoid): one row of (3 + 1) * 4 = 16
    assert r["argument_params"] == 16
    assert r["argument_rows"] == [["dense_1", "Dense", 16]]
    # Linear(3, 4) then nnx.tanh: the same 16, and a 0-parameter row for the function
    assert r["layer_params"] == 16
    assert r["layer_rows"] == [["linear_1", "Linear", 16], ["tanh_1", "tanh", 0]]
    assert r["activation_row_params"] == 0
    assert "Total params: 16" in (tmp_path / "summary_argument.txt").read_text()
    layer_text = (tmp_path / "summary_layer.txt").read_text()
    assert "tanh_1 (tanh)" in layer_text and "Total params: 16" in layer_text
    # the drawn network: 3 -> 4 -> 1, (3 + 1) * 4 + (4 + 1) * 1 = 21 parameters
    assert r["network_sizes"] == [3, 4, 1]
    assert r["network_params"] == 21
    assert (tmp_path / "network.svg").stat().st_size > 0


def test_decision_regions_rise_with_hidden_units(tmp_path):
    r = load("decision_regions")["main"](tmp_path)  # full budget: the claim is about it
    assert finite(r)
    assert r["hidden"] == [1, 2, 3, 8]
    for acc in (r["moons_acc"], r["circles_acc"]):
        assert len(acc) == 4
        assert all(a <= b for a, b in zip(acc, acc[1:])), acc  # never worse with more units
        assert acc[-1] >= 0.97
    assert r["circles_acc"][0] < 0.75  # one line cannot separate two circles
    assert r["circles_acc"][2] >= 0.95  # three lines can enclose the inner one
    assert r["moons_acc"][-1] - r["moons_acc"][0] > 0.1
    assert (tmp_path / "decision_regions.svg").stat().st_size > 0


def test_playground_frames_follow_one_run(tmp_path):
    demo = load("playground")
    frames, every = 3, 20
    r = demo["main"](tmp_path, frames=frames, epochs_per_frame=every)
    assert finite(r)
    assert r["frames"] == frames + 1
    assert r["epochs"] == [0, 20, 40, 60]
    assert r["points"] == 2 * demo["POINTS_PER_ARM"]
    assert r["params"] == (2 + 1) * 16 + (16 + 1) * 16 + (16 + 1) * 1 == 337
    gif = Image.open(tmp_path / "playground.gif")
    assert gif.n_frames == frames + 1
    assert gif.info["duration"] == demo["MS_PER_FRAME"] == 500
    assert (tmp_path / "playground.gif").stat().st_size < 1_000_000
    assert (tmp_path / "playground_final.svg").stat().st_size > 0

    # One continuous run at full budget, measured on the training points after every epoch:
    # each retrained frame is exactly that run's state, and the run ends as the docstring says.
    model_key, train_key = jax.random.split(jax.random.key(demo["SEED"]))
    x, y = demo["spiral"](demo["SEED"])
    model = demo["mlp"](nnx.Rngs(model_key))
    history = fit(model, optax.adam(demo["LEARNING_RATE"]), demo["loss_fn"], train=(x, y), val=(x, y),
                  epochs=demo["FRAMES"] * demo["EPOCHS_PER_FRAME"], batch_size=demo["BATCH_SIZE"],
                  key=train_key)
    for epoch, acc in zip(r["epochs"][1:], r["accuracy"][1:]):
        assert history.val_acc[epoch - 1] == pytest.approx(acc, abs=1e-6)
    assert r["accuracy"][0] < 0.6  # untrained
    assert history.val_acc[-1] >= 0.95
    assert max(history.val_acc[:40]) < 0.75  # the first 40 epochs: still about a line


def test_losses(tmp_path):
    r = load("losses")["main"](tmp_path)
    assert finite(r)
    q = np.array(r["q"])
    assert r["q"] == [0.01, 0.5, 0.99]
    np.testing.assert_allclose(r["squared_error"], 0.5 * (1 - q) ** 2, rtol=1e-4)  # ½(y − q)², y = 1
    np.testing.assert_allclose(r["cross_entropy"], -np.log(q), rtol=1e-4)
    # through the sigmoid: dL/dz = (q − y) q (1 − q) and q − y
    np.testing.assert_allclose(r["grad_squared_error"], (q - 1) * q * (1 - q), rtol=1e-3)
    np.testing.assert_allclose(r["grad_cross_entropy"], q - 1, rtol=1e-3, atol=1e-6)
    # confidently wrong: cross-entropy pushes ~100 times harder
    assert abs(r["grad_cross_entropy"][0]) > 50 * abs(r["grad_squared_error"][0])
    assert all(loss >= 0 for loss in r["squared_error"])  # the sign is right: a minimum at q = y
    assert r["optax_max_abs_diff"] < 1e-6
    assert r["softmax_cross_entropy"] == pytest.approx(r["softmax_cross_entropy_hand"], abs=1e-6)
    logits = np.array(r["softmax_logits"])
    expected = -logits[r["softmax_label"]] + np.log(np.exp(logits).sum())
    assert r["softmax_cross_entropy"] == pytest.approx(expected, abs=1e-5)


def test_losses_is_byte_reproducible(tmp_path):
    main = load("losses")["main"]
    digests = []
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        main(tmp_path / run, points=21)
        digests.append(hashlib.sha256((tmp_path / run / "losses.svg").read_bytes()).hexdigest())
    assert digests[0] == digests[1]
