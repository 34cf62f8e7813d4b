"""The claims deck 5's first half (learning curve, augmentation, dropout, batch norm) makes hold.

Each demo runs once per module in a small configuration where the claim still holds.
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from demo_helpers import demo_runner, finite, sha

DEMOS = Path(__file__).resolve().parent.parent / "demos" / "05_common_optimizations"


load, run = demo_runner(DEMOS)


@pytest.fixture(scope="module")
def batch_norm(tmp_path_factory):
    out = tmp_path_factory.mktemp("batch_norm")
    return out, run("batch_norm", out)


@pytest.fixture(scope="module")
def dropout(tmp_path_factory):
    out = tmp_path_factory.mktemp("dropout")
    return out, run("dropout", out, epochs=60)


@pytest.fixture(scope="module")
def learning_curve(tmp_path_factory):
    out = tmp_path_factory.mktemp("learning_curve")
    return out, run("learning_curve", out, sizes=(50, 1258), steps=400)


@pytest.fixture(scope="module")
def augmentation(tmp_path_factory):
    out = tmp_path_factory.mktemp("augmentation")
    return out, run("augmentation", out, sizes=(50,), repeats=1, epochs=4)


def test_batch_norm_counts_like_keras(batch_norm):
    out, r = batch_norm
    assert finite(r)
    # Conv(1->8, 3x3, no bias) = 72; BatchNorm(8) = 4C = 32: scale + bias trainable, mean + var not
    assert (r["total"], r["trainable"], r["non_trainable"]) == (104, 88, 16)
    assert r["params"] == [72, 32, 0]
    assert r["bn_trainable"] == {"scale": 8, "bias": 8}
    assert r["bn_statistics"] == {"mean": 8, "var": 8}
    assert r["output_shapes"] == [[7, 7, 8]] * 3  # 9x9 VALID 3x3 -> 7x7
    text = (out / "summary.txt").read_text()
    assert "Total params: 104" in text and "Non-trainable params: 16" in text


def test_batch_norm_normalises_each_channel(batch_norm, tmp_path):
    out, r = batch_norm
    # before: channels with different centres and spreads; after (training mode): mean 0, std 1
    assert max(r["before"]["mean"]) - min(r["before"]["mean"]) > 0.5
    assert max(r["before"]["std"]) / min(r["before"]["std"]) > 2
    assert r["max_abs_mean_after"] < 1e-5
    assert r["max_abs_std_after_minus_1"] < 0.02  # epsilon 1e-3 makes it a little below 1
    # momentum 0.99: one batch moves the running mean 1% of the way to the batch mean...
    assert r["running_mean_ratio"] == pytest.approx(0.01, rel=1e-3)
    # ...so evaluation mode still returns nearly the raw conv output
    for key in ("mean", "std"):
        assert np.allclose(r["after_eval"][key], r["before"][key], rtol=0.02, atol=0.01)
    assert len(r["shown_channels"]) == 4
    # determinism: a second run writes the same bytes
    again = run("batch_norm", tmp_path)
    assert again == r
    for name in ("batch_norm.svg", "summary.txt"):
        assert sha(tmp_path / name) == sha(out / name)


def test_dropout_mask_and_modes(dropout):
    out, r = dropout
    assert finite(r)
    assert (out / "dropout_mask.svg").stat().st_size > 0
    # the mask drawn is the real one: a fresh nnx.Dropout with the same seed on 15 ones
    mask = nnx.Dropout(0.5, rngs=nnx.Rngs(0))(jnp.ones(15))
    assert r["mask"] == [float(v) for v in mask]
    assert r["train_values"] == [0.0, 2.0]  # kept units are scaled by 1 / (1 - 0.5)
    assert r["eval_values"] == [1.0]  # evaluation: identity
    assert sum(r["kept_per_layer"]) + r["dropped"] == 15
    assert all(k >= 1 for k in r["kept_per_layer"])
    assert r["large_kept_fraction"] == pytest.approx(0.5, abs=0.01)
    assert r["large_mean"] == pytest.approx(1.0, abs=0.02)  # the expected value is unchanged
    assert "eval mode:  [1. 1. 1." in (out / "dropout.txt").read_text()


def test_dropout_curves(dropout):
    out, r = dropout
    assert (out / "dropout_curves.svg").stat().st_size > 0
    plain, dropped = r["plain"], r["dropout"]
    # without dropout the big MLP memorises the 150 digits; with dropout its training loss stays higher
    assert plain["final_train_loss"] < dropped["final_train_loss"]
    # and its lowest validation loss is lower, reached later
    assert dropped["min_val_loss"] < plain["min_val_loss"]
    assert dropped["best_epoch"] > plain["best_epoch"]


def test_learning_curve(learning_curve):
    out, r = learning_curve
    assert finite(r)
    assert (out / "learning_curve.svg").stat().st_size > 0
    assert r["sizes"] == [50, 1258] and r["n_val"] == 539 and r["params"] == 2730
    for curve in (r["cnn_acc"], r["logreg_acc"]):
        assert curve[-1] > curve[0] + 0.05  # more data helps both
        assert curve[-1] > 0.9
    # on 8x8 digits the two end close together: no growing gap in favour of the CNN
    assert abs(r["gap"][-1]) < 0.05
    assert r["max_abs_gap"] == max(abs(g) for g in r["gap"])


def test_augmentation_variants(augmentation):
    out, r = augmentation
    assert finite(r)
    assert (out / "augmentation.svg").stat().st_size > 0
    assert r["digit"] == 6 and r["variants"] == 20 and r["variant_shape"] == [8, 8]
    assert r["acc_plain"] and r["acc_augmented"] and len(r["gain"]) == 1
    # the augment function: same shape, values stay in [0, 1], every variant differs
    module = load("augmentation")
    image = jnp.asarray(np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8))
    keys = jax.random.split(jax.random.key(1), 20)
    variants = np.asarray(module["augment"](jnp.broadcast_to(image, (20, 8, 8)), keys))
    assert variants.shape == (20, 8, 8)
    assert variants.min() >= 0 and variants.max() <= 1 + 1e-6
    assert len({v.tobytes() for v in variants}) == 20
    assert all(np.abs(v - image).max() > 0.01 for v in variants)
    # rotation 0, shift 0, zoom 1 would be the identity: check the inverse map at the centre
    # stays inside the image (a shift of at most 1 px, a rotation of 15 degrees, a 10% zoom)
    mass = variants.sum((1, 2)) / np.asarray(image).sum()
    assert np.all((mass > 0.6) & (mass < 1.4))
