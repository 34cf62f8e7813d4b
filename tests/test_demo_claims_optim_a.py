"""Deck 5's first half (learning curve, augmentation, dropout, batch norm), checked on the
published results the slides show.

Nothing is retrained: `results(name)` reads slides/_generated/manifest.json and fails with
"run make figures" when a record is missing or stale. Independent checks: the dropout mask
against a fresh `nnx.Dropout`, the augment function's properties, and a byte-for-byte rerun of
batch_norm.
"""

import hashlib
import re
import runpy
from pathlib import Path

import numpy as np
import pytest

from deck_slides import by_name, check_structure
from published import outputs, results

DEMOS = Path(__file__).resolve().parent.parent / "demos" / "05_common_optimizations"
DECK = "05_common_optimizations"


def load(name: str) -> dict:
    return runpy.run_path(str(DEMOS / f"{name}.py"), run_name="__demo__")


def test_deck_structure():
    check_structure(DECK, questions=range(3, 5))


# --- slide data: the learning curve ---------------------------------------------------------

def test_learning_curve_setup():
    """Notes: 70/30 split, the largest size is nearly the whole training split, every run converged."""
    r = results("learning_curve")
    assert r["val_fraction"] == pytest.approx(0.3, abs=0.001)
    assert 0.9 * r["n_train_split"] < r["sizes"][-1] <= r["n_train_split"]
    # "n_sizes training sizes from sizes.0 to sizes.4": the sizes grow, and the slide's indices
    # run from the first size to the last one (cnn_mean.4 is the largest training set)
    sizes = r["sizes"]
    assert all(a < b for a, b in zip(sizes, sizes[1:]))
    slide = by_name(DECK)["data"]
    quoted = {int(i) for i in re.findall(r"learning_curve\.\w+\.(\d+)", slide.body + slide.notes)}
    assert min(quoted) == 0 and max(quoted) == r["n_sizes"] - 1 == len(sizes) - 1
    assert r["n_stop"] + r["n_test"] == round(r["val_fraction"] * 1797)
    assert len(r["cnn_acc"]) == len(r["sizes"]) and all(len(a) == r["seeds"] for a in r["cnn_acc"])
    # "trained until it stops improving": every run stopped by patience, none hit the cap
    assert r["max_rounds_used"] < r["max_rounds"]
    assert min(min(row) for row in r["rounds"]) > r["patience"]


def test_learning_curve_claims():
    r = results("learning_curve")
    cnn, logreg = np.array(r["cnn_mean"]), np.array(r["logreg_mean"])
    # more data helps both, a lot
    assert cnn[-1] > cnn[0] + 0.05 and logreg[-1] > logreg[0] + 0.05
    # the CNN leads at every size (means over the seeds)
    assert np.all(cnn > logreg)
    # "by min_gap to max_gap": the extremes of the mean gaps, from the per-seed accuracies
    gap = np.mean(r["cnn_acc"], axis=1) - np.mean(r["logreg_acc"], axis=1)
    assert (r["min_gap"], r["max_gap"]) == pytest.approx((gap.min(), gap.max()), abs=1e-9)
    assert r["min_gap"] > 0
    # notes: the gain from more data beats the gap between the models at every size
    assert r["cnn_gain"] > r["max_gap"]
    # notes: with the fewest images the seeds spread by more than a point
    assert r["cnn_range"][0] > 0.01
    # notes: both curves flatten (the first half of the sizes gains more than the second)
    half = len(cnn) // 2
    for curve in (cnn, logreg):
        assert curve[half] - curve[0] > curve[-1] - curve[half]


# --- slides augmentation -------------------------------------------------------------------

def test_augmentation_no_reliable_gain():
    """Table slide: single runs go both ways, and at no size do all runs gain."""
    r = results("augmentation")
    assert (r["digit"], r["variants"], r["variant_shape"]) == (6, 20, [8, 8])
    runs = np.array(r["gain_runs"])  # (sizes, repeats): augmented minus copies
    assert runs.shape == (len(r["sizes"]), r["repeats"])
    assert r["gain_min"] == runs.min() < 0 < runs.max() == r["gain_max"]
    assert not any(np.all(row > 0) for row in runs)
    assert np.allclose(r["gain"], np.array(r["acc_augmented"]) - np.array(r["acc_plain"]), atol=1e-6)
    assert max(abs(g) for g in r["gain"]) < (r["gain_max"] - r["gain_min"]) / 2


def test_augment_function():
    """Same shape, values stay in [0, 1], every variant differs, the mass of the digit stays."""
    import jax
    import jax.numpy as jnp

    image = jnp.asarray(np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8))
    keys = jax.random.split(jax.random.key(1), 20)
    variants = np.asarray(load("augmentation")["augment"](jnp.broadcast_to(image, (20, 8, 8)), keys))
    assert variants.shape == (20, 8, 8)
    assert variants.min() >= 0 and variants.max() <= 1 + 1e-6
    assert len({v.tobytes() for v in variants}) == 20
    mass = variants.sum((1, 2)) / np.asarray(image).sum()
    assert np.all((mass > 0.6) & (mass < 1.4))


# --- slides dropout ------------------------------------------------------------------------

def test_dropout_mask_is_a_real_draw():
    from flax import nnx
    import jax.numpy as jnp

    r = results("dropout")
    mask = nnx.Dropout(r["rate"], rngs=nnx.Rngs(r["seed"]))(jnp.ones(r["units"]))
    assert r["mask"] == [float(v) for v in mask]
    assert r["units"] == sum(r["layout"][:-1])
    assert sum(r["kept_per_layer"]) + r["dropped"] == r["units"]


def test_dropout_answer():
    """0 or 1/(1-p) in training, about half kept, mean about 1, one mask per example; identity in eval."""
    r = results("dropout")
    assert r["train_values"] == [0.0, 1 / (1 - r["rate"])] and r["eval_values"] == [1.0]
    assert r["large_kept_fraction"] == pytest.approx(1 - r["rate"], abs=0.01)
    assert r["large_mean"] == pytest.approx(1.0, abs=0.01)
    assert r["distinct_batch_masks"] == r["batch_shown"] > 1
    text = (outputs("dropout") / "dropout.txt").read_text()
    assert text.count("\n") == r["batch_shown"] + 3


def test_dropout_curves():
    r = results("dropout")
    plain, dropped = r["plain"], r["dropout"]
    # "an oversized MLP (64-512-512-10) on only 150 training digits": 8×8 pixels in, 10 classes
    # out, two hidden layers of `hidden`, and far more weights than training digits
    sizes = r["mlp_sizes"]
    assert sizes == [64, r["hidden"], r["hidden"], 10]
    assert sum((a + 1) * b for a, b in zip(sizes, sizes[1:])) > 1000 * r["n_train"]
    assert plain["final_train_loss"] < 1e-3 < dropped["final_train_loss"]  # memorises vs not
    assert dropped["min_val_loss"] < plain["min_val_loss"]  # lower minimum...
    assert dropped["best_epoch"] > plain["best_epoch"]  # ...reached later
    assert plain["final_val_loss"] > plain["min_val_loss"]  # plain climbs after its minimum
    assert dropped["final_val_loss"] - dropped["min_val_loss"] < plain["final_val_loss"] - plain["min_val_loss"]
    assert plain["min_val_loss"] - dropped["min_val_loss"] < 0.1 * plain["min_val_loss"]  # modest


# --- slides batch norm ---------------------------------------------------------------------

def test_batch_norm_answer_counts_like_keras():
    r = results("batch_norm")
    assert (r["total"], r["trainable"], r["non_trainable"]) == (104, 88, 16)
    assert r["params"] == [72, 4 * r["channels"], 0]
    assert r["bn_trainable"] == {"scale": r["channels"], "bias": r["channels"]}
    assert r["bn_statistics"] == {"mean": r["channels"], "var": r["channels"]}
    assert np.prod(r["conv_kernel_shape"]) == r["params"][0]
    text = (outputs("batch_norm") / "summary.txt").read_text()
    assert "Total params: 104" in text and "Non-trainable params: 16" in text


def test_batch_norm_effect():
    r = results("batch_norm")
    # before: channels with different centres and spreads; after, at initialisation: mean 0, std 1
    assert max(r["before"]["mean"]) - min(r["before"]["mean"]) > 0.5
    assert max(r["before"]["std"]) / min(r["before"]["std"]) > 2
    assert r["max_abs_mean_after"] < 1e-5 and r["max_abs_std_after_minus_1"] < 0.02
    # the mean subtraction cancels a conv bias
    assert r["max_abs_bias"] > 0.5 and r["bias_max_change"] < 1e-5
    # Flax's BN moves the running mean by (1 - momentum) of the gap per batch...
    assert r["running_mean_ratio"] == pytest.approx(1 - r["momentum"], rel=1e-3)
    assert r["momentum"] ** r["steps_to_99pct"] <= 0.01 < r["momentum"] ** (r["steps_to_99pct"] - 1)
    # ...so evaluation mode still returns nearly the raw conv output
    for key in ("mean", "std"):
        assert np.allclose(r["after_eval"][key], r["before"][key], rtol=0.02, atol=0.01)
    assert r["flax_epsilon"] != r["epsilon"]  # why the demo sets epsilon explicitly


def test_batch_norm_rerun_is_byte_identical(tmp_path):
    assert load("batch_norm")["main"](tmp_path) == results("batch_norm")
    for name in ("batch_norm.svg", "summary.txt"):
        assert hashlib.sha256((tmp_path / name).read_bytes()).digest() == \
            hashlib.sha256((outputs("batch_norm") / name).read_bytes()).digest(), name
