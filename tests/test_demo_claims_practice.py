"""The numbers deck 4's training_curves, overfitting and model_complexity demos put on slides hold."""

import hashlib
from pathlib import Path

import numpy as np
import pytest

from demo_helpers import demo_runner, finite

DEMOS = Path(__file__).resolve().parent.parent / "demos" / "04_in_practice"


load, run = demo_runner(DEMOS)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def training_curves(tmp_path_factory):
    out = tmp_path_factory.mktemp("training_curves")
    return out, run("training_curves", out, epochs=10)  # the claims below hold from 10 epochs


@pytest.fixture(scope="module")
def overfitting(tmp_path_factory):
    out = tmp_path_factory.mktemp("overfitting")
    return out, run("overfitting", out, epochs=60)  # the minimum comes near epoch 24


@pytest.fixture(scope="module")
def model_complexity(tmp_path_factory):
    out = tmp_path_factory.mktemp("model_complexity")
    return out, run("model_complexity", out)


def test_training_curves(training_curves):
    out, r = training_curves
    for name in ("loss.svg", "accuracy.svg", "dashboard.svg", "summary.txt"):
        assert (out / name).stat().st_size > 0, name
    assert finite(r)
    assert r["n_train"] + r["n_val"] == 1797 and r["n_val"] == 539
    # Conv 3*3*1*16 + 16 = 160, Linear 256*10 + 10 = 2,570
    assert r["params"] == 2730
    assert "Total params: 2,730" in (out / "summary.txt").read_text(encoding="utf-8")
    n = r["epochs"]
    assert all(len(r[k]) == n for k in ("train_loss", "val_loss", "train_acc", "val_acc",
                                        "grad_norm", "learning_rate"))
    # the loss plot: both losses fall a lot, the train loss ends below the validation loss
    assert r["final_val_loss"] < r["first_val_loss"] / 10
    assert r["final_train_loss"] < r["final_val_loss"]
    assert r["best_val_loss"] == min(r["val_loss"]) == r["val_loss"][r["best_epoch"] - 1]
    # the accuracy plot
    assert r["final_val_acc"] > 0.93 and r["final_train_acc"] >= r["final_val_acc"]
    assert r["best_val_acc"] == r["val_acc"][r["best_val_acc_epoch"] - 1]
    # the dashboard: warmup to the peak, then a cosine decay to about zero
    lr = np.array(r["learning_rate"])
    assert int(np.argmax(lr)) + 1 == r["warmup_epochs"]
    assert np.all(np.diff(lr[:r["warmup_epochs"]]) > 0)
    assert np.all(np.diff(lr[r["warmup_epochs"]:]) < 0)
    assert r["max_lr"] == pytest.approx(r["peak_lr"], rel=0.02)
    assert r["final_lr"] < 1e-3 * r["peak_lr"]
    assert r["final_grad_norm"] < r["first_grad_norm"] / 2


def test_overfitting(overfitting):
    out, r = overfitting
    assert (out / "overfitting.svg").stat().st_size > 0
    assert finite(r)
    assert r["n_train"] == 150 and r["n_val"] == 539
    # 64*512+512 + 512*512+512 + 512*10+10
    assert r["params"] == 301_066
    val, train = np.array(r["val_loss"]), np.array(r["train_loss"])
    best = r["best_epoch"]
    assert 1 < best < r["epochs"], "the sweet spot lies strictly inside the run"
    assert r["best_val_loss"] == val.min() == val[best - 1]
    assert r["final_val_loss"] > r["best_val_loss"]
    assert r["val_loss_rise"] > 0.02
    # the train loss keeps falling past the sweet spot, to far below the validation loss
    assert r["final_train_loss"] < r["train_loss_at_best"] / 3
    assert r["final_train_loss"] < r["final_val_loss"] / 100
    assert train[-1] == r["final_train_loss"] and train[best - 1] == r["train_loss_at_best"]
    assert r["final_train_acc"] == 1.0


def test_model_complexity(model_complexity):
    out, r = model_complexity
    assert (out / "complexity.svg").stat().st_size > 0
    assert finite(r)
    degrees, train, test = r["degrees"], np.array(r["train_mse"]), np.array(r["test_mse"])
    assert degrees == list(range(1, 16)) and len(train) == len(test) == 15
    # nested least-squares models: more degree, never more training error
    assert np.all(np.diff(train) <= 1e-6)
    best = r["best_degree"]
    assert r["shown_degrees"] == [1, best, 15]
    assert 1 < best < 15 and r["best_test_mse"] == test.min() == test[best - 1]
    # underfit and overfit both lose clearly to the middle degree
    assert r["underfit_test_mse"] > 2 * r["best_test_mse"]
    assert r["overfit_test_mse"] > 10 * r["best_test_mse"]
    assert r["overfit_train_mse"] < r["best_test_mse"] < 2 * r["noise_mse"]


def test_model_complexity_matches_numpy_float64():
    """The jitted float32 Legendre fits equal NumPy's float64 polynomial fits."""
    import jax

    demo = load("model_complexity")
    train_key, _ = jax.random.split(jax.random.key(demo["SEED"]))
    x, y = demo["make_data"](train_key, demo["N_TRAIN"])
    _, train_mse, _ = demo["fit_all"](x, y, x, y, 15)
    x64, y64 = np.asarray(x, np.float64), np.asarray(y, np.float64)
    for degree in range(1, 13):
        fit = np.polynomial.Polynomial.fit(x64, y64, degree)
        reference = np.mean((fit(x64) - y64) ** 2)
        assert float(train_mse[degree - 1]) == pytest.approx(reference, rel=1e-3), degree


def test_model_complexity_is_byte_identical_on_rerun(model_complexity, tmp_path):
    out, _ = model_complexity
    run("model_complexity", tmp_path)
    assert sha256(out / "complexity.svg") == sha256(tmp_path / "complexity.svg")
