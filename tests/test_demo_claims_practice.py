"""Deck 4's claims (slides/04_in_practice.md), checked on the published results the slides show.

Nothing is retrained: `results(name)` reads slides/_generated/manifest.json and fails with
"run make figures" when a demo's record is missing or stale. Two cheap independent checks
(optax's loss at the bug's floor, the polynomial fits against NumPy) and one byte-for-byte
rerun (model_complexity) complete them.
"""

import hashlib
import runpy
from pathlib import Path

import numpy as np
import pytest

from deck_slides import check_structure
from published import outputs, results

DEMOS = Path(__file__).resolve().parent.parent / "demos" / "04_in_practice"
DECK = "04_in_practice"


def test_deck_structure():
    check_structure(DECK, questions=range(3, 5))


def test_one_batch_check_learns():
    """Slide one-batch: loss below the target after a few steps, every digit of the batch right."""
    r = results("overfit_batch")
    assert r["first_loss"] == pytest.approx(r["chance_loss"], abs=0.3)  # "near log 10"
    assert r["steps_to_target"] is not None and r["steps_to_target"] < r["steps"] / 2
    assert r["final_loss"] < r["target"]
    assert r["final_acc"] == 1.0


def test_one_batch_bug_stalls_at_the_floor():
    """Question/answer: softmax twice gets the batch right, but its loss stops at log(1 + 9/e)."""
    r = results("overfit_batch")
    assert r["bug_final_acc"] == 1.0  # accuracy alone would not reveal the bug
    assert r["floor"] <= r["bug_min_loss"] < r["floor"] + 0.05  # stalls there, never below
    assert r["bug_final_loss"] > 100 * r["final_loss"]


def test_the_floor_is_optax_loss_of_a_perfect_probability_vector():
    """Independent check of the answer: optax's cross-entropy of a one-hot 'logit' vector."""
    import jax.numpy as jnp
    import optax

    r = results("overfit_batch")
    one_hot = jnp.eye(r["classes"])[:1]  # the best probabilities: 1 for the right class
    loss = optax.softmax_cross_entropy_with_integer_labels(one_hot, jnp.array([0]))[0]
    assert float(loss) == pytest.approx(r["floor"], rel=1e-6)
    # the slide's formula with its bound number: 1 for the right class, 0 for the `others`
    assert r["others"] == r["classes"] - 1
    assert np.log1p(r["others"] / np.e) == pytest.approx(float(loss), rel=1e-6)


def test_training_curves():
    """Slides loss, accuracy, dashboard."""
    r = results("training_curves")
    n = r["epochs"]
    assert all(len(r[k]) == n for k in ("train_loss", "val_loss", "train_acc", "val_acc",
                                        "grad_norm", "learning_rate"))
    # both losses fall a lot and the gap between them stays small
    assert r["final_val_loss"] < r["first_val_loss"] / 10
    assert 0 < r["final_val_loss"] - r["final_train_loss"] < 0.1
    assert r["best_val_loss"] == min(r["val_loss"]) == r["val_loss"][r["best_epoch"] - 1]
    assert r["final_val_acc"] > 0.95 and r["final_train_acc"] > r["final_val_acc"]
    assert r["best_val_acc"] == max(r["val_acc"]) == r["val_acc"][r["best_val_acc_epoch"] - 1]
    # dashboard: the learning rate the optimiser logged warms up, then decays to about zero
    lr = np.array(r["learning_rate"])
    peak = int(np.argmax(lr))  # the epoch whose last step is nearest the end of the warmup
    assert peak in (r["warmup_epochs"] - 1, r["warmup_epochs"])
    assert np.all(np.diff(lr[:peak + 1]) > 0) and np.all(np.diff(lr[peak:]) < 0)
    assert r["max_lr"] == pytest.approx(r["peak_lr"], rel=0.02) and r["final_lr"] < 1e-3 * r["peak_lr"]
    assert r["final_grad_norm"] < r["first_grad_norm"] / 2
    assert "Total params: {:,}".format(r["params"]) in (outputs("training_curves") / "summary.txt").read_text()


def test_overfitting_sweet_spot():
    """Slide overfitting: the minimum lies inside the run, then the loss rises; training memorises."""
    r = results("overfitting")
    val = np.array(r["val_loss"])
    assert 1 < r["best_epoch"] < r["epochs"] / 2
    assert r["best_val_loss"] == val.min() == val[r["best_epoch"] - 1]
    assert r["final_val_loss"] > 1.1 * r["best_val_loss"]
    assert r["final_train_loss"] < 1e-3 and r["final_train_acc"] == 1.0
    assert abs(r["final_val_acc"] - r["best_val_acc"]) < 0.01  # accuracy stays flat
    assert r["params_per_digit"] > 1000


def test_early_stopping_answer():
    """Answer slide: stops at the minimum + patience, returns the minimum's weights; lower loss,
    not higher accuracy, than the end of the long run (by a digit or two)."""
    r = results("overfitting")
    assert r["stopped_epochs"] == r["best_epoch"] + r["patience"]
    assert r["stopped_best_epoch"] == r["best_epoch"]
    assert r["kept_val_loss"] == pytest.approx(r["best_val_loss"], rel=1e-5)
    assert r["kept_val_loss"] < r["final_val_loss"]
    assert r["kept_val_acc"] <= r["final_val_acc"]
    assert 1 <= round((r["final_val_acc"] - r["kept_val_acc"]) * r["n_val"]) <= 2


def test_model_complexity_answer():
    """Question/answer: the highest degree has the lowest training error; a middle one the
    lowest test error; both ends lose clearly on new points."""
    r = results("model_complexity")
    train, test = np.array(r["train_mse"]), np.array(r["test_mse"])
    assert int(np.argmin(train)) + 1 == r["overfit_degree"] == r["degrees"][-1]
    assert np.all(np.diff(train) <= 1e-6)  # nested least-squares models
    best = r["best_degree"]
    assert 1 < best < r["overfit_degree"] and r["best_test_mse"] == test.min() == test[best - 1]
    assert r["underfit_test_mse"] > 2 * r["best_test_mse"]
    assert r["overfit_test_mse"] > 10 * r["best_test_mse"]
    assert r["params_overfit"] > r["n_train"] / 2


def test_model_complexity_matches_numpy_float64():
    """The jitted float32 Legendre fits equal NumPy's float64 polynomial fits."""
    import jax

    demo = runpy.run_path(str(DEMOS / "model_complexity.py"), run_name="__demo__")
    train_key, _ = jax.random.split(jax.random.key(demo["SEED"]))
    x, y = demo["make_data"](train_key, demo["N_TRAIN"])
    _, train_mse, _ = demo["fit_all"](x, y, x, y, 15)
    x64, y64 = np.asarray(x, np.float64), np.asarray(y, np.float64)
    for degree in range(1, 13):
        fit = np.polynomial.Polynomial.fit(x64, y64, degree)
        reference = np.mean((fit(x64) - y64) ** 2)
        assert float(train_mse[degree - 1]) == pytest.approx(reference, rel=1e-3), degree


def test_model_complexity_rerun_is_byte_identical(tmp_path):
    """A rerun writes the published figure byte for byte and returns the published numbers."""
    demo = runpy.run_path(str(DEMOS / "model_complexity.py"), run_name="__demo__")
    assert demo["main"](tmp_path) == results("model_complexity")
    published = outputs("model_complexity") / "complexity.svg"
    assert hashlib.sha256((tmp_path / "complexity.svg").read_bytes()).digest() == \
        hashlib.sha256(published.read_bytes()).digest()
